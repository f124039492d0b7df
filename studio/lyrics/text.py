"""Script facts the renderers and the length estimate share."""

from __future__ import annotations

import unicodedata

# Han, kana and hangul: sung one character per syllable, written without spaces between words
# (hangul has spaces, but LeVo's data joins Korean phrases the Chinese way too).
_CJK_RANGES: tuple[tuple[int, int], ...] = (
    (0x3040, 0x30FF),  # hiragana, katakana
    (0x31F0, 0x31FF),  # katakana phonetic extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xAC00, 0xD7AF),  # hangul syllables
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF66, 0xFF9F),  # half-width katakana
    (0x20000, 0x2FA1F),  # CJK extensions B and later
)


def is_cjk(ch: str) -> bool:
    code = ord(ch)
    return any(lo <= code <= hi for lo, hi in _CJK_RANGES)


def is_letter(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "LN"


def is_cjk_block(text: str) -> bool:
    """True when at least a third of the letters are CJK (one CJK character carries about as
    much as a short word, so a Chinese block with an English phrase still counts as Chinese)."""
    letters = [ch for ch in text if is_letter(ch)]
    if not letters:
        return False
    return 3 * sum(1 for ch in letters if is_cjk(ch)) >= len(letters)
