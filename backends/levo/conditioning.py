"""From request text (and optional prompt codes) to the LM's condition prefix, batch [cond, uncond]."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from backends.levo.lm import LeLM, Prefix
from backends.levo.text import LevoTokenizers, LmTexts


@dataclass
class Conditions:
    lyric: dict[str, torch.Tensor]  # ids / mask / structure, [2, 600]
    style: dict[str, torch.Tensor]  # ids / mask, [2, 100]
    prompt_codes: torch.Tensor  # [2, 3, 251]
    prompt_lengths: torch.Tensor  # [2]
    prompt_tokens: torch.Tensor  # [1, 3, 250], the codes the request brought (16385 = none)
    prefix: Prefix


def empty_prompt(lm: LeLM) -> torch.Tensor:
    cfg = lm.cfg
    return torch.full((1, cfg.code_depth, cfg.prompt_frames), cfg.special_id, dtype=torch.long)


def prompt_rows(prompt: torch.Tensor, lm: LeLM) -> tuple[torch.Tensor, torch.Tensor]:
    """[1, 3, 250] codes -> conditional and null rows [2, 3, 251] with lengths [251, 0].

    An EOS column goes in front; a stream whose first code is 'empty' is emptied entirely."""
    cfg = lm.cfg
    eos_col = torch.full_like(prompt[:, :, :1], cfg.eos_id)
    seq = torch.cat([eos_col, prompt], dim=-1)
    empty_stream = (prompt[:, :, 0] == cfg.special_id).unsqueeze(-1).expand_as(seq)
    seq = seq.masked_fill(empty_stream, cfg.special_id)
    null = torch.full_like(seq, cfg.special_id)
    lengths = torch.tensor([seq.shape[-1], 0], dtype=torch.long)
    return torch.cat([seq, null], dim=0), lengths


@torch.no_grad()
def build_conditions(
    lm: LeLM, tokenizers: LevoTokenizers, texts: LmTexts, prompt: torch.Tensor | None = None
) -> Conditions:
    conds = lm.condition_provider.conditioners
    prompt = empty_prompt(lm) if prompt is None else prompt.long().cpu()
    lyric = conds["description"].prepare(tokenizers.encode_lyrics([texts.lyrics, texts.uncond_lyrics]))
    style = conds["type_info"].prepare(tokenizers.encode_style([texts.style, texts.uncond_style]))
    codes, lengths = prompt_rows(prompt, lm)
    prefix = lm.build_prefix(lyric, style, codes)
    return Conditions(lyric, style, codes, lengths, prompt, prefix)
