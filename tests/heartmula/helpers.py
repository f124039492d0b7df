"""Comparison helpers shared by the HeartMuLa tests."""

from __future__ import annotations


def assert_waveform_close(
    actual, expected, within: float = 1e-4, share: float = 0.999, loose: float = 5e-2
) -> None:
    """The README's robust metric: latents are rounded to 1/9 steps, so a rare flip is tolerated."""
    assert actual.shape == expected.shape
    diff = (actual.float() - expected.float()).abs()
    assert float((diff <= within).float().mean()) >= share
    assert float(diff.max()) <= loose
