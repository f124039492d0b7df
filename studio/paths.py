"""Where the studio keeps state that must survive a restart (calibration, library)."""

from __future__ import annotations

import os
from pathlib import Path

from studio import settings


def state_dir() -> Path:
    """``STUDIO_STATE_DIR``; else a Space's persistent /data; else the user's cache folder."""
    explicit = settings.STATE_DIR.get()
    if explicit:
        path = Path(explicit)
    elif Path("/data").is_dir() and os.access("/data", os.W_OK):
        path = Path("/data/song-studio")
    else:
        path = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "song-studio"
    path.mkdir(parents=True, exist_ok=True)
    return path
