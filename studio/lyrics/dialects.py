"""The lyric dialects, one object each: the model's name as people know it, the renderer that writes
a :class:`Sheet` in the dialect, the validator that reads a rendered text the way the model will,
and the style converter. Everything that depends on the dialect asks this table; a dialect it does
not hold is an error, never another model's format.

Parsing is not here: ``parse`` reads every dialect (and what people type) into the same Sheet, so it
does not need to know which model the text is for. The lyric budgets (ACE-Step's characters, LeVo 2's
tokens) stay with the renderers and validators that check them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from backends.base import LyricDialect, StudioError
from studio.lyrics.render import Rendered, RenderOptions
from studio.lyrics.report import Problem
from studio.lyrics.sheet import Sheet
from studio.lyrics.style import StyleResult


@dataclass(frozen=True)
class Dialect:
    key: LyricDialect
    name: str  # what the model is called in messages
    render: Callable[[Sheet, RenderOptions], Rendered]
    validate: Callable[..., list[Problem]]  # (lyrics, style="", *, instrumental=False) -> problems
    style: Callable[..., StyleResult]  # (style, *, bpm=None) -> the style in this dialect


@cache
def table() -> dict[LyricDialect, Dialect]:
    # Built on first use: the renderers import studio.lyrics.render, which asks this table back.
    from studio.lyrics import render_acestep, render_heartmula, render_levo2
    from studio.lyrics.style import style_acestep, style_heartmula, style_levo2
    from studio.lyrics.validate import validate_acestep, validate_heartmula, validate_levo2

    dialects = (
        Dialect(LyricDialect.ACESTEP, "ACE-Step", render_acestep.render, validate_acestep, style_acestep),
        Dialect(LyricDialect.LEVO2, "LeVo 2", render_levo2.render, validate_levo2, style_levo2),
        Dialect(LyricDialect.HEARTMULA, "HeartMuLa", render_heartmula.render, validate_heartmula, style_heartmula),
    )
    return {d.key: d for d in dialects}


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
