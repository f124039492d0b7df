"""Read ACE-Step's audio tokenizer pair out of a native checkpoint and attach it to a pipeline.

Why and from where: see :mod:`backends.acestep.code_pair`. Facts about the native layout, from diffusers'
``scripts/convert_ace_step_to_diffusers.py`` and ACE-Step 1.5's checkpoints:

- a native checkpoint folder holds ``config.json`` and either ``model.safetensors`` or a sharded
  ``model.safetensors.index.json`` (its ``weight_map`` names the shard of every key);
- the pair's keys are ``tokenizer.*`` and ``detokenizer.*``; the DiT's are ``decoder.*``;
- attention projections are named ``q_proj``/``k_proj``/``v_proj``/``o_proj``/``q_norm``/``k_norm`` there
  and ``to_q``/``to_k``/``to_v``/``to_out.0``/``norm_q``/``norm_k`` in diffusers;
- the pair is as wide as the condition encoder (``encoder_hidden_size`` and friends on XL, else the DiT's
  own widths) and its poolers take the first ``num_attention_pooler_hidden_layers`` of ``layer_types``.

Only the pair's bytes (and a few small DiT tensors to prove the checkpoint is ours) are read: a Hub file
is read by byte ranges, so the multi-GB XL checkpoint is never downloaded for a pair of (by the converter's
widths) about 0.2 B parameters.
The converted pair is kept under the studio's state folder, so later loads need no network.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, BinaryIO

import torch

from backends.acestep.code_pair import CODEC_ENV, PAIR
from studio.ground.errors import StudioError

SINGLE_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"
PREFIXES = {"audio_tokenizer": "tokenizer.", "audio_token_detokenizer": "detokenizer."}
ATTENTION_RENAMES = (
    (".q_proj.", ".to_q."),
    (".k_proj.", ".to_k."),
    (".v_proj.", ".to_v."),
    (".o_proj.", ".to_out.0."),
    (".q_norm.", ".norm_q."),
    (".k_norm.", ".norm_k."),
)
# safetensors dtype names (the format's header) -> torch
DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
    "BOOL": torch.bool,
}
# A checkpoint is the same DiT when the fingerprint tensors agree after rounding both to bf16 (the
# published diffusers weights are a bf16 cast of the native ones); fine-tuning moves far more than this.
MAX_MISMATCH = 1e-3


def diffusers_key(native_key: str) -> str:
    """A native key (its component prefix already removed) under diffusers' attention names."""
    for old, new in ATTENTION_RENAMES:
        native_key = native_key.replace(old, new)
    return native_key


def fingerprint_keys(config: dict[str, Any]) -> list[str]:
    """Small DiT tensors that identify a checkpoint: its AdaLN tables (global, first and last block).
    Their names are the same in both layouts, so no rename can make two different DiTs look alike."""
    last = int(config["num_hidden_layers"]) - 1
    return ["scale_shift_table", "layers.0.scale_shift_table", f"layers.{last}.scale_shift_table"]


# ---- reading safetensors by byte range ---------------------------------------------------------------


def read_header(stream: BinaryIO) -> tuple[dict[str, Any], int]:
    """The safetensors header (tensor name -> dtype, shape, data_offsets) and where the data starts.
    Format: 8 bytes little-endian header length, the JSON header, then the raw data."""
    size = int.from_bytes(stream.read(8), "little")
    header = json.loads(stream.read(size))
    header.pop("__metadata__", None)
    return header, 8 + size


def read_tensors(stream: BinaryIO, names: Iterable[str]) -> dict[str, torch.Tensor]:
    """Only ``names`` from one safetensors stream, each read with one seek (a range request on the Hub)."""
    header, base = read_header(stream)
    out = {}
    for name in sorted(names, key=lambda n: header[n]["data_offsets"][0]):
        entry = header[name]
        start, end = entry["data_offsets"]
        stream.seek(base + start)
        raw = bytearray(stream.read(end - start))
        if len(raw) != end - start:
            raise OSError(f"{name} is truncated ({len(raw)} of {end - start} bytes)")
        tensor = torch.frombuffer(raw, dtype=DTYPES[entry["dtype"]]) if raw else torch.empty(0)
        out[name] = tensor.reshape(entry["shape"])
    return out


class NativeCheckpoint:
    """A native ACE-Step checkpoint in a folder or on the Hub, read piece by piece."""

    def __init__(self, location: str) -> None:
        self.location = location
        self.local = Path(location).is_dir()

    def text(self, name: str) -> str | None:
        if self.local:
            path = Path(self.location) / name
            return path.read_text(encoding="utf-8") if path.is_file() else None
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import EntryNotFoundError

        try:
            return Path(hf_hub_download(self.location, name)).read_text(encoding="utf-8")
        except EntryNotFoundError:
            return None

    def open(self, name: str) -> BinaryIO:
        if self.local:
            return open(Path(self.location) / name, "rb")
        from huggingface_hub import HfFileSystem

        return HfFileSystem().open(f"{self.location}/{name}", "rb")

    def config(self) -> dict[str, Any]:
        text = self.text("config.json")
        if text is None:
            raise OSError("it has no config.json")
        return json.loads(text)

    def files_for(self, keys: Callable[[str], bool]) -> dict[str, list[str]]:
        """Shard file -> the wanted keys in it (one file when the checkpoint is not sharded)."""
        index = self.text(INDEX_FILE)
        if index is not None:
            weight_map: dict[str, str] = json.loads(index)["weight_map"]
        else:
            with self.open(SINGLE_FILE) as stream:
                weight_map = dict.fromkeys(read_header(stream)[0], SINGLE_FILE)
        out: dict[str, list[str]] = {}
        for key, file in weight_map.items():
            if keys(key):
                out.setdefault(file, []).append(key)
        return out

    def read(self, keys: Callable[[str], bool]) -> dict[str, torch.Tensor]:
        tensors: dict[str, torch.Tensor] = {}
        for file, names in self.files_for(keys).items():
            with self.open(file) as stream:
                tensors.update(read_tensors(stream, names))
        return tensors


# ---- building the pair -------------------------------------------------------------------------------


def pair_configs(native: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """diffusers configs of the pair from a native ``config.json`` (the converter's mapping)."""
    width = native.get("encoder_hidden_size") or native["hidden_size"]
    pooler_layers = native.get("num_attention_pooler_hidden_layers", 2)
    layer_types = native.get("layer_types")
    shared = {
        "hidden_size": width,
        "intermediate_size": native.get("encoder_intermediate_size") or native["intermediate_size"],
        "audio_acoustic_hidden_dim": native["audio_acoustic_hidden_dim"],
        "pool_window_size": native.get("pool_window_size", 5),
        "num_attention_pooler_hidden_layers": pooler_layers,
        "num_attention_heads": native.get("encoder_num_attention_heads") or native["num_attention_heads"],
        "num_key_value_heads": native.get("encoder_num_key_value_heads") or native["num_key_value_heads"],
        "head_dim": native["head_dim"],
        "rope_theta": native["rope_theta"],
        "attention_bias": native.get("attention_bias", False),
        "attention_dropout": native.get("attention_dropout", 0.0),
        "rms_norm_eps": native.get("rms_norm_eps", 1e-6),
        "sliding_window": native["sliding_window"],
        "layer_types": list(layer_types[:pooler_layers]) if layer_types else None,
    }
    tokenizer = {
        **shared,
        "fsq_dim": native.get("fsq_dim", width),
        "fsq_input_levels": native.get("fsq_input_levels", [8, 8, 8, 5, 5, 5]),
        "fsq_input_num_quantizers": native.get("fsq_input_num_quantizers", 1),
    }
    return {"audio_tokenizer": tokenizer, "audio_token_detokenizer": shared}


def _pair_classes() -> dict[str, type]:
    from diffusers.pipelines.ace_step import AceStepAudioTokenDetokenizer, AceStepAudioTokenizer

    return {"audio_tokenizer": AceStepAudioTokenizer, "audio_token_detokenizer": AceStepAudioTokenDetokenizer}


def build_pair(config: dict[str, Any], tensors: dict[str, torch.Tensor]) -> dict[str, torch.nn.Module]:
    """The two modules, every weight taken from ``tensors`` (strict: a missing or extra key is an error)."""
    configs = pair_configs(config)
    out = {}
    for name, cls in _pair_classes().items():
        prefix = PREFIXES[name]
        state = {diffusers_key(k[len(prefix):]): v for k, v in tensors.items() if k.startswith(prefix)}
        module = cls(**configs[name])
        module.load_state_dict(state, strict=True)
        out[name] = module.eval()
    return out


def _is_wanted(fingerprint: list[str]) -> Callable[[str], bool]:
    native = {f"decoder.{k}" for k in fingerprint}
    return lambda key: key.startswith(tuple(PREFIXES.values())) or key in native


# What a missing, partial or foreign checkpoint raises while it is read and loaded (strict key matching).
_READ_ERRORS: tuple[type[Exception], ...] = (OSError, KeyError, ValueError, RuntimeError)


def _network_errors() -> tuple[type[Exception], ...]:
    """huggingface_hub's transport (httpx) errors are not OSErrors; an unreachable Hub must still read as one
    sentence."""
    try:
        import httpx
    except ImportError:  # pragma: no cover - huggingface_hub depends on it
        return ()
    return (httpx.HTTPError,)


def cache_folder(source: str) -> Path:
    from studio.paths import state_dir

    slug = re.sub(r"[^A-Za-z0-9._-]+", "--", source.strip("/")).strip("-") or "source"
    return state_dir() / "acestep-audio-codes" / slug


def fetch_pair(source: str) -> tuple[dict[str, torch.nn.Module], dict[str, torch.Tensor]]:
    """The pair and the native DiT's fingerprint tensors: from the cache, else read from ``source``
    (only the bytes needed) and cached."""
    from safetensors.torch import load_file, save_file

    folder = cache_folder(source)
    fingerprint_file = folder / "fingerprint.safetensors"
    classes = _pair_classes()
    if fingerprint_file.is_file() and all((folder / n / "config.json").is_file() for n in PAIR):
        pair = {n: classes[n].from_pretrained(folder / n).eval() for n in PAIR}
        return pair, load_file(fingerprint_file)
    checkpoint = NativeCheckpoint(source)
    try:
        config = checkpoint.config()
        wanted = fingerprint_keys(config)
        tensors = checkpoint.read(_is_wanted(wanted))
        missing = [f"decoder.{k}" for k in wanted if f"decoder.{k}" not in tensors]
        if missing:
            raise KeyError(f"it has no {missing[0]}")
        pair = build_pair(config, tensors)
    except (*_READ_ERRORS, *_network_errors()) as exc:
        raise StudioError(
            f"could not read ACE-Step's audio tokenizer pair from {source} ({exc}); check the connection, or point "
            f"{CODEC_ENV} at a native ACE-Step checkpoint (config.json and model*.safetensors with tokenizer.* "
            "and detokenizer.* keys)."
        ) from exc
    fingerprint = {k[len("decoder."):]: v.clone() for k, v in tensors.items() if k.startswith("decoder.")}
    folder.mkdir(parents=True, exist_ok=True)
    for name, module in pair.items():
        module.save_pretrained(folder / name, safe_serialization=True)
    save_file(fingerprint, fingerprint_file)  # last: its presence marks a complete cache
    return pair, fingerprint


def same_dit(fingerprint: dict[str, torch.Tensor], transformer: torch.nn.Module) -> str | None:
    """None when the native checkpoint's DiT is ``transformer``; else what differs, in words."""
    state = transformer.state_dict()
    if not fingerprint:
        return "it holds none of the DiT's AdaLN tables"
    for key, theirs in fingerprint.items():
        ours = state.get(key)
        if ours is None or tuple(ours.shape) != tuple(theirs.shape):
            return f"its DiT has no {key} of shape {tuple(theirs.shape)}"
        differ = (ours.detach().cpu().to(torch.bfloat16) != theirs.to(torch.bfloat16)).float().mean().item()
        if differ > MAX_MISMATCH:
            return f"its DiT's {key} differs from the loaded one in {differ:.0%} of the values"
    return None


def attach_pair(pipe: Any, source: str, *, location: str, device: str, dtype: torch.dtype) -> None:
    """Give ``pipe`` the pair from ``source``, after proving that checkpoint's DiT is the one in ``pipe``."""
    pair, fingerprint = fetch_pair(source)
    problem = same_dit(fingerprint, pipe.transformer)
    if problem is not None:
        raise StudioError(
            f"the audio tokenizer pair in {source} belongs to another DiT than the weights at {location} "
            f"({problem}); set {CODEC_ENV} to the native checkpoint these weights were converted from."
        )
    pipe.register_modules(**{name: module.to(device=device, dtype=dtype) for name, module in pair.items()})
