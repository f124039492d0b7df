"""Where LeVo 2's files come from (Hub id or folder) and how each part is built from them.

Only weights, JSON/YAML settings and tokenizer data are read from the downloads, never code.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from backends.levo.checkpoint import assign_strict, load_torch_state, strip_prefix
from backends.levo.config import LmConfig
from backends.levo.declaration import DEFAULT_MODEL, DEFAULT_RUNTIME, MODEL_ENV, RUNTIME_ENV, WEIGHTS
from backends.levo.lm import UNUSED_KEYS, LeLM
from backends.levo.text import LevoTokenizers
from studio import settings
from studio.ground.errors import BackendUnavailable, StudioError

MODEL_FILES = ("config.yaml", "model.pt")
# What Qwen2Tokenizer.from_pretrained may open in the tokenizer folder (vocab.json, merges.txt,
# tokenizer.json, tokenizer_config.json, special_tokens_map.json, added_tokens.json, the model's
# config.json for its type, a chat template): small files only, the folder holds no weights.
TOKENIZER_PATTERNS = ("*.json", "*.txt", "*.jinja")


def looks_like_folder(location: str) -> bool:
    return os.path.isabs(location) or location.startswith((".", "~")) or Path(location).expanduser().exists()


def resolve(location: str, *, patterns: tuple[str, ...], what: str, offline: bool | None = None) -> Path:
    """A local folder as is; a Hub id through ``snapshot_download`` (cache first)."""
    if looks_like_folder(location):
        path = Path(location).expanduser().resolve()
        if not path.is_dir():
            raise StudioError(f"The LeVo 2 {what} folder {path} does not exist.")
        return path
    from huggingface_hub import snapshot_download

    if offline is None:
        offline = os.environ.get("HF_HUB_OFFLINE", "0").lower() in {"1", "true", "yes"}
    try:
        return Path(snapshot_download(location, allow_patterns=list(patterns), local_files_only=offline))
    except Exception as exc:  # network errors, missing repo, offline with an empty cache
        hint = "no cached copy exists and the Hub cannot be reached" if offline else str(exc)
        raise BackendUnavailable(
            f"Could not get the LeVo 2 {what} {location!r}: {hint}. Download it once with network access, "
            f"or pass a local folder (--{'weights' if what == 'model' else 'runtime'} or "
            f"{MODEL_ENV if what == 'model' else RUNTIME_ENV})."
        ) from exc


def resolve_model(location: str | None = None, offline: bool | None = None) -> Path:
    loc = location or settings.LEVO2_WEIGHTS.get() or DEFAULT_MODEL
    return resolve(loc, patterns=MODEL_FILES, what="model", offline=offline)


def runtime_files(model_dir: Path) -> tuple[str, ...]:
    """The runtime files the port opens, as the model's config.yaml names them: the separator decoder's
    weights and the optional dims.json beside them (decoder.load_decoder, config.DecoderDims), the VAE's
    json and checkpoint, and the tokenizer folder's small files. Upstream's runtime repository holds more
    (other checkpoints under ckpt/); none of it is fetched."""
    cfg = LmConfig.from_yaml(model_dir / "config.yaml")
    separator = Path(cfg.separate_tokenizer_path).parent.as_posix()
    return (
        cfg.separate_tokenizer_path,
        f"{separator}/dims.json",
        cfg.vae_config_path,
        cfg.vae_weights_path,
        *(f"{cfg.tokenizer_path}/{pattern}" for pattern in TOKENIZER_PATTERNS),
    )


def resolve_runtime(location: str | None = None, offline: bool | None = None, *, model_dir: Path) -> Path:
    """The runtime folder, fetched from the Hub with exactly ``runtime_files(model_dir)``."""
    loc = location or settings.LEVO2_RUNTIME.get() or DEFAULT_RUNTIME
    return resolve(loc, patterns=runtime_files(model_dir), what="runtime", offline=offline)


def require_whole_parts(model_dir: Path, runtime_dir: Path) -> None:
    """Every file the port reads is present and whole (headers only) before ~13 GB are read."""
    from studio.weights import require_whole

    for folder, part in zip((model_dir, runtime_dir), WEIGHTS, strict=True):
        require_whole(
            folder,
            part.required,
            what=part.what,
            fix=f"download a whole copy (`hf download {part.repo} --local-dir {folder}`) or point {part.env} at one.",
        )


def load_lm(
    model_dir: Path,
    runtime_dir: Path,
    *,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> tuple[LeLM, LevoTokenizers, LmConfig]:
    cfg = LmConfig.from_yaml(model_dir / "config.yaml")
    tokenizers = LevoTokenizers(runtime_dir / cfg.tokenizer_path)
    # Built on the meta device and given the file's tensors one by one in the load dtype: the ~5 B-parameter
    # LM never exists in fp32 beside its weights (that took ~20 GB of host memory for a bf16 model).
    with torch.device("meta"):
        lm = LeLM(cfg, tokenizers.lyric_vocab_size, tokenizers.style_vocab_size, tokenizers.structure_ids)
    state = strip_prefix(load_torch_state(model_dir / "model.pt", mmap=False), "audiolm.")
    assign_strict(lm, state, what=f"{model_dir / 'model.pt'}", dtype=dtype, ignored=UNUSED_KEYS)
    return lm.to(device).eval(), tokenizers, cfg
