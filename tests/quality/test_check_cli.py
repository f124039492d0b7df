"""`python -m studio check` on files, and the Whisper path end to end with a tiny random Whisper
saved in the published layout (loaded by the same ``load_transcriber`` as the real one)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from studio.cli import main
from studio.quality import asr
from studio.quality.checks import Intent, check_take, guess_language
from tests.quality import synth
from tests.quality.tiny_whisper import build

LYRICS = "[Verse]\nThe sun is rising over town\nI walk along the empty street\n[Chorus]\nOh my darling come back home"


@pytest.fixture(scope="module")
def tiny_whisper(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("whisper") / "whisper-tiny-random")


@pytest.fixture(scope="module")
def song_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("songs") / "take.flac"
    y = synth.pad(synth.song(10, 120, "A minor", level=0.9), head_s=3.0)
    sf.write(path, np.stack([y, y]).T, synth.SR)
    return path


def test_check_json_on_any_file_without_asr(song_file, capsys) -> None:
    assert main(["check", str(song_file), "--bpm", "120", "--key", "a min", "--duration", "13", "--json",
                 "--no-asr", "--lyrics", LYRICS]) == 0
    out = json.loads(capsys.readouterr().out)
    got = {m["name"]: m for m in out["measures"]}
    assert got["tempo"]["ok"] is True and got["key"]["ok"] is True and got["key"]["target"] == "A minor"
    assert got["head silence"]["ok"] is False and got["head silence"]["value"] == pytest.approx(3.0, abs=0.15)
    assert got["ending"]["ok"] is False  # the loop stops mid-bar
    assert out["lyrics"] is None and "no ASR model" in out["lyric_note"]
    assert "✗ starts at 3.0 s" in out["summary"]


def test_strict_exit_status_and_plain_text(song_file, capsys) -> None:
    assert main(["check", str(song_file), "--no-asr", "--strict"]) == 1
    text = capsys.readouterr().out
    assert "✗ head silence: 3.0 s of silence before the first sound" in text


def test_unreadable_and_missing_files_say_what_to_do(tmp_path, capsys) -> None:
    assert main(["check", str(tmp_path / "nope.wav"), "--no-asr"]) == 2
    assert "no file at" in capsys.readouterr().err
    (tmp_path / "notes.txt").write_text("hello")
    assert main(["check", str(tmp_path / "notes.txt"), "--no-asr"]) == 2
    assert "not a WAV, FLAC, MP3, OGG" in capsys.readouterr().err


def test_asr_default_and_a_missing_folder(monkeypatch) -> None:
    monkeypatch.delenv(asr.ASR_MODEL_ENV, raising=False)
    assert asr.asr_location() == "openai/whisper-large-v3-turbo"
    monkeypatch.setenv(asr.ASR_MODEL_ENV, "/nowhere/whisper")
    assert asr.asr_location() == "/nowhere/whisper"
    with pytest.raises(Exception, match="STUDIO_ASR_MODEL"):
        asr.load_transcriber(device="cpu")


def test_whisper_path_end_to_end_with_a_tiny_random_whisper(tiny_whisper, song_file, capsys) -> None:
    """The random model hears nonsense, so the lines are missing; what this proves is the path:
    the folder loads through the pipeline, word timestamps come back inside the song, and the
    transcript the report carries is what the model heard."""
    assert main(["check", str(song_file), "--asr-model", str(tiny_whisper), "--device", "cpu", "--lyrics",
                 LYRICS, "--language", "en", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    lyrics = out["lyrics"]
    assert lyrics["asr_model"] == str(tiny_whisper) and lyrics["language"] == "en"
    assert lyrics["lines"][0]["text"] == "The sun is rising over town"
    assert len(lyrics["lines"]) == 3 and lyrics["unit"] == "word"
    heard = asr.load_transcriber(str(tiny_whisper), device="cpu").words(*_read(song_file), language="en")
    assert all(w.start is None or 0.0 <= w.start <= out["duration"] + 0.05 for w in heard)
    from studio.quality.align import _joined, heard_tokens

    assert lyrics["transcript"] == _joined([h.token for h in heard_tokens(heard)])


def test_check_take_hears_the_vocal_stem_when_given(tiny_whisper) -> None:
    transcriber = asr.load_transcriber(str(tiny_whisper), device="cpu")
    mix = synth.song(6, 120)[None]
    vocals = np.zeros_like(mix)  # silence: the random model's words now come from this, not the mix
    on_stem = check_take(mix, synth.SR, Intent(lyrics=LYRICS), vocals=vocals, transcriber=transcriber)
    assert on_stem.lyrics.on_vocal_stem is True
    assert on_stem.lyrics.transcript == check_take(
        vocals, synth.SR, Intent(lyrics=LYRICS), transcriber=transcriber).lyrics.transcript
    instrumental = check_take(mix, synth.SR, Intent(lyrics=LYRICS, instrumental=True), transcriber=transcriber)
    assert instrumental.lyrics is None and instrumental.lyric_note.startswith("instrumental")


def test_language_guess_for_cjk_lyrics() -> None:
    assert guess_language("夢を見ていた") == "ja"
    assert guess_language("我爱你中国") == "zh"
    assert guess_language("사랑해요") == "ko"
    assert guess_language("Oh my darling") is None


def _read(path: Path):
    data, rate = sf.read(path, dtype="float32", always_2d=True)
    return data.T, rate


def test_generate_json_and_batch_manifest_carry_the_checks(tiny_acestep_dir, tmp_path, capsys, monkeypatch) -> None:
    """Every take the CLI makes is measured: the tiny ACE-Step's noise is checked like a song."""
    monkeypatch.setenv("STUDIO_DEVICE", "cpu")
    assert main(["generate", "--weights", str(tiny_acestep_dir), "--style", "synth pop", "--duration", "10",
                 "--lyrics", "[Verse]\nNeon rain", "--bpm", "120", "--takes", "2", "--seed", "3", "--steps", "2",
                 "--out", str(tmp_path / "songs"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["checks"]) == 2 and sorted(out["best_first"]) == [0, 1]
    tempo = {m["name"]: m for m in out["checks"][0]["measures"]}["tempo"]
    assert tempo["target"] == 120 and out["checks"][0]["duration"] == pytest.approx(10, abs=0.01)
    # STUDIO_LYRIC_CHECK is off here, so the report says the lyrics were not heard rather than passing them.
    assert out["checks"][0]["lyrics"] is None and "no ASR model" in out["checks"][0]["lyric_note"]

    manifest_in = tmp_path / "requests.jsonl"
    manifest_in.write_text(json.dumps({"id": "one", "style": "lofi", "duration": 10, "seed": 1,
                                       "options": {"steps": 2}}) + "\n")
    assert main(["batch", str(manifest_in), "--weights", str(tiny_acestep_dir),
                 "--out", str(tmp_path / "batch")]) == 0
    entry = json.loads((tmp_path / "batch" / "manifest.jsonl").read_text().splitlines()[0])
    assert entry["status"] == "ok" and entry["best_first"] == [0]
    assert {m["name"] for m in entry["checks"][0]["measures"]} >= {"tempo", "key", "clipping", "ending"}


def test_best_of_n_keeps_the_best_takes_and_deletes_the_rest(tiny_acestep_dir, tmp_path, capsys,
                                                             monkeypatch) -> None:
    monkeypatch.setenv("STUDIO_DEVICE", "cpu")
    out = tmp_path / "best"
    assert main(["generate", "--weights", str(tiny_acestep_dir), "--style", "synth pop", "--duration", "10",
                 "--takes", "3", "--keep-best", "1", "--seed", "20", "--steps", "1", "--out", str(out),
                 "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert len(summary["paths"]) == 1 and summary["best_first"] == [0]
    kept = summary["seeds"][0]
    assert kept in (20, 21, 22)
    assert sorted(p.name for p in out.glob("*.wav") if not p.name.endswith(".raw.wav")) == [f"synth-pop-{kept}.wav"]
    # The kept take's recipe rebuilds that one take alone (no best-of-N left in it).
    from studio.audio import read_card

    assert read_card(summary["paths"][0]).params["keep_best"] is None
    assert main(["generate", "--style", "pop", "--takes", "2", "--keep-best", "2", "--out",
                 str(tmp_path / "x.wav")]) == 2
    assert "`keep_best` must be below `takes` (2)" in capsys.readouterr().err


def test_sing_again_from_the_command_line_repaints_and_checks_again(tiny_whisper, tiny_acestep_dir, tmp_path,
                                                                      capsys, monkeypatch) -> None:
    """The tiny random Whisper hears none of the lines, so line 2 sits where nothing was heard: the
    whole song; the repaint runs on the tiny ACE-Step and the new song is checked again."""
    monkeypatch.setenv("STUDIO_DEVICE", "cpu")
    song = tmp_path / "song.wav"
    y = synth.fade_out(synth.song(12, 120), 2)
    sf.write(song, np.stack([y, y]).T, synth.SR)
    out = tmp_path / "again.wav"
    assert main(["check", str(song), "--lyrics", LYRICS, "--language", "en", "--asr-model", str(tiny_whisper),
                 "--device", "cpu", "--sing-again", "2", "--weights", str(tiny_acestep_dir), "--out", str(out),
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["file"] == str(out) and out.is_file() and report["line"] == 2
    assert (report["start"], report["end"]) == (0.0, 12.0)
    assert len(report["lyrics"]["lines"]) == 3  # checked against the whole lyrics again
    from studio.audio import read_card

    params = read_card(out).params
    assert params["task"] == "repaint" and params["lyrics"] == "[Verse]\nI walk along the empty street"
