from __future__ import annotations

import pytest

from backends.plan_input import PlanInput
from studio.budget.preflight import BudgetContext
from studio.budget.reservation import Reservation
from studio.budget.retry import (
    GpuAborted,
    GpuDurationTooLong,
    GpuOutOfMemory,
    GpuQueueTimeout,
    GpuQuotaExceeded,
    parse_wait,
    run_with_retry,
    say_duration,
    translate,
)
from studio.budget.tiers import tier_limits
from studio.ground.errors import StudioError
from studio.ground.vocabulary import DeviceClass
from tests.budget.helpers import make_caps


class FakeGradioError(Exception):
    def __init__(self, message: str, title: str = "Error") -> None:
        super().__init__(message)
        self.message = message
        self.title = title


ABORT = FakeGradioError("GPU task aborted", title="ZeroGPU worker error")


def reservation(duration: float = 60.0, tier: str = "free", steps: int = 8) -> Reservation:
    ctx = BudgetContext(DeviceClass.ZEROGPU, tier_limits(tier, env={}), zerogpu=True)
    return ctx.reserve(make_caps(), PlanInput(duration_s=duration, steps=steps))


def flaky(aborts: int):
    calls: list[Reservation] = []

    def attempt(r: Reservation) -> int:
        calls.append(r)
        if len(calls) <= aborts:
            raise ABORT
        return r.quota_s

    return attempt, calls


def test_one_retry_with_a_larger_duration():
    attempt, calls = flaky(1)
    first = reservation()
    assert run_with_retry(attempt, first) == calls[1].quota_s
    assert len(calls) == 2 and calls[1].declared_s > calls[0].declared_s == first.declared_s
    assert calls[1].quota_s <= 120


def test_only_one_retry():
    attempt, calls = flaky(5)
    with pytest.raises(GpuAborted, match="twice") as info:
        run_with_retry(attempt, reservation())
    assert len(calls) == 2
    assert "shorter" in str(info.value)


def test_no_retry_when_quota_left_cannot_cover_it():
    attempt, calls = flaky(1)
    first = reservation()
    with pytest.raises(GpuAborted, match="s are left today"):
        run_with_retry(attempt, first, quota_left_s=first.quota_s + 5)
    assert len(calls) == 1


def test_no_retry_when_already_at_the_cap():
    attempt, calls = flaky(1)
    at_cap = reservation(200.0, tier="anonymous", steps=64)
    assert at_cap.quota_s == 120
    with pytest.raises(GpuAborted, match="already the most one request may use"):
        run_with_retry(attempt, at_cap)
    assert len(calls) == 1


def test_non_abort_errors_are_translated_not_retried():
    calls = []

    def attempt(r):
        calls.append(r)
        raise FakeGradioError(
            "You have exceeded your free ZeroGPU quota (90s requested vs. 40s left). Try again in 3:12:05. ",
            title="ZeroGPU quota exceeded",
        )

    with pytest.raises(GpuQuotaExceeded) as info:
        run_with_retry(attempt, reservation())
    assert len(calls) == 1
    assert info.value.wait_s == 3 * 3600 + 12 * 60 + 5


def test_unrelated_errors_pass_through_untouched():
    def attempt(r):
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        run_with_retry(attempt, reservation())


def test_quota_exceeded_sentence():
    err = translate(
        FakeGradioError(
            "You have exceeded your free ZeroGPU quota (90s requested vs. 40s left). Try again in 3:12:05. "
            "Subscribe to Hugging Face PRO to get 40 min of ZeroGPU quota a day - https://x",
            title="ZeroGPU quota exceeded",
        )
    )
    assert isinstance(err, GpuQuotaExceeded)
    text = str(err)
    assert "needs 90 s of GPU time and 40 s are left today" in text
    assert "refills in about 3 h 13 min" in text
    assert "Nothing was charged" in text


def test_other_spaces_errors():
    illegal = translate(
        FakeGradioError(
            "The requested GPU duration (400s) is larger than the maximum allowed",
            title="ZeroGPU illegal duration",
        )
    )
    assert isinstance(illegal, GpuDurationTooLong) and "(400 s)" in str(illegal)
    queue = translate(
        FakeGradioError(
            'No GPU was available after 60s. <a href="https://huggingface.co/join">Create a free account</a> '
            "to get a higher priority in ZeroGPU queues.",
            title="ZeroGPU queue timeout",
        )
    )
    assert isinstance(queue, GpuQueueTimeout) and "<a" not in str(queue) and queue.wait_s == 60
    runs = translate(
        FakeGradioError("You have exceeded your ZeroGPU runs limit. ", title="ZeroGPU quota exceeded")
    )
    assert isinstance(runs, GpuQuotaExceeded)
    space = translate(
        FakeGradioError("Space app has reached its GPU limit. Try re-running", "ZeroGPU quota exceeded")
    )
    assert isinstance(space, GpuQuotaExceeded) and "log in" in str(space)
    assert isinstance(translate(ABORT), GpuAborted)
    assert isinstance(translate(FakeGradioError("OutOfMemoryError", "ZeroGPU worker error")), GpuOutOfMemory)
    assert translate(ValueError("not a GPU thing")) is None
    mine = StudioError("already plain")
    assert translate(mine) is mine


def test_real_spaces_error_objects_translate():
    """The error object spaces builds (gradio.Error with title), not a look-alike."""
    pytest.importorskip("gradio")
    from spaces.zero.gradio import error

    exc = error(
        "ZeroGPU quota exceeded",
        "You have exceeded your Pro ZeroGPU quota (200s requested vs. 10s left). "
        "Try again in 1 day, 0:00:30. ",
    )
    err = translate(exc)
    assert isinstance(err, GpuQuotaExceeded) and err.wait_s == 86400 + 30
    assert isinstance(translate(error("ZeroGPU worker error", "GPU task aborted")), GpuAborted)


def test_wait_parsing_and_wording():
    assert parse_wait("Try again in 0:05:00.") == 300
    assert parse_wait("Try again in 0:00:07.500000.") == 7.5
    assert parse_wait("no wait here") is None
    assert say_duration(40) == "40 s"
    assert say_duration(300) == "5 min"
    assert say_duration(7200) == "2 h"
