"""Finished files: mastering, WAV/FLAC/MP3 export, tags, song cards and stems.

Typical use (the service after a render)::

    from studio.audio import SongCard, export_song, read_card, studio_artist

    card = SongCard(title=..., artist=studio_artist("ACE-Step 1.5 XL turbo"), lyrics=..., style=...,
                    backend="acestep", model_id=..., weights_revision=..., seed=take.seed,
                    params=request.model_dump(mode="json"), sample_rate=take.sample_rate, duration_s=0)
    song = export_song(take.audio, take.sample_rate, out_dir, "my-song", ("wav", "mp3"), card,
                       stems=take.stems)
    read_card(song.paths["mp3"]).params  # -> the request again
"""

from __future__ import annotations

from studio.audio.bundle import DEFAULT_FORMATS, ExportedSong, export_song
from studio.audio.card import SongCard, sidecar_path, studio_artist, studio_version, write_sidecar
from studio.audio.export import FORMATS, MP3_BITRATE_KBPS, audio_format, export, slugify
from studio.audio.loudness import LoudnessMethod, LoudnessReading, integrated_loudness
from studio.audio.mastering import MasteringReport, MasteringSettings, MasterResult, master
from studio.audio.peaks import true_peak
from studio.audio.stems import SavedStems, save_stems
from studio.audio.tags import CARD_KEY, read_card, read_tags

__all__ = [
    "CARD_KEY",
    "DEFAULT_FORMATS",
    "FORMATS",
    "MP3_BITRATE_KBPS",
    "ExportedSong",
    "LoudnessMethod",
    "LoudnessReading",
    "MasterResult",
    "MasteringReport",
    "MasteringSettings",
    "SavedStems",
    "SongCard",
    "audio_format",
    "export",
    "export_song",
    "integrated_loudness",
    "master",
    "read_card",
    "read_tags",
    "save_stems",
    "sidecar_path",
    "slugify",
    "studio_artist",
    "studio_version",
    "true_peak",
    "write_sidecar",
]
