"""HeartMuLa's declaration: capabilities, options and availability. Imports no model code."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from backends.base import (
    Availability,
    Backend,
    BackendSpec,
    Capabilities,
    DeviceClass,
    Input,
    LyricDialect,
)
from studio.budget.costs import SEED_COSTS

WEIGHTS_ENV = "STUDIO_HEARTMULA_WEIGHTS"
DEFAULT_WEIGHTS = "HeartMuLa/HeartMuLa-oss-3B-happy-new-year"

# LM dtype per device class; the codec runs in float32 everywhere (upstream warns that bf16
# degrades the audio). MPS bf16 needs macOS 14+; not yet measured on Apple hardware.
LM_DTYPE: dict[DeviceClass, str] = {
    DeviceClass.ZEROGPU: "bfloat16",
    DeviceClass.CUDA: "bfloat16",
    DeviceClass.MPS: "bfloat16",
    DeviceClass.CPU: "float32",
}
CODEC_DTYPE = "float32"

# Upstream's example caps songs at 240 000 ms; the LM may end earlier on its own (EOS).
MAX_DURATION_S = 240.0



class HeartMuLaOptions(BaseModel):
    """Sampling controls (upstream's defaults) and the memory strategy."""

    model_config = ConfigDict(extra="forbid")

    cfg: float = Field(1.5, ge=1.0, le=10.0, description="Classifier-free guidance scale; 1.0 turns it off.")
    temperature: float = Field(1.0, gt=0.0, le=2.0, description="Sampling temperature of the audio tokens.")
    top_k: int = Field(50, ge=1, le=8197, description="Sample among the k most likely tokens (1 = greedy).")
    low_memory: bool | None = Field(
        None,
        description="Free the LM before loading the codec (and the codec afterwards). "
        "None decides from free accelerator memory.",
    )


def availability() -> Availability:
    missing = [m for m in ("torch", "tokenizers", "safetensors") if importlib.util.find_spec(m) is None]
    if missing:
        return Availability.no(
            f"HeartMuLa needs the Python packages {', '.join(missing)}; "
            "install them (scripts/setup.sh) to use it."
        )
    folder = os.environ.get(WEIGHTS_ENV)
    if folder and not Path(folder).is_dir():
        return Availability.no(
            f"{WEIGHTS_ENV} points to {folder}, which is not a folder; fix the path or unset it to download."
        )
    return Availability.yes()


def _load(weights: str | None = None, device: Any = None, *, low_memory: bool = False, **_: Any) -> Backend:
    """The registry's loader call: ``device`` is a ``studio.devices.DeviceInfo`` (or None = detect)."""
    from backends.heartmula.backend import load
    from studio import devices

    return load(weights=weights, device=devices.as_device_info(device), low_memory=low_memory)


CAPABILITIES = Capabilities(
    name="heartmula",
    display_name="HeartMuLa 3B",
    family="heartmula",
    summary="Autoregressive 3B song model with lyrics and tags; 48 kHz stereo through HeartCodec.",
    inputs=frozenset(
        {Input.STYLE, Input.LYRICS, Input.INSTRUMENTAL, Input.DURATION, Input.SEED, Input.TAKES}
    ),
    min_duration_s=10.0,
    max_duration_s=MAX_DURATION_S,
    default_duration_s=120.0,
    sample_rate=48000,
    channels=2,
    lyric_dialect=LyricDialect.HEARTMULA,
    dumps_tokens=True,
    # Prompt and song share the backbone's 8192 positions; 240 s uses 3001 of them.
    max_lyrics_chars=6000,
    max_style_chars=512,
    devices=(DeviceClass.ZEROGPU, DeviceClass.CUDA, DeviceClass.MPS, DeviceClass.CPU),
    dtype_per_device=LM_DTYPE,
    # Estimate: ~3.9B LM parameters in bf16 (7.9 GB) plus the 1.66B codec in fp32 (6.6 GB) and caches.
    vram_gb=16.0,
    licence="Apache-2.0",
    default_weights=DEFAULT_WEIGHTS,
    weights_env=WEIGHTS_ENV,
    duration_follows_lyrics=True,
    cost=SEED_COSTS["heartmula"],
)

def _prefetch(options: BaseModel, task: str) -> None:
    """The LM, codec, tokenizer and generation config the loader opens (backends/heartmula/weights.py:
    its own patterns), into the cache before the GPU is asked for."""
    import os

    from backends.heartmula.weights import resolve_files

    resolve_files(os.environ.get(WEIGHTS_ENV) or None)


SPEC = BackendSpec(
    capabilities=CAPABILITIES, options=HeartMuLaOptions, availability=availability, loader=_load,
    prefetch=_prefetch,
)
