"""Dropping a file the studio made back into the Create form restores its settings."""

from __future__ import annotations

import gradio as gr
import numpy as np
import pytest
import soundfile as sf

from studio.audio import SongCard, export_song
from studio.ground.errors import StudioError
from studio.song import SongRequest
from studio.ui.create import build_create, restored_values
from studio.ui.results import build_results


@pytest.fixture(scope="module")
def view():
    with gr.Blocks():
        return build_create(build_results)


@pytest.fixture(autouse=True)
def uploads_here(tmp_path, monkeypatch) -> None:
    """The files these tests drop sit in gradio's upload folder, as a dropped file does."""
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))


def test_a_studio_file_restores_the_request(view, tmp_path) -> None:
    request = SongRequest(style="lofi hip hop", lyrics="[Verse]\nrain", duration=42, seed=77, bpm=84,
                          key="A minor", takes=1, options={"steps": 6})
    card = SongCard(title="Rain", artist="Song Studio (ACE-Step)", style=request.style, lyrics=request.lyrics,
                    backend="acestep", model_id="tiny", seed=77, params=request.model_dump(mode="json"),
                    sample_rate=48_000, duration_s=1.0)
    audio = (0.1 * np.sin(np.linspace(0, 800, 48_000, dtype=np.float32)))[None].repeat(2, 0)
    song = export_song(audio, 48_000, tmp_path, "rain", formats=("mp3",), card=card)
    values = restored_values(view, str(song.paths["mp3"]))
    assert values == view.fill(request)
    assert values[2] == "lofi hip hop" and values[7] == "77"


def test_a_foreign_file_is_refused_with_a_reason(view, tmp_path) -> None:
    foreign = tmp_path / "other.wav"
    sf.write(foreign, np.zeros((100, 2)), 48_000)
    with pytest.raises(StudioError):
        restored_values(view, str(foreign))


def test_a_server_path_is_never_opened(view, tmp_path, monkeypatch) -> None:
    """Only uploads are read: a path typed into the API is refused before the file is opened."""
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "uploads"))
    elsewhere = tmp_path / "elsewhere.wav"
    sf.write(elsewhere, np.zeros((100, 2)), 48_000)
    with pytest.raises(StudioError, match="must be a file uploaded here"):
        restored_values(view, str(elsewhere))
