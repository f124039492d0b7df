"""True-peak measurement: polyphase oversampling plus a parabolic refinement.

A 4x oversampled meter reads low between its own grid points (by up to ~0.7 dB near Nyquist,
~0.1 dB on typical music). Fitting a parabola through the largest grid value of each sample
interval and its two neighbours recovers most of that, so the limiter's promise also holds for
meters that oversample further. Work is done in float32 chunks so that a 4-minute stereo take
never needs its whole 4x copy in memory.

The interpolation is one matrix product per chunk and channel (a block-Toeplitz matrix holding the
filter's phases between samples), not ``scipy.signal.resample_poly``: upfirdn's scalar loop took
~1 s per minute of stereo audio and sits on the way to a playable song; BLAS does the same sums
several times faster. The output is the same up to float32 rounding (``tests/audio/test_peaks.py``
holds it against ``resample_poly``). Everything after the product works on one contiguous row per
phase, with arithmetic instead of numpy's per-row and masked selections: those cost more than the
product itself (0.25 -> ~0.13 CPU s for a minute of stereo on the 2-core dev machine).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import numpy as np
from scipy.signal import firwin
from threadpoolctl import ThreadpoolController

from studio.audio.cores import usable_cores

# A true-peak reading's oversampling (BS.1770-4's minimum at 48 kHz): what the take's checks read.
TRUE_PEAK_OVERSAMPLE = 4
_CHUNK = 1 << 17
# Input samples of context on each side of a chunk; the interpolation filter reaches 20.
CONTEXT = 24
# Input samples per row of the block-Toeplitz product. Wider rows waste more multiplications on the
# matrix's zeros but keep BLAS busier; 64 was the fastest of 16..256 measured on this machine.
_BLOCK = 64


@lru_cache(maxsize=4)
def _interpolation_filter(oversample: int) -> np.ndarray:
    """Interpolation low-pass, designed once: longer and steeper than scipy's default for
    ``resample_poly`` (40 instead of 20 taps per phase, Kaiser 8), so content just under Nyquist,
    which clipping and noise put there, is not read low."""
    return firwin(40 * oversample + 1, 1.0 / oversample, window=("kaiser", 8.0)).astype(np.float32)


@lru_cache(maxsize=4)
def _delay_tap(oversample: int) -> np.float32:
    """Phase 0's one tap: a windowed sinc with its cutoff at ``1 / oversample`` is zero at every
    ``oversample``-th tap but the centre (firwin leaves ~4e-17 there, the rounding of ``sin(pi * m)``), so
    the grid points on the samples are the samples scaled by this (1.0000192 for the 4x filter)."""
    h = _interpolation_filter(oversample).astype(np.float64) * oversample
    return np.float32(h[(h.size - 1) // 2])


@lru_cache(maxsize=4)
def _block_matrix(oversample: int) -> np.ndarray:
    """``rows @ matrix`` interpolates ``_BLOCK`` samples per row at the ``oversample - 1`` points
    between each sample and the next, phase-major (all of phase 1's points, then phase 2's...), from a
    row holding those samples plus the filter's reach on each side. With the samples themselves
    (phase 0, :func:`_delay_tap`) it is what ``resample_poly(x, oversample, 1, window=filter)``
    computes: output point ``oversample * n + p`` is ``oversample * sum_j h[oversample * j + p] *
    x[n + reach - j]`` (upfirdn on the zero-stuffed input, its group delay of ``reach`` input samples
    removed). Phase 0 is left out of the product: one nonzero tap in ``span`` made it a quarter of the
    multiplications."""
    h = _interpolation_filter(oversample).astype(np.float64) * oversample
    reach = (h.size - 1) // 2 // oversample
    span = 2 * reach + 1
    # Row offset t within a window holds x[n - reach + t], i.e. j = 2 * reach - t.
    index = oversample * (2 * reach - np.arange(span))[:, None] + np.arange(1, oversample)[None, :]
    phases = np.where(index < h.size, h[np.minimum(index, h.size - 1)], 0.0)
    matrix = np.zeros((_BLOCK + span - 1, oversample - 1, _BLOCK), dtype=np.float32)
    for i in range(_BLOCK):
        matrix[i : i + span, :, i] = phases
    return matrix.reshape(_BLOCK + span - 1, -1)


def _oversampled_magnitude(segment: np.ndarray, oversample: int) -> tuple[np.ndarray, int]:
    """``|resample_poly(segment, oversample, 1, window=filter)|``, the largest over channels, one row
    per phase (``[oversample, samples]``; phase 0 is on the samples): zeros beyond the segment's ends,
    as upfirdn pads. Rows, not the interleaved sequence: every later step then works on contiguous
    arrays (strided columns made numpy's loops several times slower than the products themselves)."""
    matrix = _block_matrix(oversample)
    span = matrix.shape[0] - _BLOCK + 1
    reach = span // 2
    channels, length = segment.shape
    rows = -(-length // _BLOCK)
    padded = np.zeros((channels, rows * _BLOCK + span - 1), dtype=np.float32)
    padded[:, reach : reach + length] = segment
    magnitude = np.empty((oversample, rows * _BLOCK), dtype=np.float32)
    np.multiply(np.abs(segment).max(axis=0), _delay_tap(oversample), out=magnitude[0, :length])
    magnitude[0, length:] = 0.0  # the rows' padding, as the products' (zeros beyond the segment)
    # [phase - 1, row, sample in row]: each row's products land phase-major, _BLOCK contiguous values each.
    between = magnitude[1:].reshape(oversample - 1, rows, _BLOCK)
    for i, channel in enumerate(padded):
        windows = np.lib.stride_tricks.as_strided(
            channel,
            shape=(rows, _BLOCK + span - 1),
            strides=(_BLOCK * channel.itemsize, channel.itemsize),
            writeable=False,
        )
        values = np.ascontiguousarray(windows) @ matrix
        np.abs(values, out=values)
        values = values.reshape(rows, oversample - 1, _BLOCK).transpose(1, 0, 2)
        if i == 0:
            between[...] = values
        else:
            np.maximum(between, values, out=between)
    return magnitude.reshape(-1), magnitude.shape[1]


def true_peak_envelope(audio: np.ndarray, oversample: int = TRUE_PEAK_OVERSAMPLE) -> np.ndarray:
    """For each input sample ``n``: the largest magnitude the reconstructed waveform (any channel)
    reaches in ``[n, n + 1)``. ``audio`` is a finite float ``[channels, samples]`` array."""
    with measuring_envelope(audio, oversample) as pending:
        return pending.result()


class PendingEnvelope:
    """A true-peak envelope being measured by helper threads, chunk by chunk, while its caller does other
    work; :meth:`result` has the caller measure the chunks still left, then waits for the helpers'.

    Why: on the way to a playable song the envelope (~0.13 CPU s per minute of stereo on the 2-core dev
    machine) ran on one thread beside the player's FLAC (studio.finishing); measured by helpers while the
    calling thread writes that file, and by the calling thread too once it is written, it finishes with it. Each chunk
    is measured by the same code on one BLAS thread whichever thread takes it, so the envelope's bits do
    not depend on how many helpers ran (tests/audio/test_peaks.py).
    """

    def __init__(self, audio: np.ndarray, oversample: int, helpers: int) -> None:
        self._audio, self._oversample = audio, oversample
        samples = audio.shape[-1]
        # float32 for a float32 take (every value is a float32 magnitude, or one of its samples): half the
        # memory and no float64 copy per chunk; a float64 take keeps float64 (its samples are not float32).
        self._envelope = np.empty(samples, dtype=np.result_type(audio.dtype, np.float32))
        self._starts = range(0, samples, _CHUNK) if oversample > 1 else range(0)
        self._taken = itertools.count()  # next() on it is atomic under the GIL: each chunk is taken once
        self._stop = threading.Event()
        self._failures: list[BaseException] = []
        wanted = min(helpers, len(self._starts) - 1)
        self._helpers = [
            threading.Thread(target=self._measure, name=f"true-peak-{i}", daemon=True) for i in range(max(0, wanted))
        ]
        for helper in self._helpers:
            helper.start()

    def _measure(self) -> None:
        try:
            while not self._stop.is_set() and (index := next(self._taken)) < len(self._starts):
                start = self._starts[index]
                stop = min(self._envelope.size, start + _CHUNK)
                self._envelope[start:stop] = _interval_peaks(self._audio, start, stop, self._oversample)
        except BaseException as failure:  # handed to the caller by result()
            self._failures.append(failure)
            self._stop.set()

    def result(self) -> np.ndarray:
        if self._oversample <= 1:
            return np.abs(self._audio).max(axis=0, initial=0.0)
        self._measure()
        self._join()
        if self._failures:
            raise self._failures[0]
        return self._envelope

    def cancel(self) -> None:
        """Stop taking chunks and wait for the helpers (each finishes the chunk it holds)."""
        self._stop.set()
        self._join()

    def _join(self) -> None:
        for helper in self._helpers:
            helper.join()


@contextmanager
def measuring_envelope(
    audio: np.ndarray, oversample: int = TRUE_PEAK_OVERSAMPLE, helpers: int | None = None
) -> Iterator[PendingEnvelope]:
    """Start measuring ``audio``'s true-peak envelope on ``helpers`` threads (default: one per other
    usable core, at most three); the block's :meth:`PendingEnvelope.result` returns it. Leaving the block
    stops the helpers and waits for them, whether or not the result was asked for."""
    if helpers is None:
        helpers = min(3, usable_cores() - 1)
    with _one_blas_thread():
        pending = PendingEnvelope(audio, oversample, helpers)
        try:
            yield pending
        finally:
            pending.cancel()  # nothing left to stop once result() returned


def true_peak(audio: np.ndarray, oversample: int = TRUE_PEAK_OVERSAMPLE) -> float:
    """Linear true peak of ``audio`` (0.0 for an empty array)."""
    return float(true_peak_envelope(audio, oversample).max(initial=0.0))


def peak_within(audio: np.ndarray, start: int, stop: int, oversample: int = 4) -> float:
    """Linear true peak of ``audio[:, start:stop]``, reconstructed in the context of the whole take."""
    peak = 0.0
    with _one_blas_thread():
        for chunk in range(start, stop, _CHUNK):
            values = _interval_peaks(audio, chunk, min(stop, chunk + _CHUNK), oversample)
            peak = max(peak, float(values.max()))
    return peak


_limit_lock = threading.Lock()
_limit_holders = 0
_limit: object | None = None


@contextmanager
def _one_blas_thread() -> Iterator[None]:
    """The interpolation's matrix products on one BLAS thread: OpenBLAS's threaded and single-thread
    kernels sum in different orders, so the envelope (and the limiter's gain, and the master's last bits)
    depended on how many threads ran — the player's file drafted beside mastering (one thread) differed
    from the same take mastered alone (two) in a fresh-clone CI run (tests/test_player_draft.py). One thread
    also keeps a loaded 2-core machine from spinning OpenBLAS's second thread; the envelope's own helper
    threads use the cores instead.

    The limit is process-wide, so it is counted: set by the first holder, restored by the last. Two
    overlapping measurements (a take's checks in the background writer while the next take is mastered)
    would otherwise restore it under each other's feet."""
    global _limit_holders, _limit
    with _limit_lock:
        if _limit_holders == 0:
            _limit = _blas().limit(limits=1, user_api="blas")
        _limit_holders += 1
    try:
        yield
    finally:
        with _limit_lock:
            _limit_holders -= 1
            if _limit_holders == 0 and _limit is not None:
                _limit.restore_original_limits()
                _limit = None


@lru_cache(maxsize=1)
def _blas() -> ThreadpoolController:
    # One scan of the loaded libraries per process (numpy's BLAS is loaded with numpy, before any call
    # here): ``threadpool_limits`` rescans on every entry (~0.5 ms), and the limiter calls ``peak_within``
    # once per region it works on; entering a kept controller's limit costs ~25 us.
    return ThreadpoolController()


def _interval_peaks(audio: np.ndarray, start: int, stop: int, oversample: int) -> np.ndarray:
    samples = audio.shape[-1]
    lo, hi = max(0, start - CONTEXT), min(samples, stop + CONTEXT)
    segment = np.asarray(audio[:, lo:hi], dtype=np.float32)
    flat, stride = _oversampled_magnitude(segment, oversample)
    grid = flat.reshape(oversample, stride)
    first, last = start - lo, stop - lo
    # The largest grid value of each interval and its phase (the first of equals, as argmax would pick),
    # by arithmetic on whole rows: numpy's masked and per-row selections (argmax along a 4-wide axis,
    # copyto/where/choose) cost ten to forty times a plain elementwise operation.
    mid = grid[0, first:last].copy()
    for p in range(1, oversample):
        np.maximum(mid, grid[p, first:last], out=mid)
    # The phase of the first value equal to the largest: how many phases in a row fall short of it.
    short = grid[0, first:last] != mid
    phase = short.astype(np.int32)
    for p in range(1, oversample - 1):
        short &= grid[p, first:last] != mid
        phase += short
    # Its neighbours on the oversampled sequence, gathered from the rows' buffer (``flat``, ``stride``
    # values per phase): the previous phase, or the last phase of the sample before; the next phase, or
    # phase 0 of the sample after. One small table per side instead of index arithmetic per point.
    phases = np.arange(oversample)
    to_left = ((phases - 1) % oversample * stride - (phases == 0)).astype(np.int32)
    to_right = ((phases + 1) % oversample * stride + (phases == oversample - 1)).astype(np.int32)
    sample = np.arange(first, last, dtype=np.int32)
    left = np.take(flat, np.take(to_left, phase) + sample)
    right = np.take(flat, np.take(to_right, phase) + sample)
    # At the take's ends (the only place a segment ends) the point itself stands in for the missing
    # neighbour, as a clipped index into the interleaved sequence gave.
    if first == 0 and phase[0] == 0:
        left[0] = mid[0]
    if last == segment.shape[1] and phase[-1] == oversample - 1:
        right[-1] = mid[-1]
    # Float32 like the magnitudes (float64 here cost a fifth of the measurement). The parabola's vertex
    # replaces the grid value only at a strict local maximum; its arithmetic runs on those points alone.
    curvature = left - 2.0 * mid
    curvature += right
    is_peak = curvature < 0.0
    is_peak &= mid >= left
    is_peak &= mid >= right
    at = np.flatnonzero(is_peak)
    lift = np.square(left[at] - right[at])
    lift /= curvature[at]
    refined = mid
    refined[at] -= 0.125 * lift
    # The samples themselves are points of the waveform whatever the interpolation filter does. Phase 0
    # holds them already, scaled by the delay tap: at or above 1 (1.0000192 at 4x; every factor's is),
    # float32 rounding cannot take its product below the sample, and the refinement only ever raises a
    # value, so for a float32 take this maximum could change nothing.
    if audio.dtype == np.float32 and _delay_tap(oversample) >= 1.0:
        return refined
    return np.maximum(refined, np.abs(audio[:, start:stop]).max(axis=0))
