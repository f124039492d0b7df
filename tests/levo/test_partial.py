"""Partial results: when the time budget runs out mid-song and the visitor allowed it, LeVo 2 returns
the frames it made, decoded and faded out, with a warning; otherwise the deadline's error stands."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from backends.base import RenderJob
from studio.budget.deadline import Deadline
from studio.budget.estimate import Estimate
from studio.ground.errors import DeadlineExceeded
from studio.ground.progress import ProgressEvent
from studio.ground.vocabulary import DeviceClass

FRAME_RATE = 25
DELAY = 250  # the fixture's codebook delays are (0, 250, 250): streams 1-2 lag 250 steps


@pytest.fixture(scope="module")
def levo_backend(levo_fx: Path, levo_runtime: Path):
    from backends.levo.spec import SPEC

    return SPEC.load(str(levo_fx / "lelm_tiny"), runtime=str(levo_runtime), device="cpu")


class SlowClock:
    """Every LM step 'takes' 10 ms of a fake clock, so the deadline trips at a known step."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def tick(self, event: ProgressEvent) -> None:
        if event.stage == "lm":
            self.now += 0.01


def slowed_deadline(partial_ok: bool) -> tuple[Deadline, SlowClock]:
    # lm estimated at 1 s, decode 0.5 s; 3.5 s left: at 10 ms per step the next step plus decode
    # stop fitting near step 300, i.e. ~50 whole frames (2 s) past the 250-step delay.
    est = Estimate(backend="levo2", device=DeviceClass.CPU, stages={"lm": 1.0, "decode": 0.5}, total_s=1.5,
                   margin=1.0)
    clock = SlowClock()
    return Deadline(3.5, est, progress=clock.tick, partial_ok=partial_ok, clock=clock, what="the test's 3.5 s"), clock


def job(duration_s: float, seeds: list[int]) -> RenderJob:
    from backends.levo.declaration import LevoOptions

    return RenderJob(style="pop", lyrics="[verse] hello there. ; [chorus] sing along", instrumental=False,
                     duration_s=duration_s, seeds=seeds, options=LevoOptions(top_k=5))


def test_partial_take_is_shorter_faded_and_explained(levo_backend) -> None:
    deadline, _ = slowed_deadline(partial_ok=True)
    takes = levo_backend.render(job(16.0, [3, 4]), deadline)
    assert len(takes) == 1  # no time was left for the second take
    (take,) = takes
    seconds = take.audio.shape[-1] / take.sample_rate
    frames = take.extras["codes"].shape[-1]
    assert 0 < frames < 16 * FRAME_RATE and seconds < 16.0
    assert abs(seconds - frames / FRAME_RATE) < 0.1
    body = np.sqrt(np.mean(take.audio[:, : take.sample_rate // 2] ** 2))
    assert body > 0
    assert np.all(np.abs(take.audio[:, -8:]) <= 0.02 * max(1.0, float(np.abs(take.audio).max())))  # faded
    (note,) = take.extras["warnings"]
    assert "Time ran out at lm frame" in note and "short fade" in note and "instead of up to 16 s" in note
    assert "1 take(s) were not started" in note


def test_without_consent_the_deadline_error_stands(levo_backend) -> None:
    deadline, clock = slowed_deadline(partial_ok=False)
    with pytest.raises(DeadlineExceeded) as info:
        levo_backend.render(job(16.0, [3]), deadline)
    assert not info.value.partial and "Stopped at lm" in str(info.value)
    assert clock.now < 3.5  # stopped early, not at the limit


def test_partial_through_the_studio_writes_a_short_song_with_a_warning(
    levo_fx, levo_runtime, tmp_path, monkeypatch
) -> None:
    """The request's opt-in reaches the deadline, the file is the cut take, the warning is reported."""
    from studio import rendering
    from studio.budget.reservation import Reservation, reserve
    from studio.budget.tiers import tier_limits
    from studio.song import SongRequest

    # Real time would make this depend on the machine's load: the deadline gets a clock that only
    # moves when the test's progress callback says the LM slowed down.
    clock = SlowClock()
    original = Reservation.deadline
    monkeypatch.setattr(Reservation, "deadline", lambda self, progress, **kw: original(self, progress, **kw,
                                                                                        clock=clock))
    studio = rendering.Studio()
    weights, load = str(levo_fx / "lelm_tiny"), {"runtime": str(levo_runtime)}
    studio.cache.get("levo2", weights, **load)  # loaded before the clock starts
    est = Estimate(backend="levo2", device=DeviceClass.CPU, stages={"lm": 0.2, "decode": 0.3}, total_s=0.5,
                   margin=1.0)
    budget = reserve(est, tier_limits("local", env={"STUDIO_TIME_LIMIT": "3"}))
    request = SongRequest(backend="levo2", style="pop", lyrics="[verse]\nhello there\n[chorus]\nsing along",
                          duration=20, seed=5, partial=True, options={"top_k": 5})

    def slow(event: ProgressEvent) -> None:
        if event.stage == "lm" and event.done > DELAY:
            clock.now += 0.02  # after the delay the LM 'slows down' past the 3 s limit

    result = studio.generate(request, out=tmp_path, weights=weights, load_options=load, progress=slow,
                             budget=budget)
    (take,) = result.takes
    assert 0 < take.duration < 20
    assert any("Time ran out" in w and "short fade" in w for w in result.warnings)
    with pytest.raises(DeadlineExceeded, match="Stopped at lm"):
        studio.generate(request.model_copy(update={"partial": False}), out=tmp_path / "b", weights=weights,
                        load_options=load, progress=slow, budget=budget)


def test_a_stop_before_the_first_whole_frame_says_there_is_nothing_to_keep(levo_backend) -> None:
    est = Estimate(backend="levo2", device=DeviceClass.CPU, stages={"lm": 1.0, "decode": 0.5}, total_s=1.5,
                   margin=1.0)
    clock = SlowClock()
    deadline = Deadline(2.0, est, progress=clock.tick, partial_ok=True, clock=clock, what="the test's 2 s")
    with pytest.raises(DeadlineExceeded, match="nothing to keep") as info:
        levo_backend.render(job(16.0, [3]), deadline)  # trips near step 150, inside the 250-step delay
    assert not info.value.partial and "10 s behind" in str(info.value)
