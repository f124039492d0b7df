"""Simple mode on the planner alone: a description becomes caption, lyrics and metadata.

The sketch is written by the 5 Hz LM (upstream's ``create_sample``); the DiT pipeline plays no part,
so it is neither loaded nor fetched for it (issue 16: on ZeroGPU every second of loading the ~11 GB
pipeline inside the GPU window is the visitor's quota). Loaded planners are kept per process, keyed by
their folder and device, and shared with the backend's own planner (``AceStepBackend._planner``): a
sketch followed by a render with the same planner size loads it once.
"""

from __future__ import annotations

import threading
from typing import Any

from backends.acestep.declaration import DESCRIBE_PLANNER
from studio import settings
from studio.ground.progress import ProgressEvent, ProgressFn, no_progress

# (the planner asked for: a size, or what STUDIO_ACESTEP_PLANNER_WEIGHTS names; device) -> Planner
_LOADED: dict[tuple[str, str], Any] = {}
_LOCK = threading.Lock()


def _location(size: str) -> str:
    return settings.ACESTEP_PLANNER_WEIGHTS.get() or size


def planner_for(size: str, device: str, progress: ProgressFn = no_progress) -> Any:
    """The planner of ``size`` on ``device``, loaded on first use (from the cache when prefetched)."""
    from backends.acestep.fetching import fetch_planner
    from backends.acestep.planner.planner import Planner

    key = (_location(size), device)
    with _LOCK:
        if key not in _LOADED:
            progress(ProgressEvent("loading", 0, 1, f"loading the {size} planner"))
            _LOADED[key] = Planner.load(fetch_planner(key[0]), device=device)
            progress(ProgressEvent("loading", 1, 1))
        return _LOADED[key]


def release(planner: Any) -> None:
    """Forget and unload ``planner`` (the backend that used it is being unloaded)."""
    with _LOCK:
        for key in [k for k, v in _LOADED.items() if v is planner]:
            del _LOADED[key]
    planner.unload()


def release_all() -> None:
    """Unload every planner this process holds (a backend still pointing at one loads it again)."""
    with _LOCK:
        planners = list(_LOADED.values())
        _LOADED.clear()
    for planner in planners:
        planner.unload()


def loaded(device: str) -> bool:
    """Whether Simple mode's planner is already held on ``device`` in this process (nothing fetched)."""
    with _LOCK:
        return (_location(DESCRIBE_PLANNER), device) in _LOADED


def run(text: str, *, instrumental: bool = False, language: str | None = None, seed: int | None = None,
        device: str = "cpu", progress: ProgressFn = no_progress) -> dict:
    planner = planner_for(DESCRIBE_PLANNER, device, progress)
    return planner.describe(text, instrumental=instrumental, language=language, seed=seed,
                            progress=progress).to_dict()


def prefetch() -> None:
    from backends.acestep.fetching import fetch_planner

    fetch_planner(_location(DESCRIBE_PLANNER))
