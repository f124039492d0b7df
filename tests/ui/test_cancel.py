"""Cancel really stops the render at the next step, and nothing reaches the library."""

from __future__ import annotations

import pytest

from studio.ground.errors import Cancelled
from studio.ground.progress import ProgressEvent
from studio.library import Library
from studio.song import SongRequest
from studio.ui import runner


def test_cancel_stops_rendering_and_keeps_nothing(tiny_acestep_dir, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("STUDIO_ACESTEP_WEIGHTS", str(tiny_acestep_dir))
    monkeypatch.setenv("STUDIO_DEVICE", "cpu")
    library = Library(tmp_path / "lib")
    seen: list[ProgressEvent] = []

    def progress(event: ProgressEvent) -> None:
        seen.append(event)
        if event.stage == "rendering" and event.done == 1:
            assert runner.JOBS.cancel("session-1")  # what the Cancel button does for this browser session

    request = SongRequest(style="pop", duration=10, options={"steps": 6})
    try:
        with pytest.raises(Cancelled, match="stopped during rendering"):
            runner.make_songs(
                request, owner="local", library=library, session="session-1", progress=progress
            )
    finally:
        runner.STUDIO.cache.unload_all()
    rendered = [e.done for e in seen if e.stage == "rendering"]
    assert max(rendered) == 1 and "saving" not in {e.stage for e in seen}
    assert library.list("local") == [] and not any((library.root / "staging").glob("*/*.wav"))
    assert not runner.JOBS.cancel("session-1")  # the finished job is forgotten
