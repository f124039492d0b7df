"""On a ZeroGPU Space gradio lets ONE request wait unless the app says otherwise; the studio does."""

from __future__ import annotations

import pytest

from studio.ground.errors import StudioError


def test_gradio_alone_would_turn_away_the_second_waiting_visitor(monkeypatch) -> None:
    import gradio as gr

    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    with gr.Blocks() as bare:
        gr.Markdown("x")
    assert bare._queue.max_size == 1  # the behaviour the studio overrides


def test_the_studio_lets_twenty_wait_on_zerogpu_and_a_bounded_number_elsewhere(monkeypatch, tmp_path) -> None:
    from studio.library import Library
    from studio.ui import build_app
    from studio.ui.app import DEFAULT_QUEUE_SIZE, DEFAULT_ZEROGPU_QUEUE_SIZE, QUEUE_SIZE_ENV

    monkeypatch.delenv(QUEUE_SIZE_ENV, raising=False)
    library = Library(tmp_path / "lib")
    try:
        monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
        # gradio's own default off ZeroGPU is no limit at all: one script could queue without end
        assert build_app(library=library)._queue.max_size == DEFAULT_QUEUE_SIZE == 64
        monkeypatch.setenv("SPACES_ZERO_GPU", "true")
        assert build_app(library=library)._queue.max_size == DEFAULT_ZEROGPU_QUEUE_SIZE == 20
        monkeypatch.setenv(QUEUE_SIZE_ENV, "5")
        assert build_app(library=library)._queue.max_size == 5
    finally:
        library.close()


@pytest.mark.parametrize("bad", ["0", "-1", "many", "2.5"])
def test_a_bad_queue_size_says_how_to_write_it(bad) -> None:
    from studio.ui.app import queue_size

    with pytest.raises(StudioError, match=r"STUDIO_QUEUE_SIZE must be a whole number of waiting requests >= 1"):
        queue_size({"STUDIO_QUEUE_SIZE": bad})
