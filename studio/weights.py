"""Where a backend's weights come from: a local folder, or a Hub id fetched once into the cache."""

from __future__ import annotations

import enum
import functools
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from backends.base import BackendSpec, WeightsPart
from studio import settings
from studio.availability import availability
from studio.ground.errors import StudioError


def choose(explicit: str | None, env_var: str, default: str) -> str:
    """Command-line value, then the backend's environment variable, then its default Hub id."""
    return (explicit or settings.lookup(env_var).get() or default).strip()


def looks_local(location: str) -> bool:
    return location.startswith(("/", ".", "~")) or Path(location).expanduser().exists() or "\\" in location


def fetch(
    location: str,
    *,
    what: str,
    env_var: str,
    flag: str = "--weights",
    allow_patterns: list[str] | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> Path:
    """A folder holding the weights. Hub ids are downloaded (resumably) into the HF cache; any
    failure names both ways of pointing the studio at weights."""
    if looks_local(location):
        path = Path(location).expanduser().resolve()
        if not path.is_dir():
            raise StudioError(
                f"{what} weights folder {path} does not exist; pass an existing folder with {flag} or "
                f"set {env_var}."
            )
        unfinished = unfinished_downloads(path)
        if unfinished:
            raise StudioError(
                f"{what} weights folder {path} holds an unfinished download ({len(unfinished)} partial "
                f"file{'s' if len(unfinished) != 1 else ''}, e.g. {unfinished[0].name}); finish it with "
                f"`hf download REPO --local-dir {path}` (it resumes where it stopped), then try again."
            )
        return path
    import httpx
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        HfHubHTTPError,
        IncompleteSnapshotError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        XetDownloadError,
    )

    if on_progress:
        on_progress(f"fetching {what} weights {location}")
    try:
        return Path(snapshot_download(location, allow_patterns=allow_patterns))
    except RepositoryNotFoundError as exc:
        raise StudioError(
            f"{what} weights {location!r} are not a Hub repository (or are private); check the id, or "
            f"pass a local folder with {flag} DIR or {env_var}=DIR."
        ) from exc
    except IncompleteSnapshotError as exc:
        raise StudioError(
            f"the download of {what} weights {location!r} stopped part-way and the Hub cannot be reached to "
            f"finish it; when online, run the same command again (or `hf download {location}`): finished "
            "files are kept and the rest resumes where it stopped."
        ) from exc
    except (httpx.TransportError, XetDownloadError) as exc:
        raise StudioError(
            f"the download of {what} weights {location!r} was interrupted ({type(exc).__name__}: {exc}); "
            f"run the same command again (or `hf download {location}`): finished files are kept and the "
            "rest resumes where it stopped."
        ) from exc
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError) as exc:
        raise StudioError(
            f"{what} weights {location!r} are not on this machine and the Hub cannot be reached; "
            f"download them once (`hf download {location}`) or pass a local folder with {flag} DIR "
            f"or {env_var}=DIR."
        ) from exc


# Where `hf download --local-dir` keeps a file while it is still arriving.
_LOCAL_DIR_PARTIALS = ".cache/huggingface/download"


def unfinished_downloads(folder: Path) -> list[Path]:
    """Partial files an interrupted ``hf download --local-dir`` left in ``folder`` (the weights
    beside them are not complete, whatever names are already there)."""
    partials = folder / _LOCAL_DIR_PARTIALS
    if not partials.is_dir():
        return []
    return sorted(partials.rglob("*.incomplete"))


# --- Is a folder really the weights? Cheap checks that read headers, never tensors.

# What Git LFS leaves in place of a large file when a repository is cloned without `git lfs`: a ~130-byte
# text file starting with this line (https://github.com/git-lfs/git-lfs/blob/main/docs/spec.md).
LFS_POINTER_START = b"version https://git-lfs.github.com/spec/"
_TORCH_ARCHIVES = (".pt", ".pth", ".ckpt", ".bin")
_ZIP_START = b"PK\x03\x04"
_MAX_JSON_BYTES = 64 * 1024 * 1024


def safetensors_header(path: Path) -> dict:
    return _header_and_length(path)[0]


def _header_and_length(path: Path) -> tuple[dict, int]:
    """The JSON header of a safetensors file (names, dtypes, shapes, byte ranges); raises ValueError when
    the file is too short to hold it. Layout: 8-byte little-endian header length, header, data
    (https://github.com/huggingface/safetensors#format)."""
    import json

    size = path.stat().st_size
    with path.open("rb") as handle:
        prefix = handle.read(8)
        if len(prefix) < 8:
            raise ValueError(f"is {size} bytes, too short for a safetensors file")
        length = int.from_bytes(prefix, "little")
        if length > size - 8:
            raise ValueError(f"is truncated: {size:,} bytes, but its header alone says {length:,}")
        try:
            return json.loads(handle.read(length)), length
        except ValueError as exc:
            raise ValueError(f"has an unreadable header ({exc})") from exc


def safetensors_shapes(files: list[Path]) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape over ``files``, from their headers only."""
    shapes: dict[str, tuple[int, ...]] = {}
    for file in files:
        for name, entry in safetensors_header(file).items():
            if name != "__metadata__":
                shapes[name] = tuple(entry["shape"])
    return shapes


def file_problem(path: Path) -> str | None:
    """Why ``path`` is not a whole weights or settings file (a few words after its name), or None."""
    if not path.is_file():
        return "is missing"
    size = path.stat().st_size
    if size == 0:
        return "is empty"
    with path.open("rb") as handle:
        head = handle.read(len(LFS_POINTER_START))
    if head == LFS_POINTER_START:
        return f"is a Git LFS pointer ({size} bytes), not the file itself"
    if path.suffix == ".safetensors":
        try:
            header, header_len = _header_and_length(path)
        except ValueError as exc:
            return str(exc)
        ends = [e["data_offsets"][1] for k, e in header.items() if k != "__metadata__" and "data_offsets" in e]
        expected = 8 + header_len + max(ends, default=0)
        if size < expected:
            return f"is truncated: {size:,} of {expected:,} bytes"
        return None
    if path.suffix in _TORCH_ARCHIVES and head.startswith(_ZIP_START):
        import zipfile

        # torch.save writes a zip whose directory sits at the end: a cut-off file has none.
        if not zipfile.is_zipfile(path):
            return f"is truncated ({size:,} bytes; its archive directory is missing)"
        return None
    if path.suffix == ".json" and size <= _MAX_JSON_BYTES:
        import json

        try:
            json.loads(path.read_bytes())
        except ValueError:
            return "is not valid JSON (cut off or damaged)"
    return None


@dataclass(frozen=True)
class FolderCheck:
    """What is wrong with a folder against a part's required files: absent ones, and present but broken ones."""

    missing: tuple[str, ...] = ()
    broken: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.missing and not self.broken

    def sentence(self, limit: int = 3) -> str:
        items = [f"{name} is missing" for name in self.missing] + list(self.broken)
        more = f" (and {len(items) - limit} more)" if len(items) > limit else ""
        return "; ".join(items[:limit]) + more


def check_folder(folder: Path, required: tuple[str, ...]) -> FolderCheck:
    """Each required name or glob must match at least one file, and every match must be whole; a sharded
    checkpoint's index must find all its shards. Only headers are read."""
    import json

    missing: list[str] = []
    broken: list[str] = []
    for pattern in required:
        matches = sorted(p for p in folder.glob(pattern) if p.is_file()) if _is_glob(pattern) else [folder / pattern]
        if not matches or (not _is_glob(pattern) and not matches[0].exists()):
            missing.append(pattern)
            continue
        for path in matches:
            problem = file_problem(path)
            if problem:
                broken.append(f"{path.relative_to(folder)} {problem}")
            elif path.name.endswith(".safetensors.index.json"):
                shards = set(json.loads(path.read_text(encoding="utf-8")).get("weight_map", {}).values())
                rel = path.parent.relative_to(folder)
                missing += [str(rel / s) for s in sorted(shards) if not (path.parent / s).is_file()]
    for partial in unfinished_downloads(folder):
        broken.append(f"{partial.name} is an unfinished download")
    return FolderCheck(tuple(missing), tuple(broken))


def _is_glob(pattern: str) -> bool:
    return any(c in pattern for c in "*?[")


def require_whole(folder: Path, required: tuple[str, ...], *, what: str, fix: str) -> None:
    """Refuse, at load and before any tensor is read, a folder that is not a whole checkpoint."""
    found = check_folder(folder, required)
    if not found.ok:
        raise StudioError(f"{what} weights folder {folder} is not a usable checkpoint: {found.sentence()}; {fix}")


# --- Status up front: what a backend's first song would meet, without network and without loading.


class WeightsState(str, enum.Enum):
    READY = "ready"
    NOT_DOWNLOADED = "not downloaded"
    INCOMPATIBLE = "incompatible"
    NEEDS_GPU = "needs a GPU"
    CANNOT_RUN = "cannot run here"


@dataclass(frozen=True)
class WeightsStatus:
    backend: str
    state: WeightsState
    # One sentence: what is wrong or what will happen, naming the folder or Hub id.
    detail: str = ""
    # What the first use downloads; None where a part's published size is unknown.
    download_gb: float | None = None
    # A lower bound when some part's size is unknown.
    download_gb_at_least: float = 0.0

    @property
    def ok(self) -> bool:
        return self.state in (WeightsState.READY, WeightsState.NOT_DOWNLOADED)

    @property
    def size_text(self) -> str:
        if self.download_gb is not None:
            return f"{self.download_gb:.1f} GB"
        return f"over {self.download_gb_at_least:.1f} GB"

    @property
    def label(self) -> str:
        """A few words for a picker or a table cell."""
        if self.state is WeightsState.READY:
            return "✅ ready"
        if self.state is WeightsState.NOT_DOWNLOADED:
            return f"⬇️ not downloaded — {self.size_text}, downloaded on first use"
        if self.state is WeightsState.INCOMPATIBLE:
            return "❌ incompatible weights"
        if self.state is WeightsState.NEEDS_GPU:
            return "⛔ needs a GPU"
        return "⛔ cannot run here"

    def as_json(self) -> dict:
        return {
            "state": self.state.value,
            "label": self.label,
            "detail": self.detail,
            "download_gb": self.download_gb,
            "download_gb_at_least": self.download_gb_at_least,
        }


def hub_cache_dir() -> str | None:
    # Read at call time: huggingface_hub freezes its cache path when it is first imported.
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    if os.environ.get("HF_HOME"):
        return str(Path(os.environ["HF_HOME"]) / "hub")
    return None


def part_source(part: WeightsPart) -> tuple[Path | None, str]:
    """Where a part comes from now: (local folder, "") or (None, Hub id), from its variable or default."""
    chosen = (settings.lookup(part.env).get() or "") if part.env else ""
    if chosen and looks_local(chosen):
        return Path(chosen).expanduser() / part.subdir, ""
    if chosen and part.env_names_repo:
        return None, chosen
    return None, part.repo


def cached_snapshot(repo: str, required: tuple[str, ...]) -> Path | None:
    """The cached snapshot folder of ``repo`` holding the first required plain file, if any (no network)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - huggingface_hub comes with the studio's requirements
        return None
    probe = next((name for name in required if not _is_glob(name)), None)
    if probe is None:
        return None
    hit = try_to_load_from_cache(repo, probe, cache_dir=hub_cache_dir())
    if not isinstance(hit, str):  # None, or the "known not to exist" marker
        return None
    return Path(hit).parents[len(Path(probe).parts) - 1]


def part_status(part: WeightsPart) -> tuple[WeightsState, str]:
    folder, repo = part_source(part)
    if folder is not None:
        where = f"{part.env}={folder}" if part.env else str(folder)
        if not folder.is_dir():
            return WeightsState.INCOMPATIBLE, f"the {part.what} folder {where} does not exist."
        found = check_folder(folder, part.required)
        if not found.ok:
            return WeightsState.INCOMPATIBLE, f"the {part.what} folder {folder} is not usable: {found.sentence()}."
        return WeightsState.READY, ""
    snapshot = cached_snapshot(repo, part.required)
    if snapshot is None:
        return WeightsState.NOT_DOWNLOADED, f"{part.what} ({repo}) is not downloaded yet."
    found = check_folder(snapshot, part.required)
    if found.broken:
        return WeightsState.INCOMPATIBLE, f"the cached {part.what} {repo} is damaged: {found.sentence()}."
    if found.missing:
        return WeightsState.NOT_DOWNLOADED, f"{part.what} ({repo}) is partly downloaded; the rest comes on first use."
    return WeightsState.READY, ""


def status(spec: BackendSpec) -> WeightsStatus:
    """Cheap, offline: whether ``spec``'s first song can start here, and what it would download first."""
    name = spec.name
    state = availability(spec)
    if not state.ok:
        return WeightsStatus(name, WeightsState.NEEDS_GPU if state.needs_gpu else WeightsState.CANNOT_RUN, state.reason)
    pending: list[WeightsPart] = []
    notes: list[str] = []
    for part in spec.weights:
        part_state, detail = part_status(part)
        if part_state is WeightsState.INCOMPATIBLE:
            return WeightsStatus(name, part_state, detail[0].upper() + detail[1:])
        if part_state is WeightsState.NOT_DOWNLOADED:
            pending.append(part)
            notes.append(detail)
    if not pending:
        return WeightsStatus(name, WeightsState.READY)
    sizes = [p.download_gb for p in pending]
    known = sum(s for s in sizes if s is not None)
    total = None if any(s is None for s in sizes) else known
    return WeightsStatus(name, WeightsState.NOT_DOWNLOADED, " ".join(notes), total, known)


# --- How big the configured weights are, against the published ones the cost seeds were written for.

BYTES_PER_PUBLISHED_WEIGHT = 2  # the published checkpoints (and their download_gb) are bf16


@dataclass(frozen=True)
class WeightsSize:
    """A backend's configured weights, counted from their safetensors headers (as 16-bit weights, so an fp32
    copy of the published model counts the same), against the published download its cost seeds describe."""

    backend: str
    measured_gb: float
    published_gb: float

    @property
    def factor(self) -> float:
        return self.measured_gb / self.published_gb

    def sentence(self) -> str:
        mine, published = _size_text(self.measured_gb), _size_text(self.published_gb)
        return f"these weights are {mine}, published speeds are for {published}"


def _size_text(gb: float) -> str:
    return f"{gb:.1f} GB" if gb >= 1 else f"{gb * 1000:.3g} MB"


@functools.lru_cache(maxsize=256)
def _file_parameters(path: str, size: int, mtime_ns: int) -> int:
    """Weights in one safetensors file (its size and mtime are the cache key: a replaced file is re-read)."""
    total = 0
    for name, entry in safetensors_header(Path(path)).items():
        if name != "__metadata__":
            total += math.prod(entry["shape"])
    return total


def parameter_count(folder: Path, required: tuple[str, ...]) -> int | None:
    """Weights in the safetensors files ``required`` names in ``folder`` (headers only); None when it names
    none, or one cannot be read (the load-time checks say why)."""
    files = sorted({p for pattern in required if pattern.endswith(".safetensors") for p in folder.glob(pattern)})
    try:
        return sum(_file_parameters(str(p), (st := p.stat()).st_size, st.st_mtime_ns) for p in files) or None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def weights_size(spec: BackendSpec) -> WeightsSize | None:
    """How big the weights ``spec`` will load are, offline: a local folder, or the Hub id's cached snapshot.
    None when some part cannot be counted here (not downloaded, not safetensors, no published size): the
    published size is then all there is to go on."""
    measured = published = 0.0
    for part in spec.weights:
        folder, repo = part_source(part)
        folder = folder if folder is not None else cached_snapshot(repo, part.required)
        count = parameter_count(folder, part.required) if folder is not None and folder.is_dir() else None
        if count is None or not part.download_gb:
            return None
        measured += count * BYTES_PER_PUBLISHED_WEIGHT / 1e9
        published += part.download_gb
    return WeightsSize(spec.name, measured, published) if published else None
