"""The lyric dialects, one object each: the model's name as people know it, the renderer that writes
a :class:`Sheet` in the dialect, the validator that reads a rendered text the way the model will,
the style converter and the budget of text the model takes. Everything that depends on the dialect
asks this table; a dialect it does not hold is an error, never another model's format.

Parsing is not here: ``parse`` reads every dialect (and what people type) into the same Sheet, so it
does not need to know which model the text is for. The budgets are stated once in ``budgets``: the
renderers and validators check them, and each backend's ``Capabilities`` reads its dialect's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from studio.ground.errors import StudioError
from studio.ground.vocabulary import LyricDialect
from studio.lyrics import budgets, render_acestep, render_heartmula, render_levo2
from studio.lyrics.budgets import LyricBudget
from studio.lyrics.render import Rendered, RenderOptions
from studio.lyrics.report import Problem
from studio.lyrics.sheet import Sheet
from studio.lyrics.style import StyleResult, style_acestep, style_heartmula, style_levo2
from studio.lyrics.validate import validate_acestep, validate_heartmula, validate_levo2


@dataclass(frozen=True)
class Dialect:
    key: LyricDialect
    name: str  # what the model is called in messages
    render: Callable[[Sheet, RenderOptions], Rendered]
    validate: Callable[..., list[Problem]]  # (lyrics, style="", *, instrumental=False) -> problems
    style: Callable[..., StyleResult]  # (style, *, bpm=None) -> the style in this dialect
    budget: LyricBudget  # the most text the model takes


_TABLE: dict[LyricDialect, Dialect] = {
    d.key: d
    for d in (
        Dialect(
            LyricDialect.ACESTEP, "ACE-Step", render_acestep.render, validate_acestep, style_acestep, budgets.ACESTEP
        ),
        Dialect(LyricDialect.LEVO2, "LeVo 2", render_levo2.render, validate_levo2, style_levo2, budgets.LEVO2),
        Dialect(
            LyricDialect.HEARTMULA,
            "HeartMuLa",
            render_heartmula.render,
            validate_heartmula,
            style_heartmula,
            budgets.HEARTMULA,
        ),
    )
}


def table() -> dict[LyricDialect, Dialect]:
    return _TABLE


def dialect(value: LyricDialect | str) -> Dialect:
    """The dialect called ``value``, or a sentence naming the ones there are."""
    known = table()
    try:
        found = known.get(LyricDialect(value))
    except ValueError:
        found = None
    if found is None:
        names = ", ".join(d.value for d in known)
        raise StudioError(f"unknown lyric dialect {value!r}; pick one of {names}.")
    return found


def render_sheet(sheet: Sheet, dialect_name: LyricDialect | str, options: RenderOptions | None = None) -> Rendered:
    """Render without validation (``format_lyrics`` adds the validator's verdict)."""
    return dialect(dialect_name).render(sheet, options or RenderOptions())


def validate(
    dialect_name: LyricDialect | str, lyrics: str, style: str = "", *, instrumental: bool = False
) -> list[Problem]:
    """Problems with an already rendered text for ``dialect_name`` (empty when it is fit to send)."""
    return dialect(dialect_name).validate(lyrics, style, instrumental=instrumental)


def convert_style(style: str, dialect_name: LyricDialect | str, *, bpm: int | None = None) -> StyleResult:
    return dialect(dialect_name).style(style, bpm=bpm)
