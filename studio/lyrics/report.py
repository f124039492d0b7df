"""What the formatter tells the user: fixes it made and errors it cannot fix, each located.

Messages are plain sentences without the location; ``str(note)`` adds ``line N:`` in front, so
the UI, the CLI and ``StudioError`` texts all read the same way.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    line: int | None = None
    message: str
    code: str = ""

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line is not None else self.message


class Fix(Note):
    """A change the formatter made on its own (the text still means what the user wrote)."""


class Problem(Note):
    """Something the formatter cannot fix; the message says what the user should change."""


def describe(notes: list[Problem] | list[Fix], limit: int = 5) -> str:
    """The first ``limit`` notes, one per line, with a count of the rest."""
    shown = [f"- {note}" for note in notes[:limit]]
    if len(notes) > limit:
        shown.append(f"- ... and {len(notes) - limit} more")
    return "\n".join(shown)
