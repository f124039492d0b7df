"""Songs nobody can reach any more are removed, with their files (issue 18 item 3: disk has a budget).

On a shared studio a song is reachable only through the visitor key kept in one browser (or held by
an API caller). A key that has not been seen for a long time was cleared, lost with its browser, or
belongs to a script that made throwaway keys: its songs take disk that no one will ever free. A visit
is a page load or an API call that lists the library, or a song kept (``Library.seen``).

Setting: ``STUDIO_RETENTION_DAYS``
  * a number of days (``30``, ``0.5``) - songs of visitors not seen for that long are removed;
  * ``off`` - never.
Default: ``30`` on a shared studio (a Space, or ``STUDIO_MULTI_USER=1``): long enough that a visitor who
comes back monthly keeps everything, short enough that a Space's 20 GB storage tier is not filled by
keys nobody holds. ``off`` for one person on their own machine, whose songs belong to ``local``.
Every removal is logged, with how many songs, visitors and bytes.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from studio import settings
from studio.library import LOCAL_OWNER, Library, multi_user

RETENTION_ENV = settings.RETENTION_DAYS.name
SHARED_DEFAULT_DAYS = 30.0
# How often a running studio looks again; retention is counted in days, so a few hours late is nothing.
SWEEP_EVERY_S = 6 * 3600.0
DAY_S = 86400.0
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Removed:
    visitors: int = 0
    songs: int = 0
    bytes: int = 0


def retention_days() -> float | None:
    """Days a visitor's songs outlive their last visit (``STUDIO_RETENTION_DAYS``); None = forever."""
    if not settings.RETENTION_DAYS.is_set():
        return SHARED_DEFAULT_DAYS if multi_user() else None
    return settings.RETENTION_DAYS.get()


def sweep(library: Library, now: float | None = None) -> Removed:
    """Remove every song (with its downloads, stems and cached copies) of each visitor not seen for
    ``retention_days()``. The one-person owner ``local`` is never removed."""
    days = retention_days()
    if days is None:
        return Removed()
    now = time.time() if now is None else now
    cutoff = now - days * DAY_S
    gone = [owner for owner, seen in library.last_visits().items() if seen < cutoff and owner != LOCAL_OWNER]
    songs = size = 0
    for owner in gone:
        size += library.bytes_used(owner)
        # list() hides songs whose file is missing, and counts as a visit: read the ids without either.
        for song_id in library.song_ids(owner):
            library.delete(owner, song_id)
            songs += 1
        library.forget_owner(owner)
    if gone:
        log.warning(
            "retention: removed %d songs (%.1f MB) of %d visitors not seen for %g days (%s)",
            songs, size / 1024**2, len(gone), days, RETENTION_ENV,
        )
    return Removed(len(gone), songs, size)


def start(library: Library, every_s: float = SWEEP_EVERY_S) -> threading.Thread | None:
    """Sweep now and then every ``every_s`` in a daemon thread (None when retention is off)."""
    if retention_days() is None:
        return None

    def loop() -> None:
        while True:
            try:
                sweep(library)
            except Exception:  # a failed sweep must not stop the next one, nor the studio
                log.exception("retention: the sweep failed; it runs again in %g h", every_s / 3600)
            time.sleep(every_s)

    thread = threading.Thread(target=loop, name="studio-retention", daemon=True)
    thread.start()
    return thread
