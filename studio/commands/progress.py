"""One line of progress on stderr, shared by the commands that render (generate) and split (stems)."""

from __future__ import annotations

from studio.budget.deadline import eta_of, eta_text
from studio.ground.progress import ProgressEvent


def progress_line(event: ProgressEvent) -> str:
    """``[lm] frame 12 · about 40 s left``: the stage, its detail and the budget guard's ETA."""
    detail = event.message or (f"{event.done}/{event.total}" if event.total else "")
    eta = eta_text(eta_of(event))
    return f"[{event.stage}] {detail}" + (f" · {eta}" if eta else "")
