"""Stems: separate tracks a backend returned (LeVo's vocals/accompaniment, ACE-Step's extract task),
saved beside the mix and offered together with it as one zip."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from studio.audio.card import SongCard, sidecar_path, unwritable
from studio.audio.export import export
from studio.ground.errors import StudioError

_STEM_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
# Names that would collide with the files the mix itself produces.
_RESERVED = frozenset({"raw", "mix", "song", "stems"})
STEMS_SUFFIX = ".stems.zip"


@dataclass(frozen=True)
class SavedStems:
    paths: dict[str, Path]  # stem name -> WAV file
    zip_path: Path


def check_stem_names(stems: Mapping[str, np.ndarray]) -> None:
    for name in stems:
        if not _STEM_NAME.match(name) or name in _RESERVED:
            raise StudioError(
                f"Stem name `{name}` cannot be used in a file name; use lower-case letters, digits, "
                f"`-` or `_` (not {', '.join(sorted(_RESERVED))}), e.g. `vocals` or `accompaniment`."
            )


def save_stems(
    stems: Mapping[str, np.ndarray],
    sample_rate: int,
    out_dir: str | Path,
    stem_name: str,
    card: SongCard,
    *,
    mix_files: tuple[Path, ...] = (),
) -> SavedStems:
    """Write each stem as ``<stem_name>.<stem>.wav`` (32-bit float, unmastered, so the stems still
    add up to the raw take) and zip them with ``mix_files`` and the mix's song card."""
    if not stems:
        raise StudioError("There are no stems to save; this backend returned a single mixed track.")
    check_stem_names(stems)
    folder = Path(out_dir)
    paths: dict[str, Path] = {}
    for name, audio in stems.items():
        stem_card = card.model_copy(update={"part": name, "mastering": None, "mastering_report": None})
        paths[name] = export(
            audio,
            sample_rate,
            folder / f"{stem_name}.{name}",
            "wav",
            stem_card,
            subtype="FLOAT",
            sidecar=False,
        )
    zip_path = folder / f"{stem_name}{STEMS_SUFFIX}"
    members = [*mix_files, *paths.values()]
    cards = [sidecar_path(path) for path in mix_files]
    members += [path for path in dict.fromkeys(cards) if path.is_file()]
    _zip(zip_path, members)
    return SavedStems(paths, zip_path)


def _zip(zip_path: Path, members: list[Path]) -> None:
    temporary = zip_path.with_name(f".{zip_path.name}.part")
    try:
        # Audio barely compresses; storing keeps zipping a 4-minute song instant.
        with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_STORED) as archive:
            for member in members:
                archive.write(member, arcname=member.name)
        temporary.replace(zip_path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise unwritable(zip_path, error) from error
