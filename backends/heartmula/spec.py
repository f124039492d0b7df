"""HeartMuLa's entry for the registry: the declaration (declaration.py) with the calls that import the backend's
own modules when they run (load, prefetch, the job check)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from backends.base import Backend, BackendSpec
from backends.heartmula.declaration import CAPABILITIES, WEIGHTS, HeartMuLaOptions, availability
from studio import settings


def _load(weights: str | None = None, device: Any = None, *, low_memory: bool = False, **_: Any) -> Backend:
    """The registry's loader call: ``device`` is a ``studio.devices.DeviceInfo`` (or None = detect)."""
    from backends.heartmula.backend import load
    from studio import devices

    return load(weights=weights, device=devices.as_device_info(device), low_memory=low_memory)


def _check_job(job) -> None:
    from backends.heartmula.limits import check_job

    check_job(job)


def _prefetch(options: BaseModel, task: str) -> None:
    """The LM, codec, tokenizer and generation config the loader opens (backends/heartmula/weights.py:
    its own patterns), into the cache before the GPU is asked for."""

    from backends.heartmula.weights import resolve_files

    resolve_files(settings.HEARTMULA_WEIGHTS.get())



SPEC = BackendSpec(
    capabilities=CAPABILITIES,
    options=HeartMuLaOptions,
    availability=availability,
    loader=_load,
    weights=WEIGHTS,
    check_job=_check_job,
    prefetch=_prefetch,
)
