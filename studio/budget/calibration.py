"""Measured stage times, per device name, and the cost model they imply.

Every finished generation records how long each stage took (``StageTimer`` measures it from the
progress events). Per backend, device and stage we keep the most recent samples and fit the stage's
cost terms by weighted least squares on *relative* error, starting from the seed: the unknowns are
the fixed seconds and one multiplier per cost term the seed uses, so a stage whose seed was off by
a constant factor converges after one run, and one whose fixed/variable split was wrong converges
once runs of two different sizes have been seen. A tiny pull toward the seed only decides what the
data cannot (e.g. the split, while every run had the same length).

Where the runs measured near a request's size sit consistently off the fit (a cost the few terms
cannot shape: a decoder that leaves the cache past some length), the centre follows them
(``LocalCorrection``). The estimate is not that centre but the centre raised by the stage's
measured spread: each recent run is predicted without it, and the estimate sits UPPER_K standard
deviations of those errors above the centre, the spread being a relative part plus a fixed jitter
in seconds, which weighs on short runs more than long ones. A central estimate is short on half of
all runs; this one is short only on unusual ones, and by little, while a steady device (small
spread) keeps an estimate close to its typical time.

Samples are persisted as JSON (``path``; ``STUDIO_STATE_DIR`` for the default one) and refitted on
load, so the estimate survives restarts.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from backends.base import CostModel, StageCost
from backends.plan_input import PlanInput
from studio import settings
from studio.budget.estimate import MAX_MARGIN, MIN_MARGIN, active_stages, canonical_stage, features, stage_seconds
from studio.ground.progress import ProgressEvent

log = logging.getLogger(__name__)

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
# Cost that grows with the square of the length: attention makes a long diffusion step dearer than
# linear (a steps x length^2 term), and a decoder's time can grow faster than its output too (VAE and
# codec attention, working sets that outgrow the caches: the tiny ACE-Step VAE on a CPU takes 0.1 s for
# 10 s of audio but 6 s for 240 s), a length^2 term on every stage priced per audio second. Each is
# scaled so that 1x would double the stage's linear cost for a song QUADRATIC_REF_S long, and pulled
# toward 0 like any term the seed lacks, so a linear stage keeps a (near) linear fit.
QUADRATIC = True
QUADRATIC_REF_S = 240.0
# The estimate is the centre raised by this many standard deviations of its out-of-sample log
# error: a point estimate at the centre is short on half the runs, and more than 10 % short whenever
# noise plus fit error pass 10 %, which on a busy machine is several runs in a sweep. Replaying
# timings recorded from the tiny ACE-Step on this project's 2-core CPU (30 shuffled sweeps each):
# in a quiet spell, 1.5 / 1.75 / 2.0 gave medians 14 / 17 / 20 % and sweeps ever >10 % short 1 / 0 / 0
# of 30; in a noisy spell (run-to-run sd ~10 %) 25 / 29 / 34 % and 2 / 0 / 0. Being short kills a
# ZeroGPU request, being long only reserves more, so the first K that was never short.
UPPER_K = 1.75
# Runs whose leave-one-out error sets that spread.
RESIDUAL_WINDOW = 16
# Local correction (``LocalCorrection``): how far apart two requests may be, in natural-log units of
# length and of steps, and still inform each other about where the fit's shape is wrong (0.35: a
# song half or twice as long weighs exp(-2) ~ 0.14 of one the same length), and how many runs' worth
# of "the fit is right here" every correction starts from (one nearby run moves it only halfway).
LOCAL_BANDWIDTH = 0.35
LOCAL_PRIOR_RUNS = 0.5


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
    # Seconds per (step x audio second^2) and per audio second^2 (see QUADRATIC). StageCost has no
    # such terms (no seed figure exists for them), so the calibrated fit keeps them here.
    per_step_per_audio_second_sq: float = 0.0
    per_audio_second_sq: float = 0.0
    # Where measured runs sit around the fit, by request size: the centre's correction and the
    # raise above it (see LocalCorrection). None until FEW_SAMPLES runs back the stage.
    local: LocalCorrection | None = None

    def central_seconds(self, x: tuple[float, float, float, float]) -> float:
        """The fit, corrected by the runs measured near this size: as often above as below them."""
        fit = (
            stage_seconds(self.cost, x)
            + self.per_step_per_audio_second_sq * _step_length_sq(x)
            + self.per_audio_second_sq * _length_sq(x)
        )
        return fit * math.exp(self.local.log_bias(x)) if self.local is not None else fit

    def upper(self, x: tuple[float, float, float, float]) -> float:
        """Multiplier from the centre to the estimate: how far unseen runs came out above theirs."""
        return math.exp(self.local.log_raise(self.central_seconds(x))) if self.local is not None else 1.0

    def seconds(self, x: tuple[float, float, float, float]) -> float:
        """The estimate: the centre raised by the measured run-to-run spread around this size."""
        return self.central_seconds(x) * self.upper(x)


def _step_length_sq(x: tuple[float, float, float, float]) -> float:
    """count x steps x duration^2, from the feature vector (count, count*steps*dur, count*dur, ...)."""
    return x[1] * x[2] / x[0] if x[0] > 0 else 0.0


def _length_sq(x: tuple[float, float, float, float]) -> float:
    """count x duration^2, from the same feature vector."""
    return x[2] * x[2] / x[0] if x[0] > 0 else 0.0


def _size(x: tuple[float, float, float, float], uses_steps: bool) -> tuple[float, ...]:
    """Where a request sits for the local correction: log length, and log steps if the stage has them."""
    if x[0] <= 0 or x[2] <= 0:
        return (0.0, 0.0) if uses_steps else (0.0,)
    length = math.log(x[2] / x[0])
    if not uses_steps:
        return (length,)
    return (length, math.log(max(x[1] / x[2], 1e-9)))


def _local_bias(sizes: np.ndarray, log_errors: np.ndarray, weights: np.ndarray, here: np.ndarray) -> float:
    """Kernel-weighted mean of the runs' log errors around the size ``here``, shrunk toward 0 by
    LOCAL_PRIOR_RUNS (one row of ``sizes`` per run)."""
    w = weights * np.exp(-0.5 * ((sizes - here) ** 2).sum(-1) / LOCAL_BANDWIDTH**2)
    return float((w * log_errors).sum() / (LOCAL_PRIOR_RUNS + w.sum()))


@dataclass(frozen=True, eq=False)
class LocalCorrection:
    """What the measured runs say about a request beyond the fitted cost terms: a centre, a spread.

    A cost model of a few terms cannot follow everything a device does with length: a decoder whose
    working set fits the cache up to some length and not beyond, kernels picked per shape. Where the
    runs near a request sit consistently above or below the fit, the centre moves by their
    kernel-weighted mean log error (shrunk toward none by LOCAL_PRIOR_RUNS, so one run moves it only
    part way; far from every run it is the fit alone).

    The spread is what that centre missed on runs it had not seen (leave-one-out), modelled as a
    relative part plus a fixed jitter in seconds (the scheduler, the allocator): a 0.2 s stage that
    varies by 30 ms needs a wider relative raise than a 6 s one, and need not widen the 6 s one's."""

    uses_steps: bool
    # Per run: its size, log(measured / fit) (where the fit's shape is off) and its recency weight.
    sizes: np.ndarray
    log_errors: np.ndarray
    weights: np.ndarray
    mean: float  # mean log error of the leave-one-out predictions
    rel_var: float  # their variance: the relative part (log units squared)...
    jitter_var: float  # ...and a fixed jitter (seconds squared), which weighs less on longer runs

    def log_bias(self, x: tuple[float, float, float, float]) -> float:
        here = np.array(_size(x, self.uses_steps))
        return _local_bias(self.sizes, self.log_errors, self.weights, here)

    def log_raise(self, centre_s: float) -> float:
        """log of the factor from the centre (``centre_s`` seconds) to the estimate."""
        var = self.rel_var + self.jitter_var / max(centre_s, 1e-9) ** 2
        return max(0.0, self.mean + UPPER_K * math.sqrt(var))


# The superlinear columns a fit may add: (FittedStage field, feature, the seed term it grows from).
_SQUARED = (
    ("per_step_per_audio_second_sq", _step_length_sq, "per_step_per_audio_second"),
    ("per_audio_second_sq", _length_sq, "per_audio_second"),
)


@dataclass(frozen=True)
class _Basis:
    """The unknowns of one stage's fit, each a multiplier of a reference coefficient."""

    seed: StageCost
    # (term index into _TERMS, reference coefficient, prior target multiplier)
    terms: tuple[tuple[int, float, float], ...]
    # (index into _SQUARED, reference coefficient): length^2 columns, prior target 0
    squared: tuple[tuple[int, float], ...] = ()

    @classmethod
    def for_seed(cls, seed: StageCost) -> _Basis:
        seed_coefs = [getattr(seed, t) for t in _TERMS]
        # The seed's own terms start at 1x. A diffusion stage also gets a per-audio-second term the
        # seed may lack (latents, text encoding and schedulers cost in proportion to length, not
        # steps), starting at 0.
        terms = [(i, c, 1.0) for i, c in enumerate(seed_coefs) if c > 0]
        if seed_coefs[0] > 0 and seed_coefs[1] == 0 and seed_coefs[2] == 0:
            terms.append((1, seed_coefs[0] * NUISANCE_STEPS, 0.0))
        # A steps x length^2 column where the seed prices steps, else a length^2 one where it
        # prices audio seconds (decoders); per-frame LM stages stay linear.
        squared: list[tuple[int, float]] = []
        for k, (_, _, grows_from) in enumerate(_SQUARED):
            coef = getattr(seed, grows_from)
            if QUADRATIC and coef > 0 and not squared:
                squared.append((k, coef / QUADRATIC_REF_S))
        return cls(seed=seed, terms=tuple(terms), squared=tuple(squared))

    @property
    def uses_steps(self) -> bool:
        return self.seed.per_step_per_audio_second > 0

    @property
    def width(self) -> int:
        return 1 + len(self.terms) + len(self.squared)

    def row(self, x: tuple[float, float, float, float]) -> list[float]:
        out = [x[0]] + [x[i + 1] * ref for i, ref, _ in self.terms]
        out += [_SQUARED[k][1](x) * ref for k, ref in self.squared]
        return out

    def design(self, samples: list[Sample]) -> np.ndarray:
        """One row of cost features per sample (what ``theta`` multiplies)."""
        return np.array([self.row(s.x) for s in samples], dtype=float).reshape(len(samples), self.width)

    def solve(self, design: np.ndarray, seconds: np.ndarray, scales: np.ndarray) -> np.ndarray:
        """Weighted least squares on error relative to ``scales`` (one per sample, oldest first),
        newest weighing most, with the small pull toward the seed."""
        from scipy.optimize import nnls

        ages = np.arange(len(seconds) - 1, -1, -1)
        w = np.sqrt(RECENCY**ages) / np.maximum(scales, 1e-6)
        prior = math.sqrt(PRIOR_WEIGHT)
        fixed_scale = max(self.seed.fixed, 1.0)
        targets = [t for _, _, t in self.terms] + [0.0] * len(self.squared)
        pull = np.zeros((self.width, self.width))
        pull[0, 0] = prior / fixed_scale
        for j in range(1, self.width):
            pull[j, j] = prior
        pull_rhs = np.array([prior * self.seed.fixed / fixed_scale, *(prior * t for t in targets)])
        theta, _ = nnls(np.vstack([design * w[:, None], pull]), np.concatenate([seconds * w, pull_rhs]))
        return theta

    def fit_design(self, design: np.ndarray, seconds: np.ndarray) -> np.ndarray:
        """Relative error measured against the fit's own prediction, not the measured time.

        Dividing by the measured time (the first pass) gives slow runs less weight than fast ones,
        so that fit sits below the typical time; one reweighted pass removes most of that bias."""
        theta = self.solve(design, seconds, seconds)
        scales = design @ theta
        if (scales > 0).all():
            theta = self.solve(design, seconds, scales)
        return theta

    def fit(self, samples: list[Sample]) -> list[float]:
        seconds = np.array([s.seconds for s in samples], dtype=float)
        return [float(t) for t in self.fit_design(self.design(samples), seconds)]


def _spread(errors: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    """(mean, relative variance, jitter variance) of (predicted seconds, log error, weight) triples.

    The log error of a run predicted to take m seconds varies by rel_var + jitter_var / m^2, i.e.
    rel_var x (1 + (c / m)^2): c is picked by weighted likelihood from a grid (0, or 1/100 to 1x the
    longest prediction), rel_var then has a closed form."""
    total = sum(w for _, _, w in errors)
    mean = sum(w * e for _, e, w in errors) / total
    # Few residuals understate the spread; the usual n/(n-1) correction on the effective count.
    n_eff = total**2 / sum(w * w for _, _, w in errors)
    bessel = n_eff / (n_eff - 1) if n_eff > 1.5 else 1.0
    longest = max(m for m, _, _ in errors)
    best: tuple[float, float, float] | None = None
    for jitter in (0.0, *(longest * 10 ** (k / 8 - 2) for k in range(17))):
        shape = [1.0 + (jitter / max(m, 1e-9)) ** 2 for m, _, _ in errors]
        rel_var = sum(w * (e - mean) ** 2 / f for (_, e, w), f in zip(errors, shape, strict=True)) / total
        rel_var = max(rel_var, 1e-12)
        nll = sum(
            w * (math.log(rel_var * f) + (e - mean) ** 2 / (rel_var * f))
            for (_, e, w), f in zip(errors, shape, strict=True)
        )
        if best is None or nll < best[0] - 1e-9:
            best = (nll, rel_var, jitter)
    assert best is not None
    _, rel_var, jitter = best
    return mean, rel_var * bessel, rel_var * bessel * jitter**2


def local_correction(
    basis: _Basis, theta: list[float], samples: list[Sample]
) -> tuple[LocalCorrection, list[tuple[float, float, float]]]:
    """The local centre and the spread of a stage fitted as ``theta`` to ``samples``.

    Each recent run is predicted by a fit and a correction made without it (leave-one-out), so the
    spread includes both the run-to-run noise and the estimate's own error on sizes it has not seen.
    Returns the correction and those (predicted seconds, log error, weight) triples, newest last.
    Vectorised: it runs after every recorded song, before the next one's estimate."""
    n = len(samples)
    design = basis.design(samples)
    seconds = np.maximum(np.array([s.seconds for s in samples], dtype=float), 1e-9)
    sizes = np.array([_size(s.x, basis.uses_steps) for s in samples], dtype=float).reshape(n, -1)
    newest_first = np.arange(n - 1, -1, -1)
    errors: list[tuple[float, float, float]] = []
    for i in range(max(0, n - RESIDUAL_WINDOW), n):
        rest = np.arange(n) != i
        theta_without = basis.fit_design(design[rest], seconds[rest])
        log_errors = np.log(seconds[rest] / np.maximum(design[rest] @ theta_without, 1e-9))
        # Recency as it was among the other runs: the newest of them weighs 1.
        weights = RECENCY ** (newest_first[rest] - (np.arange(n)[rest] < i))
        bias = _local_bias(sizes[rest], log_errors, weights, sizes[i])
        predicted = max(float(design[i] @ theta_without) * math.exp(bias), 1e-9)
        errors.append((predicted, math.log(seconds[i] / predicted), RECENCY ** (n - 1 - i)))
    mean, rel_var, jitter_var = _spread(errors)
    local = LocalCorrection(
        uses_steps=basis.uses_steps,
        sizes=sizes,
        log_errors=np.log(seconds / np.maximum(design @ np.asarray(theta), 1e-9)),
        weights=RECENCY**newest_first,
        mean=mean,
        rel_var=rel_var,
        jitter_var=jitter_var,
    )
    return local, errors


def fit_stage(seed: StageCost, samples: list[Sample], label: str = "") -> FittedStage | None:
    """Least-squares fit of one stage's cost terms to measured samples (see module docstring)."""
    if not samples:
        return None
    basis = _Basis.for_seed(seed)
    theta = basis.fit(samples)
    n = len(samples)
    coefs = dict.fromkeys(_TERMS, 0.0)
    for j, (i, ref, _) in enumerate(basis.terms):
        coefs[_TERMS[i]] += theta[1 + j] * ref
    squared = {_SQUARED[k][0]: theta[1 + len(basis.terms) + j] * ref for j, (k, ref) in enumerate(basis.squared)}
    where = f" on {label}" if label else ""
    cost = StageCost(fixed=theta[0], **coefs, source=f"calibrated from {n} measured run(s){where}")
    if n < FEW_SAMPLES:
        return FittedStage(cost=cost, samples=n, margin=FEW_SAMPLES_MARGIN, **squared)
    local, errors = local_correction(basis, theta, samples)
    # The reserve covers what the raised estimate still missed on recent unseen runs, plus a little.
    worst_short = max(math.exp(e - local.log_raise(m)) - 1.0 for m, e, _ in errors[-8:])
    margin = min(MAX_MARGIN, max(MIN_MARGIN, 1.0 + max(0.0, worst_short) + 0.05))
    return FittedStage(cost=cost, samples=n, margin=margin, local=local, **squared)


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
        state = settings.STATE_DIR.get(env)
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
            if raw.get("version") != FORMAT_VERSION:
                return
            data: dict[str, dict[str, dict[str, list[Sample]]]] = {}
            for device, backends in raw.get("devices", {}).items():
                for backend, stages in backends.items():
                    for stage, samples in stages.items():
                        data.setdefault(device, {}).setdefault(backend, {})[stage] = [
                            Sample(x=tuple(s["x"]), seconds=float(s["seconds"]), at=float(s["at"])) for s in samples
                        ][-self.max_samples :]
        except FileNotFoundError:
            return
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            # A corrupt or unreadable file (bad JSON, or JSON of the wrong shape) must not stop the
            # studio; the seeds still work. Keep it for a human when the folder lets us.
            aside = self.path.with_suffix(".corrupt.json")
            try:
                self.path.replace(aside)
                where = f"moved to {aside.name}"
            except OSError as move:
                where = f"left in place ({move.strerror or move})"
            log.warning("calibration file %s is unreadable (%s); %s, starting from the seeds", self.path,
                        type(exc).__name__, where)
            return
        self._data.update(data)

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
        # Write-then-rename so a crash mid-write never leaves half a file. Calibration is a side effect
        # of a song: a full or read-only state folder costs the estimate its update, never the song.
        tmp: str | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".calibration.", suffix=".tmp")
            with os.fdopen(fd, "w") as fh:
                json.dump(payload, fh)
            os.replace(tmp, self.path)
        except OSError as exc:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
            log.warning("calibration not saved to %s (%s); estimates keep this run in memory only",
                        self.path, exc.strerror or exc)


@dataclass(frozen=True)
class DeviceCalibration:
    """One device's view of a :class:`Calibration`, what ``estimate`` reads."""

    store: Calibration
    device_name: str

    def fitted(self, backend: str, stage: str, seed: StageCost) -> FittedStage | None:
        return self.store.fitted(self.device_name, backend, stage, seed)

    def record(self, backend: str, model: CostModel, req: PlanInput, measured: Mapping[str, float]) -> list[str]:
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
