"""The result card shows each take's checks (a glance line, details on demand, the heard lines as
the player's subtitles) and offers "Sing this line again", which repaints that line's range on
ACE-Step and checks the new song again."""

from __future__ import annotations

import gradio as gr
import pytest

from studio.library import Library
from studio.quality.align import check_lyrics
from studio.quality.report import TakeChecks, Word
from studio.quality.store import load_checks, save_checks
from studio.song import SongRequest
from studio.ui import runner
from studio.ui.resing_view import sing_again
from studio.ui.results import Card, ResultsView

LYRICS = "[Verse]\nNeon rivers in the night\nWe run until the light\n[Chorus]\nHold on"


def _heard_checks(duration: float) -> TakeChecks:
    """What a lyric check reports when line 2 was never sung (the transcript is given)."""
    sung = "neon rivers in the night".split()
    words = [Word(text=w, start=0.5 + 0.4 * i, end=0.8 + 0.4 * i) for i, w in enumerate(sung)]
    words += [Word(text="hold", start=7.0, end=7.4), Word(text="on", start=7.5, end=7.9)]
    return TakeChecks(duration=duration, measures=[], lyrics=check_lyrics(LYRICS, words, duration=duration))


@pytest.fixture
def made(tiny_acestep_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_ACESTEP_WEIGHTS", str(tiny_acestep_dir))
    monkeypatch.setenv("STUDIO_DEVICE", "cpu")
    library = Library(tmp_path / "lib")
    _, songs = runner.make_songs(SongRequest(style="pop", lyrics=LYRICS, duration=10, takes=2, seed=1,
                                             options={"steps": 1}), owner="local", library=library)
    # Each take is checked after it became playable, by the background writer (studio.later).
    assert runner.LATER.wait([s.id for s in songs], timeout=120)
    yield library, songs
    runner.STUDIO.cache.unload_all()
    library.close()


def test_card_shows_checks_at_a_glance_with_details_and_subtitles(made) -> None:
    _, songs = made
    first = load_checks(songs[0].audio_path)
    assert first is not None and first.duration == pytest.approx(10, abs=0.01)  # every kept take was checked
    save_checks(songs[0].audio_path, _heard_checks(10))
    values = Card.values(songs[0])
    audio, glance, details, line_pick, button = values[2], values[-4], values[-3], values[-2], values[-1]
    assert "✗ lyrics 2/3 lines" in glance
    assert "We run until the light" in details and "(missing)" in details
    assert audio["subtitles"] == [{"text": "Neon rivers in the night", "timestamp": [0.5, 2.4]},
                                  {"text": "Hold on", "timestamp": [7.0, 7.9]}]
    # gradio takes them as they are: the player shows the current line while the song plays.
    assert gr.Audio(subtitles=audio["subtitles"]).subtitles[1] == {"start": 7.0, "end": 7.9, "text": "Hold on"}
    assert line_pick["choices"] == [("2. We run until the light (missing)", 2)] and button["visible"] is True
    # The other take has no heard lyrics (the lyric check is off here): no subtitles, no button, and it says why.
    other = Card.values(songs[1])
    assert other[2]["subtitles"] is None and other[-1]["visible"] is False and "lyrics not checked" in other[-3]


def test_cards_are_ranked_best_first(made) -> None:
    _, songs = made
    worse = _heard_checks(10)
    save_checks(songs[0].audio_path, worse)
    better = worse.model_copy(update={"lyrics": worse.lyrics.model_copy(update={"error_rate": 0.0})})
    save_checks(songs[1].audio_path, better)
    view = ResultsView(cards=[None] * 4, ids=None)  # values() only reads the songs
    assert view.values(songs)[-1] == [songs[1].id, songs[0].id]


def test_sing_a_missing_line_again_repaints_its_range_and_checks_again(made) -> None:
    library, songs = made
    save_checks(songs[0].audio_path, _heard_checks(10))
    _, (new,) = sing_again(library, "local", songs[0].id, 2)
    request = new.request
    # Line 2 should have sat between the end of line 1 (2.4 s) and the start of line 3 (7.0 s), padded 0.5 s.
    assert request["task"] == "repaint" and (request["start"], request["end"]) == (1.9, 7.5)
    assert request["lyrics"] == "[Verse]\nWe run until the light"
    assert new.title.endswith("(line 2 again)")
    again = load_checks(new.audio_path)
    assert again is not None and again.duration == pytest.approx(10, abs=0.01)
    assert "lyrics not checked" in again.lyric_note  # held to the whole song's lyrics, not the one line
    with pytest.raises(Exception, match="line number from 1 to 3"):
        sing_again(library, "local", songs[0].id, 9)
