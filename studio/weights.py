"""Where a backend's weights come from: a local folder, or a Hub id fetched once into the cache."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from backends.base import StudioError


def choose(explicit: str | None, env_var: str, default: str) -> str:
    """Command-line value, then the backend's environment variable, then its default Hub id."""
    return (explicit or os.environ.get(env_var) or default).strip()


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
