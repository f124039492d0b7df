"""The planner's token loop: optional CFG, constrained decoding, then sampling.

It follows upstream's PyTorch loop, in this order, per step:

1. forward the conditional and (with CFG) the unconditional prompt as one left-padded batch;
2. CFG on raw logits, ``uncond + s * (cond - uncond)``; in the codes state only over the valid
   code tokens plus EOS (everything else -inf, which also avoids ``-inf - -inf``);
3. the constraint mask;
4. repetition penalty (on the conditional sequence);
5. top-k, then top-p on *un-tempered* logits;
6. divide by the temperature and sample (temperature 0 = greedy).

The same token is appended to both sequences. Upstream's default CUDA backend (nano-vllm)
tempers before top-p and, by an inverted test, skips top-p at the default 0.9; we follow the
reference PyTorch loop instead, which is also what its CPU/MPS users get.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformers import RepetitionPenaltyLogitsProcessor

from backends.acestep.planner.constrained import NEG_INF, MetadataConstraint


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.85
    top_k: int | None = None
    top_p: float | None = 0.9
    repetition_penalty: float = 1.0
    cfg_scale: float = 1.0


def _top_k(scores: torch.Tensor, k: int | None) -> torch.Tensor:
    if not k or k <= 0 or k >= scores.shape[-1]:
        return scores
    kth = torch.topk(scores, k).values[-1]
    return scores.masked_fill(scores < kth, NEG_INF)


def _top_p(scores: torch.Tensor, p: float | None) -> torch.Tensor:
    if p is None or not 0.0 < p < 1.0:
        return scores
    sorted_scores, order = torch.sort(scores, descending=True)
    cumulative = torch.cumsum(torch.softmax(sorted_scores, dim=-1), dim=-1)
    remove = cumulative > p
    remove[1:] = remove[:-1].clone()  # keep the token that crosses p
    remove[0] = False
    return scores.masked_fill(remove.scatter(0, order, remove), NEG_INF)


def _pick(scores: torch.Tensor, temperature: float, generator: torch.Generator | None) -> int:
    if temperature <= 0:
        return int(torch.argmax(scores))
    probs = torch.softmax(scores / temperature, dim=-1)
    return int(torch.multinomial(probs, 1, generator=generator))


def _left_pad(rows: Sequence[Sequence[int]], pad_id: int, device: torch.device):
    width = max(len(row) for row in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long, device=device)
    mask = torch.zeros((len(rows), width), dtype=torch.long, device=device)
    for i, row in enumerate(rows):
        ids[i, width - len(row) :] = torch.tensor(list(row), dtype=torch.long, device=device)
        mask[i, width - len(row) :] = 1
    return ids, mask


def decode(
    model,
    prompt_ids: Sequence[int],
    *,
    max_new_tokens: int,
    stop_ids: set[int],
    pad_id: int,
    sampling: Sampling,
    uncond_ids: Sequence[int] | None = None,
    constraint: MetadataConstraint | None = None,
    generator: torch.Generator | None = None,
    on_token: Callable[[int, int], None] | None = None,
) -> list[int]:
    """Generate after ``prompt_ids``; returns the new tokens, the stop token included.

    ``on_token(count, token)`` runs after every token; it may raise to stop (cancellation).
    ``model`` is anything called like a transformers causal LM with a KV cache.
    """
    use_cfg = uncond_ids is not None and sampling.cfg_scale > 1.0
    device = next(model.parameters()).device if hasattr(model, "parameters") else torch.device("cpu")
    rows = [prompt_ids, uncond_ids] if use_cfg else [prompt_ids]
    input_ids, attention = _left_pad(rows, pad_id, device)
    penalty = (
        RepetitionPenaltyLogitsProcessor(sampling.repetition_penalty)
        if sampling.repetition_penalty != 1.0
        else None
    )
    history = torch.tensor([list(prompt_ids)], dtype=torch.long, device=device)
    generated: list[int] = []
    cache = cache_argument(model)
    with torch.inference_mode():
        out = model(input_ids=input_ids, attention_mask=attention, use_cache=True)
        for _ in range(max_new_tokens):
            logits = out.logits[:, -1, :].float()
            scores = _guided(logits, sampling.cfg_scale, constraint) if use_cfg else logits[0]
            if constraint is not None:
                scores = constraint.mask(scores)
            if penalty is not None:
                scores = penalty(history, scores.unsqueeze(0))[0]
            scores = _top_p(_top_k(scores, sampling.top_k), sampling.top_p)
            token = _pick(scores, sampling.temperature, generator)
            if constraint is not None:
                constraint.advance(token)
            generated.append(token)
            if on_token is not None:
                on_token(len(generated), token)
            if token in stop_ids:
                break
            step = torch.full((len(rows), 1), token, dtype=torch.long, device=device)
            history = torch.cat([history, step[:1]], dim=1)
            attention = torch.cat([attention, torch.ones_like(step)], dim=1)
            out = model(input_ids=step, attention_mask=attention, use_cache=True, **{cache: getattr(out, cache)})
    return generated


def cache_argument(model: Any) -> str:
    """The name a model takes its KV cache under (and returns it as). transformers renamed
    ``past_key_values`` to ``cache``: the old name warns (FutureWarning) and goes in 5.40
    (``@deprecate_kwarg("past_key_values", "5.40.0", new_name="cache")`` on ``Qwen3ForCausalLM.forward``),
    while earlier 5.x releases, which ``transformers>=5.0`` still admits, know only the old one."""
    try:
        parameters = inspect.signature(model.forward).parameters
    except (AttributeError, TypeError, ValueError):
        return "past_key_values"
    return "cache" if "cache" in parameters else "past_key_values"


def _guided(logits: torch.Tensor, scale: float, constraint: MetadataConstraint | None) -> torch.Tensor:
    cond, uncond = logits[0], logits[1]
    if constraint is not None and constraint.in_codes:
        index = constraint.vocab.tensor("codes_and_eos", logits.device)
        guided = torch.full_like(cond, NEG_INF)
        guided[index] = uncond[index] + scale * (cond[index] - uncond[index])
        return guided
    return torch.nan_to_num(uncond + scale * (cond - uncond), nan=NEG_INF)
