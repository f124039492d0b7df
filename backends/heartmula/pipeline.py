"""Tags + lyrics → codes → stereo audio, with the LM and codec loaded on demand.

With ``low_memory`` the LM is freed before the codec loads, and the codec after decoding (the
shape of upstream's ``lazy_load``); otherwise both stay resident between songs.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass

import torch

from backends.heartmula.codec.model import SAMPLE_RATE, HeartCodec, load_codec
from backends.heartmula.generate import SamplingParams, generate_frames
from backends.heartmula.lm import HeartMuLaLM, load_lm
from backends.heartmula.prompt import PromptBuilder
from backends.heartmula.weights import HeartMuLaFiles
from studio.ground.errors import Cancelled
from studio.ground.progress import ProgressFn, no_progress


@dataclass
class Song:
    audio: torch.Tensor  # [2, samples] float32, CPU
    codes: torch.Tensor  # [8, frames] int32, CPU
    sample_rate: int
    stop: Cancelled | None = None  # set when the time budget cut this song short (partial results)


def _free(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    elif device.type == "mps":
        torch.mps.empty_cache()


class HeartMuLaPipeline:
    def __init__(
        self,
        files: HeartMuLaFiles,
        device: torch.device | str = "cpu",
        lm_dtype: torch.dtype = torch.float32,
        codec_dtype: torch.dtype = torch.float32,
        low_memory: bool = False,
        conv_limit: int | None = None,
    ) -> None:
        self.files = files
        self.conv_limit = conv_limit
        self.device = torch.device(device)
        self.lm_dtype = lm_dtype
        self.codec_dtype = codec_dtype
        self.low_memory = low_memory
        self.prompts = PromptBuilder.from_files(files.tokenizer, files.gen_config)
        self._lm: HeartMuLaLM | None = None
        self._codec: HeartCodec | None = None
        self.lm_loads = 0
        self.codec_loads = 0

    @property
    def lm(self) -> HeartMuLaLM:
        if self._lm is None:
            self._lm = load_lm(self.files.lm_dir, self.device, self.lm_dtype)
            self.lm_loads += 1
        return self._lm

    @property
    def codec(self) -> HeartCodec:
        if self._codec is None:
            self._codec = load_codec(self.files.codec_dir, self.device, self.codec_dtype)
            self._codec.conv_limit = self.conv_limit
            self.codec_loads += 1
        return self._codec

    @property
    def loaded(self) -> dict[str, bool]:
        return {"lm": self._lm is not None, "codec": self._codec is not None}

    def unload(self) -> None:
        self._lm = None
        self._codec = None
        _free(self.device)

    def generators(self, seed: int) -> tuple[torch.Generator, torch.Generator]:
        """(LM sampling, codec noise). On CPU one generator serves both, in upstream's order, so a
        seed reproduces upstream's ``torch.manual_seed`` run; elsewhere sampling uses a device
        generator and the noise a CPU one (noise is drawn on the CPU on every device)."""
        cpu = torch.Generator().manual_seed(seed)
        if self.device.type == "cpu":
            return cpu, cpu
        return torch.Generator(device=self.device).manual_seed(seed), cpu

    def codes(
        self,
        tags: str,
        lyrics: str,
        duration_ms: int,
        params: SamplingParams,
        generator: torch.Generator | None,
        progress: ProgressFn = no_progress,
        on_partial=None,
    ) -> torch.Tensor:
        prompt = self.prompts.build(tags, lyrics)
        config = self.prompts.config
        return generate_frames(
            self.lm, prompt, duration_ms, params, config.audio_eos_id, config.empty_id, generator, progress,
            on_partial=on_partial,
        )

    def audio(
        self, codes: torch.Tensor, generator: torch.Generator | None, progress: ProgressFn = no_progress
    ) -> torch.Tensor:
        if self.low_memory and self._lm is not None:
            self._lm = None
            _free(self.device)
        return self.codec.decode(codes, generator=generator, progress=progress)

    def songs(
        self,
        tags: str,
        lyrics: str,
        duration_ms: int,
        params: SamplingParams,
        seeds: list[int],
        progress: ProgressFn = no_progress,
    ) -> list[Song]:
        """All takes' codes first, then all decodes, so ``low_memory`` swaps models once per request.

        A partial stop (time budget, visitor accepted a shorter song) ends the codes of that take and
        skips the takes after it; the cut song carries the stop in ``Song.stop``."""
        runs = []
        for seed in seeds:
            lm_gen, noise_gen = self.generators(seed)
            stops: list[Cancelled] = []
            codes = self.codes(tags, lyrics, duration_ms, params, lm_gen, progress, on_partial=stops.append)
            runs.append((codes, noise_gen, stops[0] if stops else None))
            if stops:
                break
        songs = [
            Song(self.audio(codes, noise_gen, progress), codes, SAMPLE_RATE, stop)
            for codes, noise_gen, stop in runs
        ]
        if self.low_memory:
            self._codec = None
            _free(self.device)
        return songs
