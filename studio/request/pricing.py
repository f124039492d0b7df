"""What a checked request costs on the GPU: the budget guard's prices, and the calibration that learns them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from backends.base import Capabilities
from backends.plan_input import PlanInput
from studio import registry
from studio.budget import BudgetContext, Preflight, default_tier, preflight, tier_limits
from studio.budget.calibration import Calibration
from studio.budget.estimate import SizeScale
from studio.budget.tiers import Tier
from studio.budget.zerogpu import slice_factor
from studio.ground.vocabulary import DeviceClass
from studio.raw import RawRender
from studio.request.prepared import Prepared
from studio.tasks import task_weights
from studio.weights import weights_size

_CALIBRATIONS: dict[Path, Calibration] = {}


def calibration() -> Calibration:
    """One calibration store per state folder, shared by every request in this process."""
    from studio.budget.calibration import FILE_NAME
    from studio.paths import state_dir

    path = state_dir() / FILE_NAME
    if path not in _CALIBRATIONS:
        _CALIBRATIONS[path] = Calibration(path)
    return _CALIBRATIONS[path]


def plan_input(prepared: Prepared, *, include_load: bool | None = None) -> PlanInput:
    """The parts of a prepared request that decide its GPU cost. ``include_load=None``: the load
    stage counts when the process or worker that renders will have to load (studio.worker_state)."""
    from studio.worker_state import load_due

    job = prepared.job
    extra_weights = prepared.edit.weights if prepared.edit is not None else None
    return PlanInput(
        duration_s=job.duration_s,
        steps=getattr(job.options, "steps", None),
        passes=dit_passes(prepared),
        takes=len(job.seeds),
        planner=None if getattr(job.options, "planner", "off") == "off" else job.options.planner,
        task=prepared.task,
        extra_weights=extra_weights,
        # Extra weights (an editing task's base model) may not be held with the model: priced as loading.
        include_load=(load_due(prepared.spec.name) or extra_weights is not None)
        if include_load is None
        else include_load,
    )


def dit_passes(prepared: Prepared) -> int:
    """Transformer evaluations per step: guided weights run two, a partial cover two more."""
    job = prepared.job
    passes = 1
    variant = task_weights(prepared.spec.name, prepared.task)
    if variant is not None and variant.guided and getattr(job.options, "guidance_scale", 1.0) > 1.0:
        passes *= 2
    strength = prepared.edit.cover_strength if prepared.edit is not None else None
    if strength is not None and strength < 1.0:
        passes += 1
    return passes


def budget_context(
    tier: str | None = None,
    quota_left_s: float | None = None,
    *,
    device: DeviceClass | None = None,
    device_name: str | None = None,
    factor: float | None = None,
    memory_gb: float | None = None,
) -> BudgetContext:
    """Prices for the visitor's tier on this process's device with this machine's calibration. The
    keywords price another machine instead (``python -m studio plan``'s flags): a device class, the
    calibration measured on ``device_name``, a ZeroGPU slice factor and the accelerator memory."""
    from studio import devices

    info = devices.detect()
    chosen = Tier(tier) if tier else default_tier()
    # A ZeroGPU tier is priced on ZeroGPU figures wherever the question is asked (e.g. `plan` on a laptop).
    kind = device or (DeviceClass.ZEROGPU if chosen.on_zerogpu else info.kind)
    if device_name:
        measured = calibration().for_device(device_name)
    else:  # this machine's measurements only price work on this machine, never another device class
        measured = calibration().for_device(info.name) if kind is info.kind else None
    if memory_gb is not None:
        where = "given by --memory-gb"
    else:
        memory_gb, where = devices.memory_budget(info, kind)
    return BudgetContext(
        kind,
        tier_limits(chosen),
        measured,
        slice_factor() if factor is None else factor,
        quota_left_s,
        memory_gb=memory_gb,
        memory_where=where,
        sizes=weights_sizes(),
    )


def weights_sizes() -> dict[str, SizeScale]:
    """Per backend, its configured weights against the published ones its seeds describe (only those that
    can be counted here, offline; the rest are priced as published)."""
    out: dict[str, SizeScale] = {}
    for spec in registry.all_specs():
        found = weights_size(spec)
        if found is not None:
            out[spec.name] = SizeScale(factor=found.factor, note=found.sentence())
    return out


def own_tier() -> str | None:
    """The tier a run planned on this machine for nobody in particular uses (CLI, batch): on
    ZeroGPU the default one, elsewhere ``local``."""
    from studio.devices import on_zerogpu

    return None if on_zerogpu() else Tier.LOCAL.value


def price(
    prepared: Prepared, tier: str | None = None, *, fit: bool = False, quota_left_s: float | None = None
) -> Preflight:
    """The budget guard's decision for a checked request on ``tier`` (``fit``: lighten it rather than
    refuse), with the likeliest time a visitor reads (``expected``)."""
    from studio import devices

    ctx = budget_context(tier, quota_left_s)
    # Priced for another device class (a ZeroGPU tier asked about on a laptop), nothing is held there yet.
    here = ctx.device is devices.detect().kind
    return decide(prepared.spec.capabilities, plan_input(prepared, include_load=None if here else True), ctx, fit=fit)


def decide(
    caps: Capabilities,
    ask: PlanInput,
    ctx: BudgetContext,
    *,
    fit: bool = False,
    others: list[Capabilities] | None = None,
) -> Preflight:
    """The one pricing step every plan takes (a prepared request, the API's /plan, ``python -m studio
    plan``): the guard's preflight against ``ctx`` and the expected time. ``others``: the backends an
    alternative may name (default: those available here)."""
    if others is None:
        others = [s.capabilities for s in registry.available_specs()]
    decided = preflight(caps, ask, ctx, fit=fit, others=others)
    return dataclasses.replace(decided, expected=ctx.estimate(caps, decided.request, guard=False))


def record_timings(prepared: Prepared, measured: dict[str, float]) -> None:
    """Feed one run's measured stage times to the calibration (persisted per device name)."""
    from studio import devices

    info = devices.detect()
    caps = prepared.spec.capabilities
    model = caps.cost.get(info.kind)
    if model is None:
        return
    calibration().record(caps.name, info.name, model, plan_input(prepared, include_load=True), measured)


def record_render(raw: RawRender) -> None:
    """Record a render's measured stage times here, once. On ZeroGPU this runs in the main process
    with the GPU worker's measurements: the worker is a fork whose memory (and any file it writes
    against a stale copy) the planner never sees."""
    if raw.recorded:
        return
    from studio import devices

    caps = registry.get_spec(raw.request.backend).capabilities
    model = caps.cost.get(devices.detect().kind)
    if model is not None:
        calibration().record(caps.name, devices.detect().name, model, raw.plan, raw.stage_seconds)
    raw.recorded = True
