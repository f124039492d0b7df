"""Partial results on the tiny HeartMuLa: a song cut by the time budget is kept, faded and explained
when the visitor allowed it; otherwise the deadline's error stands."""

from __future__ import annotations

import numpy as np
import pytest

from backends.base import RenderJob
from backends.heartmula.declaration import HeartMuLaOptions
from backends.heartmula.spec import SPEC
from studio.budget.deadline import Deadline
from studio.budget.estimate import Estimate
from studio.ground.errors import DeadlineExceeded
from studio.ground.progress import ProgressEvent
from studio.ground.vocabulary import DeviceClass

FRAME_RATE = 12.5


@pytest.fixture(scope="module")
def backend(hm_dir):
    return SPEC.load(weights=str(hm_dir / "ckpt"), device="cpu")


class SlowClock:
    """Every generated frame 'takes' 10 ms of a fake clock."""

    def __init__(self) -> None:
        self.now = 0.0
        self.frames = 0

    def __call__(self) -> float:
        return self.now

    def tick(self, event: ProgressEvent) -> None:
        if event.stage == "lm":
            self.now += 0.01
            self.frames = event.done


def slowed(partial_ok: bool) -> tuple[Deadline, SlowClock]:
    # lm estimated at 0.2 s, decode 0.3 s, 0.9 s left: the next frame plus decode stop fitting
    # near frame 60 (about 4.8 s of audio) of the 126 a 10 s song may take.
    est = Estimate(backend="heartmula", device=DeviceClass.CPU, stages={"lm": 0.2, "decode": 0.3},
                   total_s=0.5, margin=1.0)
    clock = SlowClock()
    return Deadline(0.9, est, progress=clock.tick, partial_ok=partial_ok, clock=clock, what="the test's 0.9 s"), clock


def job(prompt_cases, seeds: list[int]) -> RenderJob:
    return RenderJob(style="piano,happy", lyrics=prompt_cases["case1_en"]["inputs"]["lyrics"],
                     instrumental=False, duration_s=10.0, seeds=seeds,
                     options=HeartMuLaOptions(top_k=1, cfg=1.0))


def test_partial_song_is_shorter_faded_and_explained(backend, prompt_cases) -> None:
    full = backend.render(job(prompt_cases, [7]))[0]
    deadline, clock = slowed(partial_ok=True)
    takes = backend.render(job(prompt_cases, [7, 8]), deadline)
    assert len(takes) == 1  # the second take was never started
    (take,) = takes
    frames = take.extras["frames"]
    assert frames == clock.frames < full.extras["frames"]
    assert take.audio.shape[-1] < full.audio.shape[-1]
    # top-k 1: the kept frames are the full run's first frames
    np.testing.assert_array_equal(take.extras["codes"], full.extras["codes"][:, :frames])
    assert np.abs(take.audio[:, -1]).max() < 1e-6  # ends in the fade
    (note,) = take.extras["warnings"]
    assert "Time ran out at lm frame" in note and "short fade" in note and "1 take(s) were not started" in note


def test_without_consent_the_deadline_error_stands(backend, prompt_cases) -> None:
    deadline, clock = slowed(partial_ok=False)
    with pytest.raises(DeadlineExceeded) as info:
        backend.render(job(prompt_cases, [7]), deadline)
    assert not info.value.partial and "Stopped at lm frame" in str(info.value)
    assert clock.now < 0.9
