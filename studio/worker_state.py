"""What the ZeroGPU worker holds, as far as the main process can know, to price the next request.

A failed or aborted task makes ``spaces`` fork a fresh GPU worker, which must load every backend
again (DESIGN.md, "ZeroGPU facts"). Whether a worker is kept between successful tasks is not
assumed: each render reports whether its worker already held the backend's weights
(``RawRender.reused_weights``). So a backend's ``load`` stage is due for the first request, after
any failure, and whenever the last task for it had to load; it is left out only after a task
showed that its worker keeps the weights. Off ZeroGPU the studio's own process renders and this
bookkeeping is not used: the load is due while no backend cache of the process holds the model.
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

    def succeeded(self, backend: str, *, worker_kept_weights: bool) -> None:
        with self._lock:
            if worker_kept_weights:
                self._loaded.add(backend)
            else:
                self._loaded.discard(backend)

    def failed(self) -> None:
        """The next task runs in a fresh worker: nothing is loaded there."""
        with self._lock:
            self._loaded.clear()


WORKER = WorkerState()


def load_due(backend: str) -> bool:
    """Whether a request for ``backend`` will pay its load stage: on ZeroGPU as above; elsewhere the studio's
    own process renders, and loads only what it does not hold yet (a held model's run records no load time,
    so pricing one would add a load that never happens)."""
    from studio.devices import on_zerogpu
    from studio.registry import held_in_process

    return WORKER.load_due(backend) if on_zerogpu() else not held_in_process(backend)
