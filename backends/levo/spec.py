"""LeVo 2's entry for the registry: the declaration (declaration.py) with the calls that import the backend's own
modules when they run (load, prefetch)."""

from __future__ import annotations

from pydantic import BaseModel

from backends.base import BackendSpec
from backends.levo.declaration import CAPABILITIES, WEIGHTS, LevoOptions, availability


def _prefetch(options: BaseModel, task: str) -> None:
    """The checkpoint and runtime files the loader opens (backends/levo/loading.py: the model's two files,
    then the runtime files its config.yaml names), into the cache before the GPU is asked for."""
    from backends.levo.loading import resolve_model, resolve_runtime

    resolve_runtime(model_dir=resolve_model())


SPEC = BackendSpec(
    capabilities=CAPABILITIES,
    options=LevoOptions,
    availability=availability,
    loader="backends.levo.backend:load_backend",
    prefetch=_prefetch,
    weights=WEIGHTS,
)
