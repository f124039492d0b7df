"""The paths a newcomer meets first, walked in headless Chromium (issue 17): refusals, failures, empty fields.

One studio is launched for the module on the tiny ACE-Step weights; LeVo 2 has no weights here, so picking
it is the real "backend not available" failure a visitor meets. Every page records console errors and
HTTP 5xx responses; none may appear on any path walked.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.ui.conftest import running_studio
from tests.ui.test_browser import CHROMIUM, FLAGS, _browser, watch

pytestmark = pytest.mark.browser
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def studio(tiny_acestep_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("failures")
    library_dir = root / "library"
    # LeVo 2 pointed at an empty local folder: the real "weights missing" failure, with no Hub lookup.
    empty = root / "no-levo-weights"
    empty.mkdir()
    with running_studio(
        library_dir, tiny_acestep_dir, STUDIO_LEVO2_WEIGHTS=str(empty), STUDIO_LEVO2_RUNTIME=str(empty)
    ) as url:
        yield url, library_dir


@pytest.fixture
def page(studio):
    """A desktop page on the studio; after the test, no console error and no HTTP 5xx may have happened."""
    sync_playwright = _browser()
    url, _ = studio
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS, headless=True)
        try:
            page = browser.new_page(viewport=DESKTOP)
            problems: list[str] = []
            watch(page, problems)
            page.goto(url, wait_until="load")
            page.wait_for_selector("#generate", timeout=30_000)
            yield page
            assert problems == [], problems
        finally:
            browser.close()


def _songs(studio) -> list:
    from studio.library import Library
    from studio.ui import visitor

    library = Library(studio[1])
    try:
        return library.list(visitor.owner_for(None))
    finally:
        library.close()


def _toast(page, text: str) -> None:
    page.wait_for_selector(f".toast-body:has-text({text!r})", timeout=60_000)
    page.evaluate("document.querySelectorAll('.toast-close').forEach(b => b.click())")


def _settled(page, button: str, status: str, sentence: str) -> None:
    """After an outcome: the button is back, Cancel is gone, and the status says the sentence."""
    page.wait_for_selector(f"{status}:has-text({sentence!r})", timeout=60_000)
    assert page.locator(button).is_visible(), f"{button} stays hidden after a failure"
    assert not page.locator(f"{status}:has-text('Starting')").count()
    cancel = page.locator("#cancel" if button == "#generate" else "#edit-cancel")
    assert not cancel.is_visible(), "Cancel still shows after the run ended"


def _shortest(page) -> None:
    """The shortest song the model takes, in one step: the tiny checkpoint renders it in seconds even on a
    shared, busy CPU."""
    if not page.locator("#option-acestep-steps").is_visible():
        page.get_by_role("button", name="Advanced").click()
    for box, value in (("#duration", "10"), ("#option-acestep-steps", "1")):
        field = page.locator(f"{box} input[type=number]")
        field.fill(value)
        field.press("Enter")


def _run(page, button: str, status: str) -> None:
    """Press the run button and wait for this run's own "ready" or "❌" (the status empties when a run starts,
    so an earlier run's outcome still showing is not taken for this one's)."""
    outcome = f"(t => t.includes('ready') || t.includes('❌'))(document.querySelector('{status}').innerText)"
    page.locator(button).click()
    page.wait_for_function(f"!{outcome}", timeout=60_000)
    page.wait_for_function(outcome, timeout=400_000)
    said = page.locator(status).inner_text()
    assert "ready" in said, f"the run failed: {said}"
    page.wait_for_selector(button, state="visible", timeout=30_000)


def test_every_refusal_and_failure_says_why_and_gives_the_button_back(page) -> None:
    # A backend that cannot run here fails in the GPU step (issue 17.1).
    page.locator("#lyrics textarea").fill("[Verse]\nA line to sing")
    page.get_by_label("Model").click()
    page.get_by_role("option", name="LeVo 2", exact=False).first.click()
    page.locator("#generate").click()
    _toast(page, "LeVo 2")
    _settled(page, "#generate", "#status", "LeVo 2")
    # Simple mode before "Write the song": the instant pre-check refuses (issue 17.4).
    page.get_by_label("Model").click()
    page.get_by_role("option", name="ACE-Step", exact=False).first.click()
    page.get_by_label("Simple").check()
    page.locator("#generate").click()
    _toast(page, "Write the song")
    _settled(page, "#generate", "#status", "Write the song")
    page.get_by_label("Custom").check()
    # A LoRA named by a path on the server is refused at once, with the sentence (issue 17.4).
    page.get_by_role("button", name="Advanced").click()
    page.get_by_label("LoRAs from the Hub").fill("/etc/passwd")
    page.locator("#generate").click()
    page.wait_for_selector(".toast-body", timeout=30_000)
    sentence = page.locator(".toast-body").first.inner_text().strip().splitlines()[-1]
    assert sentence and sentence != "Error", sentence
    _settled(page, "#generate", "#status", sentence[:40])
    # Edit without a song (issue 17.4).
    page.get_by_role("tab", name="Edit").click()
    page.locator("#edit").click()
    _toast(page, "upload the song to edit first")
    _settled(page, "#edit", "#edit-status", "upload the song to edit first")


def test_advanced_leaves_seed_and_bpm_empty_and_each_run_gets_a_fresh_seed(page, studio) -> None:
    before = {s.id for s in _songs(studio)}
    page.get_by_role("button", name="Advanced").click()
    page.wait_for_selector("#seed input, #seed textarea", timeout=10_000)
    for box in ("#seed", "#bpm"):
        value = page.locator(f"{box} input, {box} textarea").first.input_value()
        assert value == "", f"{box} shows {value!r} once Advanced opens; empty must stay empty (issue 17.2)"
    page.locator("#lyrics textarea").fill("[Verse]\nTwo takes of the same line")
    page.locator("textarea[placeholder^='dreamy']").fill("lofi piano")
    _shortest(page)
    for _ in (1, 2):
        _run(page, "#generate", "#status")
    made = [s for s in _songs(studio) if s.id not in before]
    assert len(made) == 2 and made[0].seed != made[1].seed, [s.seed for s in made]


def test_an_edit_with_an_empty_seed_gets_a_fresh_one_each_time(page, studio, tmp_path: Path) -> None:
    song = tmp_path / "hum.wav"
    t = np.arange(11 * 48_000) / 48_000  # the shortest song ACE-Step edits is 10 s
    sf.write(str(song), np.stack([0.3 * np.sin(2 * np.pi * 220 * t)] * 2, axis=1).astype(np.float32), 48_000)
    before = {s.id for s in _songs(studio)}
    page.get_by_role("tab", name="Edit").click()
    page.locator("#edit-source input[type=file]").set_input_files(str(song))
    page.wait_for_selector("text=Source: 11.0 s", timeout=30_000)
    value = page.locator("#edit-seed input, #edit-seed textarea").first.input_value()
    assert value == "", f"the Edit seed shows {value!r}; empty = random (issue 17.3)"
    page.get_by_label("Repaint").check()
    for _ in (1, 2):
        _run(page, "#edit", "#edit-status")
    made = [s for s in _songs(studio) if s.id not in before]
    assert len(made) == 2 and made[0].seed != made[1].seed, [s.seed for s in made]


def _error_badges(page) -> int:
    """gradio's red "Error" pill on a control (a leaf element reading just "Error", outside the toasts)."""
    return page.evaluate(
        "Array.from(document.querySelectorAll('*')).filter(e => e.children.length == 0 && "
        "e.textContent.trim() == 'Error' && !e.closest('.toast-body')).length"
    )


def test_a_file_the_studio_did_not_make_leaves_the_form_alone(page, tmp_path: Path) -> None:
    foreign = tmp_path / "voice-memo.wav"
    sf.write(str(foreign), np.zeros((48_000, 2), dtype=np.float32), 48_000)
    page.locator("#lyrics textarea").fill("[Verse]\nkeep me")
    page.locator("#restore input[type=file]").set_input_files(str(foreign))
    _toast(page, "not made by Song Studio")
    page.wait_for_selector("#status:has-text('not made by Song Studio')", timeout=30_000)
    assert page.locator("#lyrics textarea").input_value() == "[Verse]\nkeep me"
    assert _error_badges(page) == 0, "a foreign file put red Error badges on the form (issue 17.7)"


def test_edit_from_a_result_card_carries_the_song_without_a_range_error(page) -> None:
    page.locator("#lyrics textarea").fill("[Verse]\nCarry me over")
    page.locator("textarea[placeholder^='dreamy']").fill("sea shanty, male choir")
    _shortest(page)
    _run(page, "#generate", "#status")
    page.locator(".song-card button:has-text('✂ Edit') >> visible=true").first.click()
    page.wait_for_selector("text=Source: 10.0 s", timeout=30_000)
    page.wait_for_selector("#edit-estimate:has-text('⏱')", timeout=30_000)
    estimate = page.locator("#edit-estimate").inner_text()
    assert "greater than maximum" not in estimate, estimate
    assert page.locator(".toast-body").count() == 0, page.locator(".toast-body").all_inner_texts()
    assert _error_badges(page) == 0
    edit_style = page.locator("textarea[placeholder^='the new style']").input_value()
    assert edit_style == "sea shanty, male choir", "✂ Edit must carry the song's style (issue 17.8)"
    assert "Carry me over" in page.locator("#edit-lyrics textarea").input_value()


def test_weights_status_and_a_voice_memo_are_read_up_front(page, tmp_path: Path) -> None:
    """Issue 17.6: the picker says what stands in a model's way before Generate (LeVo 2's folders here are
    empty). Issue 17.13: a phone's voice memo (m4a/AAC) lands in Edit with its length."""
    from tests.edit.test_upload_bounds import encode_with_pyav, tone

    page.get_by_label("Model").click()
    levo = page.get_by_role("option", name="LeVo 2", exact=False).first.inner_text()
    acestep = page.get_by_role("option", name="ACE-Step", exact=False).first.inner_text()
    page.keyboard.press("Escape")
    # Its runtime folder is empty too, so the weights are not even looked at: the model cannot run here.
    assert "cannot run here" in levo and "✅" not in levo, levo
    assert "cannot run here" not in acestep and "incompatible" not in acestep, acestep
    page.get_by_role("tab", name="Edit").click()
    memo = encode_with_pyav(tmp_path / "memo.m4a", "mp4", "aac", tone(11.0))
    page.locator("#edit-source input[type=file]").set_input_files(str(memo))
    page.wait_for_selector("text=Source: 11.0 s", timeout=30_000)
    assert page.locator(".toast-body").count() == 0, page.locator(".toast-body").all_inner_texts()


def test_a_renamed_text_file_is_refused_as_it_lands(studio, tmp_path: Path) -> None:
    """Issue 17.13: a non-audio upload is refused when it lands, in a sentence (a toast and the status), with
    no console error; the song already loaded stays, in its player. gradio's Audio drop zone decoded a file
    in the browser first and sent nothing when that failed, so the page used to say nothing at all."""
    sync_playwright = _browser()
    song = tmp_path / "hum.wav"
    t = np.arange(11 * 48_000) / 48_000
    sf.write(str(song), np.stack([0.3 * np.sin(2 * np.pi * 220 * t)] * 2, axis=1).astype(np.float32), 48_000)
    fake = tmp_path / "notes.mp3"
    fake.write_text("shopping list: eggs, milk\n" * 40)
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS, headless=True)
        try:
            page = browser.new_page(viewport=DESKTOP)
            watch(page, problems)
            page.goto(studio[0], wait_until="load")
            page.get_by_role("tab", name="Edit").click()
            page.locator("#edit-source input[type=file]").set_input_files(str(song))
            page.wait_for_selector("text=Source: 11.0 s", timeout=30_000)
            page.wait_for_selector("#edit-player", state="visible", timeout=30_000)
            page.locator("#edit-lyrics textarea").fill("[Verse]\nkeep me")
            page.locator("#edit-source input[type=file]").set_input_files(str(fake))
            _toast(page, "notes.mp3 is not audio this studio can read")
            page.wait_for_selector(
                "#edit-status:has-text('notes.mp3 is not audio this studio can read')", timeout=30_000
            )
            # The earlier song is still the one to edit, the form is as it was, and nothing wears a red badge.
            assert page.locator("text=Source: 11.0 s").count() == 1
            assert page.locator("#edit-player").is_visible()
            assert page.locator("#edit-lyrics textarea").input_value() == "[Verse]\nkeep me"
            assert _error_badges(page) == 0
            # A real song landing next clears the refusal from the status.
            page.locator("#edit-source input[type=file]").set_input_files(str(song))
            page.wait_for_function(
                "!document.querySelector('#edit-status').innerText.includes('not audio')", timeout=30_000
            )
        finally:
            browser.close()
    assert problems == [], problems


def test_every_kind_of_real_song_lands_and_plays_in_the_preview(page, tmp_path: Path) -> None:
    """The drop zone that reaches the server (issue 17.13) still takes what people have, and the player under
    it plays each one in the browser: WAV, FLAC, MP3, OGG Vorbis, M4A/AAC, Opus and WebM."""
    from tests.edit.test_upload_bounds import encode_with_pyav, tone

    audio = tone(11.0)
    songs = [tmp_path / f"song.{suffix}" for suffix in ("wav", "flac", "mp3")]
    for song in songs:
        sf.write(str(song), audio, 48_000)
    songs.append(tmp_path / "song.ogg")
    sf.write(str(songs[-1]), audio, 48_000, format="OGG", subtype="VORBIS")
    songs += [
        encode_with_pyav(tmp_path / "memo.m4a", "mp4", "aac", audio),
        encode_with_pyav(tmp_path / "song.opus", "ogg", "libopus", audio),
        encode_with_pyav(tmp_path / "take.webm", "webm", "libopus", audio),
    ]
    page.get_by_role("tab", name="Edit").click()
    player = page.locator("#edit-player")
    for song in songs:
        page.locator("#edit-source input[type=file]").set_input_files(str(song))
        # Each file is a new song to edit: its download link in the player names it once it has landed.
        page.wait_for_selector(f"#edit-player a[download='{song.name}']", state="attached", timeout=30_000)
        page.wait_for_selector("text=Source: 11.0 s", timeout=30_000)
        # The browser decoded it: the player shows its length (a file it could not read shows none).
        page.wait_for_selector("#edit-player #duration:text-is('0:11')", timeout=30_000)
        play = player.locator("button.play-pause-button")
        assert _plays(page, play), f"{song.name} does not play in the preview"
        if play.get_attribute("aria-label") == "Pause":
            play.click()  # before the next song lands
    assert page.locator(".toast-body").count() == 0, page.locator(".toast-body").all_inner_texts()


def _plays(page, play) -> bool:
    """Press Play and see the player's clock move. gradio's player sometimes ignores a press in the moment
    after a new song lands (its label stays "Play"), as a visitor would see: press again, a few times."""
    for _ in range(4):
        if play.get_attribute("aria-label") == "Play":
            play.click()
        try:
            page.wait_for_function(
                "document.querySelector('#edit-player #time').textContent.trim() !== '0:00'", timeout=5_000
            )
            return True
        except Exception:
            continue
    return False
