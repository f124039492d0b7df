"""A song is playable before its MP3, WAV and checks exist (issue 16.1): the player streams a 16-bit
FLAC of the master, and the card's downloads and checks are filled in once the background writer
(studio.later) is done. What the player streams is the same master as the downloads."""

from __future__ import annotations

import html
import threading

import numpy as np
import soundfile

from studio.audio import read_card
from studio.library import Library
from studio.quality.store import load_checks
from studio.song import SongRequest
from studio.ui import runner
from studio.ui.results import MAX_CARDS, Card, ResultsView


def test_player_does_not_wait_for_the_mp3_or_the_checks(tiny_acestep_dir, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("STUDIO_ACESTEP_WEIGHTS", str(tiny_acestep_dir))
    monkeypatch.setenv("STUDIO_DEVICE", "cpu")
    gate = threading.Event()
    real = runner.check_kept

    def held(*args, **kwargs):
        assert gate.wait(120), "the test never let the checks run"
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "check_kept", held)
    library = Library(tmp_path / "lib")
    try:
        _, (song,) = runner.make_songs(SongRequest(style="pop", lyrics="[Verse]\nneon rain", duration=10,
                                                   options={"steps": 2}), owner="local", library=library)
        # Kept and playable while the background writer is still held at the checks.
        try:
            assert library.get("local", song.id).audio_path == song.audio_path
            info = soundfile.info(song.audio_path)
            assert (song.audio_path.suffix, info.format, info.subtype) == (".flac", "FLAC", "PCM_16")
            assert read_card(song.audio_path).seed == song.seed  # the player's file carries the recipe too
            assert runner.LATER.pending(song.id) and load_checks(song.audio_path) is None
            # The card says the checks are coming rather than "Not checked".
            assert "Checking the take" in Card.values(song)[-3]
        finally:
            gate.set()
        assert runner.LATER.wait([song.id], timeout=120)
    finally:
        runner.STUDIO.cache.unload_all()

    checks = load_checks(song.audio_path)
    assert checks is not None and checks.measures
    wav, mp3 = (song.audio_path.with_name(song.id + suffix) for suffix in (".wav", ".mp3"))
    assert read_card(mp3).seed == song.seed and read_card(wav).seed == song.seed
    # One master behind every file: the player's FLAC is the 24-bit WAV rounded to 16 bits.
    streamed, rate = soundfile.read(song.audio_path, dtype="float64", always_2d=True)
    lossless, wav_rate = soundfile.read(wav, dtype="float64", always_2d=True)
    assert rate == wav_rate and streamed.shape == lossless.shape
    assert np.abs(streamed - lossless).max() <= 1.0 / 32768 + 1e-9

    # The card's refresh after the background writer: downloads and the checks, not the player.
    view = ResultsView(cards=[None] * MAX_CARDS, ids=None)  # download_values() only reads the songs
    values = view.download_values([song])
    per_card = len(values) // MAX_CARDS
    first = values[:per_card]
    assert first[0]["value"].endswith(".wav") and first[1]["value"].endswith(".mp3")
    assert html.escape(checks.summary()) in first[3]  # the at-a-glance line
    assert "Checking" not in first[4] and "Not checked" not in first[4]


def test_the_background_checks_read_masterings_true_peak(tiny_acestep_dir, tmp_path, monkeypatch) -> None:
    # Mastering measured the raw take's true peak on the way to the player; the take's checks, in the
    # background, take that figure instead of oversampling the same take again.
    from studio.audio import peaks

    monkeypatch.setenv("STUDIO_ACESTEP_WEIGHTS", str(tiny_acestep_dir))
    monkeypatch.setenv("STUDIO_DEVICE", "cpu")
    measured = []
    real = peaks.true_peak
    monkeypatch.setattr(peaks, "true_peak", lambda *a, **k: measured.append(1) or real(*a, **k))
    library = Library(tmp_path / "lib")
    try:
        _, (song,) = runner.make_songs(SongRequest(style="pop", lyrics="[Verse]\nneon rain", duration=10,
                                                   options={"steps": 2}), owner="local", library=library)
        assert runner.LATER.wait([song.id], timeout=120)
    finally:
        runner.STUDIO.cache.unload_all()

    checks = load_checks(song.audio_path)
    assert checks is not None and measured == []
    (peak,) = [m for m in checks.measures if m.name == "true peak"]
    report = read_card(song.audio_path).mastering_report
    assert peak.value == round(report.true_peak_before_dbtp, 2)
