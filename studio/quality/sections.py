"""Where each section of the lyrics starts in the audio, from the lyric check's aligned lines.

No model reports its section boundaries, but the lyric check places every sung line in time
(``check_lyrics``), and the lyric sheet says which line opens which section: a sung section starts
where its first line does. Nothing is guessed where the check has no time to give.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from studio.quality.align import tokens
from studio.quality.report import LyricCheck

How = Literal["heard", "estimated", "song start", "not known"]


@dataclass(frozen=True)
class SectionStart:
    tag: str
    start: float | None
    how: How


def section_starts(lyrics: str, check: LyricCheck | None) -> list[SectionStart] | None:
    """Each section of ``lyrics`` in order with its start, or None when there is no alignment of
    these lyrics to use (never checked, or checked against other lyrics).

    A section whose first line was heard starts there ("heard"); one whose first line was missing
    gets the gap where that line should have been ("estimated", what ``_place_missing`` gives); a
    leading section with no sung lines (an intro) starts with the song; any other unsung section
    (a solo between verses) has no line to time it by ("not known")."""
    from studio.lyrics import parse

    if check is None or not check.lines:
        return None
    sections = parse(lyrics).sections
    opening: list[int | None] = []  # per section, the index of its first sung line among check.lines
    sung = 0
    for section in sections:
        counted = [line for line in section.lines if tokens(line.text)]  # what lyric_lines counts as sung
        opening.append(sung if counted else None)
        sung += len(counted)
    texts = [line.text for s in sections for line in s.lines if tokens(line.text)]
    if texts != [line.text for line in check.lines]:
        return None  # the check heard other lyrics (an edit's, a re-sung line's): its times do not fit these
    out = []
    for k, (section, first) in enumerate(zip(sections, opening, strict=True)):
        if first is None:
            out.append(SectionStart(section.tag_text, 0.0, "song start") if k == 0 else
                       SectionStart(section.tag_text, None, "not known"))
            continue
        line = check.lines[first]
        how: How = "estimated" if line.status == "missing" else "heard"
        out.append(SectionStart(section.tag_text, line.start, how if line.start is not None else "not known"))
    return out
