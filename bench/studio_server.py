"""The studio as the benches drive it: launched like app.py, in its own process (so clients do not
share its interpreter lock), announcing the URL it serves."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# app.py, with room for a bench's own instrumentation before and just before launching.
LAUNCH = """
__PRELUDE__
import threading, time
import studio.gpu
from studio import glibc_heap
from studio.ui import build_app, launch_options
glibc_heap.cap_arenas()
demo = build_app()
options = launch_options(demo)
options.update(quiet=True)
def announce():
    while not getattr(demo, "local_url", None):
        time.sleep(0.05)
    print("URL", demo.local_url, flush=True)
threading.Thread(target=announce, daemon=True).start()
__BEFORE_LAUNCH__
demo.launch(**options)
"""


@contextmanager
def running_studio(
    env: Mapping[str, str], *, prelude: str = "", before_launch: str = "", stop_s: float = 60.0
) -> Iterator[tuple[str, subprocess.Popen]]:
    """``(url without trailing slash, server process)`` for as long as the block runs."""
    script = LAUNCH.replace("__PRELUDE__", prelude).replace("__BEFORE_LAUNCH__", before_launch)
    server = subprocess.Popen(
        [sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
    )
    try:
        yield _read_url(server), server
    finally:
        server.terminate()
        server.wait(timeout=stop_s)


def _read_url(server: subprocess.Popen) -> str:
    assert server.stdout is not None
    for line in server.stdout:
        if line.startswith("URL "):
            return line.split()[1].rstrip("/")
    raise RuntimeError("the studio exited before it served a page")
