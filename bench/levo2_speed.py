"""LeVo 2 speed on this device: LM frames per second and decoder seconds per second of audio.

    python bench/levo2_speed.py                      # tiny fixture weights, CPU or whatever is here
    python bench/levo2_speed.py --weights lglg666/SongGeneration-v2-large \\
        --runtime lglg666/SongGeneration-Runtime --seconds 30

Compare with upstream's published real-time factor (0.82 for v2-large on an H20, LM + decoder).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

FIXTURE = REPO.parent / "shared" / "fixtures" / "levo2"
LYRICS = "[intro-short] ; [verse] City lights are fading slow. I walk alone down roads I know ; [outro-short]"


def fixture_folders(tmp: Path) -> tuple[str, str]:
    """Arrange the tiny golden fixture like the official model and runtime downloads."""
    if not FIXTURE.is_dir():
        raise SystemExit(f"No --weights given and the tiny fixture is not at {FIXTURE}.")
    with tarfile.open(FIXTURE / "third_party" / "Qwen2-7B_tokenizer.tar.xz") as tar:
        tar.extractall(tmp / "third_party", filter="data")
    sep, vae = tmp / "ckpt" / "model_septoken", tmp / "ckpt" / "vae"
    sep.mkdir(parents=True)
    vae.mkdir(parents=True)
    src = FIXTURE / "decoder" / "ckpt"
    shutil.copy(src / "model_septoken" / "model_2.safetensors", sep)
    shutil.copy(src / "model_septoken" / "dims.json", sep)
    shutil.copy(src / "vae" / "stable_audio_1920_vae.json", vae)
    shutil.copy(src / "vae" / "autoencoder_music_tiny.ckpt", vae / "autoencoder_music_1320k.ckpt")
    return str(FIXTURE / "lelm_tiny"), str(tmp)


def device_name(device: str) -> str:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    if device == "mps":
        return "Apple MPS"
    import platform

    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def main(argv: list[str] | None = None) -> int:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=fmt)
    parser.add_argument("--weights", help="model repo id or folder (default: the tiny fixture)")
    parser.add_argument("--runtime", help="runtime repo id or folder (default: the tiny fixture)")
    parser.add_argument("--device", help="cuda, mps or cpu (default: the best available)")
    parser.add_argument("--dtype", choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--seconds", type=float, default=10.0, help="audio length to generate (cap)")
    parser.add_argument("--top-k", type=int, default=50)
    args = parser.parse_args(argv)

    import torch

    from backends.levo.backend import LevoBackend
    from backends.levo.conditioning import build_conditions
    from backends.levo.decoder import generator_noise
    from backends.levo.generation import SamplingParams, generate_codes
    from backends.levo.synthesis import decode_codes
    from backends.levo.text import build_texts

    with tempfile.TemporaryDirectory() as tmp:
        weights, runtime = args.weights, args.runtime
        if not weights or not runtime:
            weights, runtime = fixture_folders(Path(tmp))
            print("tiny fixture weights (random, 2 layers): the figures show overhead, not the real model")
        t0 = time.perf_counter()
        backend = LevoBackend.load(weights, runtime, device=args.device, dtype=args.dtype)
        load_s = time.perf_counter() - t0
        dev = backend.device

        def sync() -> None:
            if dev.startswith("cuda"):
                torch.cuda.synchronize()

        generator = torch.Generator().manual_seed(0)
        texts = build_texts(LYRICS, "female, pop, piano", bgm=False)
        frames = int(args.seconds * backend.lm.cfg.frame_rate)
        sync()
        t0 = time.perf_counter()
        conditions = build_conditions(backend.lm, backend.tokenizers, texts)
        params = SamplingParams(top_k=args.top_k)
        codes = generate_codes(backend.lm, conditions, frames, params, generator=generator)
        sync()
        lm_s = time.perf_counter() - t0
        steps = frames + max(backend.lm.cfg.delays)  # the delay pattern adds 250 steps
        t0 = time.perf_counter()
        wav = decode_codes(codes.cpu(), "mixed", backend.decoder, backend.vae, generator_noise(generator))
        sync()
        dec_s = time.perf_counter() - t0
        audio_s = wav.shape[-1] / backend.vae.cfg.sample_rate

    print(f"device            {device_name(dev)} ({backend.dtype})")
    print(f"load              {load_s:.1f} s")
    print(f"LM                {steps / lm_s:.1f} steps/s ({codes.shape[-1]} frames kept, {lm_s:.1f} s)")
    print(f"decoder           {dec_s / max(audio_s, 1e-9):.3f} s per audio second ({audio_s:.1f} s audio)")
    rtf = (lm_s + dec_s) / max(audio_s, 1e-9)
    print(f"real-time factor  {rtf:.3f} (upstream: 0.82 for v2-large on an H20)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
