"""The scalar-quantised waveform decoder (``scalar_model.decoder.*``): latents [B, 128, T] → audio.

Only the decoder is built; the checkpoint's encoder is not needed to turn codes into audio.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

LATENT_LEVELS = 9.0  # the latent was trained on a grid of 1/9 steps; decode snaps to it first
RES_DILATIONS = (1, 3, 5, 7, 9)
# Every layer after the first is causal. A block's five dilated convolutions (kernel 7) reach
# (1 + 3 + 5 + 7 + 9) x 6 = 150 steps back at its own rate, i.e. at most 150 / 3 = 50 steps at the rate
# of its input (upsampling is >= 3x), and less through the later blocks: 64 steps of context before
# a chunk leave every kept sample exact (tests/heartmula/test_mps.py checks it against a whole decode).
CHUNK_CONTEXT = 64


class CausalConv1d(nn.Conv1d):
    """Left-padded so output t sees only inputs <= t."""

    def __init__(self, n_in: int, n_out: int, kernel_size: int, dilation: int = 1) -> None:
        super().__init__(n_in, n_out, kernel_size, dilation=dilation)
        self.left = dilation * (kernel_size - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, (self.left, 0)))


class CausalConvTranspose1d(nn.ConvTranspose1d):
    def __init__(self, n_in: int, n_out: int, kernel_size: int, stride: int) -> None:
        if kernel_size != 2 * stride:
            raise ValueError(f"causal upsampling needs kernel = 2·stride, got {kernel_size} and {stride}")
        super().__init__(n_in, n_out, kernel_size, stride=stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x)[..., : -self.stride[0]]


class ResidualUnit(nn.Module):
    def __init__(self, channels: int, dilation: int, kernel_size: int) -> None:
        super().__init__()
        self.conv1 = weight_norm(CausalConv1d(channels, channels, kernel_size, dilation))
        self.conv2 = weight_norm(CausalConv1d(channels, channels, 1))
        self.activation1 = nn.PReLU()
        self.activation2 = nn.PReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.activation2(self.conv2(self.activation1(self.conv1(x))))


class Upsample(nn.Module):
    def __init__(self, n_in: int, n_out: int, kernel_size: int, stride: int) -> None:
        super().__init__()
        self.layer = weight_norm(CausalConvTranspose1d(n_in, n_out, kernel_size, stride))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)


class DecoderBlock(nn.Module):
    def __init__(self, n_in: int, n_out: int, stride: int, up_kernel: int, res_kernel: int) -> None:
        super().__init__()
        self.up_conv = Upsample(n_in, n_out, up_kernel, stride)
        self.convs = nn.ModuleList(ResidualUnit(n_out, d, res_kernel) for d in RES_DILATIONS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.up_conv(x)
        for unit in self.convs:
            x = unit(x)
        return x


class PostProcessor(nn.Module):
    """Repeats every time step ``num_samples`` times, then a causal conv and PReLU."""

    def __init__(self, channels: int, num_samples: int, kernel_size: int) -> None:
        super().__init__()
        self.num_samples = num_samples
        self.conv = CausalConv1d(channels, channels, kernel_size)
        self.activation = nn.PReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.conv(x.repeat_interleave(self.num_samples, dim=-1)))


def build_decoder(cfg: dict) -> nn.ModuleList:
    init = cfg["init_channel"]
    ups = cfg["upsample_factors"]
    widths = [init * 2 ** (len(ups) - i) for i in range(len(ups) + 1)]
    layers: list[nn.Module] = [
        # Look-ahead layer: the only non-causal conv (same padding).
        weight_norm(
            nn.Conv1d(
                cfg["latent_hidden_dim"],
                widths[0],
                cfg["delay_kernel_size"],
                padding=cfg["delay_kernel_size"] // 2,
            )
        )
    ]
    for i, factor in enumerate(ups):
        layers.append(
            DecoderBlock(
                widths[i], widths[i + 1], factor, cfg["upsample_kernel_sizes"][i], cfg["res_kernel_size"]
            )
        )
    if cfg["num_samples"] > 1:
        layers.append(PostProcessor(init, cfg["num_samples"], cfg["default_kernel_size"]))
    layers.append(weight_norm(CausalConv1d(init, cfg["num_bands"], cfg["default_kernel_size"])))
    return nn.ModuleList(layers)


class ScalarModel(nn.Module):
    def __init__(self, cfg: dict) -> None:
        super().__init__()
        if not cfg.get("causal", True):
            raise ValueError("only the causal HeartCodec decoder is supported")
        self.decoder = build_decoder(cfg)

    def decode(self, latent: torch.Tensor, max_output: int | None = None) -> torch.Tensor:
        """latent [B, 128, T] → audio [B, 1, T·prod(upsample)·num_samples].

        With ``max_output`` (Apple's MPS convolution limit) no layer produces a longer output: layers
        run on the whole sequence while theirs fits, and the causal rest runs in chunks with context."""
        x = torch.round(LATENT_LEVELS * latent) / LATENT_LEVELS
        layers = list(self.decoder)
        done = 0
        while done < len(layers) and (max_output is None or x.shape[-1] * growth(layers[done]) <= max_output):
            x = layers[done](x)
            done += 1
        if done == len(layers):
            return x
        if done == 0:
            raise ValueError(f"{x.shape[-1]} latent frames exceed the {max_output}-sample limit in the first layer")
        return causal_chunks(layers[done:], x, max_output)


def growth(layer: nn.Module) -> int:
    """How many output steps a layer makes of each input step."""
    if isinstance(layer, DecoderBlock):
        return layer.up_conv.layer.stride[0]
    if isinstance(layer, PostProcessor):
        return layer.num_samples
    return 1


def causal_chunks(layers: list[nn.Module], x: torch.Tensor, max_output: int) -> torch.Tensor:
    """Run causal ``layers`` over ``x`` [B, C, T] in chunks whose every output fits ``max_output``; each
    chunk starts CHUNK_CONTEXT steps early and drops what those produce, so the result is the whole run's."""
    scale = math.prod(growth(layer) for layer in layers)
    step = max_output // scale - CHUNK_CONTEXT
    if step < 1:
        raise ValueError(f"a {max_output}-sample limit leaves no room beside {CHUNK_CONTEXT} steps of context")
    pieces = []
    for start in range(0, x.shape[-1], step):
        first = max(0, start - CHUNK_CONTEXT)
        y = x[..., first : start + step]
        for layer in layers:
            y = layer(y)
        pieces.append(y[..., (start - first) * scale :])
    return torch.cat(pieces, dim=-1)
