"""The song card: everything needed to make a song again, stored with every file the studio writes.

A card travels two ways: embedded in the file's tags (ID3 ``TXXX:SONG_STUDIO_CARD`` for MP3 and
WAV, a ``SONG_STUDIO_CARD`` Vorbis comment for FLAC) and as a sidecar ``<name>.song.json`` beside
the file. :func:`studio.audio.tags.read_card` accepts either, so a file dropped back into the studio restores its
settings even when a tag editor has stripped the tags or the sidecar got lost.
"""

from __future__ import annotations

import enum
import errno
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from studio.audio.mastering import MasteringReport, MasteringSettings
from studio.ground.errors import StudioError

STUDIO_NAME = "Song Studio"
CARD_SUFFIX = ".song.json"


def studio_version() -> str:
    """The studio's version: ``studio.__version__`` if set, else the installed package's."""
    import studio

    version = getattr(studio, "__version__", None)
    if isinstance(version, str) and version:
        return version
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    try:
        return package_version("song-studio")
    except PackageNotFoundError:
        return "unknown"


def studio_artist(model_display_name: str) -> str:
    """The artist credit on every file: the studio and the model that made it."""
    return f"{STUDIO_NAME} ({model_display_name})"


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class SongCard(BaseModel):
    """The recipe of one exported song. ``params`` holds every request parameter as plain JSON,
    so ``--from-song`` and the UI can rebuild the request from it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    studio: Literal["Song Studio"] = STUDIO_NAME
    card_version: Literal[1] = 1
    title: str = Field(min_length=1)
    artist: str = Field(min_length=1)
    lyrics: str = ""
    style: str = ""
    backend: str = Field(min_length=1, description="Backend name, e.g. `acestep`.")
    model_id: str = Field(min_length=1, description="Hub id or folder the weights came from.")
    weights_revision: str | None = Field(None, description="Commit hash of the weights, when known.")
    seed: int
    params: dict[str, Any] = Field(default_factory=dict, description="Every request parameter.")
    sample_rate: int = Field(gt=0)
    duration_s: float = Field(ge=0.0)
    created_at: datetime = Field(default_factory=_utc_now)
    studio_version: str = Field(default_factory=studio_version)
    part: str = Field("mix", description="`mix`, or the stem this file holds (e.g. `vocals`).")
    mastering: MasteringSettings | None = Field(None, description="None: the file is the raw take.")
    mastering_report: MasteringReport | None = None

    @field_validator("params", mode="before")
    @classmethod
    def _plain_json(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        return {str(key): _jsonable(item, f"params.{key}") for key, item in value.items()}

    @field_validator("created_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)

    def to_json(self, *, indent: int | None = None) -> str:
        return self.model_dump_json(indent=indent)

    @classmethod
    def from_json(cls, text: str | bytes, *, source: str = "the song card") -> SongCard:
        try:
            return cls.model_validate_json(text)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in issue['loc']) or 'card'}: {issue['msg']}"
                for issue in error.errors()[:5]
            )
            raise StudioError(
                f"{source} is not a song card this studio can read ({problems}). "
                "Use a file exported by Song Studio, or fix the card's JSON."
            ) from None


def _jsonable(value: Any, where: str) -> Any:
    """Turn what a request commonly holds (numpy scalars, enums, paths, tuples) into plain JSON."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, enum.Enum):
        return _jsonable(value.value, where)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", None) == 0:
        value = value.item()
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"`{where}` is {value}; song cards hold finite numbers only")
        return value
    if isinstance(value, BaseModel):
        return _jsonable(value.model_dump(mode="json"), where)
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        return [_jsonable(item, f"{where}[{index}]") for index, item in enumerate(value)]
    raise ValueError(
        f"`{where}` is a {type(value).__name__}, which a song card cannot store; pass plain "
        "numbers, text, lists or dicts"
    )


def sidecar_path(audio_path: str | os.PathLike[str]) -> Path:
    """``song.wav`` -> ``song.song.json``; ``song.raw.wav`` -> ``song.raw.song.json``."""
    path = Path(audio_path)
    return path.with_name(path.stem + CARD_SUFFIX)


def write_sidecar(card: SongCard, audio_path: str | os.PathLike[str]) -> Path:
    target = sidecar_path(audio_path)
    write_text_atomically(target, card.to_json(indent=2) + "\n")
    return target


def write_text_atomically(target: Path, text: str) -> None:
    """Write via a temporary file in the same folder, so readers never see half a file."""
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, target)
    except OSError as error:
        raise unwritable(target, error) from error


def unwritable(target: Path, error: OSError) -> StudioError:
    if error.errno == errno.ENOSPC:
        return StudioError(
            f"The disk is full, so `{target.name}` could not be written (nothing was kept); free some space "
            "and try again."
        )
    reason = error.strerror or str(error)
    return StudioError(
        f"Cannot write `{target}`: {reason}. Choose an output folder you can write to "
        "(on the command line, `--out DIR`)."
    )
