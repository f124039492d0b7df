"""Integrated loudness after ITU-R BS.1770-4, vectorised, with fallbacks for what it cannot measure.

The K-weighting filters are designed by pyloudnorm (``pyloudnorm.iirfilter``) for any sample
rate; the gating is done here with cumulative sums, because pyloudnorm's per-block Python loop
takes seconds on a 4-minute stereo take and mastering measures several times. The tests check
this meter against ``pyloudnorm.Meter``.

Fallbacks, so that no caller ever sees NaN or infinity:

* at least one 400 ms gating block: gated integrated loudness (absolute -70 LUFS and relative
  -10 LU gates, 75 % block overlap);
* shorter clips, down to :data:`MIN_MEASURABLE_S`: the K-weighted mean square over the whole clip
  as one block (what a momentary meter would show), gated only by -70 LUFS;
* anything shorter, digital silence, or material entirely below -70 LUFS: no reading (``None``);
  mastering then leaves the level alone instead of amplifying a noise floor.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

import numpy as np
from pyloudnorm.iirfilter import IIRfilter
from scipy.signal import sosfilt, tf2sos

from studio.audio.cores import usable_cores

GATING_BLOCK_S = 0.4
BLOCK_OVERLAP = 0.75
# Below ~10 ms the K-weighting high-pass (38 Hz) has not even begun to settle.
MIN_MEASURABLE_S = 0.01
ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
# Below about a second of audio a thread costs more than the filtering it shares.
_PARALLEL_FROM = 48000


class LoudnessMethod(str, Enum):
    GATED = "gated"  # BS.1770 integrated, 400 ms blocks, absolute and relative gates
    SINGLE_BLOCK = "single_block"  # shorter than one gating block: one block over the clip
    UNMEASURABLE = "unmeasurable"  # silence, below the absolute gate, or too short


@dataclass(frozen=True)
class LoudnessReading:
    lufs: float | None
    method: LoudnessMethod


@lru_cache(maxsize=8)
def _k_weighting(sample_rate: int) -> np.ndarray:
    """BS.1770 pre-filter (high shelf, then RLB high-pass) as second-order sections."""
    stages = (
        IIRfilter(4.0, 1 / np.sqrt(2), 1500.0, sample_rate, "high_shelf"),
        IIRfilter(0.0, 0.5, 38.0, sample_rate, "high_pass"),
    )
    return np.concatenate([tf2sos(stage.b * stage.passband_gain, stage.a) for stage in stages])


@dataclass(frozen=True)
class BlockPowers:
    """Mean square of the K-weighted signal per channel and gating block (``[channels, blocks]``).

    K-weighting is linear, so the audio scaled by a gain has these powers times the gain squared:
    mastering measures a take once and reads the loudness of any plain gain change from here."""

    powers: np.ndarray
    method: LoudnessMethod


def block_powers(audio: np.ndarray, sample_rate: int) -> BlockPowers | None:
    """The gating blocks of ``audio`` ([channels, samples], finite floats); None when there is
    nothing to measure (shorter than :data:`MIN_MEASURABLE_S`, or digital silence)."""
    duration = audio.shape[-1] / sample_rate
    if duration < MIN_MEASURABLE_S or not np.any(audio):
        return None
    if duration >= GATING_BLOCK_S:
        block_s, method = GATING_BLOCK_S, LoudnessMethod.GATED
    else:
        block_s, method = duration, LoudnessMethod.SINGLE_BLOCK
    return BlockPowers(_block_powers(audio, sample_rate, block_s), method)


def _block_powers(audio: np.ndarray, sample_rate: int, block_s: float) -> np.ndarray:
    # float32 filtering: half the time of float64 on a take, and the loudness moves by < 1e-3 LU
    # (tests/audio/test_loudness.py holds it to pyloudnorm); sums are taken in float64.
    squared = _k_weighted(np.asarray(audio, dtype=np.float32), sample_rate)
    np.square(squared, out=squared)
    channels, samples = squared.shape
    block = round(block_s * sample_rate)
    hop = round(block_s * (1.0 - BLOCK_OVERLAP) * sample_rate)
    hops_per_block = round(1.0 / (1.0 - BLOCK_OVERLAP))
    if block != hop * hops_per_block:  # single block over a short clip
        return squared.sum(axis=-1, keepdims=True, dtype=np.float64) / block
    blocks = round((samples / sample_rate - block_s) / (block_s * (1.0 - BLOCK_OVERLAP))) + 1
    # Sum each hop once, then add hops_per_block neighbouring hop sums per block.
    hops = min(-(-samples // hop), blocks + hops_per_block - 1)
    whole = min(samples // hop, hops)
    hop_sums = np.zeros((channels, hops))
    hop_sums[:, :whole] = squared[:, : whole * hop].reshape(channels, whole, hop).sum(axis=-1, dtype=np.float64)
    if whole < hops:  # a last, partial hop: the samples past the end count as silence
        hop_sums[:, whole] = squared[:, whole * hop : hops * hop].sum(axis=-1, dtype=np.float64)
    window = np.lib.stride_tricks.sliding_window_view(hop_sums, hops_per_block, axis=-1)
    return window[:, :blocks].sum(axis=-1) / block


def _k_weighted(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """The K-weighted take, float32, its channels filtered side by side: mastering measures the loudness
    before the player's file can be written (studio.finishing), and scipy's ``sosfilt`` releases the GIL,
    so a second channel on a second core halves that wait (0.049 -> 0.028 s per minute of stereo on the
    2-core dev machine). Each channel is the same call either way, so the numbers are too."""
    sos = _k_weighting(sample_rate).astype(np.float32)
    channels = samples.shape[0]
    if channels == 1 or samples.shape[-1] < _PARALLEL_FROM or usable_cores() == 1:
        return sosfilt(sos, samples, axis=-1)
    filtered = np.empty(samples.shape, dtype=np.float32)

    def filter_channel(channel: int) -> None:
        filtered[channel] = sosfilt(sos, samples[channel])

    others = [threading.Thread(target=filter_channel, args=(c,), name="k-weighting") for c in range(1, channels)]
    for other in others:
        other.start()
    try:
        filter_channel(0)
    finally:
        for other in others:
            other.join()
    return filtered


def _lufs(power: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return -0.691 + 10.0 * np.log10(power)


def integrated_loudness(audio: np.ndarray, sample_rate: int) -> LoudnessReading:
    """Loudness of ``audio`` ([channels, samples], finite floats; L and R weighted 1.0) in LUFS."""
    return gated_loudness(block_powers(audio, sample_rate))


def gated_loudness(blocks: BlockPowers | None, gain: float = 1.0) -> LoudnessReading:
    """Integrated loudness from measured blocks, of the audio scaled by ``gain`` (linear)."""
    if blocks is None or gain <= 0.0:
        return LoudnessReading(None, LoudnessMethod.UNMEASURABLE)
    powers = blocks.powers * (gain * gain)
    block_lufs = _lufs(powers.sum(axis=0))
    kept = block_lufs >= ABSOLUTE_GATE_LUFS
    if not kept.any():
        return LoudnessReading(None, LoudnessMethod.UNMEASURABLE)
    relative_gate = float(_lufs(powers[:, kept].mean(axis=1).sum())) + RELATIVE_GATE_LU
    kept &= block_lufs > relative_gate
    if not kept.any():  # pragma: no cover - the loudest block always passes the relative gate
        return LoudnessReading(None, LoudnessMethod.UNMEASURABLE)
    lufs = float(_lufs(powers[:, kept].mean(axis=1).sum()))
    if not np.isfinite(lufs):
        return LoudnessReading(None, LoudnessMethod.UNMEASURABLE)
    return LoudnessReading(lufs, blocks.method)


def to_db(linear: float) -> float | None:
    """Decibels of a linear amplitude; ``None`` for zero, so nothing downstream sees -inf."""
    return None if linear <= 0.0 else float(20.0 * np.log10(linear))


def from_db(db: float) -> float:
    return float(10.0 ** (db / 20.0))
