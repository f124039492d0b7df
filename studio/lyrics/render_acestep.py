"""ACE-Step 1.5 dialect: tags on their own lines, a blank line between sections.

Tags use ACE-Step's names (below); a number and a modifier are kept, written
``[Verse 2 - whispered]``; LeVo lengths (``[intro-short]``) are dropped; a tag the formatter does
not know is kept as typed (ACE-Step reads tags as text). Lines are kept as typed, ``(backing
vocals)`` included; square brackets inside a line become parentheses. An instrumental request is
``[Instrumental]``, ACE-Step's own convention. Lyrics must stay under 4096 characters.

=============  ==============
kind           ACE-Step tag
=============  ==============
INTRO          Intro
VERSE          Verse
PRE_CHORUS     Pre-Chorus
CHORUS         Chorus
POST_CHORUS    Post-Chorus
HOOK           Hook
BRIDGE         Bridge
RAP            Rap
BUILD          Build-Up
DROP           Drop
BREAK          Break
INTERLUDE      Interlude
SOLO           Solo
INSTRUMENTAL   Instrumental
OUTRO          Outro
SILENCE        Break (ACE-Step has no silence tag)
OTHER          the tag as typed
=============  ==============
"""

from __future__ import annotations

from studio.lyrics.budgets import ACESTEP as BUDGET
from studio.lyrics.render import (
    Rendered,
    RenderOptions,
    block_lines,
    no_lyrics_problem,
    tag_changed,
)
from studio.lyrics.report import Fix, Problem
from studio.lyrics.sheet import Section, SectionKind, Sheet

K = SectionKind
INSTRUMENTAL_LYRICS = "[Instrumental]"

TAG_NAMES: dict[SectionKind, str] = {
    K.INTRO: "Intro",
    K.VERSE: "Verse",
    K.PRE_CHORUS: "Pre-Chorus",
    K.CHORUS: "Chorus",
    K.POST_CHORUS: "Post-Chorus",
    K.HOOK: "Hook",
    K.BRIDGE: "Bridge",
    K.RAP: "Rap",
    K.BUILD: "Build-Up",
    K.DROP: "Drop",
    K.BREAK: "Break",
    K.INTERLUDE: "Interlude",
    K.SOLO: "Solo",
    K.INSTRUMENTAL: "Instrumental",
    K.OUTRO: "Outro",
    K.SILENCE: "Break",
}


def tag_for(section: Section) -> str:
    if section.kind is K.OTHER:
        return section.label
    inner = TAG_NAMES[section.kind]
    if section.number is not None:
        inner = f"{inner} {section.number}"
    if section.modifier:
        inner = f"{inner} - {section.modifier}"
    return inner


def render(sheet: Sheet, options: RenderOptions) -> Rendered:
    out = Rendered(lyrics="")
    if options.instrumental:
        if sheet.sung_lines:
            out.fixes.append(Fix(message="the song is instrumental, so its lyrics were left out",
                                 code="instrumental_dropped_lyrics"))
        out.lyrics = INSTRUMENTAL_LYRICS
        return out

    blocks: list[str] = []
    for section in sheet.sections:
        inner = tag_for(section)
        if tag_changed(section, inner):
            out.fixes.append(Fix(line=section.source_line, message=f"`{section.tag_text}` became `[{inner}]`",
                                 code="tag_mapped"))
        blocks.append("\n".join([f"[{inner}]", *block_lines(section, out.fixes)]))
    out.lyrics = "\n\n".join(blocks)

    if not sheet.sung_lines:
        out.errors.append(no_lyrics_problem("ACE-Step"))
    if len(out.lyrics) >= BUDGET.lyrics_chars:
        over = len(out.lyrics) - BUDGET.lyrics_chars + 1
        out.errors.append(Problem(
            message=(f"ACE-Step takes fewer than {BUDGET.lyrics_chars} characters of lyrics, these have "
                     f"{len(out.lyrics)}; remove at least {over} characters (about {1 + over // 40} lines)"),
            code="too_long",
        ))
    return out
