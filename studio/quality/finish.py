"""The checks as the generate flow runs them on every take it makes.

The DSP measures always run (about a second per minute of audio). The lyric check needs Whisper
(a 1.6 GB download, and seconds to minutes of compute a song), so it runs only where it is turned
on: ``STUDIO_LYRIC_CHECK=on`` (the weights from ``STUDIO_ASR_MODEL``), or a caller that passes a
transcriber of its own (``studio check``, the /check endpoint)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from studio.quality.checks import Intent, check_take
from studio.quality.report import TakeChecks, rank

LYRIC_CHECK_ENV = "STUDIO_LYRIC_CHECK"
_ON = {"1", "on", "true", "yes"}


def lyric_check_on() -> bool:
    return os.environ.get(LYRIC_CHECK_ENV, "").strip().lower() in _ON


def studio_transcriber(on_progress=None):
    """The Whisper pipeline when the lyric check is turned on, else None."""
    if not lyric_check_on():
        return None
    from studio.quality.asr import load_transcriber

    return load_transcriber(on_progress=on_progress)


def check_takes(intent: Intent, takes: Sequence, *, transcriber=None) -> list[TakeChecks]:
    """Checks for each take (anything with ``audio``, ``sample_rate`` and ``stems``), in order;
    a take's ``vocals`` stem, when the backend or the stems step made one, is what Whisper hears."""
    return [
        check_take(t.audio, t.sample_rate, intent, vocals=(t.stems or {}).get("vocals"), transcriber=transcriber)
        for t in takes
    ]


def best_first(checks: Sequence[TakeChecks]) -> list[int]:
    """Take indices, best first: lyric error, then failed measures, then unheard lines."""
    return rank(list(checks))


AUDIO_SUFFIXES = (".wav", ".flac", ".mp3")


def write_synced_lyrics(files: dict, checks: TakeChecks, *, title: str = "") -> dict:
    """Synced lyrics in every exported audio file's tags and an ``.lrc`` beside the first one;
    returns ``files`` with ``lrc`` added (unchanged when the lyrics were not heard)."""
    from pathlib import Path

    from studio.quality.synced import write_lrc, write_synced_tags

    if checks.lyrics is None or not files:
        return files
    audio = [Path(p) for p in files.values() if Path(p).suffix.lower() in AUDIO_SUFFIXES]
    for path in audio:
        write_synced_tags(path, checks.lyrics)
    lrc = write_lrc(audio[0], checks.lyrics, title=title, length_s=checks.duration) if audio else None
    return {**files, "lrc": lrc} if lrc else files
