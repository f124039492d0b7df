"""librosa's numba kernels: the first call of each in a process holds a machine-wide file lock.

librosa jit-compiles its kernels with ``cache=True``: the first process to call one writes the
machine code to numba's cache (beside librosa's own files, or in ``NUMBA_CACHE_DIR``). Two processes
writing the same gufunc's cache at once can leave its two cache files disagreeing, and every later
load of it then crashes with SIGSEGV (numba/numba#10128, open; the fix proposed there is a file lock,
numba PR #10545 unmerged). It happened here: four fresh processes calling ``chroma_stft`` and
``beat_track`` on an empty cache lost three of twelve to segfaults, and the test suite's parallel
workers and ``studio batch`` under ``accelerate launch`` (two ranks checking takes at once) hit it.
A cold compile of these kernels costs ~26 s on a 2-core CPU, so a cache per process is no answer:
one process compiles and writes while the others wait, then they only read.
"""

from __future__ import annotations

import hashlib
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_compiled: set[str] = set()
_in_process = threading.Lock()


def _lock_path() -> Path:
    # One lock per cache location: processes that share a cache share the lock, others do not wait.
    import librosa
    import numba

    where = numba.config.CACHE_DIR or str(Path(librosa.__file__).parent)
    digest = hashlib.sha1(where.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"studio-librosa-jit-{digest}.lock"


@contextmanager
def first_call(kernels: str) -> Iterator[None]:
    """Wrap a librosa call; its first run in this process (compiling or loading ``kernels``) is exclusive.

    Later calls with the same argument types use the in-memory code and skip the lock. Callers pass
    float32 audio only (:func:`studio.quality.measures.for_analysis`), so no second signature is
    compiled outside the lock."""
    if kernels in _compiled:
        yield
        return
    from filelock import FileLock

    with _in_process, FileLock(str(_lock_path())):
        yield
        _compiled.add(kernels)
