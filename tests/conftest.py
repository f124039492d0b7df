"""Shared test fixtures: where the golden data lives, and skips for hardware-bound tests."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.warnings_guard import own_deprecations_are_errors  # noqa: F401  (a session-wide autouse fixture)

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    """`../shared` beside the checkout (CI lays it there); STUDIO_SHARED overrides."""
    from studio import settings  # here, so the top of this file keeps its import order

    return Path(settings.SHARED.get() or REPO.parent / "shared").resolve()


@pytest.fixture(autouse=True, scope="session")
def _patient_launch_check():
    """gradio's ``launch`` asks its just-started server whether it answers (five tries 0.5 s apart) but gives up
    at the first refused or timed-out request (gradio 6.31 networking.url_ok) and then raises "When localhost
    is not accessible, a shareable link must be created": on this 2-core machine with two test workers and a
    browser busy, a healthy server is sometimes a few seconds late (nine launches failed so in one run, each
    passing alone). The studios the tests launch get 60 s to answer; one that never answers still fails."""
    from gradio import networking

    hasty = networking.url_ok

    def patient(url: str) -> bool:
        deadline = time.monotonic() + 60.0
        while not hasty(url):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.5)
        return True

    networking.url_ok = patient
    yield
    networking.url_ok = hasty


@pytest.fixture(autouse=True)
def _private_state(tmp_path_factory: pytest.TempPathFactory):
    """Calibration and library files go to a temporary folder per test, never the user's cache: timings
    one test records (a faked ZeroGPU device, a slowed model) must not move another test's estimate.
    (Not monkeypatch: this fixture must not change when the tests' own monkeypatches are undone.)"""
    folder = tmp_path_factory.mktemp("state")
    old = os.environ.get("STUDIO_STATE_DIR")
    os.environ["STUDIO_STATE_DIR"] = str(folder)
    yield folder
    if old is None:
        os.environ.pop("STUDIO_STATE_DIR", None)
    else:
        os.environ["STUDIO_STATE_DIR"] = old


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    path = shared_dir() / "fixtures"
    if not path.is_dir():
        pytest.skip(f"golden fixtures not found at {path}; set STUDIO_SHARED to the shared folder")
    return path


def _has_accelerator() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available() or torch.backends.mps.is_available()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    accel = _has_accelerator()
    from studio import settings

    real = bool(settings.REAL_WEIGHTS.get())
    for item in items:
        if "gpu" in item.keywords and not accel:
            item.add_marker(pytest.mark.skip(reason="needs a CUDA or MPS device"))
        if "real_weights" in item.keywords and not real:
            item.add_marker(pytest.mark.skip(reason="needs real weights: set STUDIO_REAL_WEIGHTS=1"))


@pytest.fixture(scope="session")
def tiny_acestep_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random ACE-Step pipeline saved in the real diffusers layout (built once per run)."""
    from backends.acestep.tiny import save_tiny_pipeline

    return save_tiny_pipeline(tmp_path_factory.mktemp("tiny-acestep"))


@pytest.fixture(scope="session")
def tiny_acestep(tiny_acestep_dir: Path):
    """The tiny pipeline loaded through the same code as real weights, on the CPU."""
    from backends.acestep.backend import AceStepBackend
    from studio.devices import detect

    backend = AceStepBackend.load(str(tiny_acestep_dir), device=detect("cpu"))
    yield backend
    backend.unload()
