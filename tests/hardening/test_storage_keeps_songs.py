"""Storage never loses a song and never stops the server (issue 18 item 4): a damaged database is
moved aside and rebuilt from the song cards inside the library's files; a damaged calibration file
is moved aside; a full or read-only state folder costs an estimate update, never a song."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest

from studio.library import DB_NAME, Library
from studio.song import SongRequest, SongResult, TakeResult


def _song_files(folder: Path, seed: int) -> TakeResult:
    """A take exported the way the studio exports one: WAV and MP3, each carrying its song card."""
    from studio.audio import SongCard, export_song, studio_artist

    request = SongRequest(title=f"Night drive {seed}", style="synth pop", lyrics="[Verse]\nneon", duration=10)
    card = SongCard(title=request.title, artist=studio_artist("ACE-Step"), lyrics=request.lyrics, style=request.style,
                    backend="acestep", model_id="ACE-Step/acestep-v15-xl-turbo-diffusers", seed=seed,
                    params={**request.model_dump(mode="json"), "seed": seed}, sample_rate=48_000, duration_s=2.0)
    t = np.arange(2 * 48_000) / 48_000
    audio = np.stack([0.3 * np.sin(2 * np.pi * 220 * t)] * 2).astype(np.float32)
    exported = export_song(audio, 48_000, folder, f"take-{seed}", formats=("wav", "mp3"), card=card)
    return TakeResult(path=exported.paths["wav"], seed=seed, sample_rate=48_000, channels=2, duration=2.0,
                      files=dict(exported.paths))


def _keep(library: Library, owner: str, folder: Path, seeds: list[int]):
    from studio.ui.runner import keep_downloads

    takes = [_song_files(folder, s) for s in seeds]
    result = SongResult(backend="acestep", weights="ACE-Step/acestep-v15-xl-turbo-diffusers", device="cpu",
                        dtype="float32", sample_rate=48_000, duration=2.0, elapsed_s=1.0, takes=takes,
                        lyrics_sent="", style_sent="synth pop")
    request = SongRequest(style="synth pop", lyrics="[Verse]\nneon", duration=10, takes=len(seeds))
    songs = library.add_result(owner, request, result)
    for song, take in zip(songs, takes, strict=True):
        keep_downloads(song, take)  # the MP3 beside the WAV, as a render leaves it
    return songs


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_database_is_moved_aside_and_rebuilt_from_the_song_cards(tmp_path, damage, caplog) -> None:
    root = tmp_path / "lib"
    library = Library(root)
    alice = _keep(library, "alice", tmp_path / "a", [1, 2])
    bob = _keep(library, "b0b", tmp_path / "b", [3])
    library.close()
    db = root / DB_NAME
    raw = db.read_bytes()
    db.write_bytes(b"this is not a database" * 100 if damage == "garbage" else raw[:100] + b"\0" * (len(raw) - 100))
    with caplog.at_level("ERROR", logger="studio.library"):
        reopened = Library(root)  # before: sqlite3.DatabaseError, and the studio did not start
    assert "is damaged" in caplog.text and "3 songs from their cards" in caplog.text
    assert list(root.glob(f"{DB_NAME}.corrupt-*")), "the damaged file is kept for a human"
    mine = {s.id: s for s in reopened.list("alice")}
    assert set(mine) == {s.id for s in alice} and [s.id for s in reopened.list("b0b")] == [bob[0].id]
    for old in alice:
        again = mine[old.id]
        assert (again.seed, again.audio_path, again.owner) == (old.seed, old.audio_path, "alice")
        assert again.title == f"Night drive {old.seed}"  # the card's title (a later rename is not in the card)
        assert again.song_request().style == "synth pop"
    assert reopened.list("mallory") == []  # the owner is the folder: nobody gains anybody's songs
    reopened.close()


def test_a_damaged_calibration_file_never_stops_the_studio(tmp_path, caplog) -> None:
    from studio.budget.calibration import Calibration

    for i, text in enumerate(["{not json", "[]", '{"version": 1, "devices": {"cpu": 5}}', "\0\0\0"]):
        path = tmp_path / f"c{i}" / "calibration.json"
        path.parent.mkdir()
        path.write_text(text)
        store = Calibration(path)  # before: AttributeError / TypeError for JSON of the wrong shape
        assert store.samples("cpu", "acestep", "render") == []
        assert not path.exists() or json.loads(path.read_text()) is not None
    assert "is unreadable" in caplog.text


def _record(store) -> list[str]:
    from backends.plan_input import PlanInput
    from tests.budget.helpers import DIFFUSION

    return store.record("acestep", "cpu", DIFFUSION, PlanInput(duration_s=30, takes=1, steps=8), {"diffusion": 4.0})


def test_a_full_or_read_only_state_folder_costs_the_estimate_not_the_song(tmp_path, monkeypatch, caplog) -> None:
    from studio.budget import calibration
    from studio.budget.calibration import Calibration

    folder = tmp_path / "state"
    folder.mkdir()
    store = Calibration(folder / "calibration.json")

    def disk_full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(calibration.json, "dump", disk_full)
    assert _record(store)  # recorded in memory; the song that measured it is not failed
    assert list(folder.iterdir()) == [], "no temporary file is left behind"
    assert "No space left on device" in caplog.text
    monkeypatch.undo()
    if os.geteuid() != 0:  # root writes anywhere: the read-only case needs an ordinary user
        folder.chmod(0o500)
        try:
            assert _record(Calibration(folder / "calibration.json"))
        finally:
            folder.chmod(0o700)


def test_a_crashed_renders_staging_folder_is_swept_at_the_next_start(tmp_path) -> None:
    """Before, leftovers younger than 15 minutes stayed until a later start; a folder named after a
    process that is gone is a crash's leftover at once, one of a live process (another render) is kept."""
    import subprocess
    import sys

    from studio.library import staging_name

    root = tmp_path / "lib"
    Library(root).close()
    made = subprocess.run(
        [sys.executable, "-c", "from studio.library import staging_name; print(staging_name())"],
        capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[2],
    ).stdout.strip()
    crashed = root / "staging" / made  # its process has exited
    (crashed / "take").mkdir(parents=True)
    (crashed / "take" / "song.wav").write_bytes(b"RIFF")
    running = root / "staging" / staging_name()  # this process: a render still going
    running.mkdir()
    Library(root).close()
    assert not crashed.exists() and running.exists()
