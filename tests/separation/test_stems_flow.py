"""The stems task end to end on a tiny random HTDemucs, through the function the UI's Stems button,
the CLI and the API call (studio.separation.flow.split_song)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from studio import cli
from studio.audio import SongCard, export_song, studio_artist
from studio.ground.errors import StudioError
from studio.separation import loader
from studio.separation.catalog import HTDEMUCS, HTDEMUCS_6S
from studio.separation.flow import split_song
from tests.separation.tiny import FOUR, make_song, save_published_layout, tiny_htdemucs


def _read(path: Path) -> tuple[np.ndarray, int, str]:
    info = sf.info(str(path))
    data, rate = sf.read(str(path), always_2d=True)
    return data, rate, info.subtype


def test_loader_reads_the_published_layout_into_demucs_own_class(tiny_demucs_dirs) -> None:
    import torch

    separator = loader.load(tiny_demucs_dirs["htdemucs"], HTDEMUCS)
    reference = tiny_htdemucs()
    assert type(separator.model).__name__ == "HTDemucs" and separator.sources == FOUR
    assert separator.samplerate == 44_100 and separator.segment_s == 1.0 and separator.signatures == ("0a1b2c3d",)
    for key, value in reference.state_dict().items():
        assert torch.equal(separator.model.state_dict()[key], value), key


def test_loader_refuses_what_it_cannot_read_with_a_sentence(tmp_path: Path) -> None:
    model = tiny_htdemucs()
    other_class = save_published_layout(model, tmp_path / "a", klass="os.system")
    with pytest.raises(StudioError, match=r"holds a `os.system` model; the stems task runs HTDemucs"):
        loader.load(other_class, HTDEMUCS)
    quantized = save_published_layout(model, tmp_path / "b", extra={"structure": "{}"})
    with pytest.raises(StudioError, match="quantized"):
        loader.load(quantized, HTDEMUCS)
    missing = save_published_layout(model, tmp_path / "c")
    (missing / "0a1b2c3d.safetensors").unlink()
    with pytest.raises(StudioError, match=r"lacks 0a1b2c3d.safetensors.*hf download adefossez/HTDemucs"):
        loader.load(missing, HTDEMUCS)
    # 4-stem weights offered where the 6-stem model is expected
    with pytest.raises(StudioError, match="not drums, bass, other, vocals, guitar, piano"):
        loader.load(save_published_layout(model, tmp_path / "d", name="htdemucs_6s"), HTDEMUCS_6S)
    with pytest.raises(StudioError, match="STUDIO_STEMS_WEIGHTS"):
        loader.locate(HTDEMUCS, str(tmp_path / "nowhere"))


def test_four_stems_of_an_upload_have_its_length_rate_and_a_report(tiny_demucs, tmp_path: Path) -> None:
    song = make_song(tmp_path / "Night drive.wav", seconds=2.0)
    result = split_song(song, out=tmp_path / "out")
    mix, _, _ = _read(song)
    assert list(result.stems) == ["vocals", "drums", "bass", "other"]
    for name, path in result.stems.items():
        assert path.name == f"Night drive - {name}.wav"
        data, rate, subtype = _read(path)
        assert rate == 48_000 and subtype == "PCM_24" and data.shape == mix.shape
    # The tiny random model separates nothing well: its error is reported, not judged.
    print(f"tiny HTDemucs reconstruction error: {result.report.reconstruction_error_db} dB")
    assert np.isfinite(result.report.reconstruction_error_db)
    card = json.loads(result.card.read_text())
    assert card["model"] == HTDEMUCS.display_name and card["signatures"] == ["0a1b2c3d"]
    assert card["stem_count"] == 4 and card["source"] == "Night drive.wav" and card["source_card"] is None
    assert card["report"]["reconstruction_error_db"] == result.report.reconstruction_error_db
    assert sorted(zipfile.ZipFile(result.zip).namelist()) == sorted(
        [p.name for p in result.stems.values()] + ["Night drive - stems.json"]
    )
    assert any("reconstruction error" in w for w in result.warnings)


def test_stems_of_a_level_matched_mix_sum_back_to_it(tiny_demucs, tmp_path: Path, monkeypatch) -> None:
    """Level matching, checked where the answer is known: a separator that returns the true parts of
    a mix must give stems that add back to the mix exactly (no loudness normalisation per stem)."""
    import studio.separation.flow as flow

    rate = 48_000
    t = np.arange(rate * 2) / rate
    parts = {"vocals": 0.3 * np.sin(2 * np.pi * 330 * t), "accompaniment": 0.02 * np.sin(2 * np.pi * 60 * t)}
    parts = {k: np.stack([v, v]).astype(np.float32) for k, v in parts.items()}
    song = tmp_path / "known.wav"
    sf.write(song, sum(parts.values()).T, rate, subtype="FLOAT")

    def known_parts(folder, count, audio, r, progress=None, **_):
        return parts, {"load": 0.01, "separate": 0.01}, {"device": "cpu", "notes": [], "signatures": ("fake",)}

    monkeypatch.setattr(flow, "separate_on_gpu", known_parts)
    result = flow.split_song(song, out=tmp_path / "out", stems=2)
    total = sum(_read(p)[0] for p in result.stems.values())
    assert np.max(np.abs(total - sf.read(song, always_2d=True)[0])) < 1e-5 * 4  # 24-bit rounding only
    assert result.report.reconstruction_error_db < -80
    assert result.report.near_silent == []


def test_a_near_silent_stem_is_reported_and_kept(tiny_demucs, tmp_path: Path, monkeypatch) -> None:
    import studio.separation.flow as flow

    song = make_song(tmp_path / "rap.wav", seconds=1.5)
    mix = sf.read(song, always_2d=True)[0].T.astype(np.float32)

    def no_guitar(folder, count, audio, rate, progress=None, **_):
        stems = {k: audio / 5 for k in ("vocals", "drums", "bass", "other", "piano")}
        stems["guitar"] = np.zeros_like(audio)
        return stems, {"load": 0.01, "separate": 0.01}, {"device": "cpu", "notes": [], "signatures": ("fake",)}

    monkeypatch.setattr(flow, "separate_on_gpu", no_guitar)
    result = flow.split_song(song, out=tmp_path / "out", stems=6)
    assert result.report.near_silent == ["guitar"] and result.stems["guitar"].is_file()
    assert any("guitar stem is near-silent" in w for w in result.warnings)
    assert mix.shape[-1] == _read(result.stems["guitar"])[0].shape[0]


def test_two_and_six_stems_and_an_upload_at_44k_mono(tiny_demucs, tmp_path: Path) -> None:
    song = make_song(tmp_path / "demo.flac", seconds=1.5, rate=44_100, channels=1)
    two = split_song(song, out=tmp_path / "two", stems=2)
    assert list(two.stems) == ["vocals", "accompaniment"]
    six = split_song(song, out=tmp_path / "six", stems="6")
    assert list(six.stems) == ["vocals", "drums", "bass", "guitar", "piano", "other"]
    frames = sf.info(str(song)).frames
    for path in [*two.stems.values(), *six.stems.values()]:
        data, rate, _ = _read(path)
        assert rate == 44_100 and data.shape == (frames, 2)
    assert json.loads(six.card.read_text())["signatures"] == ["5e6f7a8b"]  # the 6-stem weights were used


def test_a_studio_song_keeps_its_card_and_the_daw_pack_has_its_facts(tiny_demucs, tmp_path: Path) -> None:
    rate = 48_000
    take = sf.read(make_song(tmp_path / "take.wav", seconds=2.0), always_2d=True)[0].T.astype(np.float32)
    lyrics = "[Verse]\nneon lights on the water\n[Chorus]\nwe drive all night"
    card = SongCard(
        title="Neon / Water", artist=studio_artist("ACE-Step 1.5 XL turbo"), lyrics=lyrics, style="synth pop",
        backend="acestep", model_id="tiny", seed=7, sample_rate=rate, duration_s=2.0,
        params={"bpm": 118, "key": "F# minor", "time_signature": "4"},
    )
    exported = export_song(take, rate, tmp_path / "song", "neon", ("wav",), card)
    result = split_song(exported.paths["wav"], out=tmp_path / "out", stems=4)
    assert result.title == "Neon / Water" and result.stems["vocals"].name == "Neon - Water - vocals.wav"
    stems_card = json.loads(result.card.read_text())
    assert stems_card["source_card"]["backend"] == "acestep" and stems_card["source_card"]["seed"] == 7
    from studio.audio import read_card

    assert read_card(result.stems["drums"]).part == "drums"  # each stem carries the song's card
    with zipfile.ZipFile(result.pack) as pack:
        names = pack.namelist()
        info = pack.read("Neon - Water - info.txt").decode()
        words = pack.read("Neon - Water - lyrics.txt").decode()
    assert {"Neon - Water - mix.wav", "Neon - Water - stems.json", *(p.name for p in result.stems.values())} <= set(
        names
    )
    assert "Title: Neon / Water" in info and "BPM: 118" in info and "Key: F# minor" in info
    assert "Time signature: 4 beats per bar" in info and "[Verse]" in info and "[Chorus]" in info
    assert "we drive all night" in words


def _bad_upload(kind: str, folder: Path) -> Path:
    if kind == "text":
        (folder / "upload.txt").write_text("x")
        return folder / "upload.txt"
    path = folder / "upload.wav"
    if kind == "garbage":
        path.write_text("not audio")
    elif kind == "silent":
        sf.write(path, np.zeros((48_000, 2)), 48_000)
    elif kind == "short":
        sf.write(path, np.full((4_000, 2), 0.1), 48_000)
    return path


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("garbage", "could not be read as audio"),
        ("silent", "is silent"),
        ("text", "is not a WAV, FLAC, MP3, OGG"),
        ("short", "upload at least 1 s"),
    ],
)
def test_bad_uploads_are_refused_with_a_sentence(tiny_demucs, tmp_path: Path, kind, message) -> None:
    with pytest.raises(StudioError, match=message):
        split_song(_bad_upload(kind, tmp_path), out=tmp_path / "out")
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_cli_stems_command_and_generate_task_stems(tiny_demucs, tmp_path: Path, capsys) -> None:
    song = make_song(tmp_path / "cli song.wav", seconds=1.5)
    assert cli.main(["stems", "--src-audio", str(song), "--stems", "2", "--out", str(tmp_path / "a"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert set(summary["stems"]) == {"vocals", "accompaniment"} and Path(summary["pack"]).is_file()
    assert isinstance(summary["reconstruction_error_db"], float)
    code = cli.main(["generate", "--task", "stems", "--src-audio", str(song), "--out", str(tmp_path / "b")])
    out = capsys.readouterr()
    assert code == 0 and "cli song - drums.wav" in out.out and "DAW pack.zip" in out.out
    assert cli.main(["stems", "--src-audio", str(tmp_path / "missing.wav"), "--out", str(tmp_path / "c")]) == 2
    assert "cannot open the song to split 'missing.wav'" in capsys.readouterr().err
    assert cli.main(["generate", "--stems", "4", "--style", "pop", "--out", str(tmp_path / "d")]) == 2
    assert "add --task stems" in capsys.readouterr().err


def test_stems_that_would_clip_are_turned_down_together_and_the_card_says_so(tiny_demucs, tmp_path, monkeypatch):
    """Two parts can cancel in the mix and each peak above full scale; 24-bit WAV would clip them,
    so every stem gets the same gain (they still add up to the mix at that level)."""
    import studio.separation.flow as flow

    rate = 48_000
    t = np.arange(rate) / rate
    loud = np.stack([1.6 * np.sin(2 * np.pi * 100 * t)] * 2).astype(np.float32)
    quiet = np.stack([0.3 * np.sin(2 * np.pi * 700 * t)] * 2).astype(np.float32)
    parts = {"vocals": loud + quiet, "accompaniment": -loud}  # the mix is `quiet`
    song = tmp_path / "cancel.wav"
    sf.write(song, quiet.T, rate, subtype="FLOAT")
    monkeypatch.setattr(flow, "separate_on_gpu", lambda *a, **k: (
        parts, {"load": 0.01, "separate": 0.01}, {"device": "cpu", "notes": [], "signatures": ("fake",)}))
    result = flow.split_song(song, out=tmp_path / "out", stems=2)
    card = json.loads(result.card.read_text())
    gain = 10 ** (card["gain_db"] / 20)
    assert card["gain_db"] == pytest.approx(20 * np.log10(0.999 / np.max(np.abs(parts["vocals"]))), abs=0.01)
    assert any("turned down by" in w for w in result.warnings)
    total = sum(_read(p)[0] for p in result.stems.values())
    assert np.max(np.abs(total - quiet.T * gain)) < 1e-4  # still the mix, at the stated gain


def _heard(*timed: tuple[str, float]) -> list:
    """A transcript as Whisper gives it: one word per entry, each lasting 0.3 s."""
    from studio.quality.report import Word

    return [Word(text=w, start=t, end=t + 0.3) for w, t in timed]


def test_the_daw_pack_times_sections_from_the_lyric_check_and_says_not_known_without_one(
    tiny_demucs, tmp_path: Path
) -> None:
    from studio.quality.align import check_lyrics
    from studio.quality.report import TakeChecks
    from studio.quality.store import save_checks

    rate = 48_000
    lyrics = "[Intro]\n[Verse]\nneon lights\n[Chorus]\nwe drive\nall night\n[Solo]\n[Bridge]\nslow down"
    take = sf.read(make_song(tmp_path / "take.wav", seconds=4.0), always_2d=True)[0].T.astype(np.float32)
    card = SongCard(title="Neon", artist=studio_artist("ACE-Step 1.5 XL turbo"), lyrics=lyrics, backend="acestep",
                    model_id="tiny", seed=1, sample_rate=rate, duration_s=4.0)
    unchecked = export_song(take, rate, tmp_path / "plain", "neon", ("wav",), card).paths["wav"]
    checked = export_song(take, rate, tmp_path / "checked", "neon", ("wav",), card).paths["wav"]
    # The bridge's only line was not sung: its section gets the gap where it should have been.
    heard = _heard(("neon", 0.4), ("lights", 0.8), ("we", 1.25), ("drive", 1.6), ("all", 2.0), ("night", 2.3))
    save_checks(checked, TakeChecks(duration=4.0, measures=[], lyrics=check_lyrics(lyrics, heard, duration=4.0)))

    def info(song: Path, out: str) -> str:
        result = split_song(song, out=tmp_path / out, stems=2)
        with zipfile.ZipFile(result.pack) as pack:
            return pack.read("Neon - info.txt").decode()

    timed = info(checked, "a")
    assert "0:00.0  [Intro] (before the first line)" in timed, timed
    assert "0:00.4  [Verse]" in timed and "0:01.2  [Chorus]" in timed, timed
    assert "not known  [Solo]" in timed, timed  # an unsung section between lines has nothing to time it
    assert "0:02.6  [Bridge] (first line not heard; where it should have been)" in timed, timed
    untimed = info(unchecked, "b")
    assert "not known  [Verse]" in untimed and "not known  [Chorus]" in untimed and "0:00.4" not in untimed, untimed


def test_section_starts_ignore_a_check_of_other_lyrics() -> None:
    from studio.quality.align import check_lyrics
    from studio.quality.sections import section_starts

    check = check_lyrics("[Verse]\nneon lights", _heard(("neon", 0.5), ("lights", 0.9)), duration=3.0)
    assert [(s.tag, s.start, s.how) for s in section_starts("[Verse]\nneon lights", check)] == [
        ("[Verse]", 0.5, "heard")
    ]
    # A re-sung or edited song's check heard other words than the card's lyrics: no times from it.
    assert section_starts("[Verse]\nblue hour", check) is None
    assert section_starts("[Verse]\nneon lights", None) is None


def test_the_reconstruction_error_is_said_in_words_that_do_not_flatter_a_bad_split() -> None:
    from studio.separation.report import SeparationReport

    def said(error_db: float) -> str:
        return SeparationReport(reconstruction_error_db=error_db, stems=()).sentences()[0]

    assert "closely" in said(-42.0)
    assert "only loosely" in said(-18.0)
    poor = said(0.0)
    assert "do not add back" in poor and "0.0 dB" in poor and "within" not in poor
