"""Style keywords, the length estimate, errors raised for the model, and the command line."""

from __future__ import annotations

import argparse
import json

import pytest

from studio.ground.errors import StudioError
from studio.lyrics import cli, convert_style, estimate_seconds, format_lyrics, parse
from studio.lyrics.estimate import line_syllables


@pytest.mark.parametrize(
    ("style", "dialect", "text", "dropped"),
    [
        ("Female, Pop, Uplifting, Piano, Drum Kit.", "levo2", "female, pop, uplifting, piano, drum kit.", []),
        ("Please generate a sad pop song sung by a female artist with piano and drums", "levo2",
         "sad, pop, female, piano, drums.", []),
        ("upbeat synth-pop, punchy drums, 120 bpm", "levo2", "upbeat, synth-pop, drums, the bpm is 120.",
         ["punchy"]),
        ("nordic folk pop, nyckelharpa, airy female vocals", "heartmula",
         "folk,pop,nyckelharpa,breathy,female", ["nordic"]),
        ("Piano,Happy,Wedding,Synthesizer", "heartmula", "piano,happy,wedding,synthesizer", []),
        ("dreamy shoegaze at 95 bpm", "heartmula", "dreamy,shoegaze", ["95 bpm"]),
        ("  melancholic  acoustic ballad ", "acestep", "melancholic acoustic ballad", []),
    ],
)
def test_style_per_dialect(style, dialect, text, dropped):
    result = convert_style(style, dialect)
    assert (result.text, result.dropped_words) == (text, dropped)


def test_levo_style_takes_the_request_bpm_and_reports_drops():
    result = format_lyrics("[Verse]\nla", "levo2", style="a dark cinematic wedding song", bpm=88)
    assert result.style == "dark, cinematic, the bpm is 88."
    assert result.dropped_style_words == ["wedding"]
    assert any("`wedding`" in f.message for f in result.fixes)


def test_syllables_across_scripts():
    assert line_syllables("The city lights are fading slow") == 8
    assert line_syllables("夜色慢慢落下") == 6
    assert line_syllables("きょう") == 2
    assert line_syllables("Tengo un nudo en la garganta") == 10


def test_estimate_follows_lyrics_and_bpm():
    short = parse("[Verse]\none two three")
    long = parse("[Intro]\n[Verse]\n" + "\n".join(["one two three four five six"] * 12) + "\n[outro-long]")
    assert estimate_seconds(short) < estimate_seconds(long)
    assert estimate_seconds(long, bpm=160) < estimate_seconds(long, bpm=80)
    # 12 lines x (6 syllables x 0.5 + 2 beats) at 120 bpm = 30 s, + intro 8 s + long outro 25 s
    assert estimate_seconds(long, bpm=120) == pytest.approx(63.0)


def test_raise_for_errors_lists_located_errors():
    result = format_lyrics("[Intro]", "levo2")
    with pytest.raises(StudioError, match=r"(?s)not ready for LeVo 2.*no lyrics to sing"):
        result.raise_for_errors()
    format_lyrics("[Verse]\nla", "levo2").raise_for_errors()  # no errors: nothing raised


def test_unknown_dialect_is_a_studio_error():
    with pytest.raises(StudioError, match="unknown lyric dialect 'suno'"):
        format_lyrics("la", "suno")


def _run(argv):
    parser = argparse.ArgumentParser(prog="studio")
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["lyrics", *argv])
    return args.handler(args)


def test_cli_text_output(tmp_path, capsys):
    song = tmp_path / "song.txt"
    song.write_text("[Verse 1]\nHello there\n\n[Hook]\nyeah yeah", encoding="utf-8")
    assert _run(["--to", "levo2", "--style", "female pop", str(song)]) == 0
    out = capsys.readouterr()
    assert out.out == "[verse] Hello there. ; [chorus] yeah yeah.\n\nstyle: female, pop.\n"
    assert "fixed: line 4: `[Hook]` became `[chorus]` for LeVo 2" in out.err


def test_cli_json_and_check(tmp_path, capsys, monkeypatch):
    song = tmp_path / "song.txt"
    song.write_text("[Intro]\n[Outro]", encoding="utf-8")
    assert _run(["--to", "heartmula", "--json", str(song)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) >= {"lyrics", "style", "fixes", "errors", "estimated_seconds"}
    assert data["lyrics"] == "[Intro]\n\n[Outro]" and data["errors"][0]["code"] == "no_lyrics"
    assert _run(["--to", "heartmula", "--check", str(song)]) == 1
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("[Verse]\nla la"))
    assert _run(["--to", "acestep", "--check", "--duration", "30", "-"]) == 0
    assert capsys.readouterr().out == "[Verse]\nla la\n"


def test_cli_unreadable_file_exits_2(tmp_path, capsys):
    assert _run(["--to", "acestep", str(tmp_path / "missing.txt")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: cannot read lyrics from") and "No such file" in err[0]
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe\x00bad")
    assert _run(["--to", "acestep", str(bad)]) == 2
