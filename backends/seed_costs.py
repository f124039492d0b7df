"""How backends declare their seed costs: the shared arithmetic, kept apart from any one backend.

Every figure a backend declares (``backends/<name>/costs.py``) is a *seed*: derived from a published
speed and marked with where it came from, so a reader can judge it. Calibration
(``studio.budget.calibration``) replaces them with measurements from this machine as songs are
generated. The ZeroGPU figures assume a slice at least as fast as an A100 (an H200 MIG 3g.71gb slice);
on the slower Blackwell "large" slice the estimator scales uncalibrated figures by the scheduler's own
duration factor.

Stage names follow ``backends.base.CostModel``: ``load`` (weights to the device: on ZeroGPU the
worker moves packed weights at the start of every fresh task), ``plan`` (a 5 Hz LM planner;
``plan:<size>`` for a specific planner size), ``lm`` (autoregressive frames), ``diffusion`` (DiT
steps, cost ~ steps x audio seconds), ``decode`` (VAE / codec).
"""

from __future__ import annotations

from backends.base import CostModel, StageCost
from studio.ground.vocabulary import DeviceClass

# How much slower than the ZeroGPU / A100-class reference each local class is assumed to be when
# no published figure exists for it. Consumer CUDA cards are seeded from their own published
# figures where there are some; MPS and CPU are extrapolations and say so.
MPS_VS_CUDA = 4.0
CPU_VS_CUDA = 40.0

LOAD_SRC = "not published: weights size / ~1.5 GB/s host-to-device plus warm-up, an assumption"


def planner_load_stage(size: str) -> str:
    """The cost stage of moving one planner size's weights to the device (not packed by spaces on
    ZeroGPU: only the default pipeline is, so a fresh worker reads the planner from disk)."""
    return f"load:planner-{size}"


def scaled(cost: StageCost, factor: float, note: str) -> StageCost:
    return StageCost(
        fixed=cost.fixed * factor,
        per_step_per_audio_second=cost.per_step_per_audio_second * factor,
        per_audio_second=cost.per_audio_second * factor,
        per_frame=cost.per_frame * factor,
        source=f"{cost.source}; {note}",
    )


def local_classes(cuda: CostModel) -> dict[DeviceClass, CostModel]:
    """MPS and CPU extrapolated from the CUDA figures (loading is disk-bound, so not scaled)."""
    out: dict[DeviceClass, CostModel] = {DeviceClass.CUDA: cuda}
    for device, factor in ((DeviceClass.MPS, MPS_VS_CUDA), (DeviceClass.CPU, CPU_VS_CUDA)):
        stages = {
            name: cost
            if name.partition(":")[0] == "load"
            else scaled(cost, factor, f"x{factor:g} extrapolated for {device.value}")
            for name, cost in cuda.stages.items()
        }
        out[device] = CostModel(stages=stages, frame_rate_hz=cuda.frame_rate_hz)
    return out
