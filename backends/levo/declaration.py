"""LeVo 2's declaration: capabilities, options, weights and availability, as data. Imports no model code and
none of the backend's own modules, so each of them may read it (the loader lives in spec.py)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from backends.base import Availability, Capabilities, MemoryModel, WeightsPart
from backends.levo.costs import COSTS
from studio import settings
from studio.ground.vocabulary import DeviceClass, Input, LyricDialect
from studio.lyrics import budgets as lyric_budgets

DEFAULT_MODEL = "lglg666/SongGeneration-v2-large"
DEFAULT_RUNTIME = "lglg666/SongGeneration-Runtime"
MODEL_ENV = settings.LEVO2_WEIGHTS.name
RUNTIME_ENV = settings.LEVO2_RUNTIME.name

# Peak accelerator memory without a prompt audio, from upstream's README table (GB); low-memory
# mode keeps only one of LM / decoder on the device, so it needs about the LM's bf16 weights.
VRAM_GB: dict[str, dict[str, float]] = {
    "v2-large": {"full": 22.0, "low_memory": 10.0},
    "v2-medium": {"full": 12.0, "low_memory": 7.0},
}
# System memory needed to run on the CPU in fp32 (weights ~4 B params x 4 bytes, plus decoder).
CPU_RAM_GB = 24.0

LICENCE_NOTE = (
    "LeVo 2 / SongGeneration 2 weights are released by Tencent for academic, research and education "
    "use only; commercial use is not permitted. Songs made with it inherit that restriction."
)


class LevoOptions(BaseModel):
    """Generation settings; defaults are upstream's gradio defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["song", "bgm", "vocal", "separate"] = Field(
        "song",
        description="song: vocals + accompaniment; bgm: instrumental; vocal: vocals only; "
        "separate: the song plus LeVo 2's own vocal / accompaniment split, made while it generates (the "
        "model's own stems; any song can also be split by Demucs with the stems task).",
    )
    cfg: float = Field(1.5, ge=0.0, le=10.0, description="Classifier-free guidance strength of the LM.")
    temperature: float = Field(1.0, gt=0.0, le=3.0, description="Sampling temperature of the LM.")
    top_k: int = Field(50, ge=1, le=16384, description="Sample the first stream from the K likeliest codes.")
    top_p: float = Field(
        0.0, ge=0.0, le=1.0, description="Nucleus sampling for all streams instead of top-k when > 0."
    )
    low_memory: bool = Field(
        False, description="Never keep the LM and the decoder on the accelerator at the same time."
    )


def _ram_gb() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 0.0


def _local_or_cached(location: str, probe: str) -> bool:
    path = Path(location).expanduser()
    if path.is_dir():
        return (path / probe).is_file()
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover
        return False
    hit = try_to_load_from_cache(location, probe)
    return isinstance(hit, str)


def availability() -> Availability:
    """Cheap: no weights are loaded; says plainly what is missing."""
    if importlib.util.find_spec("torch") is None:
        return Availability.no("PyTorch is not installed; install the studio's requirements to use LeVo 2.")
    model = settings.LEVO2_WEIGHTS.get() or DEFAULT_MODEL
    runtime = settings.LEVO2_RUNTIME.get() or DEFAULT_RUNTIME
    offline = os.environ.get("HF_HUB_OFFLINE", "0").lower() in {"1", "true", "yes"}
    for loc, probe, env in (
        (model, "config.yaml", MODEL_ENV),
        (runtime, "ckpt/model_septoken/model_2.safetensors", RUNTIME_ENV),
    ):
        if Path(loc).expanduser().is_dir() and not _local_or_cached(loc, probe):
            return Availability.no(
                f"The folder {loc} (from {env}) has no {probe}; point {env} at a full copy."
            )
        if offline and not Path(loc).expanduser().is_dir() and not _local_or_cached(loc, probe):
            return Availability.no(
                f"LeVo 2 weights {loc!r} are not downloaded and the Hub is offline; download them once "
                f"or set {env} to a local folder."
            )
    import torch

    if torch.cuda.is_available():
        total = torch.cuda.get_device_properties(0).total_memory / 1e9
        need = VRAM_GB["v2-large"]["low_memory"]
        if total < need:
            return Availability.no(
                f"LeVo 2 needs about {need:.0f} GB of GPU memory even in low-memory mode; this GPU has "
                f"{total:.0f} GB. Pick ACE-Step instead."
            )
        return Availability.yes()
    if torch.backends.mps.is_available():
        return Availability.yes()
    ram = _ram_gb()
    if ram and ram < CPU_RAM_GB:
        return Availability.no(
            f"LeVo 2 on the CPU needs about {CPU_RAM_GB:.0f} GB of memory; this machine has {ram:.0f} GB. "
            "Use a GPU or pick ACE-Step.",
            needs_gpu=True,
        )
    return Availability.yes()


# Accelerator memory (backends.memory_plan), from v2-large's config (backends/levo/config.py) in bf16.
# LM: 36 + 12 layers of width 2048 (MLP 11008), ~4.1 B parameters plus embeddings and heads: ~7.5 GB.
# KV caches (lm.KVCache, sized from the request: prefix + frames + the 250-frame delay): 2 (k, v) x
# 48 layers x 2048 x 2 bytes x 2 rows (CFG) = 0.75 MB per position, 25 positions per second = 0.018 GB/s,
# plus ~1200 prefix and delay positions = 0.88 GB. Upstream's README table gives 22 GB peak in full
# mode and 10 GB in low-memory mode (only one of LM / decoder on the device: the "offload" lightening
# here); with the LM and KV above and 1 GB of activations, a ~60 s song matches both when everything
# upstream keeps resident in full mode is ~19 GB, so that is declared (the decoder's own share is an
# assumption). The VAE always decodes in 128-frame chunks (synthesis.py), so its decode does not grow
# with the length. Takes run one by one.
MEMORY = MemoryModel(
    weights_gb=19.0,
    offload_gb=7.5,
    decoder_gb=2.5,
    working_gb=1.0,
    kv_fixed_gb=0.88,
    kv_gb_per_second=0.018,
    decode_gb_per_second=0.0,
    decode_fixed_gb=1.5,
    output_gb_per_second=0.001,
    takes_together=False,
    source="v2-large config arithmetic (LM, KV); the rest fitted to upstream's 22 GB / 10 GB table",
)

CAPABILITIES = Capabilities(
    name="levo2",
    display_name="LeVo 2 (SongGeneration 2)",
    summary="Tencent's LeVo 2: full songs with vocals and accompaniment, strong lyric following; "
    "can also return separate vocal and accompaniment stems.",
    inputs=frozenset(
        {Input.STYLE, Input.LYRICS, Input.INSTRUMENTAL, Input.DURATION, Input.SEED, Input.TAKES}
    ),
    min_duration_s=10.0,
    max_duration_s=270.0,
    default_duration_s=150.0,
    sample_rate=48000,
    channels=2,
    lyric_dialect=LyricDialect.LEVO2,
    dumps_tokens=True,
    # How much text LeVo 2 takes (characters and tokens), stated once with its dialect (studio/lyrics/budgets.py).
    max_lyrics_chars=lyric_budgets.LEVO2.lyrics_chars,
    max_style_chars=lyric_budgets.LEVO2.style_chars,
    max_takes=4,
    devices=(DeviceClass.CUDA, DeviceClass.ZEROGPU, DeviceClass.MPS, DeviceClass.CPU),
    dtype_per_device={
        DeviceClass.CUDA: "bfloat16",
        DeviceClass.ZEROGPU: "bfloat16",
        DeviceClass.MPS: "float16",
        DeviceClass.CPU: "float32",
    },
    # Upstream SongGeneration runs its LM in fp16 and the diffusion under fp16 autocast on every GPU
    # (../shared/fixtures/levo2/README.md), so fp16 is its own choice where bf16 is missing.
    dtype_without_bf16={DeviceClass.CUDA: "float16", DeviceClass.ZEROGPU: "float16"},
    vram_gb=VRAM_GB["v2-large"]["full"],
    memory=MEMORY,
    licence="Tencent SongGeneration licence (non-commercial)",
    licence_note=LICENCE_NOTE,
    commercial_use=False,
    default_weights=DEFAULT_MODEL,
    weights_env=MODEL_ENV,
    duration_follows_lyrics=True,
    tasks=("text2music",),
    cost=COSTS,
)

# The files the port reads (paths as the v2-large config.yaml names them; see backends/levo/loading.py).
MODEL_FILES = ("config.yaml", "model.pt")
RUNTIME_FILES = (
    "ckpt/model_septoken/model_2.safetensors",
    "ckpt/vae/stable_audio_1920_vae.json",
    "ckpt/vae/autoencoder_music_1320k.ckpt",
    "third_party/Qwen2-7B/tokenizer_config.json",
    "third_party/Qwen2-7B/vocab.json",
    "third_party/Qwen2-7B/merges.txt",
)
WEIGHTS = (
    WeightsPart(
        what="LeVo 2 model",
        repo=DEFAULT_MODEL,
        required=MODEL_FILES,
        # "the model footprint from 13GB" before an fp16 conversion: Siriusquirrel/SongGeneration README.
        download_gb=13.0,
        size_source="v2-large model.pt ~13 GB (Siriusquirrel/SongGeneration README, before its fp16 conversion)",
        env=MODEL_ENV,
    ),
    WeightsPart(
        what="LeVo 2 runtime",
        repo=DEFAULT_RUNTIME,
        required=RUNTIME_FILES,
        download_gb=None,
        size_source="no published size found for the decoder, VAE and tokenizer files of SongGeneration-Runtime",
        env=RUNTIME_ENV,
    ),
)
