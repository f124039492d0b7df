"""What the ZeroGPU worker holds, as far as the main process can know, to price the next request.

``spaces`` keeps a GPU worker (a fork of the main process) between tasks while they succeed; a
failed or aborted task makes it fork a fresh one, which must load every backend again
(huggingface/spaces ``spaces/zero/wrappers.py``: the worker is discarded after an error). So a
backend's ``load`` stage is due for the first request, after any failure, and for a backend that
worker never loaded; after a success it is not. Off ZeroGPU the studio's own process renders and
this bookkeeping is not used.
"""

from __future__ import annotations

import threading


class WorkerState:
    def __init__(self) -> None:
        self._loaded: set[str] = set()
        self._lock = threading.Lock()

    def load_due(self, backend: str) -> bool:
        with self._lock:
            return backend not in self._loaded

    def succeeded(self, backend: str) -> None:
        with self._lock:
            self._loaded.add(backend)

    def failed(self) -> None:
        """The next task runs in a fresh worker: nothing is loaded there."""
        with self._lock:
            self._loaded.clear()


WORKER = WorkerState()


def load_due(backend: str) -> bool:
    """Whether a request for ``backend`` will pay its load stage (always, off ZeroGPU)."""
    from studio.devices import on_zerogpu

    return not on_zerogpu() or WORKER.load_due(backend)
