"""Simple mode names the model that writes the song, its size and whether it is here (issue 17.6),
read offline from the HF cache layout (``studio.weights``), before the visitor presses anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio import registry
from studio.ui.forms import sketch_line

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def empty_cache(tmp_path, monkeypatch) -> Path:
    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.delenv("STUDIO_ACESTEP_PLANNER_WEIGHTS", raising=False)
    return cache


def test_a_planner_not_downloaded_is_named_with_its_size(empty_cache) -> None:
    line = sketch_line(registry.get_spec("acestep"))
    assert line == "Uses the 1.7B planner (3.4 GB, not downloaded — fetched on first use)."


def test_a_cached_planner_reads_as_downloaded(empty_cache, fixtures_dir) -> None:
    from tests.planner.tiny import save_tiny_planner

    # The published layout: the 1.7B planner is a subfolder of the shared ACE-Step/Ace-Step1.5 repository.
    storage = empty_cache / "models--ACE-Step--Ace-Step1.5"
    save_tiny_planner(storage / "snapshots" / SHA / "acestep-5Hz-lm-1.7B", fixtures_dir)
    (storage / "refs").mkdir()
    (storage / "refs" / "main").write_text(SHA)
    line = sketch_line(registry.get_spec("acestep"))
    assert line.startswith("Uses the 1.7B planner (3.4 GB, downloaded)")


def test_a_planner_folder_without_weights_is_called_incompatible(empty_cache, tmp_path, monkeypatch) -> None:
    folder = tmp_path / "my-planner"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "qwen3"}')
    monkeypatch.setenv("STUDIO_ACESTEP_PLANNER_WEIGHTS", str(folder))
    line = sketch_line(registry.get_spec("acestep"))
    assert line.startswith("Uses the 1.7B planner: ❌ incompatible weights")
    assert "*.safetensors is missing" in line


def test_a_model_that_takes_no_description_has_no_line(empty_cache) -> None:
    assert sketch_line(registry.get_spec("levo2")) == ""
    assert sketch_line(registry.get_spec("heartmula")) == ""
