"""The studio in headless Chromium: type lyrics, Generate, wait for the player; no console errors.

Uses Debian's `chromium` through Playwright (never `playwright install`); skips when either is missing.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

pytestmark = pytest.mark.browser


def _browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip(
            "Playwright is not installed (pip install playwright; `scripts/setup.sh --dev` does it)"
        )
    if not CHROMIUM.exists() and not shutil.which("chromium"):
        pytest.skip("Chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    return sync_playwright


def watch(page, problems: list[str]) -> None:
    """Record on ``page`` every console error, uncaught page error and HTTP 5xx answer (issue 17: the
    browser suite fails on any of them, on every path it walks)."""
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" and "status of 5" not in m.text
            else None)  # Chromium's own line for a failed call: recorded below with its URL
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("response", lambda r: problems.append(f"HTTP {r.status} {r.url}") if r.status >= 500 else None)


@contextmanager
def studio_page(studio_app) -> Iterator[tuple[object, object, list[str], str]]:
    """(browser, desktop page on the launched studio, console errors seen so far, the studio's URL)."""
    sync_playwright = _browser()
    with studio_app() as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            problems: list[str] = []
            watch(page, problems)
            page.goto(url, wait_until="load")
            yield browser, page, problems, url
        finally:
            browser.close()


def test_type_lyrics_generate_and_hear_the_song(studio_app, tmp_path: Path) -> None:
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with studio_page(studio_app) as (browser, page, problems, url):
        page.wait_for_selector("#generate", timeout=30_000)
        page.locator("#lyrics textarea").fill("[Verse]\nNeon rivers in the night\n\n[Chorus]\nWe run")
        page.get_by_role("button", name="Pop", exact=True).click()
        page.wait_for_function(
            "document.querySelector('textarea[placeholder^=\"dreamy\"]').value !== ''"
        )
        page.locator("#generate").click()
        page.wait_for_selector(
            "#take-0 audio, #take-0 .waveform-container", timeout=90_000, state="attached"
        )
        page.wait_for_selector("#status:has-text('ready')", timeout=30_000)
        # The player decoded the file it streams (the 16-bit FLAC): its duration label reads the song's length.
        page.wait_for_function(
            "Array.from(document.querySelectorAll('#take-0 time')).some(t => t.textContent.trim() === '1:00')",
            timeout=30_000,
        )
        page.screenshot(path=str(shots / "desktop.png"), full_page=True)
        page.get_by_role("tab", name="Library").click()
        page.wait_for_selector("#library-list :text('Catchy pop') >> visible=true", timeout=15_000)
        page.locator("#library-list :text('Catchy pop') >> visible=true").first.click()
        page.wait_for_selector("#library-player audio", timeout=15_000, state="attached")
        page.screenshot(path=str(shots / "library.png"), full_page=True)
        phone = browser.new_page(
            viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True
        )
        watch(phone, problems)
        phone.goto(url, wait_until="load")
        phone.wait_for_selector("#generate", timeout=30_000)
        phone.screenshot(path=str(shots / "phone.png"), full_page=True)
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways on a phone ({width} px wide)"
    assert problems == [], problems
    assert (shots / "desktop.png").stat().st_size > 10_000 and (shots / "phone.png").stat().st_size > 10_000
    print(f"screenshots in {shots}")


def test_upload_a_song_repaint_a_part_and_hear_it(studio_app, tmp_path: Path) -> None:
    import numpy as np
    import soundfile as sf

    song = tmp_path / "my-demo.wav"
    t = np.arange(11 * 48_000) / 48_000
    sf.write(str(song), np.stack([0.3 * np.sin(2 * np.pi * 220 * t)] * 2, axis=1).astype(np.float32), 48_000)
    with studio_page(studio_app) as (browser, page, problems, url):
        phone = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True)
        watch(phone, problems)
        phone.goto(url, wait_until="load")
        phone.get_by_role("tab", name="Edit").click()
        phone.wait_for_selector("#edit", timeout=30_000)
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the Edit view scrolls sideways on a phone ({width} px wide)"
        page.get_by_role("tab", name="Edit").click()
        page.wait_for_selector("#edit", timeout=30_000)
        page.locator("#edit-source input[type=file]").set_input_files(str(song))
        page.wait_for_selector("text=Source: 11.0 s", timeout=30_000)
        page.get_by_label("Repaint").check()
        page.wait_for_selector("text=Runs on", timeout=15_000)
        page.locator("#edit").click()
        page.wait_for_selector(
            "#edit-take-0 audio, #edit-take-0 .waveform-container", timeout=90_000, state="attached"
        )
        page.wait_for_selector("h3:text-is('my-demo (Repaint)') >> visible=true", timeout=30_000)
        page.screenshot(path=str(tmp_path / "edit.png"), full_page=True)
    assert problems == [], problems
