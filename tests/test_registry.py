"""Registry: cheap specs, availability with reasons, one load per process, explicit unload."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import BaseModel, ConfigDict

from backends.acestep.declaration import CAPABILITIES
from backends.base import Availability, BackendSpec
from studio import registry
from studio.ground.errors import BackendUnavailable, StudioError
from tests.conftest import REPO


def _imported_after(code: str) -> list[str]:
    heavy = "('torch', 'diffusers', 'transformers', 'gradio')"
    probe = f"import sys; {code}; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, check=True)
    return eval(out.stdout.strip())


def test_listing_specs_imports_no_model_code() -> None:
    assert _imported_after("from studio import registry; registry.all_specs()") == []


def test_availability_checks_may_probe_torch_but_load_no_model_code() -> None:
    # Memory probes need torch; model code (diffusers, transformers) and gradio stay out.
    loaded = _imported_after("from studio import registry; [s.availability() for s in registry.all_specs()]")
    assert set(loaded) <= {"torch"}


def test_unknown_backend_lists_choices() -> None:
    with pytest.raises(StudioError, match="choose one of acestep"):
        registry.get_spec("nope")


def test_unavailable_backend_says_why_and_what_runs() -> None:
    spec = registry.get_spec("levo2")
    if spec.availability().ok:
        pytest.skip("LeVo 2 runs here")
    with pytest.raises(BackendUnavailable, match=r"cannot run here: .*Available here: ACE-Step"):
        registry.require_available(spec)


class _Opts(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Fake:
    def __init__(self, weights: str | None) -> None:
        self.weights = weights or "default"
        self.unloaded = False

    def unload(self) -> None:
        self.unloaded = True


def test_cache_loads_once_and_unloads(monkeypatch) -> None:
    loads: list[str | None] = []

    def loader(weights=None, device=None, on_progress=None):
        loads.append(weights)
        return _Fake(weights)

    spec = BackendSpec(capabilities=CAPABILITIES, options=_Opts, availability=Availability.yes, loader=loader)
    monkeypatch.setattr(registry, "get_spec", lambda name: spec)
    cache = registry.BackendCache()
    first = cache.get("acestep")
    assert cache.get("acestep") is first and loads == [None]
    other = cache.get("acestep", "other/weights")
    assert first.unloaded and other.weights == "other/weights" and loads == [None, "other/weights"]
    assert cache.unload("acestep") and other.unloaded and cache.loaded() == {}
    assert not cache.unload("acestep")


def _counting_spec(calls: list[int], state: Availability) -> BackendSpec:
    def check() -> Availability:
        calls.append(1)
        return state

    return BackendSpec(capabilities=CAPABILITIES, options=_Opts, availability=check, loader=lambda **_: None)


def test_availability_is_checked_once_per_process(monkeypatch) -> None:
    calls: list[int] = []
    spec = _counting_spec(calls, Availability.no("no weights here"))
    for _ in range(3):
        assert registry.availability(spec).reason == "no weights here"
    assert len(calls) == 1


def test_availability_is_checked_again_when_settings_change_or_on_refresh(monkeypatch) -> None:
    calls: list[int] = []
    spec = _counting_spec(calls, Availability.yes())
    monkeypatch.setenv("STUDIO_ACESTEP_WEIGHTS", "/one")
    registry.availability(spec)
    monkeypatch.setenv("STUDIO_ACESTEP_WEIGHTS", "/two")  # a weights folder moved: ask again
    registry.availability(spec)
    registry.availability(spec)
    assert len(calls) == 2
    registry.refresh_availability()
    registry.availability(spec)
    assert len(calls) == 3


def test_a_swapped_check_gets_its_own_answer() -> None:
    import dataclasses

    spec = registry.get_spec("acestep")
    before = registry.availability(spec)
    swapped = dataclasses.replace(spec, availability=lambda: Availability.no("swapped by a test"))
    assert registry.availability(swapped).reason == "swapped by a test"
    assert registry.availability(spec) == before
