"""Splitting audio with a loaded separator on CUDA, MPS or the CPU (model work only: no files)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from studio.audio.upload import resample
from studio.ground.progress import ProgressEvent, ProgressFn, no_progress
from studio.ground.vocabulary import DeviceClass
from studio.separation.catalog import StemSet
from studio.separation.loader import LoadedSeparator

# MPS refuses a conv1d whose output is longer than 65 536 samples (project notes, DESIGN.md "Real
# checkpoints and devices"; PYTORCH_ENABLE_MPS_FALLBACK does not cover it).
MPS_CONV1D_MAX_OUTPUT = 65_536
# Chunks overlap by a quarter and are cross-faded: demucs' own default (apply_model, `overlap`).
OVERLAP = 0.25
STAGE = "separate"


def chunk_samples(separator: LoadedSeparator) -> int:
    """Samples in one chunk the model sees. HTDemucs pads every chunk to its training segment
    (``demucs/htdemucs.py`` forward, ``use_train_segment``), so a shorter ``segment`` cannot make a
    chunk smaller, and its time branch's last transposed conv outputs the whole chunk."""
    return int(separator.segment_s * separator.samplerate)


def device_for(kind: DeviceClass, torch_device: str, separator: LoadedSeparator) -> tuple[str, str | None]:
    """Where to run, and the sentence saying why when it is not where the studio runs.

    On MPS a chunk longer than the conv limit cannot run at all (the published HTDemucs chunk is
    7.8 s x 44.1 kHz = 343 980 samples), so the separator runs on the CPU there and says so."""
    if kind is DeviceClass.MPS and chunk_samples(separator) > MPS_CONV1D_MAX_OUTPUT:
        return "cpu", (
            f"stems were separated on the CPU: {separator.weights.display_name} works in chunks of "
            f"{chunk_samples(separator):,} samples and MPS refuses convolutions longer than "
            f"{MPS_CONV1D_MAX_OUTPUT:,}."
        )
    return torch_device, None


def separate(
    separator: LoadedSeparator,
    audio: np.ndarray,
    sample_rate: int,
    stem_set: StemSet,
    *,
    device: str = "cpu",
    progress: ProgressFn = no_progress,
) -> dict[str, np.ndarray]:
    """``audio`` ([2, n] float32 at ``sample_rate``) -> ``{stem: [2, n]}`` at the same rate and length.

    The stems keep the mix's level: demucs normalises the input by its standard deviation and the
    output is scaled back (``demucs/api.py`` Separator.separate_tensor does the same), so the stems of
    a song add up to that song, not to a louder or quieter copy."""
    import torch
    from demucs.apply import apply_model

    model_rate = separator.samplerate
    length = audio.shape[-1]
    mix = resample(audio, sample_rate, model_rate) if sample_rate != model_rate else audio
    wav = torch.from_numpy(np.ascontiguousarray(mix, dtype=np.float32))
    reference = wav.mean(0)
    mean, std = reference.mean(), reference.std() + 1e-8
    stride = int((1 - OVERLAP) * chunk_samples(separator))
    models = len(getattr(separator.model, "models", [separator.model]))
    total = models * len(range(0, wav.shape[-1], stride))
    done = 0
    progress(ProgressEvent(STAGE, 0, total, "splitting the song"))

    def step(info: Mapping) -> None:
        nonlocal done
        if info.get("state") == "end":
            done += 1
            progress(ProgressEvent(STAGE, min(done, total), total))

    with torch.inference_mode():
        out = apply_model(
            separator.model, ((wav - mean) / std)[None], shifts=0, split=True, overlap=OVERLAP,
            device=device, callback=step,
        )[0]
    # demucs adds the mix's mean back to every source; shared out instead, the stems' sum keeps the
    # mix's own offset rather than several copies of it.
    out = (out * std + mean / out.shape[0]).float().cpu().numpy()
    by_source = {name: out[i] for i, name in enumerate(separator.sources)}
    stems: dict[str, np.ndarray] = {}
    for name, parts in stem_set.groups:
        summed = np.sum([by_source[p] for p in parts], axis=0, dtype=np.float32)
        if sample_rate != model_rate:
            summed = resample(summed, model_rate, sample_rate)
        stems[name] = _fit_length(summed, length)
    return stems


def _fit_length(audio: np.ndarray, length: int) -> np.ndarray:
    """Resampling there and back can leave a sample more or less than the mix."""
    if audio.shape[-1] >= length:
        return np.ascontiguousarray(audio[..., :length], dtype=np.float32)
    return np.pad(audio, ((0, 0), (0, length - audio.shape[-1]))).astype(np.float32)
