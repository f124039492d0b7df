from __future__ import annotations

import argparse
import json
import sys
import types

import pytest
from pydantic import BaseModel

from backends.acestep.costs import COSTS as ACESTEP_COSTS
from backends.base import Availability, BackendSpec
from backends.plan_input import PlanInput
from studio.budget.estimate import estimate
from studio.commands import plan as cli
from studio.ground.vocabulary import DeviceClass
from tests.budget.helpers import FAST, make_caps


class NoOptions(BaseModel):
    pass


def spec(caps) -> BackendSpec:
    return BackendSpec(
        capabilities=caps, options=NoOptions, availability=Availability.yes, loader=lambda **_: None
    )


ACESTEP = make_caps("acestep", ACESTEP_COSTS[DeviceClass.ZEROGPU], max_duration_s=600)
ACESTEP = ACESTEP.model_copy(update={
    "cost": ACESTEP_COSTS, "display_name": "ACE-Step 1.5 XL turbo", "default_steps": 8
})
FASTY = make_caps("fasty", FAST)


@pytest.fixture
def registry(monkeypatch):
    specs = {s.name: s for s in (spec(ACESTEP), spec(FASTY))}
    module = types.ModuleType("studio.registry")

    def get_spec(name: str) -> BackendSpec:
        return specs[name]  # KeyError is a LookupError, like the real registry's

    module.get_spec = get_spec
    module.all_specs = lambda: list(specs.values())
    monkeypatch.setitem(sys.modules, "studio.registry", module)
    for key in ("STUDIO_TIER", "SPACES_ZERO_GPU", "STUDIO_ZEROGPU_SLICE_FACTOR", "STUDIO_TIME_LIMIT"):
        monkeypatch.delenv(key, raising=False)
    return specs


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m studio")
    sub = parser.add_subparsers(dest="command", required=True)
    cli.register(sub)
    args = parser.parse_args(argv)
    return args.handler(args)


def test_plan_prints_estimate_cap_and_decision(registry, capsys):
    code = run(["plan", "--backend", "acestep", "--duration", "120", "--tier", "free"])
    out = capsys.readouterr().out
    assert code == 0
    expected = estimate(ACESTEP, PlanInput(duration_s=120, steps=8), DeviceClass.ZEROGPU)
    assert f"estimate   {expected.total_s:.1f} s" in out
    assert "cap        120 s per request (daily quota 300 s)" in out
    assert f"spaces.GPU(duration={expected.reserve_s})" in out
    assert "decision   run" in out


def test_plan_json_refusal_with_alternatives(registry, capsys):
    code = run(
        [
            "plan",
            "--backend",
            "acestep",
            "--duration",
            "240",
            "--steps",
            "200",
            "--takes",
            "2",
            "--tier",
            "anonymous",
            "--json",
        ]
    )
    data = json.loads(capsys.readouterr().out)
    assert code == 1
    assert data["decision"] == "refuse" and data["cap_s"] == 120 and data["backend"] == "acestep"
    kinds = {a["kind"] for a in data["alternatives"]}
    assert {"shorter", "fewer_steps", "backend", "duplicate"} <= kinds
    assert all(a["reserve_s"] <= 120 for a in data["alternatives"] if a["kind"] != "duplicate")


def test_plan_fit_and_slice_factor(registry, capsys):
    code = run(
        [
            "plan",
            "--backend",
            "acestep",
            "--duration",
            "240",
            "--steps",
            "200",
            "--takes",
            "2",
            "--tier",
            "free",
            "--fit",
            "--json",
            "--slice-factor",
            "1.5",
        ]
    )
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["decision"] == "adjusted" and data["changes"]
    assert data["slice_factor"] == 1.5 and data["quota_s"] <= 120
    assert data["declared_s"] == -(-data["needed_s"] // 1.5)


def test_plan_local_no_limit(registry, capsys):
    assert (
        run(["plan", "--backend", "acestep", "--duration", "60", "--tier", "local", "--device", "cpu"]) == 0
    )
    out = capsys.readouterr().out
    assert "cap        none" in out and "no time limit" in out


def test_plan_usage_errors(registry, capsys):
    assert run(["plan", "--backend", "nope", "--duration", "60"]) == 2
    assert "Unknown backend 'nope'; pick one of: acestep, fasty." in capsys.readouterr().err
    assert run(["plan", "--backend", "acestep", "--duration", "900"]) == 2
    assert "`--duration` must be between 10 and 600 s" in capsys.readouterr().err
