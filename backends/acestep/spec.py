"""ACE-Step 1.5 XL turbo: cheap declaration (no torch or diffusers import here)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from backends.acestep.lora import LoraRef, check_ref_list, coerce_refs
from backends.acestep.tasks import TASKS
from backends.base import Availability, BackendSpec, Capabilities, DeviceClass, Input, LyricDialect
from studio.budget.costs import SEED_COSTS

DEFAULT_WEIGHTS = "ACE-Step/acestep-v15-xl-turbo-diffusers"
WEIGHTS_ENV = "STUDIO_ACESTEP_WEIGHTS"
# A local folder (or Hub id) that replaces the official planner checkpoint of any size.
PLANNER_ENV = "STUDIO_ACESTEP_PLANNER_WEIGHTS"
# Simple mode needs the planner even when renders run DiT-only; upstream's default size.
DESCRIBE_PLANNER = "1.7B"
MIN_DIFFUSERS = (0, 38)

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


CAPABILITIES = Capabilities(
    name="acestep",
    display_name="ACE-Step 1.5 XL turbo",
    family="ACE-Step 1.5",
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
    max_lyrics_chars=4096,
    max_style_chars=512,
    max_takes=4,
    devices=(DeviceClass.ZEROGPU, DeviceClass.CUDA, DeviceClass.MPS, DeviceClass.CPU),
    dtype_per_device={
        DeviceClass.ZEROGPU: "bfloat16",
        DeviceClass.CUDA: "bfloat16",
        DeviceClass.MPS: "bfloat16",
        DeviceClass.CPU: "float32",
    },
    # XL DiT (~4B) + Qwen3-0.6B text encoder + VAE in bf16, measured upstream at ~12 GB for 4 min.
    vram_gb=12.0,
    licence="MIT",
    default_weights=DEFAULT_WEIGHTS,
    weights_env=WEIGHTS_ENV,
    languages=tuple(LANGUAGES),
    tasks=TASKS,
    cost=SEED_COSTS["acestep"],
)


def availability() -> Availability:
    for module in ("torch", "diffusers", "transformers"):
        if importlib.util.find_spec(module) is None:
            return Availability.no(f"the Python package `{module}` is not installed; run scripts/setup.sh.")
    version = importlib.metadata.version("diffusers")
    parts = tuple(int(p) for p in version.split(".")[:2] if p.isdigit())
    if parts < MIN_DIFFUSERS:
        return Availability.no(
            f"diffusers {version} has no AceStepPipeline; ACE-Step needs diffusers >= 0.38 "
            "(`pip install -U diffusers`)."
        )
    return Availability.yes()


def _load(**kwargs):
    from backends.acestep.backend import AceStepBackend

    return AceStepBackend.load(**kwargs)


def _prefetch(options: BaseModel, task: str) -> None:
    """Into the local cache, nothing loaded: the pipeline, the planner size the options ask for,
    Hub LoRAs and the weights an editing task swaps in (backends/acestep/fetching.py)."""
    from backends.acestep.fetching import fetch_pipeline, fetch_planner
    from backends.acestep.lora import check_lora, looks_local
    from backends.acestep.tasks import weights_for
    from studio import weights as weights_source

    location = weights_source.choose(None, WEIGHTS_ENV, DEFAULT_WEIGHTS)
    fetch_pipeline(location, what="ACE-Step", env_var=WEIGHTS_ENV)
    planner = getattr(options, "planner", "off")
    if planner != "off":
        fetch_planner(os.environ.get(PLANNER_ENV) or planner)
    for ref in getattr(options, "loras", ()):
        if not looks_local(ref.source):
            check_lora(ref.source)
    variant = weights_for(task)
    if variant is not None:
        location = weights_source.choose(None, variant.weights_env, variant.default_weights)
        fetch_pipeline(location, what=variant.display_name, env_var=variant.weights_env)


SPEC = BackendSpec(
    capabilities=CAPABILITIES, options=AceStepOptions, availability=availability, loader=_load, prefetch=_prefetch
)
