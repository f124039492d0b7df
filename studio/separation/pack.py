"""The DAW pack: one zip a producer drops into a session — stems, the mastered mix, the song's
facts (title, tempo, key, metre, sections) and its lyrics."""

from __future__ import annotations

from pathlib import Path

from studio.audio.card import SongCard
from studio.quality.report import LyricCheck
from studio.separation.files import StemsCard, file_title, zip_files

_UNKNOWN = "not known"
# A start the pack must qualify: the rest are where the section's first line was heard.
_HOW = {"estimated": "first line not heard; where it should have been", "song start": "before the first line"}


def _clock(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def _at(seconds: float) -> str:
    """A section start to the tenth: a DAW marker a whole second off lands on the wrong beat."""
    minutes, rest = divmod(round(seconds, 1), 60)
    return f"{int(minutes)}:{rest:04.1f}"


def _sections(card: SongCard | None, lyric_check: LyricCheck | None) -> list[str]:
    """Section names in order, from the lyrics as written, each with its start time where the lyric
    check aligned the lines (``studio.quality.sections``); "not known" only where no alignment of
    these lyrics exists. No model reports where a section lands in the audio, so a start is never
    guessed from syllable counts."""
    if card is None or not card.lyrics.strip():
        return []
    from studio.lyrics import parse
    from studio.quality.sections import section_starts

    timed = section_starts(card.lyrics, lyric_check)
    if timed is None:
        return [f"{_UNKNOWN:>9}  {s.tag_text}" for s in parse(card.lyrics).sections]
    return [
        f"{_at(s.start) if s.start is not None else _UNKNOWN:>9}  {s.tag}"
        + (f" ({_HOW[s.how]})" if s.how in _HOW else "")
        for s in timed
    ]


def info_text(stems_card: StemsCard, lyric_check: LyricCheck | None = None) -> str:
    card = stems_card.source_card
    params = card.params if card is not None else {}

    def fact(name: str) -> str:
        value = params.get(name)
        return _UNKNOWN if value in (None, "") else str(value)

    signature = fact("time_signature")
    if signature != _UNKNOWN and "/" not in signature:
        signature = f"{signature} beats per bar"
    lines = [
        f"Title: {stems_card.title}",
        f"BPM: {fact('bpm')}",
        f"Key: {fact('key')}",
        f"Time signature: {signature}",
        f"Length: {_clock(stems_card.duration_s)} ({stems_card.sample_rate} Hz)",
        f"Made by: {card.artist if card is not None else 'an uploaded recording'}",
        f"Stems: {', '.join(stems_card.stems)} ({stems_card.model}; reconstruction error "
        f"{stems_card.report.reconstruction_error_db:.1f} dB)",
    ]
    if stems_card.report.near_silent:
        lines.append(f"Near-silent stems: {', '.join(stems_card.report.near_silent)}")
    sections = _sections(card, lyric_check)
    lines += ["", "Sections (start, name):" if sections else "Sections: not known"]
    lines += [f"  {row}" for row in sections]
    return "\n".join(lines) + "\n"


def lyrics_text(card: SongCard | None) -> str:
    if card is None or not card.lyrics.strip():
        return "(instrumental, or lyrics not known)\n"
    return card.lyrics.rstrip() + "\n"


def write_pack(folder: Path, stems_card: StemsCard, stem_files: list[Path], card_file: Path, mix: Path,
               lyric_check: LyricCheck | None = None) -> Path:
    """``<title> - DAW pack.zip`` with the stems, the mix as given (named ``<title> - mix``: a library
    song's file is named by its id), ``info.txt`` and ``lyrics.txt``. ``lyric_check``: the song's
    checked lyrics, which time its sections."""
    name = file_title(stems_card.title)
    extra = {
        f"{name} - info.txt": info_text(stems_card, lyric_check),
        f"{name} - lyrics.txt": lyrics_text(stems_card.source_card),
    }
    return zip_files(folder / f"{name} - DAW pack.zip", [*stem_files, card_file], extra,
                     renamed={f"{name} - mix{mix.suffix.lower()}": mix})
