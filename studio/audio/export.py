"""Writing audio files: WAV (24-bit PCM), FLAC (24-bit, or 16-bit for the player), MP3 (320 kbps
CBR via lameenc).

Everything is written at the model's own sample rate, into a temporary file beside the target
that is tagged and then renamed, so a half-written song never appears under its final name.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import lameenc
import numpy as np
import soundfile

from studio.audio.buffers import as_channels_first, check_sample_rate
from studio.audio.card import SongCard, unwritable, write_sidecar
from studio.audio.tags import write_flac_tags, write_mp3_tags, write_wav_tags
from studio.ground.errors import StudioError

MP3_BITRATE_KBPS = 320
# MPEG-1 Layer III, the only MPEG audio that allows 320 kbps, exists at these rates only.
MP3_SAMPLE_RATES = (32000, 44100, 48000)
# LAME's "high quality" algorithm setting (0 best/slowest .. 9 worst/fastest).
_LAME_QUALITY = 2


@dataclass(frozen=True)
class AudioFormat:
    name: str
    extension: str
    description: str
    write: Callable[[np.ndarray, int, Path, str], None]
    tag: Callable[[Path, SongCard], None]  # embeds the song card and the plain fields
    offered: bool = True  # False: the studio's own use (the player's stream), not a choice to list


def _write_soundfile(kind: str, default_subtype: str, **options: float) -> Callable[[np.ndarray, int, Path, str], None]:
    def write(audio: np.ndarray, sample_rate: int, path: Path, subtype: str) -> None:
        subtype = subtype or default_subtype
        # libsndfile scales float64 to 24-bit integers more exactly than float32 (2**31 - 1 is not a
        # float32); these files are written in the background, so the exact path costs no one.
        audio = audio.astype(np.float64, copy=False)
        # Integer PCM would wrap around beyond full scale; float keeps overs for the raw take.
        data = audio if subtype == "FLOAT" else np.clip(audio, -1.0, 1.0)
        _write_through_memory(path, data.T, sample_rate, subtype=subtype, format=kind, **options)

    return write


def _write_through_memory(path: Path, frames: np.ndarray, sample_rate: int, **options: str | float) -> None:
    """``soundfile.write`` into memory, then the file in one write. Given a path, libsndfile makes thousands
    of small writes and seeks and fsyncs the file when it closes it (strace of a minute of 16-bit stereo
    FLAC: 2,506 writes, 4,233 lseeks, one fsync): the fsync waits for the disk, which kept the player's file
    ~0.05 s longer on the dev machine's disk than encoding it took (0.14 s against 0.09 s; a Space's storage
    mount is slower still). The bytes are the same (tests/audio/test_export.py); nothing else here syncs."""
    encoded = io.BytesIO()
    soundfile.write(encoded, frames, sample_rate, **options)
    path.write_bytes(encoded.getbuffer())


def pcm16_like_libsndfile(audio: np.ndarray) -> np.ndarray:
    """``audio`` ([channels, samples] float) as interleaved 16-bit samples ([samples, channels]), the
    very integers libsndfile 1.2 writes for float input to a 16-bit FLAC: scaled by 32768, rounded
    to nearest (ties to even, as ``lrintf``), full scale clipped to 32767 (its flac.c ``f2flac16_clip``).

    Converting here costs a third of what libsndfile's own float path does on a minute of stereo
    (which also needs an interleaved float copy first): the player's file is written while the
    visitor waits. ``tests/audio/test_export.py`` holds the bytes equal to libsndfile's conversion.
    """
    # float64 input is rounded in float64, as libsndfile's double path does (``d2flac16``). Channel by
    # channel on contiguous rows, interleaved only by the final cast: scaling the transposed take read it
    # with a stride and took twice as long (0.04 -> 0.02 s per minute of stereo).
    frames = np.empty((audio.shape[-1], audio.shape[0]), dtype="<i2")
    scaled = np.empty(audio.shape[-1], dtype=np.result_type(audio.dtype, np.float32))
    for channel, samples in enumerate(audio):
        np.multiply(samples, 32768.0, out=scaled, casting="same_kind")
        np.rint(scaled, out=scaled)
        np.clip(scaled, -32768.0, 32767.0, out=scaled)
        frames[:, channel] = scaled
    return frames


def _write_flac16(audio: np.ndarray, sample_rate: int, path: Path, subtype: str) -> None:
    # The player's stream: speed first, so libFLAC's fastest level (soundfile's 0.0). On the tiny model's
    # noise-like minute of stereo: 10.6 MB at 0.0, 9.1 MB at 0.5, 8.8 MB at 1.0 (the slowest), which
    # took twice the CPU of 0.0. The 24-bit downloads, written in the background, keep the default.
    _write_through_memory(
        path, pcm16_like_libsndfile(audio), sample_rate, subtype="PCM_16", format="FLAC", compression_level=0.0
    )


def _write_mp3(audio: np.ndarray, sample_rate: int, path: Path, subtype: str) -> None:
    if sample_rate not in MP3_SAMPLE_RATES:
        rates = ", ".join(str(rate) for rate in MP3_SAMPLE_RATES)
        raise StudioError(
            f"MP3 at {MP3_BITRATE_KBPS} kbps needs a sample rate of {rates} Hz, but this song is "
            f"{sample_rate} Hz; export it as WAV or FLAC instead."
        )
    pcm = np.round(np.clip(audio.astype(np.float64, copy=False), -1.0, 1.0) * 32767.0).astype("<i2")
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(MP3_BITRATE_KBPS)  # constant bit rate: lameenc leaves VBR off
    encoder.set_in_sample_rate(sample_rate)
    encoder.set_channels(audio.shape[0])
    encoder.set_quality(_LAME_QUALITY)
    encoded = encoder.encode(np.ascontiguousarray(pcm.T).tobytes()) + encoder.flush()
    path.write_bytes(bytes(encoded))


# Every format the studio writes, each stated once; lossless first (the stems zip takes the first one a
# song has: studio.audio.bundle).
FORMATS: dict[str, AudioFormat] = {
    "wav": AudioFormat("wav", ".wav", "WAV, 24-bit PCM", _write_soundfile("WAV", "PCM_24"), write_wav_tags),
    "flac": AudioFormat("flac", ".flac", "FLAC, 24-bit lossless", _write_soundfile("FLAC", "PCM_24"), write_flac_tags),
    # What the player streams (studio.finishing.PLAYER_FORMAT): written while the visitor waits, so
    # speed first. FLAC at libsndfile's lowest compression level encodes a minute of stereo in about
    # a tenth of the time LAME at quality 2 needs (bench/zerogpu_window.py), plays in every current
    # browser (gradio's processing_utils.PLAYABLE_AUDIO_CODECS lists (".flac", "flac")) and is
    # lossless at CD resolution, so the visitor hears no less than the 320 kbps MP3 download.
    "flac16": AudioFormat(
        "flac16",
        ".flac",
        "FLAC, 16-bit lossless (the player's stream)",
        _write_flac16,
        write_flac_tags,
        offered=False,
    ),
    "mp3": AudioFormat("mp3", ".mp3", f"MP3, {MP3_BITRATE_KBPS} kbps CBR", _write_mp3, write_mp3_tags),
}


OFFERED = ", ".join(name for name, kind in FORMATS.items() if kind.offered)


def audio_format(name: str) -> AudioFormat:
    key = str(name).lower().lstrip(".")
    if key not in FORMATS:
        raise StudioError(f"Unknown format `{name}`; choose one of {OFFERED}.")
    return FORMATS[key]


def slugify(text: str, *, fallback: str = "song", max_length: int = 80) -> str:
    """A file-name-safe stem from a title: ``"Ça va? (Live)"`` -> ``"ca-va-live"``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^A-Za-z0-9]+", "-", ascii_text).strip("-").lower()[:max_length].strip("-")
    return slug or fallback


def target_path(path: str | os.PathLike[str], fmt: AudioFormat) -> Path:
    """``out/song`` -> ``out/song.mp3``; ``out/song.raw`` -> ``out/song.raw.wav``; keeps ``x.mp3``."""
    target = Path(path)
    if target.suffix.lower() == fmt.extension:
        return target
    return target.with_name(target.name + fmt.extension)


def export(
    audio: np.ndarray,
    sample_rate: int,
    path: str | os.PathLike[str],
    fmt: str | None = None,
    card: SongCard | None = None,
    *,
    subtype: str = "",
    sidecar: bool = True,
    draft: Path | None = None,
) -> Path:
    """Write ``audio`` ([channels, samples] float in [-1, 1]) as ``fmt`` and return the path.

    ``fmt`` defaults to the path's extension. With a ``card``, the file is tagged with it and
    (unless ``sidecar=False``) ``<name>.song.json`` is written beside it. ``subtype`` overrides
    the soundfile subtype for WAV/FLAC (``"FLOAT"`` keeps overs above full scale). ``draft`` is this
    very audio written already by :func:`write_draft` for this path and format: it is tagged and renamed
    instead of encoding again (removed if tagging or renaming it fails).
    """
    if fmt is None and not Path(path).suffix:
        raise StudioError(f"Say which format to write `{path}` as ({OFFERED}), or add an extension.")
    kind = audio_format(fmt if fmt is not None else Path(path).suffix)
    sample_rate = check_sample_rate(sample_rate)
    # float32 stays float32: every writer converts to its own integers, and a float64 copy of a
    # 3-minute take is 83 MB written and read again while the visitor waits for the player's file.
    data = as_channels_first(audio, what="the audio to export", dtype=None)
    target = target_path(path, kind)
    temporary = draft if draft is not None else _temporary_beside(target)
    try:
        if draft is None:
            kind.write(data, sample_rate, temporary, subtype)
        if card is not None:
            kind.tag(temporary, card)
        os.replace(temporary, target)
    except OSError as error:
        raise unwritable(target, error) from error
    except soundfile.LibsndfileError as error:
        raise StudioError(
            f"Could not write `{target.name}` as {kind.description}: {error}; try another format."
        ) from error
    finally:
        temporary.unlink(missing_ok=True)
    if card is not None and sidecar:
        write_sidecar(card, target)
    return target


def write_draft(audio: np.ndarray, sample_rate: int, path: str | os.PathLike[str], fmt: str) -> Path:
    """``audio`` written as ``fmt`` (untagged) to a temporary file beside ``path``'s target, for
    :func:`export`'s ``draft``; the caller removes it if it is not used. Nothing is left on an error."""
    kind = audio_format(fmt)
    sample_rate = check_sample_rate(sample_rate)
    data = as_channels_first(audio, what="the audio to export", dtype=None)
    temporary = _temporary_beside(target_path(path, kind))
    try:
        kind.write(data, sample_rate, temporary, "")
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def _temporary_beside(target: Path) -> Path:
    """An empty, hidden file in ``target``'s folder (made if missing), so the final rename stays atomic."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
        os.close(handle)
    except OSError as error:
        raise unwritable(target, error) from error
    return Path(name)


__all__ = [
    "FORMATS",
    "MP3_BITRATE_KBPS",
    "AudioFormat",
    "audio_format",
    "export",
    "slugify",
    "target_path",
    "write_draft",
]
