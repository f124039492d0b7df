"""Keeping a set of checked LoRAs applied to the transformer, with scales, and taking them off again."""

from __future__ import annotations

import hashlib
import logging
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backends.acestep.lora.check import LoraInfo, check_lora_file
from backends.acestep.lora.refs import LoraError, LoraRef
from backends.acestep.lora.sources import looks_local, resolve

log = logging.getLogger(__name__)

# A file over this is refused before its header is read: a LoRA of the XL DiT at rank 64 on every

# --------------------------------------------------------------------------------------------- applying


def fingerprint(path: Path) -> str:
    """Adapter name: the file's content hash, so the same bytes are loaded once whatever they are called."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return "lora_" + digest.hexdigest()[:16]


def state_dict_for(info: LoraInfo, transformer: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Tensors under the transformer's module names, and the PEFT LoraConfig arguments for them.

    Shapes are checked against the live transformer first, so a LoRA trained for another ACE-Step
    size fails with a sentence instead of a size-mismatch traceback."""
    import torch
    from safetensors import SafetensorError, safe_open

    linears = dict(transformer.named_modules())
    name = info.path.name
    for module, lora in info.modules.items():
        layer = linears.get(module)
        layer = getattr(layer, "base_layer", layer)  # already wrapped by another LoRA's adapter
        if not isinstance(layer, torch.nn.Linear):
            layers = getattr(transformer.config, "num_hidden_layers", "?")
            raise LoraError(
                f"LoRA {name} adapts {module}, which this ACE-Step model lacks (it has {layers} layers); it was "
                "made for another ACE-Step size — use one made for these weights."
            )
        if (layer.in_features, layer.out_features) != (lora.in_features, lora.out_features):
            raise LoraError(
                f"LoRA {name} was made for another ACE-Step model: {module} is {layer.in_features}->"
                f"{layer.out_features} here but {lora.in_features}->{lora.out_features} in the LoRA; use one made "
                "for these weights."
            )
    dtype = transformer.dtype
    tensors: dict[str, Any] = {}
    ranks: dict[str, int] = {}
    alphas: dict[str, float] = {}
    try:
        with safe_open(str(info.path), framework="pt", device="cpu") as fh:
            for module, lora in info.modules.items():
                tensors[f"{module}.lora_A.weight"] = fh.get_tensor(lora.down_key).to(dtype)
                tensors[f"{module}.lora_B.weight"] = fh.get_tensor(lora.up_key).to(dtype)
                ranks[module] = lora.rank
                if lora.alpha_key is not None:
                    alphas[module] = float(fh.get_tensor(lora.alpha_key).float().reshape(()))
                else:
                    alphas[module] = info.alpha if info.alpha is not None else float(lora.rank)
    except (SafetensorError, OSError, RuntimeError, ValueError) as exc:
        raise LoraError(f"LoRA {name} could not be read ({exc}); download it again.") from None
    bad = [m for m, a in alphas.items() if not math.isfinite(a) or a <= 0]
    if bad:
        raise LoraError(f"LoRA {name} has an invalid alpha at {bad[0]}; it is damaged.")
    for key, tensor in tensors.items():
        if not torch.isfinite(tensor).all():
            raise LoraError(f"LoRA {name} holds NaN or infinite values ({key}); it is damaged.")
    rank = max(set(ranks.values()), key=list(ranks.values()).count)
    alpha = max(set(alphas.values()), key=list(alphas.values()).count)
    config = {
        "r": rank,
        "lora_alpha": alpha,
        "target_modules": sorted(info.modules),
        # "^" + escaped full name: PEFT matches patterns as suffixes, so layers.1 must not match layers.11.
        "rank_pattern": {"^" + re.escape(m): r for m, r in ranks.items() if r != rank},
        "alpha_pattern": {"^" + re.escape(m): a for m, a in alphas.items() if a != alpha},
        "lora_dropout": 0.0,
        "bias": "none",
        "init_lora_weights": False,
    }
    return tensors, config


@dataclass
class Applied:
    ref: LoraRef
    info: LoraInfo
    adapter: str


class LoraSet:
    """The LoRAs applied to one transformer, kept equal to what each request asks for.

    Adapters stay unfused (the base weights are never modified), so removing the last LoRA with
    diffusers' ``unload_lora`` gives back the original modules bit for bit."""

    def __init__(self, transformer: Any) -> None:
        self.transformer = transformer
        self.loaded: dict[str, LoraInfo] = {}  # adapter name -> what it came from
        self.active: list[Applied] = []
        self._resolved: dict[str, tuple[Path, float | None]] = {}  # Hub sources fetched this process
        self._names: dict[tuple[str, int, int], str] = {}  # (path, size, mtime) -> content hash

    def sync(self, refs: Sequence[LoraRef], on_progress: Callable[[str], None] | None = None) -> list[Applied]:
        """Make the transformer carry exactly ``refs`` with their scales (none = the base weights)."""
        refs = list(refs)
        if not refs:
            self.clear()
            return []
        wanted: list[Applied] = []
        for ref in refs:  # check every file before touching the model, so a bad one changes nothing
            path, alpha = self._resolve(ref.source, on_progress)
            info = check_lora_file(path, alpha=alpha)
            wanted.append(Applied(ref=ref, info=info, adapter=self._adapter_name(info.path)))
        names = [w.adapter for w in wanted]
        if len(set(names)) != len(names):
            raise LoraError("the same LoRA file is listed twice under different names; give it once.")
        try:
            stale = [a for a in self.loaded if a not in names]
            if stale:
                self.transformer.delete_adapters(stale)
                for adapter in stale:
                    del self.loaded[adapter]
            for item in wanted:
                if item.adapter not in self.loaded:
                    self._load(item)
            self.transformer.set_adapters(names, weights=[w.ref.scale for w in wanted])
        except LoraError:
            self.clear()
            raise
        except Exception as exc:  # never leave a half-applied set behind
            self.clear()
            raise LoraError(
                f"applying the LoRAs failed ({type(exc).__name__}: {exc}); the base model is back — check that "
                "each LoRA was made for these ACE-Step weights."
            ) from exc
        self.active = wanted
        return wanted

    def _resolve(self, source: str, on_progress: Callable[[str], None] | None) -> tuple[Path, float | None]:
        if looks_local(source):
            return resolve(source, on_progress)
        if source not in self._resolved:
            self._resolved[source] = resolve(source, on_progress)
        return self._resolved[source]

    def _adapter_name(self, path: Path) -> str:
        """Hashing a large LoRA on every render would cost time; a file unchanged on disk keeps its name."""
        stat = path.stat()
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        if key not in self._names:
            self._names[key] = fingerprint(path)
        return self._names[key]

    def _load(self, item: Applied) -> None:
        import warnings

        _require_peft()
        tensors, config = state_dict_for(item.info, self.transformer)
        with warnings.catch_warnings():
            # PEFT warns that a second adapter joins the first; stacking them is the point.
            warnings.filterwarnings("ignore", message=".*multiple adapters.*")
            self.transformer.load_lora_adapter(tensors, prefix=None, adapter_name=item.adapter, metadata=config)
        self.loaded[item.adapter] = item.info

    def clear(self) -> None:
        """Remove every adapter and the LoRA wrappers: the transformer is the base model again."""
        if self.loaded or getattr(self.transformer, "peft_config", None):
            self.transformer.unload_lora()
        self.loaded.clear()
        self.active = []


def _require_peft() -> None:
    import importlib.util

    if importlib.util.find_spec("peft") is None:
        raise LoraError("LoRAs need the Python package `peft`; install it with `pip install peft`.")
