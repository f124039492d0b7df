"""HeartMuLa dialect: ``[Intro] [Verse] [Prechorus] [Chorus] [Bridge] [Outro]`` headers on their
own lines, a blank line between sections, nothing else inside the brackets: the model sings
modifiers and numbers, so they are stripped (and reported). Lines are kept as typed (the model
lower-cases them itself); square brackets inside a line become parentheses. An instrumental
request has empty lyrics, which the model accepts.

Mapping of sections HeartMuLa has no header for:

=============  ===========  ==============
kind           with lines   without lines
=============  ===========  ==============
INTRO          Intro        Intro
VERSE          Verse        Verse
PRE_CHORUS     Prechorus    Prechorus
CHORUS         Chorus       Chorus
POST_CHORUS    Chorus       Chorus
HOOK           Chorus       Chorus
BRIDGE         Bridge       Bridge
RAP            Verse        Verse
BUILD          Prechorus    Bridge
DROP           Chorus       Bridge
BREAK          Bridge       Bridge
INTERLUDE      Bridge       Bridge
SOLO           Bridge       Bridge
INSTRUMENTAL   Bridge       Bridge
OUTRO          Outro        Outro
SILENCE        Verse        (dropped)
OTHER          Verse        Bridge
=============  ===========  ==============

A played section in the middle of a song becomes an empty ``[Bridge]`` (HeartMuLa has no
instrumental header; an empty header is how its own example writes a played ``[Intro]``).
"""

from __future__ import annotations

from studio.lyrics.render import (
    Rendered,
    RenderOptions,
    block_lines,
    no_lyrics_problem,
    tag_changed,
)
from studio.lyrics.report import Fix
from studio.lyrics.sheet import SectionKind, Sheet

K = SectionKind
HEADERS: tuple[str, ...] = ("Intro", "Verse", "Prechorus", "Chorus", "Bridge", "Outro")

# kind -> (header with lines, header without lines); None drops the section.
TABLE: dict[SectionKind, tuple[str, str | None]] = {
    K.INTRO: ("Intro", "Intro"),
    K.VERSE: ("Verse", "Verse"),
    K.PRE_CHORUS: ("Prechorus", "Prechorus"),
    K.CHORUS: ("Chorus", "Chorus"),
    K.POST_CHORUS: ("Chorus", "Chorus"),
    K.HOOK: ("Chorus", "Chorus"),
    K.BRIDGE: ("Bridge", "Bridge"),
    K.RAP: ("Verse", "Verse"),
    K.BUILD: ("Prechorus", "Bridge"),
    K.DROP: ("Chorus", "Bridge"),
    K.BREAK: ("Bridge", "Bridge"),
    K.INTERLUDE: ("Bridge", "Bridge"),
    K.SOLO: ("Bridge", "Bridge"),
    K.INSTRUMENTAL: ("Bridge", "Bridge"),
    K.OUTRO: ("Outro", "Outro"),
    K.SILENCE: ("Verse", None),
    K.OTHER: ("Verse", "Bridge"),
}


def render(sheet: Sheet, options: RenderOptions) -> Rendered:
    out = Rendered(lyrics="")
    if options.instrumental:
        if sheet.sung_lines:
            out.fixes.append(Fix(message="the song is instrumental, so its lyrics were left out",
                                 code="instrumental_dropped_lyrics"))
        return out

    blocks: list[str] = []
    for section in sheet.sections:
        with_lines, without_lines = TABLE[section.kind]
        header = with_lines if section.lines else without_lines
        if header is None:
            out.fixes.append(Fix(line=section.source_line, code="tag_dropped",
                                 message=f"`{section.tag_text}` was left out: HeartMuLa has no such section"))
            continue
        if tag_changed(section, header):
            out.fixes.append(Fix(line=section.source_line, code="tag_mapped",
                                 message=f"`{section.tag_text}` became `[{header}]` for HeartMuLa"))
        blocks.append("\n".join([f"[{header}]", *block_lines(section, out.fixes)]))
    out.lyrics = "\n\n".join(blocks)
    if not sheet.sung_lines:
        out.errors.append(no_lyrics_problem("HeartMuLa"))
    return out
