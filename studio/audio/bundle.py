"""One call from a rendered take to finished files: mastered mix in every format, the raw take,
song cards (embedded and sidecar), and stems zipped with the mix."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from studio.audio.buffers import as_channels_first, check_sample_rate
from studio.audio.card import SongCard, sidecar_path
from studio.audio.export import FORMATS, audio_format, export
from studio.audio.mastering import MasteringSettings, MasterResult, master
from studio.audio.stems import check_stem_names, save_stems
from studio.ground.errors import StudioError

DEFAULT_FORMATS = ("wav", "flac", "mp3")
RAW_SUFFIX = ".raw"


@dataclass(frozen=True)
class ExportedSong:
    paths: dict[str, Path]  # format -> mastered file (or the raw take when mastering is off)
    unmastered: dict[str, Path]  # format -> raw take; same files as `paths` when mastering is off
    card_path: Path  # <stem_name>.song.json, the mix's card
    card: SongCard
    mastering: MasterResult | None
    stems: dict[str, Path] = field(default_factory=dict)
    stems_zip: Path | None = None


def export_song(
    take_audio: np.ndarray,
    sample_rate: int,
    out_dir: str | os.PathLike[str],
    stem_name: str,
    formats: Sequence[str] = DEFAULT_FORMATS,
    card: SongCard | None = None,
    mastering: MasteringSettings | None = None,
    stems: Mapping[str, np.ndarray] | None = None,
    *,
    mastered: MasterResult | None = None,
    keep_raw: bool = True,
    drafts: Mapping[str, Path] | None = None,
) -> ExportedSong:
    """Master ``take_audio`` and write ``<stem_name>.<fmt>`` for each format, the unmastered take
    as ``<stem_name>.raw.wav`` (32-bit float, overs kept), ``<stem_name>.song.json`` and, when
    ``stems`` are given, ``<stem_name>.<stem>.wav`` plus ``<stem_name>.stems.zip``.

    ``mastering=None`` uses the default settings; pass ``MasteringSettings(normalize=False,
    limit=False)`` to write the take untouched. ``card`` is required: every file carries it.
    ``mastered`` is ``master(take_audio, ...)`` done already (the studio masters once and writes the
    player's file before the other downloads); ``keep_raw=False`` skips the raw take's file.
    ``drafts`` maps a format to the mix written already by ``export.write_draft`` (tagged and renamed
    instead of encoded again); the caller removes any this call did not reach.
    """
    if card is None:
        raise StudioError("export_song needs the song card (SongCard) that every file carries.")
    if not stem_name or Path(stem_name).name != stem_name or stem_name.startswith("."):
        raise StudioError(
            f"File name `{stem_name}` must be a plain name without folders or a leading dot, "
            "e.g. `my-song` (see `studio.audio.export.slugify`)."
        )
    if not formats:
        raise StudioError(f"Choose at least one format to export ({', '.join(DEFAULT_FORMATS)}).")
    kinds = [audio_format(fmt).name for fmt in formats]
    sample_rate = check_sample_rate(sample_rate)
    raw = as_channels_first(take_audio, what="the take", dtype=None)  # master and export take any float
    if stems:
        check_stem_names(stems)
        for name, audio in stems.items():
            as_channels_first(audio, what=f"stem `{name}`", dtype=None)  # a check only: no copy
    settings = mastering or MasteringSettings()
    folder = Path(out_dir)

    base = card.model_copy(update={"sample_rate": sample_rate, "duration_s": raw.shape[-1] / sample_rate})
    result: MasterResult | None = None
    if settings.active:
        result = mastered if mastered is not None else master(raw, sample_rate, settings)
        mix, mix_card = (
            result.audio,
            base.model_copy(update={"part": "mix", "mastering": settings, "mastering_report": result.report}),
        )
    else:
        mix, mix_card = (
            raw.astype(np.float32),
            base.model_copy(update={"part": "mix", "mastering": None, "mastering_report": None}),
        )

    drafts = drafts or {}
    paths = {
        kind: export(mix, sample_rate, folder / stem_name, kind, mix_card, draft=drafts.get(kind))
        for kind in dict.fromkeys(kinds)
    }
    if result is not None and not keep_raw:
        unmastered = {}
    elif result is not None:
        raw_card = base.model_copy(update={"part": "mix", "mastering": None, "mastering_report": None})
        raw_path = export(raw, sample_rate, folder / f"{stem_name}{RAW_SUFFIX}", "wav", raw_card, subtype="FLOAT")
        unmastered = {"wav": raw_path}
    else:
        unmastered = dict(paths)

    saved = None
    if stems:
        preferred = next(path for kind, path in sorted(paths.items(), key=lambda item: _ZIP_ORDER[item[0]]))
        saved = save_stems(stems, sample_rate, folder, stem_name, mix_card, mix_files=(preferred,))
    return ExportedSong(
        paths=paths,
        unmastered=unmastered,
        card_path=sidecar_path(next(iter(paths.values()))),
        card=mix_card,
        mastering=result,
        stems=dict(saved.paths) if saved else {},
        stems_zip=saved.zip_path if saved else None,
    )


# The mix that goes into the stems zip: the first of the song's formats in FORMATS' order (lossless first).
_ZIP_ORDER = {name: rank for rank, name in enumerate(FORMATS)}
