"""Stem separation speed on this machine: seconds per minute of audio, and peak memory.

    python bench/stems_speed.py [--model tiny|full|both] [--seconds 30] [--device cpu] [--weights DIR_OR_ID]

Each model runs in a fresh child process, so each peak (resident set size, and CUDA's peak allocation
on a GPU) is that model's alone. ``tiny`` is the test suite's random HTDemucs (a few channels, one
transformer layer): it measures the studio's path and overhead, not the real model. ``full`` is a
random HTDemucs built from the published model's settings (demucs grids/mmi.py: dconv_mode 3, depth 4,
t_layers 5; 7.8 s chunks), saved in demucs' Hub layout and loaded by the studio's loader: random
weights separate nothing, but they cost exactly what the published ``htdemucs`` costs. ``--weights``
runs real weights instead (a folder, or a Hub id the studio downloads first).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

FOUR = ["drums", "bass", "other", "vocals"]


def _model(kind: str):
    import torch
    from demucs.htdemucs import HTDemucs

    torch.manual_seed(0)
    if kind == "tiny":
        from tests.separation.tiny import tiny_htdemucs

        return tiny_htdemucs()
    return HTDemucs(sources=FOUR, dconv_mode=3, depth=4, t_layers=5, segment=Fraction(39, 5)).eval()


def measure(kind: str, seconds: float, device: str, weights: str | None) -> dict:
    import numpy as np
    import torch

    from studio.separation import loader, run
    from studio.separation.catalog import HTDEMUCS, stem_set

    with tempfile.TemporaryDirectory() as scratch:
        if weights:
            folder = loader.locate(HTDEMUCS, weights)
        else:
            from tests.separation.tiny import save_published_layout

            folder = save_published_layout(_model(kind), Path(scratch) / kind)
        started = time.perf_counter()
        separator = loader.load(folder, HTDEMUCS)
        load_s = time.perf_counter() - started
    rate = 48_000
    t = np.arange(int(seconds * rate)) / rate
    audio = np.stack([0.3 * np.sin(2 * np.pi * 110 * t), 0.3 * np.sin(2 * np.pi * 220 * t)]).astype(np.float32)
    started, cpu_started = time.perf_counter(), time.process_time()
    stems = run.separate(separator, audio, rate, stem_set(4), device=device)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    took, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    assert all(a.shape == audio.shape for a in stems.values())
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux
    return {
        "model": "real weights" if weights else kind,
        "parameters_m": round(sum(p.numel() for p in separator.model.parameters()) / 1e6, 2),
        "device": device,
        "threads": torch.get_num_threads(),
        "audio_s": seconds,
        "load_s": round(load_s, 2),
        "separate_s": round(took, 2),
        "seconds_per_audio_minute": round(took / seconds * 60, 1),
        # CPU seconds of this process (all threads): on a machine shared with other work, wall time
        # includes waiting for a core, this does not.
        "cpu_s_per_audio_minute": round(cpu / seconds * 60, 1),
        "peak_rss_mb": round(peak_rss_mb),
        "peak_cuda_mb": round(torch.cuda.max_memory_allocated() / 2**20) if device.startswith("cuda") else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["tiny", "full", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=30.0, help="audio length separated (default 30)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or mps (default cpu)")
    parser.add_argument("--weights", help="real Demucs htdemucs weights: a folder or a Hub id")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.seconds, args.device, args.weights)))
        return
    kinds = ["tiny", "full"] if args.model == "both" else [args.model]
    print(f"# {platform.processor() or platform.machine()}, {args.seconds:g} s of 48 kHz stereo audio, "
          f"device {args.device}", flush=True)
    for kind in kinds:
        command = [sys.executable, __file__, "--child", kind, "--seconds", str(args.seconds), "--device", args.device]
        if args.weights:
            command += ["--weights", args.weights]
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        print(out.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
