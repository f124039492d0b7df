"""Align what the ASR heard to the lyric lines the visitor wrote.

Both sides become tokens: words for space-separated scripts, single characters for Chinese,
Japanese and Korean (sung one syllable per character, written without spaces, and Whisper's word
timestamps for them are per character or per short run anyway). A token-level Levenshtein
alignment in song order decides which lyric tokens were heard; lines it calls missing are then
searched for anywhere among the heard tokens no other line claimed, which finds a line the model
sang out of order (two verses swapped) instead of calling both garbled.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from studio.lyrics import parse
from studio.lyrics.text import is_cjk, is_letter
from studio.quality import thresholds as T
from studio.quality.report import LineCheck, LyricCheck, Word

# Apostrophes vanish inside words ("don't" = "dont"): Whisper writes both.
_JOINERS = "'’ʼ`"


def _fold_latin(word: str) -> str:
    """Case and accents folded ("Canción" = "cancion"): ASR and lyric sheets disagree on both.
    Only for non-CJK text: NFD would split Japanese dakuten (が -> か + ゛) and lose them."""
    decomposed = unicodedata.normalize("NFD", word)
    return unicodedata.normalize("NFC", "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn"))


def tokens(text: str) -> list[str]:
    """Normalised tokens: words, except that every CJK character is a token of its own."""
    text = unicodedata.normalize("NFKC", text).casefold()
    out: list[str] = []
    word: list[str] = []

    def flush() -> None:
        if word:
            out.append(_fold_latin("".join(word)))
            word.clear()

    for ch in text:
        if is_cjk(ch):
            flush()
            out.append(ch)
        elif is_letter(ch) or unicodedata.category(ch) == "Mn":
            word.append(ch)
        elif ch in _JOINERS and word:
            continue
        else:
            flush()
    flush()
    return out


@dataclass(frozen=True)
class LyricLine:
    section: str
    text: str
    tokens: tuple[str, ...]


def lyric_lines(lyrics: str) -> list[LyricLine]:
    """The sung lines of ``lyrics`` in any dialect the studio reads (tags are not sung)."""
    lines = []
    for section in parse(lyrics).sections:
        label = section.label or section.kind.value
        for line in section.lines:
            toks = tokens(line.text)
            if toks:
                lines.append(LyricLine(label, line.text, tuple(toks)))
    return lines


@dataclass(frozen=True)
class Heard:
    token: str
    start: float | None
    end: float | None


def heard_tokens(words: list[Word]) -> list[Heard]:
    """ASR words -> tokens; a chunk of several CJK characters shares its time span evenly."""
    out: list[Heard] = []
    for w in words:
        toks = tokens(w.text)
        if not toks:
            continue
        if w.start is None or w.end is None or len(toks) == 1:
            out += [Heard(t, w.start, w.end) for t in toks]
            continue
        step = (w.end - w.start) / len(toks)
        out += [Heard(t, w.start + i * step, w.start + (i + 1) * step) for i, t in enumerate(toks)]
    return out


# --- alignment ---------------------------------------------------------------------------------

_MATCH, _SUB, _DEL, _INS = "=", "~", "-", "+"


def _align(ref: list[str], hyp: list[str | None], *, free_ends: bool = False) -> list[tuple[str, int, int]]:
    """Levenshtein alignment as (op, ref index, hyp index) steps; ``free_ends`` skips the heard
    tokens before and after the best matching stretch at no cost (a line searched for anywhere).
    A None in ``hyp`` is a token another line owns: it never matches."""
    n, m = len(ref), len(hyp)
    prev = [0 if free_ends else j for j in range(m + 1)]
    rows = [prev]
    for i in range(1, n + 1):
        cur = [i] + [0] * m
        r = ref[i - 1]
        for j in range(1, m + 1):
            diag = prev[j - 1] + (0 if hyp[j - 1] == r else 1)
            up = prev[j] + 1
            left = cur[j - 1] + 1
            cur[j] = diag if diag <= up and diag <= left else (up if up <= left else left)
        rows.append(cur)
        prev = cur
    j = min(range(m + 1), key=lambda k: (rows[n][k], -k)) if free_ends else m
    i = n
    steps: list[tuple[str, int, int]] = []
    while i > 0 or (j > 0 and not free_ends):
        # Walking back, an extra heard token is taken before a match of equal cost, so a line
        # heard twice is matched to the first time it was sung and the repeat counts as extra.
        if j > 0 and rows[i][j] == rows[i][j - 1] + 1:
            steps.append((_INS, i, j - 1))
            j -= 1
        elif i > 0 and j > 0 and rows[i][j] == rows[i - 1][j - 1] + (0 if hyp[j - 1] == ref[i - 1] else 1):
            steps.append((_MATCH if hyp[j - 1] == ref[i - 1] else _SUB, i - 1, j - 1))
            i, j = i - 1, j - 1
        elif i > 0 and rows[i][j] == rows[i - 1][j] + 1:
            steps.append((_DEL, i - 1, j))
            i -= 1
        else:
            steps.append((_INS, i, j - 1))
            j -= 1
    return steps[::-1]


def _status(share: float) -> str:
    return "heard" if share >= T.LINE_HEARD else "partly" if share >= T.LINE_PARTLY else "missing"


def _error_counts(ref: list[str], hyp: list[str]) -> tuple[float, int, int, int]:
    """(error rate, substitutions, deletions, insertions) by jiwer over space-joined tokens (for CJK
    each token is a character, so this is the character error rate)."""
    import jiwer

    if not ref:
        return (0.0 if not hyp else 1.0), 0, 0, len(hyp)
    if not hyp:
        return 1.0, 0, len(ref), 0
    out = jiwer.process_words(" ".join(ref), " ".join(hyp))
    return float(out.wer), out.substitutions, out.deletions, out.insertions


def check_lyrics(lyrics: str, words: list[Word], *, duration: float, asr_model: str = "",
                 language: str | None = None, on_vocal_stem: bool = False) -> LyricCheck:
    """Per lyric line: heard, partly heard or missing, with its time; and the take's error rate."""
    lines = lyric_lines(lyrics)
    heard = heard_tokens(words)
    ref = [t for line in lines for t in line.tokens]
    owner = [k for k, line in enumerate(lines) for _ in line.tokens]
    hyp = [h.token for h in heard]
    steps = _align(ref, list(hyp))

    hits: list[list[int]] = [[] for _ in lines]  # heard token indices matched to each line
    spans: list[list[int]] = [[] for _ in lines]  # heard token indices aligned (match or not) to each line
    inserted: list[int] = []
    for op, i, j in steps:
        if op == _INS:
            inserted.append(j)
        elif op in (_MATCH, _SUB):
            spans[owner[i]].append(j)
            if op == _MATCH:
                hits[owner[i]].append(j)

    # Lines the in-order pass did not hear: look for them among the tokens nobody matched.
    out_of_order = [False] * len(lines)
    for k, line in enumerate(lines):
        if len(hits[k]) >= T.LINE_HEARD * len(line.tokens):
            continue
        taken = {j for other, h in enumerate(hits) if other != k for j in h}
        free = [None if j in taken else t for j, t in enumerate(hyp)]
        found = [j for op, _, j in _align(list(line.tokens), free, free_ends=True) if op == _MATCH]
        if len(found) > len(hits[k]):
            hits[k], spans[k], out_of_order[k] = found, found, True

    claimed = {j for h in hits for j in h}
    extra, run = [], []
    for j in [*sorted(set(inserted) - claimed), None]:
        if run and (j is None or j != run[-1] + 1):
            if len(run) >= T.EXTRA_MIN_TOKENS:
                extra.append(_joined([hyp[x] for x in run]))
            run = []
        if j is not None:
            run.append(j)

    checks: list[LineCheck] = []
    for k, line in enumerate(lines):
        share = len(hits[k]) / len(line.tokens)
        span = sorted(spans[k]) if share >= T.LINE_PARTLY else []
        start = heard[span[0]].start if span else None
        end = heard[span[-1]].end if span else None
        checks.append(LineCheck(
            index=k, section=line.section, text=line.text, status=_status(share), heard_share=round(share, 3),
            start=start, end=end, out_of_order=out_of_order[k] and share >= T.LINE_PARTLY,
            words=[Word(text=heard[j].token, start=heard[j].start, end=heard[j].end) for j in sorted(hits[k])],
        ))
    _place_missing(checks, duration)
    # An out-of-order line is only out of order if it does not sit between its neighbours.
    for k, c in enumerate(checks):
        if c.out_of_order and c.start is not None:
            before = [x.end for x in checks[:k] if x.end is not None and x.status != "missing"]
            after = [x.start for x in checks[k + 1:] if x.start is not None and x.status != "missing"]
            c.out_of_order = bool((before and c.start < before[-1]) or (after and c.end > after[0]))
    rate, subs, dels, ins = _error_counts(ref, hyp)
    cjk = sum(1 for t in ref if len(t) == 1 and is_cjk(t))
    return LyricCheck(
        asr_model=asr_model, language=language, unit="character" if 2 * cjk >= max(1, len(ref)) else "word",
        error_rate=round(rate, 4), substitutions=subs, deletions=dels, insertions=ins, lines=checks, extra=extra,
        transcript=_joined(hyp), on_vocal_stem=on_vocal_stem,
    )


def _place_missing(checks: list[LineCheck], duration: float) -> None:
    """A missing line gets the gap where it should have been sung: from the end of the last line
    heard before it to the start of the next one heard after it (what a repaint needs)."""
    for k, c in enumerate(checks):
        if c.status != "missing":
            continue
        before = [x.end for x in checks[:k] if x.status != "missing" and x.end is not None]
        after = [x.start for x in checks[k + 1:] if x.status != "missing" and x.start is not None]
        c.start = round(before[-1], 2) if before else 0.0
        c.end = round(after[0], 2) if after else round(duration, 2)


def _joined(toks: list[str]) -> str:
    """Tokens back to text: CJK characters without spaces, words with."""
    out = ""
    for t in toks:
        if out and not (is_cjk(t[0]) and is_cjk(out[-1])):
            out += " "
        out += t
    return out
