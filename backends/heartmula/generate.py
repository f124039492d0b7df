"""The frame loop: prompt call, then one call per 80 ms frame until the stop rule or the length cap."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from backends.heartmula.lm import HeartMuLaLM
from backends.heartmula.prompt import NUM_CODEBOOKS, Prompt
from backends.heartmula.sampling import sample_topk
from studio.ground.errors import Cancelled, StudioError
from studio.ground.progress import ProgressEvent, ProgressFn, no_progress

FRAME_MS = 80  # 12.5 frames per second


@dataclass(frozen=True)
class SamplingParams:
    cfg_scale: float = 1.5
    temperature: float = 1.0
    top_k: int = 50

    def check(self, vocab: int) -> None:
        if self.cfg_scale < 1.0:
            raise StudioError(
                f"`cfg` must be >= 1.0 for HeartMuLa, got {self.cfg_scale}; use 1.0 to turn guidance off."
            )
        if self.temperature <= 0:
            raise StudioError(f"`temperature` must be > 0, got {self.temperature}.")
        if not 1 <= self.top_k <= vocab:
            raise StudioError(f"`top_k` must be between 1 and {vocab}, got {self.top_k}.")


@torch.inference_mode()
def generate_frames(
    lm: HeartMuLaLM,
    prompt: Prompt,
    duration_ms: int,
    params: SamplingParams,
    audio_eos_id: int,
    empty_id: int = 0,
    generator: torch.Generator | None = None,
    progress: ProgressFn = no_progress,
    on_partial: Callable[[Cancelled], None] | None = None,
) -> torch.Tensor:
    """Generate audio codes for one prompt. Returns [8, T] int32 on the CPU.

    With cfg > 1 the batch is [cond; uncond] and one guided token goes to both rows. After every
    frame but the first, any code >= ``audio_eos_id`` in row 0 ends the song and that frame is dropped.
    ``progress`` is called once per frame and may raise ``Cancelled``. A ``partial`` stop (the time
    budget ran out and the visitor accepted a shorter song) goes to ``on_partial`` when given, and
    the frames made so far are returned; otherwise it propagates like any other stop.
    """
    params.check(lm.config.audio_vocab_size)
    device = lm.codebook0_head.weight.device
    dtype = lm.codebook0_head.weight.dtype
    guided = params.cfg_scale > 1.0
    batch = 2 if guided else 1
    loop_frames = duration_ms // FRAME_MS
    total = loop_frames + 1
    state = lm.new_state(batch, prompt.length + loop_frames + 1, guided)

    def sampler(logits: torch.Tensor) -> torch.Tensor:
        return sample_topk(logits.float(), params.top_k, params.temperature, generator)

    tokens = prompt.tokens.to(device).unsqueeze(0).expand(batch, -1, -1)
    mask = prompt.mask.to(device).unsqueeze(0).expand(batch, -1, -1)
    muq = torch.zeros(batch, lm.config.muq_dim, device=device, dtype=dtype)
    positions = torch.arange(prompt.length, device=device)
    frame = lm.generate_frame(
        state, tokens, mask, positions, params.cfg_scale, sampler, muq, prompt.muq_index
    )
    frames = [frame[0]]

    def report(done: int, message: str) -> bool:
        """Forward one frame's progress; True when a partial stop says to keep what is made."""
        try:
            progress(ProgressEvent("lm", done, total, message))
        except Cancelled as stop:
            if on_partial is None or not getattr(stop, "partial", False):
                raise
            on_partial(stop)
            return True
        return False

    if report(1, "frame 1"):
        return torch.stack(frames, dim=1).to(torch.int32).cpu()

    feed_mask = torch.ones(batch, 1, NUM_CODEBOOKS + 1, dtype=torch.bool, device=device)
    feed_mask[..., -1] = False
    for i in range(loop_frames):
        feed = torch.full((batch, 1, NUM_CODEBOOKS + 1), empty_id, dtype=torch.long, device=device)
        feed[:, 0, :-1] = frame
        pos = torch.tensor([prompt.length + i], device=device)
        frame = lm.generate_frame(state, feed, feed_mask, pos, params.cfg_scale, sampler)
        if bool((frame[0] >= audio_eos_id).any()):
            progress(ProgressEvent("lm", total, total, "end of song"))
            break
        frames.append(frame[0])
        if report(i + 2, f"frame {i + 2}"):
            break
    return torch.stack(frames, dim=1).to(torch.int32).cpu()
