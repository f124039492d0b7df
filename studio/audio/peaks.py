"""True-peak measurement: polyphase oversampling (scipy) plus a parabolic refinement.

A 4x oversampled meter reads low between its own grid points (by up to ~0.7 dB near Nyquist,
~0.1 dB on typical music). Fitting a parabola through the largest grid value of each sample
interval and its two neighbours recovers most of that, so the limiter's promise also holds for
meters that oversample further. Work is done in float32 chunks so that a 4-minute stereo take
never needs its whole 4x copy in memory.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.signal import firwin, resample_poly

_CHUNK = 1 << 17
# Input samples of context on each side of a chunk; the default polyphase filter reaches 10.
CONTEXT = 16


@lru_cache(maxsize=4)
def _interpolation_filter(oversample: int) -> np.ndarray:
    """scipy's own default for ``resample_poly`` (Kaiser 5.0, 10 taps per phase), designed once."""
    return firwin(20 * oversample + 1, 1.0 / oversample, window=("kaiser", 5.0)).astype(np.float32)


def true_peak_envelope(audio: np.ndarray, oversample: int = 4) -> np.ndarray:
    """For each input sample ``n``: the largest magnitude the reconstructed waveform (any channel)
    reaches in ``[n, n + 1)``. ``audio`` is a finite float ``[channels, samples]`` array."""
    samples = audio.shape[-1]
    if oversample <= 1 or samples == 0:
        return np.abs(audio).max(axis=0, initial=0.0)
    envelope = np.empty(samples)
    for start in range(0, samples, _CHUNK):
        stop = min(samples, start + _CHUNK)
        envelope[start:stop] = _interval_peaks(audio, start, stop, oversample)
    return envelope


def true_peak(audio: np.ndarray, oversample: int = 4) -> float:
    """Linear true peak of ``audio`` (0.0 for an empty array)."""
    return float(true_peak_envelope(audio, oversample).max(initial=0.0))


def peak_within(audio: np.ndarray, start: int, stop: int, oversample: int = 4) -> float:
    """Linear true peak of ``audio[:, start:stop]``, reconstructed in the context of the whole take."""
    peak = 0.0
    for chunk in range(start, stop, _CHUNK):
        values = _interval_peaks(audio, chunk, min(stop, chunk + _CHUNK), oversample)
        peak = max(peak, float(values.max()))
    return peak


def _interval_peaks(audio: np.ndarray, start: int, stop: int, oversample: int) -> np.ndarray:
    samples = audio.shape[-1]
    lo, hi = max(0, start - CONTEXT), min(samples, stop + CONTEXT)
    segment = np.asarray(audio[:, lo:hi], dtype=np.float32)
    kernel = _interpolation_filter(oversample)
    upsampled = np.abs(resample_poly(segment, oversample, 1, axis=-1, window=kernel))
    magnitude = upsampled[0] if upsampled.shape[0] == 1 else upsampled.max(axis=0)

    count = stop - start
    first = (start - lo) * oversample
    grid = magnitude[first : first + count * oversample].reshape(count, oversample)
    best = first + np.arange(count) * oversample + grid.argmax(axis=1)
    mid = magnitude[best].astype(np.float64)
    left = magnitude[np.maximum(best - 1, 0)].astype(np.float64)
    right = magnitude[np.minimum(best + 1, magnitude.size - 1)].astype(np.float64)
    curvature = left - 2.0 * mid + right
    is_peak = (curvature < 0.0) & (mid >= left) & (mid >= right)
    refined = np.where(is_peak, mid - 0.125 * (left - right) ** 2 / np.where(is_peak, curvature, -1.0), mid)
    # The samples themselves are points of the waveform whatever the interpolation filter does.
    return np.maximum(refined, np.abs(audio[:, start:stop]).max(axis=0))
