"""Splicing a repainted range back into its song."""

from __future__ import annotations

import numpy as np
import pytest

from studio.audio.splice import splice


def signals(n: int = 1000):
    rng = np.random.default_rng(0)
    source = np.clip(0.3 * rng.standard_normal((2, n)), -1, 1).astype(np.float32)  # a real source is <= 1
    generated = (0.9 * rng.standard_normal((2, n))).astype(np.float32)
    return source, generated


def test_outside_is_the_source_inside_is_the_new_take_at_the_source_level():
    source, generated = signals()
    # the "generated" take re-decodes the kept part 3x louder, as a peak-normalising pipeline would
    generated[:, :400] = 3 * source[:, :400]
    generated[:, 600:] = 3 * source[:, 600:]
    out = splice(source, generated, 400, 600, fade=20)
    np.testing.assert_array_equal(out[:, :400], source[:, :400])
    np.testing.assert_array_equal(out[:, 600:], source[:, 600:])
    np.testing.assert_allclose(out[:, 420:580], generated[:, 420:580] / 3, rtol=1e-5)


def test_fades_are_inside_the_range_and_monotone():
    source = np.zeros((1, 100), dtype=np.float32)
    generated = np.ones((1, 100), dtype=np.float32)
    out = splice(source, generated, 40, 60, fade=30)  # shrinks to half the range
    assert out[0, 39] == 0 and out[0, 60] == 0 and out[0, 50] == pytest.approx(1.0)
    assert np.all(np.diff(out[0, 40:50]) >= 0) and np.all(np.diff(out[0, 50:60]) <= 0)


def test_range_to_the_end_has_no_closing_fade_and_never_clips():
    source, generated = signals()
    out = splice(source, generated * 10, 700, 1000, fade=10)
    assert np.abs(out).max() <= 1.0
    assert np.abs(out[:, -5:]).max() > 0.01  # no fade-out at the end of the song


def test_shape_mismatch_is_a_programming_error():
    with pytest.raises(ValueError, match="differ in shape"):
        splice(np.zeros((2, 10)), np.zeros((2, 11)), 0, 5, fade=1)
