"""Request and result models shared by the UI, the CLI and the API.

Field names are the words users see in error messages, so they stay short and plain.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from studio.quality.report import TakeChecks

MAX_SEED = 2**32 - 1
# What any surface accepts before parsing: 4x the most a model takes (HeartMuLa's 6000 lyric
# characters, 512 style characters; backends/*/spec.py). Past that, text is not a song's but an attack
# on the parser (a 10 MB lyric cost 33 s of CPU and ~1.5 GB); each backend's own, smaller limit is
# checked after formatting, with its name in the message.
MAX_LYRICS_CHARS = 24_000
MAX_STYLE_CHARS = 2_048

_NOTE = r"[A-Ga-g](?:#|b|♯|♭)?"
_KEY_RE = re.compile(rf"^\s*({_NOTE})\s*(major|minor|maj|min|m)?\s*$", re.IGNORECASE)
TIME_SIGNATURES = ("2", "3", "4", "6")


def normalise_key(value: str) -> str:
    """'f# min' -> 'F# minor'; the DiT was trained on '<Note> major|minor'."""
    match = _KEY_RE.match(value)
    if not match:
        raise ValueError(f"`key` must look like 'C major' or 'F# minor', got {value!r}")
    note, mode = match.group(1), (match.group(2) or "major").lower()
    note = note[0].upper() + note[1:].replace("♯", "#").replace("♭", "b")
    mode = "minor" if mode in ("minor", "min", "m") else "major"
    return f"{note} {mode}"


class SongRequest(BaseModel):
    """One song to make. Backend-specific knobs go in ``options`` and are validated by the
    backend's own Options model."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    backend: str = "acestep"
    title: str = Field("", max_length=200)
    style: str = Field("", max_length=MAX_STYLE_CHARS, description="Caption / style description.")
    lyrics: str = Field("", max_length=MAX_LYRICS_CHARS)
    instrumental: bool = False
    duration: float | None = Field(None, description="Seconds; None lets the backend choose.")
    seed: int | None = Field(None, ge=0, le=MAX_SEED)
    takes: int = Field(1, ge=1, le=4)
    keep_best: int | None = Field(
        None, ge=1, le=4,
        description="Best of N: make `takes` takes, check each, and keep only this many, the best first.",
    )
    bpm: int | None = Field(None, ge=30, le=300)
    key: str | None = None
    time_signature: str | None = None
    language: str | None = None
    verbatim: bool = Field(False, description="Send lyrics and style exactly as typed (no formatter).")
    partial: bool = Field(
        False,
        description="When the time budget runs out, keep what a token-based model (LeVo 2, HeartMuLa) "
        "made so far, ending in a short fade, instead of failing.",
    )
    fit_budget: bool = Field(
        False,
        description="When the song would not fit the GPU time the visitor has, lighten it (fewer takes, a "
        "smaller planner or none, fewer steps down to half, then a shorter song; an edit is never "
        "shortened) instead of refusing it, and say what changed.",
    )
    options: dict[str, Any] = Field(default_factory=dict)
    # Editing an existing song (see studio.tasks): the task, the song to edit and where.
    task: str = Field("text2music", description="text2music, cover, repaint, extend, extract, lego or complete.")
    source_audio: str | None = Field(None, description="WAV/FLAC/MP3/OGG file to edit.")
    start: float | None = Field(None, ge=0, description="Repaint from this second of the source.")
    end: float | None = Field(None, gt=0, description="Repaint up to this second of the source.")
    extend_by: float | None = Field(None, gt=0, description="Seconds of new music after the source's end.")
    track: str | None = Field(None, description="Stem to extract or add, e.g. vocals, drums, bass.")
    cover_strength: float | None = Field(
        None, ge=0.0, le=1.0, description="How closely a cover follows the source (1 = closely)."
    )

    @field_validator("duration")
    @classmethod
    def _finite_duration(cls, value: float | None) -> float | None:
        if value is not None and not (value == value and abs(value) != float("inf")):
            raise ValueError("`duration` must be a number of seconds")
        return value

    @field_validator("start", "end", "extend_by")
    @classmethod
    def _finite_seconds(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("`start`, `end` and `extend_by` must be numbers of seconds")
        return value

    @field_validator("task")
    @classmethod
    def _task(cls, value: str) -> str:
        from studio.tasks import TASK_NAMES

        value = value.lower()
        if value not in TASK_NAMES:
            raise ValueError(f"`task` must be one of {', '.join(TASK_NAMES)}, got {value!r}")
        return value

    @field_validator("track")
    @classmethod
    def _track(cls, value: str | None) -> str | None:
        if not value:
            return None
        # "Backing Vocals, drums" -> "backing_vocals,drums": the model's names, comma-separated.
        return ",".join("_".join(part.lower().split()) for part in value.split(",") if part.strip()) or None

    @field_validator("source_audio")
    @classmethod
    def _source(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("key")
    @classmethod
    def _key(cls, value: str | None) -> str | None:
        return normalise_key(value) if value else None

    @field_validator("time_signature")
    @classmethod
    def _time_signature(cls, value: str | None) -> str | None:
        if not value:
            return None
        beats = value.split("/")[0].strip()
        if beats not in TIME_SIGNATURES:
            raise ValueError(f"`time_signature` must be one of 2/4, 3/4, 4/4, 6/8, got {value!r}")
        return beats

    @field_validator("language")
    @classmethod
    def _language(cls, value: str | None) -> str | None:
        return value.lower() if value else None


class TakeResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: Path | None
    seed: int
    sample_rate: int
    channels: int
    duration: float
    files: dict[str, Path] = Field(default_factory=dict, description="format -> file (raw.* = unmastered)")
    card: Path | None = None
    stems: dict[str, Path] = Field(default_factory=dict)
    stems_zip: Path | None = None
    loudness_lufs: float | None = None
    checks: TakeChecks | None = Field(None, description="What the studio heard in the take (studio.quality).")


class SongResult(BaseModel):
    """What a finished generation reports (printed by ``generate --json``)."""

    model_config = ConfigDict(extra="forbid")

    backend: str
    weights: str
    device: str
    dtype: str
    sample_rate: int
    duration: float
    elapsed_s: float
    takes: list[TakeResult]
    lyrics_sent: str
    style_sent: str
    warnings: list[str] = Field(default_factory=list)
    best_first: list[int] = Field(default_factory=list, description="Take indices ranked by their checks.")

    @property
    def paths(self) -> list[Path]:
        return [t.path for t in self.takes if t.path is not None]

    @property
    def seeds(self) -> list[int]:
        return [t.seed for t in self.takes]
