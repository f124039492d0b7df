"""Disk has a budget (issue 18 item 3): a visitor over their share, or a full library, is refused
before the render, with a sentence, and the refusal costs no rate-limit call."""

from __future__ import annotations

import pytest

from studio.ground.errors import StudioError


def test_a_visitor_over_their_quota_and_a_full_library_are_refused_before_the_gpu(tmp_path, monkeypatch) -> None:
    from studio import quotas, ratelimit
    from studio.library import Library
    from studio.song import SongRequest
    from studio.ui import runner

    monkeypatch.setenv("STUDIO_MULTI_USER", "1")
    monkeypatch.setenv("STUDIO_RATE_LIMIT", "1/3600")
    monkeypatch.setattr(ratelimit, "GPU", ratelimit.RateLimiter())
    monkeypatch.setenv(quotas.PER_VISITOR_ENV, "1mb")
    monkeypatch.setenv(quotas.TOTAL_ENV, "3mb")
    monkeypatch.setattr(runner, "render_on_gpu", lambda *a, **k: pytest.fail("the GPU was asked"))
    library = Library(tmp_path / "lib")
    try:
        (library.audio_dir / "alice").mkdir()
        (library.audio_dir / "alice" / "song.wav").write_bytes(b"\0" * 1024**2)  # her share, full
        request = SongRequest(style="pop", lyrics="[Verse]\nla", duration=10, options={"steps": 1})
        with pytest.raises(quotas.QuotaExceeded, match=r"your library holds 1 MB, the most one visitor may keep"):
            runner.make_songs(request, owner="alice", library=library)
        (library.audio_dir / "bob").mkdir()
        (library.audio_dir / "bob" / "a.wav").write_bytes(b"\0" * 2 * 1024**2)
        with pytest.raises(quotas.QuotaExceeded, match="this studio's song storage is full"):
            runner.make_songs(request, owner="carol", library=library)
        monkeypatch.setenv(quotas.TOTAL_ENV, "off")
        monkeypatch.setattr(runner, "render_on_gpu", lambda *a, **k: (_ for _ in ()).throw(StudioError("ran")))
        with pytest.raises(StudioError, match="ran"):  # carol's one call of the hour was never spent
            runner.make_songs(request, owner="carol", library=library)
    finally:
        library.close()


def test_quotas_are_off_for_one_person_and_a_bad_setting_says_how_to_write_it(monkeypatch) -> None:
    from studio import quotas

    monkeypatch.delenv("STUDIO_MULTI_USER", raising=False)
    monkeypatch.delenv("SPACE_ID", raising=False)
    monkeypatch.delenv(quotas.PER_VISITOR_ENV, raising=False)
    assert quotas.quota_bytes(quotas.PER_VISITOR_ENV, quotas.SHARED_PER_VISITOR) is None
    monkeypatch.setenv("STUDIO_MULTI_USER", "1")
    assert quotas.quota_bytes(quotas.PER_VISITOR_ENV, quotas.SHARED_PER_VISITOR) == 1024**3
    monkeypatch.setenv(quotas.PER_VISITOR_ENV, "lots")
    with pytest.raises(StudioError, match="STUDIO_QUOTA_PER_VISITOR must look like '1gb'"):
        quotas.quota_bytes(quotas.PER_VISITOR_ENV, quotas.SHARED_PER_VISITOR)
