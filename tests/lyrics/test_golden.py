"""Golden cases: exact strings per dialect, from upstream's own data where there is some."""

# ruff: noqa: E501  (golden strings read best whole)

from __future__ import annotations

import json

import pytest

from studio.lyrics import format_lyrics, parse, render_sheet, validate

DIALECTS = ("acestep", "levo2", "heartmula")


# --- strings the upstream code really handed to its models --------------------------------------
@pytest.mark.parametrize("case", ["case1_en", "case2_zh", "case4_en_no_description"])
def test_levo_fixture_lyrics_render_exactly(fixtures_dir, case):
    data = json.loads((fixtures_dir / "levo2/conditioning/cases.json").read_text(encoding="utf-8"))
    case_data = data["cases"][case]
    result = format_lyrics(case_data["raw_lyric"], "levo2")
    assert result.lyrics == case_data["lyrics_arg_to_CodecLM_generate"][0]
    assert result.ok


def test_levo_fixture_description_becomes_its_keywords(fixtures_dir):
    data = json.loads((fixtures_dir / "levo2/conditioning/cases.json").read_text(encoding="utf-8"))
    case = data["cases"]["case1_en"]
    result = format_lyrics(case["raw_lyric"], "levo2", style=case["raw_description"])
    # the backend lower-cases and puts "[Musicality-very-high], " in front
    assert "[Musicality-very-high], " + result.style == case["descriptions_arg_to_CodecLM_generate"][0]


@pytest.mark.parametrize("case", ["case1_en", "case2_zh"])
def test_heartmula_fixture_lyrics_are_already_in_dialect(fixtures_dir, case):
    data = json.loads((fixtures_dir / "heartmula/prompts.json").read_text(encoding="utf-8"))
    inputs = data[case]["inputs"]
    result = format_lyrics(inputs["lyrics"], "heartmula", style=inputs["tags"])
    assert result.lyrics == inputs["lyrics"]
    assert result.style == inputs["tags"].lower()
    assert result.fixes == [] and result.ok


def test_acestep_fixture_lyrics_are_already_in_dialect(fixtures_dir):
    data = json.loads((fixtures_dir / "acestep_planner/cases.json").read_text(encoding="utf-8"))
    seen = 0
    for case in data["text2music_cases"]:
        lyrics = case["inputs"]["lyrics"]
        instrumental = lyrics == "[Instrumental]"
        result = format_lyrics(lyrics, "acestep", style=case["inputs"]["caption"], instrumental=instrumental)
        assert result.lyrics == lyrics, case["id"]
        assert result.style == case["inputs"]["caption"]
        assert result.ok, case["id"]
        seen += 1
    assert seen >= 10


# --- our own cases ------------------------------------------------------------------------------
MESSY = """Title: Neon Rain
**Verse 1:**
“Neon lights” on a rainy street, yeah!
Every heartbeat skips a beat (ooh)

[Pre-Chorus]
Hold on，hold on。

[Chorus: whispered]
We are the night, we are the sound
[Hook]
Dancing till the sun comes round

[Drop]
[Outro]
[End]"""

GOLDEN = {
    ("messy", "acestep"): '[Verse 1]\n"Neon lights" on a rainy street, yeah!\nEvery heartbeat skips a beat (ooh)\n\n'
    "[Pre-Chorus]\nHold on，hold on。\n\n[Chorus - whispered]\nWe are the night, we are the sound\n\n"
    "[Hook]\nDancing till the sun comes round\n\n[Drop]\n\n[Outro]",
    ("messy", "levo2"): "[verse] Neon lights on a rainy street yeah. Every heartbeat skips a beat ooh. ; "
    "[verse] Hold on. hold on. ; [chorus] We are the night we are the sound. ; "
    "[chorus] Dancing till the sun comes round. ; [inst-medium] ; [outro-medium]",
    ("messy", "heartmula"): '[Verse]\n"Neon lights" on a rainy street, yeah!\nEvery heartbeat skips a beat (ooh)\n\n'
    "[Prechorus]\nHold on，hold on。\n\n[Chorus]\nWe are the night, we are the sound\n\n"
    "[Chorus]\nDancing till the sun comes round\n\n[Bridge]\n\n[Outro]",
    ("zh", "acestep"): "[Verse]\n月亮代表我的心，你问我爱你有多深。\n\n[Chorus]\n我爱你 有几分！\nLove You 永远",
    ("zh", "levo2"): "[verse] 月亮代表我的心.你问我爱你有多深 ; [chorus] 我爱你 有几分.Love You 永远",
    ("zh", "heartmula"): "[Verse]\n月亮代表我的心，你问我爱你有多深。\n\n[Chorus]\n我爱你 有几分！\nLove You 永远",
    ("ja", "acestep"): "[Verse]\n桜の花が舞い散る\n君の声が聞こえる\n\n[Chorus]\nいつまでも一緒に",
    ("ja", "levo2"): "[verse] 桜の花が舞い散る.君の声が聞こえる ; [chorus] いつまでも一緒に",
    ("ja", "heartmula"): "[Verse]\n桜の花が舞い散る\n君の声が聞こえる\n\n[Chorus]\nいつまでも一緒に",
    ("es", "acestep"): "[Verse 1]\nTengo un nudo en la garganta\n¿Dónde estás, mi amor?\n\n[Chorus]\nBaila conmigo (baila)",
    ("es", "levo2"): "[verse] Tengo un nudo en la garganta. Dónde estás mi amor. ; [chorus] Baila conmigo baila.",
    ("es", "heartmula"): "[Verse]\nTengo un nudo en la garganta\n¿Dónde estás, mi amor?\n\n[Chorus]\nBaila conmigo (baila)",
    ("inst", "acestep"): "[Instrumental]",
    ("inst", "levo2"): "[intro-medium] ; [inst-medium] ; [outro-medium]",
    ("inst", "heartmula"): "",
}
INPUTS = {
    "messy": MESSY,
    "zh": "[Verse]\n月亮代表我的心，你问我爱你有多深。\n\n[Chorus]\n我爱你 有几分！\nLove You 永远",
    "ja": "[Verse]\n桜の花が舞い散る\n君の声が聞こえる\n\n[Chorus]\nいつまでも一緒に",
    "es": "[Verse 1]\nTengo un nudo en la garganta\n¿Dónde estás, mi amor?\n\n[Estribillo]\nBaila conmigo (baila)",
    "inst": "[Intro]\n[Instrumental]\n[Outro]",
}


@pytest.mark.parametrize(("name", "dialect"), sorted(GOLDEN))
def test_golden(name, dialect):
    instrumental = name == "inst"
    result = format_lyrics(INPUTS[name], dialect, duration_s=150, instrumental=instrumental)
    assert result.lyrics == GOLDEN[(name, dialect)]
    assert result.ok, result.errors
    assert validate(dialect, result.lyrics, result.style, instrumental=instrumental) == []


def test_messy_paste_reports_every_change_with_its_line():
    result = format_lyrics(MESSY, "levo2", duration_s=150)
    shown = [str(f) for f in result.fixes]
    for expected in (
        "line 1: dropped `Title: Neon Rain` (song details are not sung)",
        "line 2: read `Verse 1:` as the section tag `[Verse 1]`",
        "line 3: curly quotes became straight quotes",
        "line 3: removed characters LeVo 2 cannot take: `!` `\"` `,`",
        "line 6: `[Pre-Chorus]` became `[verse]` for LeVo 2",
        "line 7: punctuation inside the line split it into 2 lines for LeVo 2",
        "line 11: `[Hook]` became `[chorus]` for LeVo 2",
        "line 14: `[Drop]` became `[inst-medium]` for LeVo 2",
        "line 16: dropped `[End]` (it marks the end, it is not a section)",
    ):
        assert expected in shown, (expected, shown)
    lines = [f.line or 0 for f in result.fixes if f.code != "style_dropped"]
    assert lines == sorted(lines)


@pytest.mark.parametrize(("duration", "expected"), [(None, "short"), (60, "short"), (150, "medium"), (300, "long")])
def test_levo_intro_length_follows_the_requested_duration(duration, expected):
    result = format_lyrics("[Intro]\n\n[Verse]\nla la la\n\n[intro-long]\n[Outro]", "levo2", duration_s=duration)
    assert result.lyrics == (f"[intro-{expected}] ; [verse] la la la. ; [intro-long] ; [outro-{expected}]")


def test_levo_sections_with_lyrics_where_levo_wants_none_are_split():
    result = format_lyrics("[Intro]\nhey\n[Verse]\nla\n[Outro]\nbye now", "levo2")
    assert result.lyrics == "[intro-short] ; [verse] hey. ; [verse] la. ; [bridge] bye now. ; [outro-short]"


def test_levo_empty_sung_section_is_left_out_and_said_so():
    result = format_lyrics("[Verse]\nla\n\n[Chorus]\n", "levo2")
    assert result.lyrics == "[verse] la."
    assert any(f.code == "empty_section" and f.line == 4 for f in result.fixes)


def test_heartmula_strips_modifiers_and_numbers():
    result = format_lyrics("[Verse 2 - rap]\nyo\n\n[Chorus (big)]\nhey", "heartmula")
    assert result.lyrics == "[Verse]\nyo\n\n[Chorus]\nhey"


def test_untagged_lyrics_become_a_verse():
    result = format_lyrics("line one\nline two", "acestep")
    assert result.lyrics == "[Verse]\nline one\nline two"
    assert [str(f) for f in result.fixes] == ["line 1: lyrics without a section tag were read as a verse"]


def test_double_spaced_paste_stays_one_block():
    sheet = parse("one\n\ntwo\n\nthree")
    assert len(sheet.sections) == 1 and [line.text for line in sheet.sections[0].lines] == ["one", "two", "three"]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_no_lyrics_is_an_error_unless_instrumental(dialect):
    result = format_lyrics("[Intro]\n[Outro]", dialect)
    assert not result.ok and result.errors[0].code == "no_lyrics"
    assert format_lyrics("[Intro]\n[Outro]", dialect, instrumental=True).ok


def test_acestep_limits():
    long_lyrics = "[Verse]\n" + "\n".join(["a line of lyrics that goes on"] * 150)
    result = format_lyrics(long_lyrics, "acestep", style="x" * 600)
    assert {e.code for e in result.errors} == {"too_long", "style_too_long"}


def test_render_sheet_matches_format_lyrics():
    sheet = parse(MESSY)
    assert render_sheet(sheet, "heartmula").lyrics == GOLDEN[("messy", "heartmula")]
