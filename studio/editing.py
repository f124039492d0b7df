"""Checking an editing request (cover, repaint, extend, extract, ...) against its task and backend.

Everything here runs before any model is loaded: the fields the task needs, the ones it would
ignore, the source audio read and repaired, the time range inside it, and the result's length.
Each refusal is one sentence naming the field and what to change.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from backends.base import Capabilities
from studio.ground.errors import StudioError
from studio.ground.vocabulary import Input
from studio.song import SongRequest
from studio.tasks import Task, WeightsVariant, get_task, task_weights, tracks_for

# Shortest stretch worth repainting or adding: the DiT works in 40 ms latent frames, and a
# musician's smallest edit is about a beat.
MIN_EDIT_S = 1.0


@dataclass(frozen=True)
class EditFields:
    """A task's checked fields, typed while they travel from the check to the pricing and the job. Only
    those the task uses are set; the backend receives them as the job's metadata (:meth:`metadata`)."""

    task: str
    source_seconds: float | None = None
    source_name: str | None = None
    start: float | None = None  # the range the model rewrites (repaint, extend: the added part)
    end: float | None = None
    cover_strength: float | None = None
    track: str | None = None
    weights: str | None = None  # the name of the weights the task swaps in (studio.tasks.task_weights)

    def metadata(self) -> dict[str, Any]:
        """The set fields by name: a backend tells which a task uses by their presence (``"start" in meta``)."""
        return {name: value for name, value in asdict(self).items() if value is not None}


@dataclass
class EditPlan:
    """What the request's check needs from a checked task: the source, the length and the task's fields."""

    task: Task
    fields: EditFields
    duration: float | None = None
    source: Any = None  # studio.audio.upload.SourceAudio
    weights: WeightsVariant | None = None
    warnings: list[str] = field(default_factory=list)


def _fail_unused(name: str, task: Task, users: list[str]) -> StudioError:
    return StudioError(
        f"`{name}` is not used by the {task.name} task; remove it, or pick " + " or ".join(users) + "."
    )


def _users(flag: str) -> list[str]:
    from studio.tasks import TASKS

    return [t.name for t in TASKS.values() if getattr(t, flag) not in (False, "none")]


def check_task(request: SongRequest, caps: Capabilities, takers: str = "", *, decode: bool = True) -> EditPlan:
    """Validate the task fields of ``request`` for ``caps``; read the source audio when needed.

    ``takers`` names the backends that can do the task, for the refusal message. ``decode=False`` reads
    only the source's header (its length): the plan then holds no audio, for checks that must be quick."""
    task = get_task(request.task)
    if task.name not in caps.tasks:
        tip = f"pick {takers}" if takers else "pick another backend"
        raise StudioError(
            f"{caps.display_name} cannot do the {task.name} task; {tip}, or set `task` to text2music."
        )
    for name, flag in (("start", "uses_range"), ("end", "uses_range"), ("extend_by", "uses_extend"),
                       ("cover_strength", "uses_strength"), ("track", "track")):
        if getattr(request, name) is not None and getattr(task, flag) in (False, "none"):
            raise _fail_unused(name, task, _users(flag))
    plan = EditPlan(task=task, fields=EditFields(task=task.name), weights=task_weights(caps.name, task.name))
    if not task.needs_source:
        if request.source_audio:
            raise StudioError(
                "`source_audio` is only used when editing a song; remove it, or set `task` to one of "
                + ", ".join(_users("needs_source")) + "."
            )
        return plan
    if not caps.accepts(Input.SOURCE_AUDIO):  # a backend listing editing tasks must accept a source
        raise StudioError(f"{caps.display_name} does not take source audio; pick another backend.")
    if not request.source_audio:
        raise StudioError(f"the {task.name} task needs a song to work on; upload one (--src-audio FILE).")
    _check_track(request, task, caps)

    from studio.audio.upload import probe_source, read_source

    longest = caps.max_duration_s
    if decode:
        source = read_source(request.source_audio, max_seconds=longest, min_seconds=MIN_EDIT_S)
        plan.source = source
    else:
        source = probe_source(request.source_audio, max_seconds=longest, min_seconds=MIN_EDIT_S)
    plan.warnings += source.warnings
    seconds = source.seconds
    plan.fields = replace(plan.fields, source_seconds=seconds, source_name=source.name)

    if task.uses_range:
        start, end = _range(request, seconds)
        plan.fields = replace(plan.fields, start=start, end=end)
    if task.uses_extend:
        if request.extend_by is None:
            raise StudioError("the extend task needs `extend_by`: how many seconds to add after the end.")
        if request.extend_by < MIN_EDIT_S:
            raise StudioError(f"`extend_by` must be at least {MIN_EDIT_S:g} s, got {request.extend_by:g}.")
        total = seconds + request.extend_by
        if total > longest:
            raise StudioError(
                f"the source ({seconds:.1f} s) plus `extend_by` ({request.extend_by:g} s) is {total:.1f} s, "
                f"over {caps.display_name}'s {longest:g} s; add at most {max(0.0, longest - seconds):.0f} s."
            )
        plan.fields = replace(plan.fields, start=seconds, end=total)
    if task.uses_strength:
        strength = 1.0 if request.cover_strength is None else request.cover_strength
        plan.fields = replace(plan.fields, cover_strength=strength)
    if request.track is not None:
        plan.fields = replace(plan.fields, track=request.track)

    plan.duration = seconds + request.extend_by if task.length == "source+extend" else seconds
    if plan.duration < caps.min_duration_s:
        raise StudioError(
            f"the source is {seconds:.1f} s; {caps.display_name} works on songs of at least "
            f"{caps.min_duration_s:g} s, so upload a longer excerpt"
            + (" or extend it by more." if task.uses_extend else ".")
        )
    if request.duration is not None and abs(request.duration - plan.duration) > 0.05:
        plan.warnings.append(
            f"`duration` was ignored: a {task.name} result is {plan.duration:.1f} s, set by the source"
            + (" and `extend_by`." if task.uses_extend else ".")
        )
    if plan.weights is not None:
        plan.fields = replace(plan.fields, weights=plan.weights.name)
    return plan


def _range(request: SongRequest, seconds: float) -> tuple[float, float]:
    start = 0.0 if request.start is None else request.start
    end = seconds if request.end is None else request.end
    if start >= seconds:
        raise StudioError(
            f"`start` ({start:g} s) is past the end of the source ({seconds:.1f} s); pick an earlier start."
        )
    if end > seconds + 0.05:
        raise StudioError(
            f"`end` ({end:g} s) is past the end of the source ({seconds:.1f} s); use the extend task to add "
            "music after the end."
        )
    end = min(end, seconds)
    if end <= start:
        raise StudioError(f"`end` ({end:g} s) must be after `start` ({start:g} s).")
    if end - start < MIN_EDIT_S:
        raise StudioError(
            f"the range from `start` {start:g} s to `end` {end:g} s is under {MIN_EDIT_S:g} s; widen it."
        )
    return start, end


def _check_track(request: SongRequest, task: Task, caps: Capabilities) -> None:
    known = tracks_for(caps.name)
    if task.track == "required" and not request.track:
        raise StudioError(
            f"the {task.name} task needs `track`: which part, e.g. " + ", ".join(known[:4] or ("vocals",)) + "."
        )
    if not request.track or not known:
        return
    names = [t.strip() for t in request.track.split(",") if t.strip()] if task.track == "list" else [request.track]
    for name in names:
        if name not in known:
            raise StudioError(
                f"`track` {name!r} is not a part {caps.display_name} knows; use one of {', '.join(known)}."
            )
