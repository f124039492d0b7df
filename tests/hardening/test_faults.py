"""Faults: out of memory mid-render, an interrupted download, a full disk, a crash mid-save."""

from __future__ import annotations

import errno
import gc
import os
import subprocess
import sys
import textwrap
import time
import weakref
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from studio import memory
from studio.ground.errors import StudioError
from studio.library import Library
from studio.rendering import Studio
from studio.song import SongRequest, SongResult, TakeResult

REPO = Path(__file__).resolve().parents[2]


# -- out of memory ----------------------------------------------------------------------------------
@pytest.fixture
def tiny_env(tiny_acestep_dir: Path, monkeypatch) -> Path:
    monkeypatch.setenv("STUDIO_ACESTEP_WEIGHTS", str(tiny_acestep_dir))
    monkeypatch.setenv("STUDIO_DEVICE", "cpu")
    return tiny_acestep_dir


def test_out_of_memory_mid_render_frees_the_backend_and_the_next_request_works(tiny_env, tmp_path, monkeypatch):
    studio = Studio()
    request = SongRequest(style="synth pop", lyrics="[Verse]\nla la", duration=10, seed=3, options={"steps": 1})
    first = studio.cache.get("acestep")
    pipe_class = type(first.pipe)
    original = pipe_class.__call__
    failures: list[int] = []

    def out_of_memory_once(self, *args, **kwargs):
        if not failures:
            failures.append(1)
            self.activations = torch.zeros(1024, 1024)  # something the failed call was holding
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return original(self, *args, **kwargs)

    freed: list[bool] = []
    real_free = memory.free_accelerator_memory
    monkeypatch.setattr(pipe_class, "__call__", out_of_memory_once)
    monkeypatch.setattr(memory, "free_accelerator_memory", lambda: (freed.append(True), real_free()))
    held = weakref.ref(first.pipe)
    del first

    with pytest.raises(memory.OutOfMemory) as caught:
        studio.generate(request, out=tmp_path / "a.wav", formats=("wav",))
    message = str(caught.value)
    assert "ran out of memory" in message and "`duration`" in message and "`takes`" in message
    assert freed == [True]
    assert "acestep" not in studio.cache.loaded()  # not left half-initialised in the cache
    gc.collect()
    assert held() is None  # the failed pipeline (and what it held) is really gone

    result = studio.generate(request, out=tmp_path / "b.wav", formats=("wav",))
    assert result.takes[0].path.is_file() and "acestep" in studio.cache.loaded()
    studio.cache.unload_all()


def test_freeing_memory_empties_the_accelerator_cache(monkeypatch) -> None:
    emptied: list[str] = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: emptied.append("cuda"))
    memory.free_accelerator_memory()
    assert emptied == ["cuda"]
    assert memory.is_out_of_memory(torch.OutOfMemoryError("x"))
    assert memory.is_out_of_memory(RuntimeError("MPS backend out of memory (MPS allocated: 17 GB)"))
    assert not memory.is_out_of_memory(RuntimeError("shape mismatch"))


# -- interrupted downloads --------------------------------------------------------------------------
def test_an_interrupted_download_says_how_to_resume(monkeypatch) -> None:
    import httpx
    import huggingface_hub

    from studio import weights

    def dropped(*_a, **_k):
        raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", dropped)
    with pytest.raises(StudioError) as caught:
        weights.fetch("org/some-weights", what="ACE-Step", env_var="STUDIO_ACESTEP_WEIGHTS")
    message = str(caught.value)
    assert "was interrupted" in message and "run the same command again" in message
    assert "`hf download org/some-weights`" in message and "resumes where it stopped" in message


def test_a_partial_hub_cache_is_not_a_download(monkeypatch, tmp_path) -> None:
    """Only an unfinished blob in the cache, and no network: refused, with the way to get the weights."""
    from huggingface_hub import constants

    from studio import weights

    repo = tmp_path / "hub" / "models--org--song-weights"
    (repo / "blobs").mkdir(parents=True)
    (repo / "blobs" / "0123abcd.incomplete").write_bytes(b"\0" * 1024)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(StudioError) as caught:
        weights.fetch("org/song-weights", what="ACE-Step", env_var="STUDIO_ACESTEP_WEIGHTS")
    assert "`hf download org/song-weights`" in str(caught.value)


def test_a_local_folder_with_partial_files_is_not_complete(tiny_acestep_dir, tmp_path) -> None:
    from studio import weights

    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / "model_index.json").write_text("{}")
    partials = folder / ".cache" / "huggingface" / "download" / "transformer"
    partials.mkdir(parents=True)
    (partials / "abc.deadbeef.incomplete").write_bytes(b"\0" * 64)
    with pytest.raises(StudioError, match=r"unfinished download .* `hf download REPO --local-dir"):
        weights.fetch(str(folder), what="ACE-Step", env_var="STUDIO_ACESTEP_WEIGHTS")
    assert weights.fetch(str(tiny_acestep_dir), what="ACE-Step", env_var="X") == tiny_acestep_dir.resolve()


# -- a full disk -------------------------------------------------------------------------------------
def _result(folder: Path, seeds: list[int]) -> SongResult:
    takes = []
    for seed in seeds:
        path = folder / f"take-{seed}.wav"
        sf.write(path, np.zeros((800, 2), dtype=np.float32), 8000)
        takes.append(TakeResult(path=path, seed=seed, sample_rate=8000, channels=2, duration=0.1))
    return SongResult(backend="acestep", weights="tiny", device="cpu", dtype="float32", sample_rate=8000,
                      duration=0.1, elapsed_s=0.1, takes=takes, lyrics_sent="", style_sent="pop")


REQUEST = SongRequest(style="pop", lyrics="[Verse]\nla", duration=30, takes=2)


def _audio_files(library: Library) -> list[Path]:
    return [p for p in library.audio_dir.rglob("*") if p.is_file()]


def _consistent(library: Library, owner: str) -> None:
    """Every row has its file, and every file has its row."""
    songs = library.list(owner)
    assert all(s.audio_path.is_file() for s in songs)
    assert sorted(_audio_files(library)) == sorted(s.audio_path for s in songs)


def _full_disk_on(call: int):
    seen = {"n": 0}

    def replace(src, dst):
        seen["n"] += 1
        if seen["n"] == call:
            raise OSError(errno.ENOSPC, "No space left on device")
        return os.rename(src, dst)

    return replace


@pytest.mark.parametrize("failing_call", [1, 2, 3, 4], ids=["move-1", "rename-1", "move-2", "rename-2"])
def test_a_full_disk_while_saving_keeps_the_library_consistent(tmp_path, monkeypatch, failing_call) -> None:
    library = Library(tmp_path / "lib")
    staging = tmp_path / "staging"
    staging.mkdir()
    monkeypatch.setattr("studio.library.os.replace", _full_disk_on(failing_call))
    with pytest.raises(StudioError, match="the disk is full, so the song could not be kept"):
        library.add_result("alice", REQUEST, _result(staging, [1, 2]))
    assert library.list("alice") == [] and library.count("alice") == 0  # all takes or none
    _consistent(library, "alice")


def test_a_full_disk_half_way_through_a_copy_leaves_no_partial_file(tmp_path, monkeypatch) -> None:
    library = Library(tmp_path / "lib")
    staging = tmp_path / "staging"
    staging.mkdir()

    def cross_device(src, dst):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    def half_copy(src, dst):
        Path(dst).write_bytes(Path(src).read_bytes()[:100])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("studio.library.os.replace", cross_device)
    monkeypatch.setattr("studio.library.shutil.copyfile", half_copy)
    with pytest.raises(StudioError, match="disk is full"):
        library.add_result("alice", REQUEST, _result(staging, [1]))
    assert _audio_files(library) == [] and library.list("alice") == []


def test_a_full_disk_while_exporting_leaves_no_half_file(tmp_path, monkeypatch) -> None:
    export_module = sys.modules["studio.audio.export"]
    real_write_bytes = Path.write_bytes

    # The encoders write into memory; the disk is met by the one write of the encoded file.
    def half_write(path, data):
        real_write_bytes(path, bytes(data)[:14])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", half_write)
    with pytest.raises(StudioError, match="disk is full"):
        export_module.export(np.zeros((2, 800), dtype=np.float32), 8000, tmp_path / "song.wav")
    assert list(tmp_path.iterdir()) == []


# -- a crash or restart in the middle of a save ------------------------------------------------------
CRASH = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    sys.path.insert(0, {repo!r})
    import numpy as np, soundfile as sf
    from studio import library as lib
    from studio.song import SongRequest, SongResult, TakeResult

    library = lib.Library(Path({root!r}))
    take = Path({root!r}) / "staging" / "x" / "take.wav"
    take.parent.mkdir(parents=True, exist_ok=True)
    sf.write(take, np.zeros((800, 2), dtype=np.float32), 8000)
    calls = {{"n": 0}}
    real = os.replace

    def replace_then_die(src, dst):
        calls["n"] += 1
        real(src, dst)
        if calls["n"] == {die_after}:
            os._exit(9)  # killed: no commit, no cleanup, no finally

    lib.os.replace = replace_then_die
    result = SongResult(backend="acestep", weights="tiny", device="cpu", dtype="float32", sample_rate=8000,
                        duration=0.1, elapsed_s=0.1, lyrics_sent="", style_sent="pop",
                        takes=[TakeResult(path=take, seed=1, sample_rate=8000, channels=2, duration=0.1)])
    library.add_result("alice", SongRequest(style="pop", duration=30), result)
    """
)


@pytest.mark.parametrize("die_after", [1, 2], ids=["after-the-copy", "after-the-rename"])
def test_a_crash_mid_save_leaves_no_half_entry_after_a_restart(tmp_path, die_after: int) -> None:
    root = tmp_path / "lib"
    Library(root).close()
    script = CRASH.format(repo=str(REPO), root=str(root), die_after=die_after)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 9, done.stderr

    restarted = Library(root)
    assert restarted.list("alice") == []  # no row without its file, whatever the visitor asks
    leftovers = _audio_files(restarted) + [p for p in (root / "staging").rglob("*") if p.is_file()]
    assert leftovers  # the crash did leave something behind ...
    old = time.time() - 3600
    for path in leftovers:
        os.utime(path, (old, old))
    for folder in (root / "staging").iterdir():
        os.utime(folder, (old, old))
    swept = restarted.clean()  # ... which the next start removes once no save can still own it
    assert swept["files"] + swept["staging"] >= 1
    assert _audio_files(restarted) == [] and list((root / "staging").iterdir()) == []


def test_rows_whose_file_vanished_are_kept_hidden_until_it_returns(tmp_path, caplog) -> None:
    """Issue 18: a late /data mount or a restore in progress made start-up delete those rows for good."""
    library = Library(tmp_path / "lib")
    staging = tmp_path / "staging"
    staging.mkdir()
    kept, lost = library.add_result("alice", REQUEST, _result(staging, [1, 2]))
    away = tmp_path / "restore-in-progress.wav"
    lost.audio_path.rename(away)
    assert [s.id for s in library.list("alice")] == [kept.id]  # hidden at once
    library.close()
    with caplog.at_level("WARNING", logger="studio.library"):
        reopened = Library(tmp_path / "lib")
    assert "1 songs in" in caplog.text and "kept, hidden until their files return" in caplog.text
    assert reopened.count("alice") == 2 and [s.id for s in reopened.list("alice")] == [kept.id]
    away.rename(lost.audio_path)  # the mount arrives
    assert sorted(s.id for s in reopened.list("alice")) == sorted([kept.id, lost.id])
    _consistent(reopened, "alice")
