"""Uploaded source audio: every bad file is one actionable StudioError, never a crash."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio.audio.upload import UploadError, parse_size, read_source, resample
from studio.ground.errors import StudioError

RATE = 48_000


def tone(seconds: float = 2.0, rate: int = RATE, channels: int = 2, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    wave = 0.5 * np.sin(2 * np.pi * freq * t).astype(np.float32)
    return np.stack([wave] * channels, axis=1)  # soundfile layout: [frames, channels]


def write(path: Path, data: np.ndarray, rate: int = RATE, **kw) -> Path:
    sf.write(str(path), data, rate, **kw)
    return path


@pytest.mark.parametrize("fmt", ["wav", "flac", "ogg", "mp3"])
def test_each_format_reads_as_48k_stereo(tmp_path, fmt):
    path = write(tmp_path / f"song.{fmt}", tone(2.0, rate=44_100), rate=44_100)
    src = read_source(path)
    assert src.sample_rate == RATE and src.audio.shape[0] == 2 and src.audio.dtype == np.float32
    # MP3 encoders add a little padding; everything else keeps its length exactly
    assert src.seconds == pytest.approx(2.0, abs=0.1 if fmt == "mp3" else 1e-3)
    assert 0.3 < np.abs(src.audio).max() <= 1.0


def test_mono_becomes_stereo(tmp_path):
    src = read_source(write(tmp_path / "mono.wav", tone(channels=1)))
    assert src.audio.shape == (2, 2 * RATE)
    np.testing.assert_array_equal(src.audio[0], src.audio[1])
    assert src.original_channels == 1 and not src.warnings


def test_eight_channels_are_folded_to_stereo_with_a_warning(tmp_path):
    data = np.zeros((RATE, 8), dtype=np.float32)
    data[:, 0] = 0.3  # front left only
    src = read_source(write(tmp_path / "surround.wav", data))
    assert src.audio.shape == (2, RATE)
    assert src.audio[0].mean() == pytest.approx(0.3, abs=1e-3) and abs(src.audio[1]).max() == 0
    assert any("8 channels" in w for w in src.warnings)


def test_8khz_is_resampled_and_flagged(tmp_path):
    src = read_source(write(tmp_path / "phone.wav", tone(2.0, rate=8_000, freq=300.0), rate=8_000))
    assert src.sample_rate == RATE and src.audio.shape[-1] == 2 * RATE
    assert src.original_rate == 8_000
    assert any("8 kHz" in w and "48 kHz" in w for w in src.warnings)
    # the 300 Hz tone survives resampling (its frequency and level)
    spectrum = np.abs(np.fft.rfft(src.audio[0]))
    assert np.argmax(spectrum) * RATE / src.audio.shape[-1] == pytest.approx(300, abs=1)


def test_an_odd_rate_is_resampled_exactly():
    audio = np.random.default_rng(0).standard_normal((2, 47_999)).astype(np.float32)
    assert resample(audio, 47_999, RATE).shape == (2, RATE)


def test_a_few_nan_samples_are_silenced_with_a_warning(tmp_path):
    data = tone()
    data[100:110] = np.nan
    src = read_source(write(tmp_path / "glitch.wav", data, subtype="FLOAT"))
    assert np.isfinite(src.audio).all()
    assert any("NaN" in w for w in src.warnings)


def test_mostly_nan_is_refused(tmp_path):
    data = tone()
    data[: len(data) // 2] = np.nan
    with pytest.raises(UploadError, match="not numbers"):
        read_source(write(tmp_path / "broken.wav", data, subtype="FLOAT"))


def test_over_full_scale_float_is_turned_down(tmp_path):
    src = read_source(write(tmp_path / "hot.wav", tone() * 4, subtype="FLOAT"))
    assert np.abs(src.audio).max() == pytest.approx(1.0)
    assert any("over full scale" in w for w in src.warnings)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: p.write_bytes(b"this is a text file, not a song " * 20), "could not be read as audio"),
        (lambda p: write(p, np.zeros((2 * RATE, 2), dtype=np.float32)), "silent"),
        (lambda p: write(p, tone(0.2)), "at least 1 s"),
    ],
    ids=["empty", "text", "silent", "too-short"],
)
def test_unusable_files_are_refused_with_a_reason(tmp_path, make, message):
    path = tmp_path / "upload.wav"
    make(path)
    with pytest.raises(UploadError, match=message):
        read_source(path)


def test_truncated_file_is_refused(tmp_path):
    path = write(tmp_path / "song.flac", tone(3.0), subtype="PCM_16")
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(UploadError, match="could not be read as audio"):
        read_source(path)


def test_an_hour_long_file_is_refused_from_its_header(tmp_path):
    # 8 kHz 8-bit mono keeps the hour-long test file at 29 MB; the header alone decides
    path = tmp_path / "hour.wav"
    with sf.SoundFile(str(path), "w", samplerate=8_000, channels=1, subtype="PCM_U8") as f:
        block = np.full((8_000 * 60, 1), 0.1, dtype=np.float32)
        for _ in range(60):
            f.write(block)
    with pytest.raises(UploadError, match=r"1:00:00|60:00.*longest song this model edits is 10:00"):
        read_source(path, max_bytes=10**9)


def test_too_big_and_wrong_suffix_and_missing(tmp_path, monkeypatch):
    path = write(tmp_path / "song.wav", tone())
    monkeypatch.setenv("STUDIO_MAX_UPLOAD", "100kb")
    with pytest.raises(UploadError, match="is 375 KB, over the 100 KB limit"):
        read_source(path)
    monkeypatch.delenv("STUDIO_MAX_UPLOAD")
    with pytest.raises(UploadError, match="WAV, FLAC, MP3, OGG, M4A/AAC, Opus or WebM"):
        read_source(tmp_path / "song.wma")
    with pytest.raises(UploadError, match="check the path"):
        read_source(tmp_path / "nope.wav")


def test_parse_size():
    assert parse_size("100mb") == 100 * 1024**2 and parse_size("2 GB") == 2 * 1024**3 and parse_size("10") == 10
    with pytest.raises(StudioError, match="STUDIO_MAX_UPLOAD"):
        parse_size("lots")


_VALID: dict[str, bytes] = {}


def _valid_bytes(fmt: str, tmp: Path) -> bytes:
    if fmt not in _VALID:
        _VALID[fmt] = write(tmp / f"v.{fmt}", tone(1.5, rate=22_050), rate=22_050).read_bytes()
    return _VALID[fmt]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=4096), fmt=st.sampled_from(["wav", "flac", "mp3", "ogg"]))
def test_random_bytes_never_crash(tmp_path, data, fmt):
    path = tmp_path / f"fuzz.{fmt}"
    path.write_bytes(data)
    try:
        src = read_source(path)
    except StudioError:
        return
    assert np.isfinite(src.audio).all() and src.audio.shape[0] == 2


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fmt=st.sampled_from(["wav", "flac", "mp3", "ogg"]), cut=st.floats(0.0, 1.0), flip=st.integers(0, 2**16))
def test_truncated_or_corrupted_valid_files_never_crash(tmp_path, fmt, cut, flip):
    raw = bytearray(_valid_bytes(fmt, tmp_path))
    raw = raw[: int(len(raw) * cut)]
    if raw:
        raw[flip % len(raw)] ^= 0xFF
    path = tmp_path / f"cut.{fmt}"
    path.write_bytes(bytes(raw))
    try:
        src = read_source(path)
    except StudioError:
        return
    assert np.isfinite(src.audio).all() and np.abs(src.audio).max() <= 1.0


def test_a_folder_named_like_a_song_is_refused(tmp_path):
    (tmp_path / "album.wav").mkdir()
    with pytest.raises(UploadError, match="is a folder"):
        read_source(tmp_path / "album.wav")


def test_a_file_read_again_is_decoded_once_until_it_changes(tmp_path, monkeypatch):
    """Planning and rendering the same edit read its source twice; only the first read decodes."""
    from studio.audio import upload

    decodes: list[str] = []
    real = upload._decode
    monkeypatch.setattr(upload, "_decode", lambda path, *a: decodes.append(path.name) or real(path, *a))
    upload._decoded.cache_clear()
    path = write(tmp_path / "song.wav", tone(2.0))
    first = read_source(path)
    second = read_source(path)
    assert decodes == ["song.wav"] and second.audio is first.audio
    write(path, tone(3.0))  # the visitor uploads a new version under the same name
    assert read_source(path).seconds == pytest.approx(3.0) and decodes == ["song.wav", "song.wav"]
    upload._decoded.cache_clear()
