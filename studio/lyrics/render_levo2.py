"""LeVo 2 (SongGeneration 2) dialect, after upstream's README "Lyrics Formatting Rules" and the
strings its own demo hands to the model:

* one line; sections joined by `` ; ``; each starts with one of the 13 tags of
  ``conf/vocab.yaml``: ``[verse] [chorus] [bridge]`` (sung, must have lyrics),
  ``[intro|inst|outro-short|medium|long]`` and ``[silence]`` (played, must have none);
* lines of a sung section joined by ``.``; an English block is ``Line one. Line two.`` (ends
  with a period), a Chinese/Japanese/Korean block is ``第一句.第二句`` (no final period);
* no Chinese punctuation: ``。！？；，、…`` end a line (they become ``.``); inside a line only
  letters, digits, combining marks, spaces, apostrophes and hyphens are kept (upstream's demo
  strips the rest too); ``;`` and ``.`` are structure, never text;
* at least one sung section unless the song is instrumental;
* at most ``budgets.LEVO2.lyric_tokens`` (600) tokens of its Qwen2 tokenizer (see ``tokens``).

Mapping (sung tag when the section has lines / played tag when it has none; "-" drops it):

=============  ===========  ===============
kind           with lines   without lines
=============  ===========  ===============
INTRO          verse *      intro-<len>
VERSE          verse        -
PRE_CHORUS     verse        -
CHORUS         chorus       -
POST_CHORUS    chorus       -
HOOK           chorus       -
BRIDGE         bridge       -
RAP            verse        -
BUILD          verse        inst-<len>
DROP           chorus       inst-<len>
BREAK          bridge       inst-<len>
INTERLUDE      bridge       inst-<len>
SOLO           bridge       inst-<len>
INSTRUMENTAL   bridge       inst-<len>
OUTRO          bridge *     outro-<len>
SILENCE        verse        silence
OTHER          verse        inst-<len>
=============  ===========  ===============

``*`` an intro with lyrics becomes ``[intro-<len>] ; [verse] ...``; an outro with lyrics becomes
``[bridge] ... ; [outro-<len>]``. ``<len>`` is the typed length when there is one, else it comes
from the requested duration (``render.pick_length``). An instrumental request keeps the
structure with every section played (``[inst-<len>]`` for sung ones) and drops the lyrics.
"""

from __future__ import annotations

import re
import unicodedata

from studio.lyrics.budgets import LEVO2 as BUDGET
from studio.lyrics.render import Rendered, RenderOptions, no_lyrics_problem, pick_length, tag_changed
from studio.lyrics.report import Fix, Problem
from studio.lyrics.sheet import Section, SectionKind, Sheet
from studio.lyrics.text import is_cjk_block
from studio.lyrics.tokens import count_levo_lyric_tokens

K = SectionKind
SUNG_TAGS: tuple[str, ...] = ("verse", "chorus", "bridge")
PLAYED_PREFIXES: tuple[str, ...] = ("intro", "inst", "outro")
LENGTHS: tuple[str, ...] = ("short", "medium", "long")
VOCAB: tuple[str, ...] = (
    *SUNG_TAGS,
    *(f"{p}-{n}" for p in PLAYED_PREFIXES for n in LENGTHS),
    "silence",
)
SECTION_SEPARATOR = " ; "

# kind -> (tag with lines, tag without lines); "inst"/"intro"/"outro" get a length suffix.
TABLE: dict[SectionKind, tuple[str, str | None]] = {
    K.INTRO: ("verse", "intro"),
    K.VERSE: ("verse", None),
    K.PRE_CHORUS: ("verse", None),
    K.CHORUS: ("chorus", None),
    K.POST_CHORUS: ("chorus", None),
    K.HOOK: ("chorus", None),
    K.BRIDGE: ("bridge", None),
    K.RAP: ("verse", None),
    K.BUILD: ("verse", "inst"),
    K.DROP: ("chorus", "inst"),
    K.BREAK: ("bridge", "inst"),
    K.INTERLUDE: ("bridge", "inst"),
    K.SOLO: ("bridge", "inst"),
    K.INSTRUMENTAL: ("bridge", "inst"),
    K.OUTRO: ("bridge", "outro"),
    K.SILENCE: ("verse", "silence"),
    K.OTHER: ("verse", "inst"),
}

# Characters that end a line (CJK sentence punctuation and the ASCII ones LeVo reads as structure).
_LINE_BREAKS = re.compile(r"[.!?;。！？；…｡，、]+")
_CHINESE_PUNCTUATION = set("。！？；，、…｡：「」『』《》〈〉（）【】〔〕～·")
_KEEP_PUNCTUATION = set("'-")
_LOOSE_MARKS = re.compile(r"(?<![^\W_])['-]+|['-]+(?![^\W_])")


def _allowed(ch: str) -> bool:
    return ch.isspace() or ch in _KEEP_PUNCTUATION or unicodedata.category(ch)[0] in "LNM"


def clean_line(text: str) -> tuple[list[str], list[str]]:
    """Split one typed line into LeVo phrases; return them and the characters removed."""
    # Line-ending punctuation other than "." is reported too ("." is LeVo's own separator).
    removed: list[str] = [ch for ch in "".join(_LINE_BREAKS.findall(text)) if ch != "."]
    phrases: list[str] = []
    for piece in _LINE_BREAKS.split(text):
        kept = []
        for ch in piece:
            if _allowed(ch):
                kept.append(ch)
            else:
                removed.append(ch)
                kept.append(" ")
        phrase = _LOOSE_MARKS.sub(" ", "".join(kept))
        phrase = re.sub(r"\s+", " ", phrase).strip()
        if phrase:
            phrases.append(phrase)
    return phrases, removed


def join_block(phrases: list[str]) -> str:
    if is_cjk_block("".join(phrases)):
        return ".".join(phrases)
    return ". ".join(phrases) + "."


def _played(base: str, section: Section, options: RenderOptions) -> str:
    if base == "silence":
        return base
    length = section.length or pick_length(options.duration_s)
    return f"{base}-{length.value}"


def _report_line(out: Rendered, source_line: int | None, text: str, removed: list[str]) -> None:
    if not removed:
        return
    chinese = sorted({ch for ch in removed if ch in _CHINESE_PUNCTUATION})
    other = sorted({ch for ch in removed if ch not in _CHINESE_PUNCTUATION})
    if chinese:
        out.fixes.append(Fix(line=source_line, code="chinese_punctuation",
                             message="Chinese punctuation " + " ".join(f"`{c}`" for c in chinese)
                             + " was removed (LeVo 2 takes none; `。！？；，、` end a line)"))
    if other:
        shown = " ".join(f"`{c}`" for c in other)
        out.fixes.append(Fix(line=source_line, code="removed_characters",
                             message=f"removed characters LeVo 2 cannot take: {shown}"))


def _breaks_in(text: str) -> bool:
    stripped = re.sub(r"[.!?;。！？；…｡，、]+$", "", text.strip())
    return bool(_LINE_BREAKS.search(stripped))


def render(sheet: Sheet, options: RenderOptions) -> Rendered:
    out = Rendered(lyrics="")
    parts: list[str] = []
    sung_sections = 0
    if options.instrumental and sheet.sung_lines:
        out.fixes.append(Fix(message="the song is instrumental, so its lyrics were left out",
                             code="instrumental_dropped_lyrics"))

    for section in sheet.sections:
        sung_tag, played_tag = TABLE[section.kind]
        rendered: list[str] = []
        if options.instrumental:
            rendered.append(_played(played_tag or "inst", section, options))
            body = ""
        else:
            phrases: list[str] = []
            for line in section.lines:
                pieces, removed = clean_line(line.text)
                _report_line(out, line.source_line, line.text, removed)
                if len(pieces) > 1 and _breaks_in(line.text):
                    out.fixes.append(Fix(line=line.source_line, code="split_line",
                                         message="punctuation inside the line split it into "
                                                 f"{len(pieces)} lines for LeVo 2"))
                if not pieces:
                    out.fixes.append(Fix(line=line.source_line, code="empty_line",
                                         message="the line had nothing LeVo 2 can sing and was left out"))
                phrases.extend(pieces)
            body = join_block(phrases) if phrases else ""
            if body:
                sung_sections += 1
                if section.kind is K.INTRO:
                    rendered += [_played("intro", section, options), sung_tag]
                elif section.kind is K.OUTRO:
                    rendered += [sung_tag, _played("outro", section, options)]
                else:
                    rendered.append(sung_tag)
            elif played_tag is not None:
                rendered.append(_played(played_tag, section, options))
        if not rendered:
            out.fixes.append(Fix(line=section.source_line, code="empty_section",
                                 message=f"`{section.tag_text}` has no lyrics and LeVo 2 sings every "
                                         "[verse], [chorus] and [bridge]: left out"))
            continue
        shown = " ; ".join(f"[{t}]" for t in rendered)
        if tag_changed(section, rendered[0] if len(rendered) == 1 else shown):
            out.fixes.append(Fix(line=section.source_line, code="tag_mapped",
                                 message=f"`{section.tag_text}` became `{shown}` for LeVo 2"))
        for tag in rendered:
            sung = tag in SUNG_TAGS
            parts.append(f"[{tag}] {body}" if sung else f"[{tag}]")

    if options.instrumental and not parts:
        parts.append(f"[inst-{pick_length(options.duration_s).value}]")
    out.lyrics = SECTION_SEPARATOR.join(parts)

    if not options.instrumental and sung_sections == 0:
        out.errors.append(no_lyrics_problem("LeVo 2 needs at least one [verse], [chorus] or [bridge]"))
    if out.lyrics and not options.instrumental:
        count = count_levo_lyric_tokens(out.lyrics)
        if count.tokens > BUDGET.lyric_tokens:
            over = count.tokens - BUDGET.lyric_tokens
            approx = "" if count.exact else "about "
            out.errors.append(Problem(
                code="too_many_tokens",
                message=(f"LeVo 2 reads at most {BUDGET.lyric_tokens} tokens of lyrics and these use {approx}"
                         f"{count.tokens}; remove about {over} tokens (roughly {1 + over // 8} lines) "
                         "or pick ACE-Step for long lyrics"),
            ))
    return out
