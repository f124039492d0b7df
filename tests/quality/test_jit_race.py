"""Fresh processes checking takes at once on an empty numba cache: none may crash.

Reproduces numba/numba#10128 (see studio.quality.jit): without the file lock, concurrent first calls
of librosa's cached kernels segfaulted 3 of 12 processes here and left caches that crash every load."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

_SCRIPT = """
import numpy as np
from studio.quality.measures import measure_all
rng = np.random.default_rng(int(__import__("sys").argv[1]))
t = np.arange(48000 * 6) / 48000
audio = np.stack([0.3 * np.sin(2 * np.pi * 220 * t) * (1 + (t * 2 % 1 < 0.1)), 0.05 * rng.standard_normal(t.size)])
print(len(measure_all(audio.astype(np.float32), 48000, bpm=120, key="A minor", duration=6)))
"""


@pytest.mark.slow
def test_three_fresh_processes_compile_librosa_kernels_at_once_without_crashing(tmp_path) -> None:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache"), "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", _SCRIPT, str(i)], cwd=REPO, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i in range(3)]
    results = [(p.wait(timeout=600), *p.communicate()) for p in procs]
    for code, out, err in results:
        assert code == 0, f"exit {code}: {err[-2000:]}"
        assert int(out.strip()) >= 6
    # The cache was written once and reads back in a fourth process.
    again = subprocess.run([sys.executable, "-c", _SCRIPT, "9"], cwd=REPO, env=env, text=True, capture_output=True,
                           timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert any((tmp_path / "numba-cache").rglob("*.nbi"))
