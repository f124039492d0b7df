"""Mastering a take: loudness normalisation to a target, then a true-peak limiter.

``master`` never raises for quiet, silent or very short audio; it explains what it did in
``MasterResult.notes`` instead (see :mod:`studio.audio.loudness` for the measurement fallbacks).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from studio.audio.buffers import as_channels_first, check_sample_rate
from studio.audio.limiter import limit_true_peak, limiter_bites
from studio.audio.loudness import (
    BlockPowers,
    LoudnessMethod,
    LoudnessReading,
    block_powers,
    from_db,
    gated_loudness,
    integrated_loudness,
    to_db,
)
from studio.audio.peaks import measuring_envelope

# After the limiter took some loudness away, the gain is corrected this many times at most.
_LOUDNESS_PASSES = 8
_LOUDNESS_TOLERANCE_LU = 0.05


class MasteringSettings(BaseModel):
    """How a take is mastered. Stored in every song card, so a file says how it was made."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    normalize: bool = Field(True, description="Normalise integrated loudness to `target_lufs`.")
    target_lufs: float = Field(-14.0, ge=-40.0, le=-5.0, description="Integrated loudness target, LUFS.")
    limit: bool = Field(True, description="Run the true-peak limiter.")
    ceiling_dbtp: float = Field(-1.0, ge=-12.0, le=0.0, description="True-peak ceiling, dBTP.")
    oversample: int = Field(4, ge=1, le=16, description="Oversampling factor for true-peak measurement.")
    lookahead_ms: float = Field(5.0, gt=0.0, le=50.0, description="Limiter look-ahead (attack ramp), ms.")
    release_db_per_s: float = Field(
        100.0, gt=0.0, le=1000.0, description="How fast the limiter gives gain back, dB per second."
    )
    max_gain_db: float = Field(
        36.0, ge=0.0, le=60.0, description="Most a quiet take is raised; protects against boosting noise."
    )

    @property
    def active(self) -> bool:
        return self.normalize or self.limit


class MasteringReport(BaseModel):
    """What mastering measured and did; ``None`` where there was nothing to measure."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gain_db: float
    limiter_reduction_db: float
    lufs_before: float | None
    lufs_after: float | None
    true_peak_before_dbtp: float | None
    true_peak_dbtp: float | None
    loudness_method: LoudnessMethod
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class MasterResult:
    audio: np.ndarray  # float32 [channels, samples]
    gain_db: float  # static gain applied before the limiter
    lufs_before: float | None
    lufs_after: float | None
    true_peak_dbtp: float | None
    limiter_reduction_db: float
    report: MasteringReport
    # Linear true peak of the take as given, at ``settings.oversample`` (the report's figure, unrounded):
    # the take's checks read it instead of measuring the same take again.
    source_true_peak: float = 0.0


def master(
    audio: np.ndarray,
    sample_rate: int,
    settings: MasteringSettings | None = None,
    *,
    on_gain: Callable[[np.ndarray], None] | None = None,
) -> MasterResult:
    """Normalise ``audio`` ([channels, samples] float) to the loudness target and limit its true peak.

    ``on_gain`` is called with the take driven by the loudness gain alone (float32, not to be changed) as
    soon as that gain is known, while helper threads are still measuring the true peak: the callback's own
    work (the player's file, studio.finishing) runs beside that measurement.
    When the limiter stays idle at that gain, the result's ``audio`` is that very array (``is`` holds),
    so work done on it is work done on the master. It is not called when the take's samples alone show
    that the limiter will work.
    """
    settings = settings or MasteringSettings()
    sample_rate = check_sample_rate(sample_rate)
    # The take keeps its own float type (float32 from every backend): the measurements work in float32
    # anyway, and a float64 copy of a take is ~46 MB per stereo minute made while the visitor waits.
    source = as_channels_first(audio, what="the take", dtype=None)
    blocks = block_powers(source, sample_rate)
    before = gated_loudness(blocks)
    notes: list[str] = []

    gain_db = 0.0
    if settings.normalize:
        if before.lufs is None:
            notes.append(_why_unmeasured(source, sample_rate))
        else:
            if before.method is LoudnessMethod.SINGLE_BLOCK:
                notes.append("shorter than one 400 ms gating block: loudness measured as one ungated block")
            gain_db = _clamped_gain(settings.target_lufs - before.lufs, settings, notes)
    # Helper threads measure the envelope (studio.audio.peaks.PendingEnvelope) while this one does the work
    # ``on_gain`` asks for (the player's file). They start after the loudness, which uses both cores of the
    # dev machine itself and is what the player's file waits for: started first, they only slowed it down.
    with measuring_envelope(source, settings.oversample) as pending:
        early: _PlainGain | None = None
        if on_gain is not None and not _limiter_certain(source, gain_db, settings):
            early = _PlainGain(gain_db, _plain_gain(source, from_db(gain_db)))
            on_gain(early.audio)
        envelope = pending.result()
    source_peak = float(envelope.max(initial=0.0))
    peak_before = to_db(source_peak)
    out, reduction, peak = _apply(source, envelope, sample_rate, gain_db, settings, early)
    after = _loudness_after(out, sample_rate, blocks, gain_db, reduction)
    if settings.normalize and settings.limit and before.lufs is not None and after.lufs is not None:
        gain_db, out, reduction, peak, after = _settle_loudness(
            source, envelope, blocks, sample_rate, settings, gain_db, (out, reduction, peak, after), early
        )
        if after.lufs is not None and abs(settings.target_lufs - after.lufs) > 0.5:
            notes.append(
                f"reached {after.lufs:.1f} LUFS instead of {settings.target_lufs:.1f}: the limiter "
                "or the gain cap held it back"
            )

    peak_after = to_db(peak)
    if peak_after is not None and peak_after > 0.0:
        notes.append(
            f"true peak {peak_after:+.1f} dBTP is over full scale: WAV, FLAC and MP3 will clip; "
            "turn the limiter on or lower the target"
        )
    report = MasteringReport(
        gain_db=round(gain_db, 4),
        limiter_reduction_db=round(reduction, 4),
        lufs_before=_rounded(before.lufs),
        lufs_after=_rounded(after.lufs),
        true_peak_before_dbtp=_rounded(peak_before),
        true_peak_dbtp=_rounded(peak_after),
        loudness_method=before.method,
        notes=tuple(notes),
    )
    return MasterResult(
        audio=out.astype(np.float32, copy=False),
        gain_db=gain_db,
        lufs_before=before.lufs,
        lufs_after=after.lufs,
        true_peak_dbtp=peak_after,
        limiter_reduction_db=reduction,
        report=report,
        source_true_peak=source_peak,
    )


def _settle_loudness(
    source: np.ndarray,
    envelope: np.ndarray,
    blocks: BlockPowers | None,
    sample_rate: int,
    settings: MasteringSettings,
    gain_db: float,
    state: tuple[np.ndarray, float, float, LoudnessReading],
    early: _PlainGain | None = None,
) -> tuple[float, np.ndarray, float, float, LoudnessReading]:
    """The limiter takes loudness away when it works hard, so find the drive whose *limited*
    loudness hits the target. Loudness rises monotonically with drive, flatter than 1 dB/dB once
    the limiter bites: secant steps, bracketed and bisected once the target has been overshot."""
    out, reduction, peak, after = state
    below: tuple[float, float] | None = None
    previous: tuple[float, float] | None = None
    above: tuple[float, float] | None = None
    for _ in range(_LOUDNESS_PASSES):
        if after.lufs is None or abs(settings.target_lufs - after.lufs) <= _LOUDNESS_TOLERANCE_LU:
            break
        point = (gain_db, after.lufs)
        if after.lufs < settings.target_lufs:
            below = point
        else:
            above = point
        if below is not None and above is not None:
            span = above[1] - below[1]
            fraction = (settings.target_lufs - below[1]) / span if span > 0 else 0.5
            fraction = min(0.9, max(0.1, fraction))
            next_gain = below[0] + fraction * (above[0] - below[0])
        else:
            slope = 1.0
            if below is not None and previous is not None and previous[0] != below[0]:
                slope = (below[1] - previous[1]) / (below[0] - previous[0])
            next_gain = gain_db + (settings.target_lufs - after.lufs) / min(1.0, max(0.1, slope))
        next_gain = min(next_gain, settings.max_gain_db)
        if next_gain == gain_db:
            break
        previous = point
        gain_db = next_gain
        out, reduction, peak = _apply(source, envelope, sample_rate, gain_db, settings, early)
        after = _loudness_after(out, sample_rate, blocks, gain_db, reduction)
    return gain_db, out, reduction, peak, after


def _loudness_after(
    out: np.ndarray, sample_rate: int, blocks: BlockPowers | None, gain_db: float, reduction_db: float
) -> LoudnessReading:
    """Loudness of ``out``: read from the source's blocks when it is the source times a plain gain
    (the limiter left it alone), measured again only where the limiter changed the waveform."""
    if reduction_db == 0.0:
        return gated_loudness(blocks, from_db(gain_db))
    return integrated_loudness(out, sample_rate)


@dataclass(frozen=True)
class _PlainGain:
    """The take driven by ``gain_db`` alone, made before the true peak was known (``master``'s ``on_gain``)."""

    gain_db: float
    audio: np.ndarray


def _limiter_certain(source: np.ndarray, gain_db: float, settings: MasteringSettings) -> bool:
    """Whether the limiter will work at ``gain_db`` whatever the true peak: the samples are points of the
    waveform (the true-peak envelope is never below them), so their peak bounds the true peak from below."""
    if not settings.limit or source.size == 0:
        return False
    sample_peak = max(float(source.max()), -float(source.min()))
    return limiter_bites(sample_peak * from_db(gain_db), settings.ceiling_dbtp)


def _plain_gain(source: np.ndarray, drive: float) -> np.ndarray:
    """``source * drive``, each sample rounded once from its float64 product, as the limiter's path does,
    straight into the float32 result (no float64 copy of the take)."""
    driven = np.empty(source.shape, dtype=np.float32)
    np.multiply(source, drive, out=driven, dtype=np.float64, casting="same_kind")
    return driven


def _apply(
    source: np.ndarray,
    envelope: np.ndarray,
    sample_rate: int,
    gain_db: float,
    settings: MasteringSettings,
    early: _PlainGain | None = None,
) -> tuple[np.ndarray, float, float]:
    """Drive ``source`` by ``gain_db`` and limit it; returns audio, reduction (dB), linear true peak.
    A plain gain of exactly ``early``'s gain returns ``early``'s array itself (the same numbers)."""
    drive = from_db(gain_db)
    # Scaling by a positive number keeps the order of floats, so the driven peak is the scaled peak.
    peak = float(envelope.max(initial=0.0)) * drive
    if not settings.limit or not limiter_bites(peak, settings.ceiling_dbtp):
        if early is not None and early.gain_db == gain_db:
            return early.audio, 0.0, peak
        return _plain_gain(source, drive), 0.0, peak
    limited = limit_true_peak(
        source.astype(np.float64) * drive,
        sample_rate,
        envelope.astype(np.float64) * drive,  # float64, as the limiter plans its gain
        ceiling_dbtp=settings.ceiling_dbtp,
        lookahead_ms=settings.lookahead_ms,
        release_db_per_s=settings.release_db_per_s,
        oversample=settings.oversample,
    )
    return limited.audio, limited.max_reduction_db, limited.true_peak


def _clamped_gain(wanted_db: float, settings: MasteringSettings, notes: list[str]) -> float:
    if wanted_db > settings.max_gain_db:
        notes.append(
            f"needed +{wanted_db:.1f} dB to reach the target; raised by the cap of {settings.max_gain_db:.1f} dB only"
        )
        return settings.max_gain_db
    return wanted_db


def _why_unmeasured(source: np.ndarray, sample_rate: int) -> str:
    if not np.any(source):
        return "silent: level left unchanged"
    if source.shape[-1] / sample_rate < 0.01:
        return "shorter than 10 ms: too short to measure loudness, level left unchanged"
    return "quieter than the -70 LUFS absolute gate: level left unchanged"


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)
