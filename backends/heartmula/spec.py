"""HeartMuLa's entry for the registry: the declaration (declaration.py) with the calls that import the backend's
own modules when they run (load, prefetch, the job check)."""

from __future__ import annotations

from pydantic import BaseModel

from backends.base import BackendSpec
from backends.heartmula.declaration import CAPABILITIES, WEIGHTS, HeartMuLaOptions, availability
from studio import settings


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
    loader="backends.heartmula.backend:load_backend",
    weights=WEIGHTS,
    check_job=_check_job,
    prefetch=_prefetch,
)
