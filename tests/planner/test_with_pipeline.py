"""The planner in front of the tiny ACE-Step pipeline, end to end through the studio."""

from __future__ import annotations

import numpy as np
import pytest

from studio import rendering
from studio.errors import validate
from studio.request import prepare as road
from studio.song import SongRequest


@pytest.fixture
def planned_studio(tiny_planner_dir, monkeypatch):
    monkeypatch.setenv("STUDIO_ACESTEP_PLANNER_WEIGHTS", str(tiny_planner_dir))
    studio = rendering.Studio()
    yield studio
    studio.cache.unload_all()


def test_planner_codes_drive_the_dit(planned_studio, tiny_acestep_dir, monkeypatch) -> None:
    request = validate(SongRequest, {
        "style": "synth pop", "lyrics": "[Verse]\nneon rain", "duration": 10, "seed": 3, "bpm": 120, "takes": 2,
        "options": {"planner": "0.6B", "steps": 2},
    })
    backend = planned_studio.cache.get("acestep", str(tiny_acestep_dir), device="cpu")
    calls: list[dict] = []
    real = type(backend.pipe).__call__

    def spy(pipe, *args, **kwargs):
        calls.append(kwargs)
        return real(pipe, *args, **kwargs)

    monkeypatch.setattr(type(backend.pipe), "__call__", spy)
    events = []
    _, takes, _ = planned_studio.render(request, weights=str(tiny_acestep_dir), progress=events.append)
    # On a CPU the takes render one at a time (issue 18: bounded host memory), so the codes may arrive in
    # several calls; each take gets its own planned codes.
    codes = [c for call in calls for c in call["audio_codes"]]
    assert len(codes) == 2 and all(c.count("<|audio_code_") == 50 for c in codes)
    assert all(call["bpm"] == 120 for call in calls)  # the user's value survives the planner
    assert any(e.stage == "plan" for e in events)
    assert all(t.audio.shape == (2, 480_000) for t in takes)
    assert np.abs(takes[0].audio - takes[1].audio).max() > 0


def test_planner_cost_is_in_the_estimate() -> None:
    base = {"style": "pop", "duration": 120}
    plain = road.plan(validate(SongRequest, base), tier="free")
    planned = road.plan(validate(SongRequest, {**base, "options": {"planner": "1.7B"}}), tier="free")
    assert not any(s.startswith("plan") for s in plain.reservation.estimate.stages)
    assert planned.reservation.estimate.stages["plan:1.7B"] > 0
    assert planned.reservation.estimate.total_s > plain.reservation.estimate.total_s


def test_simple_mode_writes_an_editable_draft(planned_studio, monkeypatch) -> None:
    import backends.acestep.planner.planner as planner_module
    from backends.acestep import sketch
    from studio.ui.create import draft_values

    monkeypatch.setattr(planner_module, "FREE_TEXT_TOKEN_CAP", 96)  # a random model never stops by itself
    try:
        draft = planned_studio.describe("acestep", "a sad piano ballad about rain", instrumental=True,
                                        language="en", seed=4, device="cpu")
    finally:
        sketch.release_all()
    assert set(draft) == {"caption", "lyrics", "instrumental", "metadata"}
    values = draft_values(draft, "acestep")
    assert values[0] == draft["caption"] and values[1] == draft["lyrics"] and values[-1] == "Custom"
    if draft["metadata"]["duration"]:
        assert 10 <= values[3] <= 600  # clamped to ACE-Step's range
    else:
        assert isinstance(values[3], dict)  # no duration written: the slider is left as it is


def test_simple_mode_refuses_what_cannot_describe(planned_studio) -> None:
    from studio.ground.errors import StudioError

    with pytest.raises(StudioError, match="cannot write a song from a description"):
        planned_studio.describe("levo2", "a song")
    with pytest.raises(StudioError, match="describe the song first"):
        planned_studio.describe("acestep", "   ")


def test_planner_codes_work_on_weights_without_the_pair(planned_studio, tmp_path, monkeypatch) -> None:
    """The published turbo diffusers folder has no audio tokenizer pair (issue 15): the planner's codes still
    reach the DiT, through the pair read from the native checkpoint of the same DiT."""
    from backends.acestep.tiny import save_tiny_native_checkpoint, save_tiny_pipeline

    weights = save_tiny_pipeline(tmp_path / "diffusers", code_pair=False)
    monkeypatch.setenv("STUDIO_ACESTEP_CODEC_WEIGHTS", str(save_tiny_native_checkpoint(tmp_path / "native")))
    request = validate(SongRequest, {
        "style": "synth pop", "lyrics": "[Verse]\nneon rain", "duration": 10, "seed": 3, "bpm": 120,
        "options": {"planner": "0.6B", "steps": 2},
    })
    _, takes, _ = planned_studio.render(request, weights=str(weights))
    assert planned_studio.cache.loaded()["acestep"].pipe.audio_token_detokenizer is not None
    assert takes[0].audio.shape == (2, 480_000) and np.isfinite(takes[0].audio).all()
