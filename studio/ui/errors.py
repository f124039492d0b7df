"""How failures reach a visitor: their own mistakes as a sentence, ours as a short id to report."""

from __future__ import annotations

import errno
import functools
import logging
import os
import re
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

import gradio as gr

from studio.ground.errors import Cancelled, StudioError
from studio.library import multi_user

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


# Words that make an exception's message advice a person can follow ("`x` must be ...", "expected 2
# channels", "download the weights again"), as library checks write them (diffusers' check_inputs,
# torch's load_state_dict size mismatches, safetensors' header errors).
_ADVICE = re.compile(
    r"\b(must|should|expected|expects|needs?|requires?|try|use|set|pass|install|download|delete|check|"
    r"shorten|reduce|increase|pick|choose|mismatch|missing|corrupt(ed)?|incomplete|not found)\b",
    re.I,
)
_SERVER_PATH = re.compile(r"(?:[A-Za-z]:)?(?:[\\/][^\s\\/'\"`,;:()]+){2,}")


# A setting spelled out with its value ("STUDIO_LEVO2_WEIGHTS=/srv/w") or a path followed by the setting it came from
# ("/srv/w (from STUDIO_LEVO2_WEIGHTS)", backends/levo/spec.py): the setting's name alone says it on a shared studio.
_NAMED_PATH = re.compile(rf"\b([A-Z][A-Z0-9_]+)=({_SERVER_PATH.pattern})")
_PATH_FROM = re.compile(rf"({_SERVER_PATH.pattern}) \(from ([A-Z][A-Z0-9_]+)\)")
# Not after a letter, ":" or "/": a URL's "//host/x/y" and words like "and/or/both" are not server paths.
_ANY_PATH = re.compile(r"(?<![\w:/.~-])" + _SERVER_PATH.pattern)


def _setting_holding(path: str) -> str | None:
    """The studio setting whose folder ``path`` is or lies in (the longest such value wins)."""
    path = path.replace("\\", "/")
    best: tuple[int, str] = (0, "")
    for name, value in os.environ.items():
        value = value.strip().replace("\\", "/").rstrip("/")
        if not name.startswith("STUDIO_") or not _SERVER_PATH.fullmatch(value) or len(value) <= best[0]:
            continue
        if path == value:
            best = (len(value), f"the folder set by {name}")
        elif path.startswith(value + "/"):
            best = (len(value), f"a file in the folder set by {name}")
    return best[1] or None


def _unpathed(match: re.Match[str]) -> str:
    path = match.group(0)
    stop = "." if path.endswith(".") else ""  # the sentence's full stop, not part of the path
    return (_setting_holding(path.removesuffix(".")) or "a location on the server") + stop


def for_visitors(sentence: str, *, shared: bool | None = None) -> str:
    """``sentence`` as a visitor of a shared studio (a Space, ``STUDIO_MULTI_USER``) may read it: each server
    path becomes the setting that names it (what the owner changes) or "a location on the server". A local
    single-user studio keeps the paths: they are the owner's own, and the quickest way to the fix."""
    if not (multi_user() if shared is None else shared):
        return sentence
    sentence = _NAMED_PATH.sub(lambda m: m.group(1), sentence)
    sentence = _PATH_FROM.sub(lambda m: f"set by {m.group(m.lastindex)}", sentence)
    return _ANY_PATH.sub(_unpathed, sentence)


def actionable_sentence(exc: BaseException) -> str | None:
    """The sentence an unexpected exception (or its cause) carries when it reads as advice: one line,
    short, with words like "must" or "download"; server paths are cut to their file names."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = str(current).strip().strip("'\"")
        first = text.splitlines()[0].strip() if text else ""
        if 12 <= len(first) <= 300 and _ADVICE.search(first) and "Traceback" not in first:
            first = _SERVER_PATH.sub(lambda m: m.group(0).replace("\\", "/").rsplit("/", 1)[-1], first)
            return first
        current = current.__cause__ or current.__context__
    return None


# ENOSPC: the disk is full; EDQUOT: the user's disk quota is (a Space's storage tiers are quotas).
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
DISK_FULL = (
    "the server's disk is full, so this could not be finished; try again later (deleting songs from your "
    "Library frees room too)."
)


def disk_is_full(exc: BaseException) -> bool:
    """Whether ``exc``, or what caused it, is the operating system saying the disk is full."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _DISK_FULL:
            return True
        current = current.__cause__ or current.__context__
    return False


def report_unexpected(exc: BaseException) -> str:
    """Log with a short id and return the sentence the visitor sees: the exception's own advice when it
    has some (issue 17.9: "wrong shapes, bad weights" said nothing else), the id to report either way.
    A full disk is no fault of the visitor's request nor a bug to report: any write (staging, the MP3,
    a zip, gradio's cache) can meet it, so it gets its own sentence wherever it was raised."""
    if disk_is_full(exc):
        log.error("the disk is full: %s", exc)
        return DISK_FULL[0].upper() + DISK_FULL[1:]
    error_id = secrets.token_hex(4)
    log.error("unexpected error %s: %s", error_id, exc, exc_info=exc)
    advice = actionable_sentence(exc)
    if advice:
        return f"{advice.rstrip('.')}. (Error id {error_id}; if it keeps happening, report the id.)"
    return (
        f"Something went wrong on our side (error id {error_id}). Please try again; if it keeps happening, "
        f"report the id."
    )


def visitor_sentence(exc: BaseException) -> str:
    """What a visitor reads about ``exc`` when a handler shows it itself instead of raising."""
    if isinstance(exc, gr.Error):
        return for_visitors(with_hint(str(exc.message)))
    if isinstance(exc, StudioError):
        return for_visitors(str(exc))
    return report_unexpected(exc)


def user_errors(fn: F) -> F:
    """Wrap a handler: StudioError -> gr.Error(message); anything unexpected -> logged + short id."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except gr.Error as exc:
            raise gr.Error(for_visitors(with_hint(str(exc.message))), title=exc.title) from None
        except Cancelled as exc:
            raise gr.Error(for_visitors(str(exc)), title="Stopped", print_exception=False) from None
        except StudioError as exc:  # plain text: API clients read it verbatim (paths only where it is their server)
            raise gr.Error(for_visitors(str(exc)), print_exception=False) from None
        except Exception as exc:
            raise gr.Error(report_unexpected(exc)) from None

    return wrapper  # type: ignore[return-value]
