"""Where the official files live (Hub id or folder) and strict safetensors loading."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from studio.ground.errors import StudioError

GEN_REPO = "HeartMuLa/HeartMuLaGen"
LM_REPO = "HeartMuLa/HeartMuLa-oss-3B-happy-new-year"
CODEC_REPO = "HeartMuLa/HeartCodec-oss-20260123"

# Folder names upstream's ``from_pretrained(path, version="3B")`` expects.
LM_SUBDIR = "HeartMuLa-oss-3B"
CODEC_SUBDIR = "HeartCodec-oss"
TOKENIZER_FILE = "tokenizer.json"
GEN_CONFIG_FILE = "gen_config.json"


@dataclass(frozen=True)
class HeartMuLaFiles:
    lm_dir: Path
    codec_dir: Path
    tokenizer: Path
    gen_config: Path


def _looks_like_hub_id(text: str) -> bool:
    return bool(re.fullmatch(r"[\w.-]+/[\w.-]+", text)) and not Path(text).exists()


# Exactly what the loaders open: config.json, every safetensors file of the folder (read_safetensors), and
# for the LM a flavors.json when one sits beside config.json (flavors.py). Index files, READMEs and other
# formats in the repositories are not read, so not fetched.
LM_FILES = ("config.json", "flavors.json", "*.safetensors")
CODEC_FILES = ("config.json", "*.safetensors")
GEN_FILES = (TOKENIZER_FILE, GEN_CONFIG_FILE)


def _download(repo_id: str, patterns: tuple[str, ...]) -> Path:
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id, allow_patterns=list(patterns)))
    except Exception as exc:  # network, auth, or offline mode: all actionable the same way
        raise StudioError(
            f"Could not download `{repo_id}` from the Hugging Face Hub ({type(exc).__name__}: {exc}). "
            f"Connect to the internet, or download it once and pass its folder instead "
            f"(--weights, or STUDIO_HEARTMULA_WEIGHTS for a folder laid out like upstream's)."
        ) from exc


def _require(path: Path, what: str, hint: str) -> Path:
    if not path.exists():
        raise StudioError(f"HeartMuLa {what} not found at {path}; {hint}")
    return path


def resolve_files(
    weights: str | Path | None = None,
    lm: str | Path | None = None,
    codec: str | Path | None = None,
    gen: str | Path | None = None,
) -> HeartMuLaFiles:
    """Find the four pieces.

    ``weights`` is a folder laid out as upstream expects (``HeartMuLa-oss-3B/``, ``HeartCodec-oss/``,
    ``tokenizer.json``, ``gen_config.json``) or None for the Hub. ``lm``/``codec``/``gen`` override one
    piece each with a Hub id or a folder.
    """
    root = Path(weights) if weights is not None else None
    if root is not None and not root.is_dir():
        if isinstance(weights, str) and _looks_like_hub_id(weights):
            lm = lm or weights
            root = None
        else:
            raise StudioError(f"HeartMuLa weights folder {root} does not exist; pass a folder or a Hub id.")

    def piece(override, default_sub: str | None, default_repo: str, patterns: tuple[str, ...]) -> Path:
        if override is not None:
            text = str(override)
            if Path(text).exists():
                return Path(text)
            if _looks_like_hub_id(text):
                return _download(text, patterns)
            raise StudioError(f"`{text}` is neither an existing folder nor a Hub id like `{default_repo}`.")
        if root is not None:
            return root / default_sub if default_sub else root
        return _download(default_repo, patterns)

    hint = "lay the folder out like upstream's (see backends/heartmula/weights.py)."
    gen_dir = piece(gen, None, GEN_REPO, GEN_FILES)
    lm_dir = piece(lm, LM_SUBDIR, LM_REPO, LM_FILES)
    codec_dir = piece(codec, CODEC_SUBDIR, CODEC_REPO, CODEC_FILES)
    return HeartMuLaFiles(
        lm_dir=_require(lm_dir / "config.json", "LM config", hint).parent,
        codec_dir=_require(codec_dir / "config.json", "codec config", hint).parent,
        tokenizer=_require(gen_dir / TOKENIZER_FILE, "tokenizer", hint),
        gen_config=_require(gen_dir / GEN_CONFIG_FILE, "gen_config", hint),
    )


def read_safetensors(
    folder: Path, device: torch.device | str = "cpu", dtype: torch.dtype | None = None
) -> dict[str, torch.Tensor]:
    """All tensors of a folder's safetensors files, cast to ``dtype`` (floating ones only) and moved to
    ``device`` one at a time, so peak host memory stays near one tensor rather than the whole model."""
    from safetensors import safe_open

    files = sorted(folder.glob("*.safetensors"))
    if not files:
        bins = sorted(p.name for p in folder.glob("*.bin")) + sorted(p.name for p in folder.glob("*.pt"))
        extra = f" (found {bins}; only safetensors are loaded)" if bins else ""
        raise StudioError(f"No .safetensors files in {folder}{extra}.")
    state: dict[str, torch.Tensor] = {}
    for file in files:
        with safe_open(str(file), framework="pt") as handle:
            for key in handle.keys():  # noqa: SIM118 - safe_open handles are not iterable
                tensor = handle.get_tensor(key)
                if dtype is not None and tensor.is_floating_point():
                    tensor = tensor.to(dtype)
                state[key] = tensor.to(device)
    return state


def mismatches(
    expected: dict[str, tuple[int, ...]], given: dict[str, tuple[int, ...]], unused: Iterable[str] = ()
) -> list[str]:
    """How a checkpoint's tensor names and shapes differ from a model's, in a few phrases (empty = match).

    ``unused`` are regexes for checkpoint tensors that inference never reads (e.g. the codec's
    encoder); they are accepted and dropped.
    """
    patterns = [re.compile(p) for p in unused]
    extra = sorted(k for k in given if k not in expected and not any(p.match(k) for p in patterns))
    missing = sorted(k for k in expected if k not in given)
    wrong = sorted(
        f"{k}: checkpoint {tuple(given[k])} vs model {tuple(expected[k])}"
        for k in expected
        if k in given and tuple(given[k]) != tuple(expected[k])
    )
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} tensors (first: {missing[:5]})")
    if extra:
        problems.append(f"unexpected {len(extra)} tensors (first: {extra[:5]})")
    if wrong:
        problems.append(f"shape mismatches: {wrong[:5]}")
    return problems


def _refuse(what: str, folder: Path | None, problems: list[str]) -> StudioError:
    where = f" in {folder}" if folder is not None else ""
    return StudioError(
        f"The {what} checkpoint{where} does not match this port: "
        + "; ".join(problems)
        + ". Check that config.json belongs to these weights."
    )


def check_headers(module: nn.Module, folder: Path, what: str, unused: Iterable[str] = ()) -> None:
    """Compare a (meta) module with the safetensors headers in ``folder`` without reading a tensor, so a
    wrong or partial checkpoint is refused when the backend loads, not after the LM has run."""
    from studio.weights import safetensors_shapes

    files = sorted(folder.glob("*.safetensors"))
    try:
        given = safetensors_shapes(files)
    except ValueError as exc:
        raise StudioError(f"The {what} checkpoint in {folder} cannot be read: a file {exc}.") from exc
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    problems = mismatches(expected, given, unused)
    if problems:
        raise _refuse(what, folder, problems)


def load_strict(
    module: nn.Module,
    state: dict[str, torch.Tensor],
    what: str,
    unused: Iterable[str] = (),
) -> None:
    """Copy ``state`` into ``module``; every key must match by name and shape (see ``mismatches``)."""
    expected = module.state_dict()
    problems = mismatches(
        {k: tuple(v.shape) for k, v in expected.items()}, {k: tuple(v.shape) for k, v in state.items()}, unused
    )
    if problems:
        raise _refuse(what, None, problems)
    # assign=True keeps meta-device construction cheap: the checkpoint tensors become the parameters.
    module.load_state_dict({k: state[k] for k in expected}, strict=True, assign=True)
