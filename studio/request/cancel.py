"""Stopping a running generation: a file both the caller and a forked GPU worker can see."""

from __future__ import annotations

import secrets
import tempfile
from pathlib import Path

from studio.ground.errors import Cancelled
from studio.ground.progress import ProgressEvent, ProgressFn


class CancelToken:
    """A stop request for one generation. It is a file, not a threading.Event, because on ZeroGPU
    the work runs in a forked worker process that shares the filesystem but not memory."""

    def __init__(self, folder: Path | str | None = None) -> None:
        base = Path(folder or tempfile.gettempdir())
        self.path = base / f".studio-cancel-{secrets.token_hex(12)}"

    def cancel(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch()

    @property
    def cancelled(self) -> bool:
        return self.path.exists()

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def cancellable(progress: ProgressFn, token: CancelToken) -> ProgressFn:
    """A progress callback that raises ``Cancelled`` at the next step once ``token`` is cancelled."""

    def report(event: ProgressEvent) -> None:
        if token.cancelled:
            raise Cancelled(f"stopped during {event.stage}; nothing was saved.")
        progress(event)

    return report
