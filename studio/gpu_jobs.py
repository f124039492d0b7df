"""How much GPU time a request may hold: the budget guard's reservation, or a refusal.

``studio.ui.runner.render_on_gpu`` is wrapped by ``studio.budget.zerogpu.gpu_task`` with this as
its plan: on ZeroGPU the duration handed to ``spaces.GPU`` is the reservation (estimate, margin,
slice factor, tier cap), the run stops cleanly before it ends, and an aborted task is retried
once with more time when the quota allows. Elsewhere it only limits when STUDIO_TIME_LIMIT is set.
"""

from __future__ import annotations

from studio.budget import Reservation
from studio.ground.errors import StudioError
from studio.service import plan
from studio.song import SongRequest


def reservation_for(request: SongRequest, tier: str | None = None) -> Reservation:
    """Refuse before spending quota when the request cannot fit; the message says what would."""
    decision = plan(request, tier)
    if not decision.ok:
        raise StudioError(decision.message)
    return decision.reservation
