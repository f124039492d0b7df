from __future__ import annotations

import pytest

from backends.plan_input import PlanInput
from studio.budget.preflight import BudgetContext, Decision, preflight
from studio.budget.tiers import tier_limits
from studio.ground.vocabulary import DeviceClass
from tests.budget.helpers import AUTOREGRESSIVE, FAST, make_caps

DIFFY = make_caps("diffy")
FASTY = make_caps("fasty", FAST)
ARRY = make_caps("arry", AUTOREGRESSIVE)
FREE = BudgetContext(DeviceClass.ZEROGPU, tier_limits("free", env={}), zerogpu=True)

# By hand, free tier (cap 120 s), seed margin 1.5, diffy at 240 s / 32 steps:
# (10 load + 0.01*32*240 = 76.8 diffusion + 1 + 0.05*240 = 13 decode) * 1.5 = 149.7 -> 150 > 120.
BIG = PlanInput(duration_s=240, steps=32)


def assert_fits(caps, req, ctx=FREE):
    assert ctx.reserve(caps, req).fits, (caps.name, req)


def test_fitting_request_runs():
    result = preflight(DIFFY, PlanInput(duration_s=60, steps=8), FREE)
    assert result.decision is Decision.RUN and result.ok
    assert result.request == result.requested
    assert "fits" in result.message and "of the 120 s one free ZeroGPU request may use" in result.message


def test_refusal_lists_alternatives_that_themselves_fit():
    result = preflight(DIFFY, BIG, FREE, others=[DIFFY, FASTY, ARRY])
    assert result.decision is Decision.REFUSE and not result.ok
    assert result.reservation.needed_s == 150
    by_kind = {a.kind: a for a in result.alternatives}
    # (11 + 0.37 d) * 1.5 <= 120  ->  d <= 186.5
    assert by_kind["shorter"].request.duration_s == 186
    # (23 + 2.4 s) * 1.5 <= 120  ->  s <= 23.75
    assert by_kind["fewer_steps"].request.steps == 23
    assert by_kind["backend"].backend == "fasty"
    assert by_kind["duplicate"].device is DeviceClass.CUDA
    for alt in result.alternatives:
        if alt.kind == "duplicate":
            continue
        caps = {"diffy": DIFFY, "fasty": FASTY}[alt.backend]
        assert_fits(caps, alt.request)
        assert alt.reserve_s <= 120
    # the next size up really would not fit: these are the best that do
    assert not FREE.reserve(DIFFY, BIG.model_copy(update={"duration_s": 187.0})).fits
    assert not FREE.reserve(DIFFY, BIG.model_copy(update={"steps": 24})).fits
    # ARRY is slower, so it is not offered
    assert "arry" not in {a.backend for a in result.alternatives}
    text = result.message
    assert "needs about 150 s" in text and "nothing was charged" in text
    assert "a song of up to 186 s" in text and "23 diffusion steps instead of 32" in text
    assert "Fasty" in text and "duplicating this Space" in text


def test_fit_to_budget_lightens_and_says_what_changed():
    result = preflight(DIFFY, BIG, FREE, fit=True)
    assert result.decision is Decision.ADJUSTED and result.ok
    assert result.request.steps == 23 and result.request.duration_s == 240
    assert result.changes == ["used 23 diffusion steps instead of 32"]
    assert_fits(DIFFY, result.request)
    assert result.reservation.fits


def test_fit_to_budget_sheds_takes_planner_steps_then_length():
    req = PlanInput(duration_s=240, steps=64, takes=2, planner="1.7B")
    result = preflight(DIFFY, req, FREE, fit=True)
    assert result.decision is Decision.ADJUSTED
    new = result.request
    assert new.takes == 1 and new.planner is None and new.steps == 32 and new.duration_s < 240
    assert_fits(DIFFY, new)
    assert not FREE.reserve(DIFFY, new.model_copy(update={"duration_s": new.duration_s + 1})).fits
    joined = " | ".join(result.changes)
    assert "1 take(s) instead of 2" in joined and "planner off" in joined
    assert "32 diffusion steps instead of 64" in joined and "shortened the song from 240 s" in joined


def test_smaller_planner_alternative():
    # planner 1.7B ("plan": 1 + 0.02*5*d) vs 0.6B ("plan:0.6B": 0.5 + 0.01*5*d)
    req = PlanInput(duration_s=200, steps=8, planner="1.7B")
    ctx = BudgetContext(
        DeviceClass.ZEROGPU, tier_limits("free", env={"STUDIO_ZEROGPU_CAP_FREE": "75"}), zerogpu=True
    )
    result = preflight(DIFFY, req, ctx)
    kinds = {a.kind: a for a in result.alternatives}
    assert result.decision is Decision.REFUSE
    assert kinds["smaller_planner"].request.planner == "0.6B"
    assert_fits(DIFFY, kinds["smaller_planner"].request, ctx)


def test_nothing_fits_is_refused_even_with_fit():
    ctx = BudgetContext(
        DeviceClass.ZEROGPU, tier_limits("free", env={"STUDIO_ZEROGPU_CAP_FREE": "10"}), zerogpu=True
    )
    result = preflight(DIFFY, PlanInput(duration_s=60, steps=8), ctx, fit=True)
    assert result.decision is Decision.REFUSE
    assert not [a for a in result.alternatives if a.kind != "duplicate"]


def test_blackwell_large_slice_is_priced_in_quota_seconds():
    ctx = BudgetContext(DeviceClass.ZEROGPU, tier_limits("free", env={}), slice_factor=1.5, zerogpu=True)
    req = PlanInput(duration_s=120, steps=16)
    result = preflight(DIFFY, req, ctx)
    r = result.reservation
    # (10 + 19.2 + 7) * 1.5 slower slice * 1.5 margin = 81.45 -> 82 quota seconds, declared 55
    assert r.needed_s == 82 and r.declared_s == 55 and r.quota_s == 82
    assert result.decision is Decision.RUN


def test_quota_left_is_named_when_it_binds():
    ctx = BudgetContext(DeviceClass.ZEROGPU, tier_limits("pro", env={}), quota_left_s=20, zerogpu=True)
    result = preflight(DIFFY, PlanInput(duration_s=60, steps=8), ctx)  # needs 29 s
    assert result.decision is Decision.REFUSE
    assert "20 s left of your daily GPU quota" in result.message


def test_local_has_no_limit_unless_set():
    local = BudgetContext(DeviceClass.CPU, tier_limits("local", env={}))
    result = preflight(DIFFY, PlanInput(duration_s=240, steps=64), local)
    assert result.decision is Decision.RUN and "no time limit" in result.message
    limited = BudgetContext(DeviceClass.CPU, tier_limits("local", env={"STUDIO_TIME_LIMIT": "60"}))
    refused = preflight(DIFFY, PlanInput(duration_s=240, steps=64), limited)
    assert refused.decision is Decision.REFUSE and "STUDIO_TIME_LIMIT" in refused.message
    assert "duplicate" not in {a.kind for a in refused.alternatives}


def test_to_dict_is_json_ready():
    import json

    data = preflight(DIFFY, BIG, FREE, others=[FASTY]).to_dict()
    assert json.loads(json.dumps(data))["decision"] == "refuse"
    assert data["cap_s"] == 120 and data["quota_s"] == 120 and data["fits"] is False


@pytest.mark.parametrize("tier", ["anonymous", "free", "pro"])
def test_every_alternative_fits_per_tier(tier):
    ctx = BudgetContext(DeviceClass.ZEROGPU, tier_limits(tier, env={}), zerogpu=True)
    req = PlanInput(duration_s=240, steps=64, takes=2)
    result = preflight(DIFFY, req, ctx, others=[FASTY, ARRY])
    for alt in result.alternatives:
        if alt.kind != "duplicate":
            caps = {"diffy": DIFFY, "fasty": FASTY, "arry": ARRY}[alt.backend]
            assert_fits(caps, alt.request, ctx)
