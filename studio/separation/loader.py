"""Reading published Demucs weights from a folder, through the studio's own weights path.

The layout is demucs 4.1's Hub layout (``demucs/hf.py`` reads it, ``tools/export_hf.py`` in
adefossez/demucs writes it): ``<name>.yaml`` lists the model signatures (``models``) and optionally
per-source ``weights`` and a ``segment``; each ``<sig>.safetensors`` holds the state dict, with the
model class as ``klass`` and its init ``args``/``kwargs`` as JSON in the file's metadata (fractions
written as ``{"_type": "fraction", ...}``). Quantized models add a ``structure`` key; the stem sets
offered here are not quantized, so such a file is refused rather than half-read.

Unlike ``demucs.hf``, a class is built only from a short allow-list: a downloaded file never picks
which module gets imported.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from studio import weights as weights_source
from studio.ground.errors import StudioError
from studio.separation.catalog import SeparatorWeights

# Hub files the separator needs (READMEs and the .json training sidecars are not read).
ALLOW_PATTERNS = ["*.yaml", "*.safetensors"]
_CLASSES = {"demucs.htdemucs.HTDemucs": ("demucs.htdemucs", "HTDemucs")}


@dataclass
class LoadedSeparator:
    """A model ready for ``demucs.apply.apply_model`` plus what the stems card records."""

    model: Any  # torch.nn.Module (an HTDemucs, or demucs' BagOfModels of several)
    weights: SeparatorWeights
    location: str  # Hub id or folder, as given
    folder: Path
    signatures: tuple[str, ...]
    sources: tuple[str, ...]
    samplerate: int
    segment_s: float  # longest chunk the model takes (its training segment)


def locate(weights: SeparatorWeights, location: str | None = None,
           on_progress: Callable[[str], None] | None = None) -> Path:
    """The folder holding ``weights``: ``location``, else its environment variable, else its Hub id
    (downloaded once into the HF cache). Called before the GPU is held."""
    chosen = weights_source.choose(location, weights.weights_env, weights.default_weights)
    return weights_source.fetch(
        chosen, what=weights.display_name, env_var=weights.weights_env, flag="--stems-weights",
        allow_patterns=ALLOW_PATTERNS, on_progress=on_progress,
    )


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get("_type") == "fraction":
            return Fraction(int(value["numerator"]), int(value["denominator"]))
        return {key: _decode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode(item) for item in value]
    return value


def _bag_file(folder: Path, weights: SeparatorWeights) -> Path:
    named = folder / f"{weights.name}.yaml"
    if named.is_file():
        return named
    found = sorted(folder.glob("*.yaml"))
    if len(found) == 1:
        return found[0]
    raise StudioError(
        f"{weights.display_name} weights folder {folder} has no {weights.name}.yaml; download "
        f"{weights.default_weights} there (`hf download {weights.default_weights} --local-dir {folder}`) "
        f"or point {weights.weights_env} at such a folder."
    )


def _build(path: Path, weights: SeparatorWeights) -> Any:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            state = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118 (not a dict)
    except (OSError, ValueError, RuntimeError) as exc:
        raise StudioError(
            f"{path.name} in {path.parent} is not a readable safetensors file ({exc}); download "
            f"{weights.default_weights} again."
        ) from None
    klass = metadata.get("klass", "")
    if klass not in _CLASSES:
        raise StudioError(
            f"{path.name} holds a `{klass or 'unnamed'}` model; the stems task runs HTDemucs models "
            f"(demucs.htdemucs.HTDemucs), e.g. {weights.default_weights}."
        )
    if "structure" in metadata:
        raise StudioError(
            f"{path.name} is a quantized Demucs model, which the stems task does not read; use "
            f"{weights.default_weights}."
        )
    import importlib

    module, name = _CLASSES[klass]
    cls = getattr(importlib.import_module(module), name)
    args = _decode(json.loads(metadata.get("args", "[]")))
    kwargs = _decode(json.loads(metadata.get("kwargs", "{}")))
    try:
        model = cls(*args, **kwargs)
        model.load_state_dict(state, strict=True)
    except (TypeError, RuntimeError) as exc:
        raise StudioError(
            f"{path.name} does not match the HTDemucs of the installed demucs ({str(exc).splitlines()[0]}); "
            f"download {weights.default_weights} again or install demucs>=4.1."
        ) from None
    return model.eval()


def load(folder: Path, weights: SeparatorWeights, location: str = "") -> LoadedSeparator:
    """Build the separator in ``folder`` on the CPU (the caller moves it)."""
    import yaml

    bag_path = _bag_file(folder, weights)
    try:
        bag = yaml.safe_load(bag_path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise StudioError(f"{bag_path} is not a readable Demucs bag file ({exc}); download it again.") from None
    signatures = tuple(str(sig) for sig in bag.get("models") or ())
    if not signatures:
        raise StudioError(f"{bag_path} lists no models under `models`; download {weights.default_weights} again.")
    models = []
    for sig in signatures:
        path = folder / f"{sig}.safetensors"
        if not path.is_file():
            raise StudioError(
                f"{folder} lacks {sig}.safetensors, which {bag_path.name} lists; finish the download of "
                f"{weights.default_weights} (`hf download {weights.default_weights} --local-dir {folder}`)."
            )
        models.append(_build(path, weights))
    sources = tuple(models[0].sources)
    if set(sources) != set(weights.sources) or any(tuple(m.sources) != sources for m in models):
        raise StudioError(
            f"{folder} separates {', '.join(sources)}, not {', '.join(weights.sources)} as "
            f"{weights.display_name} does; point {weights.weights_env} at {weights.default_weights}."
        )
    if len(models) == 1 and bag.get("weights") is None:
        model = models[0]
    else:
        from demucs.apply import BagOfModels

        model = BagOfModels(models, bag.get("weights"), bag.get("segment"))
    segment = min(float(m.segment) for m in models)
    return LoadedSeparator(
        model=model, weights=weights, location=location or str(folder), folder=folder, signatures=signatures,
        sources=sources, samplerate=int(models[0].samplerate), segment_s=segment,
    )
