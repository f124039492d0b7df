"""The page's limits hold when a script calls the private GPU events itself (issue 18): joining
``ui_generate`` by ``fn_index`` on /gradio_api/queue/join skipped the page's check (``ui_generate_ready``),
so one visitor could hold the whole GPU queue and be refused only after the wait."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
import httpx
import pytest

from tests.hardening.test_limits_hold import held_gpu, wait_for
from tests.launched import launched_studio


@dataclass
class Running:
    url: str
    demo: gr.Blocks

    def event(self, api_name: str) -> tuple[int, Any]:
        return next((i, f) for i, f in self.demo.fns.items() if f.api_name == api_name)

    def join(self, api_name: str, session: str, **values: Any) -> httpx.Response:
        """Join the event the way the page does, with the form's defaults and ``values`` by label."""
        index, fn = self.event(api_name)
        data = []
        for block in fn.inputs:
            label = getattr(block, "label", None) or getattr(block, "elem_id", None)
            if isinstance(block, gr.BrowserState):
                data.append(values.get("key"))
            elif label in values:
                data.append(values[label])
            else:
                data.append(getattr(block, "value", None))
        body = {"data": data, "fn_index": index, "session_hash": session, "event_data": None, "trigger_id": None}
        return httpx.post(f"{self.url}/gradio_api/queue/join", json=body, timeout=60)

    def outcome(self, session: str) -> str:
        """The error (or output) of the session's finished event, from gradio's event stream."""
        with httpx.stream("GET", f"{self.url}/gradio_api/queue/data", params={"session_hash": session},
                          timeout=120) as stream:
            for line in stream.iter_lines():
                if line.startswith("data:") and '"process_completed"' in line:
                    return json.dumps(json.loads(line[5:])["output"])
        raise AssertionError(f"no outcome for {session}")


@pytest.fixture
def launched(tiny_acestep_dir: Path, tmp_path: Path):
    @contextmanager
    def start(**env: str) -> Iterator[Running]:
        full = {"STUDIO_ACESTEP_WEIGHTS": str(tiny_acestep_dir), "STUDIO_DEVICE": "cpu", "STUDIO_MULTI_USER": "1",
                **env}
        with launched_studio(full, tmp_path / "library") as (url, demo, _library):
            yield Running(url, demo)

    return start


FORM = {"Style": "synth pop", "Lyrics": "[Verse]\nla la", "Duration (s)": 10}


def test_joining_the_private_generate_by_fn_index_meets_the_queue_cap_and_rate_limit(launched, monkeypatch) -> None:
    from studio import ratelimit
    from studio.ui import visitor

    monkeypatch.setattr(ratelimit, "GPU", ratelimit.RateLimiter())
    env = {"STUDIO_QUEUED_PER_VISITOR": "2", "STUDIO_RATE_LIMIT": "3/3600"}
    with held_gpu(monkeypatch) as (release, reached), launched(**env) as app:
        key = visitor.new_key()
        first = app.join("ui_generate", "script", key=key, **FORM)
        second = app.join("ui_generate", "script", key=key, **FORM)
        assert first.status_code == second.status_code == 200, (first.text, second.text)
        wait_for(lambda: len(reached) == 1)  # one renders (held), one waits behind it
        third = app.join("ui_generate", "script", key=key, **FORM)
        assert third.status_code == 422, third.text
        assert "you already have 2 songs waiting or being made" in third.text, third.text
        release.set()
        wait_for(lambda: len(reached) == 2)
        # Two of the hour's three calls are spent; the third is fine, the fourth is refused at the door.
        assert app.join("ui_generate", "other-tab", key=key, **FORM).status_code == 200
        wait_for(lambda: len(reached) == 3)
        fourth = app.join("ui_generate", "other-tab", key=key, **FORM)
        assert fourth.status_code == 422 and "faster than this studio allows" in fourth.text, fourth.text
        assert len(reached) == 3


def test_a_value_past_the_forms_limits_is_refused_before_the_queue(launched, monkeypatch) -> None:
    from studio.ui import visitor

    with held_gpu(monkeypatch) as (release, reached), launched(STUDIO_RATE_LIMIT="off") as app:
        release.set()
        key = visitor.new_key()
        for field, value, says in (("Duration (s)", 5000, "greater than maximum"), ("Takes", 9, "greater than maximum"),
                                   ("Style", "x" * 5000, "`style`")):
            answer = app.join("ui_generate", "script", key=key, **{**FORM, field: value})
            assert answer.status_code in (400, 422), (field, answer.text)
            assert says in answer.text and "Something went wrong" not in answer.text, (field, answer.text)
        # A model's own limit, narrower than the slider's (the page narrows the slider when the model
        # changes; a script never changes it): the render refuses it with the service's sentence before
        # the GPU, as it refuses the page (which shows it as a toast).
        joined = app.join("ui_generate", "model-limit", key=key, **{**FORM, "Model": "heartmula",
                                                                    "Duration (s)": 500})
        assert joined.status_code == 200, joined.text
        said = app.outcome("model-limit")
        assert "`duration` must be <= 240 s for HeartMuLa" in said, said
        assert reached == []


def test_every_private_gpu_event_refuses_at_the_door(launched, monkeypatch) -> None:
    """Each private event on the GPU queue that acts for a visitor runs its validator when joined by
    fn_index: a malformed key is refused with 422 and a sentence, before the queue."""
    with held_gpu(monkeypatch) as (release, reached), launched(STUDIO_RATE_LIMIT="off") as app:
        release.set()
        events = [(i, f) for i, f in app.demo.fns.items()
                  if f.concurrency_id == "gpu" and (f.api_name is None or str(f.api_name).startswith("ui_"))]
        joined = 0
        for index, fn in events:
            if not any(isinstance(b, gr.BrowserState) for b in fn.inputs):
                continue  # acts for no visitor (the System tab's unload, guarded in its handler)
            data = ["not-a-key" if isinstance(b, gr.BrowserState) else getattr(b, "value", None) for b in fn.inputs]
            body = {"data": data, "fn_index": index, "session_hash": f"door-{index}", "event_data": None,
                    "trigger_id": None}
            answer = httpx.post(f"{app.url}/gradio_api/queue/join", json=body, timeout=60)
            # The validator's refusal: the key, or (the Edit form) the missing song it checks first.
            refused = answer.status_code == 422 and '"is_valid":false' in answer.text.replace(" ", "")
            assert refused and "Something went wrong" not in answer.text, (
                getattr(fn.fn, "__name__", index), answer.status_code, answer.text[:300])
            joined += 1
        assert joined >= 6 and reached == []  # generate, edit, the sketch, sing-again, the stem splits
