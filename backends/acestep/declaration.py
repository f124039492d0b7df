"""ACE-Step 1.5's declaration: capabilities, options, weights, planner sizes and dtypes, as data. Imports no model
code and none of the backend's own modules, so each of them may read it (the loader lives in spec.py)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from backends.acestep.costs import COSTS, PLANNER_SIZES
from backends.acestep.lora import LoraRef, check_ref_list, coerce_refs
from backends.acestep.tasks import TASKS
from backends.base import Availability, Capabilities, MemoryModel, WeightsPart
from studio import settings
from studio.ground.vocabulary import DeviceClass, Input, LyricDialect
from studio.lyrics import budgets as lyric_budgets

DEFAULT_WEIGHTS = "ACE-Step/acestep-v15-xl-turbo-diffusers"
WEIGHTS_ENV = settings.ACESTEP_WEIGHTS.name
# A local folder (or Hub id) that replaces the official planner checkpoint of any size.
PLANNER_ENV = settings.ACESTEP_PLANNER_WEIGHTS.name
# Simple mode needs the planner even when renders run DiT-only; upstream's default size.
DESCRIBE_PLANNER = "1.7B"
# AceStepPipeline arrived in 0.38, but `from_pretrained(dtype=...)` in 0.40 (diffusers PR #14205, which
# deprecates `torch_dtype`): before it `dtype` is not a known argument and the pipeline loads in float32.
MIN_DIFFUSERS = (0, 40)
# The planner (a Qwen3 LM) after upstream's acestep/llm_inference.py: bf16 on CUDA, float32 on MPS and
# CPU ("LLM weights trained in bfloat16 produce NaN/inf when naively converted to float16"), so float32
# also where a CUDA card lacks bf16.
PLANNER_DTYPE: dict[DeviceClass, str] = {
    DeviceClass.ZEROGPU: "bfloat16",
    DeviceClass.CUDA: "bfloat16",
    DeviceClass.MPS: "float32",
    DeviceClass.CPU: "float32",
}
PLANNER_DTYPE_WITHOUT_BF16: dict[DeviceClass, str] = {DeviceClass.CUDA: "float32"}

# The 51 vocal-language codes the ACE-Step 1.5 lyric encoder was trained with ("unknown" = auto).
LANGUAGES = (
    "ar az bg bn ca cs da de el en es fa fi fr he hi hr ht hu id is it ja ko la lt ms ne nl no pa pl pt "
    "ro ru sa sk sr sv sw ta te th tl tr uk ur vi yue zh unknown"
).split()


class AceStepOptions(BaseModel):
    """Knobs specific to ACE-Step; shown in the UI's Advanced panel."""

    model_config = ConfigDict(extra="forbid")

    steps: int = Field(8, ge=1, le=100, description="Diffusion steps; the turbo weights are distilled for 8.")
    shift: float = Field(3.0, ge=1.0, le=5.0, description="Timestep shift; turbo was tuned at 3.0.")
    guidance_scale: float = Field(
        1.0,
        ge=1.0,
        le=15.0,
        description="Classifier-free guidance; turbo weights ignore it (guidance is distilled).",
    )
    planner: Literal["off", "0.6B", "1.7B", "4B"] = Field(
        "off",
        description="The 5 Hz LM planner writes missing metadata and the audio codes the DiT follows "
        "(better structure, costs time and memory); off = DiT only.",
    )
    loras: list[LoraRef] = Field(
        default_factory=list,
        description="LoRAs applied to the DiT, stacked with their scales: a .safetensors file or a Hub id, "
        "each as {source, scale} or 'source:scale'.",
    )

    @field_validator("loras", mode="before")
    @classmethod
    def _lora_strings(cls, value: object) -> object:
        return coerce_refs(value)

    @field_validator("loras")
    @classmethod
    def _lora_list(cls, value: list[LoraRef]) -> list[LoraRef]:
        return check_ref_list(value)


# Accelerator memory in bf16 (backends.memory_plan). Weights: the XL pipeline's bf16 weights are
# ~11 GB (the ~4 B-parameter XL DiT, ACE-Step 1.5's model zoo "XL 4B", is ~8 GB of them; the rest is
# the Qwen3-Embedding-0.6B text encoder, the condition encoder and the ~0.16 GB VAE decoder).
# Decode: bench/vae_memory.py on the published vae/config.json with random weights measured 0.103 GB
# per audio second per take in fp32 untiled (0.052 in bf16) over a 0.31 GB (0.16 bf16) base, counting
# live tensors only; the figure reported for bf16 on CUDA (issue 15, DESIGN.md) is ~0.07, the caching
# allocator's rounding and fragmentation on top, and a budget must not be short, so 0.07 is declared.
# diffusers decodes the whole batch at once. Tiled (its 512-frame tiles = 20.5 s, one take at a
# time): 0.16 + 0.07 x 20.5 = 1.6 GB. Audio: the bf16 batch output plus the pipeline's fp32 copies for peak
# normalisation and the tiles' concatenation, ~0.001 GB per second per take. Activations: an
# assumption (text encoding ~1 GB; the DiT sees 12.5 tokens per second). Upstream's GPU guide runs
# XL without offload only from 20 GB: without tiling a 3-minute song needs ~24 GB by these figures.
MEMORY = MemoryModel(
    weights_gb=11.0,
    offload_gb=8.0,
    decoder_gb=0.2,
    working_gb=1.0,
    working_gb_per_second=0.002,
    decode_gb_per_second=0.07,
    decode_fixed_gb=0.16,
    decode_tile_gb=1.6,
    output_gb_per_second=0.001,
    takes_together=True,
    source="XL weights ~11 GB bf16 (DiT ~4 B params); decode 0.07 GB/s reported on CUDA (bench/vae_memory.py "
    "measures 0.052 of live tensors: real VAE config, random weights, CPU fp32 / 2); activations assumed",
)

CAPABILITIES = Capabilities(
    name="acestep",
    display_name="ACE-Step 1.5 XL turbo",
    summary="Fast, versatile text-to-music diffusion (default). 8 steps, up to 10 minutes.",
    inputs=frozenset(
        {
            Input.STYLE, Input.LYRICS, Input.INSTRUMENTAL, Input.DURATION, Input.BPM, Input.KEY,
            Input.TIME_SIGNATURE, Input.LANGUAGE, Input.SEED, Input.TAKES, Input.DESCRIPTION,
            Input.SOURCE_AUDIO,
        }
    ),
    min_duration_s=10.0,
    max_duration_s=600.0,
    default_duration_s=60.0,
    sample_rate=48_000,
    channels=2,
    lyric_dialect=LyricDialect.ACESTEP,
    # How much text ACE-Step takes, stated once with its dialect (studio/lyrics/budgets.py).
    max_lyrics_chars=lyric_budgets.ACESTEP.lyrics_chars,
    max_style_chars=lyric_budgets.ACESTEP.style_chars,
    max_takes=4,
    devices=(DeviceClass.ZEROGPU, DeviceClass.CUDA, DeviceClass.MPS, DeviceClass.CPU),
    dtype_per_device={
        DeviceClass.ZEROGPU: "bfloat16",
        DeviceClass.CUDA: "bfloat16",
        DeviceClass.MPS: "bfloat16",
        DeviceClass.CPU: "float32",
    },
    # No bf16 (CUDA below sm_80, MPS before macOS 14): float32. In fp16 ACE-Step 1.5's DiT gives NaN
    # latents on pre-Ampere cards, turbo and XL turbo alike, and upstream's fix is float32
    # (ace-step/ACE-Step-1.5 issues #1243 and #1274, PR #1152 `ACESTEP_DTYPE=float32`). Upstream's handler
    # picks fp16 on MPS (acestep/handler.py, initialize_service), but that is the same fp16 overflow.
    dtype_without_bf16={DeviceClass.CUDA: "float32", DeviceClass.MPS: "float32"},
    # A default 60 s take as diffusers runs it (untiled): MEMORY's estimate, rounded up.
    vram_gb=15.5,
    memory=MEMORY,
    licence="MIT",
    default_weights=DEFAULT_WEIGHTS,
    weights_env=WEIGHTS_ENV,
    languages=tuple(LANGUAGES),
    tasks=TASKS,
    cost=COSTS,
    default_steps=AceStepOptions.model_fields["steps"].default,
    planner_sizes=PLANNER_SIZES,
)


def availability() -> Availability:
    for module in ("torch", "diffusers", "transformers"):
        if importlib.util.find_spec(module) is None:
            return Availability.no(f"the Python package `{module}` is not installed; run scripts/setup.sh.")
    version = importlib.metadata.version("diffusers")
    parts = tuple(int(p) for p in version.split(".")[:2] if p.isdigit())
    if parts < MIN_DIFFUSERS:
        return Availability.no(
            f"diffusers {version} is too old for ACE-Step here (it needs AceStepPipeline and its `dtype` "
            "argument); install diffusers >= 0.40 "
            "(`pip install -U diffusers`)."
        )
    return Availability.yes()


# The files diffusers' AceStepPipeline.from_pretrained reads from the published folder (its model_index.json
# names these parts; the audio tokenizer pair is optional and absent there). Models are one or more
# safetensors files, or shards named by an index.
PIPELINE_PARTS = ("transformer", "vae", "text_encoder", "condition_encoder")
REQUIRED_FILES = (
    "model_index.json",
    "scheduler/scheduler_config.json",
    "tokenizer/tokenizer_config.json",
    *(f"{part}/config.json" for part in PIPELINE_PARTS),
    *(f"{part}/*.safetensors" for part in PIPELINE_PARTS),
)
WEIGHTS = WeightsPart(
    what="ACE-Step XL turbo pipeline",
    repo=DEFAULT_WEIGHTS,
    required=REQUIRED_FILES,
    # 9.5 GB DiT (the 4.7 B-parameter XL DiT in bf16: 9,516 MB, listed on the
    # scragnog/ace-step-1.5-gguf-merge-models card) + ~1.2 GB Qwen3-Embedding-0.6B text encoder + ~0.3 GB
    # Oobleck VAE (deepwiki.com/ace-step/ACE-Step-1.5 "Model management" component table).
    download_gb=11.0,
    size_source="XL DiT bf16 9.5 GB (GGUF merge card) + text encoder 1.2 GB + VAE 0.3 GB (ACE-Step 1.5 docs)",
    env=WEIGHTS_ENV,
)


# What makes a folder a whole planner (Qwen3ForCausalLM + its tokenizer), relative to the planner's folder.
PLANNER_REQUIRED = ("config.json", "*.safetensors", "tokenizer_config.json")
