"""The parts of a request that decide its cost, as the time budget (``studio.budget``) and the memory
budget (``backends.memory_plan``) both price it. A backend builds one to ask the memory budget how to
decode; the service builds one per request."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PlanInput(BaseModel):
    """The parts of a request that decide its cost."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    duration_s: float = Field(gt=0, description="Audio length in seconds.")
    steps: int | None = Field(default=None, ge=1, description="Diffusion steps (diffusion backends).")
    takes: int = Field(default=1, ge=1, description="Songs generated in one call.")
    planner: str | None = Field(
        default=None, description="LM planner size (one of the backend's `planner_sizes`), or None for none."
    )
    task: str = "text2music"
    passes: int = Field(
        default=1, ge=1, description="Model evaluations per diffusion step (2 with classifier-free guidance)."
    )
    extra_weights: str | None = Field(
        default=None, description="A second set of weights the task loads (cost stage `load:<name>`)."
    )
    include_load: bool = Field(default=True, description="Count moving weights to the device (always true on ZeroGPU).")
    sketch: bool = Field(
        default=False,
        description="Only the planner writing a song from a description (Simple mode): its own load and one "
        "planner pass, no DiT, no decode.",
    )
