"""Where a generation's files go and in which formats, checked before any GPU time is spent."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

from backends.base import Take
from studio.audio.export import FORMATS
from studio.ground.errors import StudioError
from studio.song import SongRequest
from studio.tasks import default_title


def take_warnings(takes: Sequence[Take]) -> list[str]:
    """Warnings a backend attached to its takes (e.g. a song cut short by the time budget)."""
    out: list[str] = []
    for i, take in enumerate(takes):
        for note in take.extras.get("warnings", ()):
            out.append(f"take {i + 1}: {note}" if len(takes) > 1 else str(note))
    return out


def check_output(out: Path) -> None:
    """Fail before any GPU time is spent if the songs could not be saved."""
    folder = out.parent if out.suffix else out
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise StudioError(f"cannot write to {folder} ({exc.strerror}); pick another --out.") from None


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40]
    return slug or "song"


# The formats a user may ask for (studio.audio.export.FORMATS), so a new one needs no edit here.
OFFERED_FORMATS = tuple(name for name, kind in FORMATS.items() if kind.offered)
AUDIO_SUFFIXES = tuple(dict.fromkeys(FORMATS[name].extension for name in OFFERED_FORMATS))


def _either(items: Sequence[str]) -> str:
    return ", ".join(items[:-1]) + " or " + items[-1] if len(items) > 1 else "".join(items)


def take_targets(out: Path, request: SongRequest, seeds: list[int]) -> list[tuple[Path, str]]:
    """(folder, file stem) per take. ``song.wav`` -> song (or song-1, song-2 for several takes);
    a folder gets ``<title-or-style>-<seed>`` per take."""
    if out.suffix:
        if out.suffix.lower() not in AUDIO_SUFFIXES:
            raise StudioError(f"--out must end in {_either(AUDIO_SUFFIXES)} (or be a folder), got {out.name}.")
        if len(seeds) == 1:
            return [(out.parent, out.stem)]
        return [(out.parent, f"{out.stem}-{i + 1}") for i in range(len(seeds))]
    stem = _slug(
        request.title or default_title(request.task, request.source_audio, request.track) or request.style or "song"
    )
    return [(out, f"{stem}-{seed}") for seed in seeds]


def output_formats(out: Path, extra: Sequence[str] = ()) -> list[str]:
    """The --out suffix decides the main format; --format adds others (order kept, no repeats)."""
    main = out.suffix.lower().lstrip(".") if out.suffix else (extra[0] if extra else "wav")
    return list(dict.fromkeys([main, *extra]))
