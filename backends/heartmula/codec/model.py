"""HeartCodec: codes [8, T] at 12.5 Hz → stereo waveform [2, T·3840] at 48 kHz, in memory.

Long songs are decoded in 29.76 s windows (372 code frames) with a 320-frame hop. Each later
window continues from the previous one's last 104 latents (in-context), and the decoded
windows are crossfaded linearly over the overlap.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from backends.heartmula.codec.dit import FlowEstimator
from backends.heartmula.codec.scalar import ScalarModel
from studio.ground.progress import ProgressEvent, ProgressFn, no_progress

CODE_RATE_HZ = 12.5
LATENT_RATE_HZ = 25.0
WINDOW_SECONDS = 29.76
LATENT_CHANNELS = 256  # two stereo halves of 128
SAMPLE_RATE = 48000


@dataclass(frozen=True)
class WindowPlan:
    """Window geometry in code frames, latent frames and samples (upstream's constants)."""

    sample_rate: int = 48000

    @property
    def codes(self) -> int:
        return int(WINDOW_SECONDS * CODE_RATE_HZ)  # 372

    @property
    def hop_codes(self) -> int:
        return self.codes // 93 * 80  # 320

    @property
    def overlap_codes(self) -> int:
        return self.codes - self.hop_codes  # 52

    @property
    def latents(self) -> int:
        return int(WINDOW_SECONDS * LATENT_RATE_HZ)  # 744

    @property
    def overlap_latents(self) -> int:
        return self.overlap_codes * 2  # 104

    @property
    def samples(self) -> int:
        return int(WINDOW_SECONDS * self.sample_rate)  # 1,428,480

    @property
    def hop_samples(self) -> int:
        return self.samples // 93 * 80

    @property
    def overlap_samples(self) -> int:
        return self.samples - self.hop_samples

    def padded_length(self, n: int) -> int:
        """Code length after tiling: at least one window, then a whole number of hops plus the overlap.

        Upstream tests ``(n − 104) % 320`` but pads to ``k·320 + 52``; for lengths where the two
        disagree it silently drops the song's tail. This uses the overlap it pads to, which gives
        the same length wherever upstream's result is complete.
        """
        n = max(n, self.codes)
        if (n - self.overlap_codes) % self.hop_codes:
            n = math.ceil((n - self.overlap_codes) / self.hop_codes) * self.hop_codes + self.overlap_codes
        return n

    def starts(self, padded: int) -> list[int]:
        return list(range(0, padded - self.hop_codes + 1, self.hop_codes))


def tile_to(codes: torch.Tensor, length: int) -> torch.Tensor:
    """Repeat the sequence end to end (as upstream's doubling does) and cut to ``length``."""
    reps = math.ceil(length / codes.shape[-1])
    return codes.repeat(1, reps)[:, :length]


class _Codebook(nn.Module):
    def __init__(self, size: int, dim: int) -> None:
        super().__init__()
        self.register_buffer("embed", torch.zeros(1, size, dim))


class _Quantizer(nn.Module):
    def __init__(self, size: int, dim: int) -> None:
        super().__init__()
        self._codebook = _Codebook(size, dim)


class ResidualCodebooks(nn.Module):
    """Lookup side of a residual VQ: sum the 8 codebook vectors, then project up to ``dim``."""

    def __init__(self, num: int, size: int, codebook_dim: int, dim: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(_Quantizer(size, codebook_dim) for _ in range(num))
        self.project_out = nn.Linear(codebook_dim, dim)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        """codes [8, T] → [T, dim]."""
        total = sum(layer._codebook.embed[0][codes[i]] for i, layer in enumerate(self.layers))
        return self.project_out(total)


class FlowMatching(nn.Module):
    def __init__(self, cfg: dict) -> None:
        super().__init__()
        dim = cfg["dim"]
        self.vq_embed = ResidualCodebooks(
            cfg["num_quantizers"], cfg["codebook_size"], cfg["codebook_dim"], dim
        )
        self.cond_feature_emb = nn.Linear(dim, dim)
        # Stands in for codes where the mask says "no condition"; decoding never has such frames.
        self.zero_cond_embedding1 = nn.Parameter(torch.zeros(dim))
        self.estimator = FlowEstimator(
            heads=cfg["num_attention_heads"],
            head_dim=cfg["attention_head_dim"],
            in_channels=cfg["in_channels"],
            out_channels=cfg["out_channels"],
            layers=cfg["num_layers"],
            layers_2=cfg["num_layers_2"],
        )

    def condition(self, codes: torch.Tensor) -> torch.Tensor:
        """codes [8, 372] → mu [1, 744, dim] (nearest upsampling ×2 from 12.5 to 25 Hz)."""
        emb = self.cond_feature_emb(self.vq_embed(codes))
        return emb.repeat_interleave(2, dim=0).unsqueeze(0)

    def solve(
        self,
        mu: torch.Tensor,
        noise: torch.Tensor,
        incontext: torch.Tensor,
        incontext_length: int,
        steps: int,
        guidance: float,
    ) -> torch.Tensor:
        """Euler from noise (t=0) to data (t=1). The in-context prefix is pinned to the path from its
        noise to the known latents at every step, and to the known latents at the end."""
        t_span = torch.linspace(0, 1, steps + 1, device=mu.device)
        t, dt = t_span[0], t_span[1] - t_span[0]
        x = noise.clone()
        n = incontext_length
        for step in range(1, steps + 1):
            if n:
                x[:, :n] = (1 - (1 - 1e-6) * t) * noise[:, :n] + t * incontext[:, :n]
            if guidance > 1.0:
                both = torch.cat(
                    [
                        torch.cat([x, x]),
                        torch.cat([incontext, incontext]),
                        torch.cat([torch.zeros_like(mu), mu]),
                    ],
                    dim=2,
                )
                v_uncond, v_cond = self.estimator(both, t.reshape(1).repeat(2).to(x.dtype)).chunk(2)
                v = v_uncond + guidance * (v_cond - v_uncond)
            else:
                v = self.estimator(torch.cat([x, incontext, mu], dim=2), t.reshape(1).to(x.dtype))
            x = x + dt * v
            t = t + dt
            if step < steps:
                dt = t_span[step + 1] - t
        if n:
            x[:, :n] = incontext[:, :n]
        return x


class NoiseSource:
    """Noise for the windows, drawn in upstream's order so a seed reproduces upstream's run.

    Upstream draws one full-window tensor it never uses, then per window: (for windows after the
    first) an unused tail, then the window's noise. ``injected`` replaces the used draws (tests).
    """

    def __init__(self, generator: torch.Generator | None, injected: list[torch.Tensor] | None = None) -> None:
        self.generator = generator
        self.injected = list(injected) if injected is not None else None

    def draw(self, frames: int, used: bool) -> torch.Tensor | None:
        if self.injected is not None:
            return self.injected.pop(0) if used else None
        noise = torch.randn(1, frames, LATENT_CHANNELS, generator=self.generator)
        return noise if used else None


class HeartCodec(nn.Module):
    def __init__(self, cfg: dict) -> None:
        super().__init__()
        self.cfg = cfg
        self.sample_rate = int(cfg.get("sample_rate", 48000))
        self.flow_matching = FlowMatching(cfg)
        self.scalar_model = ScalarModel(cfg)
        self.plan = WindowPlan(self.sample_rate)
        # The longest convolution output the device allows (Apple's MPS), or None.
        self.conv_limit: int | None = None

    @property
    def device(self) -> torch.device:
        return self.flow_matching.cond_feature_emb.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.flow_matching.cond_feature_emb.weight.dtype

    def window_latents(
        self,
        codes: torch.Tensor,
        noise: NoiseSource,
        steps: int,
        guidance: float,
        progress: ProgressFn,
    ) -> Iterator[torch.Tensor]:
        """Yields each window's flow latents [1, 744, 256]."""
        plan = self.plan
        padded = tile_to(codes, plan.padded_length(codes.shape[-1]))
        starts = plan.starts(padded.shape[-1])
        noise.draw(plan.latents, used=False)
        previous: torch.Tensor | None = None
        for index, start in enumerate(starts):
            window = padded[:, start : start + plan.codes].to(self.device)
            mu = self.flow_matching.condition(window.long()).to(self.dtype)
            incontext = torch.zeros(1, plan.latents, LATENT_CHANNELS, device=self.device, dtype=self.dtype)
            known = 0
            if previous is not None:
                known = plan.overlap_latents
                incontext[:, :known] = previous[:, -known:]
                noise.draw(plan.latents - known, used=False)
            x0 = noise.draw(plan.latents, used=True).to(self.device, self.dtype)
            previous = self.flow_matching.solve(mu, x0, incontext, known, steps, guidance)
            progress(ProgressEvent("codec", index + 1, len(starts), f"window {index + 1} of {len(starts)}"))
            yield previous

    def latents_to_audio(self, latent: torch.Tensor) -> torch.Tensor:
        """[1, 744, 256] → [2, samples]: first 128 channels are the left, last 128 the right."""
        stereo = latent[0].unflatten(-1, (2, -1)).permute(1, 2, 0)  # [2, 128, T]
        return self.scalar_model.decode(stereo, self.conv_limit)[:, 0, : self.plan.samples].float().cpu()

    @torch.inference_mode()
    def decode(
        self,
        codes: torch.Tensor,
        generator: torch.Generator | None = None,
        steps: int = 10,
        guidance: float = 1.25,
        progress: ProgressFn = no_progress,
        noise: list[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """codes [8, T] int → float32 waveform [2, T·3840] on the CPU."""
        if codes.dim() != 2 or codes.shape[0] != self.cfg["num_quantizers"]:
            raise ValueError(f"codes must be [{self.cfg['num_quantizers']}, T], got {tuple(codes.shape)}")
        # Code 8192 (and the LM's specials) can appear in sampled frames but have no codebook entry.
        codes = codes.long().clamp(0, self.cfg["codebook_size"] - 1)
        target = int(codes.shape[-1] / CODE_RATE_HZ * self.sample_rate)
        source = NoiseSource(generator, noise)
        output: torch.Tensor | None = None
        ramp = torch.from_numpy(np.linspace(0, 1, self.plan.overlap_samples))  # float64, as upstream
        for latent in self.window_latents(codes, source, steps, guidance, progress):
            audio = self.latents_to_audio(latent)
            if output is None:
                output = audio
                continue
            n = self.plan.overlap_samples
            blended = (output[:, -n:] * (1 - ramp) + audio[:, :n] * ramp).to(output.dtype)
            output = torch.cat([output[:, :-n], blended, audio[:, n:]], dim=-1)
        assert output is not None
        return output[:, :target]

    @torch.inference_mode()
    def flow_latents(
        self, codes: torch.Tensor, noise: list[torch.Tensor], steps: int = 10, guidance: float = 1.25
    ) -> list[torch.Tensor]:
        """The flow-matching output of every window, before rounding and decoding (for checks)."""
        codes = codes.long().clamp(0, self.cfg["codebook_size"] - 1)
        return list(self.window_latents(codes, NoiseSource(None, noise), steps, guidance, no_progress))


# Checkpoint tensors that decoding never reads: the waveform encoder and the VQ's training state.
UNUSED_CODEC_TENSORS = (
    r"scalar_model\.encoder\.",
    r"flow_matching\.vq_embed\.project_in\.",
    r"flow_matching\.vq_embed\.layers\.\d+\._codebook\.(embed_avg|cluster_size|initted)$",
)


# HeartCodecConfig's defaults: a config.json may leave any of these out.
CODEC_DEFAULTS: dict = {
    "dim": 512,
    "codebook_size": 8192,
    "codebook_dim": 32,
    "num_quantizers": 8,
    "attention_head_dim": 64,
    "in_channels": 1024,
    "num_attention_heads": 24,
    "num_layers": 24,
    "num_layers_2": 6,
    "out_channels": 256,
    "num_bands": 1,
    "sample_rate": 48000,
    "causal": True,
    "num_samples": 2,
    "upsample_factors": [5, 4, 4, 4, 3],
    "upsample_kernel_sizes": [10, 8, 8, 8, 6],
    "latent_hidden_dim": 128,
    "default_kernel_size": 7,
    "delay_kernel_size": 5,
    "init_channel": 64,
    "res_kernel_size": 7,
}


def _meta_codec(model_dir: Path) -> HeartCodec:
    cfg = {**CODEC_DEFAULTS, **json.loads((Path(model_dir) / "config.json").read_text(encoding="utf-8"))}
    with torch.device("meta"):
        return HeartCodec(cfg)


def check_codec(model_dir: Path) -> None:
    """Refuse a checkpoint whose tensor names or shapes differ from ``config.json``'s codec (headers only)."""
    from backends.heartmula.weights import check_headers

    check_headers(_meta_codec(model_dir), Path(model_dir), "HeartCodec", unused=UNUSED_CODEC_TENSORS)


def load_codec(
    model_dir: Path, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
) -> HeartCodec:
    from backends.heartmula.weights import load_strict, read_safetensors

    model = _meta_codec(model_dir)
    load_strict(
        model, read_safetensors(Path(model_dir), device, dtype), "HeartCodec", unused=UNUSED_CODEC_TENSORS
    )
    return model.to(device=device, dtype=dtype).eval()


__all__ = ["HeartCodec", "WindowPlan", "check_codec", "load_codec"]
