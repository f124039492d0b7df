"""One sentence, never HTTP 500, from gradio's raw ``/gradio_api/run/<name>`` routes.

Those routes answer every error a handler raises, even the one-sentence refusals the studio writes
for a bad value, with status 500, and a body with too few inputs with ``500 {"error": null}``
(issue 18 item 6). A bad request is the caller's to fix: this middleware turns such answers into
422 with the sentence, or, when gradio gave none, a sentence saying how the body must look. Other
routes pass through untouched.
"""

from __future__ import annotations

import json
import logging
from typing import Any

log = logging.getLogger(__name__)
RUN_PREFIXES = ("/gradio_api/run/", "/run/")
SHAPE_HINT = (
    'the request body does not fit this endpoint: send {"data": [...]} with one value per input, in order '
    "(the endpoint's inputs are listed at /gradio_api/info)."
)


class RawRouteSentences:
    """ASGI middleware (passed to gradio's FastAPI app through ``launch(app_kwargs=...)``)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope.get("type") != "http" or not str(scope.get("path", "")).startswith(RUN_PREFIXES):
            await self.app(scope, receive, send)
            return
        started: dict[str, Any] = {}
        body = bytearray()

        async def capture(message: dict) -> None:
            if message["type"] == "http.response.start":
                if message["status"] != 500:
                    started["pass"] = True
                    await send(message)
                    return
                started["start"] = message
                return
            if started.get("pass"):
                await send(message)
                return
            body.extend(message.get("body", b""))
            if not message.get("more_body"):
                await _send_sentence(started["start"], bytes(body), send)

        try:
            await self.app(scope, receive, capture)
        except Exception as exc:
            # What escapes gradio's route is its own error handler failing on the body: FastAPI's 422 for a
            # body that is not {"data": [...]} repeats the input, and `{"data": Infinity}` cannot be
            # written back as JSON, so the request ended in a bare 500 (found by the fuzz).
            if "start" in started or started.get("pass"):
                raise
            log.warning("a malformed body on %s ended in %s; answered 422", scope.get("path"), type(exc).__name__)
            await _send_sentence({"headers": []}, b"{}", send)


async def _send_sentence(start: dict, body: bytes, send: Any) -> None:
    try:
        payload = json.loads(body or b"{}")
    except ValueError:
        payload = {}
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, str) and "Something went wrong on our side" in error:
        status, out = 500, body  # a real fault of ours, already logged with its id: leave it be
    else:
        status = 422
        out = json.dumps({**(payload if isinstance(payload, dict) else {}), "error": error or SHAPE_HINT}).encode()
    headers = [(k, v) for k, v in start.get("headers", []) if k.lower() not in (b"content-length", b"content-type")]
    headers += [(b"content-type", b"application/json"), (b"content-length", str(len(out)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": out})
