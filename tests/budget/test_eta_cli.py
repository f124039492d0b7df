"""The CLI's progress lines carry the ETA, and --partial reaches the request."""

from __future__ import annotations

import argparse

from studio.budget.deadline import EtaEvent
from studio.commands import generate
from studio.ground.progress import ProgressEvent


def test_progress_line_shows_the_time_left() -> None:
    assert generate.progress_line(EtaEvent("lm", 12, 300, "frame 12", eta_s=131.0)) == (
        "[lm] frame 12 · about 2 min 10 s left"
    )
    assert generate.progress_line(ProgressEvent("rendering", 3, 8)) == "[rendering] 3/8"  # no estimate: no ETA


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    generate.register(parser.add_subparsers())
    return parser.parse_args(["generate", "--out", "x.wav", *argv])


def test_partial_flag_reaches_the_request() -> None:
    assert generate.request_from_args(_parse("--backend", "levo2", "--style", "pop", "--partial")).partial
    assert not generate.request_from_args(_parse("--style", "pop")).partial


def test_a_run_without_a_budget_gets_the_local_one(tiny_acestep_dir, monkeypatch) -> None:
    """CLI and batch renders: the estimate drives an ETA, and STUDIO_TIME_LIMIT is checked first."""
    import pytest

    from studio import rendering
    from studio.budget.deadline import eta_of
    from studio.ground.errors import StudioError
    from studio.song import SongRequest

    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    monkeypatch.delenv("STUDIO_TIME_LIMIT", raising=False)
    studio = rendering.Studio()
    request = SongRequest(style="pop", duration=10, options={"steps": 2})
    seen: list[ProgressEvent] = []
    studio.render(request, weights=str(tiny_acestep_dir), progress=seen.append)
    assert seen and all(eta_of(e) is not None for e in seen)
    monkeypatch.setenv("STUDIO_TIME_LIMIT", "0.01")
    with pytest.raises(StudioError, match="STUDIO_TIME_LIMIT"):
        studio.render(request, weights=str(tiny_acestep_dir))
    studio.cache.unload_all()
