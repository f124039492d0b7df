"""Reading a song for checking: the samples as stored (no resampling, no normalising), so clipped
samples stay at full scale for the clipping check."""

from __future__ import annotations

from pathlib import Path

import numpy as np

# An hour is more than any song; it bounds what a check may hold in memory before reading a block.
MAX_CHECK_SECONDS = 3600.0


def read_audio(path: str | Path, what: str = "the song") -> tuple[np.ndarray, int]:
    """(``[channels, samples]`` float32, rate), or an UploadError saying what to do."""
    from studio.audio.decoding import NotAudio, Truncated, open_audio
    from studio.audio.upload import _FORMATS, SUFFIXES, UploadError

    source = Path(path)
    if source.suffix.lower() not in SUFFIXES:
        raise UploadError(f"{what} {source.name!r} is not a {_FORMATS} file; convert it first.")
    if not source.is_file():
        raise UploadError(f"no file at {source}; check the path.")
    unreadable = f"{what} {source.name!r} could not be read as audio (damaged or truncated); export it again."
    try:
        opened = open_audio(source)
    except (NotAudio, Truncated):
        raise UploadError(unreadable) from None
    with opened.close:
        header = opened.header
        # The same block decoder as uploads, so a file announcing hours of 32 channels is refused
        # from its header, never decoded whole.
        limit = int(MAX_CHECK_SECONDS * header.rate)
        if header.frames is not None and header.frames > limit:
            raise UploadError(f"{what} {source.name!r} is longer than {MAX_CHECK_SECONDS / 60:.0f} minutes; "
                              "check a shorter excerpt.")
        blocks: list[np.ndarray] = []
        frames = 0
        try:
            for block in opened.blocks:
                frames += len(block)
                if frames > limit:
                    raise UploadError(f"{what} {source.name!r} is longer than {MAX_CHECK_SECONDS / 60:.0f} "
                                      "minutes; check a shorter excerpt.")
                blocks.append(np.asarray(block, dtype=np.float32))
        except UploadError:
            raise
        except Exception:
            raise UploadError(unreadable) from None
    if not frames:
        raise UploadError(f"{what} {source.name!r} holds no audio samples; export it again.")
    data = np.concatenate(blocks, axis=0)
    return data.T.copy(), header.rate
