"""Oversized text is refused before any parsing, on every surface, and no message repeats it
(issue 18 item 1: a 10 MB lyric cost 33 s of CPU and ~1.5 GB in the formatter)."""

from __future__ import annotations

import subprocess
import sys
import time

import gradio as gr
import pytest

from studio.ground.errors import StudioError
from studio.song import MAX_LYRICS_CHARS, MAX_STYLE_CHARS, SongRequest
from tests.conftest import REPO

HUGE = "[Verse]\n" + "la la la la la la la\n" * 100_000  # 2.1 MB: seconds of parsing before


def test_the_bounds_are_a_small_multiple_of_the_largest_model_limit() -> None:
    from studio import registry

    caps = [registry.get_spec(name).capabilities for name in registry.names()]
    assert max(c.max_lyrics_chars for c in caps) * 2 <= MAX_LYRICS_CHARS <= max(c.max_lyrics_chars for c in caps) * 8
    assert max(c.max_style_chars for c in caps) * 2 <= MAX_STYLE_CHARS <= max(c.max_style_chars for c in caps) * 8


@pytest.mark.parametrize("endpoint", ["format_lyrics", "plan", "generate"])
def test_every_endpoint_refuses_a_huge_lyric_at_once_in_one_short_sentence(app_fns, endpoint, monkeypatch) -> None:
    from studio.ui import runner

    monkeypatch.setattr(runner, "render_on_gpu", lambda *a, **k: pytest.fail("a huge lyric reached the GPU"))
    args = {
        "format_lyrics": [HUGE, "pop", "acestep", None, False],
        "plan": [HUGE, "pop", "acestep", None, False, 1, None, "", False],
        "generate": [HUGE, "pop", "acestep", 30, False, 1, 1, "", 0, "", "", "", "{}", ""],
    }[endpoint]
    began = time.monotonic()
    with pytest.raises(gr.Error) as refused:
        app_fns(endpoint)(*args)
    assert time.monotonic() - began < 1.0
    message = str(refused.value.message)
    assert message.startswith(f"`lyrics` must be at most {MAX_LYRICS_CHARS} characters, got {len(HUGE)}; shorten")
    assert len(message) < 200 and "la la" not in message


def test_a_huge_style_is_refused_by_name() -> None:
    from studio.errors import validate

    with pytest.raises(StudioError, match=rf"`style` must be at most {MAX_STYLE_CHARS} characters, got 6000000"):
        validate(SongRequest, {"style": "synth " * 1_000_000})


def test_no_validation_message_repeats_a_huge_value() -> None:
    from studio.errors import validate

    for bad in ({"seed": "7" * 1_000_000}, {"key": "X" * 1_000_000}, {"takes": "9" * 100_000}, {"title": "t" * 10**6}):
        with pytest.raises(StudioError) as refused:
            validate(SongRequest, bad)
        assert len(str(refused.value)) < 400, str(refused.value)[:500]


def test_the_lyrics_command_reads_no_further_than_the_bound(tmp_path) -> None:
    big = tmp_path / "lyrics.txt"
    big.write_text(HUGE)
    began = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "studio", "lyrics", "--to", "acestep", str(big)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr[-500:]
    assert f"more than {MAX_LYRICS_CHARS} characters" in done.stderr and len(done.stderr) < 300, done.stderr[-500:]
    assert time.monotonic() - began < 60
