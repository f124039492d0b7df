"""HeartMuLa's declaration: capabilities, options, weights, dtypes and availability, as data. Imports no model code
and none of the backend's own modules, so each of them may read it (the loader lives in spec.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from backends.base import Availability, Capabilities, MemoryModel, WeightsPart
from backends.heartmula.costs import COSTS
from studio import settings
from studio.ground.vocabulary import DeviceClass, Input, LyricDialect
from studio.lyrics import budgets as lyric_budgets

WEIGHTS_ENV = settings.HEARTMULA_WEIGHTS.name
DEFAULT_WEIGHTS = "HeartMuLa/HeartMuLa-oss-3B-happy-new-year"

# LM dtype per device class; the codec runs in float32 everywhere (upstream warns that bf16
# degrades the audio). MPS bf16 needs macOS 14+; not yet measured on Apple hardware.
LM_DTYPE: dict[DeviceClass, str] = {
    DeviceClass.ZEROGPU: "bfloat16",
    DeviceClass.CUDA: "bfloat16",
    DeviceClass.MPS: "bfloat16",
    DeviceClass.CPU: "float32",
}
# Where bf16 is missing (CUDA below sm_80, MPS before macOS 14): heartlib has no half-precision path but
# bf16 (its example's `--mula_dtype` default is bfloat16, the codec float32), and a bf16-trained LM cast to
# fp16 can overflow, so the LM runs in float32 there rather than in an fp16 upstream never tried.
LM_DTYPE_WITHOUT_BF16: dict[DeviceClass, str] = {
    DeviceClass.CUDA: "float32",
    DeviceClass.MPS: "float32",
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
    folder = settings.HEARTMULA_WEIGHTS.get()
    if folder and not Path(folder).is_dir():
        return Availability.no(
            f"{WEIGHTS_ENV} points to {folder}, which is not a folder; fix the path or unset it to download."
        )
    return Availability.yes()


# Accelerator memory (backends.memory_plan). LM ~3.9 B parameters in bf16 (7.9 GB); HeartCodec
# 1.66 B parameters kept in fp32 (6.6 GB). KV cache of the llama-3B backbone (flavors.py): 2 (k, v) x
# 28 layers x 8 KV heads x 128 x 2 bytes x 2 rows (CFG) = 0.23 MB per position at 12.5 frames per
# second = 0.003 GB/s, plus up to ~1000 prompt positions (0.21 GB); sized per request (generate.py).
# Low-memory mode frees the LM before the codec loads (pipeline.py): the "offload" lightening. The
# codec decodes 29.76 s windows, so its decode does not grow with the length (its working set is an
# assumption: one window's flow-matching pass and 1.4 M-sample waveform in fp32). Takes run one by one.
MEMORY = MemoryModel(
    weights_gb=14.5,
    offload_gb=7.9,
    decoder_gb=6.6,
    working_gb=0.5,
    kv_fixed_gb=0.21,
    kv_gb_per_second=0.003,
    decode_gb_per_second=0.0,
    decode_fixed_gb=1.5,
    output_gb_per_second=0.001,
    takes_together=False,
    source="parameter counts and llama-3B KV arithmetic; codec working set assumed",
)

CAPABILITIES = Capabilities(
    name="heartmula",
    display_name="HeartMuLa 3B",
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
    # How much text HeartMuLa takes, stated once with its dialect (studio/lyrics/budgets.py).
    max_lyrics_chars=lyric_budgets.HEARTMULA.lyrics_chars,
    max_style_chars=lyric_budgets.HEARTMULA.style_chars,
    devices=(DeviceClass.ZEROGPU, DeviceClass.CUDA, DeviceClass.MPS, DeviceClass.CPU),
    dtype_per_device=LM_DTYPE,
    dtype_without_bf16=LM_DTYPE_WITHOUT_BF16,
    # Estimate: ~3.9B LM parameters in bf16 (7.9 GB) plus the 1.66B codec in fp32 (6.6 GB) and caches.
    vram_gb=16.0,
    memory=MEMORY,
    licence="Apache-2.0",
    default_weights=DEFAULT_WEIGHTS,
    weights_env=WEIGHTS_ENV,
    duration_follows_lyrics=True,
    cost=COSTS,
)

# Three Hub repos, or one folder laid out as upstream's from_pretrained(path, version="3B") expects
# (backends/heartmula/weights.py holds the same names for loading).
GEN_PART = WeightsPart(
    what="HeartMuLa tokenizer and settings",
    repo="HeartMuLa/HeartMuLaGen",
    required=("tokenizer.json", "gen_config.json"),
    # Llama 3.2's tokenizer.json is 9.1 MB (fixtures/heartmula/README.md).
    download_gb=0.01,
    size_source="tokenizer.json 9.1 MB (the Llama 3.2 tokenizer file)",
    env=WEIGHTS_ENV,
    env_names_repo=False,
)
LM_PART = WeightsPart(
    what="HeartMuLa LM",
    repo=DEFAULT_WEIGHTS,
    required=("config.json", "*.safetensors"),
    # ~3.9 B parameters (3B backbone + 300M decoder flavors, upstream's FLAVORS table) stored in bf16.
    download_gb=7.9,
    size_source="estimate: ~3.9 B parameters x 2 bytes (bf16); no published file size found",
    env=WEIGHTS_ENV,
    subdir="HeartMuLa-oss-3B",
)
CODEC_PART = WeightsPart(
    what="HeartCodec",
    repo="HeartMuLa/HeartCodec-oss-20260123",
    required=("config.json", "*.safetensors"),
    # 1,655,308,877 parameters in fp32 (fixtures/heartmula/README.md, matching the published checkpoint).
    download_gb=6.6,
    size_source="1.66 B parameters x 4 bytes (fp32), per the HeartMuLa fixture notes",
    env=WEIGHTS_ENV,
    subdir="HeartCodec-oss",
    env_names_repo=False,
)
WEIGHTS = (GEN_PART, LM_PART, CODEC_PART)
