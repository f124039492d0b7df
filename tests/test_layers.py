"""The studio's layers (issue 19): every import goes down, every module sits in a layer, no import cycle.

The layers are pyproject.toml's `[tool.importlinter]` contract, checked by the project's own command
(`lint-imports`). Imports inside functions and under TYPE_CHECKING count like the others: a lazy import
that runs back up a layer, or round a cycle, is the same dependency, only hidden.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

if sys.version_info < (3, 11):  # import-linter and grimp need Python 3.11 (their Requires-Python)
    pytest.skip("the layer checks need Python 3.11 or newer (import-linter, grimp)", allow_module_level=True)

import grimp  # in the dev extras: `bash scripts/setup.sh --dev`
from importlinter import configuration
from importlinter.application.use_cases import read_user_options

ROOTS = ("studio", "backends")

# Cycles allowed to stay, each with why (none is left). The test fails when one is gone too: take it off.
KNOWN_CYCLES: dict[frozenset[str], str] = {}

# Packages whose children sit in different layers; their own __init__ is in none.
SPLIT_PACKAGES = {"studio", "backends", "studio.quality"}


def _layers() -> list[list[str]]:
    configuration.configure()
    contract = next(
        c for c in read_user_options(str(REPO / "pyproject.toml")).contracts_options if c.get("id") == "layers"
    )
    return [[m.strip() for m in layer.replace("|", ":").split(":")] for layer in contract["layers"]]


def _graph() -> grimp.ImportGraph:
    return grimp.build_graph(*ROOTS, cache_dir=None)


def _cycles(graph: grimp.ImportGraph) -> list[frozenset[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(edges[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def test_the_layer_contract_is_kept() -> None:
    # The project's own command, as a maintainer runs it (`lint-imports` from the repository root).
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from importlinter.cli import lint_imports_command; lint_imports_command()",
            "--no-cache",
            "--config",
            str(REPO / "pyproject.toml"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "Every import goes down the layers KEPT" in done.stdout


def test_every_module_sits_in_a_layer() -> None:
    layered = [m for layer in _layers() for m in layer]
    graph = _graph()
    outside = sorted(
        m
        for m in graph.modules
        if m not in SPLIT_PACKAGES and not any(m == top or m.startswith(top + ".") for top in layered)
    )
    assert outside == [], f"add these modules to a layer in pyproject.toml's [tool.importlinter]: {outside}"
    missing = sorted(m for m in layered if m not in graph.modules)
    assert missing == [], f"these layers name no module; fix pyproject.toml: {missing}"


def test_the_ground_imports_nothing_from_the_studio_or_the_backends() -> None:
    graph = _graph()
    ground = graph.find_children("studio.ground") | {"studio.ground"}
    upward = sorted((m, d) for m in ground for d in graph.find_modules_directly_imported_by(m) if d not in ground)
    assert upward == []


def test_no_import_cycle_between_modules() -> None:
    cycles = set(_cycles(_graph()))
    unexpected = [sorted(c) for c in cycles - set(KNOWN_CYCLES)]
    assert unexpected == [], f"import cycles: {unexpected}"
    gone = [sorted(c) for c in set(KNOWN_CYCLES) - cycles]
    assert gone == [], f"these cycles are gone; take them off KNOWN_CYCLES: {gone}"


def test_the_cycle_finder_finds_a_lazy_cycle() -> None:
    # The check above is only as good as its finder: a cycle closed by an import inside a function counts.
    graph = grimp.ImportGraph()
    for module in ("a", "a.top", "a.low", "a.alone"):
        graph.add_module(module)
    graph.add_import(importer="a.top", imported="a.low", line_number=1, line_contents="from a.low import x")
    graph.add_import(importer="a.low", imported="a.top", line_number=9, line_contents="    from a.top import y")
    graph.add_import(importer="a.alone", imported="a.low", line_number=1, line_contents="from a.low import x")
    assert _cycles(graph) == [frozenset({"a.top", "a.low"})]
