"""Synced lyrics from the lyric check: an ``.lrc`` file beside the song, ID3 ``SYLT`` in MP3 and
WAV, and the same LRC text in a FLAC Vorbis comment.

Facts: LRC line tags are ``[mm:ss.xx]`` (minutes, seconds, hundredths) with optional ``[ti:]``,
``[ar:]``, ``[length:]``, ``[by:]`` header tags (en.wikipedia.org/wiki/LRC_(file_format)). SYLT
(ID3v2.3 section 4.10) holds (text, time) pairs; time stamp format 2 is milliseconds and content
type 1 is lyrics (mutagen.id3.SYLT). Vorbis comments have no standard synced-lyrics field, so the
LRC text goes under its own key and the plain ``LYRICS`` field is left as the sheet.
"""

from __future__ import annotations

import re
from pathlib import Path

from studio.quality.report import LineCheck, LyricCheck

FLAC_KEY = "SYNCEDLYRICS"
_SYLT_MILLISECONDS = 2
_SYLT_LYRICS = 1
_LINE_TAG = re.compile(r"\[(\d+):(\d{1,2}(?:\.\d{1,3})?)\]")
_WORD_TAG = re.compile(r"<\d+:\d{1,2}(?:\.\d{1,3})?>")


def timed_lines(check: LyricCheck) -> list[tuple[float, str]]:
    """(start seconds, line text) of every line that was heard, in time order; a missing line is
    not sung, so a karaoke view must not show it."""
    lines = [(line.start, line.text) for line in check.lines if line.status != "missing" and line.start is not None]
    return sorted(lines, key=lambda item: item[0])


def _stamp(seconds: float) -> str:
    centis = round(max(0.0, seconds) * 100)
    return f"{centis // 6000:02d}:{centis % 6000 / 100:05.2f}"


def _pieces(text: str) -> list[str]:
    """The line cut where a word time can go: after each space, and around every CJK character
    (joined back, the pieces are the line exactly)."""
    from studio.lyrics.text import is_cjk

    out: list[str] = []
    run = ""
    for ch in text:
        if is_cjk(ch):
            if run:
                out.append(run)
            out.append(ch)
            run = ""
        else:
            run += ch
            if ch == " ":
                out.append(run)
                run = ""
    return [*out, run] if run else out


def word_timed(line: LineCheck) -> str:
    """The line as enhanced LRC words (``<mm:ss.xx>word``): a time before each written word whose
    tokens were heard in order; the others ride along with the word before them."""
    from studio.quality.align import tokens

    heard = [w for w in line.words if w.start is not None]
    j, out = 0, ""
    for piece in _pieces(line.text):
        toks = tokens(piece)
        if toks and j < len(heard) and heard[j].text == toks[0]:
            out += f"<{_stamp(heard[j].start)}>"
            j += len(toks)
        out += piece
    return out


def to_lrc(check: LyricCheck, *, title: str = "", artist: str = "", length_s: float | None = None,
           words: bool = False) -> str:
    """LRC text; ``words`` adds enhanced-LRC word times (the ``.lrc`` file has them; tags keep plain
    line times, which every player reads)."""
    head = [f"[ti:{title}]"] if title else []
    head += [f"[ar:{artist}]"] if artist else []
    if length_s:
        head.append(f"[length:{int(length_s // 60)}:{int(length_s % 60):02d}]")
    head.append("[by:Song Studio lyric check]")
    lines = sorted((ln for ln in check.lines if ln.status != "missing" and ln.start is not None),
                   key=lambda ln: ln.start)
    body = [f"[{_stamp(ln.start)}]{word_timed(ln) if words else ln.text}" for ln in lines]
    return "\n".join(head + body) + "\n"


def parse_lrc(text: str) -> list[tuple[float, str]]:
    """(seconds, text) per timed line; a line with several stamps (a repeated chorus) yields each."""
    out = []
    for raw in text.splitlines():
        stamps = list(_LINE_TAG.finditer(raw))
        if not stamps or stamps[0].start() != 0:
            continue
        words = _WORD_TAG.sub("", raw[stamps[-1].end():])
        out += [(int(m.group(1)) * 60 + float(m.group(2)), words) for m in stamps]
    return sorted(out, key=lambda item: item[0])


def lrc_path(audio_path: Path) -> Path:
    return audio_path.with_suffix(".lrc")


def write_lrc(audio_path: Path, check: LyricCheck, **header) -> Path:
    target = lrc_path(audio_path)
    target.write_text(to_lrc(check, words=True, **header), encoding="utf-8")
    return target


def write_synced_tags(path: Path, check: LyricCheck) -> None:
    """Add the synced lyrics to the tags the studio already wrote (MP3, WAV: SYLT; FLAC: LRC text)."""
    from mutagen.flac import FLAC
    from mutagen.id3 import ID3, SYLT
    from mutagen.wave import WAVE

    suffix = path.suffix.lower()
    if suffix == ".flac":
        audio = FLAC(path)
        if audio.tags is None:
            audio.add_tags()
        audio[FLAC_KEY] = [to_lrc(check)]
        audio.save()
        return
    frame = SYLT(encoding=3, lang="und", format=_SYLT_MILLISECONDS, type=_SYLT_LYRICS, desc="",
                 text=[(text, round(t * 1000)) for t, text in timed_lines(check)])
    if suffix == ".wav":
        audio = WAVE(path)
        if audio.tags is None:
            audio.add_tags()
        audio.tags.delall("SYLT")
        audio.tags.add(frame)
        audio.save(v2_version=3)
    elif suffix == ".mp3":
        tags = ID3(path)
        tags.delall("SYLT")
        tags.add(frame)
        tags.save(path, v2_version=3)


def read_synced_tags(path: Path) -> list[tuple[float, str]]:
    """The synced lyrics back from a file's tags ([] when it has none)."""
    from mutagen.flac import FLAC
    from mutagen.id3 import ID3, ID3NoHeaderError
    from mutagen.wave import WAVE

    suffix = path.suffix.lower()
    if suffix == ".flac":
        values = (FLAC(path).tags or {}).get(FLAC_KEY) or []
        return parse_lrc(values[0]) if values else []
    if suffix == ".wav":
        tags = WAVE(path).tags
    else:
        try:
            tags = ID3(path)
        except ID3NoHeaderError:
            return []
    frames = tags.getall("SYLT") if tags is not None else []
    return [(ms / 1000, text) for text, ms in frames[0].text] if frames else []
