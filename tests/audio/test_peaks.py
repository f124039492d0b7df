"""True peak: the block-matrix interpolation computes what ``scipy.signal.resample_poly`` does with
the same filter, and the classic inter-sample-peak cases read (and are limited) as BS.1770-4 says.

ITU-R BS.1770-4, Annex 2: a true-peak meter oversamples at least 4x at 48 kHz and may under-read
by up to 0.688 dB at that rate; a full-scale sine at fs/4 sampled 45 degrees off its crest has
every sample at 0.707 of its peak, so its true peak lies 3.01 dB above its sample peak.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import resample_poly

from studio.audio import peaks
from studio.audio.mastering import MasteringSettings, master
from tests.audio.signals import SR, band_noise, independent_true_peak_dbtp


def _reference_envelope_top(audio: np.ndarray, oversample: int) -> np.ndarray:
    """The oversampled magnitude by scipy's polyphase resampler: the path the studio used before."""
    upsampled = resample_poly(audio, oversample, 1, axis=-1, window=peaks._interpolation_filter(oversample))
    return np.abs(upsampled).max(axis=0)


@pytest.mark.parametrize("oversample", [2, 4, 8])
def test_block_interpolation_is_resample_poly(oversample):
    rng = np.random.default_rng(oversample)
    audio = (rng.standard_normal((2, 3001)) * 0.3).astype(np.float32)
    flat, stride = peaks._oversampled_magnitude(audio, oversample)
    got = flat.reshape(oversample, stride)[:, : audio.shape[-1]].T.reshape(-1)
    assert got.shape == (3001 * oversample,)
    np.testing.assert_allclose(got, _reference_envelope_top(audio, oversample), atol=2e-6)


def test_envelope_is_continuous_across_chunks():
    # Longer than one chunk, so chunk edges (and their context) are crossed.
    audio = band_noise(3.2, 0.3).astype(np.float32)
    assert audio.shape[-1] > peaks._CHUNK
    envelope = peaks.true_peak_envelope(audio, 4)
    top = _reference_envelope_top(audio, 4).reshape(-1, 4).max(axis=1)
    # The refinement only ever reads higher than the grid, never lower, and the samples bound it.
    assert np.all(envelope >= np.maximum(top, np.abs(audio).max(axis=0)) - 2e-6)
    assert np.all(envelope <= top * 1.25 + 2e-6)


def _quarter_rate_sine(phase: float, sample_peak: float = 1.0, seconds: float = 1.0) -> np.ndarray:
    n = np.arange(int(seconds * SR))
    wave = np.sin(np.pi / 2 * n + np.pi / 4 + phase)
    wave *= sample_peak / np.abs(wave).max()
    return np.stack([wave, -wave]).astype(np.float32)


@pytest.mark.parametrize("phase", [0.0, 0.1, 0.3, -0.2])
def test_full_scale_quarter_rate_sine_reads_its_inter_sample_peak(phase):
    audio = _quarter_rate_sine(phase)
    expected_db = 20 * np.log10(1.0 / np.abs(np.sin(np.pi / 4 + phase + np.pi / 2 * np.arange(4))).max())
    measured_db = 20 * np.log10(peaks.true_peak(audio, 4))
    # The middle of the take, away from the abrupt start and end, is a steady sine.
    middle = audio[:, SR // 4 : 3 * SR // 4]
    measured_middle_db = 20 * np.log10(peaks.true_peak(middle, 4))
    assert measured_middle_db >= expected_db - 0.1  # far better than the 0.688 dB BS.1770 allows
    assert measured_db >= measured_middle_db - 1e-6


@pytest.mark.parametrize("phase", [0.0, 0.2])
def test_mastered_quarter_rate_sine_stays_under_the_ceiling(phase):
    # Samples at full scale, the waveform 3 dB above them between samples: a limiter that looked at
    # samples only would leave it at +2 dBTP after bringing the samples to -1 dBFS.
    audio = _quarter_rate_sine(phase)
    for settings in (MasteringSettings(), MasteringSettings(normalize=False)):
        result = master(audio, SR, settings)
        assert independent_true_peak_dbtp(result.audio) <= settings.ceiling_dbtp
        assert result.true_peak_dbtp is not None and result.true_peak_dbtp <= settings.ceiling_dbtp


def _plain_interval_peaks(audio: np.ndarray, start: int, stop: int, oversample: int) -> np.ndarray:
    """The refinement as first written, on the interleaved oversampled sequence: argmax per interval,
    its two neighbours (clipped to the segment), a parabola's vertex at strict local maxima."""
    lo, hi = max(0, start - peaks.CONTEXT), min(audio.shape[-1], stop + peaks.CONTEXT)
    flat, stride = peaks._oversampled_magnitude(np.asarray(audio[:, lo:hi], dtype=np.float32), oversample)
    magnitude = flat.reshape(oversample, stride)[:, : hi - lo].T.reshape(-1)
    count, first = stop - start, (start - lo) * oversample
    grid = magnitude[first : first + count * oversample].reshape(count, oversample)
    best = first + np.arange(count) * oversample + grid.argmax(axis=1)
    mid = magnitude[best]
    left = np.take(magnitude, best - 1, mode="clip")
    right = np.take(magnitude, best + 1, mode="clip")
    curvature = left - 2.0 * mid + right
    is_peak = (curvature < 0.0) & (mid >= left) & (mid >= right)
    lift = np.square(left - right)
    np.divide(lift, curvature, out=lift, where=is_peak)
    refined = np.where(is_peak, mid - 0.125 * lift, mid)
    return np.maximum(refined, np.abs(audio[:, start:stop]).max(axis=0))


def _cliffs() -> np.ndarray:
    """Noise that starts on its largest sample and ends rising past its last one: the first interval's
    largest grid value is on the first sample and the last interval's on its last phase, so both of the
    take's clipped neighbours are read."""
    audio = (np.random.default_rng(3).standard_normal((2, 400)) * 0.1).astype(np.float32)
    audio[:, 0] = 0.9
    audio[:, -6:] = [0.72, -0.42, 0.31, -0.41, -0.59, 0.005]  # found by search: its last phase is the largest
    return audio


@pytest.mark.parametrize(
    "audio",
    [
        band_noise(0.5, 0.3).astype(np.float32),
        _cliffs(),
        _quarter_rate_sine(0.0, seconds=0.2),  # equal grid values in every interval: argmax's first pick
        np.concatenate([np.zeros((2, 500)), np.ones((2, 300)), np.zeros((2, 500))], axis=1).astype(np.float32),
        np.zeros((2, 700), dtype=np.float32),
    ],
    ids=["noise", "cliffs", "quarter-rate-sine", "step", "silence"],
)
@pytest.mark.parametrize("where", ["start", "middle", "end", "whole"])
def test_row_wise_refinement_is_the_interleaved_one_exactly(audio, where):
    # The refinement works on one row per phase, with arithmetic in place of argmax and clipped takes
    # (numpy's per-row and masked loops were slower than the interpolation itself); the numbers must not
    # move by one bit, at the take's ends (where the neighbours are clipped) as in its middle.
    samples = audio.shape[-1]
    start, stop = {"start": (0, 100), "middle": (150, samples - 150), "end": (samples - 100, samples)}.get(
        where, (0, samples)
    )
    got = peaks._interval_peaks(audio, start, stop, 4)
    if where in ("start", "whole") and audio[0, 0] == 0.9:
        assert got[0] > 0.9 * peaks._delay_tap(4)  # the vertex between the first sample and its clipped self
    np.testing.assert_array_equal(got, _plain_interval_peaks(audio, start, stop, 4))


def _blas_threads() -> int:
    from threadpoolctl import threadpool_info

    return max(info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas")


def test_helpers_measure_the_same_envelope_as_one_thread():
    # Helper threads take chunks in whatever order the scheduler gives them; each chunk is the same
    # computation on one BLAS thread, so the envelope must not move by a bit with their number.
    audio = band_noise(10.0, 0.3).astype(np.float32)
    assert audio.shape[-1] > 3 * peaks._CHUNK
    alone = None
    for helpers in (0, 1, 3):
        with peaks.measuring_envelope(audio, 4, helpers=helpers) as pending:
            assert len(pending._helpers) == helpers
            envelope = pending.result()
        if alone is None:
            alone = envelope
        np.testing.assert_array_equal(envelope, alone)
    np.testing.assert_array_equal(peaks.true_peak_envelope(audio), alone)


def test_a_failing_chunk_reaches_the_caller_and_no_helper_outlives_the_block(monkeypatch):
    import threading

    audio = band_noise(10.0, 0.3).astype(np.float32)
    real = peaks._interval_peaks

    def fails_on_the_third(audio, start, stop, oversample):
        if start == 2 * peaks._CHUNK:
            raise MemoryError("no room for the third chunk")
        return real(audio, start, stop, oversample)

    monkeypatch.setattr(peaks, "_interval_peaks", fails_on_the_third)
    before = _blas_threads()
    with pytest.raises(MemoryError, match="third chunk"), peaks.measuring_envelope(audio, 4, helpers=2) as pending:
        pending.result()
    assert not any(thread.name.startswith("true-peak-") for thread in threading.enumerate())
    assert _blas_threads() == before


def test_leaving_the_block_without_the_result_stops_the_helpers():
    import threading

    audio = band_noise(10.0, 0.3).astype(np.float32)
    with peaks.measuring_envelope(audio, 4, helpers=2):
        pass  # e.g. the loudness measurement failed: nobody waits for the envelope
    assert not any(thread.name.startswith("true-peak-") for thread in threading.enumerate())


def test_overlapping_measurements_keep_one_blas_thread_until_the_last_ends():
    # The limit is process-wide: a take's checks in the background writer can measure while the next take
    # is mastered. The first to end must not give BLAS its threads back under the other's products.
    if _blas_threads() < 2:
        pytest.skip("BLAS runs one thread here anyway")
    before = _blas_threads()
    first = peaks._one_blas_thread()
    second = peaks._one_blas_thread()
    first.__enter__()
    second.__enter__()
    assert _blas_threads() == 1
    first.__exit__(None, None, None)
    assert _blas_threads() == 1
    second.__exit__(None, None, None)
    assert _blas_threads() == before
