"""The Stable Audio (Oobleck) VAE decoder, run through diffusers' ``OobleckDecoder``.

The runtime ships stable-audio-tools' checkpoint (``decoder.layers.N...`` with weight-norm
``weight_g``/``weight_v`` and Snake ``alpha``/``beta`` of shape [C]); diffusers' decoder is the
same network under other names, so we only rename keys and reshape the Snake parameters. The
fixture's VAE-only check proves the two agree.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

from backends.levo.checkpoint import load_strict, load_torch_state
from backends.levo.config import VaeConfig
from studio.ground.errors import StudioError

_RES_UNIT = {"0": "snake1", "1": "conv1", "2": "snake2", "3": "conv2"}
_BLOCK = {"0": "snake1", "1": "conv_t1", "2": "res_unit1", "3": "res_unit2", "4": "res_unit3"}


def rename_decoder_keys(state: dict[str, torch.Tensor], blocks: int) -> dict[str, torch.Tensor]:
    """stable-audio-tools decoder keys -> diffusers ``OobleckDecoder`` keys (encoder keys dropped)."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if not key.startswith("decoder.layers."):
            continue
        parts = key.split(".")[2:]  # after 'decoder.layers'
        top = int(parts[0])
        if top == 0:
            name = "conv1." + ".".join(parts[1:])
        elif top <= blocks:
            sub = _BLOCK[parts[2]]
            if sub.startswith("res_unit"):
                name = f"block.{top - 1}.{sub}.{_RES_UNIT[parts[4]]}." + ".".join(parts[5:])
            else:
                name = f"block.{top - 1}.{sub}." + ".".join(parts[3:])
        elif top == blocks + 1:
            name = "snake1." + ".".join(parts[1:])
        elif top == blocks + 2:
            name = "conv2." + ".".join(parts[1:])
        else:
            raise StudioError(f"Unexpected VAE key {key!r}; is this the Stable Audio 1920x VAE?")
        if name.endswith(("alpha", "beta")) and value.dim() == 1:
            value = value.view(1, -1, 1)
        out[name] = value
    return out


class OobleckVae(nn.Module):
    def __init__(self, cfg: VaeConfig) -> None:
        super().__init__()
        from diffusers.models.autoencoders.autoencoder_oobleck import OobleckDecoder

        if cfg.final_tanh:
            raise StudioError("A VAE with final_tanh is not supported by this port.")
        self.cfg = cfg
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch's old weight_norm helper
            self.decoder = OobleckDecoder(
                channels=cfg.channels,
                input_channels=cfg.latent_dim,
                audio_channels=cfg.out_channels,
                upsampling_ratios=list(cfg.strides[::-1]),
                channel_multiples=list(cfg.c_mults),
            )

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        return self.decoder(latents.to(self.decoder.conv1.weight_v.dtype)).float()

    @torch.no_grad()
    def decode_chunked(
        self, latents: torch.Tensor, chunk: int = 128, overlap: int = 32, limit: int | None = None
    ) -> torch.Tensor:
        """Decode [B, C, T] latents in overlapping chunks; each seam keeps half the overlap from
        either side, and the last chunk is aligned to the end.

        Every output sample comes from exactly one chunk, so chunks that would only fill samples
        at or past ``limit`` are skipped (left zero) without changing any sample before it."""
        total = latents.shape[-1]
        if total <= chunk:
            return self.decode(latents)
        hop = chunk - overlap
        starts = list(range(0, total - chunk + 1, hop))
        if starts[-1] + chunk != total:
            starts.append(total - chunk)
        spl = self.cfg.hop
        out = torch.zeros(latents.shape[0], self.cfg.out_channels, total * spl, device=latents.device)
        half = (overlap // 2) * spl
        for i, s in enumerate(starts):
            last = i == len(starts) - 1
            length = chunk * spl
            t0 = (total * spl - length) if last else s * spl
            if limit is not None and t0 + (half if i > 0 else 0) >= limit:
                break
            y = self.decode(latents[:, :, s : s + chunk])
            t1 = t0 + y.shape[-1]
            c0, c1 = 0, y.shape[-1]
            if i > 0:
                t0, c0 = t0 + half, c0 + half
            if not last:
                t1, c1 = t1 - half, c1 - half
            out[:, :, t0:t1] = y[:, :, c0:c1]
        return out


def load_vae(
    config_path: Path,
    weights_path: Path,
    *,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> OobleckVae:
    cfg = VaeConfig.from_json(config_path)
    vae = OobleckVae(cfg)
    state = rename_decoder_keys(load_torch_state(weights_path), blocks=len(cfg.strides))
    load_strict(vae.decoder, state, what=str(weights_path))
    return vae.to(device=device, dtype=dtype).eval()
