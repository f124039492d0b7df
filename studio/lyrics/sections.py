"""Reading a section tag: ``[Verse 2 - whispered]`` -> kind VERSE, number 2, modifier "whispered".

Tag names are matched case-, space- and hyphen-insensitively against ``ALIASES``; a name that is
not there is searched for a known keyword (``[Final Chorus]`` -> CHORUS, modifier "final");
anything else is kept as ``SectionKind.OTHER`` with its label, and each renderer maps it by its
own documented table.

Aliases (key -> kind), including Suno habits and a few non-English names:

==============================  =============
intro, opening, introduction,   INTRO
  前奏, イントロ
verse, strophe, estrofa, verso, VERSE
  couplet, 主歌, aメロ
pre-chorus, prechorus, pre-hook, PRE_CHORUS
  lift, precoro, 预副歌, bメロ
chorus, refrain, coro,          CHORUS
  estribillo, 副歌, サビ
post-chorus, post-hook          POST_CHORUS
hook                            HOOK
bridge, middle 8, puente, 桥段  BRIDGE
rap                             RAP
build, build-up, buildup, riser BUILD
drop, beat drop                 DROP
break, breakdown                BREAK
interlude, transition, 间奏,    INTERLUDE
  間奏
solo                            SOLO
instrumental, inst              INSTRUMENTAL
outro, ending, coda, fade out,  OUTRO
  尾奏, アウトロ
silence                         SILENCE
==============================  =============

``[End]`` is a Suno stop marker, not a section: parsing drops it (and says so).
LeVo's own tags (``[intro-short]``, ``[inst-medium]``, ``[outro-long]``) carry a ``Length``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from studio.lyrics.sheet import Length, SectionKind

K = SectionKind


def _key(name: str) -> str:
    """Case-, space-, hyphen- and underscore-insensitive lookup key."""
    return re.sub(r"[\s\-_.'’]+", "", name.casefold())


ALIASES: dict[str, SectionKind] = {
    _key(name): kind
    for kind, names in {
        K.INTRO: ("intro", "opening", "introduction", "前奏", "イントロ"),
        K.VERSE: ("verse", "strophe", "estrofa", "verso", "couplet", "主歌", "aメロ"),
        K.PRE_CHORUS: ("pre-chorus", "pre-hook", "lift", "precoro", "pre-coro", "预副歌", "bメロ"),
        K.CHORUS: ("chorus", "refrain", "coro", "estribillo", "副歌", "サビ"),
        K.POST_CHORUS: ("post-chorus", "post-hook"),
        K.HOOK: ("hook",),
        K.BRIDGE: ("bridge", "middle 8", "middle eight", "puente", "桥段"),
        K.RAP: ("rap",),
        K.BUILD: ("build", "build-up", "riser"),
        K.DROP: ("drop", "beat drop"),
        K.BREAK: ("break", "breakdown"),
        K.INTERLUDE: ("interlude", "transition", "间奏", "間奏"),
        K.SOLO: ("solo",),
        K.INSTRUMENTAL: ("instrumental", "inst"),
        K.OUTRO: ("outro", "ending", "coda", "fade out", "fadeout", "尾奏", "アウトロ"),
        K.SILENCE: ("silence",),
    }.items()
    for name in names
}

# Searched, in this order, among the words of a tag that is not an alias.
KEYWORDS: tuple[tuple[str, SectionKind], ...] = (
    ("prechorus", K.PRE_CHORUS),
    ("postchorus", K.POST_CHORUS),
    ("chorus", K.CHORUS),
    ("verse", K.VERSE),
    ("bridge", K.BRIDGE),
    ("hook", K.HOOK),
    ("intro", K.INTRO),
    ("outro", K.OUTRO),
    ("drop", K.DROP),
    ("breakdown", K.BREAK),
    ("break", K.BREAK),
    ("interlude", K.INTERLUDE),
    ("solo", K.SOLO),
    ("instrumental", K.INSTRUMENTAL),
    ("rap", K.RAP),
)

# Tags that mark the end of a song rather than a section; parsing drops them.
STOP_TAGS: frozenset[str] = frozenset({"end", "theend", "fin", "stop"})

# Bare words (no brackets, colon or parentheses) that are read as tags when alone on a line.
BARE_HEADERS: frozenset[SectionKind] = frozenset(
    {K.INTRO, K.VERSE, K.PRE_CHORUS, K.CHORUS, K.POST_CHORUS, K.BRIDGE, K.OUTRO, K.INSTRUMENTAL}
)

_LEVO_LENGTH = re.compile(r"^(intro|inst|outro)[\s\-_]*(short|medium|long)$", re.IGNORECASE)
_MODIFIER_SPLIT = re.compile(r"\s*(?::|：|\s[-–—]\s|[–—]|\|)\s*")
_PAREN_MODIFIER = re.compile(r"^(.*?)\s*[(（](.*?)[)）]\s*$")
_REPEAT = re.compile(r"^(.*?)\s+([x×]\s*\d{1,2})$", re.IGNORECASE)
_NUMBER = re.compile(r"^(.*?)\s*#?(\d{1,3})$")


@dataclass(frozen=True)
class Tag:
    kind: SectionKind
    number: int | None = None
    modifier: str = ""
    length: Length | None = None
    label: str = ""
    stop: bool = False


def _tidy(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip(" -–—:|,")


def read_tag(label: str) -> Tag:
    """Classify a tag's inner text (no brackets). Never raises."""
    label = _tidy(label)
    levo = _LEVO_LENGTH.match(label)
    if levo:
        kind = {"intro": K.INTRO, "inst": K.INSTRUMENTAL, "outro": K.OUTRO}[levo.group(1).lower()]
        return Tag(kind, length=Length(levo.group(2).lower()), label=label)
    if _key(label) in STOP_TAGS:
        return Tag(K.OTHER, label=label, stop=True)

    name, modifier = label, ""
    parts = _MODIFIER_SPLIT.split(label, maxsplit=1)
    if len(parts) == 2 and parts[0]:
        name, modifier = parts[0], parts[1]
    else:
        paren = _PAREN_MODIFIER.match(label)
        if paren and paren.group(1):
            name, modifier = paren.group(1), paren.group(2)
    repeat = _REPEAT.match(name)
    if repeat and repeat.group(1):
        name, modifier = repeat.group(1), _tidy(f"{repeat.group(2)} {modifier}")
    number = None
    numbered = _NUMBER.match(name)
    if numbered and numbered.group(1):
        name, number = numbered.group(1), int(numbered.group(2))

    kind = ALIASES.get(_key(name))
    if kind is None:
        words = name.split()
        for keyword, candidate in KEYWORDS:
            hits = [i for i, w in enumerate(words) if _key(w) == keyword]
            if hits:
                kind = candidate
                rest = " ".join(w for i, w in enumerate(words) if i != hits[0])
                modifier = _tidy(f"{rest} {modifier}")
                break
    if kind is None:
        return Tag(K.OTHER, label=label)
    return Tag(kind, number=number, modifier=_tidy(modifier), label=label)
