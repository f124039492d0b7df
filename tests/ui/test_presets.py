"""Presets are JSON validated by pydantic; a bad file says which and why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio import presets
from studio.ground.errors import StudioError


def test_shipped_presets_load_with_genres_and_moods() -> None:
    found = presets.load()
    assert len(found["genre"]) >= 8 and len(found["mood"]) >= 6
    names = [p.name for group in found.values() for p in group]
    assert len(names) == len(set(names))


def test_bad_preset_file_names_the_problem(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text(
        json.dumps({"kind": "genre", "presets": [{"name": "A", "style": "a", "bpm": 1}]})
    )
    with pytest.raises(StudioError, match=r"x\.json: unknown field `presets\.bpm`"):
        presets.load(tmp_path)


def test_chips_append_without_repeating() -> None:
    assert presets.add_to_style("", "jazz") == "jazz"
    assert presets.add_to_style("pop,", "dreamy") == "pop, dreamy"
    assert presets.add_to_style("Jazz, slow", "jazz") == "Jazz, slow"
