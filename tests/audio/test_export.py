"""Formats: WAV 24-bit, FLAC 24-bit and MP3 320 kbps CBR at the model's sample rate; clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
from mutagen.mp3 import MP3

from studio.audio.export import export, slugify
from studio.ground.errors import StudioError
from tests.audio.signals import band_noise

# MPEG-1 Layer III bitrate index -> kbps; sample-rate index -> Hz.
_MPEG1_L3_KBPS = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
_MPEG1_RATES = (44100, 48000, 32000)


def _mp3_frame_bitrates(data: bytes) -> list[int]:
    """Walk every MPEG audio frame header (after any ID3v2 tag) and list each frame's kbps."""
    offset = 0
    if data[:3] == b"ID3":
        size = data[6] << 21 | data[7] << 14 | data[8] << 7 | data[9]
        offset = 10 + size
    rates = []
    while offset + 4 <= len(data):
        header = int.from_bytes(data[offset : offset + 4], "big")
        assert header >> 21 == 0x7FF, f"lost frame sync at byte {offset}"
        assert (header >> 19) & 3 == 3 and (header >> 17) & 3 == 1, "not MPEG-1 Layer III"
        kbps = _MPEG1_L3_KBPS[(header >> 12) & 0xF]
        rate = _MPEG1_RATES[(header >> 10) & 3]
        padding = (header >> 9) & 1
        rates.append(kbps)
        offset += 144 * kbps * 1000 // rate + padding
    return rates


@pytest.mark.parametrize("sample_rate", [48000, 44100])
@pytest.mark.parametrize("channels", [1, 2])
def test_mp3_is_320_kbps_constant_bitrate(tmp_path, sample_rate, channels):
    audio = band_noise(1.5, 0.1, sample_rate=sample_rate)[:channels].astype(np.float32)
    path = export(audio, sample_rate, tmp_path / "song", "mp3")

    assert path.name == "song.mp3"
    info = MP3(path).info
    assert info.bitrate == 320_000
    assert info.sample_rate == sample_rate and info.channels == channels
    assert info.length == pytest.approx(1.5, abs=0.1)
    frames = _mp3_frame_bitrates(path.read_bytes())
    assert len(frames) > 50 and set(frames) == {320}


@pytest.mark.parametrize(("fmt", "subtype"), [("wav", "PCM_24"), ("flac", "PCM_24")])
def test_lossless_formats_are_24_bit_and_exact(tmp_path, fmt, subtype):
    audio = band_noise(1.0, 0.2, sample_rate=44100).astype(np.float32)
    path = export(audio, 44100, tmp_path / "take", fmt)

    info = soundfile.info(path)
    assert (info.samplerate, info.channels, info.frames, info.subtype) == (44100, 2, audio.shape[1], subtype)
    back, _ = soundfile.read(path, dtype="float32", always_2d=True)
    np.testing.assert_allclose(back.T, audio, atol=2.0**-23)  # 24-bit quantisation step


def test_float_wav_keeps_overs_and_pcm_clips_instead_of_wrapping(tmp_path):
    audio = np.array([[0.5, 1.7, -1.9, 0.25]], dtype=np.float32)
    raw = export(audio, 48000, tmp_path / "raw.wav", subtype="FLOAT")
    pcm = export(audio, 48000, tmp_path / "pcm.wav")
    np.testing.assert_array_equal(soundfile.read(raw, dtype="float32")[0], audio[0])
    np.testing.assert_allclose(soundfile.read(pcm, dtype="float32")[0], [0.5, 1.0, -1.0, 0.25], atol=1e-6)


def test_format_comes_from_the_extension_when_not_given(tmp_path):
    assert export(np.zeros((2, 100)), 48000, tmp_path / "a.flac").suffix == ".flac"
    assert export(np.zeros((2, 100)), 48000, tmp_path / "a.raw", "wav").name == "a.raw.wav"


def test_no_partial_files_are_left_behind(tmp_path):
    export(band_noise(0.2, 0.1), 48000, tmp_path / "s", "mp3")
    assert [p.name for p in tmp_path.iterdir()] == ["s.mp3"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fmt": "ogg"}, r"Unknown format `ogg`; choose one of wav, flac, mp3"),
        ({"fmt": None}, r"Say which format"),
    ],
)
def test_format_errors_say_what_to_choose(tmp_path, kwargs, message):
    with pytest.raises(StudioError, match=message):
        export(np.zeros((2, 100)), 48000, tmp_path / "song", **kwargs)


def test_mp3_refuses_rates_that_cannot_carry_320_kbps(tmp_path):
    with pytest.raises(StudioError, match="export it as WAV or FLAC"):
        export(np.zeros((2, 2205)), 22050, tmp_path / "song", "mp3")


def test_unwritable_path_is_a_clear_error(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(StudioError, match=r"Cannot write .*Choose an output folder you can write to"):
        export(np.zeros((2, 100)), 48000, blocker / "song", "wav")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_audio_is_refused(tmp_path, bad):
    audio = np.zeros((2, 100), dtype=np.float32)
    audio[1, 50] = bad
    with pytest.raises(StudioError, match=r"NaN or infinite samples .* Try another seed"):
        export(audio, 48000, tmp_path / "song", "flac")
    assert not list(tmp_path.iterdir())


def test_sample_rate_must_be_positive(tmp_path):
    with pytest.raises(StudioError, match="sample rate"):
        export(np.zeros((2, 100)), 0, tmp_path / "song", "wav")


@pytest.mark.parametrize(
    ("title", "slug"),
    [("Ça va? (Live)", "ca-va-live"), ("  ", "song"), ("日本語", "song"), ("../../etc/passwd", "etc-passwd")],
)
def test_slugify_makes_safe_file_names(title, slug):
    assert slugify(title) == slug


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_player_flac_holds_the_integers_libsndfile_makes_of_floats(tmp_path, dtype):
    # The player's 16-bit FLAC converts floats itself (faster); the samples must be exactly what
    # libsndfile writes when handed the floats: ties, full scale, overs and tiny values included.
    rng = np.random.default_rng(16)
    ties = (np.arange(-40, 40) + 0.5) / 32768.0
    edges = [1.0, -1.0, 1.3, -1.7, 32767.5 / 32768, -32768.5 / 32768, 32766.5 / 32768, 1e-9, -0.0]
    noise = rng.uniform(-1.05, 1.05, 20000)
    audio = np.stack([np.concatenate([ties, edges, noise]), np.concatenate([noise[::-1], edges, ties])]).astype(dtype)
    ours = export(audio, 48000, tmp_path / "ours", "flac16")
    theirs = tmp_path / "theirs.flac"
    soundfile.write(theirs, np.clip(audio, -1.0, 1.0).T, 48000, subtype="PCM_16", format="FLAC")

    assert soundfile.info(ours).subtype == "PCM_16"
    ours_pcm, _ = soundfile.read(ours, dtype="int16")
    theirs_pcm, _ = soundfile.read(theirs, dtype="int16")
    np.testing.assert_array_equal(ours_pcm, theirs_pcm)


def test_the_finite_check_catches_every_bad_sample_and_no_good_one():
    from studio.audio.buffers import as_channels_first

    take = np.zeros((2, 1000), dtype=np.float32)
    for bad in (np.nan, np.inf, -np.inf):
        broken = take.copy()
        broken[1, 777] = bad
        with pytest.raises(StudioError, match="1 NaN or infinite samples out of 2000"):
            as_channels_first(broken)
    both = take.copy()
    both[0, 1], both[1, 2] = np.inf, -np.inf  # their sum is NaN, so the quick check sees them too
    with pytest.raises(StudioError, match="2 NaN or infinite"):
        as_channels_first(both)
    # Finite but huge: the quick float64 sum overflows, the sample-by-sample check lets it through.
    huge = np.full((1, 4), 1e308)
    assert as_channels_first(huge) is huge
    kept = as_channels_first(take, dtype=None)
    assert kept is take and as_channels_first(take).dtype == np.float64


@pytest.mark.parametrize(
    ("fmt", "options"),
    [
        ("wav", {"subtype": "PCM_24", "format": "WAV"}),
        ("flac", {"subtype": "PCM_24", "format": "FLAC"}),
        ("flac16", {"subtype": "PCM_16", "format": "FLAC", "compression_level": 0.0}),
    ],
)
def test_files_encoded_in_memory_are_the_bytes_libsndfile_writes_to_a_path(tmp_path, fmt, options):
    # libsndfile's own file output (thousands of small writes, an fsync on close) is replaced by encoding into
    # memory and one write: the player's file reaches the disk sooner, and not one byte may differ. Longer
    # than libsndfile's and libFLAC's buffers, so the header is rewritten after the frames in both cases.
    from studio.audio.export import FORMATS, pcm16_like_libsndfile

    audio = band_noise(3.0, 0.2).astype(np.float32)
    ours = FORMATS[fmt].extension
    written = export(audio, 48000, tmp_path / "ours", fmt)
    assert written.name == f"ours{ours}"
    theirs = tmp_path / f"theirs{ours}"
    frames = pcm16_like_libsndfile(audio) if fmt == "flac16" else np.clip(audio.astype(np.float64), -1.0, 1.0).T
    soundfile.write(theirs, frames, 48000, **options)
    assert written.read_bytes() == theirs.read_bytes()
