"""What the stems task offers, as data: the stem sets, the weights behind them, and their cost.

Facts from demucs 4.1 (``demucs/hf.py``, ``demucs/remote/*.yaml``): each named model is a Hub
repository ``adefossez/<HTDemucs | HTDemucs-6s>`` holding ``<name>.yaml`` (``models: [sig]``) and one
``<sig>.safetensors`` per model whose metadata names the class and its init arguments as JSON.
``htdemucs`` separates drums, bass, other, vocals; ``htdemucs_6s`` adds guitar and piano.
"""

from __future__ import annotations

from dataclasses import dataclass

from backends.base import Capabilities, CostModel, StageCost
from studio import settings
from studio.ground.errors import StudioError
from studio.ground.vocabulary import DeviceClass


@dataclass(frozen=True)
class SeparatorWeights:
    """One published separation model."""

    name: str  # demucs' own name, also the yaml's stem
    display_name: str
    default_weights: str  # Hub id
    weights_env: str
    sources: tuple[str, ...]  # in the model's output order


HTDEMUCS = SeparatorWeights(
    "htdemucs", "Demucs HTDemucs (4 stems)", "adefossez/HTDemucs", settings.STEMS_WEIGHTS.name,
    ("drums", "bass", "other", "vocals"),
)
HTDEMUCS_6S = SeparatorWeights(
    "htdemucs_6s", "Demucs HTDemucs 6s (6 stems)", "adefossez/HTDemucs-6s", settings.STEMS6_WEIGHTS.name,
    ("drums", "bass", "other", "vocals", "guitar", "piano"),
)


@dataclass(frozen=True)
class StemSet:
    """What a visitor picks: how many stems, from which model, and how its sources are grouped.

    ``groups`` maps each output stem to the model sources summed into it, so a 2-stem split is the
    4-stem model's vocals plus the sum of the rest (the sum keeps stems adding up to the mix)."""

    count: int
    label: str
    weights: SeparatorWeights
    groups: tuple[tuple[str, tuple[str, ...]], ...]

    @property
    def stems(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.groups)


STEM_SETS: dict[int, StemSet] = {
    s.count: s
    for s in (
        StemSet(2, "2 stems: vocals / accompaniment", HTDEMUCS,
                (("vocals", ("vocals",)), ("accompaniment", ("drums", "bass", "other")))),
        StemSet(4, "4 stems: vocals, drums, bass, other", HTDEMUCS,
                tuple((s, (s,)) for s in ("vocals", "drums", "bass", "other"))),
        StemSet(6, "6 stems: vocals, drums, bass, guitar, piano, other", HTDEMUCS_6S,
                tuple((s, (s,)) for s in ("vocals", "drums", "bass", "guitar", "piano", "other"))),
    )
}
DEFAULT_STEMS = 4


def stem_set(count: int | str | None) -> StemSet:
    """The stem set for ``--stems 2|4|6`` (None: the default, 4)."""
    if count is None or count == "":
        return STEM_SETS[DEFAULT_STEMS]
    try:
        return STEM_SETS[int(count)]
    except (KeyError, ValueError, TypeError):
        raise StudioError(f"`stems` must be 2, 4 or 6, got {count!r}.") from None


# --- Cost, priced by the budget guard like any backend stage ------------------------------------
# facebookresearch/demucs issue #426 (a maintainer-side answer by CarlGao4): v4 (HTDemucs) models take
# "about 3 times of audio length" on a laptop CPU, and a GPU is "about 20~50 times faster". The GPU
# figure takes the slow end (20x) so the seed errs long; MPS is the studio's usual x4 of CUDA
# (studio.budget.costs). Loading: one ~80 MB safetensors file per model (the 4-stem and 6-stem models
# are the same size), read and moved in about a second, an assumption.
_DEMUCS_SRC = "demucs issue #426: v4 models ~3x audio length on a laptop CPU, a GPU 20-50x faster"
_LOAD = StageCost(fixed=2.0, source="assumption: one ~80 MB safetensors file read and moved to the device")
_CUDA_S_PER_AUDIO_S = 3.0 / 20


def _cost(per_audio_second: float, note: str) -> CostModel:
    return CostModel(stages={
        "load": _LOAD,
        "separate": StageCost(fixed=0.5, per_audio_second=per_audio_second, source=f"{_DEMUCS_SRC}; {note}"),
    })


SEPARATOR_COST: dict[DeviceClass, CostModel] = {
    DeviceClass.ZEROGPU: _cost(_CUDA_S_PER_AUDIO_S, "GPU at 20x the CPU figure"),
    DeviceClass.CUDA: _cost(_CUDA_S_PER_AUDIO_S, "GPU at 20x the CPU figure"),
    DeviceClass.MPS: _cost(_CUDA_S_PER_AUDIO_S * 4, "x4 of CUDA as for every MPS seed"),
    DeviceClass.CPU: _cost(3.0, "the CPU figure as published"),
}

# The longest song the stems task takes: the longest any backend makes, and a full single.
MAX_SECONDS = 600.0
MIN_SECONDS = 1.0
STEMS_TASK = "stems"

# The budget guard, the calibration and the preflight read a Capabilities; the separator declares
# one so that it is priced and calibrated exactly like a backend (the lyric fields are unused).
SEPARATOR = Capabilities.of_stage(
    name="demucs",
    display_name="Demucs stem separation",
    summary="Splits any song into vocals, drums, bass and other (or 2 or 6 stems).",
    min_duration_s=MIN_SECONDS,
    max_duration_s=MAX_SECONDS,
    sample_rate=44_100,
    channels=2,
    devices=(DeviceClass.ZEROGPU, DeviceClass.CUDA, DeviceClass.MPS, DeviceClass.CPU),
    vram_gb=3.0,
    licence="MIT",
    default_weights=HTDEMUCS.default_weights,
    weights_env=HTDEMUCS.weights_env,
    tasks=(STEMS_TASK,),
    cost=SEPARATOR_COST,
)
