"""On ZeroGPU the render runs in a forked worker: the visitor's tier decides the declared duration,
and named stages (with the ETA) reach the page through gr.Progress from inside the worker.

``spaces.GPU`` is replaced by a stand-in that, like spaces, calls the duration callable with the
function's own arguments and sends the arguments across a pickle boundary before running it."""

from __future__ import annotations

import pickle
import sys
import types
from types import SimpleNamespace

import gradio as gr
import pytest
from gradio.context import LocalContext

from studio.budget.deadline import EtaEvent
from studio.budget.zerogpu import gpu_task
from studio.ground.errors import StudioError
from studio.ground.progress import ProgressEvent
from studio.library import Library
from studio.song import SongRequest
from studio.ui import runner


class PicklingSpaces:
    def __init__(self) -> None:
        self.durations: list[int] = []

    def GPU(self, task=None, *, duration=None, size=None):
        def wrap(fn):
            def handler(*args, **kwargs):
                self.durations.append(duration(*args, **kwargs))
                args, kwargs = pickle.loads(pickle.dumps((args, kwargs)))  # what the fork boundary allows
                return fn(*args, **kwargs)

            return handler

        return wrap if task is None else wrap(task)


class FakeQueue:
    """Where spaces relays the worker's gr.Progress updates (Queue.set_progress)."""

    def __init__(self) -> None:
        self.labels: list[str] = []

    def set_progress(self, event_id: str, iterables) -> None:
        self.labels.append(iterables[-1].desc)


@pytest.fixture
def zerogpu(monkeypatch, tiny_acestep_dir):
    fake = PicklingSpaces()
    module = types.ModuleType("spaces")
    module.GPU = fake.GPU
    monkeypatch.setitem(sys.modules, "spaces", module)
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    monkeypatch.setenv("STUDIO_ZEROGPU_SLICE_FACTOR", "1")
    monkeypatch.setenv("STUDIO_ACESTEP_WEIGHTS", str(tiny_acestep_dir))
    monkeypatch.setenv("STUDIO_DEVICE", "cpu")
    monkeypatch.delenv("STUDIO_TIER", raising=False)
    # What app import does on a Space: the render wrapped by spaces.GPU with the budget's duration.
    monkeypatch.setattr(runner, "render_on_gpu", gpu_task(plan=runner._reservation)(runner.render_on_gpu.__wrapped__))
    monkeypatch.setattr(runner, "gpu_available_here", lambda: True)
    queue = FakeQueue()
    blocks_token = LocalContext.blocks.set(SimpleNamespace(_queue=queue))
    event_token = LocalContext.event_id.set("event-1")
    yield fake, queue
    LocalContext.blocks.reset(blocks_token)
    LocalContext.event_id.reset(event_token)
    runner.STUDIO.cache.unload_all()


def test_stage_progress_survives_pickling_and_reports_to_the_queue(zerogpu) -> None:
    _, queue = zerogpu
    shown = pickle.loads(pickle.dumps(runner.StageProgress(gr.Progress())))
    shown(EtaEvent("rendering", 3, 8, eta_s=43.0))
    assert queue.labels == ["Rendering 3/8 · about 45 s left"]


def test_named_stages_reach_the_page_from_the_gpu_worker(zerogpu, tmp_path) -> None:
    fake, queue = zerogpu
    library = Library(tmp_path / "lib")
    request = SongRequest(style="pop", duration=10, options={"steps": 4})
    _, songs = runner.make_songs(request, owner="local", library=library, progress=runner.StageProgress(gr.Progress()),
                                 tier="pro")
    assert len(songs) == 1 and len(fake.durations) == 1
    stages = [label.split(" ")[0] for label in queue.labels]
    for name in ("Loading", "Rendering", "Mastering", "Saving"):
        assert name in stages
    assert any("Rendering 4/4" in label for label in queue.labels)
    # the ETA rides along (the tiny model is quick, so it reads "almost done" or a few seconds)
    assert all((" left" in label or "almost done" in label) for label in queue.labels if label.startswith("Render"))


def test_the_visitors_tier_decides_the_declared_duration(zerogpu, monkeypatch, tmp_path) -> None:
    fake, _ = zerogpu
    monkeypatch.setenv("STUDIO_ZEROGPU_CAP_ANONYMOUS", "5")  # too little for this song
    library = Library(tmp_path / "lib")
    request = SongRequest(style="pop", duration=10, options={"steps": 4})
    with pytest.raises(StudioError, match="nothing was charged"):
        runner.make_songs(request, owner="local", library=library, tier="anonymous")
    assert fake.durations == []  # refused before anything was scheduled
    seen: list[ProgressEvent] = []
    runner.make_songs(request, owner="local", library=library, tier="pro", progress=seen.append)
    pro = runner._reservation(runner.prepare(request, "pro"))
    assert fake.durations == [pro.declared_s] and pro.cap_s == 300
    # a plain callback cannot cross into the worker: only the downloads before it and the finishing
    # after it (mastering and saving run in this process once the GPU is released; the take checks
    # follow in the background writer once the song plays, studio.later)
    assert {e.stage for e in seen} == {"loading", "mastering", "saving"}
    assert [e.message for e in seen if e.stage == "loading"] == ["fetching weights before the GPU starts"]
