"""GPU seconds a request will take: the cost model (seeded or calibrated) applied to a request."""

from __future__ import annotations

import math
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from backends.base import Capabilities, CostModel, StageCost
from backends.plan_input import PlanInput
from backends.seed_costs import planner_load_stage
from studio.ground.errors import StudioError
from studio.ground.vocabulary import DeviceClass


class FittedCost(Protocol):
    """A stage's cost fitted to this machine's measurements (``studio.budget.calibration.FittedStage``)."""

    cost: StageCost
    margin: float

    def seconds(self, x: tuple[float, float, float, float]) -> float: ...


class Measurements(Protocol):
    """One device's measurements (``studio.budget.calibration.DeviceCalibration``): written here as the
    one method the estimate calls, so the estimate does not import the calibration that imports it."""

    def fitted(self, backend: str, stage: str, seed: StageCost) -> FittedCost | None: ...


# Margins: how much to reserve above the point estimate. Seeds come from other hardware, so they
# get a wide one; calibrated stages get one computed from their own recent errors.
SEED_MARGIN = 1.5
MIN_MARGIN = 1.10
MAX_MARGIN = 1.6
# Within this factor of the published model's size, a model's work scales with its weights (ACE-Step 1.5's
# 2B DiT against the 4B XL its seeds describe: the README's figures, doubled). Far outside it (a test
# checkpoint of a few MB is 1/20,000 of XL) the costs no seed sees (Python, memory traffic, thread start-up)
# dominate: a figure scaled that far would be a number without a basis, so none is given.
SIZE_RANGE = 10.0


class SizeScale(BaseModel):
    """The configured weights' size against the published model the seeds were written for (studio.weights):
    every seeded term (loading, each step, each second decoded) scales with it, as a model's work does with
    its weights. It says nothing about a machine, so measured stages never take it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    factor: float = Field(gt=0)
    note: str = Field(description="The two sizes in words, for the estimate's basis.")


class Estimate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: str
    device: DeviceClass
    stages: dict[str, float] = Field(description="Seconds per stage, in the order they run.")
    total_s: float
    margin: float = Field(description="Multiplier reserved above total_s.")
    calibrated: tuple[str, ...] = ()
    sources: dict[str, str] = Field(default_factory=dict)
    size: SizeScale | None = Field(None, description="The weights' size scaling applied to seeded stages.")

    @property
    def measured(self) -> bool:
        return bool(self.stages) and len(self.calibrated) == len(self.stages)

    @property
    def known(self) -> bool:
        """Whether ``total_s`` rests on something: measurements, or seeds for weights near the published size."""
        return self.measured or self.size is None or 1 / SIZE_RANGE <= self.size.factor <= SIZE_RANGE

    @property
    def basis(self) -> str:
        """What the figure rests on (or why there is none yet), in words a visitor reads after it."""
        if self.measured:
            return "measured here"
        if not self.known:
            return f"{self.size.note}; the first song made here is timed for the next"
        measured = "partly measured here, partly " if self.calibrated else ""
        scaled = f", scaled to these weights ({self.size.note})" if self.size is not None else ""
        return f"{measured}a first guess from published speeds{scaled}; each song made here refines it"

    @property
    def reserve_s(self) -> int:
        """Seconds to reserve: the estimate with its margin, rounded up."""
        return max(1, math.ceil(self.total_s * self.margin - 1e-9))

    def summary(self) -> str:
        parts = ", ".join(f"{name} {secs:.1f} s" for name, secs in self.stages.items())
        return f"about {self.total_s:.0f} s ({parts})"


def cost_model(caps: Capabilities, device: DeviceClass) -> CostModel:
    """The backend's declared cost model on ``device``, falling back to the seed table."""
    model = caps.cost.get(device)
    if model is None:
        raise StudioError(
            f"No cost figures for {caps.display_name} on {device.value}; the time budget cannot be "
            f"estimated. Add them to its Capabilities.cost or pick another device."
        )
    return model


# Progress-event stage names some backends use, mapped to the cost model's stage names.
STAGE_ALIASES: dict[str, str] = {
    "loading": "load",
    "planning": "plan",
    "generating": "lm",
    "rendering": "diffusion",
    "denoising": "diffusion",
    "decoding": "decode",
}


def canonical_stage(name: str) -> str:
    """The cost-model stage a progress event's stage name refers to."""
    return STAGE_ALIASES.get(name, name)


def stage_base(name: str) -> str:
    return canonical_stage(name).partition(":")[0]


def active_stages(model: CostModel, req: PlanInput, backend: str = "") -> list[str]:
    """Stages this request runs, in the model's order (the order they happen)."""
    planner_key = f"plan:{req.planner}" if req.planner is not None else None
    has_plan = any(stage_base(n) == "plan" for n in model.stages)
    if req.planner is not None and not has_plan:
        raise StudioError(f"{backend or 'This backend'} has no LM planner; leave the planner unset.")
    if req.sketch and req.planner is None:
        raise StudioError("A song sketch is written by the planner; name the planner size that writes it.")
    # A planner's weights are a load of their own (and the whole load of a sketch, which never touches the DiT).
    loads = {planner_load_stage(req.planner)} if req.planner is not None else set()
    if not req.sketch:
        loads |= {"load", f"load:{req.extra_weights}"}
    out: list[str] = []
    for name in model.stages:
        base = stage_base(name)
        if base == "load" and (not req.include_load or name not in loads):
            continue
        if req.sketch and base not in ("load", "plan"):
            continue
        if base == "encode" and req.task == "text2music":
            continue
        if base == "plan":
            if req.planner is None:
                continue
            wanted = planner_key if planner_key in model.stages else "plan"
            if name != wanted:
                continue
        out.append(name)
    return out


def features(name: str, model: CostModel, req: PlanInput) -> tuple[float, float, float, float]:
    """Multipliers for (fixed, per_step_per_audio_second, per_audio_second, per_frame).

    Loading happens once per call; every other stage runs once per take (batched takes cost
    about as much as sequential ones once the GPU is saturated, so this errs long)."""
    count = 1.0 if stage_base(name) == "load" else float(req.takes)
    steps = float(req.steps or 0) * req.passes
    return (
        count,
        count * steps * req.duration_s,
        count * req.duration_s,
        count * req.duration_s * model.frame_rate_hz,
    )


def stage_seconds(cost: StageCost, x: tuple[float, float, float, float]) -> float:
    return (
        cost.fixed * x[0]
        + cost.per_step_per_audio_second * x[1]
        + cost.per_audio_second * x[2]
        + cost.per_frame * x[3]
    )


def estimate(
    caps: Capabilities,
    req: PlanInput,
    device: DeviceClass,
    calibration: Measurements | None = None,
    *,
    speed_factor: float = 1.0,
    size: SizeScale | None = None,
) -> Estimate:
    """Seconds per stage for ``req`` on ``device``.

    ``calibration`` (one device's measurements) replaces seeded stages it has fitted.
    ``speed_factor`` scales *uncalibrated* stages, for hardware known to be slower than the seed's
    reference (the ZeroGPU Blackwell "large" slice); measured stages already include it. ``size`` scales
    them too, for weights of another size than the published ones (a tiny test checkpoint, a smaller variant).
    """
    size = size if size is not None and size.factor != 1.0 else None
    factor = speed_factor * (size.factor if size is not None else 1.0)
    if req.task not in caps.tasks:
        raise StudioError(
            f"{caps.display_name} cannot do '{req.task}'; it supports: {', '.join(caps.tasks)}."
        )
    model = cost_model(caps, device)
    stages: dict[str, float] = {}
    margins: dict[str, float] = {}
    sources: dict[str, str] = {}
    calibrated: list[str] = []
    for name in active_stages(model, req, caps.display_name):
        seed = model.stages[name]
        if seed.per_step_per_audio_second > 0 and req.steps is None:
            raise StudioError(
                f"`steps` is needed to estimate {caps.display_name}'s {name} time; pass the step count."
            )
        x = features(name, model, req)
        fitted = calibration.fitted(caps.name, name, seed) if calibration is not None else None
        if fitted is not None:
            stages[name] = fitted.seconds(x)
            margins[name] = fitted.margin
            sources[name] = fitted.cost.source
            calibrated.append(name)
        else:
            stages[name] = stage_seconds(seed, x) * factor
            margins[name] = SEED_MARGIN
            note = f" (x{speed_factor:g} for a slower slice)" if speed_factor != 1.0 else ""
            note += f" (x{size.factor:.3g}: {size.note})" if size is not None else ""
            sources[name] = f"seed: {seed.source}{note}"
    total = sum(stages.values())
    margin = sum(stages[n] * margins[n] for n in stages) / total if total > 0 else SEED_MARGIN
    margin = min(MAX_MARGIN, max(MIN_MARGIN, margin))
    return Estimate(
        backend=caps.name,
        device=device,
        stages=stages,
        total_s=total,
        margin=margin,
        calibrated=tuple(calibrated),
        sources=sources,
        size=size if len(calibrated) < len(stages) else None,
    )
