"""The Space's requirements.txt and the local pyproject.toml must name the same packages."""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO

tomllib = pytest.importorskip("tomllib")  # Python 3.11+


def _name(spec: str) -> str:
    return re.split(r"[<>=!~\[ ;]", spec.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_space_and_local_installs_agree() -> None:
    space = {
        _name(line) for line in (REPO / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    local = {_name(d) for d in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]}
    assert space - {"torch"} == local


def test_space_torch_is_zerogpu_compatible() -> None:
    line = next(x for x in (REPO / "requirements.txt").read_text().splitlines() if x.startswith("torch"))
    major, minor = (int(p) for p in re.search(r"==(\d+)\.(\d+)", line).groups())
    assert (major, minor) >= (2, 8) and (major, minor) <= (2, 11)


def test_readme_front_matter() -> None:
    text = (REPO / "README.md").read_text()
    front = text.split("---")[1]
    fields = dict(line.split(":", 1) for line in front.splitlines() if ":" in line and not line.startswith(" "))
    assert fields["sdk"].strip() == "gradio"
    assert fields["app_file"].strip() == "app.py"
    assert fields["python_version"].strip().strip('"') in ("3.10", "3.12")
    assert len(fields["short_description"].strip()) <= 60
    assert "ACE-Step/acestep-v15-xl-turbo-diffusers" in front.split("preload_from_hub:")[1]


def _source_text(*folders: str) -> str:
    return "\n".join(p.read_text() for d in folders for p in (REPO / d).rglob("*.py")) + (REPO / "app.py").read_text()


def test_readme_names_only_settings_the_code_reads() -> None:
    text = (REPO / "README.md").read_text()
    names = set(re.findall(r"STUDIO_[A-Z0-9_]+", text))
    code = _source_text("studio", "backends", "tests")
    assert "STUDIO_ACESTEP_BASE_WEIGHTS" in names and "STUDIO_MAX_LORA_MB" in names
    assert sorted(n for n in names if n not in code) == []


def test_readme_api_table_lists_every_named_endpoint() -> None:
    text = (REPO / "README.md").read_text()
    table = text.split("## API")[1].split("```")[0]
    documented = set(re.findall(r"^\| `/(\w+)`", table, re.M))
    served = set(re.findall(r'api_name="(\w+)"', (REPO / "studio/ui/api.py").read_text()))
    served |= set(re.findall(r'api_name="(\w+)"', (REPO / "studio/ui/stems_controls.py").read_text()))
    served |= set(re.findall(r'\(\w+, \w+, \w+, "(\w+)"\)', (REPO / "studio/ui/api.py").read_text()))
    assert {"generate", "edit", "tasks"} <= served
    assert documented == served
