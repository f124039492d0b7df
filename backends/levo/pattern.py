"""The delay pattern over the three code streams.

A sequence of T frames becomes S = T + max(delay) + 1 steps. Step 0 is the special token for every
stream; at step s >= 1 stream q holds frame s - 1 - delay[q], or the special token when that frame
does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class DelayPattern:
    delays: tuple[int, ...]

    def steps(self, frames: int) -> int:
        return frames + max(self.delays) + 1

    def frame_index(self, frames: int) -> torch.Tensor:
        """[K, S] frame held at each step, -1 where none."""
        s = torch.arange(self.steps(frames))
        idx = torch.stack([s - 1 - d for d in self.delays])
        return torch.where((idx >= 0) & (idx < frames), idx, torch.full_like(idx, -1))

    def valid(self, frames: int) -> torch.Tensor:
        return self.frame_index(frames) >= 0

    def build(self, codes: torch.Tensor, special: int) -> tuple[torch.Tensor, torch.Tensor]:
        """codes [B, K, T] -> (sequence [B, K, S], valid mask [K, S])."""
        b, _, t = codes.shape
        idx = self.frame_index(t).to(codes.device)
        mask = idx >= 0
        gathered = torch.gather(codes, 2, idx.clamp(min=0)[None].expand(b, -1, -1))
        seq = torch.where(mask[None], gathered, torch.full_like(gathered, special))
        return seq, mask

    def revert(self, seq: torch.Tensor, frames: int) -> torch.Tensor:
        """sequence [B, K, S, ...] -> per-frame values [B, K, T, ...]: frame t of stream q sits at
        step t + 1 + delay[q]."""
        out = [seq[:, q, 1 + d : 1 + d + frames] for q, d in enumerate(self.delays)]
        return torch.stack(out, dim=1)

    def revert_logits(self, logits: torch.Tensor) -> torch.Tensor:
        """Raw logits [B, K, S, V] -> logits aligned with the codes they predict, [B, K, T, V].

        The prediction for the token at step s comes from step s - 1."""
        frames = logits.shape[2] - max(self.delays) - 1
        out = [logits[:, q, d : d + frames] for q, d in enumerate(self.delays)]
        return torch.stack(out, dim=1)
