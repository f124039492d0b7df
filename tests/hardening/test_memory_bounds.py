"""What a long-running shared studio keeps per visitor is bounded (see bench/soak.py for the load run)."""

from __future__ import annotations

import pytest

from studio.ground.errors import StudioError


def test_gradio_keeps_a_bounded_number_of_visitor_sessions(monkeypatch, tmp_path) -> None:
    from gradio.state_holder import StateHolder

    from studio.library import Library
    from studio.ui import build_app, launch_options
    from studio.ui.app import DEFAULT_SESSION_CAPACITY, SESSION_CAPACITY_ENV

    monkeypatch.delenv(SESSION_CAPACITY_ENV, raising=False)
    assert launch_options()["state_session_capacity"] == DEFAULT_SESSION_CAPACITY < 10_000
    monkeypatch.setenv(SESSION_CAPACITY_ENV, "3")
    library = Library(tmp_path / "lib")
    try:
        demo = build_app(library=library)
        demo.state_session_capacity = launch_options(demo)["state_session_capacity"]  # what launch() does
        holder = StateHolder()
        holder.set_blocks(demo)
        for i in range(10):  # ten browser tabs or API clients, one after another
            holder[f"session-{i}"]
        assert list(holder.session_data) == ["session-7", "session-8", "session-9"]
    finally:
        library.close()


@pytest.mark.parametrize("bad", ["0", "-5", "lots", "1.5"])
def test_a_bad_session_capacity_says_how_to_write_it(monkeypatch, bad) -> None:
    from studio.ui.app import SESSION_CAPACITY_ENV, session_capacity

    monkeypatch.setenv(SESSION_CAPACITY_ENV, bad)
    with pytest.raises(StudioError, match=r"STUDIO_SESSION_CAPACITY must be a whole number of sessions >= 1"):
        session_capacity()
