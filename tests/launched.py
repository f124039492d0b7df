"""A studio launched in this process on a free port with the settings a test gives it, and everything
put back after (the environment, the library, the loaded models): the hardening tests attack it over
HTTP as a visitor's browser or a script would."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import gradio as gr

from studio.library import Library


@contextmanager
def launched_studio(env: dict[str, str], library_dir: Path) -> Iterator[tuple[str, gr.Blocks, Library]]:
    """(the studio's URL, its Blocks, its library) while the block runs."""
    from studio.ui import build_app, launch_options
    from studio.ui.runner import STUDIO

    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    library = Library(library_dir)
    demo = build_app(library=library)
    options = {**launch_options(demo), "prevent_thread_lock": True, "quiet": True, "server_port": None}
    try:
        demo.launch(**options)
        yield demo.local_url.rstrip("/"), demo, library
    finally:
        demo.close()
        library.close()
        STUDIO.cache.unload_all()
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
