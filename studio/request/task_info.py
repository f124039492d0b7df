"""What the UI shows about each task on a backend: its controls, its weights and their loading cost."""

from __future__ import annotations

from pydantic import BaseModel, Field

from backends.plan_input import PlanInput
from studio import registry, settings
from studio.ground.errors import StudioError
from studio.request.checks import alternatives
from studio.request.pricing import budget_context
from studio.tasks import TASKS, get_task, task_weights, tracks_for


class TaskInfo(BaseModel):
    """What the UI shows about one task on one backend: the controls it needs and the weights it
    uses, with what loading them costs here."""

    task: str
    title: str
    summary: str
    supported: bool
    needs_source: bool
    uses_range: bool
    uses_extend: bool
    uses_strength: bool
    track: str = Field(description="none, optional, required or list (comma-separated names).")
    tracks: tuple[str, ...] = ()
    weights_name: str = Field(description="The weights this task runs on, in words.")
    weights: str = Field(description="Hub id or folder those weights come from.")
    weights_env: str
    extra_weights: bool = Field(description="True when the task loads weights besides the backend's own.")
    load_s: float | None = Field(None, description="Estimated seconds to load those extra weights here.")
    download_gb: float | None = Field(None, description="Download size of the extra weights (once).")
    note: str = ""


def task_info(backend: str, task: str, tier: str | None = None) -> TaskInfo:
    """Describe ``task`` on ``backend`` for the UI (cheap: nothing is loaded)."""

    caps = registry.get_spec(backend).capabilities
    kind = get_task(task)
    variant = task_weights(caps.name, kind.name)
    load_s = None
    note = ""
    if variant is not None:
        ctx = budget_context(tier)
        probe = PlanInput(duration_s=caps.min_duration_s, steps=1, task=kind.name, extra_weights=variant.name)
        try:
            load_s = ctx.estimate(caps, probe).stages.get(f"load:{variant.name}")
        except StudioError:
            load_s = None
        cost = f"about {load_s:.0f} s to load" if load_s is not None else "extra loading time"
        note = (
            f"{kind.title} runs on {variant.display_name}, a second model: {cost} on top of "
            f"{caps.display_name}, and a {variant.download_gb:g} GB download the first time."
        )
    elif kind.name not in caps.tasks:
        takers = alternatives(lambda c: kind.name in c.tasks)
        note = f"{caps.display_name} cannot do this" + (f"; {takers} can." if takers else ".")
    spec = registry.get_spec(backend)
    refused = spec.refusal(kind.name, None) if spec.refusal and kind.name in caps.tasks else None
    note = refused or note
    return TaskInfo(
        task=kind.name,
        title=kind.title,
        summary=kind.summary,
        supported=kind.name in caps.tasks and not refused,
        needs_source=kind.needs_source,
        uses_range=kind.uses_range,
        uses_extend=kind.uses_extend,
        uses_strength=kind.uses_strength,
        track=kind.track,
        tracks=tracks_for(caps.name) if kind.track != "none" else (),
        weights_name=variant.display_name if variant else caps.display_name,
        weights=(settings.lookup(variant.weights_env).get() or variant.default_weights)
        if variant
        else (settings.lookup(caps.weights_env).get() or caps.default_weights),
        weights_env=variant.weights_env if variant else caps.weights_env,
        extra_weights=variant is not None,
        load_s=load_s,
        download_gb=variant.download_gb if variant else None,
        note=note,
    )


def tasks_for(backend: str, tier: str | None = None) -> list[TaskInfo]:
    """Every task ``backend`` can do, in the table's order (text2music first)."""
    caps = registry.get_spec(backend).capabilities
    return [task_info(backend, name, tier) for name in TASKS if name in caps.tasks]
