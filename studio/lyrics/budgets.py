"""How much text each lyric dialect takes, stated once: the renderers and validators check these figures,
each dialect object carries its own (``studio.lyrics.dialects``), and each backend's ``Capabilities``
(``max_lyrics_chars``, ``max_style_chars``) reads the budget of the dialect it sings in.

Characters are what a request may hold before any model work; tokens are what the model's text
conditioner keeps, counted by the dialect's own tokenizer (``studio.lyrics.tokens``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LyricBudget:
    """The most text one dialect takes."""

    lyrics_chars: int  # characters of lyrics
    style_chars: int  # characters of the style (caption or keywords)
    lyric_tokens: int | None = None  # tokens of rendered lyrics the model's conditioner keeps; None = not counted
    style_tokens: int | None = None  # tokens of the style, the backend's own prefix included
    style_prefix_tokens: int = 0  # tokens the backend itself puts in front of the style


# ACE-Step's lyrics must stay under 4096 characters and its caption under 512: the renderer and the
# validator refuse a text that reaches either figure.
ACESTEP = LyricBudget(lyrics_chars=4096, style_chars=512)
# The lyric conditioner keeps 600 Qwen2 tokens and the style one 100, after the 5 tokens of
# "[Musicality-very-high], " that the LeVo backend puts in front of the style; these character caps
# keep typical English and Chinese text under those limits.
LEVO2 = LyricBudget(lyrics_chars=1500, style_chars=300, lyric_tokens=600, style_tokens=100, style_prefix_tokens=5)
# Prompt and song share the backbone's 8192 positions; 240 s uses 3001 of them (the exact prompt tokens
# are counted by the backend's own tokenizer, backends/heartmula/limits.py).
HEARTMULA = LyricBudget(lyrics_chars=6000, style_chars=512)
