"""Checks shared by mastering and export: audio arrives as float ``[channels, samples]``."""

from __future__ import annotations

import numpy as np

from studio.ground.errors import StudioError

# Song Studio delivers mono or stereo; MP3 and the loudness meter's channel weights assume it.
MAX_CHANNELS = 2


def as_channels_first(
    audio: np.ndarray, *, what: str = "audio", dtype: type[np.floating] | None = np.float64
) -> np.ndarray:
    """Return ``audio`` as a ``[channels, samples]`` array of ``dtype`` (``None``: its own float type,
    no copy), or say what is wrong with it.

    A 1-D array is taken as mono. NaN or infinite samples are refused rather than cleaned up:
    they mean the model or an earlier step went wrong, and silently zeroing them would hide it.
    """
    array = np.asarray(audio)
    if not np.issubdtype(array.dtype, np.floating):
        raise StudioError(
            f"{what} must be floating point in [-1, 1], got dtype {array.dtype}; "
            "convert integer PCM with `samples / 32768.0` (16-bit) before mastering or export."
        )
    if array.ndim == 1:
        array = array[np.newaxis, :]
    if array.ndim != 2:
        raise StudioError(f"{what} must be shaped [channels, samples], got shape {tuple(array.shape)}.")
    channels, samples = array.shape
    if channels > MAX_CHANNELS and samples <= MAX_CHANNELS:
        raise StudioError(
            f"{what} looks transposed (shape {tuple(array.shape)}); pass it as [channels, samples], e.g. `audio.T`."
        )
    if not 1 <= channels <= MAX_CHANNELS:
        raise StudioError(
            f"{what} has {channels} channels; Song Studio exports mono or stereo, so mix it down to 1 or 2."
        )
    # One float64 sum is NaN or infinite when any sample is (or when huge values overflow it; then the
    # samples are checked one by one): no boolean copy of a whole take on the way to the player.
    with np.errstate(over="ignore", invalid="ignore"):
        total = array.sum(dtype=np.float64)
    if np.isfinite(total):
        return array if dtype is None else array.astype(dtype, copy=False)
    finite = np.isfinite(array)
    if not finite.all():
        bad = int(array.size - np.count_nonzero(finite))
        raise StudioError(
            f"{what} contains {bad} NaN or infinite samples out of {array.size}; the render is broken. "
            "Try another seed, or lower the guidance / number of steps, and render again."
        )
    return array if dtype is None else array.astype(dtype, copy=False)


def check_sample_rate(sample_rate: int) -> int:
    if not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise StudioError(f"sample rate must be a positive whole number of Hz, got {sample_rate!r}.")
    return int(sample_rate)
