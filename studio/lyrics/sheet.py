"""The song sheet: a dialect-free model of lyrics (sections of lines), parsed from what people
type and rendered into each model's dialect."""

from __future__ import annotations

import enum

from pydantic import BaseModel, ConfigDict, Field

from studio.lyrics.report import Fix


class SectionKind(str, enum.Enum):
    """Every section the formatter understands. ``OTHER`` keeps a label it does not know."""

    INTRO = "intro"
    VERSE = "verse"
    PRE_CHORUS = "pre-chorus"
    CHORUS = "chorus"
    POST_CHORUS = "post-chorus"
    HOOK = "hook"
    BRIDGE = "bridge"
    RAP = "rap"
    BUILD = "build-up"
    DROP = "drop"
    BREAK = "break"
    INTERLUDE = "interlude"
    SOLO = "solo"
    INSTRUMENTAL = "instrumental"
    OUTRO = "outro"
    SILENCE = "silence"
    OTHER = "other"


# Sections that are normally played, not sung; a renderer may still find lines in them.
INSTRUMENTAL_KINDS: frozenset[SectionKind] = frozenset(
    {
        SectionKind.INTRO,
        SectionKind.BREAK,
        SectionKind.INTERLUDE,
        SectionKind.SOLO,
        SectionKind.INSTRUMENTAL,
        SectionKind.OUTRO,
        SectionKind.SILENCE,
    }
)


class Length(str, enum.Enum):
    """LeVo's length suffix for instrumental sections (about 0-10 s, 10-20 s, 20-30 s)."""

    SHORT = "short"
    MEDIUM = "medium"
    LONG = "long"


class Line(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str
    source_line: int | None = Field(default=None, description="1-based line in the text as typed.")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: SectionKind
    number: int | None = None
    modifier: str = ""
    length: Length | None = None
    label: str = Field(default="", description="The tag as typed, without brackets ('' if untagged).")
    lines: tuple[Line, ...] = ()
    source_line: int | None = None
    implicit: bool = Field(default=False, description="True when the lines came without a tag.")

    @property
    def sung(self) -> bool:
        return bool(self.lines)

    @property
    def tag_text(self) -> str:
        return f"[{self.label}]" if self.label else "(untagged lyrics)"


class Sheet(BaseModel):
    """Sections in order, plus what parsing had to change (``notes``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sections: tuple[Section, ...] = ()
    notes: tuple[Fix, ...] = ()

    @property
    def sung_lines(self) -> int:
        return sum(len(s.lines) for s in self.sections)
