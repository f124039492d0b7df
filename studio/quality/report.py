"""What a check reports: one :class:`Measure` per DSP measure, one :class:`LineCheck` per lyric
line, gathered in :class:`TakeChecks` (JSON-ready, the same in the CLI, the API and the library)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

LineStatus = Literal["heard", "partly", "missing"]
# A measure passed, failed, or had nothing to be compared with (the glance line separates with "·").
MARKS: dict[bool | None, str] = {True: "✓", False: "✗", None: "–"}


class Measure(BaseModel):
    """One measure of a take. ``ok`` is None when there is nothing to compare it with (no BPM was
    requested) or the take is too short to measure it; the value is still reported."""

    model_config = ConfigDict(extra="forbid")

    name: str
    ok: bool | None
    value: float | None = None
    target: float | str | None = None
    unit: str = ""
    summary: str = Field(description="A few words for the at-a-glance line, e.g. 'tempo 121 vs 120 BPM'.")
    detail: str = Field("", description="One sentence: what was found and, when it failed, what it means.")


class Word(BaseModel):
    """A word (or a CJK character) heard by the ASR, with its time in seconds."""

    model_config = ConfigDict(extra="forbid")

    text: str
    start: float | None
    end: float | None


class LineCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")

    index: int = Field(description="0-based among the sung lines.")
    section: str
    text: str
    status: LineStatus
    heard_share: float = Field(description="Share of the line's words (CJK: characters) found in order.")
    start: float | None = Field(None, description="Seconds; for a missing line, where it should have been.")
    end: float | None = None
    out_of_order: bool = Field(False, description="Heard, but not between its neighbours.")
    words: list[Word] = Field(default_factory=list, description="The heard words matched to this line.")


class LyricCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")

    asr_model: str
    language: str | None
    unit: Literal["word", "character"]
    error_rate: float = Field(description="WER (or CER for CJK) of the transcript against the sung lines.")
    substitutions: int
    deletions: int
    insertions: int
    lines: list[LineCheck]
    extra: list[str] = Field(default_factory=list, description="Heard stretches that match no lyric line.")
    transcript: str = ""
    on_vocal_stem: bool = False

    @property
    def heard(self) -> int:
        return sum(1 for line in self.lines if line.status == "heard")

    def summary(self) -> str:
        mark = "✓" if self.heard == len(self.lines) else "✗"
        rate = "CER" if self.unit == "character" else "WER"
        return f"{mark} lyrics {self.heard}/{len(self.lines)} lines ({rate} {self.error_rate:.0%})"


class TakeChecks(BaseModel):
    """Everything the studio heard in one take."""

    model_config = ConfigDict(extra="forbid")

    duration: float
    measures: list[Measure]
    lyrics: LyricCheck | None = None
    lyric_note: str = Field("", description="Why the lyrics were not checked, when they were not.")
    elapsed_s: float = 0.0

    @property
    def failed(self) -> list[Measure]:
        return [m for m in self.measures if m.ok is False]

    def rank_key(self) -> tuple[float, int, int]:
        """Smaller is better: lyric error first, then failed measures, then missing lines."""
        lyric = self.lyrics.error_rate if self.lyrics is not None else 0.0
        missing = sum(1 for line in self.lyrics.lines if line.status != "heard") if self.lyrics else 0
        return (round(lyric, 3), len(self.failed), missing)

    def summary(self) -> str:
        """The at-a-glance line: '✓ lyrics 18/19 lines · ✓ tempo 121 vs 120 BPM · ✗ head silence 3.1 s'."""
        parts = [self.lyrics.summary()] if self.lyrics is not None else []
        for m in self.measures:
            parts.append(f"{MARKS[m.ok]} {m.summary}")
        return " · ".join(parts)


def rank(checks: list[TakeChecks]) -> list[int]:
    """Indices of ``checks``, best take first (stable: equal takes keep their order)."""
    return sorted(range(len(checks)), key=lambda i: checks[i].rank_key())
