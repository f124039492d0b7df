"""The request as it will run: the one value carried from a form to the GPU worker."""

from __future__ import annotations

from dataclasses import dataclass

from backends.base import BackendSpec, RenderJob
from studio import registry
from studio.budget import Preflight, Reservation
from studio.editing import EditFields
from studio.song import SongRequest


@dataclass(frozen=True)
class Prepared:
    """A request checked against its backend (lyrics formatted, seeds drawn, the source decoded) and,
    once priced, the budget guard's decision with its reservation.

    It crosses into the ZeroGPU worker as a pickled argument (``spaces`` forks a worker and pickles
    the GPU function's arguments), so it holds data only: the backend is named, not held."""

    request: SongRequest  # as it will run: lightened by the guard when it asked to fit (``fitted``)
    job: RenderJob  # what the backend receives: formatted text, duration, seeds, options, source
    edit: EditFields | None = None  # an editing task's checked fields (None: a new song)
    warnings: tuple[str, ...] = ()
    fitted: str | None = None  # the guard's sentence saying how it lightened the request
    decision: Preflight | None = None  # None: not priced (no cost figures here and nothing limits it)

    @property
    def spec(self) -> BackendSpec:
        return registry.get_spec(self.request.backend)

    @property
    def reservation(self) -> Reservation | None:
        return self.decision.reservation if self.decision is not None else None

    @property
    def task(self) -> str:
        return self.edit.task if self.edit is not None else "text2music"

    @property
    def seeds(self) -> list[int]:
        return list(self.job.seeds)
