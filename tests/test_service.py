"""The validation every surface shares, before any model is touched."""

from __future__ import annotations

import pytest

from studio.errors import validate
from studio.ground.errors import StudioError
from studio.request import cancel, checks, outputs
from studio.song import SongRequest


def req(**kw) -> SongRequest:
    return validate(SongRequest, {"style": "pop", **kw})


def test_defaults_come_from_capabilities() -> None:
    prepared = checks.check_request(req())
    assert prepared.job.duration_s == 60.0
    assert prepared.job.options.steps == 8 and prepared.job.options.shift == 3.0
    assert len(prepared.job.seeds) == 1


def test_seeds_follow_the_given_seed_and_wrap() -> None:
    assert checks.new_seeds(5, 3) == [5, 6, 7]
    assert checks.new_seeds(2**32 - 1, 2) == [2**32 - 1, 0]


def test_metadata_passes_through_normalised() -> None:
    job = checks.check_request(req(bpm=120, key="f# min", time_signature="3/4", language="EN")).job
    assert dict(job.metadata) == {"bpm": 120, "key": "F# minor", "time_signature": "3", "language": "en"}


def test_instrumental_drops_lyrics_with_a_warning() -> None:
    prepared = checks.check_request(req(lyrics="la la", instrumental=True))
    assert prepared.job.lyrics == "[Instrumental]" and prepared.warnings


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"style": "x" * 600}, "the style caption has 600 characters and ACE-Step takes fewer than 512"),
        ({"lyrics": "y" * 5000}, "ACE-Step takes fewer than 4096 characters of lyrics"),
        ({"options": {"steps": 500}}, "`steps` must be <= 100, got 500"),
        ({"options": {"cfg": 3}}, "unknown option `cfg` for ACE-Step 1.5 XL turbo; known options: steps"),
        ({"duration": float("nan")}, "`duration` must be a number of seconds"),
        ({"seed": -1}, "`seed` must be >= 0"),
        ({"bpm": 1000}, "`bpm` must be <= 300"),
        ({"time_signature": "5/4"}, "`time_signature` must be one of"),
        ({"surprise": 1}, "unknown field `surprise`"),
    ],
)
def test_bad_requests_get_one_actionable_sentence(fields, message) -> None:
    with pytest.raises(StudioError) as info:
        checks.check_request(req(**fields))
    assert message in str(info.value)


def test_output_targets_and_formats() -> None:
    from pathlib import Path

    r = req(title="Neon Nights!")
    assert outputs.take_targets(Path("a/b.wav"), r, [1]) == [(Path("a"), "b")]
    assert outputs.take_targets(Path("a/b.flac"), r, [1, 2]) == [(Path("a"), "b-1"), (Path("a"), "b-2")]
    assert outputs.take_targets(Path("out"), r, [9]) == [(Path("out"), "neon-nights-9")]
    assert outputs.output_formats(Path("a/b.mp3"), ["wav", "mp3"]) == ["mp3", "wav"]
    assert outputs.output_formats(Path("out"), []) == ["wav"]
    with pytest.raises(StudioError, match=r"must end in \.wav, \.flac or \.mp3"):
        outputs.take_targets(Path("a/b.mp4"), r, [1])


def test_cancel_token_stops_at_the_next_progress_event(tmp_path) -> None:
    from studio.ground.errors import Cancelled
    from studio.ground.progress import ProgressEvent

    seen = []
    token = cancel.CancelToken(tmp_path)
    report = cancel.cancellable(seen.append, token)
    report(ProgressEvent("rendering", 1, 8))
    token.cancel()
    with pytest.raises(Cancelled, match="stopped during rendering"):
        report(ProgressEvent("rendering", 2, 8))
    assert [e.done for e in seen] == [1]
    token.clear()
    assert not token.cancelled


def test_lyrics_go_through_the_formatter_with_fixes_reported() -> None:
    prepared = checks.check_request(req(lyrics="[Verse 1]\nNeon rain\n[Hook]\nWe are the light", duration=30))
    assert "[Verse" in prepared.job.lyrics and "Neon rain" in prepared.job.lyrics
    formatted = checks.format_preview(req(lyrics="[Verse 1]\nNeon rain\n[Hook]\nWe are the light"))
    assert prepared.job.lyrics == formatted.lyrics


def test_verbatim_sends_text_untouched() -> None:
    raw = "[verse 1]\n“curly” quotes"
    prepared = checks.check_request(req(lyrics=raw, verbatim=True, duration=30))
    assert prepared.job.lyrics == raw and prepared.job.style == "pop"


def test_no_duration_follows_the_lyrics() -> None:
    long = "\n".join(["[Verse]"] + ["a line that takes a few seconds to sing"] * 40)
    prepared = checks.check_request(req(lyrics=long))
    estimate = checks.format_preview(req(lyrics=long)).estimated_seconds
    assert prepared.job.duration_s == min(600, max(10, -(-estimate // 1)))
    assert prepared.job.duration_s != 60.0


def test_style_only_becomes_instrumental_with_a_warning() -> None:
    prepared = checks.check_request(req())
    assert prepared.job.instrumental and any("instrumental" in w for w in prepared.warnings)


def test_unformattable_lyrics_are_refused_before_the_model() -> None:
    with pytest.raises(StudioError, match="not ready for LeVo"):
        request = validate(SongRequest, {"backend": "levo2", "style": "pop", "lyrics": "[Intro]\n\n[Outro]"})
        checks.check_request(request)
