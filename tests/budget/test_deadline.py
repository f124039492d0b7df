from __future__ import annotations

import itertools
import pickle
import time

import numpy as np
import pytest

from backends.plan_input import PlanInput
from studio.audio.cut_short import fade_out
from studio.budget.deadline import Deadline, eta_of, eta_text
from studio.budget.estimate import Estimate, estimate
from studio.budget.preflight import BudgetContext
from studio.budget.tiers import tier_limits
from studio.ground.errors import Cancelled, DeadlineExceeded
from studio.ground.progress import ProgressEvent, ProgressFn
from studio.ground.vocabulary import DeviceClass
from tests.budget.helpers import AUTOREGRESSIVE, make_caps


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def diffusion_loop(
    clock: FakeClock, progress: ProgressFn, step_s: float, steps: int = 8, decode_s: float = 1.0
):
    """A fake diffusion backend: ``steps`` steps of ``step_s`` seconds, then a decode."""
    for i in range(1, steps + 1):
        clock.now += step_s
        progress(ProgressEvent("diffusion", i, steps))
    progress(ProgressEvent("decode", 0, 1))
    clock.now += decode_s
    progress(ProgressEvent("decode", 1, 1))
    return "song"


def ar_loop(clock: FakeClock, progress: ProgressFn, frame_s: float, frames: int) -> tuple[int, bool]:
    """A fake autoregressive backend that honours ``partial`` by keeping what it has."""
    made = 0
    try:
        for i in range(1, frames + 1):
            clock.now += frame_s
            made = i
            progress(ProgressEvent("lm", i, frames))
    except DeadlineExceeded as exc:
        if not exc.partial:
            raise
        return made, True
    return made, False


EST = Estimate(
    backend="diffy",
    device=DeviceClass.ZEROGPU,
    stages={"load": 2.0, "diffusion": 8.0, "decode": 1.0},
    total_s=11.0,
    margin=1.2,
)


def test_on_pace_run_finishes():
    clock = FakeClock()
    deadline = Deadline(14.0, EST, clock=clock)
    assert diffusion_loop(clock, deadline, step_s=1.0) == "song"


def test_slowed_run_stops_mid_way_with_a_clear_error():
    clock = FakeClock()
    seen: list[ProgressEvent] = []
    deadline = Deadline(14.0, EST, progress=seen.append, clock=clock)
    with pytest.raises(DeadlineExceeded) as info:
        diffusion_loop(clock, deadline, step_s=3.0)  # 3x slower than estimated
    err = info.value
    assert isinstance(err, Cancelled)
    assert err.stage == "diffusion" and 1 <= err.done < 8
    assert not err.partial
    assert "Stopped at diffusion step" in str(err) and "of 8" in str(err)
    assert "shorter song" in str(err)
    # stopped well before the reservation ran out, not at it
    assert clock.now - 100.0 < 14.0
    assert seen[-1].done == err.done  # the caller's progress saw every event first


def test_users_own_cancel_comes_first():
    def cancel(event: ProgressEvent) -> None:
        raise Cancelled("stopped by you")

    deadline = Deadline(1.0, EST, progress=cancel, clock=FakeClock())
    with pytest.raises(Cancelled, match="stopped by you"):
        deadline(ProgressEvent("diffusion", 1, 8))


def test_no_limit_never_stops_and_keeps_an_eta():
    clock = FakeClock()
    deadline = Deadline(None, EST, clock=clock)
    assert diffusion_loop(clock, deadline, step_s=50.0) == "song"
    clock2 = FakeClock()
    d2 = Deadline(None, EST, clock=clock2)
    clock2.now += 2.0
    d2(ProgressEvent("diffusion", 1, 8))
    clock2.now += 2.0
    d2(ProgressEvent("diffusion", 2, 8))
    assert d2.eta_s == pytest.approx(6 * 2.0 + 1.0)  # measured pace x steps left + decode


def test_autoregressive_partial_when_allowed():
    est = Estimate(
        backend="ar", device=DeviceClass.ZEROGPU, stages={"lm": 10.0, "decode": 1.0}, total_s=11.0, margin=1.2
    )
    clock = FakeClock()
    deadline = Deadline(12.0, est, partial_ok=True, clock=clock)
    made, partial = ar_loop(clock, deadline, frame_s=0.02, frames=1000)  # 2x slower than estimated
    assert partial and 400 < made < 1000
    assert clock.now - 100.0 <= 12.0  # the next frame plus decode still fit when it stopped
    # without permission the same run fails early instead
    clock = FakeClock()
    with pytest.raises(DeadlineExceeded) as info:
        ar_loop(clock, Deadline(12.0, est, clock=clock), frame_s=0.02, frames=1000)
    assert not info.value.partial and info.value.done < 100


def test_reservation_deadline_counts_zerogpu_loading_as_spent():
    caps = make_caps("ar", AUTOREGRESSIVE)
    ctx = BudgetContext(DeviceClass.ZEROGPU, tier_limits("free", env={}), zerogpu=True)
    res = ctx.reserve(caps, PlanInput(duration_s=20))
    deadline = res.deadline(clock=FakeClock())
    assert deadline.limit_s == res.quota_s
    assert deadline.elapsed_s == pytest.approx(res.estimate.stages["load"])
    assert "ZeroGPU time reserved" in deadline.what
    local = BudgetContext(DeviceClass.CPU, tier_limits("local", env={})).reserve(
        caps, PlanInput(duration_s=20)
    )
    assert local.deadline().limit_s is None


def test_deadline_exceeded_survives_pickle():
    err = DeadlineExceeded(
        "msg", stage="lm", done=3, total=9, elapsed_s=1.0, limit_s=2.0, needed_s=3.0, partial=True
    )
    back = pickle.loads(pickle.dumps(err))
    assert str(back) == "msg" and back.partial and back.done == 3 and back.stage == "lm"


def test_fade_out_shapes_the_tail_only():
    audio = np.ones((2, 48000), dtype=np.float32)
    faded = fade_out(audio, 48000, seconds=0.5)
    assert faded.shape == audio.shape and audio[0, -1] == 1.0  # input untouched
    assert np.all(faded[:, :24000] == 1.0)
    assert faded[0, -1] == pytest.approx(0.0, abs=1e-6)
    assert np.all(np.diff(faded[0, 24000:]) <= 1e-7)


def test_real_clock_slowed_loop_stops_mid_way():
    """Same as above with real sleeps: a loop planned at 20 ms per step that runs at 60 ms."""
    caps = make_caps()
    est = estimate(caps, PlanInput(duration_s=10, steps=10, include_load=False), DeviceClass.CPU)
    scale = 0.2 / est.total_s  # plan for ~0.2 s in all
    est = est.model_copy(update={"stages": {k: v * scale for k, v in est.stages.items()}, "total_s": 0.2})
    deadline = Deadline(0.35, est)
    done = 0
    with pytest.raises(DeadlineExceeded) as info:
        for i in range(1, 11):
            time.sleep(0.06)
            done = i
            deadline(ProgressEvent("diffusion", i, 10))
    assert info.value.done == done < 10


def test_backend_stage_names_are_understood():
    """ACE-Step's backend reports "rendering"/"decoding"; the cost model says diffusion/decode."""
    clock = FakeClock()
    deadline = Deadline(14.0, EST, clock=clock)
    with pytest.raises(DeadlineExceeded) as info:
        for i in range(1, 9):
            clock.now += 3.0
            deadline(ProgressEvent("rendering", i, 8))
    assert "rendering step" in str(info.value)
    assert deadline._later_s("rendering") == pytest.approx(1.0 * 1.2)  # decode, with margin


def test_progress_callback_receives_a_live_eta():
    clock = FakeClock()
    seen: list[ProgressEvent] = []
    deadline = Deadline(None, EST, progress=seen.append, clock=clock)
    deadline(ProgressEvent("loading", 0, 1))
    assert eta_of(seen[0]) == pytest.approx(2.0 + 8.0 + 1.0)  # loading: the whole estimate is ahead
    diffusion_loop(clock, deadline, step_s=2.0)  # twice as slow as estimated
    etas = [eta_of(e) for e in seen if e.stage == "diffusion"]
    assert etas[1] == pytest.approx(6 * 2.0 + 1.0)  # measured pace x steps left + decode
    assert all(a >= b for a, b in itertools.pairwise(etas))  # only goes down
    assert isinstance(seen[-1], ProgressEvent) and seen[-1].stage == "decode"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, ""),
        (0.4, "almost done"),
        (7.2, "about 7 s left"),
        (43.0, "about 45 s left"),
        (60.0, "about 1 min left"),
        (131.0, "about 2 min 10 s left"),
    ],
)
def test_eta_text(seconds, text):
    assert eta_text(seconds) == text


def test_a_second_take_is_timed_afresh():
    """The lm stage counting up again (next take) must not look like a stalled stage."""
    est = Estimate(
        backend="ar", device=DeviceClass.ZEROGPU, stages={"lm": 4.0, "decode": 1.0}, total_s=5.0, margin=1.2
    )
    clock = FakeClock()
    deadline = Deadline(30.0, est, clock=clock)
    for _take in range(2):
        made, partial = ar_loop(clock, deadline, frame_s=0.01, frames=200)
        assert (made, partial) == (200, False)


def test_after_a_partial_stop_decoding_is_left_alone():
    est = Estimate(
        backend="ar", device=DeviceClass.ZEROGPU, stages={"lm": 10.0, "decode": 1.0}, total_s=11.0, margin=1.2
    )
    clock = FakeClock()
    deadline = Deadline(12.0, est, partial_ok=True, clock=clock)
    _, partial = ar_loop(clock, deadline, frame_s=0.02, frames=1000)
    assert partial and deadline.stopped_partial
    clock.now += 5.0  # a slow decode of the shorter song: no second stop
    deadline(ProgressEvent("decode", 0, 1))
    deadline(ProgressEvent("decode", 1, 1))
