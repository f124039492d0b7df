"""Shared test fixtures: where the golden data lives, and skips for hardware-bound tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.warnings_guard import own_deprecations_are_errors  # noqa: F401  (a session-wide autouse fixture)

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    """`../shared` beside the checkout (CI lays it there); STUDIO_SHARED overrides."""
    from studio import settings  # here, so the top of this file keeps its import order

    return Path(settings.SHARED.get() or REPO.parent / "shared").resolve()


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
