"""Who is asking: one local user, or on a Space a random key kept in the visitor's browser.

The key itself never reaches the database; the library stores a hash of it, so a leaked database
does not hand out keys. API callers pass the same key explicitly (``visitor_key``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets

from backends.base import StudioError
from studio.library import LOCAL_OWNER, MULTI_USER_ENV, multi_user  # noqa: F401 (re-exported)

STORAGE_KEY = "song-studio-visitor"
SECRET_ENV = "STUDIO_BROWSER_SECRET"
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
    secret = os.environ.get(SECRET_ENV) or None
    if secret is None and multi_user():
        log.warning(
            "%s is not set: visitors lose their library when the app restarts. Set it as a Space secret.",
            SECRET_ENV,
        )
    return secret


def client_address(request: object) -> str:
    """The caller's address: the first hop a proxy (a Space's) recorded, else the socket's peer."""
    headers = getattr(request, "headers", None) or {}
    forwarded = str(headers.get("x-forwarded-for", "")).split(",")[0].strip()
    client = getattr(request, "client", None)
    return forwarded or str(getattr(client, "host", "") or "unknown")


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
