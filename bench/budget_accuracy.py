"""How accurate is the time-budget estimate? A sweep of lengths and steps, timed for real.

    python bench/budget_accuracy.py                    # synthetic CPU workload (default)
    python bench/budget_accuracy.py --backend acestep --weights DIR [--device-class cpu]

For each request the bench asks the estimator *before* running it, runs it, measures every stage
with ``StageTimer`` and records the measurement, exactly as the studio does after each song. It
prints the error of the seed-only estimate and of the calibrated one: the median absolute error and
the worst shortfall (how much too low it was). Targets after calibration: median within 20 %, never
more than 10 % short; and the reserved time (estimate x margin) never short at all.

The default workload is synthetic and says so: real arithmetic on the CPU shaped like ACE-Step (a
fixed "load" that copies a block of weights, diffusion steps that each cost in proportion to the
latent frames of the song, a decode in proportion to its samples), priced by a deliberately rough
seed so that calibration has something to correct. It measures the estimator and calibration, not
any model's speed. ``--backend`` runs a real backend from the registry instead (tiny or real
weights), through the same Backend.render path the studio uses.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

if "--backend" not in sys.argv[1:]:
    # The synthetic workload is timed with this thread's CPU clock, so its matrix products must run
    # on this thread: with OpenBLAS's own threads the main thread's share of the work (and so the
    # clock) swings with whatever else the machine runs. Set before numpy loads OpenBLAS.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backends.base import Capabilities, CostModel, StageCost
from backends.plan_input import PlanInput
from studio.budget.calibration import Calibration, StageTimer
from studio.budget.estimate import cost_model, estimate
from studio.ground.progress import ProgressEvent, ProgressFn
from studio.ground.vocabulary import DeviceClass, Input, LyricDialect

DURATIONS = (10, 30, 60, 120, 240)
STEPS = (4, 8, 16)

# A guess, as a seed would be: right order of magnitude, wrong by 2-3x per stage.
SYNTHETIC_SEED = CostModel(
    frame_rate_hz=0.0,
    stages={
        "load": StageCost(fixed=0.02, source="bench guess"),
        "diffusion": StageCost(fixed=0.0, per_step_per_audio_second=1.5e-4, source="bench guess"),
        "decode": StageCost(fixed=0.0, per_audio_second=2e-4, source="bench guess"),
    },
)


def synthetic_caps() -> Capabilities:
    devices = (DeviceClass.CPU,)
    return Capabilities(
        name="synthetic",
        display_name="Synthetic diffusion workload",
        summary="CPU arithmetic shaped like a diffusion song model",
        inputs=frozenset({Input.DURATION}),
        min_duration_s=1.0,
        max_duration_s=600.0,
        default_duration_s=60.0,
        sample_rate=48000,
        channels=2,
        lyric_dialect=LyricDialect.ACESTEP,
        max_lyrics_chars=1,
        max_style_chars=1,
        devices=devices,
        dtype_per_device={DeviceClass.CPU: "float32"},
        vram_gb=0.0,
        licence="MIT",
        default_weights="none",
        weights_env="NONE",
        cost={DeviceClass.CPU: SYNTHETIC_SEED},
    )


class SyntheticWorkload:
    """Real work: weights copied in, ``steps`` passes over 25 latent frames per second, a decode."""

    LATENT_HZ = 25
    WIDTH = 256

    CHUNK = 400  # frames per block: keeps the working set in cache, so cost is linear in length

    def __init__(self, seed: int = 0, *, superlinear: bool = False) -> None:
        self.superlinear = superlinear
        rng = np.random.default_rng(seed)
        self._weights = rng.standard_normal((2048, 2048)).astype(np.float32)  # 16 MB "checkpoint"
        self._rng = rng

    def run(self, req: PlanInput, progress: ProgressFn) -> None:
        w = self._weights.copy()[: self.WIDTH, : self.WIDTH] / math.sqrt(self.WIDTH)
        progress(ProgressEvent("load", 1, 1))
        frames = max(1, int(req.duration_s * self.LATENT_HZ))
        steps = req.steps or 1
        x = self._rng.standard_normal((frames, self.WIDTH)).astype(np.float32)
        block = frames if self.superlinear else self.CHUNK
        for i in range(steps):
            # sin keeps values O(1): a decaying tanh chain ends in denormals, which are slow
            for start in range(0, frames, block):
                x[start : start + block] = np.sin(x[start : start + block] @ w + 0.5)
            if self.superlinear:  # an attention-like term, quadratic in length
                pooled = x[::4, :32]  # attention over a 4x-pooled sequence: cost ~ frames^2
                np.exp(-(pooled @ pooled.T) / 32.0)
            progress(ProgressEvent("diffusion", i + 1, steps))
        progress(ProgressEvent("decode", 0, 1))
        peak = 0.0
        for start in range(0, frames, block):  # 1920 samples per latent frame at 48 kHz
            audio = np.fft.irfft(x[start : start + block, :64], n=1920, axis=1)
            peak = max(peak, float(np.abs(audio).max()))
        progress(ProgressEvent("decode", 1, 1))


def real_backend(name: str, weights: str) -> tuple[Capabilities, Callable[[PlanInput, ProgressFn], None]]:
    """A backend from the registry, rendering a short fixed lyric at each request's settings."""
    from backends.base import RenderJob
    from studio.registry import BackendCache, get_spec

    spec = get_spec(name)
    backend = BackendCache().get(name, weights)
    fields = spec.options.model_fields

    def run(req: PlanInput, progress: ProgressFn) -> None:
        opts = {"steps": req.steps} if "steps" in fields and req.steps is not None else {}
        job = RenderJob(
            style="upbeat synth-pop, female vocals",
            lyrics="[verse]\nCity lights are humming low\n[chorus]\nSing it out and let it go",
            instrumental=False,
            duration_s=req.duration_s,
            seeds=[0],
            options=spec.options.model_validate(opts),
        )
        backend.render(job, progress)

    return spec.capabilities, run


def device_name(device: DeviceClass) -> str:
    if device is DeviceClass.CPU:
        import platform

        return f"cpu:{platform.processor() or platform.machine()}"
    import torch

    if device is DeviceClass.CUDA:
        return torch.cuda.get_device_name()
    return "mps"


@dataclass
class Row:
    duration: float
    steps: int | None
    measured: float
    seed: float
    calibrated: float
    reserve: float

    @property
    def err(self) -> float:
        return (self.calibrated - self.measured) / self.measured

    @property
    def seed_err(self) -> float:
        return (self.seed - self.measured) / self.measured


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backend", help="a registry backend instead of the synthetic workload")
    p.add_argument("--weights", help="weights folder or hub id for --backend")
    p.add_argument("--device-class", choices=[d.value for d in DeviceClass], default="cpu")
    p.add_argument(
        "--calibration-runs",
        type=int,
        help="runs recorded before the timed sweep (default: one at each point of the sweep)",
    )
    p.add_argument("--repeats", type=int, default=1, help="passes over the sweep")
    p.add_argument("--quick", action="store_true", help="a smaller sweep")
    p.add_argument("--state", help="calibration JSON to read and extend (default: in memory)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--superlinear",
        action="store_true",
        help="synthetic steps that grow faster than length (whole-song blocks and an attention-like "
        "term): shows the error when the linear cost model's shape is wrong",
    )
    p.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        help="what to time: wall seconds (default on a GPU, which the run has to itself) or this "
        "thread's CPU seconds (default on a CPU, with the work kept on this thread: on a shared "
        "machine, wall time there mostly measures the neighbours)",
    )
    p.add_argument(
        "--cold-lengths",
        action="store_true",
        help="warm up on the first request only, so the first render at each other length pays its "
        "per-shape setup (on a CPU, oneDNN's kernels: the first decode at a new length ~2x slower)",
    )
    args = p.parse_args(argv)
    device = DeviceClass(args.device_class)
    clock_kind = args.clock or ("cpu" if device is DeviceClass.CPU else "wall")
    clock = time.perf_counter if clock_kind == "wall" else time.thread_time
    if args.backend and clock_kind == "cpu":
        import torch

        # All of the model's arithmetic on this thread, so that its CPU clock sees all of it.
        torch.set_num_threads(1)
    if args.backend:
        if not args.weights:
            p.error("--backend needs --weights")
        caps, run = real_backend(args.backend, args.weights)
        label = f"{caps.display_name} ({args.weights})"
    else:
        caps, workload = synthetic_caps(), SyntheticWorkload(args.seed, superlinear=args.superlinear)
        shape = "superlinear in length" if args.superlinear else "linear in length by construction"
        run, label = workload.run, f"synthetic CPU workload, {shape} (measures the estimator, not a model)"
    durations = DURATIONS[:3] if args.quick else DURATIONS
    steps_list = STEPS[:2] if args.quick else STEPS
    uses_steps = any(c.per_step_per_audio_second > 0 for c in cost_model(caps, device).stages.values())
    # A registry backend is loaded once, before the sweep, and stays loaded (as in the studio's warm
    # cache), so its renders never move weights: the load stage is not part of what is timed.
    include_load = not args.backend
    sweep = [
        PlanInput(duration_s=float(d), steps=s if uses_steps else None, include_load=include_load)
        for d in durations
        for s in (steps_list if uses_steps else (None,))
    ]
    store = Calibration(args.state)
    dev_name = device_name(device)
    view = store.for_device(dev_name)
    model = cost_model(caps, device)
    rng = random.Random(args.seed)
    calibration_runs = len(sweep) if args.calibration_runs is None else args.calibration_runs

    def timed(req: PlanInput) -> tuple[float, dict[str, float]]:
        timer = StageTimer(clock=clock)
        start = clock()
        run(req, timer)
        stages = timer.finish()
        return clock() - start, stages

    # Warm-up: first-call effects are not what we are estimating. One render per length, because on a
    # CPU the first decode at a new length runs ~2x slower (oneDNN builds its convolution kernels per
    # input shape; with torch.backends.mkldnn off the penalty goes, measured on the tiny ACE-Step VAE).
    warm_up = sweep[:1] if args.cold_lengths else list({r.duration_s: r for r in reversed(sweep)}.values())
    for req in warm_up:
        timed(req)
    calibration = rng.sample(sweep, min(calibration_runs, len(sweep)))
    calibration += [rng.choice(sweep) for _ in range(calibration_runs - len(calibration))]
    # Every measured total by request, to tell the machine's own run-to-run noise from the estimator's.
    totals: dict[PlanInput, list[float]] = {}
    for req in calibration:
        total, stages = timed(req)
        totals.setdefault(req, []).append(total)
        view.record(caps.name, model, req, stages)

    rows: list[Row] = []
    for _ in range(args.repeats):
        order = list(sweep)
        rng.shuffle(order)
        for req in order:
            seed_est = estimate(caps, req, device)
            cal_est = estimate(caps, req, device, view)
            total, stages = timed(req)
            totals.setdefault(req, []).append(total)
            view.record(caps.name, model, req, stages)  # as the studio does after every song
            rows.append(
                Row(
                    req.duration_s,
                    req.steps,
                    total,
                    seed_est.total_s,
                    cal_est.total_s,
                    cal_est.total_s * cal_est.margin,
                )
            )

    print(f"budget estimate accuracy: {label}")
    threads = " (torch on 1 thread)" if args.backend and clock_kind == "cpu" else ""
    print(f"device {device.value} / {dev_name}; clock: {clock_kind} seconds{threads}")
    print(f"{calibration_runs} calibration runs, then {len(rows)} timed (each recorded after timing)")
    warmed = "the first request only" if args.cold_lengths else f"one render at each of {len(warm_up)} lengths"
    print(f"warm-up before calibration: {warmed}")
    if not include_load:
        print("weights loaded once before the sweep: the load stage is neither timed nor estimated")
    head = ("dur s", "steps", "measured", "seed est", "calib est", "err", "reserve")
    print("{:>6} {:>5} {:>9} {:>9} {:>9} {:>7} {:>8}".format(*head))
    for r in sorted(rows, key=lambda r: (r.duration, r.steps or 0)):
        short = "  SHORT" if r.reserve < r.measured else ""
        print(
            f"{r.duration:6.0f} {r.steps or '-':>5} {r.measured:9.3f} {r.seed:9.3f} {r.calibrated:9.3f} "
            f"{r.err:+7.1%} {r.reserve:8.3f}{short}"
        )
    med_seed = statistics.median(abs(r.seed_err) for r in rows)
    med = statistics.median(abs(r.err) for r in rows)
    worst_short = min(r.err for r in rows)
    reserve_short = sum(r.reserve < r.measured for r in rows)
    print(f"seed only:        median |error| {med_seed:.1%}, worst {min(r.seed_err for r in rows):+.1%}")
    print(f"calibrated:       median |error| {med:.1%}, worst shortfall {min(0.0, worst_short):+.1%}")
    print(f"reserve (x margin) short of the measured time: {reserve_short} of {len(rows)}")
    noise = noise_floor(totals, len(rows))
    if noise is not None:
        sd, repeated, above = noise
        print(
            f"noise floor: the same request measured again varies by sd {sd:.1%} ({repeated} requests "
            f"measured more than once); an estimate that knew every typical time exactly would have to "
            f"sit {above:+.1%} above it to be 9 times in 10 never more than 10 % short over {len(rows)} runs"
        )
    ok = med <= 0.20 and worst_short >= -0.10 and reserve_short == 0
    print("targets (median <= 20 %, never > 10 % short, reserve never short):", "met" if ok else "NOT met")
    return 0 if ok else 1


def noise_floor(totals: dict[PlanInput, list[float]], runs: int) -> tuple[float, int, float] | None:
    """(sd of log time among repeats of one request, how many were repeated, the raise it forces).

    The raise: with log-normal noise of that sd around a perfectly known typical time, how far above
    it an estimate must sit so that, with probability 0.9, none of ``runs`` runs exceeds it by more
    than 10 %. A median error below it is out of any estimator's reach on this machine."""
    deviations: list[float] = []
    dof = 0
    repeated = 0
    for values in totals.values():
        if len(values) < 2:
            continue
        logs = [math.log(v) for v in values]
        mean = statistics.fmean(logs)
        deviations += [(v - mean) ** 2 for v in logs]
        dof += len(logs) - 1
        repeated += 1
    if dof == 0:
        return None
    sd = math.sqrt(sum(deviations) / dof)
    z = statistics.NormalDist().inv_cdf(0.9 ** (1 / runs))
    return sd, repeated, math.exp(z * sd) / 1.10 - 1


if __name__ == "__main__":
    sys.exit(main())
