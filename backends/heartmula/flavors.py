"""Llama flavor dimensions: a table of the real ones plus any a checkpoint folder declares."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path

from studio.ground.errors import StudioError


@dataclass(frozen=True)
class LlamaFlavor:
    """Dimensions of one Llama-3.2-style transformer (upstream names them by flavor string)."""

    num_layers: int
    num_heads: int
    num_kv_heads: int
    embed_dim: int
    intermediate_dim: int
    max_seq_len: int
    head_dim: int = 0  # 0 means embed_dim // num_heads
    norm_eps: float = 1e-5
    rope_base: float = 500_000.0
    rope_scale_factor: float = 32.0

    @property
    def dim_per_head(self) -> int:
        return self.head_dim or self.embed_dim // self.num_heads


# The flavors upstream ships. Real checkpoints use llama-3B (backbone) and llama-300M (decoder).
KNOWN_FLAVORS: dict[str, LlamaFlavor] = {
    "llama-3B": LlamaFlavor(28, 24, 8, 3072, 8192, 8192),
    "llama-300M": LlamaFlavor(3, 8, 4, 3072, 8192, 2048),
    "llama-7B": LlamaFlavor(32, 32, 8, 4096, 14336, 8192),
    "llama-400M": LlamaFlavor(4, 8, 4, 3072, 8192, 2048),
}

FLAVORS_FILE = "flavors.json"


def flavors_for(model_dir: Path) -> dict[str, LlamaFlavor]:
    """The known flavors, plus those of a ``flavors.json`` beside ``config.json`` (test checkpoints)."""
    table = dict(KNOWN_FLAVORS)
    extra = model_dir / FLAVORS_FILE
    if not extra.is_file():
        return table
    allowed = {f.name for f in fields(LlamaFlavor)}
    for name, dims in json.loads(extra.read_text(encoding="utf-8")).items():
        if name.startswith("_"):
            continue
        unknown = set(dims) - allowed
        if unknown:
            raise StudioError(
                f"{extra} declares flavor {name!r} with unknown fields {sorted(unknown)}; "
                f"allowed fields are {sorted(allowed)}."
            )
        table[name] = LlamaFlavor(**dims)
    return table


def resolve_flavor(name: str, table: dict[str, LlamaFlavor]) -> LlamaFlavor:
    try:
        return table[name]
    except KeyError:
        raise StudioError(
            f"HeartMuLa config names flavor {name!r}, which this port does not know "
            f"(known: {sorted(table)}); add its dimensions to a {FLAVORS_FILE} beside config.json."
        ) from None
