"""On ZeroGPU the take checks run after the GPU window closes, in the main process (DESIGN: only
model work belongs inside the window; the first librosa call alone JIT-compiles for seconds).

The ``spaces`` stand-in is the one tests/ui/test_gpu_progress.py uses (pickle boundary, duration
callable), extended to say whether a call happens inside the GPU function."""

from __future__ import annotations

import dataclasses
import sys
import types

import pytest

from studio.library import Library
from studio.quality import finish
from studio.quality.store import load_checks
from studio.song import SongRequest
from studio.ui import runner
from tests.ui.test_gpu_progress import PicklingSpaces, zerogpu  # noqa: F401 (the fixture)


class WindowSpaces(PicklingSpaces):
    def __init__(self) -> None:
        super().__init__()
        self.inside = False

    def GPU(self, task=None, *, duration=None, size=None):
        outer = super().GPU(duration=duration, size=size)

        def wrap(fn):
            def in_window(*args, **kwargs):
                self.inside = True
                try:
                    return fn(*args, **kwargs)
                finally:
                    self.inside = False

            return outer(in_window)

        return wrap if task is None else wrap(task)


@pytest.fixture
def window(zerogpu, monkeypatch):  # noqa: F811 (the imported fixture)
    from studio.budget.zerogpu import gpu_task

    fake = WindowSpaces()
    sys.modules["spaces"].GPU = fake.GPU
    def roomy(*args, **kwargs):
        # This test is about where the checks run, not the deadline (tests/budget covers that): on a busy
        # CI machine a tiny CPU render can outrun the ZeroGPU price of one step, so nothing is cut here.
        return dataclasses.replace(runner._reservation(*args, **kwargs), limit_s=600.0)

    monkeypatch.setattr(runner, "render_on_gpu", gpu_task(plan=roomy)(runner.render_on_gpu.__wrapped__))
    calls: list[bool] = []
    real = finish.check_take

    def recording(*args, **kwargs):
        calls.append(fake.inside)
        return real(*args, **kwargs)

    monkeypatch.setattr(finish, "check_take", recording)
    assert isinstance(sys.modules["spaces"], types.ModuleType)
    return fake, calls


def test_takes_are_checked_after_the_gpu_window(window, tmp_path) -> None:
    fake, calls = window
    library = Library(tmp_path / "lib")
    _, songs = runner.make_songs(SongRequest(style="pop", duration=10, takes=2, options={"steps": 1}),
                                 owner="local", library=library, tier="pro")
    assert len(fake.durations) == 1  # one GPU call for the render
    # Measured after the songs became playable, by the background writer (studio.later).
    assert runner.LATER.wait([s.id for s in songs], timeout=120)
    assert calls == [False, False]  # both takes measured, neither inside the window
    assert all(load_checks(s.audio_path) is not None for s in songs)
