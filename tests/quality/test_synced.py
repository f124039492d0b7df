"""Synced lyrics round trip: the aligned line times go into an .lrc file and into the tags of the
studio's exported WAV, FLAC and MP3 files, and come back unchanged; the song card survives."""

from __future__ import annotations

import numpy as np
import pytest

from studio.audio.export import export
from studio.audio.tags import read_tags
from studio.quality.align import check_lyrics
from studio.quality.finish import write_synced_lyrics
from studio.quality.report import TakeChecks, Word
from studio.quality.synced import lrc_path, parse_lrc, read_synced_tags, to_lrc
from tests.audio.signals import band_noise
from tests.audio.test_card_and_tags import make_card

LYRICS = "[Verse]\nThe sun is rising\n夢を見ていた\n[Chorus]\nNever sung at all\nCome back home"


def _check():
    words = [Word(text=w, start=s, end=s + 0.4) for w, s in
             (("the", 12.0), ("sun", 12.5), ("is", 13.0), ("rising", 13.5), ("夢を見ていた", 15.25),
              ("come", 61.04), ("back", 61.5), ("home", 62.0))]
    return check_lyrics(LYRICS, words, duration=70)


def test_lrc_has_heard_lines_only_with_hundredths() -> None:
    lrc = to_lrc(_check(), title="Night", length_s=70)
    assert lrc.splitlines() == ["[ti:Night]", "[length:1:10]", "[by:Song Studio lyric check]",
                                "[00:12.00]The sun is rising", "[00:15.25]夢を見ていた", "[01:01.04]Come back home"]
    assert parse_lrc(lrc) == [(12.0, "The sun is rising"), (15.25, "夢を見ていた"), (61.04, "Come back home")]
    assert parse_lrc("[00:01.00][01:02.50]chorus\nno stamp\n") == [(1.0, "chorus"), (62.5, "chorus")]


@pytest.mark.parametrize("fmt", ["wav", "flac", "mp3"])
def test_synced_tags_round_trip_beside_the_card(fmt, tmp_path) -> None:
    path = export(band_noise(0.5, 0.1).astype(np.float32), 48_000, tmp_path / "song", fmt, make_card())
    checks = TakeChecks(duration=70, measures=[], lyrics=_check())
    files = write_synced_lyrics({fmt: path}, checks, title="Night")
    assert read_synced_tags(path) == [(12.0, "The sun is rising"), (15.25, "夢を見ていた"), (61.04, "Come back home")]
    assert files["lrc"] == lrc_path(path) and parse_lrc(files["lrc"].read_text(encoding="utf-8"))[0][1] == (
        "The sun is rising")
    assert read_tags(path)["SEED"] == "424242"  # the recipe tags are still there
    # Written again (a re-check) replaces the synced lyrics rather than adding a second copy.
    write_synced_lyrics({fmt: path}, checks)
    assert len(read_synced_tags(path)) == 3


def test_nothing_is_written_when_the_lyrics_were_not_heard(tmp_path) -> None:
    path = export(band_noise(0.5, 0.1).astype(np.float32), 48_000, tmp_path / "song", "wav", make_card())
    files = write_synced_lyrics({"wav": path}, TakeChecks(duration=1, measures=[], lyric_note="off"))
    assert files == {"wav": path} and not lrc_path(path).exists() and read_synced_tags(path) == []


def test_the_lrc_file_carries_word_times() -> None:
    lrc = to_lrc(_check(), words=True)
    assert "[00:12.00]<00:12.00>The <00:12.50>sun <00:13.00>is <00:13.50>rising" in lrc
    # One heard chunk for the Japanese line: its characters share the chunk's span, one time each.
    assert "[00:15.25]<00:15.25>夢<00:15.32>を" in lrc
    assert parse_lrc(lrc)[0] == (12.0, "The sun is rising")  # word tags do not leak into the text


def test_written_lrc_has_word_times_and_tags_have_line_times(tmp_path) -> None:
    path = export(band_noise(0.5, 0.1).astype(np.float32), 48_000, tmp_path / "song", "flac", make_card())
    files = write_synced_lyrics({"flac": path}, TakeChecks(duration=70, measures=[], lyrics=_check()))
    assert "<01:01.04>Come" in files["lrc"].read_text(encoding="utf-8")
    assert read_synced_tags(path)[-1] == (61.04, "Come back home")
