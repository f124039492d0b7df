"""ZeroGPU errors in plain words, and one retry after an abort.

``spaces`` raises ``gr.Error`` with a title and a message (``spaces/zero/client.py`` and
``wrappers.py`` in 0.51). What a visitor can meet, and what we make of it:

- ``ZeroGPU illegal duration``: "The requested GPU duration (Ns) is larger than the maximum allowed"
- ``ZeroGPU quota exceeded``: "You have exceeded your <tier> quota (Ns requested vs. Ms left).
  Try again in H:MM:SS." (``str(timedelta)``, may start "1 day, "); or "You have exceeded your
  ZeroGPU runs limit."; or "Space app has reached its GPU limit." (no token); or "No GPU was
  available after 60s" (anonymous visitor timed out in the queue)
- ``ZeroGPU pending credits exceeded``: "You have too many ZeroGPU credits allocated to running tasks."
- ``ZeroGPU queue timeout``: "No GPU was available after 60s" (HTML link appended)
- ``ZeroGPU client error``: "No GPU was available"
- ``ZeroGPU worker error``: "GPU task aborted" (the task outlived its reservation), or the class name
  of any non-gradio exception raised in the task (its message is lost).
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from studio.budget.reservation import Reservation
from studio.ground.errors import StudioError

R = TypeVar("R")


class GpuError(StudioError):
    """A ZeroGPU refusal or failure, in plain words."""

    def __init__(self, message: str, *, wait_s: float | None = None) -> None:
        super().__init__(message)
        self.wait_s = wait_s

    def __reduce__(self):
        return (_rebuild, (type(self), str(self), self.wait_s))


def _rebuild(cls: type[GpuError], message: str, wait_s: float | None) -> GpuError:
    return cls(message, wait_s=wait_s)


class GpuQuotaExceeded(GpuError):
    pass


class GpuDurationTooLong(GpuError):
    pass


class GpuQueueTimeout(GpuError):
    pass


class GpuAborted(GpuError):
    pass


class GpuOutOfMemory(GpuError):
    pass


_WAIT = re.compile(r"Try again in (?:(\d+) days?, )?(\d+):(\d{1,2}):(\d{1,2}(?:\.\d+)?)")
_REQUESTED_LEFT = re.compile(r"\((\d+)s requested vs\. (-?\d+)s left\)")
_REQUESTED = re.compile(r"requested GPU duration \((\d+)s\)")
_TAGS = re.compile(r"<[^>]+>")


def parse_wait(text: str) -> float | None:
    """Seconds in a ``Try again in H:MM:SS`` (``str(timedelta)``) phrase, if there is one."""
    m = _WAIT.search(text)
    if m is None:
        return None
    days, hours, minutes, seconds = m.groups()
    return timedelta(
        days=int(days or 0), hours=int(hours), minutes=int(minutes), seconds=float(seconds)
    ).total_seconds()


def say_duration(seconds: float) -> str:
    """``3 h 12 min``, ``4 min``, ``40 s``: how a person says a wait."""
    seconds = max(0, math.ceil(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = math.ceil(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def _text(exc: BaseException) -> tuple[str, str]:
    """(title, message) of a gradio error without importing gradio; plain text."""
    title = str(getattr(exc, "title", "") or "")
    message = getattr(exc, "message", None)
    if message is None:
        message = exc.args[0] if exc.args else str(exc)
    return title, html.unescape(_TAGS.sub("", str(message))).strip()


def is_abort(exc: BaseException) -> bool:
    return isinstance(exc, GpuAborted) or "GPU task aborted" in _text(exc)[1]


SHORTEN = "make the song shorter, use fewer steps, or pick a faster model"
DUPLICATE = "duplicate this Space to a paid GPU to lift the daily limit"


def translate(exc: BaseException) -> StudioError | None:
    """A plain-language :class:`GpuError` for a ZeroGPU error, or None if it is not one."""
    if isinstance(exc, StudioError):
        return exc
    title, message = _text(exc)
    if not (title.startswith("ZeroGPU") or "GPU" in message):
        return None
    wait = parse_wait(message)
    if "illegal duration" in title or "larger than the maximum allowed" in message:
        m = _REQUESTED.search(message)
        asked = f" ({m.group(1)} s)" if m else ""
        return GpuDurationTooLong(
            f"This request asked ZeroGPU for more time{asked} than one request may use, so it did not "
            f"start and nothing was charged. To fit, {SHORTEN}; or log in with a PRO account, or "
            f"{DUPLICATE}."
        )
    if "pending credits" in title or "too many ZeroGPU credits" in message:
        return GpuQuotaExceeded(
            "Other songs of yours are still using your GPU time. Wait until they finish, then try again."
        )
    if "exceeded your" in message and "quota" in message:
        m = _REQUESTED_LEFT.search(message)
        if m:
            requested, left = int(m.group(1)), max(0, int(m.group(2)))
            need = f"This song needs {requested} s of GPU time and {left} s are left today"
        else:
            need = "Your GPU time for today is used up"
        when = f"; it refills in about {say_duration(wait)}" if wait is not None else ""
        return GpuQuotaExceeded(
            f"{need}{when}. Nothing was charged. Try again then, or {SHORTEN} so it fits in what is "
            f"left, or log in (free accounts and PRO get more), or {DUPLICATE}.",
            wait_s=wait,
        )
    if "runs limit" in message or "reached its GPU limit" in message:
        return GpuQuotaExceeded(
            "This Space has used its GPU allowance for now; nothing was charged. Try again later, log in "
            f"with a Hugging Face account for your own quota, or {DUPLICATE}."
        )
    if "queue timeout" in title or "No GPU was available" in message:
        return GpuQueueTimeout(
            "All shared GPUs were busy for a minute, so the song did not start and nothing was charged. "
            "Try again in a moment; logged-in and PRO visitors get priority in the queue.",
            wait_s=60.0,
        )
    if "GPU task aborted" in message:
        return GpuAborted(
            "The song took longer than the GPU time reserved for it and ZeroGPU stopped it. "
            f"To fit, {SHORTEN}."
        )
    if "OutOfMemory" in message or "out of memory" in message.lower():
        return GpuOutOfMemory(
            "The GPU ran out of memory for this request. Make the song shorter or ask for fewer takes."
        )
    return None


def run_with_retry(
    attempt: Callable[[Reservation], R],
    reservation: Reservation,
    *,
    quota_left_s: float | None = None,
    notify: Callable[[str], None] | None = None,
) -> R:
    """Run ``attempt``; after a ZeroGPU abort, run it once more with a larger reservation.

    The retry happens only when the cap leaves room for a larger one and, when the quota left is
    known, the larger one fits in what the aborted run left over. (When it is not known, ZeroGPU
    checks the quota before running and refuses for free; that refusal is translated too.)
    Every ZeroGPU error that escapes is a :class:`GpuError` with a plain sentence."""
    try:
        return attempt(reservation)
    except Exception as exc:
        if not is_abort(exc):
            translated = translate(exc)
            if translated is None or translated is exc:
                raise
            raise translated from exc
        first = exc
    bigger = reservation.enlarged()
    spent = reservation.quota_s or 0
    left_after = None if quota_left_s is None else quota_left_s - spent
    if bigger is None or bigger.quota_s is None:
        raise GpuAborted(
            f"The song took longer than the {reservation.quota_s} s of GPU time reserved for it, which "
            f"is already the most one request may use, and ZeroGPU stopped it. To fit, {SHORTEN}."
        ) from first
    if left_after is not None and bigger.quota_s > left_after:
        raise GpuAborted(
            f"The song took longer than the {reservation.quota_s} s of GPU time reserved for it and "
            f"ZeroGPU stopped it. A retry would need {bigger.quota_s} s but only {max(0, left_after):.0f} "
            f"s are left today. To fit, {SHORTEN}."
        ) from first
    if notify is not None:
        notify(
            f"The song needed more than the {reservation.quota_s} s reserved; trying once more with "
            f"{bigger.quota_s} s."
        )
    try:
        return attempt(bigger)
    except Exception as exc:
        if is_abort(exc):
            raise GpuAborted(
                f"The song took longer than the GPU time reserved for it, twice ({reservation.quota_s} s, "
                f"then {bigger.quota_s} s), and ZeroGPU stopped it. To fit, {SHORTEN}."
            ) from exc
        translated = translate(exc)
        if translated is None or translated is exc:
            raise
        raise translated from exc
