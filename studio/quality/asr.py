"""Hear the words a take sings: Whisper through transformers' ``automatic-speech-recognition``
pipeline, with word timestamps (cross-attention + DTW, transformers ``generation_whisper``).

The model comes through the studio's weights path (a Hub id fetched once into the HF cache, or a
local folder), chosen by ``--asr-model`` or ``STUDIO_ASR_MODEL``. A tiny random Whisper saved in
the same layout loads through exactly this code in the tests.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import numpy as np

from studio import devices, settings, weights
from studio.ground.errors import StudioError
from studio.ground.vocabulary import DeviceClass
from studio.quality.report import Word

ASR_MODEL_ENV = settings.ASR_MODEL.name
# Whisper large-v3 with 4 decoder layers instead of 32: ~8x faster decoding than large-v3 for
# about the same word error rate (model card of openai/whisper-large-v3-turbo), 1.6 GB in fp16.
DEFAULT_ASR_MODEL = "openai/whisper-large-v3-turbo"
ASR_DOWNLOAD_GB = 1.6
# Whisper hears 16 kHz audio in 30 s windows (WhisperFeatureExtractor's defaults).
ASR_RATE = 16_000
CHUNK_S = 30.0
# What a Whisper folder needs; the .bin/.msgpack/.h5 copies of other frameworks are not fetched.
_FILES = ["*.json", "*.txt", "*.safetensors", "*.tiktoken"]

log = logging.getLogger(__name__)


def asr_location(explicit: str | None = None) -> str:
    return weights.choose(explicit, ASR_MODEL_ENV, DEFAULT_ASR_MODEL)


def prefetch_asr(location: str | None = None) -> None:
    """Download the ASR weights off the GPU's clock (as backends do with their own)."""
    _folder(asr_location(location))


def _folder(location: str, on_progress=None):
    return weights.fetch(location, what="Whisper (lyric check)", env_var=ASR_MODEL_ENV, flag="--asr-model",
                         allow_patterns=_FILES, on_progress=on_progress)


@dataclass
class Transcriber:
    """A loaded Whisper pipeline. ``words(audio)`` -> the words heard, with times in seconds."""

    location: str
    pipe: object

    def words(self, audio: np.ndarray, sample_rate: int, language: str | None = None) -> list[Word]:
        import soxr

        y = np.asarray(audio, dtype=np.float32)
        y = y if y.ndim == 1 else y.mean(axis=0)
        if sample_rate != ASR_RATE:
            y = soxr.resample(y, sample_rate, ASR_RATE).astype(np.float32)
        generate = {"task": "transcribe"}
        if language:
            generate["language"] = language  # else Whisper detects it per 30 s window
        out = self.pipe({"raw": y, "sampling_rate": ASR_RATE}, return_timestamps="word",
                        chunk_length_s=CHUNK_S, generate_kwargs=generate)
        words = []
        for chunk in out.get("chunks", ()):
            start, end = chunk.get("timestamp", (None, None))
            words.append(Word(text=chunk["text"], start=_seconds(start), end=_seconds(end)))
        return words


def _seconds(value) -> float | None:
    return None if value is None else round(float(value), 3)


_LOADED: dict[tuple[str, str], Transcriber] = {}
_LOCK = threading.Lock()


def is_loaded(location: str | None = None) -> bool:
    """Whether Whisper for ``location`` is already loaded in this process (on any device)."""
    return any(loc == asr_location(location) for loc, _ in _LOADED)


def where() -> devices.DeviceInfo:
    """The device the check runs on: this process's own. On ZeroGPU the GPU belongs to the forked
    worker during the window only; the check, after it, runs on the main process's CPU."""
    info = devices.detect()
    return devices.detect("cpu") if info.kind is DeviceClass.ZEROGPU else info


def load_transcriber(location: str | None = None, *, device: str | None = None, on_progress=None) -> Transcriber:
    """The Whisper pipeline for ``location`` (loaded once per process and device)."""
    import torch
    from transformers import pipeline

    location = asr_location(location)
    # The studio's device (STUDIO_DEVICE included), except on ZeroGPU, where this process's CUDA is
    # only a stand-in outside the GPU window: the check runs after it, on the CPU (where() below).
    device = device or where().torch_device
    key = (location, device)
    with _LOCK:
        if key not in _LOADED:
            folder = _folder(location, on_progress)
            if on_progress:
                on_progress(f"loading Whisper from {location}")
            # fp16 on a GPU as the model card runs it; fp32 on the CPU, where fp16 matmuls are slow or missing.
            dtype = torch.float16 if device.startswith("cuda") else torch.float32
            try:
                pipe = pipeline("automatic-speech-recognition", model=str(folder), device=device, dtype=dtype)
            except (OSError, ValueError) as exc:  # transformers' "can't load" / "Unrecognized model"
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise StudioError(
                    f"{folder} is not a Whisper checkpoint transformers can load ({first}); point "
                    f"{ASR_MODEL_ENV} or --asr-model at a folder laid out like {DEFAULT_ASR_MODEL}, or a Hub id."
                ) from exc
            _LOADED[key] = Transcriber(location=location, pipe=pipe)
        return _LOADED[key]
