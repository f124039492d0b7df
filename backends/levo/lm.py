"""LeLM v2: two Llama towers over three code streams, with prepended text and prompt conditions.

Module and parameter names follow the official ``model.pt`` keys (after the ``audiolm.`` prefix),
so the checkpoint loads with strict key matching. Attention is SDPA with a preallocated KV cache.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from backends.levo.config import LYRIC_PAD_ID, STRUCTURE_ID_OFFSET, LmConfig


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * h.to(dtype)


class KVCache:
    """Keys and values for every layer of one tower, preallocated for the whole generation."""

    def __init__(
        self,
        layers: int,
        batch: int,
        heads: int,
        max_len: int,
        head_dim: int,
        *,
        device: torch.device,
        dtype: torch.dtype,
    ) -> None:
        shape = (batch, heads, max_len, head_dim)
        self.k = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(layers)]
        self.v = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(layers)]
        self.length = 0
        self.max_len = max_len

    def append(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        start, end = self.length, self.length + k.shape[2]
        if end > self.max_len:
            raise RuntimeError(f"KV cache overflow: {end} > {self.max_len}")
        self.k[layer][:, :, start:end] = k
        self.v[layer][:, :, start:end] = v
        return self.k[layer][:, :, :end], self.v[layer][:, :, :end]


def rope_cos_sin(
    positions: torch.Tensor, head_dim: int, theta: float, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    # Computed in fp32 like the reference, then cast to the activations' dtype.
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, device=positions.device).float() / head_dim))
    freqs = positions.float()[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class SelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.head_dim = dim // heads
        self.q_proj = nn.Linear(dim, dim, bias=False)
        self.k_proj = nn.Linear(dim, dim, bias=False)
        self.v_proj = nn.Linear(dim, dim, bias=False)
        self.o_proj = nn.Linear(dim, dim, bias=False)

    def forward(
        self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, cache: KVCache | None, layer: int
    ) -> torch.Tensor:
        b, n, _ = x.shape
        q = self.q_proj(x).view(b, n, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, n, self.heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, n, self.heads, self.head_dim).transpose(1, 2)
        q = q * cos + _rotate_half(q) * sin
        k = k * cos + _rotate_half(k) * sin
        if cache is not None:
            k, v = cache.append(layer, k, v)
        # Causal only (no padding mask: upstream attends to pad positions too). A single new
        # query may attend to the whole cache, so causality matters only for multi-token calls.
        causal = n > 1
        if causal and k.shape[2] != n:
            raise RuntimeError("multi-token calls are only supported on an empty cache")
        out = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        return self.o_proj(out.transpose(1, 2).reshape(b, n, -1))


class GatedMLP(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(dim, hidden, bias=False)
        self.up_proj = nn.Linear(dim, hidden, bias=False)
        self.down_proj = nn.Linear(hidden, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, cfg: LmConfig) -> None:
        super().__init__()
        self.self_attn = SelfAttention(cfg.dim, cfg.num_heads)
        self.mlp = GatedMLP(cfg.dim, cfg.intermediate_size)
        self.input_layernorm = RMSNorm(cfg.dim, cfg.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(cfg.dim, cfg.rms_norm_eps)

    def forward(
        self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, cache: KVCache | None, layer: int
    ) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, cache, layer)
        return x + self.mlp(self.post_attention_layernorm(x))


class LlamaStack(nn.Module):
    def __init__(self, cfg: LmConfig, layers: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList([DecoderLayer(cfg) for _ in range(layers)])
        self.norm = RMSNorm(cfg.dim, cfg.rms_norm_eps)


class Tower(nn.Module):
    """One causal Llama tower; returns its final normed hidden state (and, for the main tower, logits)."""

    def __init__(self, cfg: LmConfig, layers: int, theta: float, with_head: bool) -> None:
        super().__init__()
        self.model = LlamaStack(cfg, layers)
        self.lm_head = nn.Linear(cfg.dim, cfg.code_size + 1, bias=False) if with_head else None
        self.theta = theta
        self.heads = cfg.num_heads
        self.head_dim = cfg.dim // cfg.num_heads

    def new_cache(self, batch: int, max_len: int, device: torch.device, dtype: torch.dtype) -> KVCache:
        return KVCache(
            len(self.model.layers), batch, self.heads, max_len, self.head_dim, device=device, dtype=dtype
        )

    def forward(self, x: torch.Tensor, cache: KVCache | None) -> torch.Tensor:
        start = cache.length if cache is not None else 0
        positions = torch.arange(start, start + x.shape[1], device=x.device)
        cos, sin = rope_cos_sin(positions, self.head_dim, self.theta, x.dtype)
        for i, layer in enumerate(self.model.layers):
            x = layer(x, cos, sin, cache, i)
        if cache is not None:
            cache.length += x.shape[1]
        return self.model.norm(x)


# ---------------------------------------------------------------- conditioners


class LyricConditioner(nn.Module):
    """Lyric token embedding plus a structure embedding that marks each tag's span."""

    def __init__(self, vocab: int, dim: int, max_len: int, structure_ids: list[int]) -> None:
        super().__init__()
        self.output_proj = nn.Embedding(vocab, dim, padding_idx=LYRIC_PAD_ID)
        self.structure_emb = nn.Embedding(200, dim, padding_idx=0)
        self.max_len = max_len
        self.structure_ids = structure_ids

    def structure_ranges(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """From each tag up to the next tag (or the last real token): id = tag token id - 151645."""
        out = torch.zeros_like(tokens)
        is_tag = torch.isin(tokens, torch.tensor(self.structure_ids, device=tokens.device))
        for b in range(tokens.shape[0]):
            starts = torch.nonzero(is_tag[b]).flatten().tolist()
            ends = [*starts[1:], int(mask[b].sum())]
            for st, en in zip(starts, ends, strict=False):  # ends has one extra item when no tag
                out[b, st:en] = tokens[b, st] - STRUCTURE_ID_OFFSET
        return out

    def prepare(self, enc: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        tokens, mask = enc["input_ids"], enc["attention_mask"]
        structure = self.structure_ranges(tokens, mask)
        return {
            "ids": _pad_to(tokens, self.max_len, LYRIC_PAD_ID),
            "mask": _pad_to(mask, self.max_len, 0),
            "structure": _pad_to(structure, self.max_len, 0),
        }

    def forward(self, prepared: dict[str, torch.Tensor]) -> torch.Tensor:
        dev = self.output_proj.weight.device
        return self.output_proj(prepared["ids"].to(dev)) + self.structure_emb(prepared["structure"].to(dev))


class StyleConditioner(nn.Module):
    def __init__(self, vocab: int, dim: int, max_len: int) -> None:
        super().__init__()
        self.output_proj = nn.Embedding(vocab, dim, padding_idx=LYRIC_PAD_ID)
        self.max_len = max_len

    def prepare(self, enc: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {
            "ids": _pad_to(enc["input_ids"], self.max_len, LYRIC_PAD_ID),
            "mask": _pad_to(enc["attention_mask"], self.max_len, 0),
        }

    def forward(self, prepared: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.output_proj(prepared["ids"].to(self.output_proj.weight.device))


class PromptCodesConditioner(nn.Module):
    """Prompt audio codes [B, 3, 251] -> (EOT + stream-0 embedding, EOT2 + streams-1/2 embedding)."""

    def __init__(self, dim: int, code_size: int, code_depth: int, max_len: int) -> None:
        super().__init__()
        self.emb = nn.ModuleList(
            [nn.Embedding(code_size + 2, dim, padding_idx=code_size + 1) for _ in range(code_depth)]
        )
        self.EOT_emb = nn.Parameter(torch.zeros(1, dim))
        self.layer2_EOT_emb = nn.Parameter(torch.zeros(1, dim))
        self.code_size = code_size
        self.code_depth = code_depth
        self.max_len = max_len

    def forward(self, codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b = codes.shape[0]
        codes = codes.reshape(b, self.code_depth, -1).long().to(self.EOT_emb.device)
        want = self.max_len - 1
        if codes.shape[2] < want:
            codes = F.pad(codes, (0, want - codes.shape[2]), value=self.code_size + 1)
        codes = codes[:, :, :want]
        e1 = torch.cat([self.EOT_emb[None].expand(b, -1, -1), self.emb[0](codes[:, 0])], dim=1)
        rest = self.emb[1](codes[:, 1])
        for k in range(2, self.code_depth):
            rest = rest + self.emb[k](codes[:, k])
        e2 = torch.cat([self.layer2_EOT_emb[None].expand(b, -1, -1), rest], dim=1)
        return e1, e2


def _pad_to(x: torch.Tensor, n: int, value: int) -> torch.Tensor:
    if x.shape[1] >= n:
        return x[:, :n]
    return F.pad(x, (0, n - x.shape[1]), value=value)


class ConditionerSet(nn.Module):
    def __init__(self, cfg: LmConfig, lyric_vocab: int, style_vocab: int, structure_ids: list[int]) -> None:
        super().__init__()
        self.conditioners = nn.ModuleDict(
            {
                "prompt_audio": PromptCodesConditioner(
                    cfg.dim, cfg.code_size, cfg.code_depth, cfg.prompt_max_len
                ),
                "description": LyricConditioner(lyric_vocab, cfg.dim, cfg.lyric_max_len, structure_ids),
                "type_info": StyleConditioner(style_vocab, cfg.dim, cfg.style_max_len),
            }
        )


@dataclass
class Prefix:
    """The condition prefix of both towers, batch = [conditional, unconditional]."""

    main: torch.Tensor  # [2, P, D]
    sub: torch.Tensor  # [2, P, D]


# ---------------------------------------------------------------- the model


class LeLM(nn.Module):
    def __init__(self, cfg: LmConfig, lyric_vocab: int, style_vocab: int, structure_ids: list[int]) -> None:
        super().__init__()
        self.cfg = cfg
        vocab_in = cfg.code_size + 2
        self.condition_provider = ConditionerSet(cfg, lyric_vocab, style_vocab, structure_ids)
        self.emb = nn.ModuleList([nn.Embedding(vocab_in, cfg.dim)])
        self.transformer = Tower(cfg, cfg.num_layers, cfg.rope_theta, with_head=True)
        self.mlp = nn.Sequential(nn.Linear(cfg.dim * 2, cfg.dim), nn.GELU(), nn.Linear(cfg.dim, cfg.dim))
        # layer2_emb.0 exists in the checkpoint but the sub tower only reads streams 1..K-1.
        self.layer2_emb = nn.ModuleDict(
            {str(k): nn.Embedding(vocab_in, cfg.dim) for k in range(1, cfg.code_depth)}
        )
        self.transformer2 = Tower(cfg, cfg.num_layers_sub, cfg.rope_theta_sub, with_head=False)
        self.linears = nn.ModuleList(
            [nn.Linear(cfg.dim, cfg.code_size + 1, bias=False) for _ in range(cfg.code_depth - 1)]
        )

    # -- conditions

    def build_prefix(
        self, lyric: dict[str, torch.Tensor], style: dict[str, torch.Tensor], prompt_codes: torch.Tensor
    ) -> Prefix:
        conds = self.condition_provider.conditioners
        lyr = conds["description"](lyric)
        sty = conds["type_info"](style)
        p1, p2 = conds["prompt_audio"](prompt_codes)
        parts = {"description": (lyr, lyr), "prompt_audio": (p1, p2), "type_info": (sty, sty)}
        dtype = self.emb[0].weight.dtype
        main = torch.cat([parts[name][0] for name in self.cfg.prepend_order], dim=1).to(dtype)
        sub = torch.cat([parts[name][1] for name in self.cfg.prepend_order], dim=1).to(dtype)
        return Prefix(main=main, sub=sub)

    # -- forward

    def forward(
        self, sequence: torch.Tensor, prefix: Prefix | None, caches: tuple[KVCache, KVCache] | None = None
    ) -> torch.Tensor:
        """Logits [B, K, S, vocab] (float32) for a code sequence [B, K, S]; the prefix goes first
        when given (first call, or no cache)."""
        _, k, s = sequence.shape
        x1 = self.emb[0](sequence[:, 0])
        x2 = self.layer2_emb["1"](sequence[:, 1])
        for q in range(2, k):
            x2 = x2 + self.layer2_emb[str(q)](sequence[:, q])
        if prefix is not None:
            x1 = torch.cat([prefix.main, x1], dim=1)
            x2 = torch.cat([prefix.sub, x2], dim=1)
        c1, c2 = caches if caches is not None else (None, None)
        h1 = self.transformer(x1, c1)
        assert self.transformer.lm_head is not None
        logits0 = self.transformer.lm_head(h1).float()
        h2 = self.transformer2(self.mlp(torch.cat([x2, h1], dim=-1)), c2)
        rest = [lin(h2).float() for lin in self.linears]
        logits = torch.stack([logits0, *rest], dim=1)
        return logits[:, :, -s:, :]

    def new_caches(self, batch: int, max_len: int) -> tuple[KVCache, KVCache]:
        w = self.emb[0].weight
        return (
            self.transformer.new_cache(batch, max_len, w.device, w.dtype),
            self.transformer2.new_cache(batch, max_len, w.device, w.dtype),
        )


# Keys present in the official checkpoint that inference never reads.
UNUSED_KEYS: frozenset[str] = frozenset(
    {
        "layer2_emb.0.weight",
        "transformer.model.embed_tokens.weight",
        "transformer2.model.embed_tokens.weight",
        "transformer2.lm_head.weight",
        "out_norm.weight",
        "out_norm.bias",
    }
)
