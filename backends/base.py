"""What every backend declares and implements.

A backend is two things: a cheap, import-free :class:`BackendSpec` (capabilities as data, an
availability check, a loader path) and the loaded object satisfying :class:`Backend`. The UI, the
validator and the budget guard read the spec; only ``load()`` imports torch or model code.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from studio.ground.progress import ProgressFn, no_progress
from studio.ground.vocabulary import DeviceClass, Input, LyricDialect

if TYPE_CHECKING:  # pragma: no cover - typing only
    import numpy as np


class StageCost(BaseModel):
    """Seconds one stage of a request costs on one device class.

    ``seconds = fixed + per_step_per_audio_second * steps * audio_seconds
    + per_audio_second * audio_seconds + per_frame * frames``.
    Figures seeded from published numbers carry ``source``; calibration replaces them with
    measurements at run time (see ``studio.budget``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    fixed: float = 0.0
    per_step_per_audio_second: float = 0.0
    per_audio_second: float = 0.0
    per_frame: float = 0.0
    source: str = ""


class CostModel(BaseModel):
    """Per-stage costs on one device class. Stage names are backend-defined but stable:
    ``load`` (weights to device, once per process), ``plan`` (ACE-Step's 5 Hz LM),
    ``lm`` (autoregressive frames), ``diffusion`` (DiT steps), ``decode`` (VAE/codec)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stages: dict[str, StageCost]
    frame_rate_hz: float = 0.0


class MemoryModel(BaseModel):
    """Accelerator memory (GiB) a request needs, as data, in the backend's 16-bit dtype (fp32 doubles it).

    A request's peak is the larger of two phases (``backends.memory_plan``): generating (weights, KV
    caches, activations) and decoding (weights, the VAE/codec decode, the finished audio). Offloading
    idle parts to the host keeps only ``offload_gb`` resident while generating and ``decoder_gb``
    while decoding; a tiled decode holds one tile of one take (``decode_tile_gb``) instead of every
    take's whole song at once. Each figure says where it comes from in ``source``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    weights_gb: float = Field(ge=0, description="Every weight the backend keeps on the accelerator.")
    offload_gb: float = Field(0.0, ge=0, description="Largest part resident at once under CPU offload; 0 = none.")
    decoder_gb: float = Field(0.0, ge=0, description="The VAE/codec's own weights.")
    working_gb: float = Field(0.0, ge=0, description="Activations and buffers whatever the length.")
    working_gb_per_second: float = Field(0.0, ge=0, description="Activations per audio second per take.")
    kv_fixed_gb: float = Field(0.0, ge=0, description="KV cache of the prompt positions, per take.")
    kv_gb_per_second: float = Field(0.0, ge=0, description="KV cache per audio second per take.")
    decode_gb_per_second: float = Field(ge=0, description="Untiled decode per audio second per take.")
    decode_fixed_gb: float = Field(0.0, ge=0, description="Decode working set whatever the length (windows).")
    decode_tile_gb: float | None = Field(None, ge=0, description="Tiled decode peak; None = cannot tile.")
    output_gb_per_second: float = Field(0.0, ge=0, description="Finished audio held per second per take.")
    takes_together: bool = Field(True, description="Takes run as one batch, so their memory adds up.")
    source: str = ""


class Capabilities(BaseModel):
    """Everything the rest of the studio may know about a model, as data."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    display_name: str
    summary: str
    inputs: frozenset[Input]
    min_duration_s: float
    max_duration_s: float
    default_duration_s: float
    sample_rate: int
    channels: int
    lyric_dialect: LyricDialect
    max_lyrics_chars: int
    max_style_chars: int
    max_takes: int = 4
    languages: tuple[str, ...] = Field(default=(), description="Accepted language codes; empty = any.")
    devices: tuple[DeviceClass, ...]
    dtype_per_device: dict[DeviceClass, str]
    # Where a device lacks bf16 (CUDA below compute capability 8.0, MPS before macOS 14) and
    # ``dtype_per_device`` asks for it: each backend's own choice, after its upstream. Unlisted: float32.
    dtype_without_bf16: dict[DeviceClass, str] = Field(default_factory=dict)
    vram_gb: float = Field(description="Peak accelerator memory for a default-length song.")
    memory: MemoryModel | None = Field(None, description="Per-request memory figures; None = not budgeted.")
    licence: str
    licence_note: str = ""
    commercial_use: bool = True
    default_weights: str
    weights_env: str
    duration_follows_lyrics: bool = False
    # Whether takes carry the generated codes in ``Take.extras["codes"]`` (for --dump-tokens).
    dumps_tokens: bool = False
    tasks: tuple[str, ...] = ("text2music",)
    cost: dict[DeviceClass, CostModel] = Field(default_factory=dict)
    # Diffusion steps the budget assumes when a request (or an alternative backend) names none; None where
    # the backend has no steps to count.
    default_steps: int | None = Field(None, ge=1)
    # LM planner sizes, smallest first: fitting a request to the budget walks down this list.
    planner_sizes: tuple[str, ...] = ()

    @classmethod
    def of_stage(cls, **fields: Any) -> Capabilities:
        """A model priced and calibrated like a backend that makes no song from text (stem separation,
        the lyric check): it takes a song as its source, and the lyric, style and take fields that only
        a song model reads get neutral values here instead of in each declaration."""
        neutral: dict[str, Any] = {
            "inputs": frozenset({Input.SOURCE_AUDIO}), "default_duration_s": 180.0,
            "lyric_dialect": LyricDialect.ACESTEP, "max_lyrics_chars": 0, "max_style_chars": 0, "max_takes": 1,
            "dtype_per_device": {DeviceClass.CPU: "float32"},
        }
        return cls(**{**neutral, **fields})

    def accepts(self, item: Input) -> bool:
        return item in self.inputs


@dataclass
class Take:
    """One generated piece of audio, float32 in [-1, 1], shaped ``[channels, samples]``."""

    audio: np.ndarray
    sample_rate: int
    seed: int
    stems: dict[str, np.ndarray] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass
class RenderJob:
    """What a loaded backend receives: text already in its dialect, options already validated."""

    style: str
    lyrics: str
    instrumental: bool
    duration_s: float
    seeds: list[int]
    options: BaseModel
    metadata: Mapping[str, Any] = field(default_factory=dict)
    source_audio: np.ndarray | None = None
    reference_audio: np.ndarray | None = None


@dataclass(frozen=True)
class Availability:
    ok: bool
    reason: str = ""
    # Refused because this machine has no (big enough) accelerator: the UI says "needs a GPU".
    needs_gpu: bool = False

    @classmethod
    def yes(cls) -> Availability:
        return cls(True, "")

    @classmethod
    def no(cls, reason: str, *, needs_gpu: bool = False) -> Availability:
        return cls(False, reason, needs_gpu)


@runtime_checkable
class Backend(Protocol):
    """A loaded model. ``render`` is the only heavy call; it never touches gradio or files."""

    capabilities: Capabilities  # what its declaration says (the spec holds the same objects)
    options: type[BaseModel]
    device: str
    dtype: str
    weights: str

    def render(self, job: RenderJob, progress: ProgressFn = no_progress) -> list[Take]: ...

    def unload(self) -> None: ...


@dataclass(frozen=True)
class WeightsPart:
    """One downloadable piece of a backend's weights, as data: where it comes from, which files make it
    complete, and how big the first download is. ``studio.weights`` checks folders against it, both
    for the status shown up front and at load time."""

    what: str
    repo: str
    # Files (or globs) that must be present; each one is also checked for being a real, whole file.
    required: tuple[str, ...]
    # None where no published size was found (shown as "over N GB" with the other parts).
    download_gb: float | None
    # Where the size comes from (a model card, a file listing, a parameter count).
    size_source: str
    env: str = ""
    # Below a local folder named by ``env`` this part lives in this sub-folder (HeartMuLa's layout).
    subdir: str = ""
    # Whether a Hub id in ``env`` replaces ``repo`` (otherwise ``env`` may only name a folder).
    env_names_repo: bool = True


@dataclass(frozen=True)
class Sketcher:
    """How a backend that accepts ``Input.DESCRIPTION`` writes a song sketch (caption, lyrics, metadata)
    from one description, with a model of its own: Simple mode loads only that model, never the
    renderer's weights, and fetches only its files before the GPU is asked for."""

    # The model that writes the sketch, in a visitor's words ("the 1.7B planner").
    what: str
    # The planner size that writes it: the guard prices a sketch as that planner's load and one pass.
    planner: str
    # The sketch model's weights as they stand now (a variable may point elsewhere), for the status up front.
    weights: Callable[[], WeightsPart]
    # Downloads exactly the files ``run`` opens, nothing loaded.
    prefetch: Callable[[], None]
    # Whether this process already holds the sketch model on ``device`` (a kept ZeroGPU worker does).
    loaded: Callable[[str], bool]
    # (description, instrumental, language, seed, device, progress) -> the sketch as plain data.
    run: Callable[..., dict]


@dataclass(frozen=True)
class BackendSpec:
    """Cheap declaration of a backend: importing it imports no model code."""

    capabilities: Capabilities
    options: type[BaseModel]
    # Returns whether the backend can run in this process, and if not, why (plain words).
    availability: Callable[[], Availability]
    # Returns a loaded Backend (``weights`` is a Hub id or a folder). A backend names it as
    # "module:attribute" so that its declaration never imports its heavy code, not even inside a function:
    # the loaded backend points at its declaration, never the other way (tests/test_layers.py), the way
    # studio/registry.py names each SPEC. Call it through ``load``.
    loader: Callable[..., Backend] | str
    # Downloads what rendering these (validated) options for this task would otherwise fetch inside
    # the GPU call (extra weights, adapters): on ZeroGPU a download there is paid in GPU seconds.
    prefetch: Callable[[BaseModel, str], None] | None = None
    # Checks a prepared job against limits only the backend's own small data files know (e.g. HeartMuLa
    # counts prompt tokens with its tokenizer); raises StudioError. Runs before any model work.
    check_job: Callable[[RenderJob], None] | None = None
    # The weights the default render needs, piece by piece (see ``studio.weights.status``).
    weights: tuple[WeightsPart, ...] = ()
    # Why the configured weights cannot run this task with these options (None: they can), asked before
    # any work and by the UI to hide what would be refused; options are None when only the task is known.
    refusal: Callable[[str, BaseModel | None], str | None] | None = None
    # What writes a sketch from a description (Simple mode); None where the backend takes no description.
    sketcher: Sketcher | None = None

    @property
    def name(self) -> str:
        return self.capabilities.name

    def load(self, *args: Any, **kwargs: Any) -> Backend:
        """Import the backend's code and load it (see ``loader``)."""
        loader = self.loader
        if isinstance(loader, str):
            module, _, attribute = loader.partition(":")
            loader = importlib.import_module(module)
            for part in attribute.split("."):
                loader = getattr(loader, part)
        return loader(*args, **kwargs)
