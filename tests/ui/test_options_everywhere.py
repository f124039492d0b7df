"""Every option of every backend is reachable from every surface (issue 17.15): the Create view has a
control for it, the command line a flag, the API's ``options`` object takes it.

The fields are read straight from each backend's Options model here, not from studio.options, so a
field the shared declaration skipped is found missing.
"""

from __future__ import annotations

import argparse
import typing

import gradio as gr
import pytest

from studio import registry
from studio.ui.create import build_create
from studio.ui.results import build_results

FIELDS = [(spec.name, name, info) for spec in registry.all_specs() for name, info in spec.options.model_fields.items()]


@pytest.fixture(scope="module")
def create():
    with gr.Blocks():
        return build_create(build_results)


@pytest.fixture(scope="module")
def parser() -> argparse.ArgumentParser:
    from studio.commands import generate

    root = argparse.ArgumentParser()
    generate.register(root.add_subparsers())
    return root


def _sample(info) -> object:
    """A value of the field's type other than its default, within its bounds."""
    annotation = info.annotation
    if typing.get_origin(annotation) is typing.Literal:
        return next(c for c in typing.get_args(annotation) if c != info.default)
    kind = ([a for a in typing.get_args(annotation) if a is not type(None)] or [annotation])[0]
    if kind is bool:
        return not info.default
    lows = [getattr(m, bound) for m in info.metadata for bound in ("ge", "gt") if getattr(m, bound, None) is not None]
    return kind(lows[0] if lows else 0) + (1 if kind is int else 0.5)


@pytest.mark.parametrize(("backend", "name", "info"), FIELDS, ids=[f"{b}.{n}" for b, n, _ in FIELDS])
def test_each_option_has_a_control_a_flag_and_an_api_parameter(create, parser, backend, name, info) -> None:
    from studio.commands.generate import request_from_args
    from studio.ui import api

    if name == "loras":  # a list of files or Hub ids: its own controls and its own repeatable flag
        assert create.loras is not None and "--lora" in parser._subparsers._group_actions[0].choices[
            "generate"]._option_string_actions
        return
    value = _sample(info)
    # The Create view: a control for this backend, labelled in words (no "Cfg", "Top k"), whose value
    # reaches the request's options.
    [(control, component)] = [(c, comp) for c, comp in create.options if (c.backend, c.name) == (backend, name)]
    from studio.options import LABELS

    assert control.label == LABELS[name] and "_" not in control.label  # a word chosen for people, not the field
    assert "None" not in (component.info or "")
    if isinstance(component, gr.Dropdown):
        assert control.shown(value) in [v for _, v in component.choices]
    data = {c: c.value for c in create.fields()} | {create.backend: backend, create.style: "pop", create.mode: "Custom"}
    data[component] = control.shown(value)
    assert create.request_from(data).options[name] == value
    # The command line: one flag, parsed into the same option.
    flag = "--" + name.replace("_", "-")
    argv = ["generate", "--backend", backend, "--style", "pop", "--out", "x.wav", flag]
    argv += [] if isinstance(value, bool) else [str(value)]
    args = parser.parse_args(argv)
    if isinstance(value, bool) and value is False:
        pytest.skip(f"{flag} only turns {name} on; off is its default")
    assert request_from_args(args).options[name] == value
    # The API: the `options` JSON object of /generate and /plan.
    assert api._request("", "pop", backend, None, False, options={name: value}).options[name] == value
