"""True-peak measurement: polyphase oversampling plus a parabolic refinement.

A 4x oversampled meter reads low between its own grid points (by up to ~0.7 dB near Nyquist,
~0.1 dB on typical music). Fitting a parabola through the largest grid value of each sample
interval and its two neighbours recovers most of that, so the limiter's promise also holds for
meters that oversample further. Work is done in float32 chunks so that a 4-minute stereo take
never needs its whole 4x copy in memory.

The interpolation is one matrix product per chunk (a block-Toeplitz matrix holding every phase of
the filter), not ``scipy.signal.resample_poly``: upfirdn's scalar loop took ~1 s per minute of
stereo audio and sits twice on the way to a playable song (mastering, then the take's checks);
BLAS does the same sums several times faster. The output is the same up to float32 rounding
(``tests/audio/test_peaks.py`` holds it against ``resample_poly``).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.signal import firwin
from threadpoolctl import ThreadpoolController

# A true-peak reading's oversampling (BS.1770-4's minimum at 48 kHz): what the take's checks read.
TRUE_PEAK_OVERSAMPLE = 4
_CHUNK = 1 << 17
# Input samples of context on each side of a chunk; the interpolation filter reaches 20.
CONTEXT = 24
# Input samples per row of the block-Toeplitz product. Wider rows waste more multiplications on the
# matrix's zeros but keep BLAS busier; 64 was the fastest of 16..256 measured on this machine.
_BLOCK = 64


@lru_cache(maxsize=4)
def _interpolation_filter(oversample: int) -> np.ndarray:
    """Interpolation low-pass, designed once: longer and steeper than scipy's default for
    ``resample_poly`` (40 instead of 20 taps per phase, Kaiser 8), so content just under Nyquist,
    which clipping and noise put there, is not read low."""
    return firwin(40 * oversample + 1, 1.0 / oversample, window=("kaiser", 8.0)).astype(np.float32)


@lru_cache(maxsize=4)
def _block_matrix(oversample: int) -> np.ndarray:
    """``rows @ matrix`` interpolates ``_BLOCK`` samples per row at ``oversample`` points each,
    interleaved (sample-major), from a row holding those samples plus the filter's reach on each
    side. It is what ``resample_poly(x, oversample, 1, window=filter)`` computes: output point
    ``oversample * n + p`` is ``oversample * sum_j h[oversample * j + p] * x[n + reach - j]``
    (upfirdn on the zero-stuffed input, its group delay of ``reach`` input samples removed)."""
    h = _interpolation_filter(oversample).astype(np.float64) * oversample
    reach = (h.size - 1) // 2 // oversample
    span = 2 * reach + 1
    # Row offset t within a window holds x[n - reach + t], i.e. j = 2 * reach - t.
    index = oversample * (2 * reach - np.arange(span))[:, None] + np.arange(oversample)[None, :]
    phases = np.where(index < h.size, h[np.minimum(index, h.size - 1)], 0.0)
    matrix = np.zeros((_BLOCK + span - 1, _BLOCK * oversample), dtype=np.float32)
    for i in range(_BLOCK):
        matrix[i : i + span, i * oversample : (i + 1) * oversample] = phases
    return matrix


def _oversampled_magnitude(segment: np.ndarray, oversample: int) -> np.ndarray:
    """``|resample_poly(segment, oversample, 1, window=filter)|``, the largest over channels:
    zeros beyond the segment's ends, as upfirdn pads."""
    matrix = _block_matrix(oversample)
    span = matrix.shape[0] - _BLOCK + 1
    reach = span // 2
    channels, length = segment.shape
    rows = -(-length // _BLOCK)
    padded = np.zeros((channels, rows * _BLOCK + span - 1), dtype=np.float32)
    padded[:, reach : reach + length] = segment
    magnitude = None
    for channel in padded:
        windows = np.lib.stride_tricks.as_strided(
            channel,
            shape=(rows, _BLOCK + span - 1),
            strides=(_BLOCK * channel.itemsize, channel.itemsize),
            writeable=False,
        )
        values = np.abs(np.ascontiguousarray(windows) @ matrix).reshape(-1)
        magnitude = values if magnitude is None else np.maximum(magnitude, values, out=magnitude)
    return magnitude[: length * oversample]


def true_peak_envelope(audio: np.ndarray, oversample: int = TRUE_PEAK_OVERSAMPLE) -> np.ndarray:
    """For each input sample ``n``: the largest magnitude the reconstructed waveform (any channel)
    reaches in ``[n, n + 1)``. ``audio`` is a finite float ``[channels, samples]`` array."""
    samples = audio.shape[-1]
    if oversample <= 1 or samples == 0:
        return np.abs(audio).max(axis=0, initial=0.0)
    # float32 for a float32 take (every value is a float32 magnitude, or one of its samples): half the
    # memory and no float64 copy per chunk; a float64 take keeps float64 (its samples are not float32).
    envelope = np.empty(samples, dtype=np.result_type(audio.dtype, np.float32))
    with _one_blas_thread():
        for start in range(0, samples, _CHUNK):
            stop = min(samples, start + _CHUNK)
            envelope[start:stop] = _interval_peaks(audio, start, stop, oversample)
    return envelope


def true_peak(audio: np.ndarray, oversample: int = TRUE_PEAK_OVERSAMPLE) -> float:
    """Linear true peak of ``audio`` (0.0 for an empty array)."""
    return float(true_peak_envelope(audio, oversample).max(initial=0.0))


def peak_within(audio: np.ndarray, start: int, stop: int, oversample: int = 4) -> float:
    """Linear true peak of ``audio[:, start:stop]``, reconstructed in the context of the whole take."""
    peak = 0.0
    with _one_blas_thread():
        for chunk in range(start, stop, _CHUNK):
            values = _interval_peaks(audio, chunk, min(stop, chunk + _CHUNK), oversample)
            peak = max(peak, float(values.max()))
    return peak


def _one_blas_thread():
    """The interpolation's matrix products on one BLAS thread: OpenBLAS's threaded and single-thread
    kernels sum in different orders, so the envelope (and the limiter's gain, and the master's last bits)
    depended on how many threads ran — the player's file drafted beside mastering (one thread) differed
    from the same take mastered alone (two) in a fresh-clone CI run (tests/test_player_draft.py). One thread
    also keeps a loaded 2-core machine from spinning OpenBLAS's second thread (studio.finishing)."""
    return _blas().limit(limits=1, user_api="blas")


@lru_cache(maxsize=1)
def _blas() -> ThreadpoolController:
    # One scan of the loaded libraries per process (numpy's BLAS is loaded with numpy, before any call
    # here): ``threadpool_limits`` rescans on every entry (~0.5 ms), and the limiter calls ``peak_within``
    # once per region it works on; entering a kept controller's limit costs ~25 us.
    return ThreadpoolController()


def _interval_peaks(audio: np.ndarray, start: int, stop: int, oversample: int) -> np.ndarray:
    samples = audio.shape[-1]
    lo, hi = max(0, start - CONTEXT), min(samples, stop + CONTEXT)
    segment = np.asarray(audio[:, lo:hi], dtype=np.float32)
    magnitude = _oversampled_magnitude(segment, oversample)

    count = stop - start
    first = (start - lo) * oversample
    grid = magnitude[first : first + count * oversample].reshape(count, oversample)
    best = first + np.arange(count) * oversample + grid.argmax(axis=1)
    # float32 like the magnitudes themselves, and kept so (float64 here cost a fifth of the measurement);
    # np.take with clip mode keeps the neighbours inside the segment without two index copies.
    mid = magnitude[best]
    left = np.take(magnitude, best - 1, mode="clip")
    right = np.take(magnitude, best + 1, mode="clip")
    curvature = left - 2.0 * mid + right
    is_peak = (curvature < 0.0) & (mid >= left) & (mid >= right)
    lift = np.square(left - right)
    np.divide(lift, curvature, out=lift, where=is_peak)
    refined = np.where(is_peak, mid - 0.125 * lift, mid)
    # The samples themselves are points of the waveform whatever the interpolation filter does.
    return np.maximum(refined, np.abs(audio[:, start:stop]).max(axis=0))
