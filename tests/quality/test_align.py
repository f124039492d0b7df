"""Lyric alignment and scoring on given transcripts: what the ASR would have heard, word by word."""

from __future__ import annotations

import pytest

from studio.quality.align import check_lyrics, lyric_lines, tokens
from studio.quality.report import Word

EN = """[Verse]
The sun is rising over town
I walk along the empty street
[Chorus]
Oh my darling come back home
Tonight the stars will sing for you"""


def sung(*phrases: str, step: float = 0.5, gap: float = 1.0) -> list[Word]:
    """Words as Whisper returns them: one chunk per word (or per CJK run), with times."""
    out, t = [], 0.0
    for phrase in phrases:
        for w in phrase.split():
            out.append(Word(text=w, start=round(t, 2), end=round(t + 0.4, 2)))
            t += step
        t += gap
    return out


def statuses(check) -> list[str]:
    return [line.status for line in check.lines]


def test_tokens_fold_case_accents_punctuation_and_split_cjk() -> None:
    assert tokens("¿Dónde está, mi CORAZÓN?") == ["donde", "esta", "mi", "corazon"]
    assert tokens("Don't stop — I’m here") == ["dont", "stop", "im", "here"]
    assert tokens("我爱你 China") == ["我", "爱", "你", "china"]
    assert tokens("がんばって") == ["が", "ん", "ば", "っ", "て"]  # dakuten kept (no NFD on kana)
    assert [line.text for line in lyric_lines(EN)] == [
        "The sun is rising over town", "I walk along the empty street",
        "Oh my darling come back home", "Tonight the stars will sing for you",
    ]


def test_every_line_heard_has_its_time() -> None:
    check = check_lyrics(EN, sung(*[line.text for line in lyric_lines(EN)]), duration=30, asr_model="tiny")
    assert statuses(check) == ["heard"] * 4
    assert check.error_rate == 0 and check.unit == "word"
    first, second = check.lines[:2]
    assert first.start == 0.0 and first.end == pytest.approx(2.9)
    assert second.start == pytest.approx(4.0)  # 6 words x 0.5 s + 1 s gap
    assert check.summary() == "✓ lyrics 4/4 lines (WER 0%)"


def test_a_skipped_line_is_missing_and_placed_in_its_gap() -> None:
    lines = [line.text for line in lyric_lines(EN)]
    check = check_lyrics(EN, sung(lines[0], lines[2], lines[3]), duration=30)
    assert statuses(check) == ["heard", "missing", "heard", "heard"]
    missing = check.lines[1]
    # Where it should have been: between the end of line 1 and the start of line 3 (for a repaint).
    assert missing.start == pytest.approx(check.lines[0].end) and missing.end == pytest.approx(check.lines[2].start)
    assert check.deletions == 6 and check.error_rate == pytest.approx(6 / 25, abs=1e-3)
    assert check.summary().startswith("✗ lyrics 3/4 lines")


def test_a_garbled_line_is_partly_heard() -> None:
    lines = [line.text for line in lyric_lines(EN)]
    check = check_lyrics(EN, sung(lines[0], "I talk along the mighty sheet", lines[2], lines[3]), duration=30)
    assert statuses(check) == ["heard", "partly", "heard", "heard"]
    assert check.lines[1].heard_share == pytest.approx(3 / 6)
    assert check.substitutions == 3


def test_a_repeated_line_is_heard_once_and_the_repeat_is_extra() -> None:
    lines = [line.text for line in lyric_lines(EN)]
    check = check_lyrics(EN, sung(lines[0], lines[1], lines[2], lines[2], lines[3]), duration=40)
    assert statuses(check) == ["heard"] * 4
    assert check.lines[2].start == pytest.approx(8.0)  # the first time it was sung
    assert check.extra == ["oh my darling come back home"] and check.insertions == 6


def test_swapped_lines_are_both_heard_one_out_of_order() -> None:
    lines = [line.text for line in lyric_lines(EN)]
    check = check_lyrics(EN, sung(lines[1], lines[0], lines[2], lines[3]), duration=30)
    assert statuses(check) == ["heard"] * 4
    assert [line.out_of_order for line in check.lines].count(True) == 1
    assert check.lines[0].start == pytest.approx(4.0)  # found where it was sung, after line 2


def test_invented_lines_are_extra() -> None:
    lines = [line.text for line in lyric_lines(EN)]
    check = check_lyrics(EN, sung(lines[0], lines[1], "yeah baby dance all night long", lines[2], lines[3]),
                         duration=30)
    assert statuses(check) == ["heard"] * 4
    assert check.extra == ["yeah baby dance all night long"]


def test_spanish_accents_and_punctuation_do_not_count_as_errors() -> None:
    lyrics = "[Verso]\n¿Dónde estás, mi corazón?\nLa canción del mar\n[Coro]\nBailando bajo la luna"
    check = check_lyrics(lyrics, sung("Donde estás mi corazón", "la cancion, del mar", "bailando bajo la"),
                         duration=20, language="es")
    assert statuses(check) == ["heard", "heard", "partly"]  # 3 of 4 words is under the 80 % of "heard"
    assert [line.heard_share for line in check.lines] == [1.0, 1.0, 0.75]
    assert check.substitutions == 0 and check.deletions == 1 and check.language == "es"


def test_chinese_is_scored_per_character() -> None:
    lyrics = "[Verse]\n我爱你中国\n春天在哪里\n[Chorus]\n月亮代表我的心"
    heard = [Word(text="我爱你", start=1.0, end=2.0), Word(text="中国", start=2.0, end=3.0),
             Word(text="春天在那里", start=4.0, end=6.0)]  # 哪 heard as 那; the chorus never sung
    check = check_lyrics(lyrics, heard, duration=20, language="zh")
    assert check.unit == "character"
    assert statuses(check) == ["heard", "heard", "missing"]
    assert check.lines[1].heard_share == pytest.approx(0.8)
    assert check.lines[0].words[2].text == "你" and check.lines[0].words[2].end == pytest.approx(2.0)
    assert check.error_rate == pytest.approx(8 / 17, abs=1e-3)  # 1 substitution + 7 deletions
    assert check.summary() == "✗ lyrics 2/3 lines (CER 47%)"


def test_japanese_kana_and_kanji_per_character() -> None:
    lyrics = "[Verse]\n夢を見ていた\n君と二人で\n[Chorus]\n空へ飛んでいこう"
    heard = [Word(text="君と二人で", start=0.5, end=2.0), Word(text="夢を見ていた", start=3.0, end=5.0),
             Word(text="空へ飛んで", start=6.0, end=8.0)]
    check = check_lyrics(lyrics, heard, duration=12, language="ja")
    assert statuses(check) == ["heard", "heard", "partly"]
    assert sum(line.out_of_order for line in check.lines) == 1  # the two verse lines were swapped
    assert check.lines[2].heard_share == pytest.approx(5 / 8)


def test_nothing_heard_marks_every_line_missing() -> None:
    check = check_lyrics(EN, [], duration=30)
    assert statuses(check) == ["missing"] * 4 and check.error_rate == 1.0
    assert check.lines[0].start == 0.0 and check.lines[-1].end == 30.0
