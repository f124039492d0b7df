"""Who is asking, and how much GPU time one request may use.

ZeroGPU checks each request's declared duration against the visitor's tier before it runs. The
per-call caps are not documented, so they are settings with defaults to plan for; the daily quotas
are the published ones. Every figure can be overridden by an environment variable, which is how a
maintainer adjusts them when Hugging Face changes its limits.

| tier      | per-call cap (env)                   | daily quota (env)                     |
|-----------|--------------------------------------|---------------------------------------|
| anonymous | 120 s (STUDIO_ZEROGPU_CAP_ANONYMOUS) | 120 s (STUDIO_ZEROGPU_QUOTA_ANONYMOUS)|
| free      | 120 s (STUDIO_ZEROGPU_CAP_FREE)      | 300 s (STUDIO_ZEROGPU_QUOTA_FREE)     |
| pro       | 300 s (STUDIO_ZEROGPU_CAP_PRO)       | 2400 s (STUDIO_ZEROGPU_QUOTA_PRO)     |
| local     | STUDIO_TIME_LIMIT, unset = no limit  | none                                  |

Every ZeroGPU cap is also held under STUDIO_ZEROGPU_HARD_CAP (default 300 s). Values are seconds,
optionally with a unit: ``90``, ``90s``, ``2m``, ``1h``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from studio import settings
from studio.ground.errors import StudioError


class Tier(str, enum.Enum):
    ANONYMOUS = "anonymous"
    FREE = "free"
    PRO = "pro"
    LOCAL = "local"

    @property
    def on_zerogpu(self) -> bool:
        return self is not Tier.LOCAL

    @property
    def label(self) -> str:
        return {
            Tier.ANONYMOUS: "anonymous ZeroGPU",
            Tier.FREE: "free ZeroGPU",
            Tier.PRO: "PRO ZeroGPU",
            Tier.LOCAL: "local",
        }[self]


@dataclass(frozen=True)
class TierDefaults:
    per_call_s: float | None
    daily_s: float | None


DEFAULTS: dict[Tier, TierDefaults] = {
    **{
        Tier(name): TierDefaults(per_call_s=cap.default, daily_s=settings.ZEROGPU_QUOTA[name].default)
        for name, cap in settings.ZEROGPU_CAP.items()
    },
    Tier.LOCAL: TierDefaults(per_call_s=None, daily_s=None),
}
HARD_CAP_S = settings.ZEROGPU_HARD_CAP.default


def parse_seconds(name: str, raw: str) -> float | None:
    """``"90"``, ``"90s"``, ``"2m"``, ``"1h"`` -> seconds; empty or ``0`` -> None (no limit)."""
    return settings.parse_seconds(name, raw)


@dataclass(frozen=True)
class TierLimits:
    tier: Tier
    per_call_s: float | None
    daily_s: float | None
    hard_cap_s: float | None

    @property
    def cap_s(self) -> float | None:
        """The most one request may reserve (None: unlimited)."""
        caps = [c for c in (self.per_call_s, self.daily_s, self.hard_cap_s) if c is not None]
        return min(caps) if caps else None

    def cap_with_quota(self, quota_left_s: float | None) -> float | None:
        """The cap, lowered to what is left of today's quota when that is known."""
        caps = [c for c in (self.cap_s, quota_left_s) if c is not None]
        return min(caps) if caps else None


def tier_limits(tier: Tier | str, env: Mapping[str, str] | None = None) -> TierLimits:
    try:
        tier = Tier(tier)
    except ValueError:
        names = ", ".join(t.value for t in Tier)
        raise StudioError(f"Unknown tier {tier!r}; pick one of: {names}.") from None
    if tier is Tier.LOCAL:
        return TierLimits(tier=tier, per_call_s=settings.TIME_LIMIT.get(env), daily_s=None, hard_cap_s=None)
    return TierLimits(
        tier=tier,
        per_call_s=settings.ZEROGPU_CAP[tier.value].get(env),
        daily_s=settings.ZEROGPU_QUOTA[tier.value].get(env),
        hard_cap_s=settings.ZEROGPU_HARD_CAP.get(env),
    )


def default_tier(env: Mapping[str, str] | None = None) -> Tier:
    """``STUDIO_TIER`` when set; otherwise ``free`` on a ZeroGPU Space and ``local`` elsewhere."""
    if raw := settings.TIER.get(env):
        return Tier(raw)
    from studio.devices import on_zerogpu

    return Tier.FREE if on_zerogpu(env) else Tier.LOCAL
