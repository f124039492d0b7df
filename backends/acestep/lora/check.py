"""Reading a LoRA without loading it: the safetensors header, then which DiT layers its keys adapt."""

from __future__ import annotations

import json
import logging
import math
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backends.acestep.lora.refs import MAX_MB_ENV, MAX_RANK_ENV, LoraError, max_bytes, max_rank

log = logging.getLogger(__name__)

# A file over this is refused before its header is read: a LoRA of the XL DiT at rank 64 on every

# File names tried, in order, inside a folder or Hub repository.
WEIGHT_NAMES = ("pytorch_lora_weights.safetensors", "adapter_model.safetensors", "adapter/adapter_model.safetensors")
ADAPTER_CONFIG = "adapter_config.json"

# safetensors' own reader refuses headers over 100 MB; a LoRA header is a few hundred KB.
MAX_HEADER_BYTES = 100_000_000
# Outer prefixes the trainers put before the transformer's own module names.
PREFIXES = ("transformer.", "base_model.model.", "diffusion_model.", "decoder.")
# ACE-Step-1.5 names attention projections like its LM; diffusers renamed them.
ORIGINAL_PROJECTIONS = {"q_proj": "to_q", "k_proj": "to_k", "v_proj": "to_v", "o_proj": "to_out.0"}
# The Linear layers of AceStepTransformer1DModel a LoRA may adapt (convolutions and norms are not).
TARGET_PATTERNS = (
    re.compile(r"layers\.(\d+)\.(self_attn|cross_attn)\.(to_q|to_k|to_v|to_out\.0)"),
    re.compile(r"layers\.(\d+)\.mlp\.(gate_proj|up_proj|down_proj)"),
    re.compile(r"(time_embed|time_embed_r)\.(linear_1|linear_2|time_proj)"),
    re.compile(r"(condition_embedder)"),
)
EXPECTED_EXAMPLES = "layers.N.self_attn.to_q, layers.N.cross_attn.to_v, layers.N.mlp.up_proj"

FLOAT_DTYPES = {"F16": 2, "BF16": 2, "F32": 4, "F64": 8}
ALL_DTYPES = {
    **FLOAT_DTYPES, "BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "I16": 2, "U16": 2,
    "I32": 4, "U32": 4, "I64": 8, "U64": 8,
}
# What other formats start with, so the refusal can say what the file really is.
MAGIC = (
    (b"PK\x03\x04", "a zip archive (PyTorch's torch.save format, which unpickles code on load)"),
    (b"\x80\x02", "a Python pickle"), (b"\x80\x03", "a Python pickle"), (b"\x80\x04", "a Python pickle"),
    (b"\x80\x05", "a Python pickle"),
    (b"GGUF", "a GGUF file"),
    (b"\x89HDF", "an HDF5 file"),
)
CONVERT_HINT = "convert it with `safetensors.torch.save_file` where you trust its source"


# --------------------------------------------------------------------------------------------- the header


@dataclass(frozen=True)
class TensorEntry:
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int


@dataclass(frozen=True)
class Header:
    tensors: dict[str, TensorEntry]
    metadata: dict[str, str]
    data_start: int  # byte offset of the tensor data in the file


def read_header(path: Path) -> Header:
    """The safetensors header of ``path``, fully checked; no tensor data is read."""
    name = path.name
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise LoraError(f"cannot read LoRA file {path} ({exc.strerror or exc}); check the path.") from None
    cap = max_bytes()
    if size > cap:
        raise LoraError(
            f"LoRA file {name} is {size / 2**20:.0f} MB, over the {cap // 2**20} MB limit; use a smaller "
            f"(lower-rank) LoRA or raise {MAX_MB_ENV}."
        )
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
            what = _sniff(head)
            if what:
                raise LoraError(
                    f"LoRA file {name} is {what}, not safetensors; the studio never loads pickles: {CONVERT_HINT}."
                )
            if len(head) < 8:
                raise LoraError(f"LoRA file {name} is {size} bytes, too short for safetensors; it is empty or cut off.")
            (length,) = struct.unpack("<Q", head)
            if length > min(size - 8, MAX_HEADER_BYTES):
                raise LoraError(
                    f"LoRA file {name} is not a complete safetensors file (its header claims {length} bytes); "
                    "download it again or pick a .safetensors LoRA."
                )
            raw = fh.read(length)
    except OSError as exc:
        raise LoraError(f"cannot read LoRA file {path} ({exc.strerror or exc}); check the path.") from None
    return _parse_header(name, raw, data_len=size - 8 - length, data_start=8 + length)


def _sniff(head: bytes) -> str:
    for magic, what in MAGIC:
        if head.startswith(magic):
            return what
    return ""


def _parse_header(name: str, raw: bytes, *, data_len: int, data_start: int) -> Header:
    bad = f"LoRA file {name} is not safetensors (its header is not valid); pick a .safetensors LoRA"
    if not raw.lstrip(b" ").startswith(b"{"):
        raise LoraError(bad + ".")
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise LoraError(bad + ".") from None
    if not isinstance(doc, dict):
        raise LoraError(bad + ".")
    metadata = doc.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise LoraError(bad + " (`__metadata__` must map names to strings).")
    tensors: dict[str, TensorEntry] = {}
    for key, entry in doc.items():
        tensors[key] = _entry(name, key, entry, data_len)
    if not tensors:
        raise LoraError(f"LoRA file {name} holds no tensors; it is not a LoRA.")
    return Header(tensors=tensors, metadata=dict(metadata), data_start=data_start)


def _entry(name: str, key: str, entry: Any, data_len: int) -> TensorEntry:
    broken = f"LoRA file {name} is damaged (tensor {key[:80]!r} has an invalid entry); download it again."
    if not isinstance(entry, dict):
        raise LoraError(broken)
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if not isinstance(dtype, str) or dtype not in ALL_DTYPES:
        raise LoraError(broken)
    if not isinstance(shape, list) or len(shape) > 8 or not all(_is_count(d) for d in shape):
        raise LoraError(broken)
    if not isinstance(offsets, list) or len(offsets) != 2 or not all(_is_count(o) for o in offsets):
        raise LoraError(broken)
    begin, end = offsets
    if not begin <= end <= data_len or end - begin != math.prod(shape) * ALL_DTYPES[dtype]:
        raise LoraError(broken)
    return TensorEntry(dtype=dtype, shape=tuple(shape), begin=begin, end=end)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


# --------------------------------------------------------------------------------------------- key layout


@dataclass(frozen=True)
class ModuleLora:
    """One adapted Linear: its low-rank pair (file keys) and their shapes."""

    down_key: str
    up_key: str
    rank: int
    in_features: int
    out_features: int
    alpha_key: str | None = None


@dataclass(frozen=True)
class LoraInfo:
    """What a LoRA file holds, from its header alone (what the UI shows before rendering)."""

    path: Path
    size_bytes: int
    n_keys: int
    rank: int
    targets: tuple[str, ...]
    n_layers: int
    layout: str
    alpha: float | None = None
    modules: dict[str, ModuleLora] = field(default_factory=dict, repr=False, compare=False)

    @property
    def n_modules(self) -> int:
        return len(self.modules)

    def describe(self) -> str:
        where = f" on {self.n_layers} layer{'s' * (self.n_layers != 1)}" if self.n_layers else ""
        return (
            f"{self.path.name}: rank {self.rank}, {self.n_modules} modules{where} ({', '.join(self.targets)}), "
            f"{self.size_bytes / 2**20:.1f} MB, {self.layout} layout"
        )


def _split_key(key: str) -> tuple[str, str] | None:
    """(module, part) with part in lora_A / lora_B / alpha, or None for a key that is no LoRA part."""
    for suffix, part in (
        (".lora_A.weight", "lora_A"), (".lora_B.weight", "lora_B"),
        (".lora_A.default.weight", "lora_A"), (".lora_B.default.weight", "lora_B"),
        (".lora_down.weight", "lora_A"), (".lora_up.weight", "lora_B"), (".alpha", "alpha"),
    ):
        if key.endswith(suffix):
            return key[: -len(suffix)], part
    return None


def module_name(raw: str) -> tuple[str, str]:
    """The transformer's module name for a file's module path, and which layout it came in."""
    layout = "plain"
    stripped = True
    while stripped:
        stripped = False
        for prefix in PREFIXES:
            if raw.startswith(prefix):
                raw = raw[len(prefix):]
                layout = "ACE-Step (PEFT)" if prefix == "base_model.model." else layout
                layout = "diffusers" if prefix == "transformer." and layout == "plain" else layout
                stripped = True
    parts = raw.rsplit(".", 2)
    if len(parts) == 3 and parts[1] in ("self_attn", "cross_attn") and parts[2] in ORIGINAL_PROJECTIONS:
        raw = f"{parts[0]}.{parts[1]}.{ORIGINAL_PROJECTIONS[parts[2]]}"
        layout = "ACE-Step (PEFT)"
    return raw, layout


def _target(module: str) -> tuple[str, int | None] | None:
    """(kind, layer) of an adaptable module, e.g. ('self_attn.to_q', 3); None if not adaptable."""
    for pattern in TARGET_PATTERNS:
        match = pattern.fullmatch(module)
        if match:
            if module.startswith("layers."):
                return module.split(".", 2)[2], int(match.group(1))
            return module, None
    return None


def check_lora_file(path: str | Path, *, alpha: float | None = None) -> LoraInfo:
    """Check an (uploaded) LoRA file from its header: format, size cap, keys, rank cap.

    Reads only the header; raises :class:`LoraError` with one sentence saying what to change.
    ``alpha`` comes from a PEFT ``adapter_config.json`` when the caller found one."""
    path = Path(path).expanduser()
    if path.is_dir():
        path = weight_file_in(path)
    header = read_header(path)
    name = path.name
    grouped: dict[str, dict[str, tuple[str, TensorEntry]]] = {}
    layouts: set[str] = set()
    foreign: list[str] = []
    for key, entry in header.tensors.items():
        split = _split_key(key)
        if split is None:
            foreign.append(key)
            continue
        module, layout = module_name(split[0])
        layouts.add(layout)
        part = grouped.setdefault(module, {})
        if split[1] in part:
            raise LoraError(f"LoRA file {name} holds two {split[1]} tensors for {module}; it is damaged.")
        part[split[1]] = (key, entry)
    if foreign:
        raise LoraError(
            f"LoRA file {name} has keys that are not LoRA weights (e.g. {foreign[0][:80]!r}); it is a full "
            "checkpoint, DoRA/LoKr or another format — pick a LoRA saved with lora_A/lora_B weights."
        )
    untargeted = [m for m in grouped if _target(m) is None]
    if untargeted:
        raise LoraError(
            f"LoRA file {name} adapts {untargeted[0][:80]!r}, which is not a layer of the ACE-Step 1.5 DiT "
            f"(expected names like {EXPECTED_EXAMPLES}); it was made for another model."
        )
    cap = max_rank()
    modules: dict[str, ModuleLora] = {}
    for module, parts in grouped.items():
        if "lora_A" not in parts or "lora_B" not in parts:
            missing = "lora_A/lora_down" if "lora_A" not in parts else "lora_B/lora_up"
            raise LoraError(f"LoRA file {name} lacks the {missing} half for {module}; it is incomplete.")
        (down_key, down), (up_key, up) = parts["lora_A"], parts["lora_B"]
        for key, entry in ((down_key, down), (up_key, up)):
            if entry.dtype not in FLOAT_DTYPES or len(entry.shape) != 2 or 0 in entry.shape:
                raise LoraError(
                    f"LoRA file {name}: {key[:80]} is {entry.dtype} {list(entry.shape)}, not a 2-D float matrix; "
                    "it is not a LoRA for linear layers."
                )
        rank = down.shape[0]
        if up.shape[1] != rank:
            raise LoraError(
                f"LoRA file {name}: {module} has rank {rank} in lora_A but {up.shape[1]} in lora_B; it is damaged."
            )
        if rank > cap:
            raise LoraError(
                f"LoRA file {name} has rank {rank} (at {module}), over the limit of {cap}; use a lower-rank LoRA "
                f"or raise {MAX_RANK_ENV}."
            )
        alpha_key = None
        if "alpha" in parts:
            alpha_key, entry = parts["alpha"]
            if entry.dtype not in FLOAT_DTYPES or math.prod(entry.shape) != 1:
                raise LoraError(f"LoRA file {name}: {alpha_key[:80]} is not one number; it is damaged.")
        modules[module] = ModuleLora(
            down_key=down_key, up_key=up_key, rank=rank, in_features=down.shape[1], out_features=up.shape[0],
            alpha_key=alpha_key,
        )
    targets = sorted({_target(m)[0] for m in modules})
    layers = {_target(m)[1] for m in modules} - {None}
    return LoraInfo(
        path=path, size_bytes=path.stat().st_size, n_keys=len(header.tensors),
        rank=max(m.rank for m in modules.values()), targets=tuple(targets), n_layers=len(layers),
        layout=" + ".join(sorted(layouts)),
        alpha=next((a for a in (alpha, _metadata_alpha(header.metadata), config_alpha(path.parent)) if a), None),
        modules=modules,
    )


def _metadata_alpha(metadata: dict[str, str]) -> float | None:
    """diffusers stores the PEFT config as JSON under ``lora_adapter_metadata`` (keys prefixed by component)."""
    try:
        doc = json.loads(metadata.get("lora_adapter_metadata", "") or "{}")
    except (ValueError, RecursionError):
        return None
    if not isinstance(doc, dict):
        return None
    for key in ("transformer.lora_alpha", "lora_alpha"):
        value = doc.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0:
            return float(value)
    return None


def config_alpha(folder: Path) -> float | None:
    """``lora_alpha`` of a PEFT ``adapter_config.json`` beside the weights (ACE-Step's trainer writes one)."""
    config = folder / ADAPTER_CONFIG
    if not config.is_file() or config.stat().st_size > 1_000_000:
        return None
    try:
        doc = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None
    value = doc.get("lora_alpha") if isinstance(doc, dict) else None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0:
        return float(value)
    return None


def weight_file_in(folder: Path) -> Path:
    """The LoRA weights inside a folder (a diffusers save, a PEFT adapter, or a single .safetensors)."""
    for name in WEIGHT_NAMES:
        if (folder / name).is_file():
            return folder / name
    # One level down at most: a LoRA folder is small, and pointing at a big tree must not crawl it.
    found = sorted(p for pattern in ("*.safetensors", "*/*.safetensors") for p in folder.glob(pattern) if p.is_file())
    if len(found) == 1:
        return found[0]
    pickles = sorted(
        p.name for pattern in ("*", "*/*") for p in folder.glob(pattern) if p.suffix in (".bin", ".pt", ".pth", ".ckpt")
    )
    if not found and pickles:
        raise LoraError(
            f"{folder} holds {pickles[0]} but no .safetensors file; the studio never loads pickles: {CONVERT_HINT}."
        )
    if not found:
        raise LoraError(f"{folder} holds no .safetensors file; point --lora at the LoRA's .safetensors file.")
    names = ", ".join(str(p.relative_to(folder)) for p in found[:4])
    raise LoraError(f"{folder} holds several .safetensors files ({names}); name the one you want.")
