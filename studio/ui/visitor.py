"""Who is asking: one local user, or on a Space a random key kept in the visitor's browser.

The key itself never reaches the database; the library stores a hash of it, so a leaked database
does not hand out keys. API callers pass the same key explicitly (``visitor_key``).
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Mapping

from studio import settings
from studio.ground.errors import StudioError
from studio.library import LOCAL_OWNER, MULTI_USER_ENV, multi_user  # noqa: F401 (re-exported)

STORAGE_KEY = "song-studio-visitor"
SECRET_ENV = settings.BROWSER_SECRET.name
_KEY_RE = re.compile(r"^[A-Za-z0-9_-]{24,128}$")

log = logging.getLogger(__name__)


def new_key() -> str:
    return secrets.token_urlsafe(24)


def valid_key(key: object) -> bool:
    return isinstance(key, str) and bool(_KEY_RE.match(key))


def ensure_key(key: object) -> str:
    """The browser's key, or a fresh one for a first visit (or a tampered value)."""
    return key if valid_key(key) else new_key()  # type: ignore[return-value]


def owner_for(key: object) -> str:
    """The library owner id for a visitor key (everything is ``local`` for a single user)."""
    if not multi_user():
        return LOCAL_OWNER
    if not valid_key(key):
        raise StudioError(
            "your visitor key is missing or malformed; reload the page (API callers: pass the `visitor_key` "
            "returned by /generate, or leave it empty to get a new one)."
        )
    return hashlib.sha256(str(key).encode()).hexdigest()[:32]


def browser_secret() -> str | None:
    """The secret that encrypts the key in the browser. Without a fixed one, a restart makes every
    visitor's stored key unreadable, so visitors would lose their library on each restart."""
    secret = settings.BROWSER_SECRET.get()
    if secret is None and multi_user():
        log.warning(
            "%s is not set: visitors lose their library when the app restarts. Set it as a Space secret.",
            SECRET_ENV,
        )
    return secret


PROXY_HOPS_ENV = settings.TRUSTED_PROXY_HOPS.name


def trusted_proxy_hops(env: Mapping[str, str] | None = None) -> int:
    """How many proxies in front of the studio append to ``X-Forwarded-For`` (``STUDIO_TRUSTED_PROXY_HOPS``).

    Default: 1 on a Space (``SPACE_ID`` set), where the socket peer is the Space's own ingress (an
    internal 10.x address; embeddings-benchmark/mteb PR #4754 reports the same) and the visitor's
    address is what that proxy appends, last, to the header; 0 elsewhere, where nothing vouches for
    the header. Whatever a client writes in the header itself comes before the proxies' entries, so
    only the ones they add are believed (MDN, X-Forwarded-For, "Selecting an IP address": the
    rightmost entry a trusted proxy added)."""
    hops = settings.TRUSTED_PROXY_HOPS.get(env)
    if hops is None:
        return 1 if settings.on_space(env) else 0
    return hops


def client_address(request: object) -> str:
    """The caller's address: the entry the trusted proxy nearest the client added to ``X-Forwarded-For``
    (counted from the right), else the socket's peer. A client-written header never decides it."""
    client = getattr(request, "client", None)
    peer = str(getattr(client, "host", "") or "unknown")
    hops = trusted_proxy_hops()
    if not hops:
        return peer
    headers = getattr(request, "headers", None) or {}
    chain = [part.strip() for part in str(headers.get("x-forwarded-for", "")).split(",") if part.strip()]
    if len(chain) < hops:
        return peer  # fewer entries than proxies: it did not come through them all
    return chain[-hops][:64]  # an address; anything longer is not one, and keys a bucket all the same


def _headers(request: object) -> dict[str, str]:
    """A gr.Request's headers; a queued request rebuilt from kwargs keeps them as plain attributes."""
    headers = getattr(request, "headers", None)
    if headers is None:
        return {}
    if hasattr(headers, "items"):
        return dict(headers.items())
    return dict(vars(headers))


def _userinfo(request: object) -> dict | None:
    """The Hugging Face sign-in's userinfo gradio keeps in the session (only with OAuth enabled)."""
    underlying = getattr(request, "request", None) or request
    scope = getattr(underlying, "scope", None)
    session = scope.get("session") if isinstance(scope, dict) else getattr(underlying, "session", None)
    if not isinstance(session, dict):
        return None
    info = (session.get("oauth_info") or {}).get("userinfo")
    return info if isinstance(info, dict) else None


def tier_of(request: object) -> str:
    """The ZeroGPU tier to plan this visitor's request for (see studio.budget.visitor_tier)."""
    from studio.budget.visitor_tier import visitor_tier

    if request is None:
        return visitor_tier(None).tier.value
    return visitor_tier(_headers(request), _userinfo(request)).tier.value
