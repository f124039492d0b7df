"""What every renderer shares: request options, the result shape and the dispatch table."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from studio.lyrics.report import Fix, Problem
from studio.lyrics.sections import _key
from studio.lyrics.sheet import Length, Section, Sheet

# A bare instrumental tag ([Intro], [Outro], [Instrumental]) becomes LeVo's -short/-medium/-long
# from the requested song length: below SHORT_BELOW_S seconds "short" (about 0-10 s), below
# MEDIUM_BELOW_S "medium" (about 10-20 s), otherwise "long". Without a length, "short", as
# upstream's own demo does for a bare [intro].
SHORT_BELOW_S = 100.0
MEDIUM_BELOW_S = 240.0


def pick_length(duration_s: float | None) -> Length:
    if duration_s is None or duration_s < SHORT_BELOW_S:
        return Length.SHORT
    if duration_s < MEDIUM_BELOW_S:
        return Length.MEDIUM
    return Length.LONG


@dataclass(frozen=True)
class RenderOptions:
    duration_s: float | None = None
    instrumental: bool = False
    bpm: int | None = None
    language: str | None = None


@dataclass
class Rendered:
    lyrics: str
    fixes: list[Fix] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)


def tag_changed(section: Section, new_inner: str) -> bool:
    """Whether a rendered tag says something other than the typed one (case and spacing aside)."""
    return not section.implicit and _key(section.label) != _key(new_inner)


def brackets_to_parentheses(text: str) -> str:
    """Square brackets are reserved for tags; inside a sung line they become parentheses."""
    return text.translate(str.maketrans("[]【】［］", "()()()"))


def block_lines(section: Section, fixes: list[Fix]) -> list[str]:
    """A section's sung lines for the line-per-line dialects (ACE-Step, HeartMuLa), with brackets
    inside lines turned into parentheses and each such change reported."""
    lines = []
    for line in section.lines:
        text = brackets_to_parentheses(line.text)
        if text != line.text:
            fixes.append(Fix(line=line.source_line, code="brackets",
                             message="square brackets inside a line became parentheses"))
        lines.append(text)
    return lines


def collapse(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


Renderer = Callable[[Sheet, RenderOptions], Rendered]


def no_lyrics_problem(model: str) -> Problem:
    return Problem(
        message=(
            f"there are no lyrics to sing; write at least one line under a [Verse] or [Chorus] "
            f"tag, or make the song instrumental ({model})"
        ),
        code="no_lyrics",
    )
