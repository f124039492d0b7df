"""How a run ends on the page: the button back, Cancel gone, and the status saying what happened.

A handler that refuses raises ``gr.Error`` (the toast, and the error an API client reads), and then it
cannot also write the status. So the refusal's sentence is kept here for the browser session, and the
step gradio runs after every outcome (``settle``) writes it into the status (issue 17.1 and 17.4).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import gradio as gr

F = TypeVar("F", bound=Callable[..., Any])


class Outcomes:
    """The last refusal per browser session, read once by ``settle``."""

    def __init__(self) -> None:
        self._sentences: dict[str, str] = {}
        self._lock = threading.Lock()

    def refused(self, session: str, sentence: str) -> None:
        with self._lock:
            self._sentences[session] = sentence

    def take(self, session: str) -> str | None:
        with self._lock:
            return self._sentences.pop(session, None)


OUTCOMES = Outcomes()


def session_of(request: object) -> str:
    return str(getattr(request, "session_hash", "") or "")


def remembered(fn: F) -> F:
    """Wrap a handler (already wrapped by ``user_errors``) whose ``gr.Error`` the status must show.

    The wrapped handler takes a ``request: gr.Request`` argument (gradio fills it in by annotation)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        request = kwargs.get("request") or next((a for a in args if hasattr(a, "session_hash")), None)
        try:
            return fn(*args, **kwargs)
        except gr.Error as exc:
            icon = "⏹" if exc.title == "Stopped" else "❌"
            OUTCOMES.refused(session_of(request), f"{icon} {exc.message}")
            raise

    return wrapper  # type: ignore[return-value]


def settled_values(request: object) -> list[Any]:
    """[run button, Cancel, status] once a run has ended, whichever way it ended."""
    sentence = OUTCOMES.take(session_of(request))
    return [gr.update(visible=True), gr.update(visible=False), sentence if sentence else gr.update()]


_ICONS = "❌⏹⏱ℹ️ "


def estimate_after(status: Any, estimate: str | None) -> Any:
    """The estimate line once a run has settled: emptied when the status now says the very sentence it said
    (a model that cannot run here: "⏱ LeVo 2 cannot run here…" above "❌ LeVo 2 cannot run here…", seen on a
    phone as the same paragraph twice under Generate); otherwise left as it is. The next change to the form
    prices it again."""
    if not isinstance(status, str) or not estimate:
        return gr.update()
    said = status.strip(_ICONS).strip()
    return "" if said and said == estimate.strip(_ICONS).strip() else gr.update()
