"""One look for the whole studio: a violet/pink music-app theme and a little CSS.

Fonts are system fonts on purpose: a Space must not depend on a font CDN, and tests run offline.
"""

from __future__ import annotations

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


CSS = """
.gradio-container { max-width: 1180px !important; margin: 0 auto; }
#hero { padding: 18px 22px; border-radius: 18px; color: white;
        background: linear-gradient(120deg, #4c1d95 0%, #7c3aed 45%, #db2777 100%); }
#hero h1 { margin: 0; font-size: 1.7rem; letter-spacing: -0.02em; color: white; }
#hero p { margin: 4px 0 0; opacity: 0.9; color: white; }
.chips { gap: 6px !important; flex-wrap: wrap !important; }
.chips button { flex: 0 0 auto !important; min-width: 0 !important; border-radius: 999px !important;
                padding: 2px 12px !important; font-size: 0.85rem !important; }
.tags button { flex: 0 0 auto !important; min-width: 0 !important; font-family: var(--font-mono);
               font-size: 0.8rem !important; padding: 2px 10px !important; }
.chip-label { margin: 2px 0 -4px; font-size: 0.8rem; opacity: 0.75; }
.song-card { border-radius: 16px !important; padding: 10px !important;
             border: 1px solid var(--border-color-primary) !important; }
.song-head h3 { margin: 0 0 2px; font-size: 1.05rem; }
.song-head .meta { font-size: 0.82rem; opacity: 0.75; }
.song-head .pill { display: inline-block; padding: 0 8px; border-radius: 999px; font-size: 0.75rem;
                   background: var(--primary-100); color: var(--primary-800); margin-right: 4px; }
.licence { font-size: 0.85rem; }
.licence strong { color: #b45309; }
#generate-row { align-items: center; }
#library-table, #library-table * { font-family: var(--font) !important; }
#estimate { font-size: 0.85rem; opacity: 0.85; }
#status { min-height: 1.5em; }
@media (max-width: 640px) {
  #hero { padding: 14px 16px; }
  #hero h1 { font-size: 1.35rem; }
  .gradio-container { padding: 6px !important; }
}
"""

HERO = """
<div id="hero">
  <h1>🎶 Song Studio</h1>
  <p>Write lyrics and a style, pick a model, and get a finished song to play, keep and remix.</p>
</div>
"""
