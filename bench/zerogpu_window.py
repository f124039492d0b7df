"""What a ZeroGPU visitor pays for, measured on the tiny ACE-Step pipeline in one run.

Prints, per take length:
- seconds inside the GPU function (``runner.render_on_gpu``'s body: ``Studio.render_raw`` plus
  making the result picklable) against the model's own render time (target <= 1.05x);
- seconds (wall, and CPU) from the end of the render to a playable song (``runner.finish_into_library``: master
  once, write the player's 16-bit FLAC, keep it in the library; target <= 0.25 s for a 60-s take);
- seconds the background writer then spends on the downloads (24-bit WAV, 320 kbps MP3) and the
  take's checks, off that path.

The tiny model renders in well under a second, so the window ratio here is dominated by the
studio's own bookkeeping; on a GPU the render takes tens of seconds and the ratio moves towards 1.
Finishing is pure CPU work and does not depend on the model or the GPU.

    .venv/bin/python bench/zerogpu_window.py [--rounds 5] [--lengths 60 180]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--lengths", type=float, nargs="+", default=[60.0, 180.0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument(
        "--profile",
        action="store_true",
        help="after the rounds, print where one more finish of each length spends its time",
    )
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="zerogpu-bench-"))
    from backends.acestep.tiny import save_tiny_pipeline

    weights = save_tiny_pipeline(scratch / "tiny")
    os.environ.update(STUDIO_ACESTEP_WEIGHTS=str(weights), STUDIO_DEVICE="cpu", STUDIO_STATE_DIR=str(scratch / "state"))
    from studio.library import Library
    from studio.request.prepare import prepare
    from studio.song import SongRequest
    from studio.ui import runner

    library = Library(scratch / "library")
    body = runner.render_on_gpu.__wrapped__  # the GPU function itself, without the reservation's planning
    token = runner.CancelToken(scratch)
    print(f"cpu_count={os.cpu_count()} load_avg={os.getloadavg()[0]:.1f} steps={args.steps} rounds={args.rounds}")
    for length in args.lengths:
        request = SongRequest(
            style="synth pop", lyrics="[Verse]\nneon rain", duration=length, seed=1, options={"steps": args.steps}
        )
        prepared = prepare(request, "local")  # once, before the GPU, as every surface does
        budget = runner._reservation(prepared)
        body(prepared, token, budget=budget)  # load and warm up outside the measurement
        window, model, playable, playable_cpu, background = [], [], [], [], []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            raw = body(prepared, token, budget=budget)
            window.append(time.perf_counter() - t0)
            model.append(raw.render_s)
            # CPU seconds too: on a shared machine the wall time mostly says how busy it was (the previous
            # round's background writer is done, so only this path runs in the process meanwhile).
            t1, c1 = time.perf_counter(), time.process_time()
            _, songs = runner.finish_into_library(raw, library, "local", scratch / "staging")
            playable.append(time.perf_counter() - t1)
            playable_cpu.append(time.process_time() - c1)
            t2 = time.perf_counter()
            runner.LATER.wait([s.id for s in songs])
            background.append(time.perf_counter() - t2)
        w, m = statistics.median(window), statistics.median(model)
        print(
            f"{length:5.0f}-s take: GPU function {w:6.3f} s vs model render {m:6.3f} s -> ratio {w / m:.3f} "
            "(target <= 1.05)"
        )
        print(
            f"{length:5.0f}-s take: end of render -> playable song {statistics.median(playable):6.3f} s "
            f"({statistics.median(playable_cpu):.3f} CPU s, fastest {min(playable):.3f} s) "
            f"(target <= 0.25 s for 60 s); WAV, MP3 and checks in the background "
            f"{statistics.median(background):6.3f} s more"
        )
        if args.profile:
            _profile_finish(runner, raw, library, scratch / "staging")
    print(
        "On a GPU: the render takes tens of seconds instead of the tiny model's few, so the window ratio moves "
        "towards 1; finishing is CPU work in the main process after the window and does not change."
    )
    return 0


def _profile_finish(runner, raw, library, staging: Path) -> None:
    """The top of a cProfile of one more ``finish_into_library``, by own time (C calls included), then the true
    peak's functions."""
    import cProfile
    import pstats

    profile = cProfile.Profile()
    profile.enable()
    _, songs = runner.finish_into_library(raw, library, "local", staging)
    profile.disable()
    runner.LATER.wait([s.id for s in songs])
    stats = pstats.Stats(profile).sort_stats("tottime")
    stats.print_stats(12)
    # cProfile sees this thread only: helper threads measure most of the true peak's chunks while this one
    # writes the player's file, so the true peak's share here may fall out of the top rows; listed on its own.
    print("The true peak's share on this thread (helper threads measure the rest of its chunks):")
    stats.print_stats(r"peaks\.py")


if __name__ == "__main__":
    raise SystemExit(main())
