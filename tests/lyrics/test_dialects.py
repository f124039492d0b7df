"""One table holds the lyric dialects; every entry point asks it, and a dialect it lacks is an error."""

from __future__ import annotations

import pytest

from studio.ground.errors import StudioError
from studio.ground.vocabulary import LyricDialect
from studio.lyrics import RenderOptions, convert_style, format_lyrics, parse, render_sheet, validate
from studio.lyrics import dialects as dialects_module
from studio.lyrics.dialects import dialect, table

LYRICS = "[verse]\nhello world\n[chorus]\nla la la"
ENTRY_POINTS = {
    "format_lyrics": lambda d: format_lyrics(LYRICS, d, style="pop, female"),
    "render_sheet": lambda d: render_sheet(parse(LYRICS), d),
    "validate": lambda d: validate(d, "[verse]\nhello"),
    "convert_style": lambda d: convert_style("pop, female, 120 bpm", d),
}


def test_every_dialect_the_backends_may_declare_has_an_entry() -> None:
    assert set(table()) == set(LyricDialect)
    assert {d.name for d in table().values()} == {"ACE-Step", "LeVo 2", "HeartMuLa"}


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_an_unknown_dialect_is_refused_with_the_known_ones(entry: str) -> None:
    with pytest.raises(StudioError, match=r"unknown lyric dialect 'suno'; pick one of acestep, levo2, heartmula"):
        ENTRY_POINTS[entry]("suno")


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_a_dialect_missing_from_the_table_is_an_error_not_heartmulas(entry: str, monkeypatch) -> None:
    # Before the table, a dialect that no branch named got HeartMuLa's style ("pop,female").
    without = {k: v for k, v in table().items() if k is not LyricDialect.LEVO2}
    monkeypatch.setattr(dialects_module, "table", lambda: without)
    with pytest.raises(StudioError, match="unknown lyric dialect"):
        ENTRY_POINTS[entry](LyricDialect.LEVO2)


def test_the_entry_points_are_the_table_entries() -> None:
    levo = dialect("levo2")
    assert format_lyrics(LYRICS, "levo2").lyrics == levo.render(parse(LYRICS), RenderOptions()).lyrics
    assert convert_style("pop, female, 120 bpm", "heartmula").text == "pop,female"
    assert convert_style("pop, female, 120 bpm", "levo2").text == "pop, female, the bpm is 120."  # typed order kept
    with pytest.raises(StudioError, match="The lyrics are not ready for LeVo 2"):
        format_lyrics("", "levo2").raise_for_errors()
