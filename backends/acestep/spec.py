"""ACE-Step 1.5's entry for the registry: the declaration (declaration.py) with the calls that import the backend's
own modules when they run (load, prefetch, the planner's weights, the Simple-mode sketch, refusals)."""

from __future__ import annotations

from pydantic import BaseModel

from backends.acestep.costs import PLANNER_GB, PLANNER_GB_SOURCE
from backends.acestep.declaration import (
    CAPABILITIES,
    DEFAULT_WEIGHTS,
    DESCRIBE_PLANNER,
    PLANNER_ENV,
    PLANNER_REQUIRED,
    WEIGHTS,
    WEIGHTS_ENV,
    AceStepOptions,
    availability,
)
from backends.base import BackendSpec, Sketcher, WeightsPart
from studio import settings


def planner_part(size: str) -> WeightsPart:
    """The planner of ``size`` as it stands now: the official checkpoint, or what PLANNER_ENV names (a
    folder, or a Hub id that may end in a subfolder), whose size is unknown."""
    from backends.acestep.planner.model import PLANNER_CHECKPOINTS, resolve_checkpoint

    chosen = (settings.ACESTEP_PLANNER_WEIGHTS.get() or "").strip()
    checkpoint = resolve_checkpoint(chosen) if chosen else PLANNER_CHECKPOINTS[size]
    what = f"ACE-Step {size} planner"
    if checkpoint.local:
        return WeightsPart(what=what, repo=checkpoint.repo, required=PLANNER_REQUIRED, download_gb=None,
                           size_source="a local folder", env=PLANNER_ENV)
    sub = checkpoint.subfolder
    required = tuple(f"{sub}/{name}" for name in PLANNER_REQUIRED) if sub else PLANNER_REQUIRED
    return WeightsPart(what=what, repo=checkpoint.repo, required=required,
                       download_gb=None if chosen else PLANNER_GB[size],
                       size_source="another checkpoint named by " + PLANNER_ENV if chosen else PLANNER_GB_SOURCE)


def _sketch(text: str, **kwargs) -> dict:
    from backends.acestep.sketch import run

    return run(text, **kwargs)


def _sketch_prefetch() -> None:
    from backends.acestep.sketch import prefetch

    prefetch()


def _sketch_loaded(device: str) -> bool:
    from backends.acestep.sketch import loaded

    return loaded(device)


SKETCHER = Sketcher(
    what=f"the {DESCRIBE_PLANNER} planner",
    planner=DESCRIBE_PLANNER,
    weights=lambda: planner_part(DESCRIBE_PLANNER),
    prefetch=_sketch_prefetch,
    loaded=_sketch_loaded,
    run=_sketch,
)



def _prefetch(options: BaseModel, task: str) -> None:
    """Into the local cache, nothing loaded: the pipeline, the planner size the options ask for,
    Hub LoRAs and the weights an editing task swaps in (backends/acestep/fetching.py)."""
    from backends.acestep.fetching import fetch_pipeline, fetch_planner
    from backends.acestep.lora import check_lora, looks_local
    from backends.acestep.tasks import weights_for
    from studio import weights as weights_source

    location = weights_source.choose(None, WEIGHTS_ENV, DEFAULT_WEIGHTS)
    fetch_pipeline(location, what="ACE-Step", env_var=WEIGHTS_ENV)
    planner = getattr(options, "planner", "off")
    if planner != "off":
        fetch_planner(settings.ACESTEP_PLANNER_WEIGHTS.get() or planner)
    for ref in getattr(options, "loras", ()):
        if not looks_local(ref.source):
            check_lora(ref.source)
    variant = weights_for(task)
    if variant is not None:
        location = weights_source.choose(None, variant.weights_env, variant.default_weights)
        fetch_pipeline(location, what=variant.display_name, env_var=variant.weights_env)
    from backends.acestep import code_pair

    if code_pair.needs_pair(task, options) is not None:
        source = code_pair.pair_source(weights_source.choose(None, WEIGHTS_ENV, DEFAULT_WEIGHTS))
        if source:  # the pair's bytes, read and converted once into the state folder
            from backends.acestep.native_pair import fetch_pair

            fetch_pair(source)


def _refusal(task: str, options: BaseModel | None) -> str | None:
    """The planner's codes and cover need the audio tokenizer pair (see code_pair)."""
    from backends.acestep import code_pair
    from studio import weights as weights_source

    return code_pair.refusal(weights_source.choose(None, WEIGHTS_ENV, DEFAULT_WEIGHTS), task, options)


SPEC = BackendSpec(
    capabilities=CAPABILITIES,
    options=AceStepOptions,
    availability=availability,
    loader="backends.acestep.backend:AceStepBackend.load",
    prefetch=_prefetch,
    weights=(WEIGHTS,),
    refusal=_refusal,
    sketcher=SKETCHER,
)
