"""The studio's vectorised BS.1770 meter agrees with pyloudnorm, and never returns NaN or inf."""

from __future__ import annotations

import numpy as np
import pyloudnorm
import pytest

from studio.audio.loudness import LoudnessMethod, integrated_loudness
from tests.audio.signals import band_noise, drums, sine

# The studio filters in float32 (studio/audio/loudness.py: half the time of float64 on a take, which
# the player waits for); that moved a reading by up to 1.4e-4 LU here (kicks at 44.1 kHz, where the
# 38 Hz high-pass's poles sit closest to 1), against meters that show 0.1 LU.
AGREE_LU = 1e-3


@pytest.mark.parametrize("sample_rate", [48000, 44100, 32000])
@pytest.mark.parametrize(
    "make",
    [
        lambda sr: band_noise(3.0, 0.1, sample_rate=sr),
        lambda sr: drums(2.7, 0.2, sample_rate=sr),
        lambda sr: sine(1.03, 0.001, 1000.0, sample_rate=sr),
    ],
    ids=["noise", "drums", "quiet-sine"],
)
def test_gated_loudness_matches_pyloudnorm(make, sample_rate):
    audio = make(sample_rate)
    reference = pyloudnorm.Meter(sample_rate).integrated_loudness(audio.T)
    reading = integrated_loudness(audio, sample_rate)
    assert reading.method is LoudnessMethod.GATED
    assert reading.lufs == pytest.approx(reference, abs=AGREE_LU)


def test_mono_is_measured_as_one_channel():
    audio = band_noise(1.0, 0.1)[:1]
    assert integrated_loudness(audio, 48000).lufs == pytest.approx(
        pyloudnorm.Meter(48000).integrated_loudness(audio[0]), abs=AGREE_LU
    )


def test_clip_shorter_than_a_gating_block_is_one_ungated_block():
    audio = band_noise(0.25, 0.1)
    reading = integrated_loudness(audio, 48000)
    assert reading.method is LoudnessMethod.SINGLE_BLOCK
    reference = pyloudnorm.Meter(48000, block_size=audio.shape[-1] / 48000).integrated_loudness(audio.T)
    assert reading.lufs == pytest.approx(reference, abs=AGREE_LU)


@pytest.mark.parametrize(
    "audio",
    [
        np.zeros((2, 48000)),
        np.full((2, 48000), 1e-6) * np.sin(np.arange(48000)),
        band_noise(0.005, 0.3),
        np.zeros((2, 0)),
    ],
    ids=["silence", "below-absolute-gate", "5-ms", "empty"],
)
def test_unmeasurable_audio_reads_none_not_inf(audio):
    reading = integrated_loudness(audio, 48000)
    assert reading.lufs is None
    assert reading.method is LoudnessMethod.UNMEASURABLE


@pytest.mark.parametrize("gain_db", [-20.0, -3.0, 0.0, 6.0, 30.0])
def test_loudness_of_a_gain_change_is_read_from_the_measured_blocks(gain_db):
    # Mastering measures the take once and reads the loudness of the take times its gain from the same
    # blocks; gating must come out as measuring the scaled audio itself would, near the -70 LUFS gate too.
    from studio.audio.loudness import block_powers, from_db, gated_loudness

    audio = np.concatenate([band_noise(2.0, 0.1), band_noise(2.0, 0.0003, seed=3)], axis=-1)
    blocks = block_powers(audio, 48000)
    scaled = audio * from_db(gain_db)
    expected = pyloudnorm.Meter(48000).integrated_loudness(scaled.T)
    assert gated_loudness(blocks, from_db(gain_db)).lufs == pytest.approx(expected, abs=AGREE_LU)
    assert gated_loudness(blocks, from_db(gain_db)).lufs == pytest.approx(
        integrated_loudness(scaled, 48000).lufs, abs=1e-5)  # float32 rounding of the scaled audio only
