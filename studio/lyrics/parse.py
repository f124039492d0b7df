"""Parse lyrics in any dialect into a :class:`Sheet`. ``parse`` never raises.

Understood inputs: free-form Suno-style text (``[Verse 1]``, ``Chorus:``, ``(Hook)``, ``# Bridge``,
tags followed by text on the same line), the ACE-Step and HeartMuLa dialects (tags on their own
lines, blank lines between sections) and the LeVo dialect (one line, `` ; `` between sections,
``.`` between lines). Cleaning that every dialect wants happens here and is reported in
``Sheet.notes``: line endings, invisible characters, curly quotes, full-width letters and
digits, stray markdown (bold markers, bullets, code fences, rules, headings that are titles).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from studio.lyrics.report import Fix
from studio.lyrics.sections import ALIASES, BARE_HEADERS, Tag, _key, _tidy, read_tag
from studio.lyrics.sheet import INSTRUMENTAL_KINDS, Line, Section, SectionKind, Sheet

_NEWLINES = re.compile(r"\r\n|[\r\u2028\u2029\x85\x0b\x0c]")
_INVISIBLE = re.compile(r"[\u200b-\u200d\u2060\ufeff\u00ad\x00-\x08\x0e-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"[\t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
_CURLY = str.maketrans(
    {"‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'", "“": '"', "”": '"', "„": '"', "‟": '"', "″": '"'}
)
# Full-width letters and digits (ＡＢＣ１２３) are ASCII typed with an East-Asian keyboard.
_FULLWIDTH_ALNUM = {c: c - 0xFEE0 for r in ((0xFF10, 0xFF19), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A))
                    for c in range(r[0], r[1] + 1)}

_OPEN, _CLOSE = "[【［", "]】］"
_TAG_AT_START = re.compile(r"^[\[【［]([^\[\]【】［］]*)[\]】］]\s*(.*)$")
_LEVO_INLINE = re.compile(r"[\[【［][^\[\]【】［］]+[\]】］][^;；]*[;；]\s*[\[【［]")
_LEVO_SPLIT = re.compile(r"\s*[;；]\s*")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*$")
_FENCE = re.compile(r"^(```|~~~)")
_RULE = re.compile(r"^(?:([-*_=])\s*)\1(?:\s*\1)+$")
_BULLET = re.compile(r"^(?:[-*+•]\s+|>\s?)")
_EMPHASIS = re.compile(r"\*\*|__")
_COLON_LABEL = re.compile(r"^(.{1,30}?)\s*[:：]$")
_PAREN_LABEL = re.compile(r"^[(（]\s*(.{1,30}?)\s*[)）]$")
_BARE = re.compile(r"^[^\W\d_][\w \-']*$")
_META = re.compile(r"^(title|song|song title|lyrics|artist|by|written by|style|genre|tags)\s*[:：]", re.I)


@dataclass
class _Open:
    tag: Tag
    source_line: int
    lines: list[Line] = field(default_factory=list)
    closed: bool = False  # an instrumental tag followed by a blank line takes no more lines


class _Parser:
    def __init__(self) -> None:
        self.sections: list[Section] = []
        self.notes: list[Fix] = []
        self._codes: set[str] = set()
        self.current: _Open | None = None
        self.paragraphs: list[list[Line]] = []
        self.paragraph: list[Line] = []
        self.seen_content = False
        self.after_blank = True  # a bare "Chorus" is a tag only at the start of a paragraph

    # -- reporting -------------------------------------------------------------------------
    def note(self, line: int | None, message: str, code: str, once: bool = True) -> None:
        if once and code in self._codes:
            return
        self._codes.add(code)
        self.notes.append(Fix(line=line, message=message, code=code))

    # -- events ----------------------------------------------------------------------------
    def header(self, tag: Tag, source_line: int) -> None:
        self.finish_current()
        self.flush_untagged()
        self.current = _Open(tag, source_line)
        self.seen_content = True
        self.after_blank = False

    def lyric(self, text: str, source_line: int) -> None:
        text = re.sub(r"\s+", " ", text).strip()
        if not text:
            return
        self.seen_content = True
        self.after_blank = False
        line = Line(text=text, source_line=source_line)
        cur = self.current
        if cur is not None and cur.closed and not cur.lines:
            self.finish_current()
            cur = None
        if cur is None:
            self.paragraph.append(line)
        else:
            cur.lines.append(line)

    def blank(self) -> None:
        self.after_blank = True
        if self.current is None:
            if self.paragraph:
                self.paragraphs.append(self.paragraph)
                self.paragraph = []
        elif not self.current.lines and self.current.tag.kind in INSTRUMENTAL_KINDS:
            self.current.closed = True

    def finish_current(self) -> None:
        cur = self.current
        if cur is None:
            return
        t = cur.tag
        self.sections.append(
            Section(
                kind=t.kind,
                number=t.number,
                modifier=t.modifier,
                length=t.length,
                label=t.label,
                lines=tuple(cur.lines),
                source_line=cur.source_line,
            )
        )
        self.current = None

    def flush_untagged(self) -> None:
        paragraphs = [p for p in [*self.paragraphs, self.paragraph] if p]
        self.paragraphs, self.paragraph = [], []
        if not paragraphs:
            return
        # Double-spaced pastes put a blank line after every line: that is one block, not many.
        if len(paragraphs) > 1 and all(len(p) == 1 for p in paragraphs):
            paragraphs = [[line for p in paragraphs for line in p]]
        for p in paragraphs:
            first = p[0].source_line
            self.note(first, "lyrics without a section tag were read as a verse", "untagged", once=False)
            self.sections.append(
                Section(kind=SectionKind.VERSE, lines=tuple(p), source_line=first, implicit=True)
            )

    def done(self) -> Sheet:
        self.finish_current()
        self.flush_untagged()
        return Sheet(sections=tuple(self.sections), notes=tuple(self.notes))


def _clean_text(text: object, p: _Parser) -> str:
    if text is None:
        return ""
    if not isinstance(text, str):
        text = str(text)
    cleaned = _NEWLINES.sub("\n", text)
    invisible = _INVISIBLE.search(cleaned)
    if invisible:
        p.note(_line_of(cleaned, invisible.start()), "removed invisible or control characters", "invisible")
        cleaned = _INVISIBLE.sub("", cleaned)
    cleaned = _SPACES.sub(" ", cleaned)
    straight = cleaned.translate(_CURLY)
    if straight != cleaned:
        p.note(_line_of(cleaned, _first_difference(cleaned, straight)),
               "curly quotes became straight quotes", "quotes")
    halfwidth = straight.translate(_FULLWIDTH_ALNUM)
    if halfwidth != straight:
        p.note(_line_of(straight, _first_difference(straight, halfwidth)),
               "full-width letters and digits became ordinary ones", "fullwidth")
    return halfwidth


def _line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def _first_difference(a: str, b: str) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y), 0)


def _plain_label(line: str, allow_bare: bool = True) -> Tag | None:
    """``Chorus:``, ``(Verse 2)`` or a bare ``Chorus`` alone on a line, when the name is known.

    A bare name counts only where a paragraph starts (``allow_bare``): in the middle of a section
    it is a sung line, which is also how the tag-per-line dialects read back their own output."""
    for pattern, any_kind in ((_COLON_LABEL, True), (_PAREN_LABEL, True), (None, False)):
        if pattern is None:
            if not allow_bare or not _BARE.match(line):
                continue
            candidate = line
        else:
            match = pattern.match(line)
            if not match:
                continue
            candidate = match.group(1)
        if len(candidate) > 30 or any(ch in candidate for ch in _OPEN + _CLOSE):
            continue
        tag = read_tag(candidate)
        if tag.kind is SectionKind.OTHER or tag.modifier or tag.stop:
            continue
        base = re.sub(r"\s*#?\d{1,3}$", "", candidate)
        exact = ALIASES.get(_key(base)) is tag.kind or tag.length is not None
        if exact and (any_kind or tag.kind in BARE_HEADERS):
            return tag
    return None


def _read_tags(p: _Parser, line: str, no: int) -> tuple[Tag | None, str]:
    """A tag at the start of ``line`` (more tags right after it become its modifier)."""
    match = _TAG_AT_START.match(line)
    if not match:
        return None, line
    tag, rest = read_tag(match.group(1)), match.group(2)
    extra = _TAG_AT_START.match(rest)
    while extra:
        more = _tidy(extra.group(1))
        if more:
            if tag.kind is SectionKind.OTHER:
                tag = read_tag(f"{tag.label} {more}")
            else:
                modifier = _tidy(f"{tag.modifier}, {more}" if tag.modifier else more)
                tag = Tag(tag.kind, tag.number, modifier, tag.length, f"{tag.label}] [{more}")
        rest = extra.group(2)
        extra = _TAG_AT_START.match(rest)
    return tag, rest


def _add_tag(p: _Parser, tag: Tag | None, no: int) -> None:
    if tag is None:
        return
    if tag.stop:
        p.note(no, f"dropped `[{tag.label}]` (it marks the end, it is not a section)", "stop_tag", once=False)
        return
    if not tag.label.strip():
        p.note(no, "dropped an empty tag `[]`", "empty_tag", once=False)
        return
    p.header(tag, no)


def _levo_line(p: _Parser, line: str, no: int) -> None:
    for chunk in _LEVO_SPLIT.split(line):
        tag, rest = _read_tags(p, chunk.strip(), no)
        _add_tag(p, tag, no)
        for piece in rest.split("."):
            _parse_rest(p, piece, no)


def parse(text: object) -> Sheet:
    """Read lyrics typed in any supported form. Never raises; odd input gives an odd sheet."""
    p = _Parser()
    try:
        raw_lines = _clean_text(text, p).split("\n")
        for no, raw in enumerate(raw_lines, start=1):
            _parse_line(p, raw.strip(), no)
        return p.done()
    except Exception as exc:  # pragma: no cover - a parser bug must not take the app down
        return Sheet(notes=(Fix(message=f"could not read the lyrics ({exc!r}); nothing was kept",
                                code="parse_failed"),))


def _parse_rest(p: _Parser, rest: str, no: int) -> None:
    """Text after a tag on the same line reads like a line of its own (so that rendering it on
    its own line and parsing again finds the same thing)."""
    rest = rest.strip()
    if rest:
        _parse_line(p, rest, no)


def _parse_line(p: _Parser, line: str, no: int) -> None:
    if not line:
        p.blank()
        return
    if _FENCE.match(line) or _RULE.match(line):
        p.note(no, "removed markdown formatting (code fences, rules)", "markdown_block")
        return
    plain = line
    while True:  # "- **- x**" needs more than one pass; a second parse must find nothing left
        stripped = _EMPHASIS.sub("", _BULLET.sub("", plain)).strip()
        if stripped == plain:
            break
        plain = stripped
    if plain != line:
        p.note(no, "removed markdown formatting (bold markers, bullets, quotes)", "markdown")
    if not plain or _FENCE.match(plain) or _RULE.match(plain):
        p.blank()
        return
    heading = _HEADING.match(plain)
    if heading:
        inner = heading.group(1).strip()
        tag, rest = _read_tags(p, inner, no)
        if tag is None:
            tag = _plain_label(inner.rstrip(":："))
            rest = ""
        if tag is None or tag.kind is SectionKind.OTHER:
            p.note(no, f"dropped the heading `{plain}` (titles are not sung)", "heading", once=False)
            return
        _add_tag(p, tag, no)
        _parse_rest(p, rest, no)
        return
    if not p.seen_content and _META.match(plain):
        p.note(no, f"dropped `{plain}` (song details are not sung)", "meta", once=False)
        return
    if _LEVO_INLINE.search(plain):
        _levo_line(p, plain, no)
        return
    tag, rest = _read_tags(p, plain, no)
    if tag is not None:
        _add_tag(p, tag, no)
        _parse_rest(p, rest, no)
        return
    label = _plain_label(plain, allow_bare=p.after_blank)
    if label is not None:
        if not plain.startswith(("[", "【", "［")):
            p.note(no, f"read `{plain}` as the section tag `[{label.label}]`", "plain_label", once=False)
        p.header(label, no)
        return
    p.lyric(plain, no)
