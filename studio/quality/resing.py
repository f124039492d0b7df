"""Sing a line again: a line the check did not hear becomes a repaint of its aligned time range,
with that line's lyrics, on a backend that can repaint (ACE-Step). The result is checked again
against the whole song's lyrics by the caller."""

from __future__ import annotations

from pathlib import Path

from studio.ground.errors import StudioError
from studio.quality.report import LineCheck, LyricCheck

# A little air either side of the line, so its first and last syllables are inside the repaint.
REPAINT_PAD_S = 0.5
# studio.editing refuses ranges under 1 s; a sung line is rarely shorter than this.
MIN_LINE_S = 2.0


def lines_to_sing_again(check: LyricCheck | None) -> list[LineCheck]:
    """Lines that were missing or only partly heard, in song order."""
    return [line for line in check.lines if line.status != "heard"] if check is not None else []


def repaint_range(line: LineCheck, duration: float) -> tuple[float, float]:
    if line.start is None or line.end is None:
        raise StudioError(f"line {line.index + 1} has no time in the song; check the song again first.")
    start = max(0.0, line.start - REPAINT_PAD_S)
    end = min(duration, max(line.end + REPAINT_PAD_S, start + MIN_LINE_S))
    start = max(0.0, min(start, end - MIN_LINE_S))
    return round(start, 2), round(end, 2)


def resing_fields(line: LineCheck, source: Path | str, duration: float) -> dict:
    """The repaint request's fields (a SongRequest's): this line's range and lyrics."""
    start, end = repaint_range(line, duration)
    section = line.section if line.section and not line.section.startswith("(") else "Verse"
    return {"task": "repaint", "source_audio": str(source), "start": start, "end": end,
            "lyrics": f"[{section}]\n{line.text}", "takes": 1, "duration": None}


def pick_line(check: LyricCheck | None, number: int) -> LineCheck:
    """Line ``number`` (1-based, as `studio check` lists them)."""
    if check is None:
        raise StudioError("the lyrics were not checked, so no line can be sung again; run the lyric check first.")
    if not 1 <= number <= len(check.lines):
        raise StudioError(f"`--sing-again` must be a line number from 1 to {len(check.lines)}, got {number}.")
    return check.lines[number - 1]
