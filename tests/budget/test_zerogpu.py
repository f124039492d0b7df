from __future__ import annotations

import sys
import types

import pytest

from backends.plan_input import PlanInput
from studio.budget import zerogpu
from studio.budget.preflight import BudgetContext
from studio.budget.reservation import Reservation
from studio.budget.tiers import tier_limits
from studio.budget.zerogpu import gpu_task, on_zerogpu, slice_factor
from studio.ground.errors import DeadlineExceeded, StudioError
from studio.ground.vocabulary import DeviceClass
from tests.budget.helpers import make_caps

CAPS = make_caps()


def plan_for(name: str, duration: float, steps: int = 8, *, tier: str = "free") -> Reservation:
    ctx = BudgetContext(DeviceClass.ZEROGPU, tier_limits(tier, env={}), zerogpu=True)
    return ctx.reserve(CAPS, PlanInput(duration_s=duration, steps=steps))


class RecordingSpaces:
    """Stands in for the ``spaces`` package: records what GPU() was given and every duration
    call, and runs the task in-process the way spaces does after scheduling."""

    def __init__(self) -> None:
        self.gpu_calls: list[dict] = []
        self.durations: list[tuple[tuple, dict, int]] = []
        self.task_calls: list[tuple[tuple, dict]] = []
        self.abort_next = 0

    def GPU(self, task=None, *, duration=None, size=None):
        def wrap(fn):
            self.gpu_calls.append({"duration": duration, "size": size, "fn": fn})

            def handler(*args, **kwargs):
                seconds = duration(*args, **kwargs) if callable(duration) else duration
                self.durations.append((args, kwargs, seconds))
                if self.abort_next:
                    self.abort_next -= 1
                    raise FakeGradioError("GPU task aborted", title="ZeroGPU worker error")
                self.task_calls.append((args, kwargs))
                return fn(*args, **kwargs)

            return handler

        return wrap if task is None else wrap(task)


class FakeGradioError(Exception):
    """Shaped like gradio.Error: ``message`` and ``title`` attributes."""

    def __init__(self, message: str, title: str = "Error") -> None:
        super().__init__(message)
        self.message = message
        self.title = title


@pytest.fixture
def fake_spaces(monkeypatch):
    fake = RecordingSpaces()
    module = types.ModuleType("spaces")
    module.GPU = fake.GPU
    monkeypatch.setitem(sys.modules, "spaces", module)
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    monkeypatch.delenv("STUDIO_ZEROGPU_SLICE_FACTOR", raising=False)
    return fake


def test_duration_callable_receives_the_functions_own_arguments(fake_spaces):
    seen = []

    @gpu_task(plan=lambda name, duration, steps=8: plan_for(name, duration, steps))
    def render(name: str, duration: float, steps: int = 8, *, budget: Reservation) -> str:
        seen.append((name, duration, steps, budget))
        return f"{name}:{duration}:{steps}"

    assert render("diffy", 60.0, steps=4) == "diffy:60.0:4"
    (gpu,) = fake_spaces.gpu_calls
    assert gpu["duration"] is zerogpu.reservation_duration
    (args, kwargs, seconds) = fake_spaces.durations[0]
    assert args == ("diffy", 60.0)
    assert kwargs["steps"] == 4
    # exactly what the function itself received
    assert fake_spaces.task_calls == [(args, kwargs)]
    budget = seen[0][3]
    assert kwargs["budget"] is budget
    expected = plan_for("diffy", 60.0, 4)
    assert seconds == expected.declared_s == budget.declared_s == budget.estimate.reserve_s


def test_duration_is_clamped_to_tier_cap(fake_spaces):
    @gpu_task(plan=lambda duration, steps: plan_for("diffy", duration, steps, tier="anonymous"))
    def render(duration: float, steps: int, *, budget: Reservation) -> int:
        return budget.declared_s

    assert render(240.0, 200) == 120
    assert fake_spaces.durations[-1][2] == 120


def test_explicit_budget_skips_planning(fake_spaces):
    def no_plan(*_a, **_k):
        raise AssertionError("plan must not run when a budget is given")

    @gpu_task(plan=no_plan)
    def render(x: int, *, budget: Reservation) -> int:
        return x

    budget = plan_for("diffy", 30.0)
    assert render(5, budget=budget) == 5
    assert fake_spaces.durations[-1][2] == budget.declared_s


def test_retry_once_after_abort_with_larger_duration(fake_spaces):
    fake_spaces.abort_next = 1
    notes = []

    @gpu_task(plan=lambda d: plan_for("diffy", d), notify=notes.append)
    def render(d: float, *, budget: Reservation) -> int:
        return budget.declared_s

    first = plan_for("diffy", 60.0).declared_s
    second = render(60.0)
    assert [s for _, _, s in fake_spaces.durations] == [first, second]
    assert second > first
    assert notes and "trying once more" in notes[0]


def test_studio_errors_cross_the_boundary_with_their_message(fake_spaces):
    @gpu_task(plan=lambda: plan_for("diffy", 30.0))
    def render(*, budget: Reservation) -> None:
        raise DeadlineExceeded("Stopped at diffusion step 3 of 8", stage="diffusion", done=3, total=8)

    with pytest.raises(DeadlineExceeded, match="step 3 of 8") as info:
        render()
    assert info.value.done == 3


def test_off_zerogpu_spaces_is_never_imported(monkeypatch):
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    monkeypatch.setitem(sys.modules, "spaces", None)  # any import of it would fail

    @gpu_task(plan=lambda: plan_for("diffy", 30.0, tier="local"))
    def render(*, budget: Reservation) -> str:
        return "ran"

    assert not on_zerogpu()
    assert render() == "ran"
    assert render.gpu_fn.__wrapped__.__name__ == "render"


def test_generators_are_refused():
    with pytest.raises(TypeError, match="plain functions"):

        @gpu_task(plan=lambda: plan_for("diffy", 30.0))
        def stream(*, budget: Reservation):
            yield 1


def test_slice_factor_follows_spaces_config(monkeypatch):
    import spaces.zero as spaces_zero
    import spaces.zero.config as spaces_config

    monkeypatch.delenv("STUDIO_ZEROGPU_SLICE_FACTOR", raising=False)
    assert slice_factor(env={}) == 1.0  # off ZeroGPU nothing is multiplied
    blackwell = {"model": "NVIDIA RTX PRO 6000 Blackwell Server Edition", "duration_factor": 1.5}
    monkeypatch.setattr(spaces_config, "get_config", lambda: blackwell)
    monkeypatch.setattr(spaces_zero, "default_gpu_size", lambda: None)
    zero = {"SPACES_ZERO_GPU": "true"}
    assert slice_factor(env=zero) == 1.5
    assert slice_factor("xlarge", env=zero) == 1.0
    monkeypatch.setattr(spaces_zero, "default_gpu_size", lambda: "xlarge")
    assert slice_factor(env=zero) == 1.0
    assert slice_factor(env={"STUDIO_ZEROGPU_SLICE_FACTOR": "1.5"}) == 1.5
    with pytest.raises(StudioError, match="SLICE_FACTOR"):
        slice_factor(env={"STUDIO_ZEROGPU_SLICE_FACTOR": "fast"})


def test_real_spaces_config_reports_the_published_factors():
    """The facts the guard is built on, read from the installed spaces package itself."""
    import json
    from importlib.resources import files

    configs = json.loads(files("spaces.zero").joinpath("configs.json").read_text())
    factors = {c["model"]: c["duration_factor"] for c in configs}
    assert factors["NVIDIA RTX PRO 6000 Blackwell Server Edition"] == 1.5
    assert factors["NVIDIA H200"] == 1.0
