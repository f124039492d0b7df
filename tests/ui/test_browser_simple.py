"""Simple mode in Chromium, desktop and phone (issue 16.2, 17.6): the page names the planner that writes the
song, its size and whether it is here before anything is pressed; without the planner (the Hub offline,
nothing cached) "Write the song" fails with a sentence and the page stays usable; with the planner in the
HF cache (the published layout, a tiny random checkpoint) the sketch fills the form without the DiT.

Screenshots go to $STUDIO_SHOTS (default: this test's tmp folder) as desktop-simple-*.png and phone-simple-*.png.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.ui.conftest import running_studio
from tests.ui.test_browser import CHROMIUM, FLAGS, _browser
from tests.ui.test_browser_failures import DESKTOP, PHONE, _toast

pytestmark = pytest.mark.browser
SHA = "0123456789abcdef0123456789abcdef01234567"
NOT_HERE = "Uses the 1.7B planner (3.4 GB, not downloaded — fetched on first use)."
HERE = "Uses the 1.7B planner (3.4 GB, downloaded)"


def _simple(page) -> None:
    page.get_by_label("Simple").check()
    page.wait_for_selector("#description textarea", state="visible", timeout=30_000)


def _fits(page, width: int) -> None:
    wide = page.evaluate("document.scrollingElement.scrollWidth")
    assert wide <= width, f"the page is {wide} px wide on a {width} px screen"


def test_simple_mode_names_its_planner_fails_plainly_then_sketches(
    tiny_acestep_dir: Path, fixtures_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    import huggingface_hub.constants as constants

    import backends.acestep.planner.planner as planner_module
    from backends.acestep import sketch
    from tests.planner.tiny import save_tiny_planner

    cache = tmp_path / "hub"
    cache.mkdir()
    # The studio runs in this process: the Hub offline and an empty cache are what a fresh machine meets.
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.delenv("STUDIO_ACESTEP_PLANNER_WEIGHTS", raising=False)
    monkeypatch.setattr(planner_module, "FREE_TEXT_TOKEN_CAP", 64)  # a random model never stops by itself
    shots = Path(os.environ.get("STUDIO_SHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []

    def watch(page) -> None:
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("response", lambda r: problems.append(f"HTTP {r.status} {r.url}") if r.status >= 500 else None)

    sync_playwright = _browser()
    with running_studio(tmp_path / "library", tiny_acestep_dir) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS, headless=True)
        try:
            page = browser.new_page(viewport=DESKTOP)
            watch(page)
            page.goto(url, wait_until="load")
            page.wait_for_selector("#generate", timeout=30_000)
            assert not page.get_by_text("Uses the 1.7B planner").is_visible()  # Custom mode: no planner involved
            _simple(page)
            page.get_by_text(NOT_HERE).wait_for(timeout=30_000)
            page.screenshot(path=str(shots / "desktop-simple-not-downloaded.png"), full_page=True)

            # Without the planner and without the Hub: one sentence, and the button is there again.
            page.locator("#description textarea").fill("a melancholic bossa nova about the sea")
            page.locator("#write").click()
            _toast(page, "not on this machine")
            page.wait_for_selector("#write", state="visible", timeout=30_000)
            page.screenshot(path=str(shots / "desktop-simple-failure.png"), full_page=True)

            # The planner arrives in the cache (as a prefetch or `hf download` leaves it); the line says so
            # the next time Simple mode is opened.
            storage = cache / "models--ACE-Step--Ace-Step1.5"
            save_tiny_planner(storage / "snapshots" / SHA / "acestep-5Hz-lm-1.7B", fixtures_dir)
            (storage / "refs").mkdir()
            (storage / "refs" / "main").write_text(SHA)
            page.get_by_label("Custom").check()
            _simple(page)
            page.get_by_text(HERE).wait_for(timeout=30_000)
            page.locator("#write").click()
            # The sketch fills the form and hands it back in Custom mode for editing.
            page.wait_for_selector("#lyrics textarea", state="visible", timeout=300_000)
            assert page.get_by_label("Custom").is_checked()
            assert not page.locator("#description textarea").is_visible()
            from studio.ui.runner import STUDIO

            assert "acestep" not in STUDIO.cache.loaded()  # the DiT pipeline was not loaded for the sketch
            page.screenshot(path=str(shots / "desktop-simple-written.png"), full_page=True)

            phone = browser.new_page(viewport=PHONE, device_scale_factor=2, is_mobile=True)
            watch(phone)
            phone.goto(url, wait_until="load")
            phone.wait_for_selector("#generate", timeout=30_000)
            _simple(phone)
            line = phone.get_by_text(HERE)
            line.wait_for(timeout=30_000)
            box = line.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
            _fits(phone, PHONE["width"])
            phone.screenshot(path=str(shots / "phone-simple.png"), full_page=True)
        finally:
            browser.close()
            sketch.release_all()
    problems = [p for p in problems if "status of 5" not in p]
    assert problems == [], problems
