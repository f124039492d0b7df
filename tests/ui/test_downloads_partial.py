"""Result cards offer WAV and MP3 (and stems when made); the partial-results opt-in in the form."""

from __future__ import annotations

import os
from pathlib import Path

import gradio as gr

from studio.library import Library
from studio.request import checks
from studio.song import SongRequest, TakeResult
from studio.ui import forms, runner
from studio.ui.create import build_create
from studio.ui.results import DOWNLOADS, Card, build_results, forget_downloads


def _shown(values: list) -> dict[str, str | None]:
    """Download label -> file offered by a card's values (None: button hidden)."""
    updates = values[4 : 4 + len(DOWNLOADS)]
    return {label: (u["value"] if u["visible"] else None) for label, u in zip(DOWNLOADS, updates, strict=True)}


def test_cards_offer_wav_and_mp3_and_deleting_removes_both(tiny_acestep_dir, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("STUDIO_ACESTEP_WEIGHTS", str(tiny_acestep_dir))
    monkeypatch.setenv("STUDIO_DEVICE", "cpu")
    library = Library(tmp_path / "lib")
    try:
        _, (song,) = runner.make_songs(SongRequest(style="pop", duration=10, options={"steps": 2}),
                                       owner="local", library=library)
    finally:
        runner.STUDIO.cache.unload_all()
    # The player streams a 16-bit FLAC (kept before the song is shown); WAV and MP3 follow in the background.
    assert song.audio_path.name == f"{song.id}.flac"
    assert runner.LATER.wait([song.id], timeout=60)
    shown = _shown(Card.values(song))
    # Served under the song's title (issue 17.11), the library's own files behind them, written beside the
    # player's FLAC after the song is shown (studio.later).
    assert Path(shown["WAV"]).name == f"{song.title}.wav"
    assert os.path.samefile(shown["WAV"], song.audio_path.with_name(f"{song.id}.wav"))
    mp3 = shown["MP3"]
    assert Path(mp3).name == f"{song.title}.mp3"
    assert os.path.samefile(mp3, song.audio_path.with_name(f"{song.id}.mp3"))
    with open(mp3, "rb") as f:
        head = f.read(3)
    assert head == b"ID3" or head[0] == 0xFF  # an MP3 (tagged or bare frame sync)
    assert shown["Stems (zip)"] is None  # ACE-Step makes no stems
    library.delete("local", song.id)
    forget_downloads(song.id)
    assert not list(song.audio_path.parent.glob(f"{song.id}.*")) and not Path(mp3).exists()
    assert not song.audio_path.exists()


def test_stems_zip_is_kept_beside_the_song(tmp_path) -> None:
    library = Library(tmp_path / "lib")
    staging = tmp_path / "staging"
    staging.mkdir()
    wav, zipped = staging / "a.wav", staging / "a.stems.zip"
    wav.write_bytes(b"RIFF")
    zipped.write_bytes(b"PK")
    take = TakeResult(path=wav, seed=1, sample_rate=48000, channels=2, duration=1.0,
                      files={"wav": wav}, stems_zip=zipped)
    from studio.song import SongResult

    result = SongResult(backend="levo2", weights="w", device="cpu", dtype="float32", sample_rate=48000,
                        duration=1.0, elapsed_s=1.0, takes=[take], lyrics_sent="", style_sent="")
    (song,) = library.add_result("local", SongRequest(backend="levo2", style="pop"), result)
    runner.keep_downloads(song, take)
    shown = _shown(Card.values(song))
    stems = shown["Stems (zip)"]
    assert Path(stems).name == f"{song.title}.stems.zip"
    assert os.path.samefile(stems, song.audio_path.with_name(f"{song.id}.stems.zip"))
    assert shown["MP3"] is None and not zipped.exists()
    assert _shown(Card.values(None)) == dict.fromkeys(DOWNLOADS)


def test_partial_opt_in_only_where_a_cut_song_can_be_kept() -> None:
    assert forms.build_request(backend="levo2", style="pop", partial=True).partial
    assert forms.build_request(backend="heartmula", style="pop", partial=True).partial
    diffusion = forms.build_request(backend="acestep", style="pop", partial=True)  # all or nothing
    assert any("`partial` has no effect on ACE-Step" in w for w in checks.check_request(diffusion).warnings)
    with gr.Blocks():
        view = build_create(build_results)
    data = {c: getattr(c, "value", None) for c in view.fields()}
    data.update({view.backend: "levo2", view.style: "pop", view.lyrics: "", view.partial: True,
                 view.duration: 30, view.takes: 1, view.mode: "Custom"})
    request = view.request_from(data)
    assert request.partial and request.backend == "levo2"
    assert len(view.fill(request)) == len(view.fields())
    assert view.fill(request)[view.fields().index(view.partial)] is True
    updates = dict(zip(view.backend_outputs(), view.backend_updates("levo2"), strict=True))
    assert updates[view.partial]["visible"] is True
    updates = dict(zip(view.backend_outputs(), view.backend_updates("acestep"), strict=True))
    assert updates[view.partial]["visible"] is False
