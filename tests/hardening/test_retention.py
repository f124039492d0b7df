"""Retention (issue 18 item 3): songs nobody can reach are removed, with their files, and logged.

The attack: a script makes a song under a fresh visitor key every few minutes and throws the key away;
before, those songs stayed on the Space's disk forever, since no one holds a key to delete them."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from studio import retention
from studio.ground.errors import StudioError
from studio.library import Library
from studio.song import SongRequest, SongResult, TakeResult

DAY = 86400.0
REQUEST = SongRequest(style="pop", lyrics="[Verse]\nla", duration=30)


def _keep(library: Library, owner: str, folder: Path, seed: int, *, stems: bool = False) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"take-{owner}-{seed}.wav"
    sf.write(path, np.full((800, 2), 0.1, dtype=np.float32), 8000)
    take = TakeResult(path=path, seed=seed, sample_rate=8000, channels=2, duration=0.1)
    result = SongResult(backend="acestep", weights="tiny", device="cpu", dtype="float32", sample_rate=8000,
                        duration=0.1, elapsed_s=0.1, takes=[take], lyrics_sent="", style_sent="pop")
    song = library.add_result(owner, REQUEST, result)[0]
    song.audio_path.with_name(f"{song.id}.mp3").write_bytes(b"ID3 mp3 copy")  # its download beside it
    if stems:
        stem_dir = song.audio_path.parent / "stems" / song.id
        stem_dir.mkdir(parents=True)
        (stem_dir / "vocals.wav").write_bytes(b"RIFF stem")
    return song.id


def _files(library: Library, owner: str) -> list[Path]:
    folder = library.audio_dir / owner
    return [p for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []


@pytest.fixture
def shared(monkeypatch) -> None:
    monkeypatch.setenv("STUDIO_MULTI_USER", "1")
    monkeypatch.delenv(retention.RETENTION_ENV, raising=False)


def test_songs_of_keys_not_seen_for_the_retention_period_are_removed_with_their_files(
    tmp_path, shared, caplog
) -> None:
    library = Library(tmp_path / "lib")
    now = time.time()
    gone_id = _keep(library, "throwaway1", tmp_path / "s", 1, stems=True)
    _keep(library, "throwaway1", tmp_path / "s", 2)
    kept_id = _keep(library, "regular", tmp_path / "s", 3)
    removed_files = _files(library, "throwaway1")
    assert len(removed_files) == 5  # two songs, their MP3s, one stem
    heard: list[Path] = []
    library.on_delete.append(heard.extend)  # what gradio's cache cleaner is handed

    # 31 days later: the regular visitor opened the page yesterday; the throwaway key never came back.
    later = now + 31 * DAY
    library._seen.clear()  # a fresh process, as after a Space restart
    library.seen("regular", now=later - DAY)
    with caplog.at_level("WARNING", logger="studio.retention"):
        removed = retention.sweep(library, now=later)

    assert (removed.visitors, removed.songs) == (1, 2) and removed.bytes > 0
    assert _files(library, "throwaway1") == [] and not (library.audio_dir / "throwaway1").exists()
    assert library.song_ids("throwaway1") == []
    with pytest.raises(StudioError, match="no song"):
        library.get("throwaway1", gone_id)
    assert sorted(heard) == sorted(removed_files)  # every file, before it went
    assert "retention: removed 2 songs" in caplog.text and "1 visitors not seen for 30 days" in caplog.text
    assert [s.id for s in library.list("regular")] == [kept_id]
    assert len(_files(library, "regular")) == 2
    library.close()


def test_a_visit_keeps_a_visitors_old_songs_and_the_one_person_owner_is_never_removed(tmp_path, shared) -> None:
    library = Library(tmp_path / "lib")
    _keep(library, "alice", tmp_path / "s", 1)
    _keep(library, "local", tmp_path / "s", 2)
    library._seen.clear()
    library.list("alice")  # she opened her Library: a visit, written to the database
    library.close()
    reopened = Library(tmp_path / "lib")  # a restart: visits are read back from the database
    soon = time.time() + 29 * DAY
    assert retention.sweep(reopened, now=soon) == retention.Removed()
    long_after = time.time() + 90 * DAY
    removed = retention.sweep(reopened, now=long_after)
    assert removed.visitors == 1 and reopened.song_ids("alice") == [] and len(reopened.song_ids("local")) == 1
    reopened.close()


def test_a_rebuilt_library_gives_every_visitor_a_fresh_period(tmp_path, shared) -> None:
    """The visits were in the damaged database: judging visitors by their songs' dates alone would
    remove the songs of someone who came by yesterday."""
    from tests.hardening.test_storage_keeps_songs import _keep as keep_with_cards

    library = Library(tmp_path / "lib")
    keep_with_cards(library, "alice", tmp_path / "s", [1])  # files carrying their song cards
    library.close()
    (tmp_path / "lib" / "library.sqlite3").write_bytes(b"not a database" * 100)
    for suffix in ("-wal", "-shm"):
        (tmp_path / "lib" / f"library.sqlite3{suffix}").unlink(missing_ok=True)
    rebuilt = Library(tmp_path / "lib")
    assert len(rebuilt.song_ids("alice")) == 1
    assert rebuilt.last_visits()["alice"] >= time.time() - 60
    rebuilt.close()


def test_retention_is_off_for_one_person_and_a_bad_setting_says_how_to_write_it(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("STUDIO_MULTI_USER", raising=False)
    monkeypatch.delenv("SPACE_ID", raising=False)
    monkeypatch.delenv(retention.RETENTION_ENV, raising=False)
    assert retention.retention_days() is None
    assert retention.start(Library(tmp_path / "lib")) is None
    monkeypatch.setenv("STUDIO_MULTI_USER", "1")
    assert retention.retention_days() == 30
    monkeypatch.setenv(retention.RETENTION_ENV, "off")
    assert retention.retention_days() is None
    monkeypatch.setenv(retention.RETENTION_ENV, "0.5")
    assert retention.retention_days() == 0.5
    for bad in ("-3", "a month", "nan", "0"):
        monkeypatch.setenv(retention.RETENTION_ENV, bad)
        with pytest.raises(StudioError, match="STUDIO_RETENTION_DAYS must be a number of days > 0"):
            retention.retention_days()
