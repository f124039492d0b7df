"""The lyric check's Whisper stage, priced and calibrated by the budget guard like any model stage.

The check runs after the GPU window, in the calling process (DESIGN.md: only model work belongs in
the window), so it spends no ZeroGPU quota; what it costs is the visitor's wait, which the estimate
beside Generate includes, and the seeds below are replaced by this machine's own measurements as
takes are checked (``record``). On ZeroGPU that process has no GPU of its own: Whisper runs on its
CPU there, and is priced as such (``where``).
"""

from __future__ import annotations

from backends.base import Capabilities, CostModel, StageCost
from backends.plan_input import PlanInput
from studio.ground.vocabulary import DeviceClass
from studio.quality.asr import ASR_DOWNLOAD_GB, ASR_MODEL_ENV, DEFAULT_ASR_MODEL, where

CHECK_TASK = "lyric-check"
STAGE = "transcribe"

# SYSTRAN/faster-whisper issue #1030 (and deepdml/faster-whisper-large-v3-turbo-ct2 discussion #3, which
# names the card, an RTX 2080 Ti): openai/whisper-turbo in fp16 transcribed 13 min of audio in 39 s,
# 0.05 s per audio second. Word timestamps add a cross-attention DTW pass per window: x1.5, an
# assumption. MPS and CPU follow the studio's usual extrapolation of CUDA seeds (studio.budget.costs:
# x4 and x40), here on a model a tenth the size of the song models, so they err long.
_SRC = "faster-whisper#1030: whisper-turbo fp16 13 min of audio in 39 s on an RTX 2080 Ti; x1.5 for word timestamps"
_CUDA_S_PER_AUDIO_S = 39 / (13 * 60) * 1.5
_LOAD = StageCost(fixed=3.0, source=f"assumption: {ASR_DOWNLOAD_GB} GB of fp16 weights read at ~1 GB/s plus "
                                    "the pipeline's set-up")


def _cost(per_audio_second: float, note: str) -> CostModel:
    return CostModel(stages={
        "load": _LOAD,
        STAGE: StageCost(fixed=0.5, per_audio_second=per_audio_second, source=f"{_SRC}; {note}"),
    })


ASR_COST: dict[DeviceClass, CostModel] = {
    DeviceClass.CUDA: _cost(_CUDA_S_PER_AUDIO_S, "as measured there"),
    DeviceClass.MPS: _cost(_CUDA_S_PER_AUDIO_S * 4, "x4 of CUDA as for every MPS seed"),
    DeviceClass.CPU: _cost(_CUDA_S_PER_AUDIO_S * 40, "x40 of CUDA as for every CPU seed"),
}

# The budget guard and the calibration read a Capabilities: the checker declares one, as the stem
# separator does (the song fields are unused).
LYRIC_CHECKER = Capabilities.of_stage(
    name="whisper",
    display_name="Whisper lyric check",
    summary="Hears the words each take sings and aligns them to the lyric lines.",
    min_duration_s=0.1,
    max_duration_s=3600.0,
    sample_rate=16_000,
    channels=1,
    devices=(DeviceClass.CUDA, DeviceClass.MPS, DeviceClass.CPU),
    vram_gb=2.0,
    licence="MIT",
    default_weights=DEFAULT_ASR_MODEL,
    weights_env=ASR_MODEL_ENV,
    tasks=(CHECK_TASK,),
    cost=ASR_COST,
)


def plan_input(seconds: float) -> PlanInput:
    return PlanInput(duration_s=max(seconds, 0.01), task=CHECK_TASK)


def estimate_s(seconds: float, takes: int = 1, *, loaded: bool = False) -> float:
    """Seconds the lyric check of ``takes`` takes of ``seconds`` each adds to the wait, on ``where()``,
    from the seeds or this device's calibration; loading counts once, unless Whisper is loaded."""
    from studio.budget.estimate import estimate
    from studio.request.pricing import calibration

    info = where()
    priced = estimate(LYRIC_CHECKER, plan_input(seconds), info.kind, calibration().for_device(info.name))
    load = priced.stages.get("load", 0.0)
    return (0.0 if loaded else load) + takes * (priced.total_s - load)


def record(seconds: float, measured: dict[str, float]) -> None:
    """Feed one take's measured stage times (``transcribe``, and ``load`` when it loaded) to the
    calibration, in the calling process."""
    from studio.request.pricing import calibration

    info = where()
    model = ASR_COST.get(info.kind)
    if model is not None:
        calibration().record(LYRIC_CHECKER.name, info.name, model, plan_input(seconds), measured)
