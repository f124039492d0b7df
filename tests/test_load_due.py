"""The guard's estimate counts the load stage only when the ZeroGPU worker will have to load.

``spaces`` keeps its GPU worker between successful tasks and forks a fresh one after a failed or
aborted task (huggingface/spaces, spaces/zero/wrappers.py), which loads every backend again.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from backends.base import StudioError
from studio import service
from studio.library import Library
from studio.song import SongRequest
from studio.ui import runner
from studio.worker_state import WORKER, WorkerState


@pytest.fixture
def zerogpu(monkeypatch):
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    monkeypatch.setenv("STUDIO_ZEROGPU_SLICE_FACTOR", "1")
    monkeypatch.setattr(WORKER, "_loaded", set())


def stages(request: SongRequest) -> dict[str, float]:
    return service.plan(request, tier="pro").reservation.estimate.stages


def test_load_is_priced_for_a_fresh_worker_only(zerogpu, monkeypatch, tmp_path) -> None:
    request = SongRequest(style="pop", duration=30)
    assert "load" in stages(request)  # no worker has loaded anything yet

    # What each task's worker reports: it had to load (a fresh fork), it already held the weights
    # (a kept worker), then the task is aborted.
    outcomes = [False, True, "abort"]

    def gpu(*_args, **_kwargs):
        outcome = outcomes.pop(0)
        if outcome == "abort":
            raise StudioError("GPU task aborted")
        return SimpleNamespace(reused_weights=outcome)  # the test stops right after the GPU call

    monkeypatch.setattr(runner, "render_on_gpu", gpu)
    monkeypatch.setattr(runner, "prefetch", lambda request: None)
    monkeypatch.setattr(runner, "record_render", lambda raw: (_ for _ in ()).throw(StudioError("stop")))
    library = Library(tmp_path / "lib")
    with pytest.raises(StudioError, match="stop"):
        runner.make_songs(request, owner="local", library=library, tier="pro")
    assert "load" in stages(request)  # that worker had to load: nothing shows it keeps the weights
    with pytest.raises(StudioError, match="stop"):
        runner.make_songs(request, owner="local", library=library, tier="pro")
    with_worker = stages(request)
    assert "load" not in with_worker  # the worker that rendered keeps the weights
    assert "diffusion" in with_worker
    with pytest.raises(StudioError, match="aborted"):
        runner.make_songs(request, owner="local", library=library, tier="pro")
    assert "load" in stages(request)  # the next task runs in a fresh worker
    library.close()


def test_off_zerogpu_the_load_stage_always_counts(monkeypatch) -> None:
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    state = WorkerState()
    state.succeeded("acestep", worker_kept_weights=True)
    monkeypatch.setattr(runner, "WORKER", state)
    assert service.plan_input(service.prepare(SongRequest(style="pop", duration=30))).include_load


def test_simple_mode_prefetches_its_planner_and_declares_what_the_guard_prices(zerogpu, monkeypatch) -> None:
    order: list[str] = []
    monkeypatch.setattr(runner, "gpu_available_here", lambda: True)
    monkeypatch.setattr(runner, "prefetch", lambda request: order.append(f"prefetch {request.options['planner']}"))
    monkeypatch.setattr(runner, "describe_on_gpu", lambda *args: order.append("gpu") or {})
    runner.describe_song("acestep", "a calm song", False, None, None)
    assert order == ["prefetch 1.7B", "gpu"]
    fresh = runner.describe_seconds("acestep", "a calm song", False, None, None)
    WORKER.succeeded("acestep", worker_kept_weights=True)
    warm = runner.describe_seconds("acestep", "a calm song", False, None, None)
    assert 0 < warm < fresh < 60  # the planner pass, plus loading only for a fresh worker
