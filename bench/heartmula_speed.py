"""HeartMuLa speed on this machine: LM frames per second and codec seconds per second of audio.

    python bench/heartmula_speed.py [--weights FOLDER_OR_HUB_ID] [--device cuda] [--seconds 20]

Without --weights (and without $STUDIO_HEARTMULA_WEIGHTS) it runs the tiny fixture checkpoint,
which checks the code path and measures overhead, not the real model's speed. The stop rule is
turned off so every run measures the same number of frames.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from studio import settings  # noqa: E402 (the checkout is on sys.path only now)

FIXTURE_CKPT = (
    Path(settings.SHARED.get() or REPO.parent / "shared") / "fixtures" / "heartmula" / "ckpt"
)
TAGS = "piano,happy,wedding,synthesizer"
LYRICS = "[verse]\nthe sun is rising over quiet hills\n\n[chorus]\nhello world, la la la"


def device_name(device) -> str:
    import torch

    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return f"Apple MPS ({platform.machine()})"
    return f"CPU {platform.processor() or platform.machine()} ({torch.get_num_threads()} threads)"


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--weights", default=settings.HEARTMULA_WEIGHTS.get())
    parser.add_argument("--device", default=None, help="cuda, mps or cpu (default: best available)")
    parser.add_argument("--seconds", type=float, default=20.0, help="song length the LM generates")
    parser.add_argument("--cfg", type=float, default=1.5)
    parser.add_argument("--json", action="store_true", help="print one JSON line instead of text")
    args = parser.parse_args(argv)

    import torch

    from backends.heartmula.backend import load
    from backends.heartmula.generate import SamplingParams, generate_frames

    weights = args.weights or str(FIXTURE_CKPT)
    backend = load(weights=weights, device=args.device)
    pipe = backend.pipeline
    device = pipe.device

    t0 = time.perf_counter()
    lm = pipe.lm
    _sync(device)
    load_lm_s = time.perf_counter() - t0

    prompt = pipe.prompts.build(TAGS, LYRICS)
    params = SamplingParams(args.cfg, 1.0, 50)
    never = lm.config.audio_vocab_size  # no code reaches it: the stop rule never fires
    generator = torch.Generator(device=device).manual_seed(0)
    generate_frames(lm, prompt, 800, params, never, generator=generator)  # warm-up
    _sync(device)
    t0 = time.perf_counter()
    codes = generate_frames(lm, prompt, int(args.seconds * 1000), params, never, generator=generator)
    _sync(device)
    lm_s = time.perf_counter() - t0
    frames = codes.shape[1]

    t0 = time.perf_counter()
    codec = pipe.codec
    _sync(device)
    load_codec_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    wav = codec.decode(codes, generator=torch.Generator().manual_seed(0))
    _sync(device)
    codec_s = time.perf_counter() - t0
    audio_s = wav.shape[-1] / 48000

    result = {
        "device": device_name(device),
        "weights": weights,
        "lm_dtype": str(pipe.lm_dtype).removeprefix("torch."),
        "codec_dtype": str(pipe.codec_dtype).removeprefix("torch."),
        "cfg": args.cfg,
        "frames": frames,
        "lm_frames_per_s": round(frames / lm_s, 2),
        "codec_s_per_audio_s": round(codec_s / audio_s, 4),
        "audio_s": round(audio_s, 2),
        "load_lm_s": round(load_lm_s, 2),
        "load_codec_s": round(load_codec_s, 2),
    }
    if device.type == "cuda":
        result["peak_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>20}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
