"""A flood of cheap requests from one address cannot push other visitors' pages out of memory
(issue 18 item 7).

gradio keeps one session state per ``session_hash`` (the component configs a tab's events changed,
its gr.State values) in an LRU store of ``state_session_capacity`` entries
(gradio/state_holder.py). Any request may name a fresh session hash, so a script sending
``STUDIO_SESSION_CAPACITY`` cheap calls, each with a new hash, evicted every open page: their next
event started from the page's defaults (the takes on the cards forgotten, the form's ranges reset).

Here each session remembers the address that opened it (``visitor.client_address``, the trusted
proxy's entry), and one address holds at most ``STUDIO_SESSIONS_PER_ADDRESS`` sessions: past that, its
own least recently used session goes, not someone else's. Setting: a whole number or ``off``; default
on a shared studio a tenth of the capacity (100 of 1000), plenty for a classroom behind one NAT, so it
takes ten flooding addresses to reach other visitors again. Off for one person on their machine.
"""

from __future__ import annotations

import contextvars
import threading
from collections import OrderedDict
from typing import Any

from gradio.state_holder import SessionState, StateHolder

from studio import settings
from studio.library import multi_user

PER_ADDRESS_ENV = settings.SESSIONS_PER_ADDRESS.name
UNKNOWN = "unknown"
# The address of the HTTP request being served; gradio creates a session inside that request's
# context (route_utils.get_fn for /run and /queue/join), so the store reads it from here.
ADDRESS: contextvars.ContextVar[str] = contextvars.ContextVar("studio_client_address", default=UNKNOWN)


def sessions_per_address(capacity: int) -> int | None:
    if not settings.SESSIONS_PER_ADDRESS.is_set():
        return max(1, capacity // 10) if multi_user() else None
    return settings.SESSIONS_PER_ADDRESS.get()


class AddressCappedStates(StateHolder):
    """gradio's session store, with at most ``sessions_per_address`` sessions per caller address."""

    def __init__(self) -> None:
        super().__init__()
        self.address_of: dict[str, str] = {}
        self.by_address: dict[str, OrderedDict[str, None]] = {}

    def __getitem__(self, session_id: str) -> SessionState:
        with self.lock:
            if session_id in self.session_data:
                address = self.address_of.get(session_id, UNKNOWN)
                self.by_address.setdefault(address, OrderedDict())[session_id] = None
                self.by_address[address].move_to_end(session_id)
            else:
                self._admit(session_id, ADDRESS.get())
        return super().__getitem__(session_id)

    def _admit(self, session_id: str, address: str) -> None:
        cap = sessions_per_address(self.capacity)
        held = self.by_address.setdefault(address, OrderedDict())
        while cap is not None and len(held) >= cap:
            oldest, _ = held.popitem(last=False)
            self.session_data.pop(oldest, None)
            self.time_last_used.pop(oldest, None)
            self.address_of.pop(oldest, None)
        held[session_id] = None
        self.address_of[session_id] = address

    def update(self, session_id: str) -> None:
        with self.lock:
            if session_id in self.session_data:
                self.session_data.move_to_end(session_id)
            while len(self.session_data) > self.capacity:
                evicted, _ = self.session_data.popitem(last=False)
                self.time_last_used.pop(evicted, None)
                self._forget(evicted)

    def _forget(self, session_id: str) -> None:
        address = self.address_of.pop(session_id, None)
        held = self.by_address.get(address or UNKNOWN)
        if held is not None:
            held.pop(session_id, None)
            if not held:
                del self.by_address[address or UNKNOWN]


_INSTALL = threading.Lock()


def install(app: Any) -> None:
    """Put an :class:`AddressCappedStates` in place of the gradio app's store (once, sessions kept)."""
    current = getattr(app, "state_holder", None)
    blocks = getattr(app, "blocks", None)
    if current is None or blocks is None or isinstance(current, AddressCappedStates):
        return
    with _INSTALL:
        if isinstance(app.state_holder, AddressCappedStates):
            return
        ours = AddressCappedStates()
        ours.set_blocks(blocks)  # also points blocks.state_holder at it, and reads the capacity
        with current.lock:
            ours.session_data.update(current.session_data)
            ours.time_last_used.update(current.time_last_used)
        app.state_holder = ours


class SessionAddresses:
    """ASGI middleware: notes each request's address for the store and installs the store on first use."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope.get("type") not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        from starlette.requests import HTTPConnection

        from studio.ui.visitor import client_address

        install(scope.get("app"))
        token = ADDRESS.set(client_address(HTTPConnection(scope)))
        try:
            await self.app(scope, receive, send)
        finally:
            ADDRESS.reset(token)
