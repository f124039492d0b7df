"""Stems on disk: ``<title> - <stem>.wav`` (24-bit, the mix's rate and level), a card, and a zip."""

from __future__ import annotations

import math
import re
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from studio.audio.card import SongCard, studio_version, unwritable, write_text_atomically
from studio.audio.export import export
from studio.separation.report import SeparationReport

_UNSAFE = re.compile(r'[\x00-\x1f/\\:*?"<>|]+')


def file_title(title: str) -> str:
    """A song title as a file name: characters no file system takes become `-`, no leading dot."""
    cleaned = _UNSAFE.sub("-", title).strip().lstrip(".").strip()
    return cleaned[:80].rstrip() or "song"


class StemsCard(BaseModel):
    """How a song's stems were made, written beside them and into their zip."""

    model_config = ConfigDict(extra="forbid")

    title: str
    source: str = Field(description="File name of the song that was split.")
    source_card: SongCard | None = Field(None, description="The song's own card, when the studio made it.")
    stems: tuple[str, ...]
    stem_count: int
    model: str
    weights: str = Field(description="Hub id or folder of the separation weights.")
    signatures: tuple[str, ...]
    device: str
    overlap: float
    shifts: int = 0
    sample_rate: int
    duration_s: float
    gain_db: float = Field(0.0, description="One gain applied to every stem so none clips in 24-bit (0: none).")
    report: SeparationReport
    notes: list[str] = Field(default_factory=list)
    separated_s: float
    created_at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))
    studio_version: str = Field(default_factory=studio_version)


def headroom_gain(stems: dict[str, np.ndarray]) -> float:
    """1.0, or the one gain that keeps the loudest stem under full scale. A stem can peak above the
    mix (two parts cancelling in the sum); turning every stem down alike keeps them summing to the
    mix (at that gain) instead of clipping one."""
    peak = max((float(np.max(np.abs(a))) for a in stems.values()), default=0.0)
    return 1.0 if peak <= 1.0 else 0.999 / peak


def write_stems(
    stems: dict[str, np.ndarray], sample_rate: int, folder: Path, title: str, card: StemsCard,
    song_card: SongCard,
) -> tuple[dict[str, Path], Path, Path]:
    """Write each stem and ``<title> - stems.json``, zip them as ``<title> - stems.zip``."""
    name = file_title(title)
    gain = headroom_gain(stems)
    if gain != 1.0:
        card.gain_db = round(20 * math.log10(gain), 2)
        card.notes.append(
            f"every stem was turned down by {-card.gain_db:.1f} dB together so the loudest one does not clip; "
            "they still add up to the mix at that level."
        )
    paths: dict[str, Path] = {}
    for stem, audio in stems.items():
        part_card = song_card.model_copy(update={"part": stem, "mastering": None, "mastering_report": None})
        paths[stem] = export(audio * gain, sample_rate, folder / f"{name} - {stem}", "wav", part_card,
                             sidecar=False)
    card_path = folder / f"{name} - stems.json"
    write_text_atomically(card_path, card.model_dump_json(indent=2))
    zip_path = zip_files(folder / f"{name} - stems.zip", [*paths.values(), card_path])
    return paths, card_path, zip_path


def zip_files(target: Path, members: list[Path], extra: dict[str, str] | None = None,
              renamed: dict[str, Path] | None = None) -> Path:
    """Store ``members``, ``renamed`` files (name in the zip -> file) and ``extra`` text files in
    ``target``, written whole or not at all."""
    temporary = target.with_name(f".{target.name}.part")
    try:
        # Audio barely compresses; storing keeps zipping a 4-minute song instant.
        with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_STORED) as archive:
            for member in members:
                archive.write(member, arcname=member.name)
            for arcname, member in (renamed or {}).items():
                archive.write(member, arcname=arcname)
            for arcname, text in (extra or {}).items():
                archive.writestr(arcname, text)
        temporary.replace(target)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise unwritable(target, error) from error
    return target
