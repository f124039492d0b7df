"""The loaded HeartMuLa backend: RenderJob in, takes (48 kHz stereo in memory) out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from backends.base import RenderJob, Take
from backends.heartmula.codec.model import check_codec
from backends.heartmula.declaration import (
    CAPABILITIES,
    CODEC_DTYPE,
    CODEC_PART,
    GEN_PART,
    LM_DTYPE,
    LM_DTYPE_WITHOUT_BF16,
    LM_PART,
    HeartMuLaOptions,
)
from backends.heartmula.generate import SamplingParams
from backends.heartmula.limits import check_fits, style_to_tags
from backends.heartmula.lm import check_lm
from backends.heartmula.pipeline import HeartMuLaPipeline
from backends.heartmula.weights import HeartMuLaFiles, resolve_files
from studio import devices, memory, settings
from studio import weights as weights_source
from studio.audio.cut_short import fade_out, partial_note
from studio.ground.errors import StudioError
from studio.ground.progress import ProgressFn, no_progress

# Below this much free accelerator memory the LM and codec take turns instead of sharing it.
LOW_MEMORY_BELOW_GB = 20.0


class HeartMuLaBackend:
    # What the backend declares (its declaration.py, below both this module and its spec): a loaded backend
    # carries that, not its spec, so the spec can name this module without importing it.
    capabilities = CAPABILITIES
    options = HeartMuLaOptions

    def __init__(self, pipeline: HeartMuLaPipeline, weights: str) -> None:
        self.pipeline = pipeline
        self.device = str(pipeline.device)
        self.dtype = str(pipeline.lm_dtype).removeprefix("torch.")
        self.weights = weights

    def _low_memory(self, options: HeartMuLaOptions) -> bool:
        if options.low_memory is not None:
            return options.low_memory
        free = memory.free_accelerator_gb(self.pipeline.device)
        return free is not None and free < LOW_MEMORY_BELOW_GB

    def render(self, job: RenderJob, progress: ProgressFn = no_progress) -> list[Take]:
        options = job.options
        if not isinstance(options, HeartMuLaOptions):
            options = HeartMuLaOptions.model_validate(options.model_dump() if options is not None else {})
        caps = CAPABILITIES
        if not caps.min_duration_s <= job.duration_s <= caps.max_duration_s:
            raise StudioError(
                f"`duration` must be between {caps.min_duration_s:g} and {caps.max_duration_s:g} s for "
                f"HeartMuLa, got {job.duration_s:g}; pick a length in that range."
            )
        if not job.seeds:
            raise StudioError("HeartMuLa needs at least one seed (one per take).")
        self.pipeline.low_memory = self._low_memory(options)
        params = SamplingParams(options.cfg, options.temperature, options.top_k)
        tags = style_to_tags(job.style)
        lyrics = "" if job.instrumental else job.lyrics
        # Also checked before the request reached the GPU when the tokenizer was on disk (limits.check_job).
        prompts = self.pipeline.prompts
        lyric_tokens = len(prompts.lyric_ids(lyrics))
        check_fits(len(prompts.tag_ids(tags)) + 1 + lyric_tokens, lyric_tokens, len(lyrics), job.duration_s)
        songs = self.pipeline.songs(
            tags, lyrics, int(job.duration_s * 1000), params, list(job.seeds), progress
        )
        # The duration is a ceiling: the LM may stop earlier, and its last frame can overhang the
        # requested length by up to one 80 ms frame, which is cut so files never exceed what was asked.
        limit = round(job.duration_s * caps.sample_rate)
        takes = []
        for seed, song in zip(job.seeds, songs, strict=False):  # a cut song ends the takes early
            audio = np.ascontiguousarray(song.audio.numpy()[..., :limit], dtype=np.float32)
            # [8, frames] int32 audio codes: what `--dump-tokens` saves.
            extras: dict = {"codes": song.codes.numpy(), "frames": int(song.codes.shape[1])}
            if song.stop is not None:  # cut short by the time budget: fade out where it stops
                audio = fade_out(audio, song.sample_rate)
                extras["warnings"] = [
                    partial_note(song.stop, audio.shape[-1] / song.sample_rate, job.duration_s,
                                 len(job.seeds) - len(songs))
                ]
            takes.append(Take(audio=audio, sample_rate=song.sample_rate, seed=seed, extras=extras))
        return takes

    def unload(self) -> None:
        self.pipeline.unload()


def check_files(files: HeartMuLaFiles) -> None:
    """The models load lazily, on the first song: check every file now (names, shapes, whole files, headers
    only) so a bad folder is refused here rather than after minutes of LM work."""
    fix = "re-download it, or point STUDIO_HEARTMULA_WEIGHTS at a folder laid out like upstream's."
    for folder, part in ((files.tokenizer.parent, GEN_PART), (files.lm_dir, LM_PART), (files.codec_dir, CODEC_PART)):
        weights_source.require_whole(folder, part.required, what=part.what, fix=fix)
    check_lm(files.lm_dir)
    check_codec(files.codec_dir)


def load(
    weights: str | Path | None = None,
    device: devices.DeviceInfo | str | None = None,
    lm: str | Path | None = None,
    codec: str | Path | None = None,
    gen: str | Path | None = None,
    low_memory: bool = False,
) -> HeartMuLaBackend:
    """Resolve the files now, load the models lazily on the first render.

    ``weights``: a folder laid out like upstream's, or an LM Hub id; default ``$STUDIO_HEARTMULA_WEIGHTS``,
    else the official Hub repos.
    """
    weights = weights or settings.HEARTMULA_WEIGHTS.get()
    files = resolve_files(weights, lm=lm, codec=codec, gen=gen)
    check_files(files)
    # The studio's one device policy (STUDIO_DEVICE, ZeroGPU, the dtype table), also for direct calls.
    info = devices.as_device_info(device)
    pipeline = HeartMuLaPipeline(
        files,
        torch.device(info.torch_device),
        lm_dtype=devices.torch_dtype(info.dtype_name(LM_DTYPE, LM_DTYPE_WITHOUT_BF16)),
        codec_dtype=getattr(torch, CODEC_DTYPE),
        low_memory=low_memory,
        conv_limit=info.conv_output_limit,
    )
    return HeartMuLaBackend(pipeline, str(weights or CAPABILITIES.default_weights))


def load_backend(
    weights: str | None = None,
    device: devices.DeviceInfo | str | None = None,
    *,
    low_memory: bool = False,
    **_: object,
) -> HeartMuLaBackend:
    """The registry's loader call (``SPEC.loader`` names it): options other backends take are ignored."""
    return load(weights=weights, device=devices.as_device_info(device), low_memory=low_memory)
