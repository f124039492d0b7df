"""LeVo 2's entry for the registry: the declaration (declaration.py) with the calls that import the backend's own
modules when they run (load, prefetch)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from backends.base import Backend, BackendSpec
from backends.levo.declaration import CAPABILITIES, WEIGHTS, LevoOptions, availability


def _load(
    weights: str | None = None,
    device: Any = None,
    *,
    runtime: str | None = None,
    low_memory: bool | None = None,
    **_: Any,
) -> Backend:
    """The registry's loader call: ``device`` is a ``studio.devices.DeviceInfo`` (or None = detect)."""
    from backends.levo.backend import LevoBackend
    from studio import devices

    return LevoBackend.load(weights=weights, runtime=runtime, device=devices.as_device_info(device),
                            low_memory=low_memory)


def _prefetch(options: BaseModel, task: str) -> None:
    """The checkpoint and runtime files the loader opens (backends/levo/loading.py: the model's two files,
    then the runtime files its config.yaml names), into the cache before the GPU is asked for."""
    from backends.levo.loading import resolve_model, resolve_runtime

    resolve_runtime(model_dir=resolve_model())


SPEC = BackendSpec(
    capabilities=CAPABILITIES,
    options=LevoOptions,
    availability=availability,
    loader=_load,
    prefetch=_prefetch,
    weights=WEIGHTS,
)
