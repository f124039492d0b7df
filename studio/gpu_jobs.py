"""The GPU-bound work of the app, sized by the budget guard.

On ZeroGPU ``render_takes`` runs inside ``spaces.GPU(duration=<the guard's reservation>)``: the
duration callable receives the same arguments, the run stops cleanly before the reservation ends,
and an aborted task is retried once with more time when the quota allows. Elsewhere it runs
directly, limited only by ``STUDIO_TIME_LIMIT`` when a maintainer sets one.
"""

from __future__ import annotations

from backends.base import ProgressFn, StudioError, Take, no_progress
from studio.budget import Reservation
from studio.budget.zerogpu import gpu_task
from studio.service import Studio, plan
from studio.song import SongRequest

STUDIO = Studio()


def reservation_for(request: SongRequest, tier: str | None = None, **_: object) -> Reservation:
    """Refuse before spending quota when the request cannot fit; the message says what would."""
    decision = plan(request, tier)
    if not decision.ok:
        raise StudioError(decision.message)
    return decision.reservation


@gpu_task(plan=reservation_for)
def render_takes(
    request: SongRequest,
    tier: str | None = None,
    progress: ProgressFn = no_progress,
    *,
    budget: Reservation,
) -> list[Take]:
    """Render in the GPU worker and return CPU arrays (results cross a process boundary)."""
    _, takes, _ = STUDIO.render(request, progress=progress, budget=budget)
    return takes
