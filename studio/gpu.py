"""Imported first by app.py: on ZeroGPU, `spaces` must patch CUDA before torch touches it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from studio.devices import on_zerogpu

try:  # `spaces` is only needed on Hugging Face Spaces; locally it may be absent.
    import spaces
except ImportError:  # pragma: no cover - depends on the install
    spaces = None


def gpu_available_here() -> bool:
    return spaces is not None and on_zerogpu()


def gpu(duration: int | Callable[..., int] = 60) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``@spaces.GPU(duration=...)`` on ZeroGPU, the function unchanged elsewhere."""
    if not gpu_available_here():
        return lambda fn: fn
    return spaces.GPU(duration=duration)
