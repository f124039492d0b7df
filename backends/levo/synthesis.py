"""Codes [1, 3, T] -> stereo waveform: pick the streams for the mode, flow-decode, VAE-decode, cross-fade."""

from __future__ import annotations

import numpy as np
import torch

from backends.conv_limit import OOBLECK_REACH_FRAMES, frames_within
from backends.levo.decoder import NoiseFn, SeparateTokenDecoder
from backends.levo.vae import OobleckVae
from studio.ground.progress import ProgressFn, no_progress

DECODE_TYPES = ("mixed", "vocal", "bgm")


def streams_for(
    codes: torch.Tensor, gen_type: str, decoder: SeparateTokenDecoder
) -> tuple[torch.Tensor, torch.Tensor]:
    """Only streams 1 (vocal) and 2 (accompaniment) are decoded; stream 0 is the LM's mixture guide."""
    if gen_type not in DECODE_TYPES:
        raise ValueError(f"gen_type must be one of {DECODE_TYPES}, got {gen_type!r}")
    vocal, bgm = codes[:, 1].long(), codes[:, 2].long()
    if gen_type == "bgm":
        vocal = torch.full_like(vocal, decoder.dims.silent_vocal_code)
    elif gen_type == "vocal":
        bgm = torch.full_like(bgm, decoder.dims.silent_bgm_code)
    return vocal, bgm


@torch.no_grad()
def latents_to_audio(
    windows: list[torch.Tensor], vae: OobleckVae, *, window: int, frames: int, chunk: int, overlap: int
) -> torch.Tensor:
    """VAE-decode each window (batch item 0) and cross-fade the overlaps linearly; [C, samples]."""
    spl = vae.cfg.hop
    hop_frames = window // 4 * 3
    ovlp = (window - hop_frames) * spl
    target = int(frames / 100 * 4 * vae.cfg.sample_rate)  # upstream's own formula for T frames at 25 Hz
    out: torch.Tensor | None = None
    for i, lat in enumerate(windows):
        # Samples past the song's end are cut below, so their chunks need not be decoded.
        limit = max(0, target - i * hop_frames * spl)
        cur = vae.decode_chunked(lat, chunk=chunk, overlap=overlap, limit=limit)[0].cpu()
        if out is None:
            out = cur
            continue
        ramp = torch.from_numpy(np.linspace(0, 1, ovlp)[None, :])
        mixed = out[:, -ovlp:] * (1 - ramp) + cur[:, :ovlp] * ramp
        out[:, -ovlp:] = mixed.to(out.dtype)
        out = torch.cat([out, cur[:, ovlp:]], -1)
    assert out is not None
    return out[:, :target]


def vae_chunks(chunk: int, overlap: int, hop: int, conv_limit: int | None) -> tuple[int, int]:
    """Upstream's VAE chunk and overlap (latent frames), shrunk on a device that limits convolution
    outputs (Apple's MPS) so each chunk's waveform fits; the overlap then keeps the decoder's reach."""
    if conv_limit is None or chunk * hop <= conv_limit:
        return chunk, overlap
    return frames_within(conv_limit, hop), min(overlap, 2 * OOBLECK_REACH_FRAMES)


@torch.no_grad()
def decode_codes(
    codes: torch.Tensor,
    gen_type: str,
    decoder: SeparateTokenDecoder,
    vae: OobleckVae,
    noise: NoiseFn,
    progress: ProgressFn = no_progress,
    conv_limit: int | None = None,
) -> torch.Tensor:
    vocal, bgm = streams_for(codes, gen_type, decoder)
    windows = decoder.codes_to_latents(vocal, bgm, noise, progress)
    d = decoder.dims
    chunk, overlap = vae_chunks(d.vae_chunk_size, d.vae_chunk_overlap, vae.cfg.hop, conv_limit)
    return latents_to_audio(
        windows,
        vae,
        window=decoder.window,
        frames=codes.shape[-1],
        chunk=chunk,
        overlap=overlap,
    )
