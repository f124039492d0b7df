"""Shared pieces of the hardening suite: the built app's own handler functions, called in-process."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


@pytest.fixture(scope="module")
def app_fns(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Callable[..., Any]]:
    """``app_fns("format_lyrics")``: the function the built studio runs for that endpoint (wrapped in
    the same error handling the server uses), without starting a server."""
    from studio.library import Library
    from studio.ui import build_app

    library = Library(tmp_path_factory.mktemp("fuzz-library"))
    demo = build_app(library=library)
    by_name = {fn.api_name: fn.fn for fn in demo.fns.values() if fn.api_name}
    yield lambda name: by_name[name]
    library.close()


def backend_names() -> list[str]:
    from studio import registry

    return registry.names()


def library_at(path: Path):
    from studio.library import Library

    return Library(path)


@pytest.fixture
def studio_app(tiny_acestep_dir: Path, tmp_path: Path):
    """``with studio_app(**env) as url:`` — the real studio launched on a free port (tests/ui's helper)."""
    from tests.ui.conftest import running_studio

    def start(library_dir: Path | None = None, **env: str):
        return running_studio(library_dir or tmp_path / "library", tiny_acestep_dir, **env)

    return start
