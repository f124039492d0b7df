"""Per-visitor rate limit on the calls that take GPU time (render, Simple mode's sketch).

A token bucket per key: ``N`` calls may come at once, then one more every ``S / N`` seconds.

Setting: ``STUDIO_RATE_LIMIT``
  * ``N/S`` - at most ``N`` GPU calls per ``S`` seconds per visitor, e.g. ``10/600``;
  * ``off`` (or ``0``) - no limit.
Default: ``10/600`` when visitors are told apart (a Space, or ``STUDIO_MULTI_USER=1``), ``off``
otherwise (one person on their own machine is never throttled).

ZeroGPU's own daily quota is the real guard on a Space; this limit stops one visitor (or a script)
from filling the shared GPU queue. Keys are whatever identifies the caller (a visitor's owner id,
or ``ip:<address>`` for API callers without a key).

A script can still invent a fresh visitor key for every call, and each key starts with a full bucket.
``STUDIO_RATE_LIMIT_PER_ADDRESS`` (same ``N/S`` form, default ``off``) adds a second bucket per
caller address that every GPU call spends as well. It is off by default because many real visitors
can share one address (a campus, a mobile carrier's NAT); set it generously, e.g. ``60/3600``.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from studio import settings
from studio.ground.errors import StudioError
from studio.library import multi_user
from studio.settings import Rate

ENV = settings.RATE_LIMIT.name
ADDRESS_ENV = settings.RATE_LIMIT_PER_ADDRESS.name
SPACE_DEFAULT = "10/600"
# Forget full buckets once this many keys are tracked (a full bucket is the same as no bucket).
_PRUNE_AT = 10_000


class RateLimited(StudioError):
    """Too many GPU calls from one visitor; ``retry_after_s`` says how long to wait."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def parse_rate(text: str, env: str = ENV) -> Rate | None:
    """``"10/600"`` -> Rate(10, 600); ``"off"``, ``"0"`` or empty -> None (no limit). ``env`` names the
    setting in the error message."""
    return settings.parse_rate(env, text)


def configured_rate(env: str = ENV, shared_default: str | None = SPACE_DEFAULT) -> Rate | None:
    """The rate ``env`` sets; unset: ``shared_default`` on a shared studio, no limit otherwise."""
    explicit = settings.lookup(env).text()
    if explicit is not None:
        return parse_rate(explicit, env)
    return parse_rate(shared_default, env) if shared_default and multi_user() else None


class RateLimiter:
    """Token buckets keyed by caller. ``rate=None`` reads the ``env`` setting on every call, so a
    changed setting takes effect without a restart. ``per`` names whose bucket it is in the message."""

    def __init__(
        self,
        rate: Rate | None = None,
        *,
        env: str = ENV,
        shared_default: str | None = SPACE_DEFAULT,
        per: str = "visitor",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fixed = rate
        self._env = env
        self._shared_default = shared_default
        self._per = per
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def rate(self) -> Rate | None:
        return self._fixed if self._fixed is not None else configured_rate(self._env, self._shared_default)

    def take(self, key: str, what: str = "songs") -> None:
        """Spend one call for ``key`` or raise :class:`RateLimited` saying how long to wait."""
        self._spend(key, what, spend=True)

    def check(self, key: str, what: str = "songs") -> None:
        """Raise what :meth:`take` would, spending nothing: lets the UI refuse before the GPU queue."""
        self._spend(key, what, spend=False)

    def _spend(self, key: str, what: str, *, spend: bool) -> None:
        rate = self.rate()
        if rate is None:
            return
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.get(key, (float(rate.calls), now))
            tokens = min(float(rate.calls), tokens + (now - at) * rate.refill_per_s)
            if tokens < 1.0:
                wait = math.ceil((1.0 - tokens) / rate.refill_per_s)
                raise RateLimited(
                    f"you are asking for {what} faster than this studio allows ({rate.describe()} per "
                    f"{self._per}); try again in {wait} s.",
                    retry_after_s=wait,
                )
            if not spend:
                return
            self._buckets[key] = (tokens - 1.0, now)
            if len(self._buckets) > _PRUNE_AT:
                self._prune(rate, now)

    def refund(self, key: str) -> None:
        """Give back the call ``take`` just spent (another bucket refused the same call)."""
        rate = self.rate()
        if rate is None:
            return
        with self._lock:
            if key in self._buckets:
                tokens, at = self._buckets[key]
                self._buckets[key] = (min(float(rate.calls), tokens + 1.0), at)

    def _prune(self, rate: Rate, now: float) -> None:
        full = [k for k, (t, at) in self._buckets.items() if t + (now - at) * rate.refill_per_s >= rate.calls]
        for key in full:
            del self._buckets[key]

    def tracked(self) -> int:
        with self._lock:
            return len(self._buckets)


GPU = RateLimiter()  # one per process: the UI's Generate, Write-for-me and the /generate API share it
ADDRESS = RateLimiter(env=ADDRESS_ENV, shared_default=None, per="address")


def _address_key(address: str) -> str:
    return f"ip:{address}" if address and address != "unknown" else ""


def check_gpu(key: str, address: str = "", what: str = "songs") -> None:
    """Raise :class:`RateLimited` if :func:`take_gpu` would, spending nothing."""
    if _address_key(address):
        ADDRESS.check(_address_key(address), what)
    GPU.check(key, what)


def take_gpu(key: str, address: str = "", what: str = "songs") -> None:
    """Spend one GPU call from ``key``'s bucket and, when ``STUDIO_RATE_LIMIT_PER_ADDRESS`` is set and
    the address is known, from the address's bucket too. A refused call spends neither."""
    address_key = _address_key(address)
    if address_key:
        ADDRESS.take(address_key, what)
    try:
        GPU.take(key, what)
    except RateLimited:
        if address_key:
            ADDRESS.refund(address_key)
        raise


def refund_gpu(key: str, address: str = "") -> None:
    """Give back the call :func:`take_gpu` spent, when the request turned out to be refused before any
    GPU work (see :func:`spends_no_call`)."""
    GPU.refund(key)
    if _address_key(address):
        ADDRESS.refund(_address_key(address))


def spends_no_call(error: BaseException) -> bool:
    """Whether ``error`` refused the request before any model work: its class says so with
    ``spends_no_call = True`` (a bad LoRA, an unusable upload, a backend that cannot run here)."""
    return bool(getattr(error, "spends_no_call", False))


# --------------------------------------------------------------------------------------------- queue caps
# A token bucket bounds how often a visitor may ask; these bound how much of the GPU queue one visitor
# (a browser tab, or an API caller's visitor_key) and one address may hold at once, waiting or running,
# so one client cannot fill the queue that ``STUDIO_QUEUE_SIZE`` bounds for everyone.
QUEUED_PER_VISITOR_ENV = settings.QUEUED_PER_VISITOR.name
QUEUED_PER_ADDRESS_ENV = settings.QUEUED_PER_ADDRESS.name
# Defaults on a shared studio: a visitor may queue a second song behind the one running; an address
# (a household, a campus NAT) a handful. One person on their own machine queues as much as they like.
SHARED_QUEUED_PER_VISITOR = 2
SHARED_QUEUED_PER_ADDRESS = 6


class QueueCapReached(StudioError):
    """The caller already holds as many GPU jobs as one visitor or address may."""


def queued_cap(env: str, shared_default: int) -> int | None:
    """The cap ``env`` sets (``off`` = none); unset: ``shared_default`` on a shared studio, none otherwise."""
    setting = settings.lookup(env)
    if not setting.is_set():
        return shared_default if multi_user() else None
    return setting.get()


def check_queued(held_by_visitor: int, held_by_address: int, what: str = "songs") -> None:
    """Refuse a new GPU job when the caller already holds their share of the queue."""
    per_visitor = queued_cap(QUEUED_PER_VISITOR_ENV, SHARED_QUEUED_PER_VISITOR)
    if per_visitor is not None and held_by_visitor >= per_visitor:
        raise QueueCapReached(
            f"you already have {held_by_visitor} {what} waiting or being made (at most {per_visitor} at once); "
            "wait for one to finish, then ask again."
        )
    per_address = queued_cap(QUEUED_PER_ADDRESS_ENV, SHARED_QUEUED_PER_ADDRESS)
    if per_address is not None and held_by_address >= per_address:
        raise QueueCapReached(
            f"your network address already has {held_by_address} {what} waiting or being made (at most "
            f"{per_address} at once); wait for one to finish, then ask again."
        )
