"""What a GPU event checks before its call joins the queue, whichever way it is called (issue 18).

The page runs a quick check before Generate (``ui_generate_ready``) and then joins the GPU queue;
a script can skip the check and join the private event itself, by ``fn_index`` on
``/gradio_api/queue/join`` or through gradio_client, as many times as the queue holds. gradio runs an
event's ``validator`` when the call asks to join, whoever sends it (gradio/queueing.py ``push``), so
each GPU event carries one: the same refusals as the page's check, spending nothing.
"""

from __future__ import annotations

import contextvars
import inspect
import re
from collections.abc import Callable
from typing import Any

import gradio as gr

from studio import ratelimit
from studio.ground.errors import StudioError
from studio.ui import queue_caps, visitor
from studio.ui.errors import for_visitors, report_unexpected, user_errors, with_hint

GPU_QUEUE = "gpu"  # the concurrency group every GPU event shares

# Set while an endpoint runs as its own validator (``refuse_before_queueing``): everything up to the
# render happens as usual, and the render only checks that the request fits the caller's GPU budget
# and that they may spend a GPU call.
CHECK_ONLY: contextvars.ContextVar[bool] = contextvars.ContextVar("check_only", default=False)


def refuse_before_queueing(handler: Callable[..., Any]) -> Callable[..., Any]:
    """A gradio validator for a GPU endpoint: run ``handler`` up to its render, before the call joins
    the queue, so a bad request, one the budget guard would refuse, or a caller over the rate limit
    is refused at once with the same sentence instead of after waiting for a GPU.

    gradio hands a validator the endpoint's own inputs (and a gr.Request where the signature asks
    for one) and answers 422 with one message per input; the whole sentence goes on the input it
    names in backticks, else on the first."""
    signature = inspect.signature(handler)
    names = [n for n in signature.parameters if n not in ("request", "progress")]
    checks = getattr(handler, "__wrapped__", handler)  # without user_errors: the error's kind matters

    def refusal(message: str, about: str) -> list[dict[str, Any]]:
        return [gr.validate(name != about, message if name == about else "") for name in names]

    @user_errors  # anything unexpected is logged and answered with a short id, as in the handler
    def validator(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        token = CHECK_ONLY.set(True)
        try:
            checks(*args, **kwargs)
        except ratelimit.RateLimited as exc:
            return refusal(str(exc), "visitor_key" if "visitor_key" in names else names[0])
        except (StudioError, gr.Error) as exc:
            message = for_visitors(str(exc.message) if isinstance(exc, gr.Error) else str(exc))
            named = re.search(r"`(\w+)`", message)
            return refusal(message, named.group(1) if named and named.group(1) in names else names[0])
        finally:
            CHECK_ONLY.reset(token)
        return [gr.validate(True, "") for _ in names]

    params = [p for n, p in signature.parameters.items() if n != "progress"]
    validator.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    # gradio injects a gr.Request where typing.get_type_hints(fn) says so (gradio/helpers.py,
    # special_args), and get_type_hints reads __annotations__, not __signature__: without this the
    # validator got request=None, so the caller's address was "unknown" and the per-address and keyless
    # limits were only checked after the wait in the GPU queue.
    if "request" in signature.parameters:
        validator.__annotations__ = {**validator.__annotations__, "request": gr.Request}
    return validator


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
