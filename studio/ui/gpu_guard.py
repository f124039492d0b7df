"""What a GPU event checks before its call joins the queue, whichever way it is called (issue 18).

The page runs a quick check before Generate (``ui_generate_ready``) and then joins the GPU queue;
a script can skip the check and join the private event itself, by ``fn_index`` on
``/gradio_api/queue/join`` or through gradio_client, as many times as the queue holds. gradio runs an
event's ``validator`` when the call asks to join, whoever sends it (gradio/queueing.py ``push``), so
each GPU event carries one: the same refusals as the page's check, spending nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

from studio import ratelimit
from studio.ground.errors import StudioError
from studio.ui import queue_caps, visitor
from studio.ui.errors import report_unexpected, with_hint

GPU_QUEUE = "gpu"  # the concurrency group every GPU event shares (studio.ui.api.GPU_QUEUE)


def verdict(checks: Callable[[], Any], inputs: int) -> list[dict[str, Any]]:
    """``checks()`` as a validator's answer for an event with ``inputs`` inputs (gradio wants one verdict
    per input): all valid, or the first refused with the sentence ``checks`` raised."""
    try:
        checks()
    except gr.Error as exc:
        refusal = with_hint(str(exc.message))
    except StudioError as exc:
        refusal = str(exc)
    except Exception as exc:  # logged with an id, as the event itself would
        refusal = report_unexpected(exc)
    else:
        return [gr.validate(True, "") for _ in range(inputs)]
    return [gr.validate(False, refusal), *(gr.validate(True, "") for _ in range(inputs - 1))]


def may_queue(request: object, visitor_key: object, what: str = "songs", rate_key: str = "") -> None:
    """Refuse a caller over their GPU rate or holding their share of the queue (spending nothing)."""
    address = visitor.client_address(request)
    ratelimit.check_gpu(rate_key or visitor.owner_for(visitor_key), address, what)
    queue_caps.check(request, visitor_key if isinstance(visitor_key, str) else "", GPU_QUEUE, what)
