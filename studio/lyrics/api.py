"""``format_lyrics``: what the rest of the studio calls (service, UI, CLI, backends)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from studio.ground.errors import StudioError
from studio.ground.vocabulary import LyricDialect
from studio.lyrics.dialects import dialect as find_dialect
from studio.lyrics.estimate import estimate_seconds
from studio.lyrics.parse import parse
from studio.lyrics.render import RenderOptions
from studio.lyrics.report import Fix, Problem, describe


class FormatResult(BaseModel):
    """Lyrics and style in one model's dialect, with what was changed and what must be fixed."""

    model_config = ConfigDict(extra="forbid")

    dialect: LyricDialect
    lyrics: str
    style: str
    fixes: list[Fix] = Field(default_factory=list)
    errors: list[Problem] = Field(default_factory=list)
    dropped_style_words: list[str] = Field(default_factory=list)
    estimated_seconds: float = 0.0
    ok: bool = Field(default=True, description="True when there are no errors (always derived).")

    @model_validator(mode="after")
    def _derive_ok(self) -> FormatResult:
        object.__setattr__(self, "ok", not self.errors)
        return self

    def raise_for_errors(self) -> None:
        """Refuse to go further when the render has errors (it must never reach a model)."""
        if self.errors:
            name = find_dialect(self.dialect).name
            raise StudioError(
                f"The lyrics are not ready for {name}; fix these first:\n{describe(self.errors, 5)}"
            )


def format_lyrics(
    text: str,
    dialect: LyricDialect | str,
    *,
    style: str = "",
    duration_s: float | None = None,
    instrumental: bool = False,
    bpm: int | None = None,
    language: str | None = None,
) -> FormatResult:
    """Parse ``text`` (any supported form) and render it and ``style`` for ``dialect``.

    ``duration_s`` picks LeVo's intro/outro/break lengths; ``bpm`` feeds LeVo's style and the
    length estimate. ``language`` is accepted so callers can pass a request as is, but the
    formatter reads each block's script itself and does not use it. Never raises for bad lyrics:
    problems come back in ``errors`` (call ``raise_for_errors`` before sending to a model).
    """
    target = find_dialect(dialect)
    options = RenderOptions(duration_s=duration_s, instrumental=instrumental, bpm=bpm, language=language)
    sheet = parse(text)
    rendered = target.render(sheet, options)
    styled = target.style(style or "", bpm=bpm)

    errors = [*rendered.errors, *styled.errors]
    if not errors:
        # A last guard: a render the dialect's own validator rejects is a formatter bug, and it
        # still must not reach the model.
        errors = [
            Problem(line=p.line, code=f"invalid_{p.code}",
                    message=f"{p.message} (the formatter produced this; please report it)")
            for p in target.validate(rendered.lyrics, styled.text, instrumental=instrumental)
        ]

    if instrumental and duration_s is not None:
        seconds = float(duration_s)
    else:
        seconds = estimate_seconds(parse(rendered.lyrics), bpm=bpm)

    return FormatResult(
        dialect=target.key,
        lyrics=rendered.lyrics,
        style=styled.text,
        fixes=sorted([*sheet.notes, *rendered.fixes], key=lambda f: f.line or 0) + styled.fixes,
        errors=errors,
        dropped_style_words=styled.dropped_words,
        estimated_seconds=seconds,
    )
