"""The budget guard around the real generate path (tiny ACE-Step on the CPU)."""

from __future__ import annotations

import time

import pytest

from studio import rendering
from studio.errors import validate
from studio.ground.errors import DeadlineExceeded, StudioError
from studio.ground.progress import ProgressEvent
from studio.request import prepare as road
from studio.request import pricing
from studio.song import SongRequest


def req(**kw) -> SongRequest:
    return validate(SongRequest, {"style": "synth pop", "lyrics": "[Verse]\nneon rain", **kw})


def test_plan_refuses_what_cannot_fit_and_names_what_would() -> None:
    decision = road.plan(req(backend="levo2", duration=240), tier="anonymous")
    assert not decision.ok
    assert "ACE-Step" in decision.message and "up to" in decision.message


def test_plan_runs_a_default_song_on_the_free_tier() -> None:
    decision = road.plan(req(duration=120), tier="free")
    assert decision.ok and decision.reservation.declared_s <= 120


def test_time_limit_stops_a_slowed_tiny_run_mid_way(tiny_acestep_dir, monkeypatch, tmp_path) -> None:
    """STUDIO_TIME_LIMIT on a shared server: a run that will not finish stops with a clear error."""
    studio = rendering.Studio()
    request = req(duration=10, options={"steps": 8})
    # A first render in a fresh process pays torch's one-off set-up (~3 s here, 70x a warm step
    # loop); whether an earlier test paid it depended on which worker ran this one. Warm up, then
    # calibrate in a state folder of its own, as a long-running studio would be.
    studio.render(request, weights=str(tiny_acestep_dir))
    monkeypatch.setenv("STUDIO_STATE_DIR", str(tmp_path / "warm"))
    for _ in range(3):  # calibrate on this machine so the estimate fits the limit
        studio.render(request, weights=str(tiny_acestep_dir))
    monkeypatch.setenv("STUDIO_TIME_LIMIT", "6")
    decision = road.plan(request, tier="local")
    assert decision.ok, decision.message
    seen: list[int] = []

    def slow(event: ProgressEvent) -> None:
        if event.stage == "rendering" and event.done:
            seen.append(event.done)
            time.sleep(1.0)  # 8 steps now need 8 s, past the 6 s limit

    started = time.monotonic()
    with pytest.raises(DeadlineExceeded) as info:
        studio.render(request, weights=str(tiny_acestep_dir), progress=slow, budget=decision.reservation)
    assert 0 < max(seen) < 8
    assert time.monotonic() - started < 6.5
    assert "STUDIO_TIME_LIMIT" in str(info.value)


def test_runs_feed_the_calibration(tiny_acestep_dir) -> None:
    studio = rendering.Studio()
    from studio import devices

    name = devices.detect().name
    before = len(pricing.calibration().samples(name, "acestep", "diffusion"))
    studio.render(req(duration=10, options={"steps": 2}), weights=str(tiny_acestep_dir))
    after = pricing.calibration().samples(name, "acestep", "diffusion")
    assert len(after) == before + 1 and after[-1].seconds > 0


def test_gpu_job_refuses_before_spending(monkeypatch, tmp_path) -> None:
    from studio.ui import runner

    monkeypatch.setenv("STUDIO_TIER", "anonymous")
    asked = []
    monkeypatch.setattr(runner, "render_on_gpu", lambda *a, **k: asked.append(a))
    with pytest.raises(StudioError, match="not started and nothing was charged"):
        runner.make_songs(req(backend="levo2", duration=240), owner="local", library=None)  # refused first
    assert not asked


def test_local_calibration_never_prices_zerogpu(tiny_acestep_dir) -> None:
    """Fast runs measured on this CPU must not make a ZeroGPU-tier plan look cheaper."""
    request = req(duration=120)
    before = road.plan(request, tier="free").reservation.estimate.total_s
    studio = rendering.Studio()
    for _ in range(2):
        studio.render(req(duration=10, options={"steps": 2}), weights=str(tiny_acestep_dir))
    assert road.plan(request, tier="free").reservation.estimate.total_s == before
