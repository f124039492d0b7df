"""LeVo 2's seed costs per device class, declared once here and read by the budget through
``Capabilities.cost`` (see ``backends.seed_costs`` for what a seed is)."""

from __future__ import annotations

from backends.base import CostModel, StageCost
from backends.seed_costs import LOAD_SRC, local_classes, scaled
from studio.ground.vocabulary import DeviceClass

_LEVO_SRC = (
    "SongGeneration 2 (LeVo 2) report: RTF 0.82 on an H20 with a 25 frames/s LM; split ~85 % LM, ~15 % codec decode"
)
# --- LeVo 2 (SongGeneration 2) ----------------------------------------------------------------
# H20: RTF 0.82 -> LM 0.82 * 0.85 / 25 = 0.0279 s/frame, decode 0.82 * 0.15 = 0.123 s/audio s.
# A ZeroGPU slice has ~half an H200's memory bandwidth (~2.4 TB/s vs the H20's 4 TB/s), and
# decoding one frame at a time is bandwidth-bound, so x1.6 there.
_LEVO_CUDA = CostModel(
    frame_rate_hz=25.0,
    stages={
        "load": StageCost(fixed=20.0, source=LOAD_SRC + " (from local disk, ~12 GB)"),
        "lm": StageCost(fixed=1.0, per_frame=0.0279, source=_LEVO_SRC),
        "decode": StageCost(fixed=0.5, per_audio_second=0.123, source=_LEVO_SRC),
    },
)
_LEVO_ZEROGPU = CostModel(
    frame_rate_hz=25.0,
    stages={
        "load": StageCost(fixed=10.0, source=LOAD_SRC + " (~12 GB)"),
        "lm": scaled(_LEVO_CUDA.stages["lm"], 1.6, "x1.6: ZeroGPU slice bandwidth vs an H20"),
        "decode": scaled(_LEVO_CUDA.stages["decode"], 1.6, "x1.6: ZeroGPU slice vs an H20"),
    },
)

COSTS: dict[DeviceClass, CostModel] = {DeviceClass.ZEROGPU: _LEVO_ZEROGPU, **local_classes(_LEVO_CUDA)}
