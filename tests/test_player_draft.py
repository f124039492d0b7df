"""The player's FLAC is drafted from the plain-gain master while the true peak is measured
(studio.finishing.master_while_drafting_player): the file the visitor gets is the very file the
sequential path writes, whether the limiter stayed idle (the draft is kept) or worked (it is
dropped), and no draft is left behind on any path."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
import soundfile

from backends.base import Take
from studio import finishing
from studio.audio import MasteringSettings, SongCard, export_song, master
from studio.raw import RawRender
from studio.song import SongRequest
from tests.audio.signals import SR, drums, sine

# One card for both paths, its time fixed: the bytes compared include the tags.
CARD = SongCard(
    title="Draft",
    artist="Song Studio",
    style="pop",
    backend="acestep",
    model_id="tiny",
    seed=1,
    sample_rate=SR,
    duration_s=5.0,
    created_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
)


def _quiet_take() -> np.ndarray:
    # A sine has a 3 dB crest: driven to -14 LUFS its true peak is near -11 dBTP, far under the ceiling.
    return sine(5.0, 0.05).astype(np.float32)


def _hot_take() -> np.ndarray:
    # Kicks and snares over a quiet pad: the loudness gain drives them over the ceiling.
    return drums(5.0, 0.05).astype(np.float32)


def _inter_sample_take() -> np.ndarray:
    """Hot between its samples only: a 20 ms burst at a quarter of the sample rate, its samples at 45 degrees
    of phase (0.71 of its true peak), over the quiet sine that sets the gain (about +14 dB). Driven, the samples
    stay under the ceiling and the true peak goes over it: only the envelope tells that the limiter works."""
    audio = _quiet_take()
    burst = 0.2 * np.sin(np.pi / 2 * np.arange(960) + np.pi / 4)
    audio[:, SR : SR + 960] += burst.astype(np.float32)
    return audio


def _sequential(audio: np.ndarray, folder: Path) -> Path:
    """The player's file as written before the overlap: master, then encode the master."""
    settings = MasteringSettings()
    mastered = master(audio, SR, settings)
    exported = export_song(
        audio,
        SR,
        folder,
        "song",
        formats=("flac16",),
        card=CARD,
        mastering=settings,
        mastered=mastered,
        keep_raw=False,
    )
    return exported.paths["flac16"]


def _overlapped(audio: np.ndarray, folder: Path) -> tuple[Path, bool]:
    settings = MasteringSettings()
    mastered, draft = finishing.master_while_drafting_player(audio, SR, settings, folder / "song")
    exported = export_song(
        audio,
        SR,
        folder,
        "song",
        formats=("flac16",),
        card=CARD,
        mastering=settings,
        mastered=mastered,
        keep_raw=False,
        drafts={"flac16": draft} if draft is not None else None,
    )
    return exported.paths["flac16"], draft is not None


def _leftovers(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if path.name.endswith(".part"))


@pytest.mark.parametrize(("take", "limited"), [(_quiet_take, False), (_hot_take, True), (_inter_sample_take, True)])
def test_the_player_file_is_the_sequential_one_byte_for_byte(take, limited, tmp_path) -> None:
    audio = take()
    assert (master(audio, SR).limiter_reduction_db > 0.0) is limited  # the case is the one named
    before = _sequential(audio, tmp_path / "sequential")
    after, drafted = _overlapped(audio, tmp_path / "overlapped")
    assert drafted is not limited  # the draft is used exactly when the limiter stayed idle
    expected, rate = soundfile.read(before, dtype="int16")
    got, got_rate = soundfile.read(after, dtype="int16")
    assert rate == got_rate == SR and np.array_equal(expected, got)
    assert after.read_bytes() == before.read_bytes()
    assert _leftovers(tmp_path / "overlapped") == []


def test_master_hands_back_the_plain_gain_array_only_when_the_limiter_is_idle() -> None:
    seen: list[np.ndarray] = []
    quiet = master(_quiet_take(), SR, on_gain=seen.append)
    assert quiet.limiter_reduction_db == 0.0 and quiet.audio is seen[0]
    np.testing.assert_array_equal(quiet.audio, master(_quiet_take(), SR).audio)
    # Hot between the samples: handed over (the samples do not tell), then limited, so not the master.
    hot = master(_inter_sample_take(), SR, on_gain=seen.append)
    assert len(seen) == 2 and hot.audio is not seen[1] and hot.limiter_reduction_db > 0.0
    plain_gain_db = master(_inter_sample_take(), SR, MasteringSettings(limit=False)).gain_db
    np.testing.assert_allclose(seen[1], _inter_sample_take() * 10 ** (plain_gain_db / 20), rtol=1e-6)
    # Hot in its samples already: nothing is handed over, there is nothing to start.
    assert master(_hot_take(), SR, on_gain=seen.append).limiter_reduction_db > 0.0 and len(seen) == 2


def test_a_failed_draft_falls_back_to_encoding_the_master(tmp_path, monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(finishing, "write_draft", broken)
    audio = _quiet_take()
    mastered, draft = finishing.master_while_drafting_player(audio, SR, MasteringSettings(), tmp_path / "song")
    assert draft is None and _leftovers(tmp_path) == []
    np.testing.assert_array_equal(mastered.audio, master(audio, SR).audio)


def test_a_failed_master_removes_the_draft(tmp_path, monkeypatch) -> None:
    def failing(audio, sample_rate, settings, *, on_gain):
        on_gain(np.asarray(audio, dtype=np.float32))  # the worker starts writing the draft ...
        raise RuntimeError("the true-peak measurement failed")  # ... and the calling thread fails

    monkeypatch.setattr(finishing, "master", failing)
    with pytest.raises(RuntimeError, match="true-peak"):
        finishing.master_while_drafting_player(_quiet_take(), SR, MasteringSettings(), tmp_path / "song")
    assert list(tmp_path.iterdir()) == []


def test_finish_take_leaves_no_draft_when_writing_the_song_fails(tmp_path, monkeypatch) -> None:
    audio = _quiet_take()
    raw = RawRender(
        request=SongRequest(style="pop", lyrics="", duration=5),
        takes=[Take(audio, SR, 1)],
        seeds=[1],
        duration_s=5.0,
        lyrics_sent="",
        style_sent="pop",
        warnings=[],
        plan=None,
        stage_seconds={},
        weights="tiny",
        device="cpu",
        dtype="float32",
    )
    drafts: list[Path] = []

    def failing(*args, drafts_seen=drafts, **kwargs):
        drafts_seen.extend(kwargs["drafts"].values())
        raise OSError("the library's disk is full")

    monkeypatch.setattr(finishing, "export_song", failing)
    with pytest.raises(OSError, match="disk is full"):
        finishing.finish_take(raw, raw.takes[0], tmp_path, "song", now=(finishing.PLAYER_FORMAT,), later=("wav",))
    assert len(drafts) == 1 and not drafts[0].exists() and list(tmp_path.iterdir()) == []
