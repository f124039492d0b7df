"""The backends this studio knows, and the loaded ones.

Specs are cheap (no torch import); ``BackendCache`` loads each backend once per process and
unloads it on request, so the UI, CLI and API share one copy of the weights.
"""

from __future__ import annotations

import importlib
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from backends.base import Backend, BackendSpec
from studio import devices, memory

# Remembered availability lives below the registry (studio.weights asks it too); callers keep asking
# ``registry.availability`` and ``registry.refresh_availability``, so both names are exported here.
from studio.availability import availability as availability
from studio.availability import refresh_availability as refresh_availability
from studio.devices import DeviceInfo
from studio.ground.errors import BackendUnavailable, StudioError
from studio.ground.vocabulary import DeviceClass

DEFAULT_BACKEND = "acestep"

# name -> "module:attribute" of its BackendSpec; order is the order users see.
SPECS: dict[str, str] = {
    "acestep": "backends.acestep.spec:SPEC",
    "levo2": "backends.levo.spec:SPEC",
    "heartmula": "backends.heartmula.spec:SPEC",
}


def names() -> list[str]:
    return list(SPECS)


def get_spec(name: str) -> BackendSpec:
    target = SPECS.get(name)
    if target is None:
        raise StudioError(f"unknown backend {name!r}; choose one of {', '.join(SPECS)}.")
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)


def all_specs() -> list[BackendSpec]:
    return [get_spec(n) for n in SPECS]


def available_specs() -> list[BackendSpec]:
    return [s for s in all_specs() if availability(s).ok]


def require_available(spec: BackendSpec) -> None:
    state = availability(spec)
    if not state.ok:
        others = [s.capabilities.display_name for s in all_specs() if s is not spec and availability(s).ok]
        hint = f" Available here: {', '.join(others)}." if others else ""
        raise BackendUnavailable(f"{spec.capabilities.display_name} cannot run here: {state.reason}{hint}")


def memory_to_load_gb(spec: BackendSpec, info: DeviceInfo, available_gb: float) -> float | None:
    """Accelerator memory ``spec`` needs to load and make a default-length song on ``info``, lightened
    as far as it can be (tiled decode, offload where the device allows); None: not budgeted."""
    from backends.memory_plan import Lightening, plan_memory
    from backends.plan_input import PlanInput

    caps = spec.capabilities
    allowed = (Lightening.TILED_DECODE,) if info.kind is DeviceClass.MPS else None
    plan = plan_memory(caps, PlanInput(duration_s=caps.default_duration_s), available_gb,
                       dtype=info.dtype_name(caps.dtype_per_device, caps.dtype_without_bf16), allowed=allowed)
    return plan.estimate.peak_gb if plan is not None else None


# Every live cache of this process, for load_due off ZeroGPU (studio.worker_state); weak: a dropped Studio
# and its models do not linger here.
_CACHES: weakref.WeakSet[BackendCache] = weakref.WeakSet()


def held_in_process(name: str) -> bool:
    """Whether a backend cache of this process holds ``name`` loaded (its next run loads nothing)."""
    return any(name in cache.loaded() for cache in list(_CACHES))


class BackendCache:
    """One loaded copy per backend; a request for other weights replaces the loaded copy.

    Backends share the accelerator: before loading one, the least recently used others are unloaded
    until the free memory holds what the memory budget says the new one needs (backends.memory_plan).
    """

    def __init__(self) -> None:
        # Least recently used first.
        self._loaded: OrderedDict[str, Backend] = OrderedDict()
        self._lock = threading.RLock()
        self.evicted: list[str] = []  # names unloaded to make room, oldest first (the System view, tests)
        _CACHES.add(self)

    def get(
        self,
        name: str,
        weights: str | None = None,
        *,
        device: DeviceInfo | None = None,
        on_progress: Callable[[str], None] | None = None,
        **load_options: Any,
    ) -> Backend:
        """``load_options`` are backend-specific loader arguments (e.g. LeVo's ``runtime``)."""
        spec = get_spec(name)
        require_available(spec)
        info = devices.as_device_info(device)
        with self._lock:
            current = self._loaded.get(name)
            if current is not None and (weights is None or current.weights == weights):
                self._loaded.move_to_end(name)
                return current
            if current is not None:
                self.unload(name)
            self._make_room(spec, info, on_progress)
            backend = spec.load(weights=weights, device=info, on_progress=on_progress, **load_options)
            self._loaded[name] = backend
            return backend

    def _make_room(self, spec: BackendSpec, info: DeviceInfo, on_progress: Callable[[str], None] | None) -> None:
        """Unload the least recently used backends while the next one would not fit beside them."""
        while self._loaded:
            free = memory.free_accelerator_gb(info.torch_device)
            if free is None:
                return  # no reading (a CPU, Apple's unified memory): nothing to decide on
            need = memory_to_load_gb(spec, info, free)
            if need is None or need <= free:
                return
            oldest = next(iter(self._loaded))
            if on_progress is not None:
                on_progress(f"unloading {get_spec(oldest).capabilities.display_name} to make room "
                            f"({free:.1f} GB free, {spec.capabilities.display_name} needs about {need:.1f} GB)")
            self.unload(oldest)
            self.evicted.append(oldest)
            memory.free_accelerator_memory()

    def loaded(self) -> dict[str, Backend]:
        with self._lock:
            return dict(self._loaded)

    def unload(self, name: str) -> bool:
        with self._lock:
            backend = self._loaded.pop(name, None)
        if backend is None:
            return False
        backend.unload()
        return True

    def unload_all(self) -> None:
        for name in list(self._loaded):
            self.unload(name)
