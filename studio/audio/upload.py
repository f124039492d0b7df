"""Reading a song a visitor uploads (or names on the command line) for cover, repaint, extend, extract.

Every failure is a :class:`UploadError` (a ``StudioError``) with one sentence saying what to change;
nothing a file contains can raise anything else. What a musician would expect is repaired with a
warning instead of refused: mono becomes stereo, 5.1 / 7.1 / multitrack files are folded down to
stereo, any rate from 8 kHz up is resampled to the model's 48 kHz, a float file louder than full
scale is turned down, and a few damaged (NaN) samples become silence. What cannot be a song is
refused: not audio, empty, truncated, silent, too long, mostly damaged.
"""

from __future__ import annotations

import functools
import math
import os
import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from backends.base import StudioError

TARGET_RATE = 48_000
SUFFIXES = (".wav", ".flac", ".mp3", ".ogg")
MAX_UPLOAD_ENV = "STUDIO_MAX_UPLOAD"
DEFAULT_MAX_BYTES = 100 * 1024**2
# Below 8 kHz there is no music left to edit (8 kHz is telephone audio); above 384 kHz no
# recorder writes real audio, so such a header is a damaged or hostile file.
MIN_RATE = 8_000
MAX_RATE = 384_000
MAX_CHANNELS = 32
# A handful of bad samples is a glitch worth repairing; more than this share is a broken file.
MAX_BAD_SHARE = 0.01
SILENCE_PEAK = 1e-4  # -80 dBFS


class UploadError(StudioError):
    """The uploaded file cannot be used; the message says what to upload instead."""


@dataclass
class SourceAudio:
    """Decoded audio ready for the model: float32 ``[2, samples]`` at 48 kHz, peak <= 1."""

    audio: np.ndarray
    sample_rate: int
    name: str
    original_rate: int
    original_channels: int
    warnings: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return self.audio.shape[-1] / self.sample_rate


def _clock(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def _megabytes(size: int) -> str:
    return f"{size / 1024**2:.0f} MB" if size >= 1024**2 else f"{size / 1024:.0f} KB"


def parse_size(text: str) -> int:
    """'100mb' / '2 GB' / '500000' -> bytes (the same spelling gradio's max_file_size takes)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmg]?i?b?)\s*", text.lower())
    if not match:
        raise StudioError(f"{MAX_UPLOAD_ENV} must look like '100mb' or '2gb', got {text!r}.")
    unit = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[match.group(2)[:1] or ""]
    return int(float(match.group(1)) * unit)


def max_upload_bytes() -> int:
    raw = os.environ.get(MAX_UPLOAD_ENV, "").strip()
    return parse_size(raw) if raw else DEFAULT_MAX_BYTES


def read_source(
    path: str | os.PathLike[str],
    *,
    max_seconds: float = 600.0,
    min_seconds: float = 1.0,
    max_bytes: int | None = None,
    what: str = "the source audio",
) -> SourceAudio:
    """Decode ``path`` into 48 kHz stereo float32, or raise :class:`UploadError` saying why not."""
    path = Path(path)
    name = path.name
    if path.suffix.lower() not in SUFFIXES:
        raise UploadError(
            f"{what} {name!r} is not a WAV, FLAC, MP3 or OGG file; export the song in one of those formats."
        )
    try:
        stat = path.stat()
    except OSError as exc:
        raise UploadError(f"cannot open {what} {name!r} ({exc.strerror or exc}); check the path.") from None
    if not path.is_file():
        raise UploadError(f"{what} {name!r} is a folder, not an audio file; pick the song file itself.")
    limit = max_upload_bytes() if max_bytes is None else max_bytes
    size = stat.st_size
    if size == 0:
        raise UploadError(f"{what} {name!r} is empty (0 bytes); upload the file again.")
    if size > limit:
        raise UploadError(
            f"{what} {name!r} is {_megabytes(size)}, over the {_megabytes(limit)} limit; "
            "upload an MP3 or FLAC, or a shorter excerpt."
        )
    # The same upload is read to plan a request and again to render it (and on every estimate the
    # Edit view shows); the file's size and mtime say whether the decoded copy is still the file.
    return _decoded(str(path.resolve()), name, size, stat.st_mtime_ns, max_seconds, min_seconds, what)


@functools.lru_cache(maxsize=2)  # a 10-minute song is ~230 MB decoded: keep only the latest two
def _decoded(
    path: str, name: str, size: int, mtime_ns: int, max_seconds: float, min_seconds: float, what: str
) -> SourceAudio:
    """Decoded and conditioned audio; callers share the result and must not modify it."""
    data, rate = _decode(Path(path), name, what, max_seconds)
    return _condition(data, rate, name=name, what=what, max_seconds=max_seconds, min_seconds=min_seconds)


def _decode(path: Path, name: str, what: str, max_seconds: float) -> tuple[np.ndarray, int]:
    import soundfile as sf

    unreadable = (
        f"{what} {name!r} could not be read as audio (damaged, truncated or not really "
        f"{path.suffix.lstrip('.').upper()}); export it again as WAV, FLAC, MP3 or OGG."
    )
    try:
        with sf.SoundFile(str(path)) as f:
            rate, channels, frames = int(f.samplerate), int(f.channels), int(f.frames)
            _check_header(rate, channels, frames, name=name, what=what, max_seconds=max_seconds)
            # Read at most a little past the limit, so a lying header cannot make us decode hours.
            cap = int(max_seconds * rate) + rate
            data = f.read(frames=min(frames, cap) if frames > 0 else cap, dtype="float32", always_2d=True)
    except UploadError:
        raise
    except Exception:  # libsndfile reports damage as many exception types
        raise UploadError(unreadable) from None
    if data.ndim != 2 or data.shape[0] == 0:
        raise UploadError(f"{what} {name!r} holds no audio samples; upload the song file again.")
    return data, rate


def _check_header(rate: int, channels: int, frames: int, *, name: str, what: str, max_seconds: float) -> None:
    if not MIN_RATE <= rate <= MAX_RATE:
        raise UploadError(
            f"{what} {name!r} has a sample rate of {rate} Hz; upload audio at 8 kHz or more "
            "(44.1 or 48 kHz is best)."
        )
    if not 1 <= channels <= MAX_CHANNELS:
        raise UploadError(
            f"{what} {name!r} has {channels} channels; upload a mono, stereo or surround mix "
            f"(at most {MAX_CHANNELS} channels)."
        )
    if frames > 0 and frames / rate > max_seconds + 0.5:
        raise UploadError(
            f"{what} {name!r} is {_clock(frames / rate)} long; the longest song this model edits is "
            f"{_clock(max_seconds)}, so trim it first."
        )


def _condition(
    data: np.ndarray, rate: int, *, name: str, what: str, max_seconds: float, min_seconds: float
) -> SourceAudio:
    """[frames, channels] at ``rate`` -> checked, repaired [2, samples] at 48 kHz."""
    warnings: list[str] = []
    frames, channels = data.shape
    seconds = frames / rate
    if seconds > max_seconds + 0.5:
        raise UploadError(
            f"{what} {name!r} is {_clock(seconds)} long; the longest song this model edits is "
            f"{_clock(max_seconds)}, so trim it first."
        )
    if seconds < min_seconds:
        raise UploadError(
            f"{what} {name!r} is only {seconds:.2f} s long; upload at least {min_seconds:g} s of music."
        )
    bad = ~np.isfinite(data)
    if bad.any():
        share = float(bad.mean())
        if share > MAX_BAD_SHARE:
            raise UploadError(
                f"{what} {name!r} is damaged: {share:.0%} of its samples are not numbers (NaN); "
                "export it again from your audio editor."
            )
        data = np.where(bad, np.float32(0.0), data)
        warnings.append(f"{int(bad.sum())} damaged samples (NaN) in {name} were replaced by silence.")
    stereo = _to_stereo(data.T, name, warnings)
    if rate != TARGET_RATE:
        stereo = resample(stereo, rate, TARGET_RATE)
        if rate < 32_000:
            warnings.append(
                f"{name} is {rate / 1000:g} kHz audio; it was resampled to 48 kHz but keeps its dull, "
                "band-limited sound; upload a 44.1 or 48 kHz file for a brighter result."
            )
    peak = float(np.max(np.abs(stereo))) if stereo.size else 0.0
    if peak < SILENCE_PEAK:
        raise UploadError(f"{what} {name!r} is silent; upload the song you want to edit.")
    if peak > 1.0:
        stereo = stereo / peak
        warnings.append(f"{name} peaked {20 * math.log10(peak):+.1f} dB over full scale and was turned down.")
    return SourceAudio(
        audio=np.ascontiguousarray(stereo, dtype=np.float32), sample_rate=TARGET_RATE, name=name,
        original_rate=rate, original_channels=channels, warnings=warnings,
    )


def _to_stereo(audio: np.ndarray, name: str, warnings: list[str]) -> np.ndarray:
    """[channels, n] -> [2, n]. Mono is duplicated; 6 and 8 channels are read as 5.1 / 7.1 and
    folded down the ITU way; any other count is taken as L/R pairs (how multitrack bounces are laid
    out) and each side averaged."""
    channels = audio.shape[0]
    if channels == 1:
        return np.concatenate([audio, audio])
    if channels == 2:
        return audio
    if channels in (6, 8):  # SMPTE order L R C LFE Ls Rs [Lb Rb]; the ITU fold-down leaves out LFE
        centre = 0.7071 * audio[2]
        left = audio[0] + centre + 0.7071 * audio[4::2].sum(axis=0)
        right = audio[1] + centre + 0.7071 * audio[5::2].sum(axis=0)
        out = np.stack([left, right])
    else:
        out = np.stack([audio[0::2].mean(axis=0), audio[1::2].mean(axis=0)])
    warnings.append(f"{name} has {channels} channels; they were mixed down to stereo.")
    return out


def resample(audio: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Band-limited resampling along the last axis (polyphase when the ratio is simple)."""
    from scipy import signal

    ratio = Fraction(rate_out, rate_in)
    if max(ratio.numerator, ratio.denominator) <= 1000:
        out = signal.resample_poly(audio, ratio.numerator, ratio.denominator, axis=-1)
    else:  # odd rates (e.g. 47999 Hz) would need a huge polyphase filter; the FFT method is exact enough
        n = round(audio.shape[-1] * rate_out / rate_in)
        out = signal.resample(audio, n, axis=-1)
    return out.astype(np.float32, copy=False)
