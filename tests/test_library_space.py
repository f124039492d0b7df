"""The library on a Space: SQLite on local disk, audio and a database snapshot on the storage mount.

A Space's /data is now a storage-bucket mount without file locking (DESIGN.md "Storage"; Hugging
Face docs "Spaces storage"): SQLite in WAL mode must not live there, and the local disk is wiped
by a restart. Here ``mount`` stands for /data and each ``local-N`` for one container's disk.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import numpy as np

from studio.audio import SongCard, export, studio_artist
from studio.library import SNAPSHOT_NAME, Library, default_db_dir
from studio.song import SongRequest, SongResult, TakeResult


def song_file(folder: Path, seed: int, style: str) -> Path:
    """A finished take as the studio writes it: audio with its song card in the tags."""
    request = SongRequest(style=style, lyrics="[verse]\nla la", duration=30, seed=seed)
    card = SongCard(title=style.capitalize(), artist=studio_artist("ACE-Step 1.5 XL turbo"), lyrics=request.lyrics,
                    style=style, backend="acestep", model_id="tiny", seed=seed,
                    params=request.model_dump(mode="json"), sample_rate=48000, duration_s=0.5)
    audio = np.zeros((2, 24000), dtype=np.float32)
    return export(audio, 48000, folder / f"take-{seed}", "mp3", card, sidecar=False)


def keep(library: Library, folder: Path, owner: str, seed: int, style: str):
    path = song_file(folder, seed, style)
    request = SongRequest(style=style, lyrics="[verse]\nla la", duration=30, seed=seed)
    result = SongResult(backend="acestep", weights="tiny", device="cpu", dtype="float32", sample_rate=48000,
                        duration=0.5, elapsed_s=1.0, lyrics_sent="[verse]\nla la", style_sent=style,
                        takes=[TakeResult(path=path, seed=seed, sample_rate=48000, channels=2, duration=0.5)])
    (song,) = library.add_result(owner, request, result)
    return song


def test_restart_with_the_local_database_gone_keeps_every_song(tmp_path: Path) -> None:
    mount, staging = tmp_path / "mount", tmp_path / "staging"
    staging.mkdir()
    first = Library(mount, db_dir=tmp_path / "local-1")
    assert not (mount / "library.sqlite3").exists()  # no SQLite file on the lock-less mount
    a = keep(first, staging, "alice", 1, "synth pop")
    b = keep(first, staging, "bob", 2, "dark techno")
    first.like("alice", a.id)
    first.rename("bob", b.id, "Night drive")
    gone = keep(first, staging, "alice", 3, "folk")
    first.delete("alice", gone.id)
    # A song kept after the last snapshot reached the mount (the process died in between):
    before_last = (mount / SNAPSHOT_NAME).read_bytes()
    c = keep(first, staging, "alice", 4, "bossa nova")
    (mount / SNAPSHOT_NAME).write_bytes(before_last)
    first.close()
    shutil.rmtree(tmp_path / "local-1")  # the restart wipes the container's disk

    second = Library(mount, db_dir=tmp_path / "local-2")
    alice = {s.id: s for s in second.list("alice")}
    assert set(alice) == {a.id, c.id}
    assert alice[a.id].liked and alice[a.id].request["style"] == "synth pop"
    assert alice[c.id].style == "bossa nova" and alice[c.id].seed == 4  # rebuilt from its song card
    assert alice[c.id].song_request().lyrics == "[verse]\nla la"
    (bob,) = second.list("bob")
    assert bob.title == "Night drive" and bob.id == b.id
    assert all(s.audio_path.is_file() for s in [*alice.values(), bob])
    # The rebuilt song is in the next snapshot too: a second restart does not need the cards.
    second.close()
    with sqlite3.connect(mount / SNAPSHOT_NAME) as db:
        assert {r[0] for r in db.execute("SELECT id FROM songs")} == {a.id, b.id, c.id}


def test_a_library_on_the_space_mount_keeps_its_database_on_local_disk(tmp_path: Path, monkeypatch) -> None:
    from studio import library as lib

    monkeypatch.delenv("STUDIO_LIBRARY_DB_DIR", raising=False)
    monkeypatch.setattr(lib, "SPACE_STORAGE", tmp_path / "data")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    root = tmp_path / "data" / "song-studio"
    assert default_db_dir(root) == tmp_path / "cache" / "song-studio" / "library-db"
    assert default_db_dir(tmp_path / "elsewhere") == tmp_path / "elsewhere"  # a laptop: one folder
    monkeypatch.setenv("STUDIO_LIBRARY_DB_DIR", str(tmp_path / "db"))
    assert default_db_dir(root) == tmp_path / "db"


def test_downloads_beside_a_song_survive_the_sweep_at_open(tmp_path: Path) -> None:
    library = Library(tmp_path / "lib")
    song = keep(library, tmp_path, "alice", 1, "pop")
    wav = song.audio_path.with_name(f"{song.id}.wav")
    wav.write_bytes(b"RIFF")
    library.close()
    Library(tmp_path / "lib").clean(stale_after_s=0)  # what a restart an hour later does
    assert wav.is_file() and song.audio_path.is_file()
