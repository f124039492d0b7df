"""Peak memory of ACE-Step's VAE decode per audio second, untiled vs tiled, on this CPU.

Builds ``AutoencoderOobleck`` with the published checkpoint's ``vae/config.json`` (the values below,
as ACE-Step 1.5 ships them: 48 kHz stereo, hop 2 * 4 * 4 * 6 * 10 = 1920, 64 latent channels) and
random weights, decodes a few lengths of random latents in fp32, and prints the peak tensor memory
(studio.budget.peak) with its growth per audio second. A bf16 run holds half these bytes.

    python bench/vae_memory.py [--seconds 2 4 8] [--tile-frames 512 --overlap 64]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# ACE-Step/acestep-v15-xl-turbo-diffusers vae/config.json (same in ACE-Step-1.5 checkpoints/vae).
REAL_VAE_CONFIG = {
    "audio_channels": 2,
    "channel_multiples": [1, 2, 4, 8, 16],
    "decoder_channels": 128,
    "decoder_input_channels": 64,
    "downsampling_ratios": [2, 4, 4, 6, 10],
    "encoder_hidden_size": 128,
    "sampling_rate": 48000,
}
LATENTS_PER_SECOND = 25


def build_vae():
    import torch
    from diffusers import AutoencoderOobleck

    torch.manual_seed(0)
    return AutoencoderOobleck(**REAL_VAE_CONFIG).eval()


def decode_peak_gb(vae, seconds: float, *, tiled: bool, takes: int = 1) -> tuple[float, float]:
    import torch

    from studio.budget.peak import PeakMemory

    frames = round(seconds * LATENTS_PER_SECOND)
    z = torch.randn(takes, REAL_VAE_CONFIG["decoder_input_channels"], frames)
    vae.use_tiling = tiled
    vae.use_slicing = tiled
    start = time.perf_counter()
    with torch.no_grad(), PeakMemory() as peak:
        audio = vae.decode(z).sample
        del audio
    return peak.peak_gb, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, nargs="+", default=[2.0, 4.0, 8.0])
    parser.add_argument("--tile-frames", type=int, default=None, help="tile length in latent frames")
    parser.add_argument("--overlap", type=int, default=None, help="tile overlap in latent frames, per side")
    args = parser.parse_args(argv)
    vae = build_vae()
    if args.tile_frames:
        vae.tile_latent_min_length = args.tile_frames
    if args.overlap is not None:
        vae.tile_latent_overlap = args.overlap
    weights = sum(p.numel() * p.element_size() for p in vae.parameters()) / 2**30
    print(f"real ACE-Step VAE config, random weights, fp32 on CPU: weights {weights:.3f} GB "
          f"({sum(p.numel() for p in vae.decoder.parameters()) / 1e6:.0f} M decoder parameters)")
    print(f"tiles: {vae.tile_latent_min_length} latent frames, overlap {vae.tile_latent_overlap} per side")
    rows = []
    for seconds in args.seconds:
        for tiled in (False, True):
            gb, took = decode_peak_gb(vae, seconds, tiled=tiled)
            rows.append((seconds, tiled, gb))
            print(f"  {seconds:6.1f} s  {'tiled  ' if tiled else 'untiled'}  peak {gb:7.3f} GB  "
                  f"({gb / seconds:.4f} GB per audio second, {took:.1f} s)")
    untiled = [(s, gb) for s, t, gb in rows if not t]
    if len(untiled) >= 2:
        (s0, g0), (s1, g1) = untiled[0], untiled[-1]
        slope = (g1 - g0) / (s1 - s0)
        print(f"untiled growth: {slope:.4f} GB per audio second per take in fp32, ~{slope / 2:.4f} in bf16")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
