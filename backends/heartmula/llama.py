"""A Llama-3.2-style decoder stack with the parameter names of the official checkpoints.

Written for this port: pre-norm RMSNorm, GQA attention through SDPA with an explicit KV cache,
SwiGLU MLP, Llama-3 scaled RoPE on interleaved pairs. Caches are plain objects created per
generation, so any batch size works in any order (upstream's module-held caches do not).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from backends.heartmula.flavors import LlamaFlavor

# Llama-3 RoPE scaling constants (the same for every HeartMuLa flavor).
LOW_FREQ_FACTOR = 1.0
HIGH_FREQ_FACTOR = 4.0
ORIGINAL_CONTEXT = 8192


def llama3_inverse_frequencies(head_dim: int, base: float, scale_factor: float) -> torch.Tensor:
    """θ_j = base^(−2j/d), then Llama-3 scaling: keep short wavelengths, divide long ones, blend between."""
    freqs = 1.0 / (base ** (torch.arange(0, head_dim, 2, device="cpu")[: head_dim // 2].float() / head_dim))
    wavelen = 2 * math.pi / freqs
    low_freq_wavelen = ORIGINAL_CONTEXT / LOW_FREQ_FACTOR
    high_freq_wavelen = ORIGINAL_CONTEXT / HIGH_FREQ_FACTOR
    smooth = (ORIGINAL_CONTEXT / wavelen - LOW_FREQ_FACTOR) / (HIGH_FREQ_FACTOR - LOW_FREQ_FACTOR)
    blended = (1 - smooth) * freqs / scale_factor + smooth * freqs
    scaled = torch.where(wavelen > low_freq_wavelen, freqs / scale_factor, blended)
    return torch.where(wavelen < high_freq_wavelen, freqs, scaled)


def apply_interleaved_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate pairs (x[2j], x[2j+1]). x: [B, S, H, D]; cos/sin: [B, S, 1, D/2] in fp32."""
    pairs = x.float().reshape(*x.shape[:-1], -1, 2)
    even, odd = pairs[..., 0], pairs[..., 1]
    rotated = torch.stack((even * cos - odd * sin, odd * cos + even * sin), dim=-1)
    return rotated.flatten(-2).type_as(x)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.scale = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.float()
        normed = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return normed.type_as(x) * self.scale


@dataclass
class LayerCache:
    """Keys and values of one layer for positions [0, length)."""

    keys: torch.Tensor  # [B, kv_heads, capacity, head_dim]
    values: torch.Tensor
    length: int = 0


class KVCache:
    """Per-run cache for every layer of one stack; sized for the run's batch and length."""

    def __init__(self, flavor: LlamaFlavor, batch: int, capacity: int, device, dtype) -> None:
        shape = (batch, flavor.num_kv_heads, capacity, flavor.dim_per_head)
        self.capacity = capacity
        self.layers = [
            LayerCache(
                torch.zeros(shape, device=device, dtype=dtype), torch.zeros(shape, device=device, dtype=dtype)
            )
            for _ in range(flavor.num_layers)
        ]

    def reset(self) -> None:
        for layer in self.layers:
            layer.length = 0

    @property
    def length(self) -> int:
        return self.layers[0].length


class Attention(nn.Module):
    def __init__(self, flavor: LlamaFlavor) -> None:
        super().__init__()
        self.num_heads = flavor.num_heads
        self.num_kv_heads = flavor.num_kv_heads
        self.head_dim = flavor.dim_per_head
        dim = flavor.embed_dim
        self.q_proj = nn.Linear(dim, self.num_heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(dim, self.num_kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(dim, self.num_kv_heads * self.head_dim, bias=False)
        self.output_proj = nn.Linear(self.num_heads * self.head_dim, dim, bias=False)

    def forward(
        self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, cache: LayerCache | None
    ) -> torch.Tensor:
        b, s, _ = x.shape
        q = apply_interleaved_rope(self.q_proj(x).view(b, s, self.num_heads, self.head_dim), cos, sin)
        k = apply_interleaved_rope(self.k_proj(x).view(b, s, self.num_kv_heads, self.head_dim), cos, sin)
        v = self.v_proj(x).view(b, s, self.num_kv_heads, self.head_dim)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
        start = 0
        if cache is not None:
            start = cache.length
            end = start + s
            if end > cache.keys.shape[2]:
                raise RuntimeError(f"KV cache holds {cache.keys.shape[2]} positions; {end} needed")
            cache.keys[:, :, start:end] = k
            cache.values[:, :, start:end] = v
            cache.length = end
            k, v = cache.keys[:, :, :end], cache.values[:, :, :end]
        mask = None
        if s > 1 and start > 0:
            # Queries at absolute positions start..start+s-1 see every cached key up to their own position.
            rows = torch.arange(start, start + s, device=x.device)[:, None]
            mask = torch.arange(start + s, device=x.device)[None, :] <= rows
        out = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=mask,
            is_causal=(s > 1 and start == 0),
            enable_gqa=self.num_heads != self.num_kv_heads,
        )
        return self.output_proj(out.transpose(1, 2).reshape(b, s, -1))


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.w1 = nn.Linear(dim, hidden, bias=False)
        self.w2 = nn.Linear(hidden, dim, bias=False)
        self.w3 = nn.Linear(dim, hidden, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class DecoderLayer(nn.Module):
    def __init__(self, flavor: LlamaFlavor) -> None:
        super().__init__()
        self.sa_norm = RMSNorm(flavor.embed_dim, flavor.norm_eps)
        self.attn = Attention(flavor)
        self.mlp_norm = RMSNorm(flavor.embed_dim, flavor.norm_eps)
        self.mlp = FeedForward(flavor.embed_dim, flavor.intermediate_dim)

    def forward(self, x, cos, sin, cache: LayerCache | None) -> torch.Tensor:
        h = x + self.attn(self.sa_norm(x), cos, sin, cache)
        return h + self.mlp(self.mlp_norm(h))


class LlamaStack(nn.Module):
    """Embedding-free, head-free transformer: embeddings in, final-norm hidden states out."""

    def __init__(self, flavor: LlamaFlavor) -> None:
        super().__init__()
        self.flavor = flavor
        self.layers = nn.ModuleList(DecoderLayer(flavor) for _ in range(flavor.num_layers))
        self.norm = RMSNorm(flavor.embed_dim, flavor.norm_eps)
        # Kept outside the module's state so that meta-device construction needs no re-initialisation.
        self._inv_freq = llama3_inverse_frequencies(
            flavor.dim_per_head, flavor.rope_base, flavor.rope_scale_factor
        )

    def new_cache(self, batch: int, capacity: int, device=None, dtype=None) -> KVCache:
        param = self.norm.scale
        capacity = min(capacity, self.flavor.max_seq_len)
        return KVCache(self.flavor, batch, capacity, device or param.device, dtype or param.dtype)

    def forward(self, h: torch.Tensor, positions: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """h: [B, S, D]; positions: [S] absolute positions (the cache must hold exactly those before)."""
        if self._inv_freq.device != h.device:
            self._inv_freq = self._inv_freq.to(h.device)
        angles = positions.to(h.device, torch.float32)[:, None] * self._inv_freq[None, :]
        cos = angles.cos()[None, :, None, :]
        sin = angles.sin()[None, :, None, :]
        for i, layer in enumerate(self.layers):
            h = layer(h, cos, sin, cache.layers[i] if cache is not None else None)
        return self.norm(h)
