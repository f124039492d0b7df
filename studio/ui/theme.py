"""One look for the whole studio: a violet/pink music-app theme and a little CSS.

Fonts are system fonts on purpose: a Space must not depend on a font CDN, and tests run offline.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr

FONTS = ["Inter", "ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif"]
MONO = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]


def theme() -> gr.themes.Base:
    return gr.themes.Soft(
        primary_hue="violet",
        secondary_hue="pink",
        neutral_hue="slate",
        radius_size="lg",
        font=FONTS,
        font_mono=MONO,
    ).set(
        button_primary_background_fill="linear-gradient(90deg, *primary_600, *secondary_500)",
        button_primary_background_fill_hover="linear-gradient(90deg, *primary_700, *secondary_600)",
        button_primary_text_color="white",
        block_shadow="0 1px 3px rgba(15, 23, 42, 0.08)",
    )


# The stylesheet lives in the top-level assets/ folder with the studio's other static files (the layout
# a Space expects); read once at import, it is a few hundred bytes.
ASSETS = Path(__file__).resolve().parents[2] / "assets"
CSS = (ASSETS / "studio.css").read_text(encoding="utf-8")

HERO = """
<div id="hero">
  <h1>🎶 Song Studio</h1>
  <p>Write lyrics and a style, pick a model, and get a finished song to play, keep and remix.</p>
</div>
"""
