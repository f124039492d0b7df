"""The guard's estimate counts the load stage only when the ZeroGPU worker will have to load.

``spaces`` keeps its GPU worker between successful tasks and forks a fresh one after a failed or
aborted task (huggingface/spaces, spaces/zero/wrappers.py), which loads every backend again.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from studio.ground.errors import StudioError
from studio.library import Library
from studio.request import checks, pricing
from studio.request import prepare as road
from studio.song import SongRequest
from studio.ui import runner
from studio.worker_state import WORKER, WorkerState


@pytest.fixture
def zerogpu(monkeypatch):
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    monkeypatch.setenv("STUDIO_ZEROGPU_SLICE_FACTOR", "1")
    monkeypatch.setattr(WORKER, "_loaded", set())


def stages(request: SongRequest) -> dict[str, float]:
    return road.plan(request, tier="pro").reservation.estimate.stages


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
    assert pricing.plan_input(checks.check_request(SongRequest(style="pop", duration=30))).include_load


def test_simple_mode_prefetches_only_its_planner_and_declares_what_the_guard_prices(zerogpu, monkeypatch) -> None:
    from backends.acestep import fetching
    from studio import sketching

    order: list[str] = []
    monkeypatch.setattr(runner, "gpu_available_here", lambda: True)
    monkeypatch.setattr(runner, "prefetch", lambda request: order.append("prefetch the pipeline"))
    monkeypatch.setattr(fetching, "fetch_pipeline", lambda *a, **k: order.append("fetch the pipeline"))
    monkeypatch.setattr(fetching, "fetch_planner", lambda size: order.append(f"fetch the {size} planner"))
    monkeypatch.delenv("STUDIO_ACESTEP_PLANNER_WEIGHTS", raising=False)
    declared: list[int] = []
    real_plan = sketching.sketch_reservation

    def plan(*args, **kwargs):
        budget = real_plan(*args, **kwargs)
        declared.append(budget.declared_s)
        return budget

    monkeypatch.setattr(sketching, "sketch_reservation", plan)  # what the GPU function's duration reads
    monkeypatch.setattr(runner.STUDIO, "describe", lambda *a, **k: order.append("sketch on the GPU") or {})
    runner.describe_song("acestep", "a calm song", False, None, None, tier="pro")
    assert order == ["fetch the 1.7B planner", "sketch on the GPU"]  # never the ~11 GB pipeline

    monkeypatch.setattr(sketching, "sketch_reservation", real_plan)
    fresh = sketching.sketch_reservation("acestep", "pro")
    # Only the planner's own load and one planner pass: no DiT load, no diffusion, no decode.
    assert set(fresh.estimate.stages) == {"load:planner-1.7B", "plan:1.7B"}
    WORKER.succeeded(sketching.worker_key("acestep"), worker_kept_weights=True)
    warm = sketching.sketch_reservation("acestep", "pro")
    assert set(warm.estimate.stages) == {"plan:1.7B"}
    assert 0 < warm.declared_s < fresh.declared_s < 60  # the guard's price, not spaces' 60-s default
    assert declared == [fresh.declared_s]


def test_a_worker_that_rendered_still_loads_the_planner_for_a_sketch(zerogpu) -> None:
    from studio import sketching

    WORKER.succeeded("acestep", worker_kept_weights=True)  # it holds the DiT pipeline, not the planner
    assert "load:planner-1.7B" in sketching.sketch_reservation("acestep", "pro").estimate.stages
    WORKER.failed()
    WORKER.succeeded(sketching.worker_key("acestep"), worker_kept_weights=True)
    assert "load" in stages(SongRequest(style="pop", duration=30))  # and the reverse


def test_a_sketchs_stage_times_are_recorded_by_the_parent(zerogpu, monkeypatch) -> None:
    """The worker measures, the main process files the figures (a fork's own records would be lost), so the
    guard prices the next sketch from this machine's planner load and pass."""
    import time

    from studio import devices, sketching
    from studio.ground.progress import ProgressEvent

    def sketch(*_args, progress, **_kwargs):
        for stage, pause in (("loading", 0.02), ("plan", 0.03)):
            progress(ProgressEvent(stage, 0, 1))
            time.sleep(pause)
            progress(ProgressEvent(stage, 1, 1))
        return {"caption": "calm"}

    monkeypatch.setattr(runner, "gpu_available_here", lambda: False)
    monkeypatch.setattr(runner.STUDIO, "describe", sketch)
    assert runner.describe_song("acestep", "a calm song", False, None, None, tier="pro") == {"caption": "calm"}
    device = devices.detect().name
    store = pricing.calibration()
    assert [s.seconds >= 0.02 for s in store.samples(device, "acestep", "load:planner-1.7B")] == [True]
    assert len(store.samples(device, "acestep", "plan:1.7B")) == 1
    assert sketching.worker_key("acestep") not in WORKER._loaded  # it had to load: nothing shows it keeps it
