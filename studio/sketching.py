"""Simple mode's sketch off the render path: what it fetches before the GPU and what it reserves.

A sketch runs only the backend's sketcher (``BackendSpec.sketcher``: for ACE-Step the planner), so it
is priced as that model's load, when the GPU worker must load it, plus one pass; never the DiT's load
or a render (issue 16). The worker's bookkeeping (``studio.worker_state``) keeps the sketcher apart
from the backend it belongs to: a worker that rendered with the DiT may still have to load the planner.
"""

from __future__ import annotations

from backends.base import Sketcher
from backends.plan_input import PlanInput
from studio import registry
from studio.budget import Reservation
from studio.ground.errors import StudioError

# A sketch (caption, metadata and lyrics, no audio codes) is ~600 planner tokens; the planner writes
# audio codes at 5 per second of song, so a sketch is priced like the codes of a 120-s song.
SKETCH_PRICED_AS_S = 120.0


def sketcher_of(backend: str) -> Sketcher:
    spec = registry.get_spec(backend)
    if spec.sketcher is None:
        raise StudioError(
            f"{spec.capabilities.display_name} cannot write a song from a description; write a style and lyrics."
        )
    return spec.sketcher


def check_description(backend: str, text: str) -> str:
    """The description, trimmed, or a refusal naming what to change; asked before any GPU time."""
    from studio.ground.vocabulary import Input

    caps = registry.get_spec(backend).capabilities
    if registry.get_spec(backend).sketcher is None or not caps.accepts(Input.DESCRIPTION):
        takers = [s.capabilities.display_name for s in registry.all_specs() if s.sketcher is not None]
        raise StudioError(
            f"{caps.display_name} cannot write a song from a description; write a style and lyrics"
            + (f", or pick {' or '.join(takers)}." if takers else ".")
        )
    text = text.strip()
    if not text:
        raise StudioError("describe the song first, e.g. 'a melancholic bossa nova about the sea'.")
    if len(text) > caps.max_style_chars:
        raise StudioError(
            f"the description must be at most {caps.max_style_chars} characters, got {len(text)}; shorten it."
        )
    return text


def worker_key(backend: str) -> str:
    """The name the GPU worker's bookkeeping gives ``backend``'s sketcher."""
    return f"{backend}:sketch"


def sketch_input(backend: str, *, include_load: bool | None = None) -> PlanInput:
    """A sketch as the guard prices it; ``include_load=None``: the load counts when the worker must load."""
    from studio.worker_state import load_due

    load = load_due(worker_key(backend)) if include_load is None else include_load
    return PlanInput(duration_s=SKETCH_PRICED_AS_S, planner=sketcher_of(backend).planner, sketch=True,
                     include_load=load)


def record(backend: str, measured: dict[str, float], *, loaded: bool) -> None:
    """File a sketch's measured stage times (``loaded``: the sketcher had to be loaded) in this process's
    calibration, so the next sketch and the planner's share of renders are priced from this machine.
    Called in the main process with the GPU worker's figures (a fork's own records would be lost)."""
    from studio import devices
    from studio.request.pricing import calibration

    caps = registry.get_spec(backend).capabilities
    info = devices.detect()
    model = caps.cost.get(info.kind)
    if model is not None:
        calibration().record(caps.name, info.name, model, sketch_input(backend, include_load=loaded), measured)


def sketch_reservation(backend: str, tier: str | None = None) -> Reservation:
    """The GPU time one sketch reserves for ``tier``, or a refusal that says what would fit."""
    from studio.request.pricing import budget_context

    caps = registry.get_spec(backend).capabilities
    res = budget_context(tier).reserve(caps, sketch_input(backend))
    if not res.fits:
        raise StudioError(
            f"writing the song from a description needs about {res.needed_s} s of GPU time with its margin, "
            f"more than the {res.cap_s:.0f} s this request may use; write the style and lyrics yourself "
            "in Custom mode, or try again when your GPU quota has refilled."
        )
    return res


def prefetch(backend: str) -> None:
    """Download exactly the files the sketcher opens (nothing of the renderer's), before the GPU."""
    sketcher_of(backend).prefetch()
