"""What each task asks of a request, as data: which fields it needs, uses, and how long its result is.

A backend lists the tasks it can do in ``Capabilities.tasks``. What is backend-specific beyond that
(a task that needs other weights, the stem names it knows) a backend declares once with
:func:`declare_backend_tasks`; the service, the budget and the UI read it through :func:`task_weights`
and :func:`tracks_for`, never by asking which model this is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Length = Literal["asked", "source", "source+extend"]


@dataclass(frozen=True)
class Task:
    """One kind of job. ``length`` decides the result's duration: the request's own (text2music),
    the source's, or the source's plus ``extend_by``."""

    name: str
    title: str
    summary: str
    noun: str = "song"  # what the result is called in messages ("the extension is instrumental")
    # Title of an untitled result, from the source file's name and the track.
    default_title: str = "{source} ({title})"
    needs_source: bool = False
    uses_range: bool = False  # start / end
    uses_extend: bool = False  # extend_by
    track: Literal["none", "optional", "required", "list"] = "none"
    uses_strength: bool = False  # cover_strength
    uses_lyrics: bool = True
    length: Length = "asked"
    # Parts of the result taken from the source unchanged (spliced back after rendering).
    keeps_source_outside_range: bool = False


TASKS: dict[str, Task] = {
    t.name: t
    for t in (
        Task("text2music", "New song", "Write a new song from a style and lyrics."),
        Task(
            "cover", "Cover", "Re-imagine an uploaded song in a new style or with new lyrics, following its "
            "melody and structure; cover_strength sets how closely.",
            needs_source=True, uses_strength=True, length="source", noun="cover",
        ),
        Task(
            "repaint", "Repaint", "Regenerate one time range of an uploaded song (start to end) and keep "
            "the rest as it is.",
            needs_source=True, uses_range=True, length="source", keeps_source_outside_range=True,
            noun="repainted part",
        ),
        Task(
            "extend", "Extend", "Continue an uploaded song past its end by extend_by seconds.",
            needs_source=True, uses_extend=True, length="source+extend", keeps_source_outside_range=True,
            noun="extension",
        ),
        Task(
            "extract", "Extract stem", "Pull one part (vocals, drums, bass, ...) out of an uploaded mix.",
            needs_source=True, track="required", uses_lyrics=False, length="source",
            default_title="{source} ({track})",
        ),
        Task(
            "lego", "Add a part", "Generate a new part (drums, bass, guitar, ...) that fits an uploaded song.",
            needs_source=True, uses_range=True, track="required", uses_lyrics=False, length="source",
            default_title="{source} (with {track})",
        ),
        Task(
            "complete", "Complete", "Add the parts an uploaded track lacks (name them in track, "
            "comma-separated, or leave it open).",
            needs_source=True, track="list", uses_lyrics=False, length="source",
        ),
    )
}

TASK_NAMES: tuple[str, ...] = tuple(TASKS)


class WeightsVariant(BaseModel):
    """A second set of weights some tasks need (ACE-Step's XL base for extract/lego/complete)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Short key, also the cost stage `load:<name>`.")
    display_name: str
    default_weights: str = Field(description="Hub id used when the env var is unset.")
    weights_env: str
    download_gb: float = Field(description="Size on disk, downloaded once.")
    guided: bool = Field(False, description="Runs classifier-free guidance (two DiT passes per step).")
    option_defaults: dict[str, float | int | str] = Field(
        default_factory=dict, description="Options these weights want when the request leaves them unset."
    )


@dataclass(frozen=True)
class BackendTasks:
    """What a backend adds to the task table: weights per task and the stem names it knows."""

    weights: Mapping[str, WeightsVariant] = field(default_factory=dict)
    tracks: tuple[str, ...] = ()


_DECLARED: dict[str, BackendTasks] = {}


def declare_backend_tasks(backend: str, tasks: BackendTasks) -> None:
    """Called by a backend's spec module (cheap, import-free) when it is imported."""
    _DECLARED[backend] = tasks


def task_weights(backend: str, task: str) -> WeightsVariant | None:
    """The extra weights ``task`` loads on ``backend``, or None when its main weights do it."""
    return _DECLARED.get(backend, BackendTasks()).weights.get(task)


def tracks_for(backend: str) -> tuple[str, ...]:
    return _DECLARED.get(backend, BackendTasks()).tracks


def default_title(task: str, source: str | None, track: str | None, name: str | None = None) -> str:
    """'mysong (Cover)', 'mysong (vocals)': what an untitled edit is called in files and the library.

    ``name`` replaces the file's stem (a Library song's title, when its file is named by its id)."""
    from pathlib import Path

    kind = TASKS.get(task)
    if kind is None or not kind.needs_source or not source:
        return ""
    parts = (track or "parts").replace("_", " ").replace(",", ", ")
    return kind.default_title.format(source=name or Path(source).stem, title=kind.title, track=parts)


def get_task(name: str) -> Task:
    from studio.ground.errors import StudioError

    try:
        return TASKS[name]
    except KeyError:
        raise StudioError(f"`task` must be one of {', '.join(TASK_NAMES)}, got {name!r}.") from None
