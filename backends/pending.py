"""Backends declared before their ports land, so every surface can list them and say why not.

Each entry is replaced by the family's own ``spec.py`` once its port is in the tree.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from backends.base import (
    Availability,
    BackendSpec,
    BackendUnavailable,
    Capabilities,
    DeviceClass,
    LyricDialect,
)


class NoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _pending(caps: Capabilities, reason: str) -> BackendSpec:
    def loader(**_: object):
        raise BackendUnavailable(f"{caps.display_name} cannot run here: {reason}")

    return BackendSpec(capabilities=caps, options=NoOptions, availability=lambda: Availability.no(reason),
                       loader=loader)


_GPU = (DeviceClass.ZEROGPU, DeviceClass.CUDA, DeviceClass.MPS, DeviceClass.CPU)
_DTYPES = {DeviceClass.ZEROGPU: "bfloat16", DeviceClass.CUDA: "bfloat16", DeviceClass.MPS: "float32",
           DeviceClass.CPU: "float32"}

LEVO2 = _pending(
    Capabilities(
        name="levo2", display_name="LeVo 2 (SongGeneration 2)", family="SongGeneration",
        summary="Premium-quality full songs; length follows the lyrics.",
        inputs=frozenset(), min_duration_s=10, max_duration_s=270, default_duration_s=120,
        sample_rate=48_000, channels=2, lyric_dialect=LyricDialect.LEVO2, max_lyrics_chars=4096,
        max_style_chars=512, devices=_GPU, dtype_per_device=_DTYPES, vram_gb=22.0,
        licence="Tencent SongGeneration licence (non-commercial)",
        licence_note="LeVo 2 is licensed for academic, research and education use only.",
        commercial_use=False, default_weights="lglg666/SongGeneration-v2-large",
        weights_env="STUDIO_LEVO2_WEIGHTS", duration_follows_lyrics=True,
    ),
    "our port of LeVo 2 to the studio's stack is not in this build yet; pick ACE-Step.",
)

HEARTMULA = _pending(
    Capabilities(
        name="heartmula", display_name="HeartMuLa 3B", family="HeartMuLa",
        summary="Alternate voice: autoregressive song model with its own codec.",
        inputs=frozenset(), min_duration_s=10, max_duration_s=240, default_duration_s=120,
        sample_rate=48_000, channels=2, lyric_dialect=LyricDialect.HEARTMULA, max_lyrics_chars=4096,
        max_style_chars=512, devices=_GPU, dtype_per_device=_DTYPES, vram_gb=16.0, licence="Apache-2.0",
        default_weights="HeartMuLa/HeartMuLa-oss-3B-happy-new-year", weights_env="STUDIO_HEARTMULA_WEIGHTS",
    ),
    "our port of HeartMuLa to the studio's stack is not in this build yet; pick ACE-Step.",
)
