"""The ZeroGPU time-budget guard: estimate, reserve, preflight, deadline, retry, calibration.

Flow for one request (the service wires it):
1. ``preflight(caps, PlanInput(...), BudgetContext(...))`` -> run / adjusted / refuse + alternatives;
2. the GPU function, wrapped by ``gpu_task(plan=...)``, receives ``budget: Reservation`` and
   renders with ``budget.deadline(progress)`` as the progress callback;
3. a ``StageTimer`` in the progress chain measures stages; ``Calibration.record`` stores them.
"""

from __future__ import annotations

from studio.budget.estimate import Estimate, estimate
from studio.budget.preflight import Alternative, BudgetContext, Decision, Preflight, preflight
from studio.budget.reservation import Reservation, reserve
from studio.budget.tiers import Tier, TierLimits, default_tier, tier_limits

__all__ = [
    "Alternative",
    "BudgetContext",
    "Decision",
    "Estimate",
    "Preflight",
    "Reservation",
    "Tier",
    "TierLimits",
    "default_tier",
    "estimate",
    "preflight",
    "reserve",
    "tier_limits",
]
