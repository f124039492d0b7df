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
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from studio import settings
from studio.audio.decoding import Header, NotAudio, Truncated, open_audio
from studio.ground.errors import StudioError

TARGET_RATE = 48_000
# soundfile reads the first four; m4a/AAC (phone voice memos, Apple Music exports), Opus and WebM
# (what browsers record) go through PyAV when soundfile cannot read them.
SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".m4a", ".aac", ".opus", ".webm")
_FORMATS = "WAV, FLAC, MP3, OGG, M4A/AAC, Opus or WebM"
MAX_UPLOAD_ENV = settings.MAX_UPLOAD.name
DEFAULT_MAX_BYTES = settings.parse_size(MAX_UPLOAD_ENV, settings.MAX_UPLOAD.default)
# Below 8 kHz there is no music left to edit (8 kHz is telephone audio); above 384 kHz no
# recorder writes real audio, so such a header is a damaged or hostile file.
MIN_RATE = 8_000
MAX_RATE = 384_000
MAX_CHANNELS = 32
# A handful of bad samples is a glitch worth repairing; more than this share is a broken file.
MAX_BAD_SHARE = 0.01
SILENCE_PEAK = 1e-4  # -80 dBFS
# What a file may decode to, counted in samples of its own (all channels): a 10-minute 7.1 mix at
# 96 kHz (1.7 GB as float32). A header may announce 384 kHz x 32 channels x 10 min (29 GB) from a few
# MB of FLAC; that is refused from the header, before any decoding.
MAX_DECODED_SAMPLES = 96_000 * 8 * 600
# An MP3's Xing header (or a container) counting this much more than is there: the upload was cut.
_SHORT_READ_SHARE = 0.1
_SOXR_QUALITY = "VHQ"
# One decode at a time: it is CPU- and memory-bound, and runs outside the GPU queue.
DECODE_SLOTS_ENV = settings.DECODE_SLOTS.name
DECODE_WAIT_S = 60.0
# Read once: a semaphore cannot change its size under the uploads it is holding.
_DECODE_SLOTS = threading.BoundedSemaphore(settings.DECODE_SLOTS.get())


class UploadError(StudioError):
    """The uploaded file cannot be used; the message says what to upload instead."""

    spends_no_call = True  # refused before any model work: the rate limit is not charged (studio.ratelimit)


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
    return settings.parse_size(MAX_UPLOAD_ENV, text)


def max_upload_bytes() -> int:
    return settings.parse_size(MAX_UPLOAD_ENV, settings.MAX_UPLOAD.get())


@dataclass(frozen=True)
class SourceInfo:
    """What an upload's header says, read without decoding it: enough to check and price an edit."""

    name: str
    seconds: float
    warnings: tuple[str, ...] = ()


def read_source(
    path: str | os.PathLike[str],
    *,
    max_seconds: float = 600.0,
    min_seconds: float = 1.0,
    max_bytes: int | None = None,
    what: str = "the source audio",
) -> SourceAudio:
    """Decode ``path`` into 48 kHz stereo float32, or raise :class:`UploadError` saying why not."""
    path, size, mtime_ns = _checked_file(path, max_bytes, what)
    # The same upload is read to plan a request and again to render it (and on every estimate the
    # Edit view shows); the file's size and mtime say whether the decoded copy is still the file.
    return _decoded(str(path.resolve()), path.name, size, mtime_ns, max_seconds, min_seconds, what)


def probe_source(
    path: str | os.PathLike[str],
    *,
    max_seconds: float = 600.0,
    min_seconds: float = 1.0,
    max_bytes: int | None = None,
    what: str = "the source audio",
) -> SourceInfo:
    """:func:`read_source`'s checks of the file and its header (format, size, rate, channels, length)
    without decoding the audio, for checks that must answer at once (the API's check before the queue,
    the UI's estimate). What only the samples show (silence, damage, a cut-off MP3) is refused by
    :func:`read_source` when the request is prepared. A header that does not state its length is decoded."""
    path, _, _ = _checked_file(path, max_bytes, what)
    name = path.name
    try:
        opened = open_audio(path)
    except Truncated:
        raise UploadError(_truncated(what, name)) from None
    except NotAudio:
        raise UploadError(_unreadable(what, name, path)) from None
    with opened.close:
        header = opened.header
        _check_header(header, name=name, what=what, max_seconds=max_seconds)
    if not header.frames:
        decoded = read_source(path, max_seconds=max_seconds, min_seconds=min_seconds, max_bytes=max_bytes, what=what)
        return SourceInfo(name, decoded.seconds, tuple(decoded.warnings))
    seconds = header.frames / header.rate
    if seconds < min_seconds:
        raise UploadError(_too_short(what, name, seconds, min_seconds))
    return SourceInfo(name, seconds)


def _checked_file(path: str | os.PathLike[str], max_bytes: int | None, what: str) -> tuple[Path, int, int]:
    """The upload as a path, its size and its mtime, or an :class:`UploadError` saying why it cannot be used."""
    path = Path(path)
    name = path.name
    if path.suffix.lower() not in SUFFIXES:
        raise UploadError(
            f"{what} {name!r} is not a {_FORMATS} file; export the song in one of those formats."
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
    return path, size, stat.st_mtime_ns


def _unreadable(what: str, name: str, path: Path) -> str:
    return (
        f"{what} {name!r} could not be read as audio (damaged, truncated or not really "
        f"{path.suffix.lstrip('.').upper()}); export it again as {_FORMATS}."
    )


def _truncated(what: str, name: str) -> str:
    return f"{what} {name!r} is truncated (the file ends before its audio does); upload the whole file again."


def _too_short(what: str, name: str, seconds: float, min_seconds: float) -> str:
    return f"{what} {name!r} is only {seconds:.2f} s long; upload at least {min_seconds:g} s of music."


@functools.lru_cache(maxsize=2)  # a 10-minute song is ~230 MB decoded: keep only the latest two
def _decoded(
    path: str, name: str, size: int, mtime_ns: int, max_seconds: float, min_seconds: float, what: str
) -> SourceAudio:
    """Decoded and conditioned audio; callers share the result and must not modify it."""
    # Decoding runs before the GPU queue (to plan a request) and on every estimate the Edit view
    # shows, on gradio's worker threads: without a gate, a handful of visitors uploading at once
    # would each hold a decode's CPU and memory. Waiting a while is fine; waiting forever is not.
    if not _DECODE_SLOTS.acquire(timeout=DECODE_WAIT_S):
        raise UploadError(
            f"the server is busy reading other uploads, so {what} {name!r} was not read; try again in a minute."
        )
    try:
        return _decode(Path(path), name, what, max_seconds, min_seconds)
    finally:
        _DECODE_SLOTS.release()


def _decode(path: Path, name: str, what: str, max_seconds: float, min_seconds: float) -> SourceAudio:
    unreadable = _unreadable(what, name, path)
    truncated = _truncated(what, name)
    try:
        opened = open_audio(path)
    except Truncated:
        raise UploadError(truncated) from None
    except NotAudio:
        raise UploadError(unreadable) from None
    with opened.close:
        header = opened.header
        _check_header(header, name=name, what=what, max_seconds=max_seconds)
        try:
            stream = _Conditioner(header, name=name, what=what, max_seconds=max_seconds)
            for block in opened.blocks:
                stream.add(block)
        except UploadError:
            raise
        except Exception:  # a decoder failing midway: a damaged file, reported as one
            raise UploadError(unreadable) from None
    if stream.frames == 0:
        raise UploadError(f"{what} {name!r} holds no audio samples; upload the song file again.")
    if header.frames and header.frames - stream.frames > max(header.frames * _SHORT_READ_SHARE, header.rate):
        raise UploadError(truncated)  # an MP3 whose Xing header counts more frames than are left
    return stream.finish(min_seconds=min_seconds)


def _check_header(header: Header, *, name: str, what: str, max_seconds: float) -> None:
    rate, channels, frames = header.rate, header.channels, header.frames
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
    if frames and frames / rate > max_seconds + 0.5:
        raise UploadError(
            f"{what} {name!r} is {_clock(frames / rate)} long; the longest song this model edits is "
            f"{_clock(max_seconds)}, so trim it first."
        )
    if frames and frames * channels > MAX_DECODED_SAMPLES:
        raise UploadError(
            f"{what} {name!r} would decode to {frames * channels * 4 / 1024**3:.1f} GB ({channels} channels at "
            f"{rate / 1000:g} kHz for {_clock(frames / rate)}), over the {MAX_DECODED_SAMPLES * 4 / 1024**3:.1f} GB "
            "the studio reads; upload a stereo mix at 44.1 or 48 kHz."
        )


class _Conditioner:
    """Blocks of the file in, 48 kHz stereo out: NaNs counted and silenced, channels folded down and
    the rate converted block by block, so only the (small) stereo result grows with the song."""

    def __init__(self, header: Header, *, name: str, what: str, max_seconds: float) -> None:
        self.header, self.name, self.what, self.max_seconds = header, name, what, max_seconds
        # A header that does not say how long the file is (or lies) is bounded here instead.
        self.cap = min(int(max_seconds * header.rate) + header.rate, MAX_DECODED_SAMPLES // header.channels)
        self.frames = 0
        self.bad = 0
        self.warnings: list[str] = []
        self.chunks: list[np.ndarray] = []  # [n, 2] float32 at 48 kHz
        self.resampler = None
        if header.rate != TARGET_RATE:
            import soxr

            self.resampler = soxr.ResampleStream(header.rate, TARGET_RATE, 2, dtype="float32", quality=_SOXR_QUALITY)

    def add(self, block: np.ndarray) -> None:
        self.frames += len(block)
        if self.frames > self.cap:
            raise UploadError(
                f"{self.what} {self.name!r} is longer than {_clock(self.cap / self.header.rate)}; the longest song "
                f"this model edits is {_clock(self.max_seconds)}, so trim it first."
            )
        bad = ~np.isfinite(block)
        if bad.any():
            self.bad += int(bad.sum())
            block = np.where(bad, np.float32(0.0), block)
        stereo = _to_stereo(block)
        if self.resampler is not None:
            stereo = self.resampler.resample_chunk(np.ascontiguousarray(stereo))
        if len(stereo):
            self.chunks.append(np.asarray(stereo, dtype=np.float32))

    def finish(self, *, min_seconds: float) -> SourceAudio:
        name, what, header = self.name, self.what, self.header
        seconds = self.frames / header.rate
        if seconds > self.max_seconds + 0.5:
            raise UploadError(
                f"{what} {name!r} is {_clock(seconds)} long; the longest song this model edits is "
                f"{_clock(self.max_seconds)}, so trim it first."
            )
        if seconds < min_seconds:
            raise UploadError(_too_short(what, name, seconds, min_seconds))
        if self.bad:
            share = self.bad / (self.frames * header.channels)
            if share > MAX_BAD_SHARE:
                raise UploadError(
                    f"{what} {name!r} is damaged: {share:.0%} of its samples are not numbers (NaN); "
                    "export it again from your audio editor."
                )
            self.warnings.append(f"{self.bad} damaged samples (NaN) in {name} were replaced by silence.")
        if header.channels > 2:
            self.warnings.append(f"{name} has {header.channels} channels; they were mixed down to stereo.")
        if self.resampler is not None:
            self.chunks.append(self.resampler.resample_chunk(np.zeros((0, 2), np.float32), last=True))
            if header.rate < 32_000:
                self.warnings.append(
                    f"{name} is {header.rate / 1000:g} kHz audio; it was resampled to 48 kHz but keeps its dull, "
                    "band-limited sound; upload a 44.1 or 48 kHz file for a brighter result."
                )
        # Filled chunk by chunk (and each chunk dropped as it is copied) so the peak is about twice the
        # stereo result, not the blocks plus a concatenated copy plus a transposed one.
        total = sum(len(c) for c in self.chunks)
        audio = np.empty((2, total), dtype=np.float32)
        at = 0
        while self.chunks:
            chunk = self.chunks.pop(0)
            audio[:, at : at + len(chunk)] = chunk.T
            at += len(chunk)
        peak = float(np.max(np.abs(audio))) if audio.size else 0.0
        if peak < SILENCE_PEAK:
            raise UploadError(f"{what} {name!r} is silent; upload the song you want to edit.")
        if peak > 1.0:
            audio /= peak
            self.warnings.append(f"{name} peaked {20 * math.log10(peak):+.1f} dB over full scale and was turned down.")
        return SourceAudio(
            audio=audio, sample_rate=TARGET_RATE, name=name, original_rate=header.rate,
            original_channels=header.channels, warnings=self.warnings,
        )


def _to_stereo(block: np.ndarray) -> np.ndarray:
    """[n, channels] -> [n, 2]. Mono is duplicated; 6 and 8 channels are read as 5.1 / 7.1 and
    folded down the ITU way; any other count is taken as L/R pairs (how multitrack bounces are laid
    out) and each side averaged."""
    channels = block.shape[1]
    if channels == 1:
        return np.repeat(block, 2, axis=1)
    if channels == 2:
        return block
    if channels in (6, 8):  # SMPTE order L R C LFE Ls Rs [Lb Rb]; the ITU fold-down leaves out LFE
        centre = 0.7071 * block[:, 2]
        left = block[:, 0] + centre + 0.7071 * block[:, 4::2].sum(axis=1)
        right = block[:, 1] + centre + 0.7071 * block[:, 5::2].sum(axis=1)
        return np.stack([left, right], axis=1)
    return np.stack([block[:, 0::2].mean(axis=1), block[:, 1::2].mean(axis=1)], axis=1)


def resample(audio: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Band-limited resampling along the last axis with soxr (any ratio, odd ones included).

    scipy's polyphase resampler, used before, leaves an image of a 20 kHz tone at 23.9 kHz only
    ~20 dB down when going from 44.1 to 48 kHz; soxr's very-high-quality filter puts it below
    -150 dB (tests/edit/test_upload.py measures both).
    """
    import soxr

    frames_first = np.ascontiguousarray(np.moveaxis(np.asarray(audio, dtype=np.float32), -1, 0))
    out = soxr.resample(frames_first, rate_in, rate_out, quality=_SOXR_QUALITY)
    return np.ascontiguousarray(np.moveaxis(out, 0, -1), dtype=np.float32)
