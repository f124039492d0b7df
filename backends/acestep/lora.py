"""LoRAs for the ACE-Step DiT: parse a reference, check a file without loading it, keep a set applied.

A LoRA is named by a local ``.safetensors`` file, a local folder holding one, or a Hub id
(``owner/name`` or ``owner/name/path/in/repo.safetensors``). Only safetensors are read, never a
pickle: the header (a little-endian u64 length, then JSON naming each tensor's dtype, shape and
byte range) is checked before any tensor is touched, so a wrong, oversized or hostile file costs
a few kilobytes of reading and one sentence saying what to change.

Three key layouts load (all end up as diffusers/PEFT module names of ``AceStepTransformer1DModel``):

* diffusers: ``transformer.layers.0.self_attn.to_q.lora_A.weight`` (``save_lora_weights``),
* ACE-Step-1.5's own trainer (a PEFT adapter folder): ``base_model.model.layers.0.self_attn.q_proj
  .lora_A.weight`` with ``adapter_config.json`` beside it for alpha,
* ``lora_down`` / ``lora_up`` (+ ``alpha``) pairs under any of those prefixes.

This module imports only the standard library and pydantic at the top: ``spec.py`` uses
:class:`LoraRef` and must stay cheap. torch, safetensors and huggingface_hub load on first use.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from backends.base import StudioError

log = logging.getLogger(__name__)

# A file over this is refused before its header is read: a LoRA of the XL DiT at rank 64 on every
# attention projection is ~200 MB in fp32, so 512 MB leaves room without letting a full checkpoint in.
MAX_MB_ENV = "STUDIO_MAX_LORA_MB"
DEFAULT_MAX_MB = 512
MAX_RANK_ENV = "STUDIO_MAX_LORA_RANK"
DEFAULT_MAX_RANK = 256
MAX_LORAS = 4
MIN_SCALE, MAX_SCALE = 0.0, 2.0
SOURCE_MAX = 1000
# safetensors' own reader refuses headers over 100 MB; a LoRA header is a few hundred KB.
MAX_HEADER_BYTES = 100_000_000

# File names tried, in order, inside a folder or Hub repository.
WEIGHT_NAMES = ("pytorch_lora_weights.safetensors", "adapter_model.safetensors", "adapter/adapter_model.safetensors")
ADAPTER_CONFIG = "adapter_config.json"

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


class LoraError(StudioError):
    """A LoRA reference or file the studio refuses; the message says what to change."""


# --------------------------------------------------------------------------------------------- references


class LoraRef(BaseModel):
    """One LoRA of a request: where it is and how strongly it applies."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(
        min_length=1, max_length=SOURCE_MAX,
        description="A .safetensors file, a folder holding one, or a Hub id (owner/name[/file.safetensors]).",
    )
    scale: float = Field(1.0, ge=MIN_SCALE, le=MAX_SCALE, description="0 = off, 1 = as trained.")

    @field_validator("source")
    @classmethod
    def _strip(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("a LoRA needs a source: a .safetensors file, a folder or a Hub id (owner/name)")
        return value

    def __str__(self) -> str:
        return format_lora_arg(self)


def parse_lora_arg(text: str) -> LoraRef:
    """``SOURCE[:SCALE]``: the scale is the text after the last ``:`` when that text is a number.

    Hub ids never contain ``:``, and a Windows path's drive colon is followed by ``\\``, so
    ``C:\\loras\\x.safetensors`` is a path with scale 1 and ``C:\\loras\\x.safetensors:0.5`` has
    scale 0.5. A path that itself ends in ``:<number>`` can be given with an explicit ``:1``."""
    text = (text or "").strip()
    source, sep, tail = text.rpartition(":")
    scale = 1.0
    if sep and _is_number(tail):
        scale = float(tail)
    else:
        source = text
    if not source:
        raise LoraError(f"LoRA {text!r} names no file; give a .safetensors path or a Hub id, e.g. owner/name:0.8.")
    if not math.isfinite(scale) or not MIN_SCALE <= scale <= MAX_SCALE:
        raise LoraError(
            f"LoRA scale must be between {MIN_SCALE:g} and {MAX_SCALE:g}, got {tail} in {text!r}; "
            "1 applies it as trained."
        )
    if len(source) > SOURCE_MAX:
        raise LoraError(f"LoRA source is {len(source)} characters long (at most {SOURCE_MAX}); shorten the path.")
    return LoraRef(source=source, scale=scale)


def lora_option(text: str) -> dict[str, Any]:
    """A ``--lora`` value as a request option: local files are checked now (before any model loads)
    and recorded by absolute path, so a song card's recipe works from any folder."""
    ref = parse_lora_arg(text)
    if looks_local(ref.source):
        path, _ = resolve(ref.source)
        check_lora_file(path)
        ref = LoraRef(source=str(Path(ref.source).expanduser().resolve()), scale=ref.scale)
    return ref.model_dump()


def format_lora_arg(ref: LoraRef) -> str:
    """The inverse of :func:`parse_lora_arg` (what a song card or a command line shows)."""
    return f"{ref.source}:{ref.scale:g}"


NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _is_number(text: str) -> bool:
    return NUMBER.fullmatch(text.strip()) is not None


def coerce_refs(value: Any) -> Any:
    """Options accept ``"owner/name:0.8"`` strings as well as ``{source, scale}`` items."""
    if value is None:
        return []
    if isinstance(value, (str, dict, LoraRef)):
        value = [value]
    if not isinstance(value, (list, tuple)):
        return value
    out = []
    for item in value:
        if isinstance(item, str):
            try:
                out.append(parse_lora_arg(item))
            except LoraError as exc:
                raise ValueError(str(exc).rstrip(".")) from None
        else:
            out.append(item)
    return out


def check_ref_list(refs: list[LoraRef]) -> list[LoraRef]:
    if len(refs) > MAX_LORAS:
        raise ValueError(f"at most {MAX_LORAS} LoRAs can be stacked, got {len(refs)}; drop the weakest ones")
    seen: set[str] = set()
    for ref in refs:
        if ref.source in seen:
            raise ValueError(f"LoRA {ref.source} is listed twice; give it once with the scale you want")
        seen.add(ref.source)
    return refs


# --------------------------------------------------------------------------------------------- limits


def max_bytes() -> int:
    return _env_number(MAX_MB_ENV, DEFAULT_MAX_MB) * 1024 * 1024


def max_rank() -> int:
    return _env_number(MAX_RANK_ENV, DEFAULT_MAX_RANK)


def _env_number(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise LoraError(f"{name} must be a whole number, got {raw!r}; unset it to use {default}.") from None
    if value <= 0:
        raise LoraError(f"{name} must be positive, got {value}; unset it to use {default}.")
    return value


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
        alpha=next((a for a in (alpha, _metadata_alpha(header.metadata), _config_alpha(path.parent)) if a), None),
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


def _config_alpha(folder: Path) -> float | None:
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


# --------------------------------------------------------------------------------------------- finding the file


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


def looks_local(source: str) -> bool:
    """A path (existing, absolute, or shaped like a file name) rather than a Hub id."""
    from studio import weights as weights_source

    if weights_source.looks_local(source) or "/" not in source:
        return True
    return source.count("/") < 2 and Path(source).suffix.lower() in (".safetensors", ".bin", ".pt", ".pth", ".ckpt")


HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+(/[^:]+\.safetensors)?")


def resolve(source: str, on_progress: Callable[[str], None] | None = None) -> tuple[Path, float | None]:
    """The local .safetensors file a source names (fetching a Hub id once), and alpha from a sidecar config."""
    if looks_local(source):
        path = Path(source).expanduser()
        if not path.exists():
            raise LoraError(f"LoRA {source} does not exist; check the path, or give a Hub id like owner/name.")
        path = weight_file_in(path) if path.is_dir() else path
        return path, _config_alpha(path.parent)
    if not HUB_ID.fullmatch(source):
        raise LoraError(
            f"LoRA {source!r} is neither an existing file nor a Hub id; give a .safetensors path or owner/name."
        )
    path = _fetch_hub(source, on_progress)
    return path, _config_alpha(path.parent)


def _fetch_hub(source: str, on_progress: Callable[[str], None] | None) -> Path:
    """Download only the LoRA's safetensors (and its adapter config) from the Hub, checking size first."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, RepositoryNotFoundError

    owner, name, *inner = source.split("/", 2)
    repo = f"{owner}/{name}"
    wanted = inner[0] if inner else None
    try:
        wanted = _pick_remote(repo, wanted)
    except LoraError:
        raise
    except Exception as exc:  # listing is a courtesy check; offline, the cached snapshot below decides
        log.info("could not list LoRA repository %s on the Hub (%s); trying the local cache", repo, exc)
    patterns = [wanted, str(Path(wanted).parent / ADAPTER_CONFIG)] if wanted else ["*.safetensors", "*.json"]
    if on_progress:
        on_progress(f"fetching LoRA {source}")
    try:
        folder = Path(snapshot_download(repo, allow_patterns=patterns))
    except RepositoryNotFoundError:
        raise LoraError(
            f"LoRA {repo!r} is not a Hub repository (or is private); check the id, or download the "
            ".safetensors and give its path."
        ) from None
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError):
        raise LoraError(
            f"LoRA {source!r} is not on this machine and the Hub cannot be reached; download it once "
            f"(`hf download {repo}`) or give a local .safetensors path."
        ) from None
    if wanted:
        path = folder / wanted
        if not path.is_file():
            raise LoraError(f"LoRA repository {repo} has no file {wanted}; check the name.")
        return path
    return weight_file_in(folder)


def _pick_remote(repo: str, wanted: str | None) -> str:
    """Which file of a Hub LoRA repository to fetch, refusing oversized or pickled ones before downloading."""
    from huggingface_hub import HfApi

    info = HfApi().model_info(repo, files_metadata=True)
    sizes = {s.rfilename: (s.size or 0) for s in info.siblings or []}
    if wanted is None:
        choices = [n for n in WEIGHT_NAMES if n in sizes] or sorted(n for n in sizes if n.endswith(".safetensors"))
        if not choices:
            pickles = sorted(n for n in sizes if n.endswith((".bin", ".pt", ".pth", ".ckpt")))
            hint = f"; it has {pickles[0]}, a pickle the studio never loads" if pickles else ""
            raise LoraError(f"LoRA repository {repo} has no .safetensors file{hint}; pick a safetensors LoRA.")
        if len(choices) > 1 and choices[0] not in WEIGHT_NAMES:
            raise LoraError(
                f"LoRA repository {repo} has several .safetensors files ({', '.join(choices[:4])}); "
                f"name one: {repo}/{choices[0]}."
            )
        wanted = choices[0]
    if wanted not in sizes:
        raise LoraError(f"LoRA repository {repo} has no file {wanted}; check the name.")
    cap = max_bytes()
    if sizes[wanted] > cap:
        raise LoraError(
            f"LoRA {repo}/{wanted} is {sizes[wanted] / 2**20:.0f} MB, over the {cap // 2**20} MB limit; use a "
            f"smaller (lower-rank) LoRA or raise {MAX_MB_ENV}."
        )
    return wanted


def check_lora(source: str, on_progress: Callable[[str], None] | None = None) -> LoraInfo:
    """Resolve a source (file, folder or Hub id) and check it; what the UI and CLI call up front."""
    path, alpha = resolve(source, on_progress)
    return check_lora_file(path, alpha=alpha)


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
