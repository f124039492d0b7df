"""The planner in front of the tiny ACE-Step pipeline, end to end through the studio."""

from __future__ import annotations

import numpy as np
import pytest

from studio import service
from studio.errors import validate
from studio.song import SongRequest


@pytest.fixture
def planned_studio(tiny_planner_dir, monkeypatch):
    monkeypatch.setenv("STUDIO_ACESTEP_PLANNER_WEIGHTS", str(tiny_planner_dir))
    studio = service.Studio()
    yield studio
    studio.cache.unload_all()


def test_planner_codes_drive_the_dit(planned_studio, tiny_acestep_dir, monkeypatch) -> None:
    request = validate(SongRequest, {
        "style": "synth pop", "lyrics": "[Verse]\nneon rain", "duration": 10, "seed": 3, "bpm": 120, "takes": 2,
        "options": {"planner": "0.6B", "steps": 2},
    })
    backend = planned_studio.cache.get("acestep", str(tiny_acestep_dir), device="cpu")
    seen: dict = {}
    real = type(backend.pipe).__call__

    def spy(pipe, *args, **kwargs):
        seen.update(kwargs)
        return real(pipe, *args, **kwargs)

    monkeypatch.setattr(type(backend.pipe), "__call__", spy)
    events = []
    _, takes, _ = planned_studio.render(request, weights=str(tiny_acestep_dir), progress=events.append)
    assert len(seen["audio_codes"]) == 2 and all(c.count("<|audio_code_") == 50 for c in seen["audio_codes"])
    assert seen["bpm"] == 120  # the user's value survives the planner
    assert any(e.stage == "plan" for e in events)
    assert all(t.audio.shape == (2, 480_000) for t in takes)
    assert np.abs(takes[0].audio - takes[1].audio).max() > 0


def test_planner_cost_is_in_the_estimate() -> None:
    base = {"style": "pop", "duration": 120}
    plain = service.plan(validate(SongRequest, base), tier="free")
    planned = service.plan(validate(SongRequest, {**base, "options": {"planner": "1.7B"}}), tier="free")
    assert not any(s.startswith("plan") for s in plain.reservation.estimate.stages)
    assert planned.reservation.estimate.stages["plan:1.7B"] > 0
    assert planned.reservation.estimate.total_s > plain.reservation.estimate.total_s
