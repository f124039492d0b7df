"""Small, hand-checkable Capabilities for budget tests."""

from __future__ import annotations

from backends.base import Capabilities, CostModel, StageCost
from studio.ground.vocabulary import DeviceClass, Input, LyricDialect

# One diffusion backend with round numbers: load 10 s, 0.01 s per step per audio second,
# decode 0.05 s per audio second plus 1 s.
DIFFUSION = CostModel(
    frame_rate_hz=5.0,
    stages={
        "load": StageCost(fixed=10.0, source="test"),
        "plan": StageCost(fixed=1.0, per_frame=0.02, source="test"),
        "plan:0.6B": StageCost(fixed=0.5, per_frame=0.01, source="test"),
        "diffusion": StageCost(fixed=0.0, per_step_per_audio_second=0.01, source="test"),
        "decode": StageCost(fixed=1.0, per_audio_second=0.05, source="test"),
    },
)
# An autoregressive one: 25 frames/s at 0.04 s per frame (RTF 1.0) plus decode 0.1 s per second.
AUTOREGRESSIVE = CostModel(
    frame_rate_hz=25.0,
    stages={
        "load": StageCost(fixed=10.0, source="test"),
        "lm": StageCost(fixed=0.0, per_frame=0.04, source="test"),
        "decode": StageCost(fixed=0.0, per_audio_second=0.1, source="test"),
    },
)
# A fast one, for "a faster backend would fit".
FAST = CostModel(
    stages={
        "load": StageCost(fixed=2.0, source="test"),
        "decode": StageCost(per_audio_second=0.1, source="test"),
    },
)


def make_caps(
    name: str = "diffy",
    cost: CostModel = DIFFUSION,
    *,
    devices: tuple[DeviceClass, ...] = (DeviceClass.ZEROGPU, DeviceClass.CUDA, DeviceClass.CPU),
    max_duration_s: float = 240.0,
    tasks: tuple[str, ...] = ("text2music", "repaint"),
) -> Capabilities:
    return Capabilities(
        name=name,
        display_name=name.title(),
        summary="test backend",
        inputs=frozenset({Input.STYLE, Input.LYRICS, Input.DURATION}),
        min_duration_s=10.0,
        max_duration_s=max_duration_s,
        default_duration_s=60.0,
        sample_rate=48000,
        channels=2,
        lyric_dialect=LyricDialect.ACESTEP,
        max_lyrics_chars=4000,
        max_style_chars=500,
        devices=devices,
        dtype_per_device={d: "float32" for d in devices},
        vram_gb=1.0,
        licence="MIT",
        default_weights="test/none",
        weights_env="TEST_WEIGHTS",
        tasks=tasks,
        cost={d: cost for d in devices},
        planner_sizes=("0.6B", "1.7B", "4B"),
    )
