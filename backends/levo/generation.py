"""Autoregressive generation over the delay pattern, in upstream's exact order.

Per step: one forward of the doubled batch [cond, uncond] -> CFG -> repetition penalty ->
prompt-code ban (stream 0) -> softmax(logits / temperature) -> stream 0 drawn with top-k
(or everything with top-p), then streams 1-2 drawn together with k = 1 (greedy, but still one
multinomial call, so the RNG advances as upstream's does).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from backends.levo.conditioning import Conditions
from backends.levo.lm import LeLM
from backends.levo.pattern import DelayPattern
from studio.ground.errors import Cancelled
from studio.ground.progress import ProgressEvent, ProgressFn, no_progress

PENALTY = 1.1


@dataclass(frozen=True)
class SamplingParams:
    cfg_coef: float = 1.5
    temperature: float = 1.0
    top_k: int = 50
    top_p: float = 0.0
    use_sampling: bool = True
    record_window: int = 50


def _multinomial(probs: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    flat = probs.reshape(-1, probs.shape[-1])
    out = torch.multinomial(flat, num_samples=1, generator=generator)
    return out.reshape(*probs.shape[:-1], 1)


def sample_top_k(probs: torch.Tensor, k: int, generator: torch.Generator | None) -> torch.Tensor:
    kth = torch.topk(probs, k, dim=-1).values[..., -1:]
    probs = probs * (probs >= kth).float()
    probs = probs / probs.sum(dim=-1, keepdim=True)
    return _multinomial(probs, generator)


def sample_top_p(probs: torch.Tensor, p: float, generator: torch.Generator | None) -> torch.Tensor:
    sorted_probs, order = torch.sort(probs, dim=-1, descending=True)
    cum = torch.cumsum(sorted_probs, dim=-1)
    sorted_probs = sorted_probs * (~(cum - sorted_probs > p)).float()
    sorted_probs = sorted_probs / sorted_probs.sum(dim=-1, keepdim=True)
    return torch.gather(order, -1, _multinomial(sorted_probs, generator))


def apply_repetition_penalty(logits: torch.Tensor, pool: list[torch.Tensor], eos_id: int) -> torch.Tensor:
    """Divide the logit of every distinct recently sampled id (< EOS) by 1.1, per stream.

    A flat factor, not a count: upstream bincounts the *unique* ids."""
    if not pool:
        return logits
    history = torch.stack(pool, dim=-1)  # [K, W]
    for q in range(logits.shape[1]):
        counts = torch.bincount(torch.unique(history[q]))
        n = min(counts.shape[-1], eos_id)
        logits[:, q, :n] /= PENALTY ** counts[:n]
    return logits


def next_token(
    logits: torch.Tensor, params: SamplingParams, generator: torch.Generator | None
) -> torch.Tensor:
    """[B, K, V] guided logits -> [B, K, 1] tokens."""
    if not (params.use_sampling and params.temperature > 0.0):
        return torch.argmax(logits, dim=-1, keepdim=True)
    probs = torch.softmax(logits / params.temperature, dim=-1)
    if params.top_p > 0.0:
        return sample_top_p(probs, params.top_p, generator)
    if params.top_k > 0:
        first = sample_top_k(probs[:, [0], :], params.top_k, generator)
        rest = sample_top_k(probs[:, 1:, :], 1, generator)
        return torch.cat([first, rest], dim=1)
    return _multinomial(probs, generator)


@torch.no_grad()
def generate_codes(
    lm: LeLM,
    conditions: Conditions,
    max_frames: int,
    params: SamplingParams,
    *,
    generator: torch.Generator | None = None,
    progress: ProgressFn = no_progress,
    on_partial: Callable[[Cancelled], None] | None = None,
) -> torch.Tensor:
    """Codes [1, K, T'] with T' <= max_frames, cut at the first end-of-audio column.

    When ``progress`` stops the run with a ``partial`` stop (the time budget ran out and the
    visitor accepted a shorter song) and ``on_partial`` is given, it receives that stop and the
    frames every stream has completed so far are returned; otherwise the stop propagates."""
    cfg = lm.cfg
    device = lm.emb[0].weight.device
    pattern = DelayPattern(cfg.delays)
    k_streams = cfg.code_depth
    unknown = -1
    # Bookkeeping and sampling stay on the CPU with a CPU generator, so a seed gives the same
    # song on every device; only the forward pass runs on ``device``.
    valid = pattern.valid(max_frames)  # [K, S]
    steps = valid.shape[1]
    seq = torch.where(
        valid,
        torch.full_like(valid, unknown, dtype=torch.long),
        torch.full_like(valid, cfg.special_id, dtype=torch.long),
    )[None]  # [1, K, S]
    prefix_len = conditions.prefix.main.shape[1]
    caches = lm.new_caches(2, prefix_len + steps)
    prefix = type(conditions.prefix)(conditions.prefix.main.to(device), conditions.prefix.sub.to(device))
    banned = conditions.prompt_tokens[0, 0]
    banned = banned[banned < cfg.eos_id]
    is_end = torch.zeros((1, k_streams, 1), dtype=torch.bool)
    pool: list[torch.Tensor] = []
    last = steps - 1
    for offset in range(1, steps):
        inp = seq[..., offset - 1 : offset].to(device)
        logits_all = lm(inp.repeat(2, 1, 1), prefix if offset == 1 else None, caches)[:, :, -1, :]
        cond, uncond = logits_all[:1], logits_all[1:]
        logits = (uncond + (cond - uncond) * params.cfg_coef).cpu()
        if params.record_window > 0:
            logits = apply_repetition_penalty(logits, pool[-params.record_window :], cfg.eos_id)
        if banned.numel() > 0:
            logits[0, 0, banned] = float("-inf")
        tok = next_token(logits, params, generator)
        tok[~valid[None, :, offset : offset + 1]] = cfg.special_id
        tok[is_end] = cfg.special_id
        is_end = is_end | (tok == cfg.eos_id)
        cur = seq[..., offset : offset + 1]
        seq[..., offset : offset + 1] = torch.where(cur == unknown, tok, cur)
        if params.record_window > 0:
            pool.append(tok.squeeze())
        try:
            progress(ProgressEvent("lm", offset, steps - 1, "generating codes"))
        except Cancelled as stop:
            if on_partial is None or not getattr(stop, "partial", False):
                raise
            on_partial(stop)
            # Frame t of stream q sits at step t + 1 + delay[q]: frames before offset - max(delay)
            # are complete in every stream; the later ones are dropped.
            complete = max(0, offset - max(cfg.delays))
            out = torch.full_like(seq, cfg.special_id)
            out[..., : offset + 1] = seq[..., : offset + 1]
            return _cut_at_eos(pattern.revert(out, max_frames)[..., :complete], cfg.eos_id)
        if bool(is_end.all()):
            last = offset
            break
    out = torch.full_like(seq, cfg.special_id)
    out[..., : last + 1] = seq[..., : last + 1]
    codes = pattern.revert(out, max_frames)
    if bool((codes == unknown).any()):
        raise RuntimeError("generation left unfilled positions; this is a bug")
    return _cut_at_eos(codes, cfg.eos_id)


def _cut_at_eos(codes: torch.Tensor, eos_id: int) -> torch.Tensor:
    eos = torch.nonzero(codes == eos_id)
    if eos.numel() > 0:
        codes = codes[..., : int(eos[:, -1].min())]
    return codes
