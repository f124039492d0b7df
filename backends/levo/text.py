"""Text side of LeVo 2: the exact strings upstream feeds the LM, and its two Qwen2 tokenizers.

Facts kept here (all checked against the golden fixture):
* mixed/vocal style is ``"[Musicality-very-high], " + style.lower()`` (``"."`` when empty);
  bgm style is ``"[Musicality-very-high], [Pure-Music], " + style.lower()``, or just ``"."``;
  bgm lyrics are ``"."``; other lyrics get one ``replace("  ", " ")``.
* The unconditional (CFG) branch drops the lyrics, and turns a style containing
  ``[Musicality-very-high]`` into ``"[Musicality-very-low], ."`` (otherwise drops it).
* Every text is prefixed with ``<|im_start|>``; a dropped text is ``<|im_start|>`` alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from backends.levo.config import STRUCTURE_TAGS, STYLE_SPECIAL_TOKENS
from studio.ground.errors import StudioError

if TYPE_CHECKING:  # pragma: no cover
    import torch

IM_START = "<|im_start|>"
HIGH = "[Musicality-very-high]"
LOW_UNCOND = "[Musicality-very-low], ."
PURE_MUSIC = "[Pure-Music]"

# What the LM generates for each mode. 'separate' generates a full song and decodes it three ways.
LM_GEN_TYPE = {"song": "mixed", "vocal": "mixed", "separate": "mixed", "bgm": "bgm"}


@dataclass(frozen=True)
class LmTexts:
    """The two text conditions of one request, for the conditional and the unconditional branch."""

    lyrics: str | None
    style: str | None
    uncond_lyrics: str | None
    uncond_style: str | None


def build_texts(lyrics: str, style: str, *, bgm: bool) -> LmTexts:
    """Upstream's generate.py / gradio string building, plus its CFG null condition."""
    if bgm:
        desc = f"{HIGH}, {PURE_MUSIC}, {style.lower()}" if style else "."
        lyric = "."
    else:
        desc = f"{HIGH}, " + (style.lower() if style else ".")
        lyric = lyrics.replace("  ", " ")
    uncond_style = LOW_UNCOND if HIGH in desc else None
    return LmTexts(lyrics=lyric, style=desc, uncond_lyrics=None, uncond_style=uncond_style)


class LevoTokenizers:
    """The lyric tokenizer (13 structure tags + '.') and the style tokenizer (Musicality tags + '.')."""

    def __init__(self, folder: Path) -> None:
        from transformers import Qwen2Tokenizer

        if not (folder / "vocab.json").is_file() or not (folder / "merges.txt").is_file():
            raise StudioError(
                f"The Qwen2 tokenizer files (vocab.json, merges.txt) are missing in {folder}; "
                "re-download the LeVo 2 runtime folder (third_party/Qwen2-7B)."
            )
        self.lyric = Qwen2Tokenizer.from_pretrained(str(folder))
        self.lyric.add_tokens([*STRUCTURE_TAGS, "."], special_tokens=True)
        self.style = Qwen2Tokenizer.from_pretrained(str(folder))
        self.style.add_tokens(list(STYLE_SPECIAL_TOKENS), special_tokens=True)
        vocab = self.lyric.get_vocab()
        self.structure_ids = [vocab[t] for t in STRUCTURE_TAGS]

    @property
    def lyric_vocab_size(self) -> int:
        return len(self.lyric.get_vocab())

    @property
    def style_vocab_size(self) -> int:
        return len(self.style.get_vocab())

    @staticmethod
    def _prefixed(texts: list[str | None]) -> list[str]:
        return [IM_START + t if t is not None else IM_START for t in texts]

    def encode_lyrics(self, texts: list[str | None]) -> dict[str, torch.Tensor]:
        return dict(self.lyric(self._prefixed(texts), return_tensors="pt", padding=True))

    def encode_style(self, texts: list[str | None]) -> dict[str, torch.Tensor]:
        return dict(self.style(self._prefixed(texts), return_tensors="pt", padding=True))
