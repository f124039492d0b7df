"""Per-dialect validators: read a rendered string the way the model will, and list what is wrong.

They are written from the dialect rules, not from the renderers, so that a renderer bug shows up
as a validation problem (``format_lyrics`` runs them as a last check, and the property tests
check every error-free render against them).
"""

from __future__ import annotations

import re
import unicodedata

from studio.lyrics import budgets
from studio.lyrics.report import Problem
from studio.lyrics.text import is_cjk_block
from studio.lyrics.tokens import count_levo_lyric_tokens, estimate_tokens

HEARTMULA_HEADERS = frozenset({"Intro", "Verse", "Prechorus", "Chorus", "Bridge", "Outro"})
LEVO_SUNG = frozenset({"verse", "chorus", "bridge"})
LEVO_PLAYED = frozenset(
    {f"{p}-{n}" for p in ("intro", "inst", "outro") for n in ("short", "medium", "long")} | {"silence"}
)

_WHOLE_TAG = re.compile(r"^\[[^\[\]\n]+\]$")
_LEVO_PART = re.compile(r"^\[([^\[\]]+)\](?: (.+))?$")


def _problem(message: str, code: str, line: int | None = None) -> Problem:
    return Problem(line=line, message=message, code=code)


def _blocks(lyrics: str, dialect_name: str, problems: list[Problem]) -> list[tuple[int, str, list[str]]]:
    """Tag-per-line dialects: check the layout; return (line number, tag, lines) per section."""
    if lyrics != lyrics.strip("\n") or lyrics != lyrics.strip():
        problems.append(_problem("the lyrics start or end with blank space", "layout"))
    blocks: list[tuple[int, str, list[str]]] = []
    previous_blank = True
    for no, line in enumerate(lyrics.split("\n"), start=1):
        if line != line.strip():
            problems.append(_problem("spaces at the start or end of a line", "layout", no))
        if not line.strip():
            if previous_blank and no > 1:
                problems.append(_problem("two blank lines in a row", "layout", no))
            previous_blank = True
            continue
        if _WHOLE_TAG.match(line):
            if not previous_blank:
                problems.append(_problem(f"{dialect_name} wants a blank line before each tag", "layout", no))
            blocks.append((no, line[1:-1], []))
        elif "[" in line or "]" in line:
            problems.append(_problem("square brackets are only for tags on their own line", "brackets", no))
        elif previous_blank or not blocks:
            problems.append(_problem("a section must start with a tag on its own line", "untagged", no))
            if not blocks:
                blocks.append((no, "", [line]))
            else:
                blocks[-1][2].append(line)
        else:
            blocks[-1][2].append(line)
        previous_blank = False
    return blocks


def validate_acestep(lyrics: str, style: str = "", *, instrumental: bool = False) -> list[Problem]:
    problems: list[Problem] = []
    budget = budgets.ACESTEP
    if len(lyrics) >= budget.lyrics_chars:
        problems.append(_problem(f"lyrics must be under {budget.lyrics_chars} characters", "too_long"))
    if len(style) >= budget.style_chars:
        problems.append(
            _problem(f"the caption must be under {budget.style_chars} characters", "style_too_long")
        )
    blocks = _blocks(lyrics, "ACE-Step", problems)
    sung = sum(len(lines) for _, _, lines in blocks)
    if instrumental and sung:
        problems.append(_problem("an instrumental song must have no sung lines", "instrumental_lyrics"))
    if not instrumental and not sung:
        problems.append(_problem("there are no lines to sing", "no_lyrics"))
    return problems


def validate_heartmula(lyrics: str, style: str = "", *, instrumental: bool = False) -> list[Problem]:
    problems: list[Problem] = []
    blocks = _blocks(lyrics, "HeartMuLa", problems) if lyrics else []
    for no, tag, _ in blocks:
        if tag and tag not in HEARTMULA_HEADERS:
            problems.append(_problem(f"`[{tag}]` is not a HeartMuLa header (it would be sung)", "tag", no))
    sung = sum(len(lines) for _, _, lines in blocks)
    if instrumental and lyrics:
        problems.append(_problem("an instrumental HeartMuLa song has empty lyrics", "instrumental_lyrics"))
    if not instrumental and not sung:
        problems.append(_problem("there are no lines to sing", "no_lyrics"))
    if style:
        tags = style.split(",")
        if any(t != t.strip() or not t for t in tags):
            problems.append(_problem("HeartMuLa tags are comma-separated, without spaces around commas "
                                     "and without empty tags", "style_format"))
    return problems


def _levo_phrase_ok(phrase: str) -> bool:
    if not phrase or phrase != phrase.strip() or "  " in phrase:
        return False
    return all(ch == " " or ch in "'-" or unicodedata.category(ch)[0] in "LNM" for ch in phrase)


def validate_levo2(lyrics: str, style: str = "", *, instrumental: bool = False) -> list[Problem]:
    problems: list[Problem] = []
    if "\n" in lyrics:
        problems.append(_problem("LeVo 2 lyrics are one line", "layout"))
    if not lyrics:
        problems.append(_problem("LeVo 2 lyrics are empty", "empty"))
    sung = 0
    for index, part in enumerate(lyrics.split(" ; ") if lyrics else [], start=1):
        match = _LEVO_PART.match(part)
        where = f"section {index}"
        if not match:
            problems.append(_problem(f"{where} must be one [tag] and its text, joined by ` ; `", "layout"))
            continue
        tag, body = match.group(1), match.group(2)
        if tag in LEVO_PLAYED:
            if body is not None:
                problems.append(
                    _problem(f"{where}: `[{tag}]` is played and must carry no lyrics", "played_lyrics")
                )
            continue
        if tag not in LEVO_SUNG:
            problems.append(_problem(f"{where}: `[{tag}]` is not in LeVo 2's vocabulary", "tag"))
            continue
        if not body:
            problems.append(_problem(f"{where}: `[{tag}]` is sung and needs lyrics", "sung_empty"))
            continue
        sung += 1
        if is_cjk_block(body):
            phrases = body.split(".")
            if body.endswith("."):
                problems.append(_problem(f"{where}: a Chinese block ends without a period", "ending"))
        else:
            if not body.endswith("."):
                problems.append(_problem(f"{where}: an English block ends with a period", "ending"))
            phrases = body[:-1].split(". ") if body.endswith(".") else body.split(". ")
        if not all(_levo_phrase_ok(p) for p in phrases):
            problems.append(_problem(f"{where}: lines may hold only letters, digits, spaces, ' and -, "
                                     "joined by `.`", "characters"))
    if instrumental and sung:
        problems.append(_problem("an instrumental LeVo 2 song has no sung sections", "instrumental_lyrics"))
    if not instrumental and lyrics and not sung:
        problems.append(_problem("LeVo 2 needs at least one sung section", "no_lyrics"))
    if lyrics and not instrumental:
        count = count_levo_lyric_tokens(lyrics)
        if count.tokens > budgets.LEVO2.lyric_tokens:
            problems.append(
                _problem(f"more than {budgets.LEVO2.lyric_tokens} tokens ({count.tokens})", "too_many_tokens")
            )
    if style:
        if not style.endswith(".") or style.count(".") != 1:
            problems.append(_problem("the LeVo 2 style is keywords ending with one period", "style_format"))
        items = style[:-1].split(", ")
        if any(not i or i != i.strip() or len(i.split()) > 4 for i in items):
            problems.append(_problem("the LeVo 2 style is short keywords joined by `, `", "style_format"))
        if estimate_tokens(style) + budgets.LEVO2.style_prefix_tokens > budgets.LEVO2.style_tokens:
            problems.append(_problem(f"the LeVo 2 style must stay within {budgets.LEVO2.style_tokens} tokens",
                                     "style_too_long"))
    return problems
