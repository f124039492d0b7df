"""Registry: cheap specs, availability with reasons, one load per process, explicit unload."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import BaseModel, ConfigDict

from backends.acestep.spec import CAPABILITIES
from backends.base import Availability, BackendSpec, BackendUnavailable, StudioError
from studio import registry
from tests.conftest import REPO


def test_listing_specs_imports_no_model_code() -> None:
    code = (
        "import sys; from studio import registry; specs = registry.all_specs(); "
        "[s.availability() for s in specs]; "
        "print(sorted(m for m in ('torch', 'diffusers', 'transformers', 'gradio') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "[]"


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

    def loader(weights_location=None, device=None, on_progress=None):
        loads.append(weights_location)
        return _Fake(weights_location)

    spec = BackendSpec(capabilities=CAPABILITIES, options=_Opts, availability=Availability.yes, loader=loader)
    monkeypatch.setattr(registry, "get_spec", lambda name: spec)
    cache = registry.BackendCache()
    first = cache.get("acestep")
    assert cache.get("acestep") is first and loads == [None]
    other = cache.get("acestep", "other/weights")
    assert first.unloaded and other.weights == "other/weights" and loads == [None, "other/weights"]
    assert cache.unload("acestep") and other.unloaded and cache.loaded() == {}
    assert not cache.unload("acestep")
