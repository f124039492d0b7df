"""Reading a song for checking: the samples as stored (no resampling, no normalising), so clipped
samples stay at full scale for the clipping check."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def read_audio(path: str | Path, what: str = "the song") -> tuple[np.ndarray, int]:
    """(``[channels, samples]`` float32, rate), or an UploadError saying what to do."""
    from studio.audio.upload import SUFFIXES, UploadError, _decode

    source = Path(path)
    if source.suffix.lower() not in SUFFIXES:
        raise UploadError(f"{what} {source.name!r} is not a WAV, FLAC, MP3 or OGG file; convert it first.")
    if not source.is_file():
        raise UploadError(f"no file at {source}; check the path.")
    # The studio's own decoder, for its header checks and errors; an hour is more than any song.
    data, rate = _decode(source, source.name, what, max_seconds=3600.0)
    return data.T.copy(), rate
