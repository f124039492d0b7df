"""The flow-matching estimator: a two-stage, timestep-modulated, bidirectional Llama-style DiT.

Module names follow the official checkpoint (``flow_matching.estimator.*``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

TIMESTEP_CHANNELS = 512
TIMESTEP_SCALE = 1000.0
TIMESTEP_MAX_PERIOD = 10000.0
ROPE_BASE = 10000.0
NORM_EPS = 1e-6


class RMSNorm(nn.Module):
    """Unlike the LM's norm, this one stays in the input dtype (as upstream's codec does)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + NORM_EPS))


def rope_tables(length: int, head_dim: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    inv = 1.0 / (ROPE_BASE ** (torch.arange(0, head_dim, 2, device=device, dtype=torch.float32) / head_dim))
    angles = torch.arange(length, device=device, dtype=torch.float32)[:, None] * inv[None, :]
    return angles.cos(), angles.sin()


def rotate_pairs(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x: [B, H, T, D]; rotates (x[2j], x[2j+1]) by position."""
    pairs = x.float().unflatten(-1, (-1, 2))
    even, odd = pairs[..., 0], pairs[..., 1]
    return torch.stack((even * cos - odd * sin, even * sin + odd * cos), dim=-1).flatten(-2).to(x.dtype)


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, head_dim: int) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, head_dim
        inner = heads * head_dim
        self.q_proj = nn.Linear(dim, inner, bias=False)
        self.k_proj = nn.Linear(dim, inner, bias=False)
        self.v_proj = nn.Linear(dim, inner, bias=False)
        self.o_proj = nn.Linear(inner, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        q, k, v = (
            p(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)
            for p in (self.q_proj, self.k_proj, self.v_proj)
        )
        cos, sin = rope_tables(t, self.head_dim, x.device)
        out = F.scaled_dot_product_attention(rotate_pairs(q, cos, sin), rotate_pairs(k, cos, sin), v)
        return self.o_proj(out.transpose(1, 2).reshape(b, t, -1))


def mlp_hidden(dim: int, multiple_of: int = 256) -> int:
    hidden = int(2 * (4 * dim) / 3)
    return multiple_of * math.ceil(hidden / multiple_of)


class MLP(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        hidden = mlp_hidden(dim)
        self.gate = nn.Linear(dim, hidden, bias=False)
        self.up = nn.Linear(dim, hidden, bias=False)
        self.down = nn.Linear(hidden, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(F.silu(self.gate(x)) * self.up(x))


class Block(nn.Module):
    """x + gate·f(RMSNorm(x)·(1+scale)+shift) for attention, then for the MLP."""

    def __init__(self, dim: int, heads: int, head_dim: int) -> None:
        super().__init__()
        self.attn_norm = RMSNorm(dim)
        self.attn = Attention(dim, heads, head_dim)
        self.mlp_norm = RMSNorm(dim)
        self.mlp = MLP(dim)
        self.scale_shift_table = nn.Parameter(torch.zeros(6, dim))

    def forward(self, x: torch.Tensor, modulation: torch.Tensor) -> torch.Tensor:
        mod = self.scale_shift_table[None] + modulation.reshape(x.shape[0], 6, -1)
        shift_a, scale_a, gate_a, shift_m, scale_m, gate_m = mod.chunk(6, dim=1)
        x = x + gate_a * self.attn(self.attn_norm(x) * (1 + scale_a) + shift_a)
        return x + gate_m * self.mlp(self.mlp_norm(x) * (1 + scale_m) + shift_m)


class ProjectLayer(nn.Module):
    """Conv1d(k=3, same padding)·3^−½ then Linear, on [B, T, C] sequences."""

    def __init__(self, in_dim: int, out_dim: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.ffn_1 = nn.Conv1d(in_dim, out_dim, kernel_size, padding=kernel_size // 2)
        self.ffn_2 = nn.Linear(out_dim, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.ffn_1(x.transpose(1, 2)).transpose(1, 2) * self.kernel_size**-0.5
        return self.ffn_2(h)


class TimestepEmbedder(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.linear_1 = nn.Linear(TIMESTEP_CHANNELS, dim)
        self.linear_2 = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_2(F.silu(self.linear_1(x)))


class _Embedding(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.timestep_embedder = TimestepEmbedder(dim)


def sinusoidal_timesteps(t: torch.Tensor) -> torch.Tensor:
    """t in [0, 1], shape [B] → [B, 512] = [cos, sin] of t·1000·freqs."""
    half = TIMESTEP_CHANNELS // 2
    freqs = torch.exp(-math.log(TIMESTEP_MAX_PERIOD) * torch.arange(half, device=t.device) / half).to(t.dtype)
    args = t[:, None] * freqs[None] * TIMESTEP_SCALE
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class AdaNormSingle(nn.Module):
    """Embeds the timestep; returns (per-block modulation [B, 6D], embedded timestep [B, D])."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.emb = _Embedding(dim)
        self.linear = nn.Linear(dim, 6 * dim)

    def forward(self, t: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        embedded = self.emb.timestep_embedder(sinusoidal_timesteps(t).to(dtype))
        return self.linear(F.silu(embedded)), embedded


class FlowEstimator(nn.Module):
    def __init__(
        self, heads: int, head_dim: int, in_channels: int, out_channels: int, layers: int, layers_2: int
    ):
        super().__init__()
        dim, dim2 = heads * head_dim, heads * head_dim * 2
        self.proj_in = ProjectLayer(in_channels, dim)
        self.transformer_blocks = nn.ModuleList(Block(dim, heads, head_dim) for _ in range(layers))
        self.transformer_blocks_2 = nn.ModuleList(Block(dim2, heads, head_dim * 2) for _ in range(layers_2))
        self.connection_proj = ProjectLayer(in_channels + dim, dim2)
        self.proj_out = ProjectLayer(dim2, out_channels)
        self.scale_shift_table = nn.Parameter(torch.zeros(2, dim))
        self.scale_shift_table_2 = nn.Parameter(torch.zeros(2, dim2))
        self.adaln_single = AdaNormSingle(dim)
        self.adaln_single_2 = AdaNormSingle(dim2)

    @staticmethod
    def _finish_stage(x: torch.Tensor, table: torch.Tensor, embedded: torch.Tensor) -> torch.Tensor:
        shift, scale = (table[None] + embedded[:, None]).chunk(2, dim=1)
        return F.layer_norm(x, x.shape[-1:], eps=NORM_EPS) * (1 + scale) + shift

    def forward(self, inputs: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """inputs: [B, T, in_channels]; t: [B] in [0, 1]. Returns the velocity [B, T, out_channels]."""
        s = self.proj_in(inputs)
        modulation, embedded = self.adaln_single(t, s.dtype)
        for block in self.transformer_blocks:
            s = block(s, modulation)
        s = self._finish_stage(s, self.scale_shift_table, embedded)
        x = self.connection_proj(torch.cat([inputs, s], dim=-1))
        modulation, embedded = self.adaln_single_2(t, x.dtype)
        for block in self.transformer_blocks_2:
            x = block(x, modulation)
        return self.proj_out(self._finish_stage(x, self.scale_shift_table_2, embedded))
