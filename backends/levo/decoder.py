"""The separate-token decoder: vocal + accompaniment codes -> VAE latents by flow matching.

Pieces: two single-codebook RVQ lookups (codes -> features), a GPT-2-style estimator with
adaptive layer norm on the flow time and interleaved RoPE, Euler steps with classifier-free
guidance (batch [uncond (features = 0), cond]), and 40-second windows with 10 s of in-context
overlap for long songs. Parameter names follow ``ckpt/model_septoken/model_2.safetensors``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from backends.levo.checkpoint import assign_strict
from backends.levo.config import DecoderDims
from studio.ground.progress import ProgressEvent, ProgressFn, no_progress

SIGMA_MIN = 1e-4
FRAME_RATE = 25

# A callable returning standard-normal noise of a shape: the decoder's only randomness.
NoiseFn = Callable[[tuple[int, ...]], torch.Tensor]


def generator_noise(generator: torch.Generator) -> NoiseFn:
    # Drawn on the CPU so that a seed gives the same song on every device.
    return lambda shape: torch.randn(shape, generator=generator)


# Checkpoint entries that only serve training or prompt-audio encoding.
UNUSED_PREFIXES: tuple[str, ...] = (
    "bestrq.",
    "hubert.",
    "rsp48toclap.",
    "rsq48towav2vec.",
    "rsq48tobestrq.",
    "rsq48tohubert.",
    "cfm_wrapper.mlp.",
    "cfm_wrapper.estimator.wte.",
    "rvq_bestrq_emb.quantizers.0.in_proj.",
    "rvq_bestrq_emb.quantizers.0.stale_counter",
    "rvq_bestrq_bgm_emb.quantizers.0.in_proj.",
    "rvq_bestrq_bgm_emb.quantizers.0.stale_counter",
)


class CodebookLookup(nn.Module):
    """One RVQ codebook: id -> codebook vector -> 1x1 weight-normed conv back to feature size."""

    def __init__(self, dims: DecoderDims) -> None:
        super().__init__()
        self.codebook = nn.Embedding(dims.rvq_codebook_size, dims.rvq_codebook_dim)
        self.out_proj = nn.Conv1d(dims.rvq_codebook_dim, dims.rvq_input_dim, kernel_size=1)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        """codes [B, T] -> features [B, T, D]."""
        z = self.codebook(codes).transpose(1, 2)
        return self.out_proj(z).transpose(1, 2)


class FeatureNorm(nn.Module):
    """Frozen running statistics of the latents (the flow runs on normalised latents)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("counts", torch.zeros(1))
        self.register_buffer("sum_x", torch.zeros(dim))
        self.register_buffer("sum_x2", torch.zeros(dim))
        self.register_buffer("sum_target_x2", torch.zeros(dim))

    def _mean_std(self) -> tuple[torch.Tensor, torch.Tensor]:
        if float(self.counts) < 10:
            return torch.zeros_like(self.sum_x), torch.ones_like(self.sum_x)
        mean = self.sum_x / self.counts
        std = (self.sum_x2 / self.counts - mean**2).clamp(min=0).sqrt()
        return mean, std

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, C, T]."""
        mean, std = self._mean_std()
        return (x - mean.view(1, -1, 1)) * (1.0 / std.clamp(min=1e-12)).view(1, -1, 1)

    def denormalise(self, x: torch.Tensor) -> torch.Tensor:
        mean, std = self._mean_std()
        return x * std.view(1, -1, 1) + mean.view(1, -1, 1)


class Conv1D(nn.Module):
    """GPT-2's transposed linear: weight [in, out]."""

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n_in, n_out))
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight).view(*x.shape[:-1], -1)


def interleaved_rope(x: torch.Tensor, theta: float = 10000.0) -> torch.Tensor:
    """x [B, H, L, d]: rotate pairs (x[2i], x[2i+1]) by position * theta^(-2i/d)."""
    _, _, length, d = x.shape
    freqs = 1.0 / (theta ** (torch.arange(0, d, 2, device=x.device)[: d // 2].float() / d))
    angles = torch.outer(torch.arange(length, device=x.device), freqs).float()
    cos, sin = angles.cos(), angles.sin()
    xf = x.float().reshape(*x.shape[:-1], d // 2, 2)
    a, b = xf[..., 0], xf[..., 1]
    out = torch.stack([a * cos - b * sin, b * cos + a * sin], dim=-1).flatten(-2)
    return out.type_as(x)


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.c_attn = Conv1D(dim, 3 * dim)
        self.c_proj = Conv1D(dim, dim)
        self.heads = heads

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.c_attn(x).split(d, dim=2)
        q, k, v = (t.view(b, n, self.heads, d // self.heads).transpose(1, 2) for t in (q, k, v))
        q, k = interleaved_rope(q), interleaved_rope(k)
        # Every latent mask is 2 (or 1 for in-context frames), so attention is full.
        out = F.scaled_dot_product_attention(q, k, v)
        return self.c_proj(out.transpose(1, 2).reshape(b, n, d))


class MLP(nn.Module):
    def __init__(self, dim: int, inner: int) -> None:
        super().__init__()
        self.c_fc = Conv1D(dim, inner)
        self.c_proj = Conv1D(inner, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))


class Block(nn.Module):
    def __init__(self, dims: DecoderDims) -> None:
        super().__init__()
        d = dims.gpt2_n_embd
        self.ln_1 = nn.LayerNorm(d, eps=dims.layer_norm_eps)
        self.attn = Attention(d, dims.gpt2_n_head)
        self.ln_2 = nn.LayerNorm(d, eps=dims.layer_norm_eps)
        self.mlp = MLP(d, dims.gpt2_n_inner)
        self.scale_shift_table = nn.Parameter(torch.zeros(6, d))

    def forward(self, x: torch.Tensor, t6: torch.Tensor) -> torch.Tensor:
        mods = self.scale_shift_table[None] + t6.reshape(x.shape[0], 6, -1)
        shift_a, scale_a, gate_a, shift_m, scale_m, gate_m = mods.chunk(6, dim=1)
        x = self.attn(self.ln_1(x) * (1 + scale_a) + shift_a) * gate_a + x
        return x + self.mlp(self.ln_2(x) * (1 + scale_m) + shift_m) * gate_m


class TimestepEmbedder(nn.Module):
    def __init__(self, dim: int, freq_dim: int = 512) -> None:
        super().__init__()
        self.linear_1 = nn.Linear(freq_dim, dim)
        self.linear_2 = nn.Linear(dim, dim)
        self.freq_dim = freq_dim

    def sinusoid(self, t: torch.Tensor) -> torch.Tensor:
        # Flow time in [0, 1) is scaled by 1000, like a diffusion step index.
        half = self.freq_dim // 2
        freqs = torch.exp(-math.log(10000) * torch.arange(half, device=t.device) / half).type(t.type())
        args = t[:, None] * freqs[None] * 1000
        return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)

    def forward(self, t: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        return self.linear_2(F.silu(self.linear_1(self.sinusoid(t).to(dtype))))


class AdaLNSingle(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.emb = nn.Module()
        self.emb.timestep_embedder = TimestepEmbedder(dim)
        self.linear = nn.Linear(dim, 6 * dim)

    def forward(self, t: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        emb = self.emb.timestep_embedder(t, dtype)
        return self.linear(F.silu(emb)), emb


class FlowEstimator(nn.Module):
    """GPT-2 body without token embeddings: input [B, L, n_embd] + learned positions -> velocity."""

    def __init__(self, dims: DecoderDims) -> None:
        super().__init__()
        d = dims.gpt2_n_embd
        self.wpe = nn.Embedding(dims.gpt2_n_positions, d)
        self.h = nn.ModuleList([Block(dims) for _ in range(dims.gpt2_n_layer)])
        self.ln_f = nn.LayerNorm(d, eps=dims.layer_norm_eps)
        self.proj_out = nn.Linear(d, d)
        self.adaln_single = AdaLNSingle(d)
        self.scale_shift_table = nn.Parameter(torch.zeros(2, d))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        x = x + self.wpe(torch.arange(x.shape[1], device=x.device))[None]
        t6, emb = self.adaln_single(t, x.dtype)
        for block in self.h:
            x = block(x, t6)
        shift, scale = (self.scale_shift_table[None] + emb[:, None]).chunk(2, dim=1)
        return self.proj_out(self.ln_f(x) * (1 + scale) + shift)


class SeparateTokenDecoder(nn.Module):
    def __init__(self, dims: DecoderDims) -> None:
        super().__init__()
        self.dims = dims
        self.normfeat = FeatureNorm(dims.latent_dim)
        self.rvq_bestrq_emb = nn.Module()
        self.rvq_bestrq_emb.quantizers = nn.ModuleList([CodebookLookup(dims)])
        self.rvq_bestrq_bgm_emb = nn.Module()
        self.rvq_bestrq_bgm_emb.quantizers = nn.ModuleList([CodebookLookup(dims)])
        self.zero_cond_embedding1 = nn.Parameter(torch.zeros(dims.zero_cond_embedding_dim))
        self.cfm_wrapper = nn.Module()
        self.cfm_wrapper.estimator = FlowEstimator(dims)
        self.mask_emb = nn.Embedding(3, dims.mask_emb_dim)

    @property
    def window(self) -> int:
        return self.dims.window_s * FRAME_RATE

    # -- one 40 s window

    @torch.no_grad()
    def flow_window(
        self,
        vocal: torch.Tensor,
        bgm: torch.Tensor,
        context: torch.Tensor,
        context_len: int,
        noise: torch.Tensor,
    ) -> torch.Tensor:
        """codes [B, W] x2, context latents [B, W, C] (only the first ``context_len`` frames
        matter), noise [B, W, C] -> latents [B, C, W] in VAE space."""
        dims = self.dims
        # Only the estimator runs in the load dtype. Upstream keeps the flow's state in fp32: Tango calls
        # init_device_dtype(device, torch.float32), so the noise, the in-context latents and the Euler
        # updates are fp32, and code2sound's fp16 autocast lowers only the estimator's matmuls
        # (SongGeneration codeclm/tokenizer/Flow1dVAE/generate_septoken.py, model_septoken.py).
        est_dtype = self.mask_emb.weight.dtype
        b, w = vocal.shape
        mu = torch.cat(
            [self.rvq_bestrq_emb.quantizers[0](vocal), self.rvq_bestrq_bgm_emb.quantizers[0](bgm)], dim=2
        ).float()
        masks = torch.full((b, w), 2, dtype=torch.long, device=vocal.device)
        masks[:, :context_len] = 1
        # Frames with mask 0 would take the learned 'no condition' vector; windows are always full.
        context = self.normfeat.normalise(context.transpose(1, 2).float()).transpose(1, 2)
        incontext = context * (masks == 1).unsqueeze(-1).float()
        mask_in = self.mask_emb(masks).float()
        noise = noise.float()
        x = noise.clone()
        t_span = torch.linspace(0, 1, dims.num_steps + 1, device=vocal.device)
        dt = t_span[1:] - t_span[:-1]
        guided = dims.guidance_scale > 1.0
        for i in range(dims.num_steps):
            ti = t_span[i]
            if context_len:
                blend = (1 - (1 - SIGMA_MIN) * ti) * noise[:, :context_len]
                x[:, :context_len] = blend + ti * incontext[:, :context_len]
            if guided:
                inp = torch.cat(
                    [
                        mask_in.repeat(2, 1, 1),
                        incontext.repeat(2, 1, 1),
                        torch.cat([torch.zeros_like(mu), mu], 0),
                        x.repeat(2, 1, 1),
                    ],
                    dim=2,
                )
                v = self.cfm_wrapper.estimator(inp.to(est_dtype), ti.expand(2 * b))[..., -dims.latent_dim :].float()
                v_u, v_c = v.chunk(2, 0)
                v = v_u + dims.guidance_scale * (v_c - v_u)
            else:
                inp = torch.cat([mask_in, incontext, mu, x], dim=2)
                v = self.cfm_wrapper.estimator(inp.to(est_dtype), ti.expand(b))[..., -dims.latent_dim :].float()
            x = x + dt[i] * v
        if context_len:
            x[:, :context_len] = incontext[:, :context_len]
        return self.normfeat.denormalise(x.transpose(1, 2).float())

    # -- a whole song

    @torch.no_grad()
    def codes_to_latents(
        self, vocal: torch.Tensor, bgm: torch.Tensor, noise: NoiseFn, progress: ProgressFn = no_progress
    ) -> list[torch.Tensor]:
        """codes [B, T] each -> latent windows [B, C, W]; consecutive windows overlap by W/4."""
        w = self.window
        hop = w // 4 * 3
        ovlp = w - hop
        device = self.mask_emb.weight.device
        c = self.dims.latent_dim
        b = vocal.shape[0]
        first_context = noise((b, w, c)).to(device)
        vocal, bgm = _tile(vocal, w), _tile(bgm, w)
        n = vocal.shape[-1]
        if (n - ovlp) % hop > 0:
            n = math.ceil((n - ovlp) / hop) * hop + ovlp
            vocal, bgm = _tile(vocal, n), _tile(bgm, n)
        starts = list(range(0, vocal.shape[-1] - hop, hop))
        windows: list[torch.Tensor] = []
        for i, s in enumerate(starts):
            v_in, b_in = vocal[:, s : s + w].to(device), bgm[:, s : s + w].to(device)
            if i == 0:
                context, context_len = first_context, 0
            else:
                tail = windows[-1][:, :, -ovlp:].transpose(1, 2)
                pad = noise((b, w - ovlp, c)).to(device)
                context, context_len = torch.cat([tail, pad.to(tail.dtype)], 1), ovlp
            windows.append(self.flow_window(v_in, b_in, context, context_len, noise((b, w, c)).to(device)))
            progress(ProgressEvent("decode", i + 1, len(starts), "flow matching"))
        return windows


def _tile(codes: torch.Tensor, length: int) -> torch.Tensor:
    """Repeat by self-concatenation until at least ``length`` long, then cut."""
    while codes.shape[-1] < length:
        codes = torch.cat([codes, codes], -1)
    return codes[..., :length]


def _weight_normed(state: dict[str, torch.Tensor], prefix: str) -> torch.Tensor:
    v = state[prefix + "weight_v"].float()
    g = state[prefix + "weight_g"].float()
    norm = v.flatten(1).norm(dim=1).view(-1, *([1] * (v.dim() - 1)))
    return v * (g / norm)


def load_decoder(
    folder: Path, *, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32
) -> SeparateTokenDecoder:
    """``folder`` = ckpt/model_septoken with model_2.safetensors (and, in tests, dims.json)."""
    from safetensors import safe_open

    from studio.ground.errors import StudioError

    path = folder / "model_2.safetensors"
    if not path.is_file():
        raise StudioError(f"Decoder weights {path} are missing; re-download the LeVo 2 runtime folder.")
    dims = DecoderDims.load(folder)
    # Only the tensors inference uses are read: the prompt-audio encoders (bestrq, hubert) and the
    # training-only heads in the same file are never loaded.
    with safe_open(str(path), framework="pt") as handle:
        raw = {k: handle.get_tensor(k) for k in handle.keys() if not k.startswith(UNUSED_PREFIXES)}  # noqa: SIM118
    state: dict[str, torch.Tensor] = {}
    for k in list(raw):
        if k.endswith("out_proj.weight_v"):
            state[k.replace("weight_v", "weight")] = _weight_normed(raw, k[: -len("weight_v")])
        elif not k.endswith("out_proj.weight_g"):
            state[k] = raw[k]
    del raw
    with torch.device("meta"):
        model = SeparateTokenDecoder(dims)
    # The statistics stay fp32: large counts lose precision in half types.
    assign_strict(model, state, what=str(path), dtype=dtype, keep_float32=("normfeat.",))
    return model.to(device).eval()
