"""Per-address caps against a launched studio: uploads per time window (issue 18 item 3) and the
session store (item 7). Addresses come through a trusted proxy's X-Forwarded-For, as on a Space."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

PROXY = {"STUDIO_MULTI_USER": "1", "STUDIO_TRUSTED_PROXY_HOPS": "1", "STUDIO_RATE_LIMIT": "off"}


def _from(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


def upload(url: str, address: str, size: int) -> httpx.Response:
    files = {"files": ("song.wav", b"\0" * size, "audio/wav")}
    return httpx.post(f"{url.rstrip('/')}/gradio_api/upload", files=files, headers=_from(address), timeout=30)


@pytest.fixture
def fresh_ledger(monkeypatch):
    from studio.ui import upload_caps

    ledger = upload_caps.UploadLedger()
    monkeypatch.setattr(upload_caps, "LEDGER", ledger)
    return ledger


def test_uploads_past_the_window_are_refused_with_a_sentence_per_address(studio_app, fresh_ledger) -> None:
    """The attack: a loop posting files, each under STUDIO_MAX_UPLOAD, filled gradio's cache folder."""
    env = {**PROXY, "STUDIO_UPLOADS_PER_VISITOR": "3/3600", "STUDIO_UPLOAD_BYTES_PER_VISITOR": "60kb/3600"}
    with studio_app(**env) as url:
        for _ in range(3):
            assert upload(url, "198.51.100.1", 1000).status_code == 200
        fourth = upload(url, "198.51.100.1", 1000)
        assert fourth.status_code == 429, fourth.text
        sentence = fourth.text  # plain text: the page's toast shows the body as it is
        assert sentence.startswith("you have uploaded 3 files in the last hour") and "try again in 60 min" in sentence
        # A spoofed header does not reset it: the proxy's own entry (the last) is the address.
        spoofed = httpx.post(f"{url.rstrip('/')}/gradio_api/upload", headers=_from("203.0.113.9, 198.51.100.1"),
                             files={"files": ("a.wav", b"\0" * 10, "audio/wav")}, timeout=30)
        assert spoofed.status_code == 429
        # Bytes: another address may send 40 kB, but not 40 more within the hour.
        assert upload(url, "198.51.100.2", 40_000).status_code == 200
        over = upload(url, "198.51.100.2", 40_000)
        assert over.status_code == 429, over.text
        assert re.match(r"your uploads in the last hour come to 4\d kB; with this one they would pass 60 kB, the "
                        r"most one address may upload here; try again in 60 min", over.text), over.text
        # Everyone else uploads as before.
        assert upload(url, "198.51.100.3", 1000).status_code == 200


def test_upload_windows_are_off_for_one_person_and_a_bad_setting_says_how_to_write_it(monkeypatch) -> None:
    from studio.ground.errors import StudioError
    from studio.ui import upload_caps

    monkeypatch.delenv("STUDIO_MULTI_USER", raising=False)
    monkeypatch.delenv("SPACE_ID", raising=False)
    monkeypatch.delenv(upload_caps.COUNT_ENV, raising=False)
    monkeypatch.delenv(upload_caps.BYTES_ENV, raising=False)
    assert upload_caps.count_window() is None and upload_caps.bytes_window() is None
    monkeypatch.setenv("STUDIO_MULTI_USER", "1")
    assert upload_caps.count_window() == upload_caps.Window(30, 3600)
    assert upload_caps.bytes_window() == upload_caps.Window(1024**3, 3600)
    monkeypatch.setenv(upload_caps.BYTES_ENV, "lots")
    with pytest.raises(StudioError, match="STUDIO_UPLOAD_BYTES_PER_VISITOR must look like `1gb/3600`"):
        upload_caps.bytes_window()
    monkeypatch.setenv(upload_caps.COUNT_ENV, "0/60")
    with pytest.raises(StudioError, match="STUDIO_UPLOADS_PER_VISITOR must look like `30/3600`"):
        upload_caps.count_window()


def _flood_and_check(url: str, demo_holder, visitor_call) -> tuple[bool, int]:
    """The visitor's page opens a session; one address then sends 3x the store's capacity of cheap calls,
    each naming a fresh session. Returns (the visitor's session survived, sessions the flooder holds)."""
    assert visitor_call().status_code == 200
    holder = demo_holder()
    state = holder.session_data["visitor-tab"]
    for _ in range(3 * holder.capacity):
        answer = visitor_call(session=secrets.token_hex(8), address="203.0.113.66")
        assert answer.status_code == 200, answer.text
    survived = holder.session_data.get("visitor-tab") is state
    flooder = sum(1 for s in holder.session_data if s != "visitor-tab")
    if survived:  # the open page keeps working, on the state it had
        assert visitor_call().status_code == 200 and demo_holder().session_data["visitor-tab"] is state
    return survived, flooder


@contextmanager
def launched(weights: Path, library_dir: Path, **env: str) -> Iterator[tuple[str, Any]]:
    """The studio launched as app.py launches it; yields its URL and its Blocks."""
    from studio.library import Library
    from studio.ui import build_app, launch_options

    saved = {k: os.environ.get(k) for k in ("STUDIO_ACESTEP_WEIGHTS", "STUDIO_DEVICE", *env)}
    os.environ.update({"STUDIO_ACESTEP_WEIGHTS": str(weights), "STUDIO_DEVICE": "cpu", **env})
    library = Library(library_dir)
    demo = build_app(library=library)
    options = {**launch_options(demo), "prevent_thread_lock": True, "quiet": True, "server_port": None}
    try:
        demo.launch(**options)
        yield demo.local_url.rstrip("/"), demo
    finally:
        demo.close()
        library.close()
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)


@pytest.mark.parametrize("per_address", ["off", "5"])
def test_a_flood_from_one_address_does_not_evict_an_open_page(tiny_acestep_dir, tmp_path, per_address) -> None:
    """With the cap off the attack works (the visitor's session is evicted); with it, it does not."""
    env = {**PROXY, "STUDIO_SESSION_CAPACITY": "20", "STUDIO_SESSIONS_PER_ADDRESS": per_address}
    with launched(tiny_acestep_dir, tmp_path / "library", **env) as (url, demo):
        ensure = next(i for i, f in demo.fns.items() if getattr(f.fn, "__name__", "") == "ensure_key")

        def visitor_call(session: str = "visitor-tab", address: str = "198.51.100.10") -> httpx.Response:
            return httpx.post(f"{url}/gradio_api/run/predict", headers=_from(address), timeout=30,
                              json={"fn_index": ensure, "data": [None], "session_hash": session})

        survived, flooder = _flood_and_check(url, lambda: demo.state_holder, visitor_call)
        if per_address == "off":
            assert not survived  # the attack, reproduced
        else:
            assert survived and flooder <= 5
