"""The HeartMuLa language model: a backbone over frames and a local decoder over codebooks.

Parameter names equal the official checkpoint's. One call of :meth:`HeartMuLaLM.frame_logits`
mirrors one upstream ``generate_frame`` up to the sampling; :mod:`generate` drives the loop.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from backends.heartmula.flavors import LlamaFlavor, flavors_for, resolve_flavor
from backends.heartmula.llama import KVCache, LlamaStack


@dataclass(frozen=True)
class LMConfig:
    backbone: LlamaFlavor
    decoder: LlamaFlavor
    text_vocab_size: int = 128256
    audio_vocab_size: int = 8197
    audio_num_codebooks: int = 8
    muq_dim: int = 512

    @classmethod
    def from_dir(cls, model_dir: Path) -> LMConfig:
        raw = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        table = flavors_for(model_dir)
        return cls(
            backbone=resolve_flavor(raw.get("backbone_flavor", "llama-3B"), table),
            decoder=resolve_flavor(raw.get("decoder_flavor", "llama-300M"), table),
            text_vocab_size=raw.get("text_vocab_size", 128256),
            audio_vocab_size=raw.get("audio_vocab_size", 8197),
            audio_num_codebooks=raw.get("audio_num_codebooks", 8),
            muq_dim=raw.get("muq_dim", 512),
        )


# Picks one token per row from [rows, V] logits; the generator owns the randomness.
Sampler = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class LMState:
    """Everything one generation run carries between frames."""

    backbone_cache: KVCache
    decoder_cache: KVCache
    guided: bool  # True when the batch is [cond; uncond] and CFG is applied


class HeartMuLaLM(nn.Module):
    def __init__(self, config: LMConfig) -> None:
        super().__init__()
        self.config = config
        dim = config.backbone.embed_dim
        dec_dim = config.decoder.embed_dim
        self.backbone = LlamaStack(config.backbone)
        self.decoder = LlamaStack(config.decoder)
        self.text_embeddings = nn.Embedding(config.text_vocab_size, dim)
        self.audio_embeddings = nn.Embedding(config.audio_vocab_size * config.audio_num_codebooks, dim)
        self.unconditional_text_embedding = nn.Embedding(1, dim)
        self.projection = nn.Linear(dim, dec_dim, bias=False)
        self.codebook0_head = nn.Linear(dim, config.audio_vocab_size, bias=False)
        self.audio_head = nn.Parameter(
            torch.zeros(config.audio_num_codebooks - 1, dec_dim, config.audio_vocab_size)
        )
        self.muq_linear = nn.Linear(config.muq_dim, dim)

    # ----------------------------------------------------------------- embeddings
    def _codebook_offsets(self, device) -> torch.Tensor:
        return self.config.audio_vocab_size * torch.arange(self.config.audio_num_codebooks, device=device)

    def embed_frames(self, tokens: torch.Tensor, mask: torch.Tensor, guided: bool) -> torch.Tensor:
        """Sum of masked audio and text embeddings per position. tokens/mask: [B, S, 9].

        With ``guided`` the second half of the batch is unconditional: its text embedding is
        replaced by the learned unconditional vector at every position.
        """
        b, s, _ = tokens.shape
        text = self.text_embeddings(tokens[..., -1])
        if guided:
            uncond = self.unconditional_text_embedding.weight[0]
            text = torch.cat([text[: b // 2], uncond.expand(b - b // 2, s, -1)], dim=0)
        audio = self.audio_embeddings(tokens[..., :-1] + self._codebook_offsets(tokens.device))
        parts = torch.cat([audio, text.unsqueeze(2)], dim=2)
        return (parts * mask.unsqueeze(-1)).sum(dim=2, dtype=parts.dtype)

    def _muq_vectors(self, muq: torch.Tensor, guided: bool) -> torch.Tensor:
        vec = self.muq_linear(muq)
        if guided:
            b = vec.shape[0]
            uncond = self.unconditional_text_embedding.weight[0].to(vec.dtype)
            vec = torch.cat([vec[: b // 2], uncond.expand(b - b // 2, -1)], dim=0)
        return vec

    def embed_audio(self, codebook: int, codes: torch.Tensor) -> torch.Tensor:
        return self.audio_embeddings(codes + codebook * self.config.audio_vocab_size)

    # ----------------------------------------------------------------- caches
    def new_state(self, batch: int, max_positions: int, guided: bool) -> LMState:
        return LMState(
            backbone_cache=self.backbone.new_cache(batch, max_positions),
            decoder_cache=self.decoder.new_cache(batch, self.config.audio_num_codebooks),
            guided=guided,
        )

    # ----------------------------------------------------------------- one frame
    def guide(self, logits: torch.Tensor, cfg_scale: float, guided: bool) -> torch.Tensor:
        """CFG on logits: uncond + (cond − uncond)·scale, one row per conditional row."""
        if not guided:
            return logits
        half = logits.shape[0] // 2
        cond, uncond = logits[:half], logits[half:]
        return uncond + (cond - uncond) * cfg_scale

    def backbone_step(
        self,
        state: LMState,
        tokens: torch.Tensor,
        mask: torch.Tensor,
        positions: torch.Tensor,
        muq: torch.Tensor | None = None,
        muq_index: int | None = None,
    ) -> torch.Tensor:
        """Feed positions into the backbone; returns the final-norm hidden state of the last one [B, D]."""
        h = self.embed_frames(tokens, mask, state.guided)
        if muq is not None and muq_index is not None:
            h[:, muq_index] = self._muq_vectors(muq, state.guided).to(h.dtype)
        out = self.backbone(h, positions, state.backbone_cache)
        return out[:, -1, :]

    def decode_codebooks(
        self,
        state: LMState,
        last_hidden: torch.Tensor,
        c0: torch.Tensor,
        pick: Callable[[int, torch.Tensor], torch.Tensor],
    ) -> torch.Tensor:
        """Run the local decoder for codebooks 1..7 given c0 [B, 1]. ``pick(i, hidden)`` returns
        codebook i's token [B, 1] from the decoder output [B, dec_dim]."""
        cache = state.decoder_cache
        cache.reset()
        frame = [c0]
        h = torch.cat([last_hidden.unsqueeze(1), self.embed_audio(0, c0)], dim=1)
        positions = torch.arange(2, device=h.device)
        for i in range(1, self.config.audio_num_codebooks):
            out = self.decoder(self.projection(h), positions, cache)
            token = pick(i, out[:, -1, :])
            frame.append(token)
            h = self.embed_audio(i, token)
            positions = positions[-1:] + 1
        return torch.cat(frame, dim=1)

    def codebook_logits(self, i: int, decoder_hidden: torch.Tensor) -> torch.Tensor:
        return decoder_hidden @ self.audio_head[i - 1].to(decoder_hidden.dtype)

    def generate_frame(
        self,
        state: LMState,
        tokens: torch.Tensor,
        mask: torch.Tensor,
        positions: torch.Tensor,
        cfg_scale: float,
        sampler: Sampler,
        muq: torch.Tensor | None = None,
        muq_index: int | None = None,
    ) -> torch.Tensor:
        """One frame of 8 codes, shaped [B, 8] (all rows equal when guided)."""
        last = self.backbone_step(state, tokens, mask, positions, muq, muq_index)
        c0 = self._sample(self.codebook0_head(last), cfg_scale, state.guided, sampler)

        def pick(i: int, hidden: torch.Tensor) -> torch.Tensor:
            return self._sample(self.codebook_logits(i, hidden), cfg_scale, state.guided, sampler)

        return self.decode_codebooks(state, last, c0, pick)

    def _sample(self, logits: torch.Tensor, cfg_scale: float, guided: bool, sampler: Sampler) -> torch.Tensor:
        token = sampler(self.guide(logits, cfg_scale, guided))
        return token.repeat(2, 1) if guided else token


def _meta_lm(model_dir: Path) -> HeartMuLaLM:
    config = LMConfig.from_dir(Path(model_dir))
    with torch.device("meta"):
        return HeartMuLaLM(config)


def check_lm(model_dir: Path) -> None:
    """Refuse a checkpoint whose tensor names or shapes differ from ``config.json``'s model (headers only)."""
    from backends.heartmula.weights import check_headers

    check_headers(_meta_lm(model_dir), Path(model_dir), "HeartMuLa LM")


def load_lm(
    model_dir: Path, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
) -> HeartMuLaLM:
    """Build the LM from ``config.json`` (+ ``flavors.json``) and its safetensors, strictly."""
    from backends.heartmula.weights import load_strict, read_safetensors

    model = _meta_lm(model_dir)
    load_strict(model, read_safetensors(Path(model_dir), device, dtype), "HeartMuLa LM")
    return model.to(device=device, dtype=dtype).eval()
