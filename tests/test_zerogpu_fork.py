"""On ZeroGPU the render runs in a forked worker: what it measures must reach the main process.

The worker is a fork (tests/forking_spaces.py lists the facts and their source): a calibration it
records lives in its own memory and dies with it, and a file it writes is overwritten by the next
fresh worker from its stale copy. The GPU function returns the stage timings; the main process
records them.
"""

from __future__ import annotations

from studio import devices
from studio.budget.calibration import FILE_NAME, Calibration
from studio.budget.zerogpu import gpu_task
from studio.library import Library
from studio.request import prepare as road
from studio.request import pricing
from studio.song import SongRequest
from studio.ui import runner
from tests.forking_spaces import install


def test_three_songs_in_forked_workers_give_the_parent_three_samples(monkeypatch, tmp_path, tiny_acestep_dir):
    fake = install(monkeypatch)
    state = tmp_path / "state"
    monkeypatch.setenv("STUDIO_STATE_DIR", str(state))
    monkeypatch.setenv("STUDIO_ACESTEP_WEIGHTS", str(tiny_acestep_dir))
    monkeypatch.setenv("STUDIO_DEVICE", "cpu")  # the worker renders on this machine's CPU
    monkeypatch.delenv("STUDIO_TIER", raising=False)
    # What importing the app does on a Space: the render wrapped by spaces.GPU.
    monkeypatch.setattr(runner, "render_on_gpu", gpu_task(plan=runner._reservation)(runner.render_on_gpu.__wrapped__))
    monkeypatch.setattr(runner, "gpu_available_here", lambda: True)
    monkeypatch.setattr(runner, "prefetch", lambda request: None)  # local tiny weights: nothing to fetch
    library = Library(tmp_path / "lib")
    request = SongRequest(style="pop", duration=10, options={"steps": 2})
    try:
        for _ in range(3):
            _, songs = runner.make_songs(request, owner="local", library=library, tier="pro")
            assert len(songs) == 1
    finally:
        library.close()
        runner.STUDIO.cache.unload_all()
    assert fake.forks == 3
    assert runner.STUDIO.cache.loaded() == {}  # every render happened in a worker, none here

    name = devices.detect().name
    store = pricing.calibration()
    stages = [s for s in ("load", "diffusion", "decode") if store.samples(name, "acestep", s)]
    assert {"load", "diffusion", "decode"} <= set(stages)
    for stage in stages:
        assert len(store.samples(name, "acestep", stage)) == 3, stage
    # The planner in this process prices the next song from those three samples...
    decision = road.plan(request, tier="local")
    assert "diffusion" in decision.reservation.estimate.calibrated
    # ...and a restart reads the same three from the file.
    reread = Calibration(state / FILE_NAME)
    assert len(reread.samples(name, "acestep", "diffusion")) == 3
