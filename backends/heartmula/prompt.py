"""The text prompt: tags and lyrics turned into the [S, 9] token grid the LM reads."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from tokenizers import Tokenizer

NUM_CODEBOOKS = 8
TEXT_COLUMN = NUM_CODEBOOKS  # the 9th column holds text ids; columns 0..7 hold audio codes
TAG_OPEN, TAG_CLOSE = "<tag>", "</tag>"
# Upstream leaves the reference-audio slot's text id at zero (its embedding is overwritten anyway).
MUQ_SLOT_TEXT_ID = 0


@dataclass(frozen=True)
class GenConfig:
    """Special ids from ``gen_config.json`` (HeartMuLa/HeartMuLaGen)."""

    text_bos_id: int = 128000
    text_eos_id: int = 128001
    audio_eos_id: int = 8193
    empty_id: int = 0

    @classmethod
    def from_file(cls, path: Path) -> GenConfig:
        return cls(**json.loads(Path(path).read_text(encoding="utf-8")))


@dataclass(frozen=True)
class Prompt:
    """One conditional prompt row (batch 1). The LM makes the unconditional row itself."""

    tokens: torch.Tensor  # [S, 9] int64
    mask: torch.Tensor  # [S, 9] bool
    muq_index: int  # the reference-audio slot between tags and lyrics

    @property
    def length(self) -> int:
        return int(self.tokens.shape[0])


def wrap_tags(tags: str) -> str:
    """Lower-case the tag string and wrap it in ``<tag>…</tag>`` unless already wrapped."""
    text = tags.lower()
    if not text.startswith(TAG_OPEN):
        text = TAG_OPEN + text
    if not text.endswith(TAG_CLOSE):
        text = text + TAG_CLOSE
    return text


class PromptBuilder:
    def __init__(self, tokenizer: Tokenizer, config: GenConfig) -> None:
        self.tokenizer = tokenizer
        self.config = config

    @classmethod
    def from_files(cls, tokenizer_json: Path, gen_config_json: Path) -> PromptBuilder:
        return cls(Tokenizer.from_file(str(tokenizer_json)), GenConfig.from_file(gen_config_json))

    def encode(self, text: str) -> list[int]:
        """Encode with BOS/EOS guaranteed at both ends (the tokenizer may already add BOS)."""
        ids = list(self.tokenizer.encode(text).ids)
        if not ids or ids[0] != self.config.text_bos_id:
            ids.insert(0, self.config.text_bos_id)
        if ids[-1] != self.config.text_eos_id:
            ids.append(self.config.text_eos_id)
        return ids

    def tag_ids(self, tags: str) -> list[int]:
        return self.encode(wrap_tags(tags))

    def lyric_ids(self, lyrics: str) -> list[int]:
        return self.encode(lyrics.lower())

    def build(self, tags: str, lyrics: str) -> Prompt:
        tag_ids = self.tag_ids(tags)
        lyric_ids = self.lyric_ids(lyrics)
        text = [*tag_ids, MUQ_SLOT_TEXT_ID, *lyric_ids]
        tokens = torch.zeros(len(text), NUM_CODEBOOKS + 1, dtype=torch.long)
        tokens[:, TEXT_COLUMN] = torch.tensor(text, dtype=torch.long)
        mask = torch.zeros_like(tokens, dtype=torch.bool)
        mask[:, TEXT_COLUMN] = True
        return Prompt(tokens=tokens, mask=mask, muq_index=len(tag_ids))
