"""Errors a person can act on: each message says what to change.

They live in the ground because every layer raises or catches them: a backend refuses a request,
the lyric formatter rejects a text, the budget stops a run, the UI turns them into sentences.
"""

from __future__ import annotations

from typing import Any


class StudioError(Exception):
    """An error the user can act on. The message says what to change."""


class BackendUnavailable(StudioError):
    """The backend cannot run here; the message says why and what would make it run."""

    spends_no_call = True  # refused before any model work: the rate limit is not charged (studio.ratelimit)


class Cancelled(StudioError):
    """The user (or a deadline) stopped the work; partial results are discarded unless allowed."""


class DeadlineExceeded(Cancelled):
    """The run was stopped because the reserved time cannot cover finishing it (``studio.budget.deadline``).

    ``partial`` True means: the visitor accepted a shorter song; return the frames generated so
    far (decoded, with :func:`studio.audio.cut_short.fade_out`) instead of failing."""

    def __init__(
        self,
        message: str,
        *,
        stage: str = "",
        done: int = 0,
        total: int = 0,
        elapsed_s: float = 0.0,
        limit_s: float = 0.0,
        needed_s: float = 0.0,
        partial: bool = False,
    ) -> None:
        super().__init__(message)
        self.stage = stage
        self.done = done
        self.total = total
        self.elapsed_s = elapsed_s
        self.limit_s = limit_s
        self.needed_s = needed_s
        self.partial = partial

    def _fields(self) -> dict[str, Any]:
        keys = ("stage", "done", "total", "elapsed_s", "limit_s", "needed_s", "partial")
        return {k: getattr(self, k) for k in keys}

    def __reduce__(self):  # crosses the ZeroGPU process boundary by pickle
        return (_rebuild, (type(self), str(self), self._fields()))


def _rebuild(cls: type[DeadlineExceeded], message: str, fields: dict[str, Any]) -> DeadlineExceeded:
    return cls(message, **fields)
