from __future__ import annotations

import math

import pytest

from backends.plan_input import PlanInput
from studio import registry
from studio.budget.estimate import SEED_MARGIN, estimate
from studio.budget.reservation import reserve, scheduled_seconds
from studio.budget.tiers import Tier, default_tier, parse_seconds, tier_limits
from studio.ground.errors import StudioError
from studio.ground.vocabulary import DeviceClass
from tests.budget.helpers import AUTOREGRESSIVE, make_caps

Z = DeviceClass.ZEROGPU


def test_diffusion_arithmetic_by_hand():
    caps = make_caps()
    est = estimate(caps, PlanInput(duration_s=60, steps=8), Z)
    # load 10 + diffusion 0.01*8*60 = 4.8 + decode 1 + 0.05*60 = 4
    assert est.stages == pytest.approx({"load": 10.0, "diffusion": 4.8, "decode": 4.0})
    assert list(est.stages) == ["load", "diffusion", "decode"]  # the order they run
    assert est.total_s == pytest.approx(18.8)
    assert est.margin == SEED_MARGIN
    assert est.reserve_s == math.ceil(18.8 * 1.5)


def test_takes_multiply_everything_but_loading():
    caps = make_caps()
    one = estimate(caps, PlanInput(duration_s=60, steps=8), Z)
    two = estimate(caps, PlanInput(duration_s=60, steps=8, takes=2), Z)
    assert two.stages["load"] == one.stages["load"]
    assert two.stages["diffusion"] == pytest.approx(2 * one.stages["diffusion"])
    assert two.stages["decode"] == pytest.approx(2 * one.stages["decode"])


def test_planner_stage_by_size_and_frames():
    caps = make_caps()
    default = estimate(caps, PlanInput(duration_s=100, steps=8, planner="1.7B"), Z)
    small = estimate(caps, PlanInput(duration_s=100, steps=8, planner="0.6B"), Z)
    none = estimate(caps, PlanInput(duration_s=100, steps=8), Z)
    # 5 Hz * 100 s = 500 frames; no "plan:1.7B" key, so the generic "plan" prices it
    assert default.stages["plan"] == pytest.approx(1.0 + 0.02 * 500)
    assert small.stages["plan:0.6B"] == pytest.approx(0.5 + 0.01 * 500)
    assert "plan" not in none.stages and "plan:0.6B" not in none.stages


def test_autoregressive_frames():
    caps = make_caps("ar", AUTOREGRESSIVE)
    est = estimate(caps, PlanInput(duration_s=30, include_load=False), Z)
    assert est.stages == pytest.approx({"lm": 0.04 * 25 * 30, "decode": 3.0})


def test_speed_factor_scales_seed_stages():
    caps = make_caps()
    base = estimate(caps, PlanInput(duration_s=60, steps=8), Z)
    slow = estimate(caps, PlanInput(duration_s=60, steps=8), Z, speed_factor=1.5)
    assert slow.total_s == pytest.approx(1.5 * base.total_s)


def test_errors_are_actionable():
    caps = make_caps()
    with pytest.raises(StudioError, match="steps"):
        estimate(caps, PlanInput(duration_s=60), Z)
    with pytest.raises(StudioError, match="cannot do 'cover'"):
        estimate(caps, PlanInput(duration_s=60, steps=8, task="cover"), Z)
    with pytest.raises(StudioError, match="no LM planner"):
        estimate(make_caps("ar", AUTOREGRESSIVE), PlanInput(duration_s=60, planner="1.7B"), Z)
    with pytest.raises(StudioError, match="No cost figures"):
        estimate(make_caps(devices=(DeviceClass.CUDA,)), PlanInput(duration_s=60, steps=8), DeviceClass.MPS)


def test_seed_table_covers_every_backend_and_device_with_sources():
    # Each backend declares its own seeds (backends/<name>/costs.py); the budget reads them from its spec.
    seeds = {spec.name: spec.capabilities.cost for spec in registry.all_specs()}
    for name, per_device in seeds.items():
        assert set(per_device) == set(DeviceClass), name
        for model in per_device.values():
            assert model.stages and all(c.source for c in model.stages.values())
    # LeVo 2 on a CUDA (H20-class) card: RTF 0.82 from the report, loading aside.
    levo = seeds["levo2"][DeviceClass.CUDA]
    per_second = levo.stages["lm"].per_frame * levo.frame_rate_hz + levo.stages["decode"].per_audio_second
    assert per_second == pytest.approx(0.82, rel=0.01)
    # HeartMuLa: 16 frames/s generated for a 12.5 Hz stream -> RTF 0.78 for the LM.
    heart = seeds["heartmula"][DeviceClass.CUDA]
    assert heart.stages["lm"].per_frame * heart.frame_rate_hz == pytest.approx(12.5 / 16)


@pytest.mark.parametrize(
    ("tier", "cap"),
    [("anonymous", 120), ("free", 120), ("pro", 300)],
)
def test_reservation_clamped_to_tier_cap(tier, cap):
    caps = make_caps()
    limits = tier_limits(tier, env={})
    small = reserve(estimate(caps, PlanInput(duration_s=30, steps=8), Z), limits)
    assert small.fits and small.declared_s == small.needed_s == small.quota_s
    huge = reserve(estimate(caps, PlanInput(duration_s=240, steps=64, takes=2), Z), limits)
    assert huge.needed_s > cap
    assert not huge.fits and huge.clamped
    assert huge.declared_s == cap and huge.quota_s == cap


def test_blackwell_large_slice_factor():
    caps = make_caps()
    limits = tier_limits("free", env={})
    est = estimate(caps, PlanInput(duration_s=60, steps=8), Z, speed_factor=1.5)
    res = reserve(est, limits, slice_factor=1.5)
    # declared x 1.5 (what spaces schedules) covers what this slice needs
    assert res.needed_s == math.ceil(18.8 * 1.5 * 1.5)
    assert res.declared_s == math.ceil(res.needed_s / 1.5)
    assert res.quota_s == scheduled_seconds(res.declared_s, 1.5) >= res.needed_s
    # clamped: what spaces schedules stays under the cap
    huge = reserve(
        estimate(caps, PlanInput(duration_s=240, steps=64), Z, speed_factor=1.5), limits, slice_factor=1.5
    )
    assert huge.declared_s == 80 and scheduled_seconds(huge.declared_s, 1.5) <= 120


def test_quota_left_lowers_cap():
    limits = tier_limits("pro", env={})
    est = estimate(make_caps(), PlanInput(duration_s=60, steps=8), Z)
    assert reserve(est, limits).fits
    res = reserve(est, limits, quota_left_s=20)
    assert not res.fits and res.cap_s == 20 and res.quota_s == 20


def test_local_never_limits_unless_time_limit_set():
    est = estimate(make_caps(), PlanInput(duration_s=240, steps=64), DeviceClass.CPU)
    free = reserve(est, tier_limits("local", env={}))
    assert free.fits and free.limit_s is None and free.declared_s is None
    limited = reserve(est, tier_limits("local", env={"STUDIO_TIME_LIMIT": "2m"}))
    assert limited.cap_s == 120 and limited.limit_s == 120 and not limited.fits


def test_tier_settings_from_env():
    env = {"STUDIO_ZEROGPU_CAP_FREE": "90s", "STUDIO_ZEROGPU_QUOTA_FREE": "10m"}
    limits = tier_limits("free", env=env)
    assert (limits.per_call_s, limits.daily_s, limits.cap_s) == (90, 600, 90)
    assert tier_limits("pro", env={"STUDIO_ZEROGPU_HARD_CAP": "200"}).cap_s == 200
    assert tier_limits("anonymous", env={}).daily_s == 120
    assert tier_limits("pro", env={}).daily_s == 40 * 60
    with pytest.raises(StudioError, match="STUDIO_ZEROGPU_CAP_FREE must be a number"):
        tier_limits("free", env={"STUDIO_ZEROGPU_CAP_FREE": "lots"})
    with pytest.raises(StudioError, match="Unknown tier 'gold'"):
        tier_limits("gold", env={})
    assert parse_seconds("X", "1h") == 3600 and parse_seconds("X", "") is None


def test_default_tier():
    assert default_tier({}) is Tier.LOCAL
    assert default_tier({"SPACES_ZERO_GPU": "true"}) is Tier.FREE
    assert default_tier({"STUDIO_TIER": "pro"}) is Tier.PRO
