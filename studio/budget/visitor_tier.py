"""Which ZeroGPU tier a visitor is on, from what their request shows (no gradio here).

What ZeroGPU itself does (read from ``spaces`` 0.51, ``zero/client.py``): the Hub's proxy adds an
``X-IP-Token`` header (a JWT) to each browser request and ``spaces`` forwards it when it schedules
a task. The scheduler, not the token, decides the visitor's quota; its answer says whether the
visitor is logged in ("regular") or PRO only after the task was scheduled, too late to plan for.
Without a token (e.g. a ``gradio_client`` call that does not pass one on) or with a token whose
payload carries an ``error``, ZeroGPU falls back to IP-based, anonymous quotas.

So before running anything the app can honestly know:

- no token, or a rejected one                      -> anonymous (IP-based quota);
- signed in through "Sign in with Hugging Face"     -> free, or PRO when the OAuth userinfo says
  (the Space needs ``hf_oauth: true`` and a         ``isPro`` (a documented Hub userinfo field);
  ``gr.LoginButton``; gradio keeps the userinfo in the session)
- a token but no sign-in                            -> anonymous. The visitor may well be logged in to
  the Hub, but nothing the app can read says so (the token's payload is undocumented). Planning for
  the smallest caps keeps every declared duration within what the visitor is really allowed; with
  the default caps anonymous and free visitors both get 120 s per call, so only PRO visitors lose
  (120 s instead of 300 s) until they sign in.

``STUDIO_TIER`` overrides this for every visitor; off ZeroGPU the tier is ``local``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from studio import settings
from studio.budget.tiers import Tier

TOKEN_HEADER = "x-ip-token"


@dataclass(frozen=True)
class VisitorTier:
    tier: Tier
    reason: str  # why this tier, in words a maintainer can check against the Space's settings


def token_payload(token: str) -> dict[str, Any]:
    """The JWT's payload (unverified: only read for an ``error`` ZeroGPU put there), {} if unreadable."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        data = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def visitor_tier(
    headers: Mapping[str, str] | None,
    userinfo: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> VisitorTier:
    """The tier to plan a visitor's request for: ``STUDIO_TIER``, else local off ZeroGPU, else read
    from the request (``headers``) and the Hugging Face sign-in (``userinfo``, when there is one)."""
    if raw := settings.TIER.get(env):
        return VisitorTier(Tier(raw), f"{settings.TIER.name} is set")
    from studio.devices import on_zerogpu

    if not on_zerogpu(env):
        return VisitorTier(Tier.LOCAL, "not on ZeroGPU")
    if userinfo:
        if userinfo.get("isPro") is True:
            return VisitorTier(Tier.PRO, "signed in with a PRO Hugging Face account")
        return VisitorTier(Tier.FREE, "signed in with a Hugging Face account")
    lowered = {str(k).lower(): v for k, v in (headers or {}).items()}
    token = lowered.get(TOKEN_HEADER)
    if not token:
        return VisitorTier(Tier.ANONYMOUS, "no X-IP-Token: ZeroGPU counts this request against an IP quota")
    if token_payload(token).get("error"):
        return VisitorTier(Tier.ANONYMOUS, "ZeroGPU rejected the visitor's token and falls back to IP quotas")
    return VisitorTier(
        Tier.ANONYMOUS,
        "not signed in: a Hub login cannot be seen from the app, so the smallest caps are planned for",
    )
