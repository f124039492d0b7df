"""Peak tensor memory of a block of torch code, on any device, to check the memory figures.

On CUDA the allocator keeps the figure (``torch.cuda.max_memory_allocated``); a CPU has no such
counter, so this counts the bytes of every tensor storage that torch ops create inside the block
and releases them as their tensors die, like an allocator would (without its rounding and caching).
Tensors that existed before the block (the weights) are not counted.
"""

from __future__ import annotations

import weakref
from typing import Any


def _tracker_class() -> type:
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_flatten

    class _Tracker(TorchDispatchMode):
        def __init__(self) -> None:
            super().__init__()
            self.live: dict[int, list[int]] = {}  # storage address -> [bytes, live tensors]
            self.now = 0
            self.peak = 0

        def _release(self, key: int) -> None:
            entry = self.live.get(key)
            if entry is None:
                return
            entry[1] -= 1
            if entry[1] == 0:
                self.now -= entry[0]
                del self.live[key]

        def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            out = func(*args, **(kwargs or {}))
            for item in tree_flatten(out)[0]:
                if not isinstance(item, torch.Tensor) or item.device.type == "meta":
                    continue
                storage = item.untyped_storage()
                key = storage.data_ptr()
                if key == 0:
                    continue
                entry = self.live.get(key)
                if entry is None:
                    self.live[key] = [storage.nbytes(), 1]
                    self.now += storage.nbytes()
                    self.peak = max(self.peak, self.now)
                else:
                    entry[1] += 1  # a view, or an in-place op returning its input
                weakref.finalize(item, self._release, key)
            return out

    return _Tracker


class PeakMemory:
    """``with PeakMemory() as p: ...`` then ``p.peak_gb``: the most bytes live at once inside."""

    def __init__(self) -> None:
        self._mode = _tracker_class()()

    def __enter__(self) -> PeakMemory:
        self._mode.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._mode.__exit__(*exc)

    @property
    def peak_bytes(self) -> int:
        return self._mode.peak

    @property
    def peak_gb(self) -> float:
        return self._mode.peak / 2**30
