"""Finding the LoRA file behind a reference: a local file, a folder, or a Hub repository."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from backends.acestep.lora.check import (
    ADAPTER_CONFIG,
    WEIGHT_NAMES,
    LoraInfo,
    check_lora_file,
    config_alpha,
    weight_file_in,
)
from backends.acestep.lora.refs import MAX_MB_ENV, LoraError, LoraRef, max_bytes, parse_lora_arg

log = logging.getLogger(__name__)

# A file over this is refused before its header is read: a LoRA of the XL DiT at rank 64 on every

# --------------------------------------------------------------------------------------------- finding the file


def looks_local(source: str) -> bool:
    """A path (existing, absolute, or shaped like a file name) rather than a Hub id."""
    from studio import weights as weights_source

    if weights_source.looks_local(source) or "/" not in source:
        return True
    return source.count("/") < 2 and Path(source).suffix.lower() in (".safetensors", ".bin", ".pt", ".pth", ".ckpt")


HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+(/[^:]+\.safetensors)?")
# huggingface_hub's validate_repo_id: names are [\w.-], and "--" or ".." never appear in a repo id.
_REPO_PART = re.compile(r"[A-Za-z0-9](?:[\w.-]{0,94}[A-Za-z0-9_])?")


def hub_id_problem(source: str) -> str | None:
    """Why ``source`` is not a plain ``owner/name[/path/file.safetensors]`` Hub id, or None.

    The file part is joined onto the downloaded snapshot's folder, so a ``..``, an absolute part, a
    backslash or an empty part would name a file outside it: refused before anything touches the disk."""
    owner, _, rest = source.partition("/")
    name, _, inner = rest.partition("/")
    for part in (owner, name):
        if not _REPO_PART.fullmatch(part) or ".." in part or "--" in part:
            return f"{part!r} is not a Hub owner or repository name"
    if inner:
        pieces = inner.split("/")
        if "\\" in inner or any(p in ("", ".", "..") for p in pieces) or not inner.endswith(".safetensors"):
            return f"{inner!r} is not a .safetensors file inside the repository (no '..', '.', empty parts, '\\')"
    return None


def resolve(source: str, on_progress: Callable[[str], None] | None = None) -> tuple[Path, float | None]:
    """The local .safetensors file a source names (fetching a Hub id once), and alpha from a sidecar config."""
    if looks_local(source):
        path = Path(source).expanduser()
        if not path.exists():
            raise LoraError(f"LoRA {source} does not exist; check the path, or give a Hub id like owner/name.")
        path = weight_file_in(path) if path.is_dir() else path
        return path, config_alpha(path.parent)
    if not HUB_ID.fullmatch(source):
        raise LoraError(
            f"LoRA {source[:200]!r} is neither an existing file nor a Hub id; give a .safetensors path or owner/name."
        )
    problem = hub_id_problem(source)
    if problem:
        raise LoraError(f"LoRA {source[:200]!r} is not a Hub id: {problem}; give owner/name[/file.safetensors].")
    path = _fetch_hub(source, on_progress)
    return path, config_alpha(path.parent)


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


def lora_option(text: str) -> dict[str, Any]:
    """A ``--lora`` value as a request option: local files are checked now (before any model loads)
    and recorded by absolute path, so a song card's recipe works from any folder."""
    ref = parse_lora_arg(text)
    if looks_local(ref.source):
        path, _ = resolve(ref.source)
        check_lora_file(path)
        ref = LoraRef(source=str(Path(ref.source).expanduser().resolve()), scale=ref.scale)
    return ref.model_dump()
