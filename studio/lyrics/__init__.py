"""The lyric-tag formatter: parse what people type into a :class:`Sheet`, render it in each
model's strict dialect, report every change and every problem with its line.

Public API: ``format_lyrics`` -> ``FormatResult``; ``parse``; ``render_sheet``;
``estimate_seconds``; ``validate``; ``convert_style``; ``count_levo_lyric_tokens``.
"""

from __future__ import annotations

from studio.lyrics.api import FormatResult, format_lyrics
from studio.lyrics.dialects import convert_style, render_sheet, validate
from studio.lyrics.estimate import estimate_seconds
from studio.lyrics.parse import parse
from studio.lyrics.render import Rendered, RenderOptions, pick_length
from studio.lyrics.report import Fix, Note, Problem
from studio.lyrics.sheet import Length, Line, Section, SectionKind, Sheet
from studio.lyrics.style import StyleResult
from studio.lyrics.tokens import TokenCount, count_levo_lyric_tokens

__all__ = [
    "Fix",
    "FormatResult",
    "Length",
    "Line",
    "Note",
    "Problem",
    "RenderOptions",
    "Rendered",
    "Section",
    "SectionKind",
    "Sheet",
    "StyleResult",
    "TokenCount",
    "convert_style",
    "count_levo_lyric_tokens",
    "estimate_seconds",
    "format_lyrics",
    "parse",
    "pick_length",
    "render_sheet",
    "validate",
]
