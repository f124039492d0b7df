"""Issues 20 and 21 as a visitor meets them in Chromium (1366x900 and 390x844): stems from the Edit
view's task list (an upload, then a Library song), best of N in the Create view, and the karaoke line
changing while a checked take plays.

Screenshots go to $STUDIO_SHOTS (default: the test's tmp folder).
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from tests.ui.test_browser_failures import DESKTOP, PHONE, _run, _shortest, _songs, _toast, page, studio  # noqa: F401
from tests.ui.test_browser_walk import _pick

pytestmark = pytest.mark.browser

LYRICS = "[Verse]\nNeon rivers in the night\n[Chorus]\nHold on to the light"


def _shots(tmp_path: Path) -> Path:
    shots = Path(os.environ.get("STUDIO_SHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    return shots


def _wide_enough(browser_page, url: str, tab: str) -> None:
    """The tab fits a 390 px phone (no sideways scroll)."""
    phone = browser_page.context.browser.new_page(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    try:
        phone.goto(url, wait_until="load")
        phone.get_by_role("tab", name=tab).click()
        phone.wait_for_timeout(500)
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the {tab} view scrolls sideways on a phone ({width} px wide)"
    finally:
        phone.close()


def _fill_song(page) -> None:  # noqa: F811
    page.locator("#lyrics textarea").fill(LYRICS)
    page.locator("textarea[placeholder^='dreamy']").fill("synth pop")
    _shortest(page)


def test_best_of_n_from_the_create_view(page, studio, tmp_path: Path) -> None:  # noqa: F811
    shots = _shots(tmp_path)
    _fill_song(page)
    takes = page.locator("#takes input[type=number]")
    takes.fill("2")
    takes.press("Enter")
    _pick(page, "Keep", "the best")
    page.screenshot(path=str(shots / "desktop-best-of-n-form.png"), full_page=True)
    before = len(_songs(studio))
    _run(page, "#generate", "#status")
    # Two takes made and checked, the better one kept: one card, one new song in the Library.
    assert "The best of 2 takes ready" in page.locator("#status").inner_text()
    assert page.locator("#take-0").is_visible() and not page.locator("#take-1").is_visible()
    assert len(_songs(studio)) == before + 1
    page.screenshot(path=str(shots / "desktop-best-of-n-kept.png"), full_page=True)
    # Nothing to choose among: refused in the form's words, before any GPU time.
    takes.fill("1")
    takes.press("Enter")
    page.locator("#generate").click()
    _toast(page, "“Keep” must be fewer than “Takes”")
    assert len(_songs(studio)) == before + 1
    _wide_enough(page, studio[0], "Create")
    phone = page.context.browser.new_page(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    try:
        phone.goto(studio[0], wait_until="load")
        phone.wait_for_selector("#keep-best", timeout=30_000)
        phone.locator("#takes").scroll_into_view_if_needed()
        phone.screenshot(path=str(shots / "phone-best-of-n.png"))
        # Takes, Keep and Instrumental each show whole (none squeezed under another on a phone).
        boxes = [phone.locator(f"#{name}").bounding_box() for name in ("instrumental", "takes", "keep-best")]
        assert all(b is not None and b["x"] >= 0 and b["x"] + b["width"] <= 390 for b in boxes), boxes
    finally:
        phone.close()


class GivenTranscript:
    """What a Whisper would hear, given: lets the browser see heard lines without a real ASR model
    (the tiny random Whisper hears noise). Same interface as ``studio.quality.asr.Transcriber``."""

    location = "a given transcript"

    def words(self, audio, sample_rate: int, language: str | None = None) -> list:
        from studio.quality.report import Word

        timed = [("neon", 0.3), ("rivers", 0.7), ("in", 1.1), ("the", 1.4), ("night", 1.7),
                 ("hold", 4.0), ("on", 4.4), ("to", 4.8), ("the", 5.1), ("light", 5.4)]
        return [Word(text=w, start=t, end=t + 0.3) for w, t in timed]


def test_the_karaoke_line_changes_while_a_checked_take_plays(page, studio, tmp_path: Path, monkeypatch) -> None:  # noqa: F811
    """The take's checks are written after it became playable (studio.later), and the fresh card's
    player is not refreshed (that would stop a song already playing): the karaoke line shows where
    the song is opened once checked, here the Library's player."""
    from studio.quality import finish
    from studio.ui import runner

    shots = _shots(tmp_path)
    monkeypatch.setattr(finish, "studio_transcriber", lambda on_progress=None: GivenTranscript())
    _fill_song(page)
    _run(page, "#generate", "#status")
    assert runner.LATER.wait(runner.LATER.waiting(), timeout=120)
    page.get_by_role("tab", name="Library").click()
    page.locator("#library-list .song-main >> visible=true").first.click()
    player = page.locator("#library-player")
    player.wait_for(timeout=15_000)
    page.wait_for_selector("#library-player audio, #library-player [data-testid=waveform-controls]",
                           state="attached", timeout=15_000)
    page.wait_for_timeout(1000)  # the waveform loads the file before its play button answers
    player.locator("button.play-pause-button, button[aria-label='Play']").first.click()
    shown = player.locator("[data-testid=subtitle-display]")
    shown.filter(has_text="Neon rivers in the night").wait_for(timeout=30_000)
    player.screenshot(path=str(shots / "desktop-karaoke-line-1.png"))
    shown.filter(has_text="Hold on to the light").wait_for(timeout=30_000)
    player.screenshot(path=str(shots / "desktop-karaoke-line-2.png"))
    assert "Neon" not in shown.inner_text()


def _tiny_demucs(folder: Path, monkeypatch) -> None:
    from tests.separation.tiny import save_published_layout, tiny_htdemucs

    monkeypatch.setenv("STUDIO_STEMS_WEIGHTS", str(save_published_layout(tiny_htdemucs(), folder / "HTDemucs")))


def _split(page, stems: str) -> list[str]:  # noqa: F811
    """Pick "Split into stems" in the task list, the stem count, press Split; the names in the DAW pack."""
    page.get_by_label("Split into stems").check()
    page.wait_for_selector("#edit-source-stems", state="visible", timeout=15_000)
    assert not page.locator("#edit").is_visible(), "the Edit button shows while splitting"
    # The split's own estimate, in this machine's terms (a CPU's minutes are not GPU time).
    page.wait_for_selector("#edit-estimate:has-text('Splitting') >> text=on this CPU", timeout=30_000)
    page.locator("#edit-stems").get_by_label(stems, exact=True).check()
    page.locator("#edit-source-stems").click()
    page.wait_for_selector("#edit-source-stems-report:has-text('reconstruction error')", timeout=300_000)
    link = page.locator("#edit-stems a[href*='DAW%20pack'], #edit-stems a[href*='DAW pack']").first
    with page.expect_download() as download:
        link.click()
    pack = Path(download.value.path())
    with zipfile.ZipFile(pack) as z:
        return z.namelist()


def test_stems_from_the_edit_task_list_for_an_upload_and_a_library_song(
    page, studio, tmp_path: Path, monkeypatch  # noqa: F811
) -> None:
    from studio.library import Library
    from studio.quality.align import check_lyrics
    from studio.quality.report import TakeChecks
    from studio.quality.store import save_checks
    from studio.song import SongRequest
    from studio.ui import runner, visitor
    from tests.separation.tiny import make_song

    shots = _shots(tmp_path)
    _tiny_demucs(tmp_path, monkeypatch)
    page.get_by_role("tab", name="Edit").click()
    page.wait_for_selector("#edit", timeout=30_000)
    page.locator("#edit-source input[type=file]").set_input_files(str(make_song(tmp_path / "my demo.wav", 3.0)))
    page.wait_for_selector("text=Source: 3.0 s", timeout=30_000)
    names = _split(page, "2 stems")
    assert {"my demo - vocals.wav", "my demo - accompaniment.wav", "my demo - info.txt"} <= set(names), names
    page.screenshot(path=str(shots / "desktop-stems-upload.png"), full_page=True)
    # Back to an edit task: the edit's own controls return.
    page.get_by_label("Repaint").check()
    page.wait_for_selector("#edit", state="visible", timeout=15_000)
    assert not page.locator("#edit-source-stems").is_visible()

    # A Library song, checked against its lyrics: its stems stay with it and the pack times its sections.
    library = Library(studio[1])
    try:
        _, (song,) = runner.make_songs(
            SongRequest(title="Night Rivers", style="pop", lyrics=LYRICS, duration=10, seed=3,
                        options={"steps": 1}),
            owner=visitor.owner_for(None), library=library,
        )
        # The background writer saves the take's own checks once the song plays (studio.later); the
        # given transcript's checks are saved after it, or they would be overwritten.
        assert runner.LATER.wait([song.id], timeout=120)
        heard = GivenTranscript().words(None, 48_000)
        save_checks(song.audio_path, TakeChecks(duration=10, measures=[],
                                                lyrics=check_lyrics(LYRICS, heard, duration=10)))
    finally:
        library.close()
    page.get_by_role("tab", name="Library").click()
    page.locator("#library-list :text('Night Rivers') >> visible=true").first.click()
    page.wait_for_selector("#library-player audio", timeout=15_000, state="attached")
    page.get_by_role("button", name="✂ Edit").last.click()
    page.wait_for_selector("text=Source: 10.0 s", timeout=30_000)
    names = _split(page, "4 stems")
    assert "Night Rivers - drums.wav" in names and "Night Rivers - info.txt" in names, names
    assert (song.audio_path.parent / "stems" / song.id / "4").is_dir()  # kept with the song
    with zipfile.ZipFile(next((song.audio_path.parent / "stems" / song.id / "4").glob("*DAW pack.zip"))) as z:
        info = z.read("Night Rivers - info.txt").decode()
    assert "0:00.3  [Verse]" in info and "0:04.0  [Chorus]" in info, info
    page.screenshot(path=str(shots / "desktop-stems-library.png"), full_page=True)
    phone = page.context.browser.new_page(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    try:
        phone.goto(studio[0], wait_until="load")
        phone.get_by_role("tab", name="Edit").click()
        phone.get_by_label("Split into stems").check()
        phone.wait_for_selector("#edit-source-stems", state="visible", timeout=15_000)
        phone.screenshot(path=str(shots / "phone-stems-task.png"), full_page=True)
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the Edit view scrolls sideways on a phone ({width} px wide)"
        # Pressed without a song: a sentence, not a crash.
        phone.locator("#edit-source-stems").click()
        _toast(phone, "upload a song first")
    finally:
        phone.close()
