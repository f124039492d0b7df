"""Before spending any quota: will this request fit, and if not, what would?

``preflight`` prices the request, reserves time for it under the visitor's tier and, when it does
not fit, computes alternatives that do (each re-estimated and checked, never guessed): the longest
duration at these settings, the step count, a smaller planner or none, fewer takes, a faster
backend, or duplicating the Space to a paid GPU. With ``fit=True`` it instead lightens the request
itself (fewer takes, then a smaller planner, then fewer steps down to half, then a shorter song)
and lists what it changed.
"""

from __future__ import annotations

import enum
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from backends.base import Capabilities
from backends.memory_plan import Lightening, MemoryPlan, largest, plan_memory, refusal
from backends.plan_input import PlanInput
from studio.budget.estimate import Estimate, SizeScale, cost_model, estimate
from studio.budget.reservation import Reservation, reserve
from studio.budget.tiers import Tier, TierLimits
from studio.ground.vocabulary import DeviceClass
from studio.tasks import get_task

if TYPE_CHECKING:  # pragma: no cover - typing only
    from studio.budget.calibration import DeviceCalibration


class Decision(str, enum.Enum):
    RUN = "run"
    ADJUSTED = "adjusted"
    REFUSE = "refuse"


@dataclass(frozen=True)
class BudgetContext:
    """Where and for whom a request is priced."""

    device: DeviceClass
    limits: TierLimits
    calibration: DeviceCalibration | None = None
    slice_factor: float = 1.0
    quota_left_s: float | None = None
    zerogpu: bool | None = None
    # Accelerator memory a request may use (GiB); None = not checked (a CPU, or unknown).
    memory_gb: float | None = None
    memory_where: str = "this GPU has"
    # Per backend: its configured weights against the published ones (studio.weights.weights_size).
    sizes: Mapping[str, SizeScale] = field(default_factory=dict)

    @property
    def on_zerogpu(self) -> bool:
        return self.limits.tier.on_zerogpu if self.zerogpu is None else self.zerogpu

    def allowed_lightenings(self, device: DeviceClass | None = None) -> tuple[Lightening, ...]:
        # On Apple's unified memory, moving weights to the host frees nothing (studio.memory).
        if (device or self.device) is DeviceClass.MPS:
            return (Lightening.TILED_DECODE,)
        return tuple(Lightening)

    def memory(self, caps: Capabilities, req: PlanInput, device: DeviceClass | None = None) -> MemoryPlan | None:
        """The memory plan for ``req`` here; None when memory is not budgeted (no figure on either side)."""
        device = device or self.device
        if self.memory_gb is None or device is not self.device:
            return None
        dtype = caps.dtype_per_device.get(device, "bfloat16")
        return plan_memory(caps, req, self.memory_gb, dtype=dtype, allowed=self.allowed_lightenings(device))

    def fits(self, caps: Capabilities, req: PlanInput) -> bool:
        """Within the time cap and within the device's memory (lightened if need be)."""
        plan = self.memory(caps, req)
        return self.reserve(caps, req).fits and (plan is None or plan.fits)

    def estimate(
        self, caps: Capabilities, req: PlanInput, device: DeviceClass | None = None, *, guard: bool = True
    ) -> Estimate:
        """What ``req`` costs. The guard's figure (``guard``) scales seeds to the weights' size only upwards:
        a reservation must not be short, and seeds for the published model err long for a smaller one; the
        figure a visitor reads (``guard=False``) scales both ways."""
        device = device or self.device
        speed = self.slice_factor if self.on_zerogpu and device is self.device else 1.0
        calibration = self.calibration if device is self.device else None
        size = self.sizes.get(caps.name)
        if guard and size is not None and size.factor < 1.0:
            size = None
        return estimate(caps, req, device, calibration, speed_factor=speed, size=size)

    def reserve(self, caps: Capabilities, req: PlanInput) -> Reservation:
        return reserve(
            self.estimate(caps, req),
            self.limits,
            zerogpu=self.on_zerogpu,
            slice_factor=self.slice_factor,
            quota_left_s=self.quota_left_s,
        )


@dataclass(frozen=True)
class Alternative:
    kind: str  # shorter | fewer_steps | smaller_planner | no_planner | fewer_takes | backend | duplicate
    backend: str
    request: PlanInput
    device: DeviceClass
    estimate_s: float
    reserve_s: int
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "backend": self.backend,
            "request": self.request.model_dump(),
            "device": self.device.value,
            "estimate_s": round(self.estimate_s, 2),
            "reserve_s": self.reserve_s,
            "text": self.text,
        }


@dataclass(frozen=True)
class Preflight:
    decision: Decision
    caps: Capabilities
    requested: PlanInput
    request: PlanInput  # what would run (== requested unless adjusted)
    reservation: Reservation
    message: str
    changes: list[str] = field(default_factory=list)
    alternatives: list[Alternative] = field(default_factory=list)
    memory: MemoryPlan | None = None
    # The likeliest time for ``request`` (BudgetContext.estimate with guard=False), what a visitor reads;
    # None when the caller did not ask for it.
    expected: Estimate | None = None

    @property
    def ok(self) -> bool:
        return self.decision is not Decision.REFUSE

    @property
    def estimate(self) -> Estimate:
        return self.reservation.estimate

    def to_dict(self) -> dict[str, Any]:
        r = self.reservation
        return {
            "decision": self.decision.value,
            "backend": self.caps.name,
            "tier": r.limits.tier.value,
            "device": r.estimate.device.value,
            "requested": self.requested.model_dump(),
            "request": self.request.model_dump(),
            "estimate": {
                "total_s": round(r.estimate.total_s, 2),
                "stages": {k: round(v, 2) for k, v in r.estimate.stages.items()},
                "margin": round(r.estimate.margin, 3),
                "calibrated": list(r.estimate.calibrated),
                "sources": r.estimate.sources,
            },
            "needed_s": r.needed_s,
            "cap_s": r.cap_s,
            "declared_s": r.declared_s,
            "quota_s": r.quota_s,
            "slice_factor": r.slice_factor,
            "fits": r.fits,
            "changes": self.changes,
            "alternatives": [a.to_dict() for a in self.alternatives],
            "memory": self.memory.to_dict() if self.memory is not None else None,
            "expected": None if self.expected is None else {
                "total_s": round(self.expected.total_s, 2) if self.expected.known else None,
                "basis": self.expected.basis,
            },
            "message": self.message,
        }


def _reserve_s(r: Reservation) -> int:
    return r.quota_s if r.quota_s is not None else r.needed_s


def _uses_steps(caps: Capabilities, device: DeviceClass) -> bool:
    return any(c.per_step_per_audio_second > 0 for c in cost_model(caps, device).stages.values())


def _cap_phrase(ctx: BudgetContext, cap: float | None) -> str:
    limits = ctx.limits
    if cap is None:
        return "no limit"
    if limits.tier is Tier.LOCAL:
        return f"the {cap:.0f} s limit set by STUDIO_TIME_LIMIT"
    if ctx.quota_left_s is not None and limits.cap_s is not None and ctx.quota_left_s < limits.cap_s:
        return f"the {cap:.0f} s left of your daily GPU quota"
    return f"the {cap:.0f} s one {limits.tier.label} request may use"


def _describe(caps: Capabilities, req: PlanInput) -> str:
    bits = [f"{req.duration_s:.0f} s"]
    if req.steps is not None:
        bits.append(f"{req.steps} steps")
    if req.planner is not None:
        bits.append(f"{req.planner} planner")
    if req.takes > 1:
        bits.append(f"{req.takes} takes")
    return f"{caps.display_name} ({', '.join(bits)})"


def alternatives(
    caps: Capabilities,
    req: PlanInput,
    ctx: BudgetContext,
    *,
    others: Sequence[Capabilities] = (),
    min_steps: int = 1,
) -> list[Alternative]:
    """Changes that make ``req`` fit, each one checked against the cap."""
    out: list[Alternative] = []

    def fits(r: PlanInput, c: Capabilities = caps) -> Reservation | None:
        res = ctx.reserve(c, r)
        return res if ctx.fits(c, r) else None

    def add(kind: str, r: PlanInput, text: str, c: Capabilities = caps) -> None:
        res = fits(r, c)
        assert res is not None
        out.append(
            Alternative(kind, c.name, r, res.estimate.device, res.estimate.total_s, _reserve_s(res), text)
        )

    lo = max(1, math.ceil(caps.min_duration_s))
    hi = math.ceil(req.duration_s) - 1
    best = largest(lo, hi, lambda d: fits(req.model_copy(update={"duration_s": float(d)})) is not None)
    if best is not None:
        # An edit's length is its source's (plus any extension): only a shorter source shortens it.
        text = f"a song of up to {best} s" if _length_is_asked(req) else f"a source song giving up to {best} s"
        add("shorter", req.model_copy(update={"duration_s": float(best)}), text)

    if req.steps is not None and _uses_steps(caps, ctx.device):
        steps = largest(
            min_steps, req.steps - 1, lambda s: fits(req.model_copy(update={"steps": s})) is not None
        )
        if steps is not None:
            add(
                "fewer_steps",
                req.model_copy(update={"steps": steps}),
                f"{steps} diffusion steps instead of {req.steps}",
            )

    if req.planner is not None:
        smaller = [
            p
            for p in caps.planner_sizes
            if req.planner in caps.planner_sizes and caps.planner_sizes.index(p) < caps.planner_sizes.index(req.planner)
        ]
        for size in reversed(smaller):
            r = req.model_copy(update={"planner": size})
            if fits(r) is not None:
                add("smaller_planner", r, f"the {size} planner instead of {req.planner}")
                break
        else:
            r = req.model_copy(update={"planner": None})
            if fits(r) is not None:
                add("no_planner", r, "without the LM planner")

    if req.takes > 1:
        takes = largest(1, req.takes - 1, lambda t: fits(req.model_copy(update={"takes": t})) is not None)
        if takes is not None:
            add(
                "fewer_takes",
                req.model_copy(update={"takes": takes}),
                f"{takes} take(s) instead of {req.takes}",
            )

    current = ctx.estimate(caps, req).total_s
    faster: list[tuple[float, Capabilities, PlanInput]] = []
    for other in others:
        if other.name == caps.name or ctx.device not in other.devices or req.task not in other.tasks:
            continue
        if not other.min_duration_s <= req.duration_s <= other.max_duration_s:
            continue
        steps = other.default_steps if _uses_steps(other, ctx.device) else None
        if _uses_steps(other, ctx.device) and steps is None:
            continue
        r = PlanInput(
            duration_s=req.duration_s,
            steps=steps,
            takes=min(req.takes, other.max_takes),
            task=req.task,
            include_load=req.include_load,
        )
        res = fits(r, other)
        if res is not None and res.estimate.total_s < current:
            faster.append((res.estimate.total_s, other, r))
    for _, other, r in sorted(faster, key=lambda t: t[0]):
        add("backend", r, f"{other.display_name} (about {ctx.estimate(other, r).total_s:.0f} s)", other)

    if ctx.on_zerogpu and DeviceClass.CUDA in caps.devices:
        paid = ctx.estimate(caps, req, DeviceClass.CUDA)
        space = os.environ.get("SPACE_ID", "").strip()
        link = f" (https://huggingface.co/spaces/{space}?duplicate=true)" if space else ""
        out.append(
            Alternative(
                "duplicate",
                caps.name,
                req,
                DeviceClass.CUDA,
                paid.total_s,
                paid.reserve_s,
                f"duplicating this Space to a paid GPU{link}, where it takes about {paid.total_s:.0f} s "
                f"with no daily limit",
            )
        )
    return out


def _length_is_asked(req: PlanInput) -> bool:
    """Whether the request's own duration sets its length (a new song), not a source's (an edit)."""
    return get_task(req.task).length == "asked"


def fit_request(
    caps: Capabilities, req: PlanInput, ctx: BudgetContext, *, min_steps: int = 1
) -> tuple[PlanInput, list[str]] | None:
    """Lighten ``req`` until it fits: fewer takes, smaller/no planner, fewer steps (not below half),
    then a shorter song (never an edit: its length is its source's). Returns the new request and what
    changed, or None if nothing fits."""

    def fits(r: PlanInput) -> bool:
        return ctx.fits(caps, r)

    cur = req
    if req.takes > 1:
        takes = largest(1, req.takes, lambda t: fits(cur.model_copy(update={"takes": t})))
        cur = cur.model_copy(update={"takes": takes or 1})
    if cur.planner is not None and not fits(cur):
        options: list[str | None] = [
            p
            for p in reversed(caps.planner_sizes)
            if cur.planner in caps.planner_sizes and caps.planner_sizes.index(p) < caps.planner_sizes.index(cur.planner)
        ]
        options.append(None)
        for option in options:
            cur = cur.model_copy(update={"planner": option})
            if fits(cur):
                break
    if cur.steps is not None and _uses_steps(caps, ctx.device) and not fits(cur):
        floor = max(min_steps, math.ceil(cur.steps / 2))
        steps = largest(floor, cur.steps, lambda s: fits(cur.model_copy(update={"steps": s})))
        cur = cur.model_copy(update={"steps": steps or floor})
    if not fits(cur):
        if not _length_is_asked(req):
            return None  # an edit cannot be shortened by the studio: its length is the source's
        lo = max(1, math.ceil(caps.min_duration_s))
        best = largest(
            lo, math.floor(cur.duration_s), lambda d: fits(cur.model_copy(update={"duration_s": float(d)}))
        )
        if best is None:
            return None
        cur = cur.model_copy(update={"duration_s": float(best)})
    changes: list[str] = []
    if cur.takes != req.takes:
        changes.append(f"made {cur.takes} take(s) instead of {req.takes}")
    if cur.planner != req.planner:
        changes.append(
            "turned the LM planner off"
            if cur.planner is None
            else f"used the {cur.planner} planner instead of {req.planner}"
        )
    if cur.steps != req.steps:
        changes.append(f"used {cur.steps} diffusion steps instead of {req.steps}")
    if cur.duration_s != req.duration_s:
        changes.append(f"shortened the song from {req.duration_s:.0f} s to {cur.duration_s:.0f} s")
    return cur, changes


def preflight(
    caps: Capabilities,
    req: PlanInput,
    ctx: BudgetContext,
    *,
    fit: bool = False,
    others: Sequence[Capabilities] = (),
    min_steps: int = 1,
) -> Preflight:
    """Decide before spending quota: run as asked, run lightened (``fit``), or refuse with options.

    Memory is checked beside time: a request that fits only with a lightening (tiled decode, CPU
    offload) runs so and says so; one that fits in no way is refused like an over-long one."""
    res = ctx.reserve(caps, req)
    mem = ctx.memory(caps, req)
    cap = _cap_phrase(ctx, res.cap_s)
    if res.fits and (mem is None or mem.fits):
        if res.cap_s is None:
            total, where = res.estimate.total_s, res.estimate.device.value
            message = f"{_describe(caps, req)}: about {total:.0f} s on {where}; no time limit here."
        else:
            message = (
                f"{_describe(caps, req)} fits: about {res.estimate.total_s:.0f} s, reserving "
                f"{_reserve_s(res)} s of {cap}."
            )
        return Preflight(Decision.RUN, caps, req, req, res, message + _memory_note(mem), memory=mem)
    alts = alternatives(caps, req, ctx, others=others, min_steps=min_steps)
    if fit and (fitted := fit_request(caps, req, ctx, min_steps=min_steps)) is not None:
        new_req, changes = fitted
        new_res = ctx.reserve(caps, new_req)
        new_mem = ctx.memory(caps, new_req)
        message = (
            f"Fitted to your budget: {'; '.join(changes)}. Now about {new_res.estimate.total_s:.0f} s, "
            f"reserving {_reserve_s(new_res)} s of {_cap_phrase(ctx, new_res.cap_s)}."
        )
        return Preflight(Decision.ADJUSTED, caps, req, new_req, new_res, message + _memory_note(new_mem), changes,
                         alts, memory=new_mem)
    if mem is not None and not mem.fits:
        dtype = caps.dtype_per_device.get(ctx.device, "bfloat16")
        message = refusal(caps, req, mem, ctx.memory_where, dtype=dtype, allowed=ctx.allowed_lightenings())
        if not res.fits:
            message += f" It would also need about {res.needed_s} s of GPU time, more than {cap}."
        return Preflight(Decision.REFUSE, caps, req, req, res, message, [], alts, memory=mem)
    options = "; ".join(a.text for a in alts) or "nothing at these settings on this hardware"
    message = (
        f"{_describe(caps, req)} needs about {res.needed_s} s of GPU time with its safety margin, more "
        f"than {cap}, so it was not started and nothing was charged. It would fit with: {options}."
    )
    return Preflight(Decision.REFUSE, caps, req, req, res, message, [], alts, memory=mem)


def _memory_note(mem: MemoryPlan | None) -> str:
    if mem is None or not mem.changes:
        return ""
    return (
        f" To fit {mem.available_gb:.0f} GB of accelerator memory it runs {' and '.join(mem.changes)} "
        f"(about {mem.estimate.peak_gb:.1f} GB instead of {mem.plain.peak_gb:.1f} GB)."
    )
