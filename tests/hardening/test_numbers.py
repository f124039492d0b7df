"""Numbers out of range, NaN, infinite, negative or huge: one sentence that names the field, never a crash.

Through the request model, every backend's Options, the API's /generate handler (before any GPU time)
and the command line.
"""

from __future__ import annotations

import math

import gradio as gr
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from studio import registry
from studio.errors import validate
from studio.ground.errors import StudioError
from studio.request import checks
from studio.song import SongRequest

WILD = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.sampled_from([0, -1, 1, 2**31, 2**32, 2**63, 2**64, -0.0, 1e-300, 1e308, 0.5, 7.5]),
)
REQUEST_NUMBERS = ("duration", "seed", "takes", "bpm")


def _names_field(message: str, name: str) -> bool:
    return f"`{name}`" in message


def _option_fields(backend: str) -> list[str]:
    spec = registry.get_spec(backend)
    return [n for n, f in spec.options.model_fields.items() if f.annotation in (int, float, "int", "float")]


@settings(max_examples=200, deadline=None)
@given(field=st.sampled_from(REQUEST_NUMBERS), value=WILD, backend=st.sampled_from(registry.names()))
def test_request_numbers_are_accepted_or_named(field: str, value: float, backend: str) -> None:
    data = {"backend": backend, "style": "synth pop", "lyrics": "[Verse]\nla la la", field: value}
    if field != "duration":
        data["duration"] = 60
    try:
        request = validate(SongRequest, data)
        prepared = checks.check_request(request)
    except StudioError as exc:
        assert _names_field(str(exc), field), str(exc)
        return
    job = prepared.job
    caps = prepared.spec.capabilities
    assert math.isfinite(job.duration_s) and caps.min_duration_s <= job.duration_s <= caps.max_duration_s
    assert 1 <= len(job.seeds) <= caps.max_takes and all(0 <= s < 2**32 for s in job.seeds)


@pytest.mark.parametrize("backend", registry.names())
def test_every_backend_option_is_accepted_or_named(backend: str) -> None:
    spec = registry.get_spec(backend)
    fields = _option_fields(backend)
    assert fields, f"{backend} declares no numeric options to check"

    @settings(max_examples=60, deadline=None)
    @given(field=st.sampled_from(fields), value=WILD)
    def check(field: str, value: float) -> None:
        try:
            options = validate(spec.options, {field: value}, owner=spec.capabilities.display_name)
        except StudioError as exc:
            assert _names_field(str(exc), field), str(exc)
        else:
            got = getattr(options, field)
            assert math.isfinite(got), f"{backend}.{field} accepted {value!r}"

    check()


@pytest.mark.parametrize(
    ("field", "value"),
    [("duration", math.nan), ("duration", -5.0), ("duration", 1e308), ("takes", math.nan), ("takes", math.inf),
     ("takes", 1e9), ("seed", math.nan), ("seed", 2.0**70), ("bpm", math.inf), ("bpm", -120.0), ("takes", 2.5)],
)
def test_the_generate_api_names_the_field_before_any_gpu_time(app_fns, field: str, value: float) -> None:
    args = {
        "lyrics": "[Verse]\nla", "style": "pop", "backend": "acestep", "duration": 30, "instrumental": False,
        "takes": 1, "seed": 1, "title": "", "bpm": 0, "key": "", "time_signature": "", "language": "",
        "options": "{}", "visitor_key": "", "request": None,
    }
    args[field] = value
    with pytest.raises(gr.Error) as caught:
        app_fns("generate")(**args)
    assert _names_field(str(caught.value.message), field), caught.value.message


@pytest.mark.parametrize(
    ("options", "field"),
    [('{"steps": NaN}', "steps"), ('{"steps": -3}', "steps"), ('{"shift": 1e999}', "shift"),
     ('{"guidance_scale": -1}', "guidance_scale"), ('{"steps": 1e40}', "steps"), ("[1, 2]", "options"),
     ('{"steps": "eight"}', "steps"), ("{not json", "options")],
)
def test_the_generate_api_names_bad_options(app_fns, options: str, field: str) -> None:
    with pytest.raises(gr.Error) as caught:
        app_fns("generate")(
            "[Verse]\nla", "pop", "acestep", 30, False, 1, 1, "", 0, "", "", "", options, "", None
        )
    assert _names_field(str(caught.value.message), field), caught.value.message


@pytest.mark.parametrize(
    ("argv", "field"),
    [
        (["--duration", "nan"], "duration"),
        (["--duration", "-1"], "duration"),
        (["--duration", "1e308"], "duration"),
        (["--seed", "-4"], "seed"),
        (["--seed", str(2**64)], "seed"),
        (["--takes", "0"], "takes"),
        (["--takes", "99"], "takes"),
        (["--bpm", "9999"], "bpm"),
        (["--steps", "0"], "steps"),
        (["--steps", "100000"], "steps"),
        (["--shift", "nan"], "shift"),
        (["--shift", "inf"], "shift"),
        (["--backend", "levo2", "--temperature", "-1"], "temperature"),
        (["--backend", "levo2", "--cfg", "nan"], "cfg"),
        (["--backend", "heartmula", "--top-k", "0"], "top_k"),
        (["--backend", "heartmula", "--temperature", "inf"], "temperature"),
        (["--steps", "many"], "steps"),
    ],
)
def test_the_command_line_names_the_field(argv: list[str], field: str, tmp_path, capsys) -> None:
    from studio.cli import main

    base = ["generate", "--style", "pop", "--lyrics", "[Verse]\nla", "--out", str(tmp_path / "x.wav")]
    try:
        code = main(base + argv)
    except SystemExit as exit_:  # argparse's own refusal of a non-number
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2
    assert f"`{field}`" in err or f"--{field.replace('_', '-')}" in err, err
    assert not (tmp_path / "x.wav").exists()
