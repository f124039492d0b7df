"""Downloads written after the song is playable: one background writer, waited on by song id.

The UI keeps a take playable as soon as its player file exists (``studio.finishing.PLAYER_FORMAT``);
its WAV, MP3 and stems zip are written here, off the request's path, and then its checks are run
(``studio.ui.runner``). Whoever needs one of those first (the card's refresh, the API, a test) calls
:meth:`LaterWrites.wait` for that song, so a file is never offered half-written and is written at
most once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_all

_log = logging.getLogger(__name__)


class LaterWrites:
    """Background writes keyed by song id (one worker: encoding competes with rendering for CPU)."""

    def __init__(self, workers: int = 1) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="studio-downloads")
        self._pending: dict[str, Future] = {}
        self._lock = threading.Lock()

    def submit(self, key: str, write: Callable[[], object]) -> Future:
        future = self._pool.submit(write)
        with self._lock:
            self._pending[key] = future
        future.add_done_callback(lambda f, k=key: self._done(k, f))
        return future

    def _done(self, key: str, future: Future) -> None:
        with self._lock:
            if self._pending.get(key) is future:
                del self._pending[key]
        if future.exception() is not None:  # the song itself is kept; only a download is missing
            _log.warning("writing the downloads of song %s failed", key, exc_info=future.exception())

    def pending(self, key: str) -> bool:
        with self._lock:
            return key in self._pending

    def waiting(self) -> list[str]:
        """The song ids whose writes are not done yet."""
        with self._lock:
            return list(self._pending)

    def wait(self, keys: Iterable[str], timeout: float | None = None) -> bool:
        """Wait until the writes for ``keys`` are done; False if ``timeout`` ran out first."""
        with self._lock:
            futures = [self._pending[k] for k in keys if k in self._pending]
        _, not_done = wait_all(futures, timeout=timeout)
        return not not_done


LATER = LaterWrites()


def master_file(audio_path, song_id: str, timeout: float | None = 600):
    """A library song's lossless master (``<id>.wav`` beside its player file) once written, waiting for
    the background writer; the player's file when no WAV was made. What reads a song's samples (an edit's
    source, stems, a check) wants this one: the player's FLAC holds the same master rounded to 16 bits
    (and a song kept before the FLAC player has an MP3 there, longer by its encoder padding)."""
    from pathlib import Path

    LATER.wait([song_id], timeout=timeout)
    wav = Path(audio_path).with_name(song_id + ".wav")
    return wav if wav.is_file() else Path(audio_path)
