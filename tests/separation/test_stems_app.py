"""Stems from the app: the /stems endpoint driven by gradio_client against a launched studio, and the
Stems buttons of a result card and of the Library (their handlers, as the app wired them)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import gradio as gr
import httpx
import pytest
import soundfile as sf
from gradio_client import Client, handle_file

from studio.library import Library
from studio.song import SongRequest, SongResult, TakeResult
from studio.ui import visitor
from tests.separation.tiny import make_song
from tests.ui.conftest import running_studio


def test_stems_endpoint_splits_an_upload_and_refuses_a_bad_one(tiny_demucs, tiny_acestep_dir, tmp_path) -> None:
    song = make_song(tmp_path / "Upload me.wav", seconds=1.5)
    bad = tmp_path / "broken.wav"
    bad.write_text("not audio")
    # GRADIO_MCP_SERVER is gradio's own switch (Blocks.launch, mcp_server=None): every named endpoint
    # becomes an MCP tool, /stems included.
    with running_studio(tmp_path / "library", tiny_acestep_dir, GRADIO_MCP_SERVER="True") as url:
        tools = httpx.get(f"{url}gradio_api/mcp/schema", timeout=30).json()
        [tool] = [t for t in tools if t["name"].endswith("stems")]
        assert "Split an uploaded song" in tool["description"] and "source" in str(tool["inputSchema"])
        client = Client(url, verbose=False)
        files, info = client.predict(source=handle_file(str(song)), stems=2, api_name="/stems")
        assert [Path(f).name for f in files] == ["Upload me - stems.zip", "Upload me - DAW pack.zip"]
        assert info["stems"] == {"vocals": "Upload me - vocals.wav", "accompaniment": "Upload me - accompaniment.wav"}
        assert isinstance(info["reconstruction_error_db"], float) and "/" not in info["zip"]
        with zipfile.ZipFile(files[0]) as archive:
            archive.extract("Upload me - vocals.wav", tmp_path / "x")
        stem = sf.info(str(tmp_path / "x" / "Upload me - vocals.wav"))
        assert (stem.samplerate, stem.frames, stem.subtype) == (48_000, 72_000, "PCM_24")
        with pytest.raises(Exception, match="could not be read as audio"):
            client.predict(source=handle_file(str(bad)), stems=4, api_name="/stems")
        with pytest.raises(Exception, match="`stems` must be 2, 4 or 6, got 3"):
            client.predict(source=handle_file(str(song)), stems=3, api_name="/stems")


def _handler(demo: gr.Blocks, button: gr.Button):
    [fn] = [f.fn for f in demo.fns.values() if any(t[0] == button._id for t in f.targets)]
    return fn


def test_card_and_library_buttons_split_the_visitors_song_and_delete_takes_them(tiny_demucs, tmp_path) -> None:
    from studio.ui import build_app

    library = Library(tmp_path / "lib")
    wav = make_song(tmp_path / "take.wav", seconds=1.5)
    take = TakeResult(path=wav, seed=3, sample_rate=48_000, channels=2, duration=1.5, files={"wav": wav})
    result = SongResult(backend="acestep", weights="tiny", device="cpu", dtype="float32", sample_rate=48_000,
                        duration=1.5, elapsed_s=1.0, takes=[take], lyrics_sent="", style_sent="dream pop")
    owner = visitor.owner_for(None)
    (song,) = library.add_result(owner, SongRequest(style="dream pop", title="Lantern"), result)
    demo = build_app(library=library)
    card = demo.studio_views["create"].results.cards[0]
    assert all(c.stems is not None for v in ("create", "edit") for c in demo.studio_views[v].results.cards)

    shown, note = _handler(demo, card.stems.button)(None, [song.id], 4, None, lambda *a, **k: None)
    zip_path, pack = (Path(p) for p in shown["value"])
    assert zip_path.name == "Lantern - stems.zip" and pack.name == "Lantern - DAW pack.zip"
    assert zip_path.is_relative_to(library.audio_dir)  # served like the song itself
    assert "reconstruction error" in note and "4 stems" in note

    library_button = next(b for b in demo.blocks.values()
                          if isinstance(b, gr.Button) and b.elem_id == "library-stems")
    shown, _ = _handler(demo, library_button)(None, song.id, 6, None, lambda *a, **k: None)
    six = Path(shown["value"][0])
    assert len([n for n in zipfile.ZipFile(six).namelist() if n.endswith(".wav")]) == 6
    with pytest.raises(gr.Error, match="pick a song first"):
        _handler(demo, library_button)(None, None, 2, None, lambda *a, **k: None)

    library.delete(owner, song.id)
    assert not zip_path.exists() and not six.exists()


def test_another_visitor_cannot_split_your_song(tiny_demucs, tmp_path, monkeypatch) -> None:
    from studio.ui import build_app

    monkeypatch.setenv("STUDIO_MULTI_USER", "1")
    library = Library(tmp_path / "lib")
    wav = make_song(tmp_path / "take.wav", seconds=1.5)
    take = TakeResult(path=wav, seed=3, sample_rate=48_000, channels=2, duration=1.5, files={"wav": wav})
    result = SongResult(backend="acestep", weights="tiny", device="cpu", dtype="float32", sample_rate=48_000,
                        duration=1.5, elapsed_s=1.0, takes=[take], lyrics_sent="", style_sent="")
    alice, bob = visitor.new_key(), visitor.new_key()
    (song,) = library.add_result(visitor.owner_for(alice), SongRequest(style="secret"), result)
    demo = build_app(library=library)
    card = demo.studio_views["create"].results.cards[0]
    library_button = next(b for b in demo.blocks.values()
                          if isinstance(b, gr.Button) and b.elem_id == "library-stems")
    for call in (lambda: _handler(demo, card.stems.button)(bob, [song.id], 2, None, lambda *a, **k: None),
                 lambda: _handler(demo, library_button)(bob, song.id, 2, None, lambda *a, **k: None)):
        with pytest.raises(gr.Error, match="no song"):
            call()
    assert not (song.audio_path.parent / "stems").exists()


def test_the_edit_view_splits_an_uploaded_song(tiny_demucs, tmp_path, monkeypatch) -> None:
    """The Edit view's "Split this song into stems": an upload (not a library song) in one click."""
    from studio.ui import build_app

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "uploads"))
    library = Library(tmp_path / "lib")
    (tmp_path / "uploads" / "abc").mkdir(parents=True)
    upload = make_song(tmp_path / "uploads" / "abc" / "my demo.wav", seconds=1.5)
    demo = build_app(library=library)
    button = next(b for b in demo.blocks.values() if isinstance(b, gr.Button) and b.elem_id == "edit-source-stems")
    split = _handler(demo, button)
    shown, note = split(None, str(upload), "My Demo", "", 2, None, lambda *a, **k: None)
    zip_path, pack = (Path(p) for p in shown["value"])
    assert zip_path.name == "My Demo - stems.zip" and pack.name == "My Demo - DAW pack.zip"
    names = sorted(n for n in zipfile.ZipFile(zip_path).namelist() if n.endswith(".wav"))
    assert names == ["My Demo - accompaniment.wav", "My Demo - vocals.wav"], names
    for name in names:
        with zipfile.ZipFile(zip_path) as z, z.open(name) as f:
            info = sf.info(f)
            assert info.samplerate == 48_000 and abs(info.duration - 1.5) < 1e-3
    assert "reconstruction error" in note
    with pytest.raises(gr.Error, match="upload a song first"):
        split(None, None, "", "", 4, None, lambda *a, **k: None)
