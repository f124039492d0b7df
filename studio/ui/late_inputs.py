"""Inputs added to an endpoint after its first release, filled in for raw positional callers.

gradio refuses a body with fewer values than the endpoint has inputs ("didn't receive enough input
values", ``Blocks.validate_inputs``), and its validator runs on the same list, so every input added to
``/generate`` broke hand-written clients posting ``{"data": [...]}`` to ``/gradio_api/call/generate``
(commit e176994 took ``keep_best`` back out for that reason). gradio_client and the named
``/call/v2`` route fill in parameter defaults themselves; the positional ``/call`` and ``/run`` routes
do not. This middleware appends the defaults of the inputs a short body leaves out, provided it
carries at least every input without a default, so a body written for an older studio runs unchanged.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from typing import Any

POSITIONAL_PREFIXES = ("/gradio_api/call/", "/gradio_api/run/", "/call/", "/run/")
# api name -> (inputs without a default, the defaults of the ones after them), from the handler itself.
_LATE: dict[str, tuple[int, list[Any]]] = {}


def register(api_name: str, handler: Callable[..., Any]) -> None:
    """Let raw positional callers of ``api_name`` leave out the inputs ``handler`` gives defaults."""
    params = [p for n, p in inspect.signature(handler).parameters.items() if n not in ("request", "progress")]
    required = [p for p in params if p.default is inspect.Parameter.empty]
    if params[: len(required)] != required:
        raise ValueError(f"{api_name}: inputs with defaults must come after those without")
    _LATE[api_name] = (len(required), [p.default for p in params[len(required):]])


def filled(api_name: str, data: list[Any]) -> list[Any]:
    """``data`` with the left-out trailing inputs' defaults appended (unchanged when none are due)."""
    if api_name not in _LATE:
        return data
    required, defaults = _LATE[api_name]
    total = required + len(defaults)
    if not required <= len(data) < total:
        return data  # too few for even the first release: gradio's own refusal names what is missing
    return [*data, *defaults[len(data) - required:]]


def _api_name(path: str) -> str | None:
    for prefix in POSITIONAL_PREFIXES:
        if path.startswith(prefix):
            rest = path[len(prefix):].strip("/")
            return rest if rest and "/" not in rest else None  # /call/<name>/<event id> is the result stream
    return None


class LateInputDefaults:
    """ASGI middleware (``launch(app_kwargs=...)``) rewriting a short positional body before gradio reads it."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        name = _api_name(str(scope.get("path", ""))) if scope.get("type") == "http" else None
        if name not in _LATE or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        chunks = bytearray()
        while True:
            message = await receive()
            chunks.extend(message.get("body", b""))
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        body = bytes(chunks)
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        if isinstance(payload, dict) and isinstance(payload.get("data"), list):
            longer = filled(name, payload["data"])
            if len(longer) != len(payload["data"]):
                body = json.dumps({**payload, "data": longer}).encode()
        headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() != b"content-length"]
        scope = {**scope, "headers": [*headers, (b"content-length", str(len(body)).encode())]}
        sent = False

        async def replay() -> dict:
            nonlocal sent
            if sent:
                return await receive()  # after the body: the disconnect, when it comes
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)
