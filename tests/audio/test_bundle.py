"""export_song: mastered mix in each format, the raw take kept, cards everywhere, stems zipped."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pyloudnorm
import pytest
import soundfile

from studio.audio import MasteringSettings, export_song, read_card
from studio.ground.errors import StudioError
from tests.audio.signals import SR, band_noise, independent_true_peak_dbtp
from tests.audio.test_card_and_tags import make_card


@pytest.fixture
def take() -> np.ndarray:
    return band_noise(2.0, 0.01).astype(np.float32)


def test_every_file_of_a_song(tmp_path, take):
    vocals, accompaniment = 0.6 * take, 0.4 * take
    song = export_song(
        take,
        SR,
        tmp_path,
        "night-drive",
        ("wav", "flac", "mp3"),
        make_card(),
        stems={"vocals": vocals, "accompaniment": accompaniment},
    )

    assert {fmt: path.name for fmt, path in song.paths.items()} == {
        "wav": "night-drive.wav",
        "flac": "night-drive.flac",
        "mp3": "night-drive.mp3",
    }
    assert song.unmastered == {"wav": tmp_path / "night-drive.raw.wav"}
    assert song.card_path == tmp_path / "night-drive.song.json"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [
            "night-drive.wav",
            "night-drive.flac",
            "night-drive.mp3",
            "night-drive.song.json",
            "night-drive.raw.wav",
            "night-drive.raw.song.json",
            "night-drive.vocals.wav",
            "night-drive.accompaniment.wav",
            "night-drive.stems.zip",
        ]
    )

    mastered, rate = soundfile.read(song.paths["flac"], always_2d=True)
    assert rate == SR
    assert abs(pyloudnorm.Meter(SR).integrated_loudness(mastered) + 14.0) <= 0.5
    assert independent_true_peak_dbtp(mastered.T) <= -1.0

    raw, _ = soundfile.read(song.unmastered["wav"], dtype="float32", always_2d=True)
    np.testing.assert_array_equal(raw.T, take)  # the unmastered take, bit for bit

    with zipfile.ZipFile(song.stems_zip) as archive:
        assert sorted(archive.namelist()) == sorted(
            [
                "night-drive.wav",
                "night-drive.vocals.wav",
                "night-drive.accompaniment.wav",
                "night-drive.song.json",
            ]
        )
        with archive.open("night-drive.vocals.wav") as member:
            np.testing.assert_array_equal(
                soundfile.read(member, dtype="float32", always_2d=True)[0].T, vocals
            )
        assert json.loads(archive.read("night-drive.song.json"))["part"] == "mix"


def test_cards_say_what_each_file_is(tmp_path, take):
    song = export_song(take, SR, tmp_path, "s", ("mp3",), make_card(duration_s=0.0), stems={"vocals": take})
    mix = read_card(song.paths["mp3"])
    assert mix == song.card
    assert mix.duration_s == pytest.approx(2.0) and mix.sample_rate == SR
    assert mix.mastering == MasteringSettings() and mix.mastering_report.lufs_after == pytest.approx(
        -14, abs=0.5
    )
    raw = read_card(song.unmastered["wav"])
    assert raw.mastering is None and raw.mastering_report is None and raw.params == mix.params
    stem = read_card(song.stems["vocals"])
    assert stem.part == "vocals" and stem.mastering is None


def test_mastering_off_writes_the_take_untouched(tmp_path, take):
    off = MasteringSettings(normalize=False, limit=False)
    song = export_song(take, SR, tmp_path, "s", ("flac",), make_card(), mastering=off)
    assert song.mastering is None and song.unmastered == song.paths
    assert read_card(song.paths["flac"]).mastering is None
    back, _ = soundfile.read(song.paths["flac"], dtype="float32", always_2d=True)
    np.testing.assert_allclose(back.T, take, atol=2.0**-23)
    assert not (tmp_path / "s.raw.wav").exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"formats": ("wav", "aiff")}, "Unknown format `aiff`"),
        ({"formats": ()}, "at least one format"),
        ({"stem_name": "../escape"}, "plain name without folders"),
        ({"stems": {"Lead Vocals": np.zeros((2, 10))}}, "Stem name `Lead Vocals`"),
        ({"stems": {"raw": np.zeros((2, 10))}}, "Stem name `raw`"),
        ({"stems": {"vocals": np.full((2, 10), np.nan)}}, "stem `vocals` contains 20 NaN"),
        ({"card": None}, "needs the song card"),
    ],
)
def test_bad_requests_fail_before_anything_is_written(tmp_path, take, kwargs, message):
    arguments = {"formats": ("wav",), "card": make_card(), "stem_name": "s", **kwargs}
    with pytest.raises(StudioError, match=message):
        export_song(take, SR, tmp_path / "out", **arguments)
    assert not (tmp_path / "out").exists()


def test_unwritable_output_folder(tmp_path, take):
    (tmp_path / "file").write_text("")
    with pytest.raises(StudioError, match="Cannot write"):
        export_song(take, SR, tmp_path / "file" / "out", "s", ("wav",), make_card())
