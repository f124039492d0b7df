"""A studio launched in-process on a free port, driven through gradio_client."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


@contextmanager
def running_studio(library_dir: Path, weights: Path, **env: str) -> Iterator[str]:
    """Build the real app on ``library_dir`` with the tiny ACE-Step weights; yield its URL."""
    from studio.library import Library
    from studio.ui import build_app, launch_options
    from studio.ui.runner import STUDIO

    saved = {k: os.environ.get(k) for k in ("STUDIO_ACESTEP_WEIGHTS", "STUDIO_DEVICE", *env)}
    os.environ.update({"STUDIO_ACESTEP_WEIGHTS": str(weights), "STUDIO_DEVICE": "cpu", **env})
    library = Library(library_dir)
    demo = build_app(library=library)
    options = launch_options(demo)
    options.update(prevent_thread_lock=True, quiet=True, server_port=None)
    try:
        demo.launch(**options)
        yield demo.local_url
    finally:
        demo.close()
        library.close()
        STUDIO.cache.unload_all()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture
def studio_app(tiny_acestep_dir: Path, tmp_path: Path) -> Callable[..., object]:
    """``with studio_app(**env) as url:`` — a launched studio on this test's library folder."""

    def start(library_dir: Path | None = None, **env: str):
        return running_studio(library_dir or tmp_path / "library", tiny_acestep_dir, **env)

    return start
