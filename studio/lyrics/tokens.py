"""LeVo 2's token budget: its lyric conditioner reads at most 600 tokens of a Qwen2 tokenizer
(``max_len`` 600 in the model's config; the rest is cut off, so the song loses its end), and its
style conditioner at most 100.

The exact count needs the tokenizer files (``vocab.json`` + ``merges.txt``). They are looked for,
in order, in:

1. the folder named by ``STUDIO_LEVO2_TOKENIZER``;
2. ``third_party/Qwen2-7B`` inside the LeVo runtime folder named by ``STUDIO_LEVO2_RUNTIME``
   (where the LeVo backend unpacks the runtime download).

They are loaded with transformers' ``Qwen2Tokenizer`` plus the tokens upstream adds (the 13
structure tags and ``.`` as special tokens, ``<|im_start|>`` in front), so the count equals the
model's ``lyric_input_ids`` length. Without the files, ``estimate_tokens`` gives an estimate built
to over-count (see its docstring): a song it accepts fits; a song near the limit may be refused
that the real tokenizer would take.
"""

from __future__ import annotations

import functools
import math
import os
import re
import unicodedata
from pathlib import Path
from typing import Any, NamedTuple

from studio import settings
from studio.lyrics.text import is_cjk

TOKENIZER_ENV = settings.LEVO2_TOKENIZER.name
RUNTIME_ENV = settings.LEVO2_RUNTIME.name
RUNTIME_SUBDIR = Path("third_party") / "Qwen2-7B"
TOKENIZER_FILES = ("vocab.json", "merges.txt")

_STRUCTURE_TAGS = (
    "[verse]", "[chorus]", "[bridge]",
    "[intro-short]", "[intro-medium]", "[intro-long]",
    "[outro-short]", "[outro-medium]", "[outro-long]",
    "[inst-short]", "[inst-medium]", "[inst-long]",
    "[silence]",
)
_PREFIX = "<|im_start|>"


class TokenCount(NamedTuple):
    tokens: int
    exact: bool


def _has_files(folder: Path) -> bool:
    return all((folder / name).is_file() for name in TOKENIZER_FILES)


def tokenizer_dir(folder: str | os.PathLike[str] | None = None) -> Path | None:
    """Where the Qwen2 tokenizer files are: ``folder`` if given, else the configured places."""
    candidates: list[Path] = []
    if folder is not None:
        candidates.append(Path(folder))
    else:
        if tokenizer := settings.LEVO2_TOKENIZER.get():
            candidates.append(Path(tokenizer))
        if runtime := settings.LEVO2_RUNTIME.get():
            candidates.append(Path(runtime) / RUNTIME_SUBDIR)
    for candidate in candidates:
        if _has_files(candidate):
            return candidate
    return None


@functools.lru_cache(maxsize=4)
def _load(folder: str) -> Any:
    from transformers import Qwen2Tokenizer  # heavy import: only when the files exist

    tok = Qwen2Tokenizer.from_pretrained(folder)
    tok.add_special_tokens({"additional_special_tokens": [_PREFIX, *_STRUCTURE_TAGS, "."]})
    return tok


def load_tokenizer(folder: str | os.PathLike[str] | None = None) -> Any | None:
    """The LeVo lyric tokenizer, or None when its files are not configured."""
    where = tokenizer_dir(folder)
    return None if where is None else _load(str(where.resolve()))


def count_levo_lyric_tokens(lyrics: str, folder: str | os.PathLike[str] | None = None) -> TokenCount:
    """Tokens LeVo's lyric conditioner sees for ``lyrics`` (its ``<|im_start|>`` prefix included)."""
    tok = load_tokenizer(folder)
    if tok is None:
        return TokenCount(estimate_tokens(lyrics) + 1, exact=False)
    return TokenCount(len(tok.encode(_PREFIX + lyrics, add_special_tokens=False)), exact=True)


_SPECIAL = re.compile(r"\[(?:verse|chorus|bridge|silence|(?:intro|inst|outro)-(?:short|medium|long))\]")
_PIECES = re.compile(r"\s+|\d|[^\W\d_]+|.", re.UNICODE)


def _word_tokens(word: str) -> int:
    if all(is_cjk(ch) for ch in word):
        # Qwen2 merges many common pairs, but a rare character can take 2-3 byte tokens.
        return math.ceil(1.2 * len(word))
    if word.isascii():
        # Common English words are one token; long or rare ones split into pieces of about
        # 3-4 letters, so charge 1 token per 3 letters beyond the first 4.
        return 1 + math.ceil(max(0, len(word) - 4) / 3)
    if all(unicodedata.category(ch)[0] in "LM" and ord(ch) < 0x0250 for ch in word):
        return 1 + math.ceil(max(0, len(word) - 3) / 3)  # accented Latin: shorter pieces
    # Other scripts (Cyrillic, Arabic, Devanagari, ...): at most one token per UTF-8 byte pair.
    return sum(math.ceil(len(ch.encode()) / 2) for ch in word)


def estimate_tokens(text: str) -> int:
    """Over-counting estimate of Qwen2 tokens for LeVo lyrics, used without the tokenizer.

    Structure tags and ``.`` are one token each; a space before a tag costs one more; every
    digit and every punctuation mark is one token; a run of CJK characters 1.2 per character; an ASCII word
    is 1 token plus one per 3 letters past the fourth; accented Latin words one per 3; other
    scripts one per two UTF-8 bytes. Checked against the real tokenizer in
    ``tests/lyrics/test_tokens.py`` (it must never count fewer).
    """
    total = 0
    for piece in _SPECIAL.split(text):
        total += 1  # the tag that ended this piece (one too many for the last piece; harmless)
        for match in _PIECES.finditer(piece):
            chunk = match.group(0)
            if chunk.isspace():
                continue
            if len(chunk) == 1 and not chunk.isalpha():
                total += 1
                continue
            # a CJK run mixed with other letters: split by script
            run = ""
            for ch in chunk:
                if run and is_cjk(ch) != is_cjk(run[-1]):
                    total += _word_tokens(run)
                    run = ""
                run += ch
            if run:
                total += _word_tokens(run)
        total += piece.endswith(" ")  # " [verse]" tokenizes as "Ġ" + tag
    return total
