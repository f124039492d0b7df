""""Fit to my budget": a request that opts in is lightened until it fits, and says what changed."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from backends.plan_input import PlanInput
from studio.budget import BudgetContext, Tier, tier_limits
from studio.budget.preflight import alternatives, fit_request
from studio.ground.errors import StudioError
from studio.request import prepare as road
from studio.request import pricing
from studio.song import SongRequest


def _needed(request: SongRequest) -> int:
    return road.plan(request, "local").reservation.needed_s


@pytest.fixture
def two_takes_too_many(monkeypatch) -> SongRequest:
    """A two-take request and a STUDIO_TIME_LIMIT that one take fits and two do not."""
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    monkeypatch.delenv("STUDIO_TIME_LIMIT", raising=False)
    request = SongRequest(style="synth pop", lyrics="[Verse]\nneon", duration=20, takes=2, options={"steps": 2})
    one, two = _needed(request.model_copy(update={"takes": 1})), _needed(request)
    assert one < two
    monkeypatch.setenv("STUDIO_TIME_LIMIT", str((one + two) // 2))
    return request


def test_a_request_that_does_not_opt_in_is_refused_and_one_that_does_is_lightened(two_takes_too_many) -> None:
    request = two_takes_too_many
    refused = road.plan(request, "local")
    assert not refused.ok and "nothing was charged" in refused.message
    with pytest.raises(StudioError, match="nothing was charged"):  # not asked: refused, nothing changes
        road.prepare(request, "local")

    asked = request.model_copy(update={"fit_budget": True})
    prepared = road.prepare(asked, "local")
    fitted, message = prepared.request, prepared.fitted
    assert fitted.takes == 1 and fitted.duration == 20 and fitted.options == {"steps": 2}
    assert message is not None and message.startswith("Fitted to your budget: made 1 take(s) instead of 2")
    assert road.plan(fitted, "local").ok  # what will run fits as it is
    # The live estimate beside the button says so before anything runs.
    from studio.ui import seams

    line = seams.estimate_line(asked, "local")
    assert "made 1 take(s) instead of 2" in line


def test_the_command_line_fits_with_fit_and_refuses_without(two_takes_too_many, tiny_acestep_dir, tmp_path, capsys):
    from studio.commands import generate

    parser = argparse.ArgumentParser()
    generate.register(parser.add_subparsers())
    argv = ["generate", "--weights", str(tiny_acestep_dir), "--style", "synth pop", "--lyrics", "[Verse]\nneon",
            "--duration", "20", "--takes", "2", "--steps", "2", "--seed", "3"]
    with pytest.raises(StudioError, match="nothing was charged"):
        generate.run(parser.parse_args([*argv, "--out", str(tmp_path / "refused.wav")]))
    assert not list(tmp_path.glob("refused*"))

    assert generate.run(parser.parse_args([*argv, "--fit", "--out", str(tmp_path / "fitted.wav")])) == 0
    out = capsys.readouterr()
    assert "Fitted to your budget: made 1 take(s) instead of 2" in out.out + out.err
    made = sorted(p.name for p in tmp_path.glob("fitted*.wav") if ".raw." not in p.name)
    assert made == ["fitted.wav"], made  # one take, where two were asked for


def test_an_edit_is_never_shortened_to_fit() -> None:
    from studio import registry

    caps = registry.get_spec("acestep").capabilities
    ctx = BudgetContext(pricing.budget_context("local").device, tier_limits(Tier.LOCAL))
    song = PlanInput(duration_s=200, steps=8, include_load=False)
    repaint = song.model_copy(update={"task": "repaint"})
    # A cap that only a much shorter result fits, whatever the steps.
    cap = ctx.reserve(caps, repaint.model_copy(update={"duration_s": 40, "steps": 4})).needed_s
    tight = BudgetContext(ctx.device, dataclasses.replace(tier_limits(Tier.LOCAL), per_call_s=cap))
    shorter, _ = fit_request(caps, song, tight)
    assert shorter.duration_s < 200  # a new song may be shortened...
    assert fit_request(caps, repaint, tight) is None  # ...an edit may not: its length is its source's
    texts = [a.text for a in alternatives(caps, repaint, tight) if a.kind == "shorter"]
    assert texts and texts[0].startswith("a source song giving up to")


def test_the_checkbox_shows_only_where_gpu_time_is_limited(monkeypatch, tmp_path) -> None:
    from studio.library import Library
    from studio.ui import build_app

    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    library = Library(tmp_path / "lib")
    try:
        monkeypatch.delenv("STUDIO_TIME_LIMIT", raising=False)
        views = build_app(library=library).studio_views
        assert not views["create"].fit_budget.visible and not views["edit"].fit_budget.visible
        monkeypatch.setenv("STUDIO_TIME_LIMIT", "300")
        views = build_app(library=library).studio_views
        assert views["create"].fit_budget.visible and views["edit"].fit_budget.visible
    finally:
        library.close()
