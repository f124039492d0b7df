"""A look-ahead true-peak limiter that works on whole takes (offline, so no delay line).

The gain curve never exceeds the gain each sample needs, yet moves smoothly:

1. ``need[n]`` brings the oversampled peak around sample ``n`` down to the ceiling.
2. A sliding minimum over +-half the look-ahead, then two box filters whose combined reach stays
   inside that window: every averaged value is <= ``need[n]``, and the gain ramps down along an
   S-curve over the look-ahead *before* the peak arrives instead of clipping it.
3. Release: the gain follows any further reduction at once (already smooth from step 2) but comes
   back at a fixed rate in dB per second, so bass is not modulated into distortion. This is a
   running maximum, so it vectorises.
4. Planning happens on a 0.2 ms grid of cells; a knot between two cells takes the smaller gain
   and samples are interpolated linearly between knots, so interpolation cannot overshoot.

Gain modulation slightly reshapes the waveform between samples, so the regions the limiter touched
are measured again and the ceiling tightened by any excess (a few passes; a final static trim keeps
the promise whatever happens).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import maximum_filter1d, minimum_filter1d, uniform_filter1d

from studio.audio.loudness import from_db
from studio.audio.peaks import CONTEXT, peak_within

_PASSES = 4
# Aim a hair under the ceiling (and accept half of that) so that meters reading between
# oversampled points differently still see the ceiling respected.
SAFETY_DB = 0.2
# Candidate stretches closer than this (samples) are measured together.
_MERGE_GAP = 4096
# Gain is planned on a grid this fine (seconds); fine enough that steps are inaudible.
_CELL_S = 0.0002
# Gain curves this smooth move the reconstructed waveform by far less than this between samples.
_RECHECK_DB = 2.0


@dataclass(frozen=True)
class LimiterResult:
    audio: np.ndarray
    max_reduction_db: float  # deepest gain reduction applied (0.0 when nothing was touched)
    true_peak: float  # linear true peak of ``audio``


def limiter_bites(peak: float, ceiling_dbtp: float) -> bool:
    """Whether :func:`limit_true_peak` changes audio whose true peak (linear) is ``peak``; where it does
    not, it hands the audio back untouched."""
    return peak > from_db(ceiling_dbtp) * from_db(-SAFETY_DB / 2)


def limit_true_peak(
    audio: np.ndarray,
    sample_rate: int,
    envelope: np.ndarray,
    *,
    ceiling_dbtp: float,
    lookahead_ms: float,
    release_db_per_s: float,
    oversample: int,
) -> LimiterResult:
    """Keep the true peak of ``audio`` ([channels, samples]) at or below ``ceiling_dbtp``.

    ``envelope`` is ``peaks.true_peak_envelope(audio, oversample)``; it is passed in so callers
    trying several drive levels measure the source once and scale the envelope.
    """
    ceiling = from_db(ceiling_dbtp)
    accept = ceiling * from_db(-SAFETY_DB / 2)
    aim = ceiling * from_db(-SAFETY_DB)
    if envelope.size == 0 or not limiter_bites(float(envelope.max()), ceiling_dbtp):
        return LimiterResult(audio, 0.0, float(envelope.max(initial=0.0)))

    cell = max(1, round(sample_rate * _CELL_S))
    cell_peaks = _per_cell(envelope, cell, np.max)
    for _ in range(_PASSES):
        knots = _plan(cell_peaks, cell, sample_rate, aim, lookahead_ms, release_db_per_s)
        gain = _expand(knots, cell, envelope.size)
        out = audio * gain
        peak = _peak_after(out, cell_peaks, knots, cell, oversample)
        if peak <= accept:
            break
        aim *= accept / peak
    if peak > accept:
        out, gain, peak = out * (accept / peak), gain * (accept / peak), accept
    return LimiterResult(out, float(-20.0 * math.log10(gain.min())), peak)


def _per_cell(values: np.ndarray, cell: int, reduce: Callable[..., np.ndarray]) -> np.ndarray:
    cells = -(-values.size // cell)
    whole = values.size // cell
    head = reduce(values[: whole * cell].reshape(whole, cell), axis=1)
    if whole == cells:
        return head
    return np.append(head, reduce(values[whole * cell :]))


def _peak_after(out: np.ndarray, cell_peaks: np.ndarray, knots: np.ndarray, cell: int, oversample: int) -> float:
    """True peak of ``out``, re-measured only in cells that could be near the ceiling.

    Where the planned peak stays more than :data:`_RECHECK_DB` under the loudest one, a gain this
    smooth cannot lift the reconstructed waveform that far, so the known envelope stands.
    """
    predicted = cell_peaks * np.maximum(knots[:-1], knots[1:])
    top = float(predicted.max(initial=0.0))
    close = predicted >= top * from_db(-_RECHECK_DB)
    # Reconstruction depends on CONTEXT samples either side, and nearby stretches are cheaper
    # to measure in one call than in many.
    reach = 1 + -(-(CONTEXT + _MERGE_GAP) // cell)
    close = maximum_filter1d(close.astype(np.int8), size=2 * reach + 1, mode="constant") > 0
    peak = float(predicted[~close].max(initial=0.0))
    edges = np.flatnonzero(np.diff(np.concatenate(([0], close.astype(np.int8), [0]))))
    samples = out.shape[-1]
    for first, last in zip(edges[::2], edges[1::2], strict=True):
        start, stop = int(first) * cell, min(samples, int(last) * cell)
        peak = max(peak, peak_within(out, start, stop, oversample))
    return peak


def _plan(
    cell_peaks: np.ndarray,
    cell: int,
    sample_rate: int,
    ceiling: float,
    lookahead_ms: float,
    release_db_per_s: float,
) -> np.ndarray:
    """Gain at every cell boundary (``cells + 1`` knots); linear between knots it stays below
    every sample's need."""
    # A cell also guards its neighbours: covers the interval ending at a cell's first sample.
    need = np.minimum(1.0, ceiling / np.maximum(cell_peaks, 1e-12))
    need = minimum_filter1d(need, size=3, mode="nearest")

    quarter = max(1, round(lookahead_ms / 1000.0 * sample_rate / cell / 4.0))
    held = minimum_filter1d(need, size=4 * quarter + 1, mode="nearest")
    smooth = uniform_filter1d(held, size=2 * quarter + 1, mode="nearest")
    smooth = uniform_filter1d(smooth, size=2 * quarter + 1, mode="nearest")
    smooth = np.minimum(smooth, need)  # running sums can round a hair above the bound

    # Release, linear in dB: reduction[n] = max over k <= n of (r[k] - (n - k) * rate).
    reduction = -20.0 * np.log10(smooth)
    ramp = np.arange(reduction.size) * (release_db_per_s * cell / sample_rate)
    planned = 10.0 ** (-(np.maximum.accumulate(reduction + ramp) - ramp) / 20.0)
    # A knot between two cells takes the smaller gain, so the line across a cell stays below it.
    return np.minimum(np.concatenate(([planned[0]], planned)), np.concatenate((planned, [planned[-1]])))


def _expand(knots: np.ndarray, cell: int, samples: int) -> np.ndarray:
    """One gain per sample, linear between knots."""
    fraction = np.arange(cell) / cell
    gain = knots[:-1, None] + (knots[1:] - knots[:-1])[:, None] * fraction[None, :]
    return gain.reshape(-1)[:samples]
