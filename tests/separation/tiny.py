"""A tiny random HTDemucs saved the way demucs 4.1 publishes its weights on the Hub.

The layout is the one ``demucs/hf.py`` reads and adefossez/demucs ``tools/export_hf.py`` writes:
``<name>.yaml`` with ``models: [<sig>]`` and ``<sig>.safetensors`` whose metadata holds ``klass``
and the init ``args`` / ``kwargs`` as JSON (a Fraction as ``{"_type": "fraction", ...}``).
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf

FOUR = ("drums", "bass", "other", "vocals")
SIX = ("drums", "bass", "other", "vocals", "guitar", "piano")


def _json(value):
    if isinstance(value, Fraction):
        return {"_type": "fraction", "numerator": value.numerator, "denominator": value.denominator}
    raise TypeError(type(value))


def tiny_htdemucs(sources=FOUR, segment: Fraction = Fraction(1), seed: int = 0):
    """demucs' own HTDemucs with a few channels and one transformer layer (~85 k parameters)."""
    import torch
    from demucs.htdemucs import HTDemucs

    torch.manual_seed(seed)
    return HTDemucs(
        sources=list(sources), channels=4, depth=4, nfft=4096, t_layers=1, t_heads=1, t_hidden_scale=1.0,
        dconv_comp=4, segment=segment, samplerate=44_100, norm_starts=10,
    ).eval()


def save_published_layout(model, folder: Path, name: str = "htdemucs", sig: str = "0a1b2c3d",
                          klass: str = "demucs.htdemucs.HTDemucs", extra: dict | None = None) -> Path:
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    args, kwargs = model._init_args_kwargs  # recorded by demucs.states.capture_init
    metadata = {"klass": klass, "args": json.dumps(list(args), default=_json),
                "kwargs": json.dumps(kwargs, default=_json), **(extra or {})}
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, folder / f"{sig}.safetensors", metadata=metadata)
    (folder / f"{name}.yaml").write_text(f"models: ['{sig}']\n")
    return folder


def make_song(path: Path, seconds: float = 2.0, rate: int = 48_000, channels: int = 2, seed: int = 1) -> Path:
    """A short 'song': a bass tone, a melody and a noise hi-hat, at a normal level."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    mono = 0.3 * np.sin(2 * np.pi * 55 * t) + 0.2 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(t.size)
    data = np.stack([mono * (1.0 - 0.1 * c) for c in range(channels)], axis=1).astype(np.float32)
    sf.write(path, data, rate, subtype="PCM_24")
    return path
