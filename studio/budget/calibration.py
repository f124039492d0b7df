"""Measured stage times, per device name, and the cost model they imply.

Every finished generation records how long each stage took (``StageTimer`` measures it from the
progress events). Per backend, device and stage we keep the most recent samples and fit the stage's
cost terms by weighted least squares on *relative* error, starting from the seed: the unknowns are
the fixed seconds and one multiplier per cost term the seed uses, so a stage whose seed was off by
a constant factor converges after one run, and one whose fixed/variable split was wrong converges
once runs of two different sizes have been seen. A tiny pull toward the seed only decides what the
data cannot (e.g. the split, while every run had the same length).

Samples are persisted as JSON (``path``; ``STUDIO_STATE_DIR`` for the default one) and refitted on
load, so the estimate survives restarts.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from backends.base import CostModel, ProgressEvent, StageCost
from studio.budget.estimate import (
    MAX_MARGIN,
    MIN_MARGIN,
    PlanInput,
    active_stages,
    canonical_stage,
    features,
    stage_seconds,
)

FILE_NAME = "budget_calibration.json"
FORMAT_VERSION = 1
MAX_SAMPLES = 32
# Newest sample weighs 1, each older one this much less: timings drift (drivers, warm caches).
RECENCY = 0.9
# Pull toward the seed, in "fractions of a sample": only breaks ties the data leaves open.
PRIOR_WEIGHT = 1e-3
# Margin while fewer than this many samples back a stage.
FEW_SAMPLES = 3
FEW_SAMPLES_MARGIN = 1.3

_TERMS = ("per_step_per_audio_second", "per_audio_second", "per_frame")
# Scale of the per-audio-second term added to diffusion stages: that many steps' worth.
NUISANCE_STEPS = 8
# The quadratic term is scaled so that 1x would double the per-step cost of a song this long.
QUADRATIC = True
QUADRATIC_REF_S = 240.0


@dataclass(frozen=True)
class Sample:
    x: tuple[float, float, float, float]
    seconds: float
    at: float


@dataclass(frozen=True)
class FittedStage:
    cost: StageCost
    samples: int
    margin: float
    # Seconds per (step x audio second^2): attention makes long diffusion steps cost more than
    # linearly. StageCost has no such term, so the calibrated fit keeps it here.
    per_step_per_audio_second_sq: float = 0.0

    def seconds(self, x: tuple[float, float, float, float]) -> float:
        return stage_seconds(self.cost, x) + self.per_step_per_audio_second_sq * _quadratic(x)


def _quadratic(x: tuple[float, float, float, float]) -> float:
    """count x steps x duration^2, from the feature vector (count, count*steps*dur, count*dur, ...)."""
    return x[1] * x[2] / x[0] if x[0] > 0 else 0.0


def fit_stage(seed: StageCost, samples: list[Sample], label: str = "") -> FittedStage | None:
    """Least-squares fit of one stage's cost terms to measured samples (see module docstring)."""
    if not samples:
        return None
    import numpy as np
    from scipy.optimize import nnls

    seed_coefs = [getattr(seed, t) for t in _TERMS]
    # (term index, reference coefficient, prior target multiplier). The seed's own terms start at
    # 1x. A diffusion stage also gets a per-audio-second term the seed may lack (latents, text
    # encoding and schedulers cost in proportion to length, not steps), starting at 0.
    terms = [(i, c, 1.0) for i, c in enumerate(seed_coefs) if c > 0]
    if seed_coefs[0] > 0 and seed_coefs[1] == 0 and seed_coefs[2] == 0:
        terms.append((1, seed_coefs[0] * NUISANCE_STEPS, 0.0))
    quad = QUADRATIC if seed_coefs[0] > 0 else None
    n = len(samples)
    fixed_scale = max(seed.fixed, 1.0)
    rows: list[list[float]] = []
    rhs: list[float] = []
    for age, s in enumerate(reversed(samples)):
        w = math.sqrt(RECENCY**age) / max(s.seconds, 1e-3)
        row = [w * s.x[0]] + [w * s.x[i + 1] * ref for i, ref, _ in terms]
        if quad is not None:
            row.append(w * _quadratic(s.x) * seed_coefs[0] / QUADRATIC_REF_S)
        rows.append(row)
        rhs.append(w * s.seconds)
    width = 1 + len(terms) + (quad is not None)
    prior = math.sqrt(PRIOR_WEIGHT)
    rows.append([prior / fixed_scale] + [0.0] * (width - 1))
    rhs.append(prior * seed.fixed / fixed_scale)
    targets = [t for _, _, t in terms] + ([0.0] if quad is not None else [])
    for j, target in enumerate(targets):
        row = [0.0] * width
        row[1 + j] = prior
        rows.append(row)
        rhs.append(prior * target)
    theta, _ = nnls(np.asarray(rows, dtype=float), np.asarray(rhs, dtype=float))
    coefs = dict.fromkeys(_TERMS, 0.0)
    for j, (i, ref, _) in enumerate(terms):
        coefs[_TERMS[i]] += float(theta[1 + j]) * ref
    sq = float(theta[-1]) * seed_coefs[0] / QUADRATIC_REF_S if quad is not None else 0.0
    where = f" on {label}" if label else ""
    cost = StageCost(fixed=float(theta[0]), **coefs, source=f"calibrated from {n} measured run(s){where}")
    fitted = FittedStage(cost=cost, samples=n, margin=FEW_SAMPLES_MARGIN, per_step_per_audio_second_sq=sq)
    if n < FEW_SAMPLES:
        return fitted
    recent = samples[-8:]
    worst_short = max((s.seconds - fitted.seconds(s.x)) / max(fitted.seconds(s.x), 1e-6) for s in recent)
    margin = min(MAX_MARGIN, max(MIN_MARGIN, 1.0 + max(0.0, worst_short) + 0.05))
    return FittedStage(cost=cost, samples=n, margin=margin, per_step_per_audio_second_sq=sq)


class Calibration:
    """Measured samples for every device name seen, persisted to ``path`` (None: memory only)."""

    def __init__(self, path: Path | str | None = None, *, max_samples: int = MAX_SAMPLES) -> None:
        self.path = Path(path) if path is not None else None
        self.max_samples = max_samples
        self._lock = threading.Lock()
        # device name -> backend -> stage -> samples (oldest first)
        self._data: dict[str, dict[str, dict[str, list[Sample]]]] = {}
        self._fits: dict[tuple[str, str, str, StageCost], FittedStage | None] = {}
        if self.path is not None and self.path.exists():
            self._load()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Calibration:
        """The studio's calibration file under ``STUDIO_STATE_DIR``; in memory when unset."""
        env = os.environ if env is None else env
        state = env.get("STUDIO_STATE_DIR", "").strip()
        return cls(Path(state) / FILE_NAME if state else None)

    def for_device(self, device_name: str) -> DeviceCalibration:
        return DeviceCalibration(self, device_name)

    def record(
        self,
        backend: str,
        device_name: str,
        model: CostModel,
        req: PlanInput,
        measured: Mapping[str, float],
        *,
        at: float | None = None,
    ) -> list[str]:
        """Store one run's measured seconds per stage; returns the stage keys recorded.

        A measured ``plan`` is filed under the planner size the request used (``plan:1.7B``) when
        the model prices sizes separately, matching what ``estimate`` reads."""
        active = active_stages(model, req, backend)
        by_base: dict[str, str] = {}
        for name in active:
            by_base.setdefault(name.partition(":")[0], name)
        stamp = time.time() if at is None else at
        recorded: list[str] = []
        with self._lock:
            stages = self._data.setdefault(device_name, {}).setdefault(backend, {})
            for stage, seconds in measured.items():
                if not (seconds > 0 and math.isfinite(seconds)):
                    continue
                stage = canonical_stage(stage)
                key = stage if stage in active else by_base.get(stage)
                if key is None:
                    continue
                bucket = stages.setdefault(key, [])
                bucket.append(Sample(x=features(key, model, req), seconds=float(seconds), at=stamp))
                del bucket[: max(0, len(bucket) - self.max_samples)]
                recorded.append(key)
            self._fits = {k: v for k, v in self._fits.items() if k[:2] != (device_name, backend)}
            if self.path is not None:
                self._save()
        return recorded

    def samples(self, device_name: str, backend: str, stage: str) -> list[Sample]:
        with self._lock:
            return list(self._data.get(device_name, {}).get(backend, {}).get(stage, []))

    def fitted(self, device_name: str, backend: str, stage: str, seed: StageCost) -> FittedStage | None:
        key = (device_name, backend, stage, seed)
        with self._lock:
            if key in self._fits:
                return self._fits[key]
            samples = list(self._data.get(device_name, {}).get(backend, {}).get(stage, []))
        result = fit_stage(seed, samples, device_name)
        with self._lock:
            self._fits[key] = result
        return result

    def _load(self) -> None:
        assert self.path is not None
        try:
            raw = json.loads(self.path.read_text())
        except (OSError, ValueError):
            # A corrupt file must not stop the studio; the seeds still work. Keep it for a human.
            self.path.replace(self.path.with_suffix(".corrupt.json"))
            return
        if raw.get("version") != FORMAT_VERSION:
            return
        for device, backends in raw.get("devices", {}).items():
            for backend, stages in backends.items():
                for stage, samples in stages.items():
                    self._data.setdefault(device, {}).setdefault(backend, {})[stage] = [
                        Sample(x=tuple(s["x"]), seconds=float(s["seconds"]), at=float(s["at"]))
                        for s in samples
                    ][-self.max_samples :]

    def _save(self) -> None:
        assert self.path is not None
        payload = {
            "version": FORMAT_VERSION,
            "devices": {
                device: {
                    backend: {
                        stage: [{"x": list(s.x), "seconds": s.seconds, "at": s.at} for s in samples]
                        for stage, samples in stages.items()
                    }
                    for backend, stages in backends.items()
                }
                for device, backends in self._data.items()
            },
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Write-then-rename so a crash mid-write never leaves half a file.
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".calibration.", suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            json.dump(payload, fh)
        os.replace(tmp, self.path)


@dataclass(frozen=True)
class DeviceCalibration:
    """One device's view of a :class:`Calibration`, what ``estimate`` reads."""

    store: Calibration
    device_name: str

    def fitted(self, backend: str, stage: str, seed: StageCost) -> FittedStage | None:
        return self.store.fitted(self.device_name, backend, stage, seed)

    def record(
        self, backend: str, model: CostModel, req: PlanInput, measured: Mapping[str, float]
    ) -> list[str]:
        return self.store.record(backend, self.device_name, model, req, measured)


class StageTimer:
    """A progress callback that measures seconds per stage from the events a backend sends.

    Time runs to a stage from the previous stage's last event (or the start) to its own last
    event; a stage met again later (one loop per take) accumulates."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self._boundary = clock()
        self._last = self._boundary
        self._current: str | None = None
        self._seconds: dict[str, float] = {}

    def __call__(self, event: ProgressEvent) -> None:
        now = self._clock()
        if self._current is not None and event.stage != self._current:
            self._add(self._current, self._last - self._boundary)
            self._boundary = self._last
        self._current = event.stage
        self._last = now

    def _add(self, stage: str, seconds: float) -> None:
        self._seconds[stage] = self._seconds.get(stage, 0.0) + max(0.0, seconds)

    def finish(self) -> dict[str, float]:
        """Close the running stage at *now* (its work ends when render returns)."""
        now = self._clock()
        if self._current is not None:
            self._add(self._current, now - self._boundary)
            self._boundary = self._last = now
            self._current = None
        return dict(self._seconds)
