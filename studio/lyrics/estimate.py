"""How long a sheet will sing, in seconds (LeVo's length follows its lyrics; the budget guard
needs a figure before any model runs).

Model: each sung syllable takes an eighth note, each line ends with a two-beat breath, at the
given bpm or ``DEFAULT_BPM``; each section without lines takes ``PLAYED_SECONDS`` by its kind
(or by its LeVo length: short 8 s, medium 15 s, long 25 s, upstream's "about 0-10 / 10-20 s").
Syllables: a CJK character (han, kana, hangul) is one, small kana none; other words count their
vowel groups (accents folded; a silent English final ``e`` does not count), at least one per word;
a digit is one. An estimate, not a promise: singers stretch and squeeze.
"""

from __future__ import annotations

import re
import unicodedata

from studio.lyrics.sheet import Length, SectionKind, Sheet
from studio.lyrics.text import is_cjk

K = SectionKind
DEFAULT_BPM = 110
BREATH_BEATS = 2.0
SYLLABLE_BEATS = 0.5
LENGTH_SECONDS: dict[Length, float] = {Length.SHORT: 8.0, Length.MEDIUM: 15.0, Length.LONG: 25.0}
PLAYED_SECONDS: dict[SectionKind, float] = {
    K.INTRO: 8.0,
    K.OUTRO: 8.0,
    K.INSTRUMENTAL: 10.0,
    K.SOLO: 10.0,
    K.BREAK: 8.0,
    K.INTERLUDE: 8.0,
    K.DROP: 10.0,
    K.BUILD: 6.0,
    K.SILENCE: 2.0,
    K.OTHER: 8.0,
}  # a sung kind without lines (e.g. a bare "[Chorus]") adds nothing

_SMALL_KANA = set("ぁぃぅぇぉゃゅょゎァィゥェォャュョヮ")
_VOWELS = set("aeiouyаеёиоуыэюяіїєαεηιουωäöüæøåœ")
_WORD = re.compile(r"[^\W\d_]+|\d", re.UNICODE)


def _fold(word: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFD", word.lower()) if not unicodedata.combining(ch))


def word_syllables(word: str) -> int:
    if word.isdigit():
        return len(word)
    cjk = [ch for ch in word if is_cjk(ch)]
    if cjk:
        rest = "".join(" " if is_cjk(ch) else ch for ch in word).split()
        return sum(ch not in _SMALL_KANA for ch in cjk) + sum(word_syllables(w) for w in rest)
    folded = _fold(word)
    if not any(ch in _VOWELS for ch in folded):
        # scripts without listed vowels (Arabic, Devanagari, ...): about one syllable per 2 letters
        return max(1, round(len(folded) / 2)) if not folded.isascii() else 1
    groups = len(re.findall(r"[aeiouyаеёиоуыэюяіїєαεηιουωäöüæøåœ]+", folded))
    if folded.isascii() and folded.endswith("e") and not folded.endswith(("le", "ee")) and groups > 1:
        groups -= 1
    return max(1, groups)


def line_syllables(text: str) -> int:
    return sum(word_syllables(w) for w in _WORD.findall(text))


def estimate_seconds(sheet: Sheet, bpm: int | None = None) -> float:
    beat = 60.0 / (bpm if bpm and bpm > 0 else DEFAULT_BPM)
    total = 0.0
    for section in sheet.sections:
        if section.lines:
            for line in section.lines:
                total += (line_syllables(line.text) * SYLLABLE_BEATS + BREATH_BEATS) * beat
        elif section.length is not None:
            total += LENGTH_SECONDS[section.length]
        else:
            total += PLAYED_SECONDS.get(section.kind, 0.0)
    return round(total, 1)
