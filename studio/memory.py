"""Out-of-memory during a render: recognise it, give the memory back, say what to change.

A backend that ran out of memory part-way may hold half-moved weights or cached activations, so the
studio drops it from the cache (the next request loads it again, cleanly) instead of reusing it.
"""

from __future__ import annotations

import gc
import sys

from studio.ground.errors import StudioError


class OutOfMemory(StudioError):
    """The accelerator (or the machine) ran out of memory; the message says what to make smaller."""


def is_out_of_memory(exc: BaseException) -> bool:
    """torch's OutOfMemoryError (CUDA), MPS's RuntimeError wording, or Python's MemoryError."""
    if isinstance(exc, MemoryError):
        return True
    torch = sys.modules.get("torch")
    oom_type = getattr(torch, "OutOfMemoryError", None) if torch is not None else None
    if oom_type is not None and isinstance(exc, oom_type):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def free_accelerator_memory() -> None:
    """Collect garbage and hand cached blocks back to the driver (no-op without an accelerator)."""
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is None:
        return
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    mps = getattr(torch, "mps", None)
    if mps is not None and torch.backends.mps.is_available():
        mps.empty_cache()


def free_accelerator_gb(device: object) -> float | None:
    """Free memory on a CUDA ``device`` in GiB; None elsewhere (on a CPU, or Apple's unified memory,
    moving weights to the host frees nothing to decide on)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    where = torch.device(device)
    if where.type != "cuda":
        return None
    free, _ = torch.cuda.mem_get_info(where)
    return free / 2**30


def out_of_memory_message(what: str, duration_s: float | None = None, takes: int | None = None) -> str:
    asked = []
    if duration_s is not None:
        asked.append(f"{duration_s:g} s")
    if takes:
        asked.append(f"{takes} take" + ("s" if takes != 1 else ""))
    detail = f" ({', '.join(asked)})" if asked else ""
    return (
        f"{what} ran out of memory{detail}; the model was unloaded and the memory freed. Make a shorter "
        "song (`duration`), fewer `takes`, or fewer `steps`, then generate again."
    )
