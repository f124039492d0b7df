"""Top-k sampling with temperature, drawing from a caller-owned generator (upstream's RNG order)."""

from __future__ import annotations

import torch


def sample_topk(
    logits: torch.Tensor, top_k: int, temperature: float, generator: torch.Generator | None
) -> torch.Tensor:
    """Returns [rows, 1] int32 tokens.

    Entries below the k-th largest become −inf (ties survive). Sampling is the exponential race
    argmax(p / q), q ~ Exp(1): one full-width draw per call even for top_k 1, so the random stream
    advances exactly as upstream's does.
    """
    scaled = logits / temperature
    kth = torch.topk(scaled, top_k, dim=-1).values[..., -1:]
    filtered = scaled.masked_fill(scaled < kth, float("-inf"))
    probs = torch.softmax(torch.log_softmax(filtered, dim=-1), dim=-1)
    race = torch.empty_like(probs).exponential_(1, generator=generator)
    return torch.argmax(probs / race, dim=-1, keepdim=True).to(torch.int32)
