"""Overhead of the studio's generate path over a bare AceStepPipeline call.

Both run the same tiny pipeline with the same inputs, interleaved in one process so machine noise
hits both alike. Prints the median of each and their ratio (target <= 1.05). The studio path is
``studio.request.prepare.prepare`` + ``Studio.render`` (validation, seeds, backend cache, render, trim); writing
mastering and export are timed separately because a bare pipeline call does neither.

    .venv/bin/python bench/overhead.py [--rounds 15] [--duration 30] [--steps 8]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--steps", type=int, default=8)
    args = parser.parse_args()

    import torch

    from backends.acestep.tiny import save_tiny_pipeline
    from studio import devices
    from studio.errors import validate
    from studio.rendering import Studio
    from studio.song import SongRequest

    folder = save_tiny_pipeline(Path(tempfile.mkdtemp()) / "tiny")
    device = devices.detect("cpu")
    studio = Studio()
    request = validate(SongRequest, {
        "style": "synth pop", "lyrics": "[Verse]\nneon rain", "duration": args.duration, "seed": 1,
        "options": {"steps": args.steps},
    })
    studio.render(request, weights=str(folder), device=device)  # load once, warm up
    pipe = studio.cache.loaded()["acestep"].pipe

    def bare() -> None:
        pipe(prompt=["synth pop"], lyrics=["[Verse]\nneon rain"], audio_duration=args.duration,
             vocal_language="unknown", num_inference_steps=args.steps, shift=3.0, guidance_scale=1.0,
             generator=[torch.Generator("cpu").manual_seed(1)])

    def ours() -> None:
        studio.render(request, weights=str(folder), device=device)

    bare()
    times: dict[str, list[float]] = {"bare": [], "studio": []}
    for i in range(args.rounds):
        order = (("bare", bare), ("studio", ours)) if i % 2 == 0 else (("studio", ours), ("bare", bare))
        for name, fn in order:
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)

    from studio.finishing import finish_take

    raw = studio.render_raw(request, weights=str(folder), device=device)
    t = time.perf_counter()
    finish_take(raw, raw.takes[0], Path(tempfile.mkdtemp()), "take", now=("wav",))
    write_s = time.perf_counter() - t

    b, s = statistics.median(times["bare"]), statistics.median(times["studio"])
    print(f"device={device.name} duration={args.duration:g}s steps={args.steps} rounds={args.rounds}")
    print(f"bare pipeline  median {b * 1000:8.1f} ms")
    print(f"studio render  median {s * 1000:8.1f} ms")
    print(f"ratio studio/bare = {s / b:.3f} (target <= 1.05)")
    print(f"mastering + WAV export {write_s * 1000:.1f} ms, not part of the ratio")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
