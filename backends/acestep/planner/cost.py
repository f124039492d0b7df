"""What a planner run costs, in generated tokens, for the budget guard (import-cheap)."""

from __future__ import annotations

from dataclasses import dataclass

from backends.acestep.planner.metadata import CODES_PER_SECOND, DURATION_RANGE

# Phase 1 writes about 50-200 tokens of metadata (upstream's own figure); a long caption is the
# upper end.
COT_TOKENS = 200
# Phase 2 may run a few tokens past the last code (EOS); upstream budgets 10.
CODES_SLACK = 10


@dataclass(frozen=True)
class PlannerCost:
    """Decoding steps of one planner run. Phase-2 steps run two sequences at once (CFG)."""

    cot_tokens: int
    code_tokens: int
    cfg: bool

    @property
    def sequence_tokens(self) -> int:
        """Tokens summed over every sequence in the batch (what a per-token timing multiplies)."""
        return self.cot_tokens + self.code_tokens * (2 if self.cfg else 1)


def target_code_count(duration_s: float) -> int:
    """5 codes per second, truncated like upstream (95.5 s -> 477 codes)."""
    return int(duration_s * CODES_PER_SECOND)


def estimate_planner_cost(
    duration_s: float | None,
    *,
    writes_metadata: bool = True,
    writes_codes: bool = True,
    cfg_scale: float = 2.0,
) -> PlannerCost:
    """Upper estimate for ``Planner.plan``. Without a duration the planner picks one, so assume the
    longest it may pick."""
    seconds = DURATION_RANGE[1] if duration_s is None or duration_s <= 0 else duration_s
    codes = target_code_count(seconds) + CODES_SLACK
    return PlannerCost(
        cot_tokens=COT_TOKENS if writes_metadata else 0,
        code_tokens=codes if writes_codes else 0,
        cfg=writes_codes and cfg_scale > 1.0,
    )
