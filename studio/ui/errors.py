"""How failures reach a visitor: their own mistakes as a sentence, ours as a short id to report."""

from __future__ import annotations

import functools
import logging
import re
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

import gradio as gr

from backends.base import Cancelled, StudioError

log = logging.getLogger("studio.ui")
F = TypeVar("F", bound=Callable[..., Any])

# ZeroGPU speaks through gr.Error; each message gets a plain suggestion. Order matters.
ZEROGPU_HINTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"quota|try again in", re.I),
        "You have used your GPU time on this Space for now. Log in or upgrade for more, or make a "
        "shorter song.",
    ),
    (
        re.compile(r"aborted", re.I),
        "The GPU task ran past its time and was stopped. Try a shorter song, fewer takes or fewer steps.",
    ),
    (
        re.compile(r"illegal duration|duration", re.I),
        "The GPU time asked for is not allowed here. Try a shorter song or fewer takes.",
    ),
    (re.compile(r"queue|timeout|timed out", re.I), "The GPU queue is busy. Please try again in a minute."),
)


def with_hint(message: str) -> str:
    for pattern, hint in ZEROGPU_HINTS:
        if pattern.search(message):
            return f"{message} {hint}"
    return message


def report_unexpected(exc: BaseException) -> str:
    """Log with a short id and return the sentence the visitor sees."""
    error_id = secrets.token_hex(4)
    log.error("unexpected error %s: %s", error_id, exc, exc_info=exc)
    return (
        f"Something went wrong on our side (error id {error_id}). Please try again; if it keeps happening, "
        f"report the id."
    )


def user_errors(fn: F) -> F:
    """Wrap a handler: StudioError -> gr.Error(message); anything unexpected -> logged + short id."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except gr.Error as exc:
            raise gr.Error(with_hint(str(exc.message)), title=exc.title) from None
        except Cancelled as exc:
            raise gr.Error(str(exc), title="Stopped", print_exception=False) from None
        except StudioError as exc:  # plain text: API clients read it verbatim
            raise gr.Error(str(exc), print_exception=False) from None
        except Exception as exc:
            raise gr.Error(report_unexpected(exc)) from None

    return wrapper  # type: ignore[return-value]
