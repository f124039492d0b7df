"""The life of stored files, against a launched studio (issue 18 item 3): a deleted song cannot be
fetched from gradio's cache URL, and a full disk is told to the visitor in a sentence."""

from __future__ import annotations

import errno
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
import httpx
import pytest

from studio.library import Library
from tests.launched import launched_studio

ARGS = ["[Verse]\ncached song", "synth pop", "acestep", 10, False, 1, 1, "", 0, "", "", "", '{"steps": 1}']


@dataclass
class Running:
    url: str
    demo: gr.Blocks
    library: Library

    def fn_index(self, name: str) -> int:
        """The dependency index of the handler called ``name`` (private handlers have no api name)."""
        return next(i for i, f in self.demo.fns.items() if getattr(f.fn, "__name__", "") == name)


@pytest.fixture(scope="module")
def app(tiny_acestep_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    env = {"STUDIO_ACESTEP_WEIGHTS": str(tiny_acestep_dir), "STUDIO_DEVICE": "cpu", "STUDIO_MULTI_USER": "1",
           "STUDIO_RATE_LIMIT": "off"}
    with launched_studio(env, tmp_path_factory.mktemp("lifecycle-library")) as running:
        yield Running(*running)


def call(app: Running, name: str, data: list) -> tuple[str, Any]:
    """POST /gradio_api/call/<name> and read its event stream: ("complete", outputs) or ("error", message)."""
    joined = httpx.post(f"{app.url}/gradio_api/call/{name}", json={"data": data}, timeout=30)
    assert joined.status_code == 200, joined.text
    stream = httpx.get(f"{app.url}/gradio_api/call/{name}/{joined.json()['event_id']}", timeout=300)
    event = ""
    for line in stream.text.splitlines():
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and event in ("complete", "error"):
            return event, json.loads(line.split(":", 1)[1])
    raise AssertionError(stream.text)


def file_urls(value: Any) -> list[str]:
    if isinstance(value, dict):
        own = [value["url"]] if isinstance(value.get("url"), str) and "/file=" in value["url"] else []
        return own + [u for v in value.values() for u in file_urls(v)]
    if isinstance(value, list):
        return [u for v in value for u in file_urls(v)]
    return []


def test_a_deleted_song_is_not_downloadable_from_its_cache_url(app: Running) -> None:
    """Before, gradio's copy under /tmp/gradio/<hash>/ answered for up to six hours after the delete
    (``delete_cache=(3600, 6 * 3600)``)."""
    from studio.ui import visitor

    key = visitor.new_key()
    event, outputs = call(app, "generate", [*ARGS, key, False, False])
    assert event == "complete", outputs
    song_id = outputs[2]["songs"][0]["id"]
    # The Library view opens it too (its player and downloads are cached copies of their own).
    opened = httpx.post(f"{app.url}/gradio_api/run/predict", timeout=60, json={
        "fn_index": app.fn_index("select"), "data": [key], "session_hash": "visitor-page",
        "event_data": {"song": song_id, "action": "open"}})
    assert opened.status_code == 200, opened.text
    urls = sorted(set(file_urls(outputs) + file_urls(opened.json())))
    assert len(urls) >= 2, urls
    for url in urls:
        assert httpx.get(url, timeout=30).status_code == 200, url

    deleted = httpx.post(f"{app.url}/gradio_api/run/predict", timeout=60, json={
        "fn_index": app.fn_index("delete"), "data": [key, song_id], "session_hash": "visitor-page"})
    assert deleted.status_code == 200, deleted.text
    for url in urls:
        answer = httpx.get(url, timeout=30)
        assert answer.status_code in (403, 404), (url, answer.status_code)


def test_a_full_disk_while_finishing_reaches_the_visitor_as_a_sentence(app: Running, monkeypatch) -> None:
    """Writing the player's MP3 into the staging folder meets ENOSPC (as a full /tmp or /data raises it);
    before, only the library's own save said so and this one read "Something went wrong"."""
    from studio import finishing
    from studio.ui import visitor

    def full_disk(*_args: Any, **_kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(finishing, "export_song", full_disk)
    key = visitor.new_key()
    event, message = call(app, "generate", [*ARGS, key, False, False])
    assert event == "error", message
    text = json.dumps(message)
    assert "disk is full" in text and "Something went wrong" not in text and "Errno" not in text, text
    assert app.library.song_ids(visitor.owner_for(key)) == []  # nothing half-kept
