"""How much one caller may upload in a time window (issue 18 item 3: uploads capped per visitor).

``STUDIO_MAX_UPLOAD`` bounds one file; nothing bounded how many. gradio keeps every upload in its cache
(``GRADIO_TEMP_DIR``) for hours, so a script posting 100 MB files in a loop filled the Space's disk
in minutes. An upload carries no visitor key (gradio's ``/gradio_api/upload`` takes the file before any
event names its inputs), so uploads are counted per caller address (``visitor.client_address``, the
trusted proxy's entry), which is what a visitor is at that point.

Settings, both ``N/S`` over a sliding window of ``S`` seconds, or ``off``:
  * ``STUDIO_UPLOADS_PER_VISITOR`` - files, default ``30/3600`` on a shared studio (an edit session
    uploads a song, a LoRA, a settings file now and then, not one a minute);
  * ``STUDIO_UPLOAD_BYTES_PER_VISITOR`` - bytes, spelled like ``STUDIO_MAX_UPLOAD``: default
    ``1gb/3600`` on a shared studio (ten uploads at the 100 MB cap).
Both off for one person on their own machine. A refused upload is answered 429 with one sentence.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from studio import settings
from studio.ground.errors import StudioError
from studio.library import multi_user
from studio.settings import Setting, Window

COUNT_ENV = settings.UPLOADS_PER_VISITOR.name
BYTES_ENV = settings.UPLOAD_BYTES_PER_VISITOR.name
SHARED_COUNT = "30/3600"
SHARED_BYTES = "1gb/3600"
UPLOAD_PATHS = ("/gradio_api/upload", "/upload")
# Addresses whose window is empty are forgotten once this many are tracked.
_PRUNE_AT = 10_000


def _window(setting: Setting[Window | None], shared_default: str) -> Window | None:
    if not setting.is_set():
        return setting.parse(setting.name, shared_default) if multi_user() else None
    return setting.get()


def count_window() -> Window | None:
    return _window(settings.UPLOADS_PER_VISITOR, SHARED_COUNT)


def bytes_window() -> Window | None:
    return _window(settings.UPLOAD_BYTES_PER_VISITOR, SHARED_BYTES)


def _size(n: float) -> str:
    if n >= 1024**3:
        return f"{n / 1024**3:.1f} GB"
    return f"{n / 1024**2:.0f} MB" if n >= 1024**2 else f"{math.ceil(n / 1024)} kB"


def _span(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return "hour" if seconds == 3600 else f"{seconds / 3600:g} hours"
    return f"{seconds / 60:g} minutes" if seconds >= 60 else f"{seconds:g} s"


def _wait(seconds: float) -> str:
    return f"{math.ceil(seconds / 60)} min" if seconds >= 60 else f"{math.ceil(seconds)} s"


class UploadLedger:
    """Uploads per address over the windows the settings read (on every call, like the rate limits)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._seen: dict[str, deque[list[float]]] = {}  # address -> [[at, bytes], ...], oldest first
        self._lock = threading.Lock()

    def admit(self, address: str, announced: int) -> list[float]:
        """Count one upload of ``announced`` bytes for ``address``, or raise StudioError saying when to
        try again. Returns its entry, whose byte count :meth:`received` corrects once the body is read."""
        count, size = count_window(), bytes_window()
        now = self._clock()
        with self._lock:
            entries = self._seen.setdefault(address, deque())
            longest = max((w.per_s for w in (count, size) if w is not None), default=0.0)
            while entries and entries[0][0] <= now - longest:
                entries.popleft()
            if count is not None:
                recent = [e for e in entries if e[0] > now - count.per_s]
                if len(recent) >= count.most:
                    raise StudioError(
                        f"you have uploaded {len(recent)} file{'s' if len(recent) != 1 else ''} in the last "
                        f"{_span(count.per_s)}, the most one "
                        f"address may upload here; try again in {_wait(recent[0][0] + count.per_s - now)}."
                    )
            if size is not None:
                recent = [e for e in entries if e[0] > now - size.per_s]
                used = sum(e[1] for e in recent)
                if used + announced > size.most:
                    wait = recent[0][0] + size.per_s - now if recent else size.per_s
                    raise StudioError(
                        f"your uploads in the last {_span(size.per_s)} come to {_size(used)}; with this one they "
                        f"would pass {_size(size.most)}, the most one address may upload here; try again in "
                        f"{_wait(wait)} or upload a smaller file."
                    )
            entry = [now, float(announced)]
            entries.append(entry)
            if len(self._seen) > _PRUNE_AT:
                for key in [k for k, v in self._seen.items() if not v]:
                    del self._seen[key]
        return entry

    def received(self, entry: list[float], size: int) -> None:
        with self._lock:
            entry[1] = float(max(size, int(entry[1])))


LEDGER = UploadLedger()


class UploadCaps:
    """ASGI middleware (``launch(app_kwargs=...)``): refuses an upload past the caller's window with 429."""

    def __init__(self, app: Any, ledger: UploadLedger | None = None) -> None:
        self.app = app
        self.ledger = ledger or LEDGER

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope.get("type") != "http" or scope.get("method") != "POST" or scope.get("path") not in UPLOAD_PATHS:
            await self.app(scope, receive, send)
            return
        from starlette.requests import Request

        from studio.ui.visitor import client_address

        request = Request(scope)
        try:
            announced = max(0, int(request.headers.get("content-length") or 0))
        except ValueError:
            announced = 0
        try:
            entry = self.ledger.admit(client_address(request), announced)
        except StudioError as exc:
            # Plain text: gradio's page shows a failed upload as "HTTP 429: <body>" in a toast, and
            # gradio_client raises with the body; JSON would show its braces to the visitor.
            body = str(exc).encode()
            await send({"type": "http.response.start", "status": 429, "headers": [
                (b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        read = 0

        async def counting() -> dict:
            nonlocal read
            message = await receive()
            read += len(message.get("body", b""))
            return message

        try:
            await self.app(scope, counting, send)
        finally:
            self.ledger.received(entry, read)  # a body longer than announced counts as what arrived
