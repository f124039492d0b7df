"""Fixtures for the planner tests: golden data, and one tiny random planner per session."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def planner_cases(fixtures_dir: Path) -> dict:
    return json.loads((fixtures_dir / "acestep_planner" / "cases.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def fsm_traces(fixtures_dir: Path) -> dict:
    traces = json.loads((fixtures_dir / "acestep_planner" / "fsm_traces.json").read_text(encoding="utf-8"))
    return {trace["id"]: trace for trace in traces["traces"]}


@pytest.fixture(scope="session")
def tiny_planner_dir(tmp_path_factory: pytest.TempPathFactory, fixtures_dir: Path) -> Path:
    from tests.planner.tiny import save_tiny_planner

    # The folder name of the official 0.6B checkpoint; loaded through the same code as real weights.
    return save_tiny_planner(tmp_path_factory.mktemp("weights") / "acestep-5Hz-lm-0.6B", fixtures_dir)


@pytest.fixture(scope="session")
def tiny_planner(tiny_planner_dir: Path):
    from backends.acestep.planner.planner import Planner

    return Planner.load(str(tiny_planner_dir), device="cpu")


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_planner):
    return tiny_planner.tokenizer
