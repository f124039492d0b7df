"""ACE-Step 1.5 on diffusers' AceStepPipeline (no vendored ACE-Step code)."""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import torch

from backends.acestep.lora import LoraSet
from backends.acestep.spec import SPEC, AceStepOptions
from backends.base import (
    BackendSpec,
    ProgressEvent,
    ProgressFn,
    RenderJob,
    StudioError,
    Take,
    no_progress,
)
from studio import devices
from studio import weights as weights_source

log = logging.getLogger(__name__)

# What ACE-Step's lyric encoder expects for a song without vocals.
INSTRUMENTAL_LYRICS = "[Instrumental]"


class AceStepBackend:
    spec: BackendSpec = SPEC

    def __init__(self, pipe: Any, *, device: str, dtype: str, weights: str) -> None:
        self.pipe = pipe
        self.device = device
        self.dtype = dtype
        self.weights = weights
        self.sample_rate = int(pipe.sample_rate)
        self.planners: dict[str, Any] = {}
        self.loras = LoraSet(pipe.transformer)
        pipe.set_progress_bar_config(disable=True)

    @classmethod
    def load(
        cls,
        weights: str | None = None,
        device: devices.DeviceInfo | str | None = None,
        on_progress: Any = None,
        **_: Any,
    ) -> AceStepBackend:
        from diffusers import AceStepPipeline

        quiet_libraries()
        caps = SPEC.capabilities
        location = weights_source.choose(weights, caps.weights_env, caps.default_weights)
        folder = weights_source.fetch(location, what="ACE-Step", env_var=caps.weights_env, on_progress=on_progress)
        info = devices.as_device_info(device)
        dtype = info.dtype_name(caps.dtype_per_device)
        try:
            pipe = AceStepPipeline.from_pretrained(str(folder), dtype=devices.torch_dtype(dtype))
        except (OSError, ValueError) as exc:
            raise StudioError(
                f"{folder} is not a diffusers ACE-Step folder ({exc}); point {caps.weights_env} or --weights "
                f"at a copy of {caps.default_weights}."
            ) from exc
        pipe = pipe.to(info.torch_device)
        return cls(pipe, device=info.torch_device, dtype=dtype, weights=location)

    def render(self, job: RenderJob, progress: ProgressFn = no_progress) -> list[Take]:
        options = job.options
        if not isinstance(options, AceStepOptions):
            options = AceStepOptions.model_validate(options)
        # Every request states its whole LoRA set: none means the base weights, even after a LoRA render.
        self.loras.sync(options.loras, on_progress=lambda msg: progress(ProgressEvent("loading", 0, 1, msg)))
        n = len(job.seeds)
        lyrics = INSTRUMENTAL_LYRICS if job.instrumental or not job.lyrics.strip() else job.lyrics
        meta = job.metadata
        # CPU generators make the noise identical on every device for a given seed.
        generators = [torch.Generator("cpu").manual_seed(int(s)) for s in job.seeds]

        def on_step(pipe: Any, step: int, timestep: float, tensors: dict) -> dict:
            progress(ProgressEvent("rendering", step + 1, options.steps))
            return {}

        conditions: dict[str, Any] = {
            "prompt": [job.style] * n,
            "lyrics": [lyrics] * n,
            "audio_duration": float(job.duration_s),
            "vocal_language": meta.get("language") or "unknown",
            "bpm": meta.get("bpm"),
            "keyscale": meta.get("key"),
            "timesignature": meta.get("time_signature"),
        }
        if options.planner != "off":
            conditions = self._planned(options.planner, job, lyrics, progress)
        progress(ProgressEvent("rendering", 0, options.steps))
        out = self.pipe(
            **conditions,
            num_inference_steps=options.steps,
            shift=options.shift,
            guidance_scale=options.guidance_scale,
            generator=generators,
            callback_on_step_end=on_step,
            output_type="pt",
        )
        progress(ProgressEvent("decoding", 1, 1))
        audio = out.audios.float().cpu()
        want = round(job.duration_s * self.sample_rate)
        if audio.shape[-1] < want:  # latents are ceil(duration * 25), so this only guards odd VAEs
            audio = torch.nn.functional.pad(audio, (0, want - audio.shape[-1]))
        audio = audio[..., :want]
        takes = []
        for i, seed in enumerate(job.seeds):
            wave = np.ascontiguousarray(audio[i].numpy(), dtype=np.float32)
            if not np.isfinite(wave).all():
                raise StudioError(
                    "ACE-Step produced invalid audio (NaN); try float32 with STUDIO_DEVICE=cpu or "
                    "other weights."
                )
            takes.append(Take(audio=wave, sample_rate=self.sample_rate, seed=int(seed)))
        return takes

    def _planned(self, size: str, job: RenderJob, lyrics: str, progress: ProgressFn) -> dict[str, Any]:
        """Run the 5 Hz LM: metadata the user left open, then audio codes per take.

        Values the user gave are passed through untouched; the length stays the requested one."""
        planner = self._planner(size)
        meta = job.metadata
        first = planner.plan(
            job.style, lyrics, bpm=meta.get("bpm"), keyscale=meta.get("key"),
            timesignature=meta.get("time_signature"), duration=job.duration_s,
            vocal_language=meta.get("language"), seed=job.seeds[0], progress=progress,
        )
        plans = [first] + [planner.recode(first, seed=s, progress=progress) for s in job.seeds[1:]]
        return {
            "prompt": [p.caption for p in plans],
            "lyrics": [p.lyrics for p in plans],
            "audio_codes": [p.audio_codes for p in plans],
            "audio_duration": float(job.duration_s),
            "vocal_language": first.language or "unknown",
            "bpm": first.bpm,
            "keyscale": first.keyscale,
            "timesignature": first.timesignature,
        }

    def describe(
        self, text: str, *, instrumental: bool = False, language: str | None = None, seed: int | None = None,
        progress: ProgressFn = no_progress,
    ) -> dict[str, Any]:
        """Simple mode: a description becomes caption, lyrics and metadata (for editing, not rendered)."""
        from backends.acestep.spec import DESCRIBE_PLANNER

        planner = self._planner(DESCRIBE_PLANNER)
        return planner.describe(text, instrumental=instrumental, language=language, seed=seed,
                                progress=progress).to_dict()

    def _planner(self, size: str) -> Any:
        if size not in self.planners:
            import os

            from backends.acestep.planner.planner import Planner
            from backends.acestep.spec import PLANNER_ENV

            weights = os.environ.get(PLANNER_ENV) or size
            self.planners[size] = Planner.load(weights, device=self.device)
        return self.planners[size]

    def unload(self) -> None:
        for planner in self.planners.values():
            planner.unload()
        self.planners.clear()
        self.loras.clear()
        self.pipe = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def quiet_libraries() -> None:
    """Library progress bars and deprecation chatter would drown the studio's own progress."""
    import warnings

    from diffusers.utils import logging as dlog
    from transformers.utils import logging as tlog

    dlog.disable_progress_bar()
    dlog.set_verbosity_error()
    tlog.disable_progress_bar()
    tlog.set_verbosity_error()
    warnings.filterwarnings("ignore", message=".*weight_norm.*", category=FutureWarning)


def latent_frames(duration_s: float) -> int:
    """ACE-Step's VAE runs at 25 latent frames per second (48 kHz / 1920)."""
    return math.ceil(duration_s * 25)
