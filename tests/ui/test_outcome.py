"""How a run ends on the page (studio.ui.outcome): what the estimate line does once the status has spoken."""

from __future__ import annotations

import gradio as gr

from studio.ui.outcome import estimate_after

LEVO = "LeVo 2 (SongGeneration 2) cannot run here: its weights folder has no config.yaml."


def test_the_estimate_gives_way_when_the_status_says_the_same_sentence() -> None:
    # Seen on a 390 px phone: the same paragraph twice under Generate, once as the estimate, once as the error.
    assert estimate_after(f"❌ {LEVO}", f"⏱ {LEVO}") == ""


def test_an_estimate_that_says_something_else_stays() -> None:
    kept = gr.update()
    assert estimate_after("❌ the GPU budget ran out; try a shorter song.", f"⏱ {LEVO}") == kept
    assert estimate_after("✅ Your song ready in 3.1 s — kept in your Library.", "⏱ about 0:40 on this CPU") == kept
    assert estimate_after(gr.update(), f"⏱ {LEVO}") == kept  # a run that ended well leaves the status as it is
    assert estimate_after(f"❌ {LEVO}", "") == kept
