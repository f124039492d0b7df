"""HeartMuLa's seed costs per device class, declared once here and read by the budget through
``Capabilities.cost`` (see ``backends.seed_costs`` for what a seed is)."""

from __future__ import annotations

from backends.base import CostModel, StageCost
from backends.seed_costs import LOAD_SRC, local_classes
from studio.ground.vocabulary import DeviceClass

_HEART_SRC = (
    "HeartMuLa: ~16 frames/s generated on an RTX 4090 for a 12.5 frames/s token stream; codec "
    "(flow matching, 20 Euler steps) assumed ~0.1 s per audio second"
)
# --- HeartMuLa 3B -----------------------------------------------------------------------------
# RTX 4090: 16 frames/s -> 1/16 = 0.0625 s per 12.5 Hz frame. Kept as-is on ZeroGPU (the slice
# has more bandwidth than a 4090, so this errs long).
_HEART_CUDA = CostModel(
    frame_rate_hz=12.5,
    stages={
        "load": StageCost(fixed=15.0, source=LOAD_SRC + " (from local disk, ~8 GB)"),
        "lm": StageCost(fixed=1.0, per_frame=0.0625, source=_HEART_SRC),
        "decode": StageCost(fixed=0.5, per_audio_second=0.10, source=_HEART_SRC),
    },
)
_HEART_ZEROGPU = CostModel(
    frame_rate_hz=12.5,
    stages={
        "load": StageCost(fixed=8.0, source=LOAD_SRC + " (~8 GB)"),
        "lm": _HEART_CUDA.stages["lm"],
        "decode": _HEART_CUDA.stages["decode"],
    },
)

COSTS: dict[DeviceClass, CostModel] = {DeviceClass.ZEROGPU: _HEART_ZEROGPU, **local_classes(_HEART_CUDA)}
