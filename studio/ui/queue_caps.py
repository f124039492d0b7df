"""Counting what a caller already holds in gradio's GPU queue, for ``ratelimit.check_queued``.

gradio keeps the waiting events of each concurrency group and the running ones; each event keeps the
HTTP request that queued it (its address) and its inputs (where a visitor key travels). Counting
those, at the moment a new request asks to join, needs no bookkeeping of our own that a dropped
connection or a crash could leave behind. Nothing here imports gradio: the queue is read by duck
typing through the request's app.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from studio import ratelimit
from studio.ui import visitor


def _gradio_queue(request: object) -> Any:
    underlying = getattr(request, "request", None) or request
    app = getattr(underlying, "app", None)
    blocks = getattr(app, "blocks", None)
    return getattr(blocks, "_queue", None)


def _gpu_events(queue: Any, concurrency_id: str) -> Iterator[Any]:
    event_queue = queue.event_queue_per_concurrency_id.get(concurrency_id)
    yield from list(getattr(event_queue, "queue", None) or [])
    for job in list(queue.active_jobs or []):
        for event in job or []:
            if getattr(event, "concurrency_id", None) == concurrency_id:
                yield event


def _belongs_to(event: Any, visitor_key: str, session_hash: str) -> bool:
    if session_hash and event.session_hash == session_hash:
        return True
    inputs = getattr(getattr(event, "data", None), "data", None) or []
    # A visitor key is 24+ random characters, so equal strings are the same visitor.
    return bool(visitor_key) and any(isinstance(v, str) and v == visitor_key for v in inputs)


def held(request: object, visitor_key: str, concurrency_id: str) -> tuple[int, int]:
    """(jobs this visitor holds, jobs this address holds) in the ``concurrency_id`` queue, waiting or running."""
    queue = _gradio_queue(request)
    if queue is None:  # called outside a served app (a direct function call in a test or script)
        return 0, 0
    address = visitor.client_address(request)
    session_hash = str(getattr(request, "session_hash", "") or "")
    by_visitor = by_address = 0
    for event in _gpu_events(queue, concurrency_id):
        if _belongs_to(event, visitor_key, session_hash):
            by_visitor += 1
        if address != "unknown" and visitor.client_address(event.request) == address:
            by_address += 1
    return by_visitor, by_address


def check(request: object, visitor_key: str, concurrency_id: str, what: str = "songs") -> None:
    """Refuse (``ratelimit.QueueCapReached``) when the caller already holds their share of the queue."""
    ratelimit.check_queued(*held(request, visitor_key, concurrency_id), what)
