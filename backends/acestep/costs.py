"""ACE-Step 1.5 XL turbo's seed costs per device class and its LM planner sizes, declared once here and read
by the budget through ``Capabilities.cost`` and ``Capabilities.planner_sizes`` (see ``backends.seed_costs``
for what a seed is)."""

from __future__ import annotations

from backends.base import CostModel, StageCost
from backends.seed_costs import LOAD_SRC, local_classes, planner_load_stage, scaled
from studio.ground.vocabulary import DeviceClass

_ACESTEP_SRC = (
    "ACE-Step 1.5 README: a full song (240 s, turbo, 8 steps) in under 2 s on an A100 and under 10 s "
    "on an RTX 3090, 0.5-10 s on an A100 depending on the LM 'think' mode; doubled for the XL (~4B) "
    "DiT, which the README's figures predate"
)
_ACESTEP_PLAN_SRC = (
    "ACE-Step 1.5 LM planner emits 5 Hz audio codes (~1200 tokens for 240 s) and up to ~8 s on an "
    "A100 with upstream's fast engine; x3 for plain transformers decoding, scaled by parameter count"
)
# The planner's weights in GB per size (ACE-Step/acestep-5Hz-lm-*): no published file size was found, so
# parameter count x 2 bytes (bf16): 0.6 B -> 1.2, 1.7 B -> 3.4, 4 B -> 8.0. The Simple-mode line in the
# UI and the planner's load stage below both read this table.
PLANNER_GB: dict[str, float] = {"0.6B": 1.2, "1.7B": 3.4, "4B": 8.0}
PLANNER_GB_SOURCE = "estimate: parameter count x 2 bytes (bf16); no published file size found"


# Planner sizes, smallest first (fitting a request to the budget walks down this list).
PLANNER_SIZES: tuple[str, ...] = tuple(PLANNER_GB)


def _planner_loads(gb_per_s: float, note: str) -> dict[str, StageCost]:
    return {
        planner_load_stage(size): StageCost(
            fixed=0.5 + gb / gb_per_s, source=f"{LOAD_SRC} ({size} planner, {gb:g} GB: {PLANNER_GB_SOURCE}){note}"
        )
        for size, gb in PLANNER_GB.items()
    }


# --- ACE-Step 1.5 XL turbo -------------------------------------------------------------------
# A100: 2 s for 8 steps x 240 s with the 2B DiT -> ~1.2 s diffusion; XL doubles it:
# 2.4 s / (8 * 240) = 1.25e-3 s per step per audio second. VAE decode ~0.6 s per 240 s.
_ACESTEP_ZEROGPU = CostModel(
    frame_rate_hz=5.0,
    stages={
        "load": StageCost(fixed=8.0, source=LOAD_SRC + " (~10 GB: XL DiT, text encoder, VAE)"),
        # extract / lego / complete run on the XL base weights, a second pipeline of the same size.
        "load:base": StageCost(fixed=8.0, source=LOAD_SRC + " (XL base, ~10 GB, for extract/lego/complete)"),
        **_planner_loads(1.5, ""),
        "plan": StageCost(fixed=1.5, per_frame=0.020, source=_ACESTEP_PLAN_SRC + " (1.7B, the default)"),
        "plan:0.6B": StageCost(fixed=1.0, per_frame=0.012, source=_ACESTEP_PLAN_SRC + " (0.6B)"),
        "plan:1.7B": StageCost(fixed=1.5, per_frame=0.020, source=_ACESTEP_PLAN_SRC + " (1.7B)"),
        "plan:4B": StageCost(fixed=2.5, per_frame=0.035, source=_ACESTEP_PLAN_SRC + " (4B)"),
        "encode": StageCost(fixed=0.2, per_audio_second=0.0025, source=_ACESTEP_SRC + "; encode ~ decode"),
        "diffusion": StageCost(fixed=0.5, per_step_per_audio_second=1.25e-3, source=_ACESTEP_SRC),
        "decode": StageCost(fixed=0.2, per_audio_second=0.0025, source=_ACESTEP_SRC),
    },
)
# RTX 3090: under 10 s for the same song -> ~2.5x the A100 figures.
_ACESTEP_CUDA = CostModel(
    frame_rate_hz=5.0,
    stages={
        "load": StageCost(fixed=15.0, source=LOAD_SRC + " (from local disk)"),
        "load:base": StageCost(fixed=15.0, source=LOAD_SRC + " (XL base from local disk)"),
        # 15 s for ~11 GB above: ~0.75 GB/s from a local disk.
        **_planner_loads(0.75, "; from local disk"),
        **{
            name: scaled(cost, 2.5, "x2.5 for an RTX 3090-class card (README: <10 s vs <2 s)")
            for name, cost in _ACESTEP_ZEROGPU.stages.items()
            if not name.startswith("load")
        },
    },
)

COSTS: dict[DeviceClass, CostModel] = {DeviceClass.ZEROGPU: _ACESTEP_ZEROGPU, **local_classes(_ACESTEP_CUDA)}
