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
        return path
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, RepositoryNotFoundError

    if on_progress:
        on_progress(f"fetching {what} weights {location}")
    try:
        return Path(snapshot_download(location, allow_patterns=allow_patterns))
    except RepositoryNotFoundError as exc:
        raise StudioError(
            f"{what} weights {location!r} are not a Hub repository (or are private); check the id, or "
            f"pass a local folder with {flag} DIR or {env_var}=DIR."
        ) from exc
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError) as exc:
        raise StudioError(
            f"{what} weights {location!r} are not on this machine and the Hub cannot be reached; "
            f"download them once (`hf download {location}`) or pass a local folder with {flag} DIR "
            f"or {env_var}=DIR."
        ) from exc
