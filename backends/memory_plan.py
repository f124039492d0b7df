"""Accelerator memory a request needs, budgeted like time: estimated from the backend's declared
``MemoryModel`` before any work, lightened when it would not fit, refused with what would.

A request's peak is the larger of its two phases:
- generating: the weights on the device, the KV caches for the requested length, the activations;
- decoding: the weights on the device, the VAE/codec decode, and the finished audio of every take.
Two lightenings trade speed for memory, tried in this order:
- ``tiled_decode``: decode one take at a time in overlapping tiles (diffusers' VAE tiling and
  slicing), so the decode holds one tile instead of every take's whole song;
- ``offload``: keep idle parts in host memory (diffusers' model CPU offload), so only the running
  part is resident.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from backends.base import Capabilities, MemoryModel
from backends.plan_input import PlanInput


class Lightening(str, enum.Enum):
    TILED_DECODE = "tiled_decode"
    OFFLOAD = "offload"


LIGHTENING_WORDS = {
    Lightening.TILED_DECODE: "decoding takes one by one in tiles",
    Lightening.OFFLOAD: "offloading idle parts to host memory",
}


def dtype_factor(dtype: str) -> float:
    """Figures are declared for a 16-bit dtype; fp32 weights and activations take twice as much."""
    return 2.0 if dtype == "float32" else 1.0


@dataclass(frozen=True)
class MemoryEstimate:
    backend: str
    peak_gb: float
    generate: dict[str, float]
    decode: dict[str, float]
    lightening: tuple[Lightening, ...] = ()

    @property
    def phase(self) -> str:
        return "decode" if sum(self.decode.values()) >= sum(self.generate.values()) else "generate"

    def summary(self) -> str:
        parts = self.decode if self.phase == "decode" else self.generate
        detail = ", ".join(f"{name} {gb:.1f}" for name, gb in parts.items() if gb >= 0.05)
        how = f"; {', '.join(LIGHTENING_WORDS[x] for x in self.lightening)}" if self.lightening else ""
        return f"about {self.peak_gb:.1f} GB at its peak while {self.phase[:-1]}ing ({detail}){how}"

    def to_dict(self) -> dict:
        return {
            "peak_gb": round(self.peak_gb, 2),
            "phase": self.phase,
            "generate": {k: round(v, 3) for k, v in self.generate.items()},
            "decode": {k: round(v, 3) for k, v in self.decode.items()},
            "lightening": [x.value for x in self.lightening],
        }


def supported(model: MemoryModel) -> tuple[Lightening, ...]:
    out = []
    if model.decode_tile_gb is not None:
        out.append(Lightening.TILED_DECODE)
    if model.offload_gb > 0:
        out.append(Lightening.OFFLOAD)
    return tuple(out)


def estimate_memory(
    caps: Capabilities, req: PlanInput, *, dtype: str = "bfloat16", lightening: Sequence[Lightening] = ()
) -> MemoryEstimate | None:
    """Peak GiB of ``req`` with these lightenings; None when the backend declares no memory figures."""
    model = caps.memory
    if model is None:
        return None
    scale = dtype_factor(dtype)
    together = req.takes if model.takes_together else 1
    seconds = req.duration_s
    offload = Lightening.OFFLOAD in lightening and model.offload_gb > 0
    tiled = Lightening.TILED_DECODE in lightening and model.decode_tile_gb is not None
    generate = {
        "weights": model.offload_gb if offload else model.weights_gb,
        "kv cache": (model.kv_fixed_gb + model.kv_gb_per_second * seconds) * together,
        "activations": model.working_gb + model.working_gb_per_second * seconds * together,
    }
    decode = {
        "weights": model.decoder_gb if offload else model.weights_gb,
        # Tiled, one take's tile at a time; untiled, every take of the batch decodes whole at once.
        "decode": model.decode_tile_gb if tiled
        else model.decode_fixed_gb + model.decode_gb_per_second * seconds * together,
        # The finished audio of every take stays on the device until the batch returns.
        "audio": model.output_gb_per_second * seconds * req.takes,
    }
    generate = {k: v * scale for k, v in generate.items()}
    decode = {k: v * scale for k, v in decode.items()}
    peak = max(sum(generate.values()), sum(decode.values()))
    return MemoryEstimate(caps.name, peak, generate, decode, tuple(x for x in Lightening if x in lightening))


@dataclass(frozen=True)
class MemoryPlan:
    """What a request needs against what the device offers, and the lightest way to fit."""

    estimate: MemoryEstimate  # as it would run: lightened when needed, the most lightened when it cannot fit
    available_gb: float
    fits: bool
    plain: MemoryEstimate  # as asked, without lightening
    changes: list[str] = field(default_factory=list)

    @property
    def lightening(self) -> tuple[Lightening, ...]:
        return self.estimate.lightening

    def to_dict(self) -> dict:
        return {
            **self.estimate.to_dict(),
            "available_gb": round(self.available_gb, 2),
            "fits": self.fits,
            "plain_peak_gb": round(self.plain.peak_gb, 2),
        }


def lightening_ladder(model: MemoryModel) -> list[tuple[Lightening, ...]]:
    """No lightening, then each one the backend supports added in order (cheapest first)."""
    ladder: list[tuple[Lightening, ...]] = [()]
    for step in supported(model):
        ladder.append((*ladder[-1], step))
    return ladder


def plan_memory(
    caps: Capabilities,
    req: PlanInput,
    available_gb: float,
    *,
    dtype: str = "bfloat16",
    allowed: Sequence[Lightening] | None = None,
) -> MemoryPlan | None:
    """The lightest way ``req`` fits in ``available_gb``; None when the backend declares no figures.

    ``allowed`` limits the lightenings (e.g. a device where offloading frees nothing)."""
    model = caps.memory
    if model is None:
        return None
    plain = estimate_memory(caps, req, dtype=dtype)
    assert plain is not None
    chosen = plain
    for steps in lightening_ladder(model):
        if allowed is not None and any(s not in allowed for s in steps):
            continue
        chosen = estimate_memory(caps, req, dtype=dtype, lightening=steps)
        assert chosen is not None
        if chosen.peak_gb <= available_gb:
            changes = [LIGHTENING_WORDS[s] for s in steps]
            return MemoryPlan(chosen, available_gb, True, plain, changes)
    return MemoryPlan(chosen, available_gb, False, plain)


def largest(lo: int, hi: int, fits: Callable[[int], bool]) -> int | None:
    """Largest n in [lo, hi] with fits(n), for fits monotone (true then false); None if none."""
    if hi < lo or not fits(lo):
        return None
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def longest_fitting(
    caps: Capabilities, req: PlanInput, available_gb: float, *, dtype: str = "bfloat16",
    allowed: Sequence[Lightening] | None = None,
) -> int | None:
    """Longest whole-second duration (from the backend's minimum) whose request fits; None if none."""

    def fits(seconds: int) -> bool:
        plan = plan_memory(caps, req.model_copy(update={"duration_s": float(seconds)}), available_gb,
                           dtype=dtype, allowed=allowed)
        return plan is None or plan.fits

    return largest(max(1, math.ceil(caps.min_duration_s)), math.floor(caps.max_duration_s), fits)


def refusal(caps: Capabilities, req: PlanInput, plan: MemoryPlan, where: str, *, dtype: str = "bfloat16",
            allowed: Sequence[Lightening] | None = None) -> str:
    """One sentence: what it needs, what there is, and the longest song / most takes that fit."""
    tried = f" even with {' and '.join(plan.changes or [LIGHTENING_WORDS[x] for x in plan.lightening])}" \
        if plan.lightening else ""
    options = []
    longest = longest_fitting(caps, req.model_copy(update={"takes": 1}), plan.available_gb, dtype=dtype,
                              allowed=allowed)
    if req.takes > 1:
        takes = largest(1, req.takes - 1, lambda t: _fits(caps, req.model_copy(update={"takes": t}),
                                                           plan.available_gb, dtype, allowed))
        if takes is not None:
            options.append(f"{takes} take(s) instead of {req.takes}")
    same_takes = longest_fitting(caps, req, plan.available_gb, dtype=dtype, allowed=allowed)
    if same_takes is not None and same_takes < req.duration_s:
        options.append(f"a song of up to {same_takes} s" + (f" with {req.takes} takes" if req.takes > 1 else ""))
    elif longest is not None and longest < req.duration_s and req.takes > 1:
        options.append(f"one take of up to {longest} s")
    hint = f" It would fit as {' or '.join(options)}." if options else (
        " Nothing this backend can make fits here; use a GPU with more memory.")
    return (
        f"{caps.display_name} ({req.duration_s:.0f} s, {req.takes} take{'s' if req.takes != 1 else ''}) needs "
        f"about {plan.estimate.peak_gb:.1f} GB of accelerator memory{tried}, more than the "
        f"{plan.available_gb:.1f} GB {where}, so it was not started.{hint}"
    )


def _fits(caps: Capabilities, req: PlanInput, available_gb: float, dtype: str,
          allowed: Sequence[Lightening] | None) -> bool:
    plan = plan_memory(caps, req, available_gb, dtype=dtype, allowed=allowed)
    return plan is None or plan.fits


def decode_needs_tiling(caps: Capabilities, req: PlanInput, free_gb: float, *, dtype: str = "bfloat16") -> bool:
    """Whether an untiled decode of ``req`` would outgrow ``free_gb``, the accelerator memory free
    beside the weights already loaded (read just before the render)."""
    plain = estimate_memory(caps, req, dtype=dtype)
    if plain is None or caps.memory is None or caps.memory.decode_tile_gb is None:
        return False
    return plain.decode["decode"] + plain.decode["audio"] > free_gb


def offload_needed(caps: Capabilities, total_gb: float, *, dtype: str = "bfloat16") -> bool:
    """Whether a default-length song (one take, tiled decode) fits ``total_gb`` only with idle parts
    offloaded to the host: decided once, when the backend loads."""
    req = PlanInput(duration_s=caps.default_duration_s)
    plan = plan_memory(caps, req, total_gb, dtype=dtype)
    return plan is not None and Lightening.OFFLOAD in plan.lightening
