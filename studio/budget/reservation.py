"""How much GPU time to ask for: the estimate, its margin, the scheduler's multiplier, the cap.

ZeroGPU facts this encodes (read from ``spaces`` 0.51 source, ``zero/client.py``):
- the declared duration is turned into whole seconds (``timedelta.seconds``) and, unless the task
  asked for the ``xlarge`` size, multiplied by the GPU's ``duration_factor`` (1.5 on the
  "RTX PRO 6000 Blackwell" large slice, 1.0 on H200 slices) before ``round()`` sends it to the
  scheduler. That scheduled figure is what the task may run for and what the quota and the
  per-call maximum are checked against.
So with an estimate of ``needed`` seconds *on this hardware*, we declare
``ceil(needed / factor)``: the scheduler's own multiplication lands on ``needed``. Uncalibrated
estimates are scaled by the same factor first (the slice is that much slower than the seeds'
reference), so on the large slice the visitor's quota sees 1.5x the H200 figure.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from studio.budget.estimate import Estimate
from studio.budget.tiers import TierLimits
from studio.ground.progress import ProgressFn, no_progress

# A retry after an abort asks for this much more (at least RETRY_MIN_EXTRA_S more).
RETRY_GROWTH = 1.5
RETRY_MIN_EXTRA_S = 15


def scheduled_seconds(declared_s: int, slice_factor: float) -> int:
    """What ``spaces`` sends the scheduler for a declared duration (its own arithmetic)."""
    return round(declared_s * slice_factor)


@dataclass(frozen=True)
class Reservation:
    """The GPU time one call reserves, and whether that covers the estimate."""

    estimate: Estimate
    limits: TierLimits
    zerogpu: bool
    slice_factor: float
    needed_s: int  # estimate x margin, rounded up, in seconds of this hardware
    cap_s: float | None  # the most this call may reserve (tier cap, lowered to quota left)
    declared_s: int | None  # what @spaces.GPU(duration=...) returns; None off ZeroGPU
    quota_s: int | None  # scheduled seconds: what the quota and the per-call cap see
    limit_s: float | None  # wall seconds before the run is stopped; None = never

    @property
    def fits(self) -> bool:
        return self.cap_s is None or self.needed_s <= self.cap_s

    @property
    def clamped(self) -> bool:
        return not self.fits

    def enlarged(self) -> Reservation | None:
        """A larger reservation for one retry, or None when the cap leaves no room to grow."""
        grown = math.ceil(max(self.needed_s * RETRY_GROWTH, self.needed_s + RETRY_MIN_EXTRA_S))
        bigger = _build(self.estimate, self.limits, self.zerogpu, self.slice_factor, grown, self.cap_s)
        before = self.quota_s if self.zerogpu else self.limit_s
        after = bigger.quota_s if bigger.zerogpu else bigger.limit_s
        if before is not None and (after is None or after <= before):
            return None
        return bigger

    def deadline(
        self,
        progress: ProgressFn = no_progress,
        *,
        partial_ok: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ):
        """A progress wrapper that stops the run before this reservation runs out.

        On ZeroGPU the weights move to the GPU before the task body starts, and that counts
        against the reservation, so the estimated ``load`` time is treated as already spent."""
        from studio.budget.deadline import Deadline

        spent = self.estimate.stages.get("load", 0.0) if self.zerogpu else 0.0
        if self.zerogpu:
            what = f"the {self.limit_s:.0f} s of ZeroGPU time reserved for this request"
        else:
            what = f"the {self.limit_s:.0f} s limit set by STUDIO_TIME_LIMIT" if self.limit_s else ""
        return Deadline(
            self.limit_s,
            self.estimate,
            progress=progress,
            partial_ok=partial_ok,
            spent_s=spent,
            clock=clock,
            what=what,
        )


def _build(
    estimate: Estimate,
    limits: TierLimits,
    zerogpu: bool,
    slice_factor: float,
    needed_s: int,
    cap_s: float | None,
) -> Reservation:
    if not zerogpu:
        # Locally the run may use everything up to the maintainer's limit, whatever it needs.
        return Reservation(estimate, limits, False, 1.0, needed_s, cap_s, None, None, cap_s)
    declared = max(1, math.ceil(needed_s / slice_factor - 1e-9))
    if cap_s is not None and scheduled_seconds(declared, slice_factor) > cap_s:
        declared = max(1, math.floor(cap_s / slice_factor + 1e-9))
    quota = scheduled_seconds(declared, slice_factor)
    return Reservation(estimate, limits, True, slice_factor, needed_s, cap_s, declared, quota, float(quota))


def reserve(
    estimate: Estimate,
    limits: TierLimits,
    *,
    zerogpu: bool | None = None,
    slice_factor: float = 1.0,
    quota_left_s: float | None = None,
) -> Reservation:
    """Reserve ``estimate.reserve_s`` seconds, held to the tier's cap (and the quota left, if known).

    ``zerogpu`` defaults to whether the tier is a ZeroGPU one. Off ZeroGPU nothing is declared; the
    only limit is ``STUDIO_TIME_LIMIT`` (tier ``local``)."""
    on_zero = limits.tier.on_zerogpu if zerogpu is None else zerogpu
    cap = limits.cap_with_quota(quota_left_s)
    return _build(estimate, limits, on_zero, slice_factor if on_zero else 1.0, estimate.reserve_s, cap)
