"""How much disk the library may take: per visitor and in total (issue 18: disk has a budget).

Settings (sizes spelled like ``STUDIO_MAX_UPLOAD``: ``500mb``, ``20gb``; ``off`` = no limit):
  * ``STUDIO_QUOTA_PER_VISITOR`` - what one visitor's songs may take; default ``1gb`` on a shared
    studio (about 170 three-minute songs as WAV + MP3), ``off`` locally;
  * ``STUDIO_QUOTA_TOTAL`` - what the whole library may take; default ``40gb`` on a shared studio
    (a Space's persistent storage tiers start at 20 GB; set it below what yours has), ``off`` locally.
Checked before a render starts, so a visitor over the quota is refused before spending GPU time, and
the refusal costs no rate-limit call.
"""

from __future__ import annotations

from studio import settings
from studio.ground.errors import StudioError
from studio.library import Library, multi_user

PER_VISITOR_ENV = settings.QUOTA_PER_VISITOR.name
TOTAL_ENV = settings.QUOTA_TOTAL.name
SHARED_PER_VISITOR = "1gb"
SHARED_TOTAL = "40gb"


class QuotaExceeded(StudioError):
    """The library (the visitor's share, or the whole) is full; the message says what to do."""

    spends_no_call = True  # refused before any model work (studio.ratelimit)


def quota_bytes(env: str, shared_default: str) -> int | None:
    setting = settings.lookup(env)
    text = setting.text()
    if text is None:
        text = shared_default if multi_user() else "off"
    return setting.parse(env, text)


def _size(n: int) -> str:
    return f"{n / 1024**3:.1f} GB" if n >= 1024**3 else f"{n / 1024**2:.0f} MB"


def check_room(library: Library, owner: str) -> None:
    """Refuse a new song when the visitor's songs or the whole library already fill their quota."""
    per_visitor = quota_bytes(PER_VISITOR_ENV, SHARED_PER_VISITOR)
    if per_visitor is not None:
        used = library.bytes_used(owner)
        if used >= per_visitor:
            raise QuotaExceeded(
                f"your library holds {_size(used)}, the most one visitor may keep here is {_size(per_visitor)}; "
                "delete some songs (download the ones you want first), then generate again."
            )
    total = quota_bytes(TOTAL_ENV, SHARED_TOTAL)
    if total is not None and library.bytes_used() >= total:
        raise QuotaExceeded(
            "this studio's song storage is full, so no new song can be kept right now; try again later "
            "(deleting your own songs frees room too)."
        )
