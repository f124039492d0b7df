"""A kept song's checks live beside its audio as ``<id>.checks.json`` (the library deletes every
``<id>.*`` with the song), so the SQLite schema stays as it is and a re-check just rewrites a file."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from studio.quality.report import TakeChecks

SUFFIX = ".checks.json"


def checks_path(audio_path: Path) -> Path:
    return audio_path.with_name(audio_path.stem + SUFFIX)


def save_checks(audio_path: Path, checks: TakeChecks) -> Path:
    from studio.audio.card import write_text_atomically

    target = checks_path(audio_path)
    write_text_atomically(target, checks.model_dump_json(indent=1))
    return target


def load_checks(audio_path: Path) -> TakeChecks | None:
    """The saved checks, or None when the song was never checked (or the file is from an older,
    incompatible studio: it is then simply not shown)."""
    path = checks_path(audio_path)
    try:
        return TakeChecks.model_validate_json(path.read_bytes())
    except (OSError, ValidationError):
        return None
