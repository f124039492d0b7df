"""Check once, price once: the one function that turns a request into the request as it will run.

Every surface (the UI's runner, ``python -m studio generate``, the API's /generate, ``studio batch``)
calls :func:`prepare` once per generation and carries its :class:`Prepared` down to the GPU worker;
:func:`plan` (the API's /plan, the UI's estimate line) prices through the same checks.
"""

from __future__ import annotations

import dataclasses

from studio.budget import Decision, Preflight, default_tier, tier_limits
from studio.ground.errors import StudioError
from studio.request.checks import checked
from studio.request.prepared import Prepared
from studio.request.pricing import price
from studio.song import SongRequest


def prepare(request: SongRequest, tier: str | None = None, *, unpriced_ok: bool = False) -> Prepared:
    """``request`` checked, lightened when it asks to fit (``fit_budget``) and does not, and priced for
    ``tier``: the lyrics are formatted, the upload decoded and the seeds drawn here, once.

    A request the guard refuses raises its sentence (with what would fit). ``unpriced_ok`` (the CLI and
    batch on their own machine): a device without cost figures runs unpriced when nothing limits it."""
    return _made(request, tier, unpriced_ok=unpriced_ok, decode=True)


def check(request: SongRequest, tier: str | None = None) -> Prepared:
    """:func:`prepare` without decoding an upload (its header gives the length): every refusal the
    request's fields, the upload's header and the budget guard would give, at once, for checks made
    before a call joins the queue. Its job carries no source audio, so it prices; it never renders."""
    return _made(request, tier, unpriced_ok=False, decode=False)


def plan(
    request: SongRequest, tier: str | None = None, *, fit: bool | None = None, quota_left_s: float | None = None
) -> Preflight:
    """The budget guard's decision for a request, refusals included, before any GPU time is spent and
    without decoding an upload (``fit``: lighten it rather than refuse; None: as the request asks)."""
    fit = request.fit_budget if fit is None else fit
    return price(checked(request, decode=False)[0], tier, fit=fit, quota_left_s=quota_left_s)


def _made(request: SongRequest, tier: str | None, *, unpriced_ok: bool, decode: bool) -> Prepared:
    first, drawn = checked(request, decode=decode)
    try:
        decision = price(first, tier, fit=request.fit_budget)
    except StudioError:
        # A limit is set (or a fit was asked for), so a run that cannot be priced must not start unchecked.
        if not unpriced_ok or request.fit_budget or tier_limits(tier or default_tier()).cap_s is not None:
            raise
        return first
    prepared, fitted = first, None
    if decision.decision is Decision.ADJUSTED:
        # The lighter request reuses the upload, the formatted lyrics and the seeds drawn for the first.
        prepared, _ = checked(_lightened(request, decision), reuse=drawn, decode=decode)
        fitted = decision.message
        decision = price(prepared, tier, fit=True)
    if not decision.ok:
        raise StudioError(decision.message)
    return dataclasses.replace(prepared, fitted=fitted, decision=decision)


def _lightened(request: SongRequest, decision: Preflight) -> SongRequest:
    """The request the guard's adjusted plan describes: fewer takes or steps, a smaller planner, or a
    shorter new song."""
    asked, fitted = decision.requested, decision.request
    options = dict(request.options)
    if fitted.steps != asked.steps:
        options["steps"] = fitted.steps
    if fitted.planner != asked.planner:
        options["planner"] = fitted.planner or "off"
    update: dict[str, object] = {"takes": fitted.takes, "options": options}
    if request.keep_best is not None and fitted.takes <= request.keep_best:
        update["keep_best"] = None  # too few takes left to choose among: keep all of them
    if fitted.duration_s != asked.duration_s:  # only ever a new song's (fit_request never shortens edits)
        update["duration"] = fitted.duration_s
    return request.model_copy(update=update)
