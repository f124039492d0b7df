"""A stand-in for ``spaces`` whose ``GPU`` runs the task in a forked process, as ZeroGPU does.

Facts reproduced (huggingface/spaces, ``spaces/zero/wrappers.py`` and ``spaces/zero/gradio.py``):
the decorated function runs in a worker forked from the main process; its arguments and its
return value cross by pickle; what the worker changes in memory (module globals, caches) never
reaches the main process; ``duration`` may be a callable given the function's own arguments; a
non-gradio exception comes back as a ``gradio.Error`` naming only its class. Here every call forks
a fresh worker, the case after a failed or aborted task.
"""

from __future__ import annotations

import multiprocessing
import pickle
import sys
import traceback
import types
from typing import Any


class ForkingSpaces:
    def __init__(self) -> None:
        self.durations: list[int] = []
        self.forks = 0

    def GPU(self, task=None, *, duration=None, size=None):
        def wrap(fn):
            def handler(*args: Any, **kwargs: Any) -> Any:
                self.durations.append(duration(*args, **kwargs) if callable(duration) else (duration or 60))
                return self._run_forked(fn, args, kwargs)

            return handler

        return wrap if task is None else wrap(task)

    def _run_forked(self, fn, args: tuple, kwargs: dict) -> Any:
        context = multiprocessing.get_context("fork")
        parent_end, child_end = context.Pipe(duplex=False)
        payload = pickle.dumps((args, kwargs))  # what the boundary allows in

        def child() -> None:
            # libgomp's thread team does not survive fork (the parent already ran torch on the CPU):
            # a parallel region in the child waits forever on threads that do not exist. The real
            # worker computes on the GPU; one CPU thread here keeps the fork itself faithful.
            import torch

            torch.set_num_threads(1)
            try:
                call_args, call_kwargs = pickle.loads(payload)
                out = ("ok", fn(*call_args, **call_kwargs))
            except BaseException as exc:  # carried to the parent, as spaces does
                out = ("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
            child_end.send_bytes(pickle.dumps(out))
            child_end.close()

        worker = context.Process(target=child, daemon=True)
        worker.start()
        self.forks += 1
        child_end.close()
        try:
            kind, value = pickle.loads(parent_end.recv_bytes())
        finally:
            worker.join(timeout=60)
        if kind == "error":
            raise RuntimeError(f"the forked GPU task failed: {value}")
        return value


def install(monkeypatch) -> ForkingSpaces:
    """Put a forking ``spaces`` in ``sys.modules`` and switch the studio onto ZeroGPU code paths."""
    fake = ForkingSpaces()
    module = types.ModuleType("spaces")
    module.GPU = fake.GPU
    monkeypatch.setitem(sys.modules, "spaces", module)
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    monkeypatch.setenv("STUDIO_ZEROGPU_SLICE_FACTOR", "1")
    return fake
