"""Seed cost figures per backend and device class, kept as data.

Every figure here is a *seed*: derived from a published speed and marked with where it came from,
so a reader can judge it. Calibration (``studio.budget.calibration``) replaces them with
measurements from this machine as songs are generated. The ZeroGPU figures assume a slice at least
as fast as an A100 (an H200 MIG 3g.71gb slice); on the slower Blackwell "large" slice the
estimator scales uncalibrated figures by the scheduler's own duration factor.

Stage names follow ``backends.base.CostModel``: ``load`` (weights to the device: on ZeroGPU the
worker moves packed weights at the start of every fresh task), ``plan`` (ACE-Step's 5 Hz LM;
``plan:<size>`` for a specific planner size), ``lm`` (autoregressive frames), ``diffusion`` (DiT
steps, cost ~ steps x audio seconds), ``decode`` (VAE / codec).
"""

from __future__ import annotations

from backends.base import CostModel, DeviceClass, StageCost

# How much slower than the ZeroGPU / A100-class reference each local class is assumed to be when
# no published figure exists for it. Consumer CUDA cards are seeded from their own published
# figures where there are some; MPS and CPU are extrapolations and say so.
_MPS_VS_CUDA = 4.0
_CPU_VS_CUDA = 40.0

_ACESTEP_SRC = (
    "ACE-Step 1.5 README: a full song (240 s, turbo, 8 steps) in under 2 s on an A100 and under 10 s "
    "on an RTX 3090, 0.5-10 s on an A100 depending on the LM 'think' mode; doubled for the XL (~4B) "
    "DiT, which the README's figures predate"
)
_ACESTEP_PLAN_SRC = (
    "ACE-Step 1.5 LM planner emits 5 Hz audio codes (~1200 tokens for 240 s) and up to ~8 s on an "
    "A100 with upstream's fast engine; x3 for plain transformers decoding, scaled by parameter count"
)
_LEVO_SRC = (
    "SongGeneration 2 (LeVo 2) report: RTF 0.82 on an H20 with a 25 frames/s LM; split ~85 % LM, "
    "~15 % codec decode"
)
_HEART_SRC = (
    "HeartMuLa: ~16 frames/s generated on an RTX 4090 for a 12.5 frames/s token stream; codec "
    "(flow matching, 20 Euler steps) assumed ~0.1 s per audio second"
)
_LOAD_SRC = "not published: weights size / ~1.5 GB/s host-to-device plus warm-up, an assumption"

# The planner's weights in GB per size (ACE-Step/acestep-5Hz-lm-*): no published file size was found, so
# parameter count x 2 bytes (bf16): 0.6 B -> 1.2, 1.7 B -> 3.4, 4 B -> 8.0. The Simple-mode line in the
# UI and the planner's load stage below both read this table.
PLANNER_GB: dict[str, float] = {"0.6B": 1.2, "1.7B": 3.4, "4B": 8.0}
PLANNER_GB_SOURCE = "estimate: parameter count x 2 bytes (bf16); no published file size found"


def planner_load_stage(size: str) -> str:
    """The cost stage of moving one planner size's weights to the device (not packed by spaces on
    ZeroGPU: only the default pipeline is, so a fresh worker reads the planner from disk)."""
    return f"load:planner-{size}"


def _planner_loads(gb_per_s: float, note: str) -> dict[str, StageCost]:
    return {
        planner_load_stage(size): StageCost(fixed=0.5 + gb / gb_per_s, source=f"{_LOAD_SRC} ({size} planner, "
                                            f"{gb:g} GB: {PLANNER_GB_SOURCE}){note}")
        for size, gb in PLANNER_GB.items()
    }


def _scaled(cost: StageCost, factor: float, note: str) -> StageCost:
    return StageCost(
        fixed=cost.fixed * factor,
        per_step_per_audio_second=cost.per_step_per_audio_second * factor,
        per_audio_second=cost.per_audio_second * factor,
        per_frame=cost.per_frame * factor,
        source=f"{cost.source}; {note}",
    )


def _local_classes(cuda: CostModel) -> dict[DeviceClass, CostModel]:
    """MPS and CPU extrapolated from the CUDA figures (loading is disk-bound, so not scaled)."""
    out: dict[DeviceClass, CostModel] = {DeviceClass.CUDA: cuda}
    for device, factor in ((DeviceClass.MPS, _MPS_VS_CUDA), (DeviceClass.CPU, _CPU_VS_CUDA)):
        stages = {
            name: cost
            if name.partition(":")[0] == "load"
            else _scaled(cost, factor, f"x{factor:g} extrapolated for {device.value}")
            for name, cost in cuda.stages.items()
        }
        out[device] = CostModel(stages=stages, frame_rate_hz=cuda.frame_rate_hz)
    return out


# --- ACE-Step 1.5 XL turbo -------------------------------------------------------------------
# A100: 2 s for 8 steps x 240 s with the 2B DiT -> ~1.2 s diffusion; XL doubles it:
# 2.4 s / (8 * 240) = 1.25e-3 s per step per audio second. VAE decode ~0.6 s per 240 s.
_ACESTEP_ZEROGPU = CostModel(
    frame_rate_hz=5.0,
    stages={
        "load": StageCost(fixed=8.0, source=_LOAD_SRC + " (~10 GB: XL DiT, text encoder, VAE)"),
        # extract / lego / complete run on the XL base weights, a second pipeline of the same size.
        "load:base": StageCost(fixed=8.0, source=_LOAD_SRC + " (XL base, ~10 GB, for extract/lego/complete)"),
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
        "load": StageCost(fixed=15.0, source=_LOAD_SRC + " (from local disk)"),
        "load:base": StageCost(fixed=15.0, source=_LOAD_SRC + " (XL base from local disk)"),
        # 15 s for ~11 GB above: ~0.75 GB/s from a local disk.
        **_planner_loads(0.75, "; from local disk"),
        **{
            name: _scaled(cost, 2.5, "x2.5 for an RTX 3090-class card (README: <10 s vs <2 s)")
            for name, cost in _ACESTEP_ZEROGPU.stages.items()
            if not name.startswith("load")
        },
    },
)

# --- LeVo 2 (SongGeneration 2) ----------------------------------------------------------------
# H20: RTF 0.82 -> LM 0.82 * 0.85 / 25 = 0.0279 s/frame, decode 0.82 * 0.15 = 0.123 s/audio s.
# A ZeroGPU slice has ~half an H200's memory bandwidth (~2.4 TB/s vs the H20's 4 TB/s), and
# decoding one frame at a time is bandwidth-bound, so x1.6 there.
_LEVO_CUDA = CostModel(
    frame_rate_hz=25.0,
    stages={
        "load": StageCost(fixed=20.0, source=_LOAD_SRC + " (from local disk, ~12 GB)"),
        "lm": StageCost(fixed=1.0, per_frame=0.0279, source=_LEVO_SRC),
        "decode": StageCost(fixed=0.5, per_audio_second=0.123, source=_LEVO_SRC),
    },
)
_LEVO_ZEROGPU = CostModel(
    frame_rate_hz=25.0,
    stages={
        "load": StageCost(fixed=10.0, source=_LOAD_SRC + " (~12 GB)"),
        "lm": _scaled(_LEVO_CUDA.stages["lm"], 1.6, "x1.6: ZeroGPU slice bandwidth vs an H20"),
        "decode": _scaled(_LEVO_CUDA.stages["decode"], 1.6, "x1.6: ZeroGPU slice vs an H20"),
    },
)

# --- HeartMuLa 3B -----------------------------------------------------------------------------
# RTX 4090: 16 frames/s -> 1/16 = 0.0625 s per 12.5 Hz frame. Kept as-is on ZeroGPU (the slice
# has more bandwidth than a 4090, so this errs long).
_HEART_CUDA = CostModel(
    frame_rate_hz=12.5,
    stages={
        "load": StageCost(fixed=15.0, source=_LOAD_SRC + " (from local disk, ~8 GB)"),
        "lm": StageCost(fixed=1.0, per_frame=0.0625, source=_HEART_SRC),
        "decode": StageCost(fixed=0.5, per_audio_second=0.10, source=_HEART_SRC),
    },
)
_HEART_ZEROGPU = CostModel(
    frame_rate_hz=12.5,
    stages={
        "load": StageCost(fixed=8.0, source=_LOAD_SRC + " (~8 GB)"),
        "lm": _HEART_CUDA.stages["lm"],
        "decode": _HEART_CUDA.stages["decode"],
    },
)

SEED_COSTS: dict[str, dict[DeviceClass, CostModel]] = {
    "acestep": {DeviceClass.ZEROGPU: _ACESTEP_ZEROGPU, **_local_classes(_ACESTEP_CUDA)},
    "levo2": {DeviceClass.ZEROGPU: _LEVO_ZEROGPU, **_local_classes(_LEVO_CUDA)},
    "heartmula": {DeviceClass.ZEROGPU: _HEART_ZEROGPU, **_local_classes(_HEART_CUDA)},
}

# Diffusion step counts used when a request (or an alternative backend) names none.
DEFAULT_STEPS: dict[str, int] = {"acestep": 8}

# Planner sizes ACE-Step offers, smallest first (fit-to-budget walks down this list).
PLANNER_SIZES: tuple[str, ...] = tuple(PLANNER_GB)
