"""The words every layer uses for devices, lyric dialects and request fields, as enums."""

from __future__ import annotations

import enum


class LyricDialect(str, enum.Enum):
    """The strict lyric format a model was trained on (rendered by ``studio.lyrics``)."""

    ACESTEP = "acestep"
    LEVO2 = "levo2"
    HEARTMULA = "heartmula"


class Input(str, enum.Enum):
    """Request fields a backend understands; the UI shows a control only for these."""

    STYLE = "style"
    LYRICS = "lyrics"
    INSTRUMENTAL = "instrumental"
    DURATION = "duration"
    BPM = "bpm"
    KEY = "key"
    TIME_SIGNATURE = "time_signature"
    LANGUAGE = "language"
    SEED = "seed"
    TAKES = "takes"
    DESCRIPTION = "description"
    SOURCE_AUDIO = "source_audio"
    REFERENCE_AUDIO = "reference_audio"


class DeviceClass(str, enum.Enum):
    ZEROGPU = "zerogpu"
    CUDA = "cuda"
    MPS = "mps"
    CPU = "cpu"
