"""Mastering: -14 LUFS within 0.5 LU and true peak <= -1 dBTP, both measured independently
(pyloudnorm; FFT interpolation at 8x), on varied signals; silence and short clips stay finite."""

from __future__ import annotations

import numpy as np
import pyloudnorm
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio.audio.limiter import limit_true_peak
from studio.audio.mastering import MasteringSettings, master
from studio.audio.peaks import true_peak_envelope
from studio.ground.errors import StudioError
from tests.audio.signals import SR, band_noise, drums, independent_true_peak_dbtp, sine


def _pyloudnorm_lufs(audio: np.ndarray, sample_rate: int = SR) -> float:
    # A hair under the clip's length: pyloudnorm refuses a block that ends past the last sample.
    seconds = (audio.shape[-1] - 0.01) / sample_rate
    meter = pyloudnorm.Meter(sample_rate, block_size=min(0.4, seconds))
    return meter.integrated_loudness(np.asarray(audio, dtype=np.float64).T)


def _clipped() -> np.ndarray:
    return np.clip(4.0 * sine(3.0, 1.0, 110.0), -1.0, 1.0)


SIGNALS = {
    "quiet-sine": lambda: sine(3.0, 0.01),  # -40 dBFS peak, about -41 LUFS
    "quiet-music": lambda: band_noise(4.0, 0.004),
    "loud-music": lambda: np.clip(band_noise(4.0, 0.45), -1.0, 1.0),
    "clipped": _clipped,
    "drums-into-limiter": lambda: drums(4.0, 0.05),
    "dense-and-peaky": lambda: band_noise(4.0, 0.02) + drums(4.0, 0.3),
    "short-200ms": lambda: band_noise(0.2, 0.05),
    "mono": lambda: band_noise(3.0, 0.05)[:1],
}


@pytest.mark.parametrize("name", list(SIGNALS))
def test_loudness_and_true_peak_targets(name):
    audio = SIGNALS[name]().astype(np.float32)
    result = master(audio, SR)

    assert result.audio.dtype == np.float32 and result.audio.shape == audio.shape
    assert np.isfinite(result.audio).all()
    assert abs(_pyloudnorm_lufs(result.audio) - (-14.0)) <= 0.5
    assert independent_true_peak_dbtp(result.audio) <= -1.0
    assert result.true_peak_dbtp is not None and result.true_peak_dbtp <= -1.0
    assert result.lufs_after == pytest.approx(_pyloudnorm_lufs(result.audio), abs=1e-3)


def test_limiter_actually_worked_on_the_peaky_material():
    result = master(drums(4.0, 0.05).astype(np.float32), SR)
    assert result.limiter_reduction_db > 0.1
    assert result.report.true_peak_before_dbtp < -20.0  # raised by ~26 dB, so peaks had to go


def test_custom_target_and_ceiling():
    result = master(band_noise(3.0, 0.05), SR, MasteringSettings(target_lufs=-18.0, ceiling_dbtp=-2.0))
    assert abs(_pyloudnorm_lufs(result.audio) + 18.0) <= 0.5
    assert independent_true_peak_dbtp(result.audio) <= -2.0


@pytest.mark.parametrize("audio", [np.zeros((2, SR)), np.zeros((1, 10)), np.zeros((2, 0))], ids=["1s", "10", "0"])
def test_silence_is_left_alone_without_nan_or_inf(audio):
    result = master(audio, SR)
    assert np.array_equal(result.audio, audio)
    assert result.gain_db == 0.0 and result.lufs_before is None and result.lufs_after is None
    assert result.true_peak_dbtp is None
    assert "silent" in result.report.notes[0]
    assert result.report.model_dump_json()  # no inf/nan that JSON could not hold


def test_very_short_clip_gets_peak_limited_only():
    audio = 3.0 * band_noise(0.005, 0.5)  # 5 ms, far too hot
    result = master(audio, SR)
    assert result.lufs_before is None and result.gain_db == 0.0
    assert np.isfinite(result.audio).all()
    assert independent_true_peak_dbtp(result.audio) <= -1.0
    assert "too short" in result.report.notes[0]


def test_gain_cap_is_reported_instead_of_boosting_noise():
    result = master(sine(2.0, 1e-3), SR)  # about -61 LUFS: +47 dB would be needed
    assert result.gain_db == pytest.approx(36.0)
    assert any("cap" in note for note in result.report.notes)


def test_normalisation_can_be_turned_off():
    audio = band_noise(3.0, 0.05)
    result = master(audio, SR, MasteringSettings(normalize=False))
    assert result.gain_db == 0.0
    assert _pyloudnorm_lufs(result.audio) == pytest.approx(_pyloudnorm_lufs(audio), abs=0.01)

    untouched = master(audio, SR, MasteringSettings(normalize=False, limit=False))
    np.testing.assert_array_equal(untouched.audio, audio.astype(np.float32))


def test_hot_take_is_limited_even_with_normalisation_off():
    audio = np.clip(band_noise(3.0, 0.5), -1, 1)
    result = master(audio, SR, MasteringSettings(normalize=False))
    assert independent_true_peak_dbtp(result.audio) <= -1.0


def test_limiter_looks_ahead_and_moves_smoothly():
    quiet = sine(2.0, 0.1, 200.0)
    burst_at = SR
    loud = quiet.copy()
    loud[:, burst_at : burst_at + SR // 4] *= 20.0  # a sudden +26 dB burst
    limited = limit_true_peak(
        loud,
        SR,
        true_peak_envelope(loud),
        ceiling_dbtp=-1.0,
        lookahead_ms=5.0,
        release_db_per_s=100.0,
        oversample=4,
    )
    nonzero = np.abs(loud[0]) > 1e-3
    gain = np.ones(loud.shape[-1])
    gain[nonzero] = limited.audio[0][nonzero] / loud[0][nonzero]
    gain_db = 20 * np.log10(np.interp(np.arange(gain.size), np.flatnonzero(nonzero), gain[nonzero]))

    assert gain_db[burst_at - SR // 1000] < -1.0  # already down 1 ms before the burst
    assert gain_db[: burst_at - SR // 100].max() > -0.01  # untouched well before it
    assert np.abs(np.diff(gain_db)).max() < 0.2  # no steps: at most 0.2 dB between samples
    assert 20 * np.log10(limited.true_peak) <= -1.0


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    level=st.floats(1e-3, 3.0),
    frequency=st.floats(40.0, 15000.0),
    seconds=st.floats(0.02, 1.2),
)
def test_any_sine_ends_up_finite_and_under_the_ceiling(level, frequency, seconds):
    result = master(sine(seconds, level, frequency), SR)
    assert np.isfinite(result.audio).all()
    assert independent_true_peak_dbtp(result.audio) <= -1.0


@pytest.mark.parametrize(
    ("audio", "message"),
    [
        (np.array([[0.0, np.nan, 0.1]]), "NaN or infinite"),
        (np.array([[0.0, np.inf, 0.1]]), "NaN or infinite"),
        (np.zeros((2, 10), dtype=np.int16), "floating point"),
        (np.zeros((48000, 2)), "transposed"),
        (np.zeros((6, 48000)), "mono or stereo"),
    ],
)
def test_bad_input_is_refused_with_a_sentence(audio, message):
    with pytest.raises(StudioError, match=message):
        master(audio, SR)


def test_normalising_without_the_limiter_warns_about_clipping():
    result = master(drums(2.0, 0.05), SR, MasteringSettings(limit=False))
    assert result.true_peak_dbtp > 0.0
    assert any("will clip" in note for note in result.report.notes)


def test_a_take_the_limiter_leaves_alone_is_its_float64_gain_rounded_once():
    # The plain-gain path writes float32 straight from float64 products (no float64 copy of the take):
    # the same samples the limiter's float64 path would have handed back.
    audio = band_noise(3.0, 0.02).astype(np.float32)
    result = master(audio, SR)
    assert result.limiter_reduction_db == 0.0 and result.gain_db > 6.0
    expected = (audio.astype(np.float64) * 10.0 ** (result.gain_db / 20.0)).astype(np.float32)
    np.testing.assert_array_equal(result.audio, expected)


def test_the_takes_true_peak_is_handed_on_unrounded():
    from studio.audio.peaks import true_peak

    audio = drums(4.0, 0.05).astype(np.float32)
    result = master(audio, SR)
    assert result.source_true_peak == true_peak(audio)
    assert result.report.true_peak_before_dbtp == round(20 * np.log10(result.source_true_peak), 4)
