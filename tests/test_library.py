"""The song library: persistence, ownership, search, likes, delete."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from studio.library import Library, SongNotFound
from studio.song import SongRequest, SongResult, TakeResult


def make_result(folder: Path, seeds: list[int], seconds: float = 0.5) -> SongResult:
    takes = []
    for seed in seeds:
        path = folder / f"take-{seed}.wav"
        sf.write(path, np.zeros((int(seconds * 8000), 2), dtype=np.float32), 8000)
        takes.append(TakeResult(path=path, seed=seed, sample_rate=8000, channels=2, duration=seconds))
    return SongResult(
        backend="acestep", weights="tiny", device="cpu", dtype="float32", sample_rate=8000, duration=seconds,
        elapsed_s=1.5, takes=takes, lyrics_sent="[verse]\nla", style_sent="synth pop",
    )


@pytest.fixture
def library(tmp_path: Path) -> Library:
    return Library(tmp_path / "lib")


def add(library: Library, tmp_path: Path, owner: str, style: str = "synth pop", seeds=(7,)) -> list:
    request = SongRequest(style=style, lyrics="[verse]\nla la", duration=30, seed=seeds[0], takes=len(seeds))
    return library.add_result(owner, request, make_result(tmp_path, list(seeds)))


def test_songs_survive_reopening_and_keep_their_settings(library: Library, tmp_path: Path) -> None:
    first, second = add(library, tmp_path, "alice", seeds=(7, 8))
    assert first.audio_path.is_file() and first.audio_path.parent.parent == library.audio_dir
    assert (first.title, second.title) == ("Synth pop (1)", "Synth pop (2)")
    library.close()

    reopened = Library(library.root)
    songs = reopened.list("alice")
    assert {s.id for s in songs} == {first.id, second.id}
    again = reopened.get("alice", second.id)
    assert again.seed == 8 and again.duration == 0.5 and again.lyrics_sent == "[verse]\nla"
    reuse = again.song_request()
    assert reuse.style == "synth pop" and reuse.seed == 8 and reuse.takes == 1 and reuse.duration == 30


def test_visitors_cannot_reach_each_others_songs(library: Library, tmp_path: Path) -> None:
    (mine,) = add(library, tmp_path, "alice")
    assert library.list("bob") == [] and library.count("bob") == 0
    for action in (
        lambda: library.get("bob", mine.id),
        lambda: library.like("bob", mine.id),
        lambda: library.delete("bob", mine.id),
        lambda: library.rename("bob", mine.id, "stolen"),
    ):
        with pytest.raises(SongNotFound):
            action()
    assert library.get("alice", mine.id).title == "Synth pop" and mine.audio_path.is_file()


def test_ids_are_unguessable(library: Library, tmp_path: Path) -> None:
    songs = add(library, tmp_path, "alice", seeds=(1, 2, 3))
    ids = [s.id for s in songs]
    assert len(set(ids)) == 3 and all(len(i) >= 20 for i in ids)


def test_search_likes_and_delete(library: Library, tmp_path: Path) -> None:
    (pop,) = add(library, tmp_path, "alice", style="synth pop")
    (folk,) = add(library, tmp_path, "alice", style="dusty folk ballad")
    assert [s.id for s in library.list("alice", "FOLK")] == [folk.id]
    assert [s.id for s in library.list("alice", "100%_")] == []  # LIKE wildcards are literal
    assert library.like("alice", pop.id).liked
    assert [s.id for s in library.list("alice", liked_only=True)] == [pop.id]
    library.delete("alice", pop.id)
    assert not pop.audio_path.exists()
    assert [s.id for s in library.list("alice")] == [folk.id]
    with pytest.raises(SongNotFound):
        library.get("alice", pop.id)


def test_owner_ids_cannot_escape_the_library(library: Library, tmp_path: Path) -> None:
    with pytest.raises(Exception, match="invalid library owner"):
        add(library, tmp_path, "../evil")


def test_library_folder_comes_from_the_environment(tmp_path: Path, monkeypatch) -> None:
    from studio import library as lib

    monkeypatch.setenv(lib.LIBRARY_ENV, str(tmp_path / "here"))
    assert Library().root == tmp_path / "here" and (tmp_path / "here" / lib.DB_NAME).is_file()


def test_public_entries_name_server_files_by_name_never_by_path(library: Library, tmp_path: Path) -> None:
    source = tmp_path / "uploads" / "f00" / "demo.wav"
    lora = tmp_path / "uploads" / "f01" / "style.safetensors"
    weights = tmp_path / "models" / "acestep-turbo"
    weights.mkdir(parents=True)
    request = SongRequest(
        style="lofi", task="repaint", source_audio=str(source), start=1, end=2,
        options={"loras": [{"source": str(lora), "scale": 0.5}, {"source": "someone/lofi", "scale": 1.0}]},
    )
    result = make_result(tmp_path, [3]).model_copy(update={"weights": str(weights)})
    [song] = library.add_result("me", request, result)
    shown = library.get("me", song.id).public()
    text = str(shown)
    assert str(tmp_path) not in text, text
    assert shown["weights"] == "acestep-turbo" and shown["request"]["source_audio"] == "demo.wav"
    assert [x["source"] for x in shown["request"]["options"]["loras"]] == ["style.safetensors", "someone/lofi"]
    assert library.get("me", song.id).song_request().source_audio == str(source)  # the owner's reuse keeps it
