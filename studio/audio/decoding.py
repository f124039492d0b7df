"""Opening an audio file as a header plus a stream of sample blocks, never as one big array.

soundfile (libsndfile) reads WAV, FLAC, MP3 and Ogg; what people record on phones and in browsers
(m4a/AAC voice memos, Opus, WebM from MediaRecorder) goes through PyAV, which bundles FFmpeg's
decoders. Both hand back ``[frames, channels]`` float32 blocks, so the caller can bound, downmix and
resample as it goes and never hold more than one block of the file's own (possibly 32-channel,
384 kHz) samples.
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# ~1.4 s of 48 kHz audio: big enough that per-block overhead is noise, small enough that a
# 32-channel block is 8 MB.
BLOCK_FRAMES = 1 << 16


class NotAudio(Exception):
    """Neither decoder could read the file."""


class Truncated(Exception):
    """The file ends before the audio its header announces."""


@dataclass(frozen=True)
class Header:
    rate: int
    channels: int
    frames: int | None  # None when the container does not say (a WebM from a browser often doesn't)
    decoder: str


@dataclass
class OpenedAudio:
    header: Header
    blocks: Iterator[np.ndarray]  # [frames, channels] float32, each at most BLOCK_FRAMES long
    close: contextlib.ExitStack


def open_audio(path: Path) -> OpenedAudio:
    """The file's header and a block iterator; raises :class:`NotAudio` when no decoder reads it."""
    try:
        return _open_soundfile(path)
    except Truncated:
        raise
    except Exception:  # libsndfile reports "not my format" and damage as many exception types
        pass
    try:
        return _open_pyav(path)
    except (NotAudio, Truncated):
        raise
    except Exception:  # FFmpeg's errors (av.error.*) and anything a hostile container provokes
        raise NotAudio from None


def _open_soundfile(path: Path) -> OpenedAudio:
    import soundfile as sf

    stack = contextlib.ExitStack()
    f = stack.enter_context(sf.SoundFile(str(path)))
    try:
        if path.suffix.lower() == ".wav" and wav_data_shortfall(path) > 0:
            raise Truncated
        header = Header(int(f.samplerate), int(f.channels), int(f.frames) if f.frames > 0 else None, "soundfile")
    except BaseException:
        stack.close()
        raise

    def blocks() -> Iterator[np.ndarray]:
        while True:
            block = f.read(frames=BLOCK_FRAMES, dtype="float32", always_2d=True)
            if not len(block):
                return
            yield block

    return OpenedAudio(header, blocks(), stack)


def wav_data_shortfall(path: Path) -> int:
    """Bytes the WAV's ``data`` chunk announces beyond the end of the file (0 when whole or unknown).

    libsndfile quietly shortens a cut WAV to what is there (its log says "data : 576000 (should be
    287978)"), so a half-uploaded song would be edited as if it were the whole song; the RIFF chunk
    sizes say what the writer meant. Streaming writers put 0 or 0xFFFFFFFF there: unknown, not cut.
    """
    size = path.stat().st_size
    with path.open("rb") as f:
        riff = f.read(12)
        if len(riff) < 12 or riff[:4] != b"RIFF" or riff[8:12] != b"WAVE":
            return 0  # RF64, W64 and friends: let the decoder judge
        offset = 12
        for _ in range(64):  # a WAV has a handful of chunks; a loop of fake ones is not a WAV
            f.seek(offset)
            chunk = f.read(8)
            if len(chunk) < 8:
                return 0
            kind, length = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if kind == b"data":
                if length in (0, 0xFFFFFFFF):
                    return 0
                return max(0, offset + 8 + length - size)
            offset += 8 + length + (length & 1)
    return 0


def _open_pyav(path: Path) -> OpenedAudio:
    import av

    stack = contextlib.ExitStack()
    try:
        container = stack.enter_context(av.open(str(path), metadata_errors="ignore"))
        if not container.streams.audio:
            raise NotAudio
        stream = container.streams.audio[0]
        codec = stream.codec_context
        rate, channels = int(codec.sample_rate or 0), int(codec.layout.nb_channels if codec.layout else 0)
        if rate <= 0 or channels <= 0:
            raise NotAudio
        frames = _pyav_frames(stream, container, rate)
    except BaseException:
        stack.close()
        raise
    # Planar float keeps the channel count and rate; FFmpeg converts whatever the codec decodes to.
    converter = av.AudioResampler(format="fltp")

    def blocks() -> Iterator[np.ndarray]:
        pending: list[np.ndarray] = []
        held = 0
        for frame in container.decode(stream):
            for converted in converter.resample(frame):
                samples = converted.to_ndarray()  # [channels, n]
                if samples.shape[0] != channels:
                    raise NotAudio  # a stream that changes its channel count midway is not a song we edit
                pending.append(samples.T)
                held += samples.shape[1]
            if held >= BLOCK_FRAMES:
                yield np.ascontiguousarray(np.concatenate(pending), dtype=np.float32)
                pending, held = [], 0
        if pending:
            yield np.ascontiguousarray(np.concatenate(pending), dtype=np.float32)

    return OpenedAudio(Header(rate, channels, frames, "pyav"), blocks(), stack)


def _pyav_frames(stream, container, rate: int) -> int | None:
    """Frames the container announces, from the stream's own duration or the container's."""
    if stream.duration and stream.time_base:
        return int(stream.duration * stream.time_base * rate)
    if container.duration:  # microseconds (FFmpeg's AV_TIME_BASE)
        return int(container.duration * rate / 1_000_000)
    return None


def probe(path: Path) -> Header:
    """The file's header only (nothing decoded); :class:`NotAudio` or :class:`Truncated` when it is
    not a song. Cheap enough for the moment an upload lands."""
    opened = open_audio(path)
    opened.close.close()
    return opened.header
