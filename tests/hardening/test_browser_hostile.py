"""A visitor's page under attack, in headless Chromium (issue 18 items 3 and 7): an open page keeps its
takes and keeps working while one address floods the session store, and an upload past the caller's
window is refused on the page in words. Addresses arrive through a trusted proxy's X-Forwarded-For.

Screenshots go to ``STUDIO_SHOTS`` when it is set (to look at them), else nowhere."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf

from tests.ui.conftest import running_studio
from tests.ui.test_browser import CHROMIUM, FLAGS, _browser
from tests.ui.test_browser_failures import DESKTOP, PHONE, _run, _shortest

pytestmark = pytest.mark.browser
VISITOR = "198.51.100.10"
FLOODER = "203.0.113.66"


@pytest.fixture(scope="module")
def studio(tiny_acestep_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {"STUDIO_MULTI_USER": "1", "STUDIO_TRUSTED_PROXY_HOPS": "1", "STUDIO_RATE_LIMIT": "off",
           "STUDIO_SESSION_CAPACITY": "20", "STUDIO_SESSIONS_PER_ADDRESS": "5",
           "STUDIO_UPLOADS_PER_VISITOR": "1/3600"}
    with running_studio(tmp_path_factory.mktemp("hostile") / "library", tiny_acestep_dir, **env) as url:
        yield url.rstrip("/")


def _shot(page, name: str) -> None:
    folder = os.environ.get("STUDIO_SHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=False)


def _page(pw, url: str, viewport: dict, address: str):
    browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS, headless=True)
    context = browser.new_context(viewport=viewport, extra_http_headers={"X-Forwarded-For": address})
    page = context.new_page()
    page.goto(url, wait_until="load")
    page.wait_for_selector("#generate", timeout=30_000)
    return browser, page


def test_an_open_page_keeps_its_takes_under_a_session_flood(studio: str) -> None:
    sync_playwright = _browser()
    with sync_playwright() as pw:
        browser, page = _page(pw, studio, DESKTOP, VISITOR)
        try:
            page.locator("#lyrics textarea").fill("[Verse]\nStill here after the flood")
            _shortest(page)
            _run(page, "#generate", "#status")
            # 60 cheap calls, each naming a fresh session, from one address: 3x the store's capacity.
            config = httpx.get(f"{studio}/config", timeout=30).json()
            load = next(d["id"] for d in config["dependencies"] if d.get("backend_fn") and d.get("queue") is False
                        and any(t[1] == "load" for t in d.get("targets", [])))
            for _ in range(60):
                httpx.post(f"{studio}/gradio_api/run/predict", headers={"X-Forwarded-For": FLOODER}, timeout=30,
                           json={"fn_index": load, "data": [None], "session_hash": secrets.token_hex(8)})
            # The card's Like reads the take ids kept in this tab's session: evicted, it had none.
            like = page.get_by_role("button", name="♡ Like").first
            like.click()
            page.wait_for_selector("button:has-text('♥ Liked')", timeout=30_000)
            _shot(page, "flood-desktop-liked")
            assert not page.locator(".toast-body:has-text('no song on this card')").count()
        finally:
            browser.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_an_upload_past_the_window_is_refused_on_the_page_in_words(studio: str, tmp_path: Path, viewport) -> None:
    from studio.ui import upload_caps

    upload_caps.LEDGER = upload_caps.UploadLedger()  # each page starts with an empty window
    song = tmp_path / "mine.wav"
    sf.write(song, np.zeros((48_000 * 11, 2), dtype=np.float32), 48_000)
    sync_playwright = _browser()
    with sync_playwright() as pw:
        browser, page = _page(pw, studio, viewport, f"198.51.100.{20 + viewport['width'] % 7}")
        try:
            page.get_by_role("tab", name="Edit").click()
            page.locator("#edit-source input[type=file]").set_input_files(str(song))  # the window's one file
            page.wait_for_selector("text=Source: 11.0 s", timeout=60_000)
            page.get_by_role("tab", name="Create").click()
            page.locator("#restore input[type=file]").set_input_files(str(song))  # the second: past the window
            try:
                said = page.wait_for_selector("text=you have uploaded 1 file in the last hour", timeout=30_000)
                # gradio's page shows a refused upload as a toast: "HTTP 429: " and the body, so the body is
                # the sentence itself, not JSON.
                toast = said.inner_text()
                assert toast.startswith("HTTP 429: you have uploaded 1 file in the last hour") and "{" not in toast
                page.wait_for_timeout(600)  # the toast fades in
            finally:
                _shot(page, f"upload-refused-{viewport['width']}")
        finally:
            browser.close()
