"""Every named endpoint, through every raw route, against a launched studio (issue 18 item 6, strict):
whatever a caller sends, the answer is a result or one sentence. Never HTTP 500 (not even one that
carries our error id: a fault of ours that a bad value reaches is still a fault), never "Something
went wrong", never a pydantic link.

Routes: ``/gradio_api/run/<name>`` (one request, one answer) and ``/gradio_api/call/<name>`` (join,
then read the event stream), for every endpoint /gradio_api/info lists. The GPU function is replaced
by one that answers a sentence, so a value that passes every check costs no render here."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio.ground.errors import StudioError

# A well-formed visitor key, so that a drawn call gets past "your visitor key is missing" into the handler.
KEY = "fuzzVisitorKey_0123456789abcdef"
VALUE = st.one_of(
    st.just(KEY), st.none(), st.booleans(), st.integers(-10**12, 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30), st.sampled_from(["Pro", "free", "acestep", "levo2", "heartmula", "", "-1", "1e309", "NaN",
                                           "repaint", "cover", "/etc/passwd", "../x", "{}", "[]", "4", "2.5"]),
    st.lists(st.one_of(st.integers(), st.text(max_size=5)), max_size=3),
    st.dictionaries(st.text(max_size=5), st.one_of(st.integers(), st.text(max_size=5)), max_size=2),
    st.fixed_dictionaries({"path": st.sampled_from(["/etc/passwd", "x.wav", ""]),
                           "meta": st.just({"_type": "gradio.FileData"})}),
)


class Rendered(StudioError):
    """What the stand-in GPU function says: the call passed every check before the GPU."""


@dataclass
class Running:
    url: str
    endpoints: dict[str, int]  # name -> number of parameters


@pytest.fixture(scope="module")
def app(tiny_acestep_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    from studio import ratelimit
    from studio.library import Library
    from studio.ui import build_app, launch_options, runner
    from studio.ui.runner import STUDIO

    def no_render(*_args: object, **_kwargs: object) -> None:
        raise Rendered("rendered")

    env = {"STUDIO_ACESTEP_WEIGHTS": str(tiny_acestep_dir), "STUDIO_DEVICE": "cpu", "STUDIO_MULTI_USER": "1",
           "STUDIO_RATE_LIMIT": "off", "STUDIO_QUEUED_PER_VISITOR": "off", "STUDIO_QUEUED_PER_ADDRESS": "off",
           "STUDIO_UPLOADS_PER_VISITOR": "off"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    patched = {"render_on_gpu": runner.render_on_gpu, "describe_on_gpu": runner.describe_on_gpu}
    runner.render_on_gpu = no_render  # type: ignore[assignment]
    runner.describe_on_gpu = no_render  # type: ignore[assignment]
    gpu_limiter = ratelimit.GPU
    ratelimit.GPU = ratelimit.RateLimiter()
    library = Library(tmp_path_factory.mktemp("fuzz-library"))
    demo = build_app(library=library)
    options = {**launch_options(demo), "prevent_thread_lock": True, "quiet": True, "server_port": None}
    try:
        demo.launch(**options)
        url = demo.local_url.rstrip("/")
        info = httpx.get(f"{url}/gradio_api/info", timeout=30).json()
        endpoints = {name.lstrip("/"): len(spec["parameters"]) for name, spec in info["named_endpoints"].items()}
        yield Running(url, endpoints)
    finally:
        demo.close()
        library.close()
        STUDIO.cache.unload_all()
        for name, fn in patched.items():
            setattr(runner, name, fn)
        ratelimit.GPU = gpu_limiter
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)


def test_every_endpoint_is_listed(app: Running) -> None:
    """The fuzz below covers what /gradio_api/info lists; these are the ones the README documents."""
    documented = {"generate", "edit", "stems", "tasks", "format_lyrics", "plan", "backends", "library",
                  "sing_again", "check"}
    assert documented <= set(app.endpoints), sorted(app.endpoints)


def bodies(parameters: int) -> st.SearchStrategy:
    right_length = st.lists(VALUE, min_size=parameters, max_size=parameters)
    return st.one_of(
        st.builds(lambda d: {"data": d}, right_length),
        st.builds(lambda d: {"data": d}, st.lists(VALUE, max_size=parameters + 3)),
        st.builds(lambda d: {"data": d}, VALUE),
        st.dictionaries(st.sampled_from(["data", "fn_index", "session_hash", "x"]), VALUE, max_size=3),
    )


def _check(name: str, body: object, status: int, text: str) -> None:
    assert status != 500, (name, body, text[:600])
    assert "Something went wrong" not in text, (name, body, text[:600])
    assert "errors.pydantic.dev" not in text and "Traceback" not in text, (name, body, text[:600])


def _stream_answer(text: str) -> str:
    """The data of the last ``error`` or ``complete`` event of an event stream."""
    answer, event = "", ""
    for line in text.splitlines():
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and event in ("error", "complete"):
            answer = line.split(":", 1)[1].strip()
    return answer


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_any_body_on_any_endpoint_and_route_gets_an_answer_or_a_sentence(app: Running, data) -> None:
    name = data.draw(st.sampled_from(sorted(app.endpoints)), label="endpoint")
    body = data.draw(bodies(app.endpoints[name]), label="body")
    route = data.draw(st.sampled_from(["run", "call"]), label="route")
    # Python's json writes NaN and Infinity, as a hand-written client would send them.
    answer = httpx.post(f"{app.url}/gradio_api/{route}/{name}", content=json.dumps(body), timeout=120,
                        headers={"content-type": "application/json"})
    _check(name, body, answer.status_code, answer.text)
    if answer.status_code == 422:
        assert json.loads(answer.text).get("error") or json.loads(answer.text).get("detail"), answer.text
    if route == "call" and answer.status_code == 200:
        stream = httpx.get(f"{app.url}/gradio_api/call/{name}/{answer.json()['event_id']}", timeout=120)
        _check(name, body, stream.status_code, stream.text)
        final = _stream_answer(stream.text)
        assert final and final != "null", (name, body, stream.text[:600])  # an error carries its sentence


@pytest.fixture(scope="module")
def page_events(app: Running) -> dict[int, int]:
    """fn_index -> number of inputs, for every event the page sends straight to /run/predict (unqueued)."""
    config = httpx.get(f"{app.url}/config", timeout=30).json()
    return {d["id"]: len(d["inputs"]) for d in config["dependencies"]
            if d.get("queue") is False and d.get("backend_fn") and not d.get("cancels")}


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_any_values_on_the_pages_own_events_get_an_answer_or_a_sentence(app: Running, page_events, data) -> None:
    """What the page's controls send (like, rename, delete, open, estimate, ...), by fn_index with any values:
    a script is not held to the choices a dropdown offers."""
    index = data.draw(st.sampled_from(sorted(page_events)), label="fn_index")
    values = data.draw(st.lists(VALUE, min_size=page_events[index], max_size=page_events[index]), label="data")
    body = {"fn_index": index, "data": values, "session_hash": "fuzz-page", "event_data": data.draw(VALUE)}
    answer = httpx.post(f"{app.url}/gradio_api/run/predict", content=json.dumps(body), timeout=120,
                        headers={"content-type": "application/json"})
    _check(f"fn {index}", body, answer.status_code, answer.text)


@pytest.mark.parametrize("event_data", ["fuzzVisitorKey_0123456789abcdef", 7, ["song"], None, {"song": 3}])
def test_event_data_of_any_shape_on_every_page_event_gets_an_answer_or_a_sentence(
    app: Running, page_events, event_data
) -> None:
    """Found by the fuzz above (a string as the Library list's tap data read as a dict, 500 with an error
    id): every page event, each with event data of a shape the page never sends."""
    for index, inputs in sorted(page_events.items()):
        body = {"fn_index": index, "data": ["fuzzVisitorKey_0123456789abcdef"] * inputs, "session_hash": "fuzz-shape",
                "event_data": event_data}
        answer = httpx.post(f"{app.url}/gradio_api/run/predict", content=json.dumps(body), timeout=120,
                            headers={"content-type": "application/json"})
        _check(f"fn {index}", body, answer.status_code, answer.text)
