"""Synthetic test material and an independent true-peak meter (FFT interpolation, not polyphase)."""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, resample, sosfilt

SR = 48000


def _fade(samples: int, sample_rate: int, fade_s: float = 0.01) -> np.ndarray:
    ramp = np.minimum(1.0, np.minimum(np.arange(samples), np.arange(samples)[::-1]) / (fade_s * sample_rate))
    return ramp


def band_noise(
    seconds: float, level: float, *, seed: int = 0, sample_rate: int = SR, cutoff: float = 16000.0
):
    """Stereo noise band-limited like mastered music (nothing much above ``cutoff``)."""
    rng = np.random.default_rng(seed)
    samples = int(seconds * sample_rate)
    cutoff = min(cutoff, 0.4 * sample_rate)
    noise = sosfilt(butter(6, cutoff, fs=sample_rate, output="sos"), rng.normal(0.0, level, (2, samples)))
    return noise * _fade(samples, sample_rate)


def drums(seconds: float, level: float, *, seed: int = 1, sample_rate: int = SR) -> np.ndarray:
    """Kicks and noisy snares every half second over a quiet pad: a high crest factor that a
    loudness gain drives straight into the limiter."""
    samples = int(seconds * sample_rate)
    t = np.arange(samples) / sample_rate
    out = np.zeros((2, samples))
    hit = np.arange(int(0.3 * sample_rate)) / sample_rate
    kick = np.sin(2 * np.pi * 55 * hit * (1 + 2 * np.exp(-hit * 30))) * np.exp(-hit * 12)
    snare = band_noise(0.3, 0.5, seed=seed, sample_rate=sample_rate)[:, : hit.size] * np.exp(-hit * 25)
    for index, start in enumerate(range(0, samples - hit.size, sample_rate // 2)):
        if index % 2:
            out[:, start : start + hit.size] += snare
        else:
            out[:, start : start + hit.size] += kick
    pad = 0.02 * np.sin(2 * np.pi * 220 * t)
    out += np.stack([pad, -pad])
    return level * out * _fade(samples, sample_rate)


def sine(seconds: float, amplitude: float, frequency: float = 440.0, *, sample_rate: int = SR) -> np.ndarray:
    samples = int(seconds * sample_rate)
    wave = amplitude * np.sin(2 * np.pi * frequency * np.arange(samples) / sample_rate)
    return np.stack([wave, wave]) * _fade(samples, sample_rate)


def independent_true_peak_dbtp(audio: np.ndarray, factor: int = 8, pad: int = 256) -> float:
    """True peak by ideal band-limited (FFT) interpolation at ``factor`` x, zero-padded so the
    FFT's wrap-around sees silence, as the file's start and end do."""
    padded = np.pad(np.asarray(audio, dtype=np.float64), ((0, 0), (pad, pad)))
    upsampled = resample(padded, padded.shape[-1] * factor, axis=-1)
    return float(20 * np.log10(np.abs(upsampled).max()))
