"""ACE-Step 1.5 on diffusers' AceStepPipeline (no vendored ACE-Step code)."""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from backends.acestep import vae_tiling
from backends.acestep.declaration import CAPABILITIES, REQUIRED_FILES, AceStepOptions
from backends.acestep.fetching import fetch_pipeline
from backends.acestep.lora import LoraSet
from backends.base import RenderJob, Take
from studio import devices, memory
from studio import weights as weights_source
from studio.audio.splice import SPLICE_FADE_S, splice
from studio.ground.errors import StudioError
from studio.ground.progress import ProgressEvent, ProgressFn, no_progress
from studio.ground.vocabulary import DeviceClass
from studio.tasks import get_task

log = logging.getLogger(__name__)

# What ACE-Step's lyric encoder expects for a song without vocals.
INSTRUMENTAL_LYRICS = "[Instrumental]"

# The turbo and base XL pipelines (~10 GB each in bf16) share the accelerator only when it has room
# for the one about to run plus this much for a long song's activations and decode; otherwise they
# take turns, the idle one waiting in host memory (a ~10 GB move costs a second or two over PCIe 4).
ACTIVATIONS_HEADROOM_GB = 8.0


def require_pipeline_folder(folder: Path, *, env_var: str, default: str) -> None:
    """Refuse a folder that is not a whole diffusers ACE-Step pipeline before diffusers reads it: its own
    errors for a missing part or a Git LFS pointer name neither the folder nor the fix."""
    if not (folder / "model_index.json").exists():
        raise StudioError(
            f"{folder} is not a diffusers ACE-Step folder (it has no model_index.json); point {env_var} or "
            f"--weights at a copy of {default}."
        )
    weights_source.require_whole(
        folder,
        REQUIRED_FILES,
        what="ACE-Step",
        fix=f"download a whole copy (`hf download {default} --local-dir {folder}` resumes a partial one) or "
        f"point {env_var} or --weights at one.",
    )


def pipeline_gb(pipe: Any) -> float:
    """Memory a pipeline's weights take, from its modules' parameters and buffers."""
    total = 0
    for part in pipe.components.values():
        if isinstance(part, torch.nn.Module):
            tensors = [*part.parameters(), *part.buffers()]
            total += sum(t.numel() * t.element_size() for t in tensors)
    return total / 2**30


def move(pipe: Any, device: str) -> Any:
    return pipe.to(device)


@contextlib.contextmanager
def seeded_global_rng(seed: int, device: str) -> Iterator[None]:
    """torch's global generators seeded from the take's seed for the pipeline call, then restored.

    The pipeline draws the source song's VAE latents with ``latent_dist.sample()``, which takes no
    generator, so without this every edit (cover, repaint, extend, extract, ...) came out different
    for the same seed. The initial noise still comes from the per-take generators."""
    where = torch.device(device)
    with torch.random.fork_rng(devices=[where.index or 0] if where.type == "cuda" else []):
        torch.manual_seed(seed)
        yield


# The pipeline arguments that hold one entry per take (the rest apply to every take).
PER_TAKE_CONDITIONS = frozenset({"prompt", "lyrics", "audio_codes"})


class AceStepBackend:
    # What the backend declares (its declaration.py, below both this module and its spec): a loaded backend
    # carries that, not its spec, so the spec can name this module without importing it.
    capabilities = CAPABILITIES
    options = AceStepOptions

    def __init__(
        self, pipe: Any, *, device: str, dtype: str, weights: str, offload: bool = False,
        conv_limit: int | None = None,
    ) -> None:
        self.pipe = pipe
        self.device = device
        self.dtype = dtype
        self.weights = weights
        # Idle parts wait in host memory (diffusers' model CPU offload): a GPU below the XL's needs.
        self.offload = offload
        # The longest convolution output this device allows (Apple's MPS), which the VAE's tiles obey.
        self.conv_limit = conv_limit
        self.sample_rate = int(pipe.sample_rate)
        self.planners: dict[str, Any] = {}
        self.loras = LoraSet(pipe.transformer)
        # Pipelines on other weights some tasks need (ACE-Step's XL base), loaded on first use.
        self.extra_pipes: dict[str, Any] = {}
        # Pipelines moved to host memory to make room for another (ids; see ACTIVATIONS_HEADROOM_GB).
        self._parked: set[int] = set()
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
        caps = CAPABILITIES
        location = weights_source.choose(weights, caps.weights_env, caps.default_weights)
        folder = fetch_pipeline(location, what="ACE-Step", env_var=caps.weights_env, on_progress=on_progress)
        require_pipeline_folder(folder, env_var=caps.weights_env, default=caps.default_weights)
        info = devices.as_device_info(device)
        dtype = info.dtype_name(caps.dtype_per_device, caps.dtype_without_bf16)
        try:
            pipe = AceStepPipeline.from_pretrained(str(folder), dtype=devices.torch_dtype(dtype))
        except (OSError, ValueError) as exc:
            raise StudioError(
                f"{folder} is not a diffusers ACE-Step folder ({exc}); point {caps.weights_env} or --weights "
                f"at a copy of {caps.default_weights}."
            ) from exc
        offload = wants_offload(info, dtype)
        if offload:
            # Each part moves to the GPU when it runs and back after: ~8 GB resident instead of ~11.
            pipe.enable_model_cpu_offload(device=info.torch_device)
        else:
            pipe = pipe.to(info.torch_device)
        return cls(pipe, device=info.torch_device, dtype=dtype, weights=location, offload=offload,
                   conv_limit=info.conv_output_limit)

    def render(self, job: RenderJob, progress: ProgressFn = no_progress) -> list[Take]:
        options = job.options
        if not isinstance(options, AceStepOptions):
            options = AceStepOptions.model_validate(options)
        task = job.metadata.get("task", "text2music")
        refuse_mismatched_options(task, options)
        self._ensure_code_pair(task, options, progress)  # before the planner's LM spends any time
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
        pipe = self._pipe_for(task, progress)
        vae_tiling.apply(pipe.vae, self._tiling(job))
        if task != "text2music":
            conditions.update(task_conditions(job, self.sample_rate))
        progress(ProgressEvent("rendering", 0, options.steps))
        # A GPU renders the takes as one batch, which its memory is priced for. On a CPU the batch
        # shares host memory with the whole server: 4 takes of 600 s needed ~20 GB at once (issue 18),
        # one at a time needs a quarter of that, for the same total time.
        per_call = n if torch.device(self.device).type != "cpu" else 1
        parts = []
        for at in range(0, n, per_call):
            picked = slice(at, at + per_call)
            batch = {k: (v[picked] if k in PER_TAKE_CONDITIONS else v) for k, v in conditions.items()}
            with seeded_global_rng(int(job.seeds[at]), self.device):
                out = pipe(
                    **batch,
                    num_inference_steps=options.steps,
                    shift=options.shift,
                    guidance_scale=options.guidance_scale,
                    generator=generators[picked],
                    callback_on_step_end=on_step,
                    output_type="pt",
                )
            parts.append(out.audios.float().cpu())
            del out
        progress(ProgressEvent("decoding", 1, 1))
        audio = torch.cat(parts) if len(parts) > 1 else parts[0]
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
            if get_task(task).keeps_source_outside_range:
                wave = splice_source(job, wave, self.sample_rate)
            takes.append(Take(audio=wave, sample_rate=self.sample_rate, seed=int(seed)))
        return takes

    def _ensure_code_pair(self, task: str, options: AceStepOptions, progress: ProgressFn) -> None:
        """The audio tokenizer pair on the turbo pipeline when this request needs it (see code_pair),
        read once from the native checkpoint of the same DiT, or a refusal saying what to set."""
        from backends.acestep import code_pair

        what = code_pair.needs_pair(task, options)
        if what is None or all(getattr(self.pipe, name, None) is not None for name in code_pair.PAIR):
            return
        source = code_pair.pair_source(self.weights)
        if not source:
            raise StudioError(code_pair.missing_pair_reason(self.weights, what))
        from backends.acestep.native_pair import attach_pair

        progress(ProgressEvent("loading", 0, 1, f"loading the audio tokenizer pair from {source}"))
        attach_pair(self.pipe, source, location=self.weights, device=str(self.pipe.transformer.device),
                    dtype=devices.torch_dtype(self.dtype))
    def _tiling(self, job: RenderJob) -> vae_tiling.VaeTiling | None:
        """Tiles that keep the VAE within this device's convolution limit, or within the memory free
        beside the weights when an untiled decode of every take would not fit; None: decode whole."""
        if self.conv_limit is not None:
            return vae_tiling.tiles_within(self.conv_limit)
        free = memory.free_accelerator_gb(self.device)
        if free is None:
            return None
        from backends.memory_plan import decode_needs_tiling
        from backends.plan_input import PlanInput

        request = PlanInput(duration_s=job.duration_s, takes=len(job.seeds))
        if decode_needs_tiling(CAPABILITIES, request, free, dtype=self.dtype):
            return vae_tiling.MEMORY_TILES
        return None

    def _pipe_for(self, task: str, progress: ProgressFn) -> Any:
        """The turbo pipeline, or the one on the other weights ``task`` needs (loaded once)."""
        from backends.acestep.tasks import weights_for

        variant = weights_for(task)
        if variant is None:
            return self._on_device(self.pipe, "loading", progress)
        if variant.name not in self.extra_pipes:
            from diffusers import AceStepPipeline

            stage = f"load:{variant.name}"
            progress(ProgressEvent(stage, 0, 1, f"loading {variant.display_name} for {task}"))
            location = weights_source.choose(None, variant.weights_env, variant.default_weights)
            folder = fetch_pipeline(
                location, what=variant.display_name, env_var=variant.weights_env,
                on_progress=lambda msg: progress(ProgressEvent(stage, 0, 1, msg)),
            )
            require_pipeline_folder(folder, env_var=variant.weights_env, default=variant.default_weights)
            try:
                pipe = AceStepPipeline.from_pretrained(str(folder), dtype=devices.torch_dtype(self.dtype))
            except (OSError, ValueError) as exc:
                raise StudioError(
                    f"{folder} is not a diffusers ACE-Step folder ({exc}); point {variant.weights_env} at a "
                    f"copy of {variant.default_weights}."
                ) from exc
            pipe.set_progress_bar_config(disable=True)
            if self.offload:
                pipe.enable_model_cpu_offload(device=self.device)
            else:
                self._parked.add(id(pipe))  # in host memory until _on_device finds it room
            self.extra_pipes[variant.name] = pipe
            progress(ProgressEvent(stage, 1, 1))
        return self._on_device(self.extra_pipes[variant.name], f"load:{variant.name}", progress)

    def _on_device(self, pipe: Any, stage: str, progress: ProgressFn) -> Any:
        """``pipe`` on the accelerator; the other pipelines moved to host memory first when the
        accelerator has no room for it beside them (they come back when next needed)."""
        if id(pipe) not in self._parked:
            return pipe
        free = memory.free_accelerator_gb(self.device)
        if free is not None and free < pipeline_gb(pipe) + ACTIVATIONS_HEADROOM_GB:
            for other in (self.pipe, *self.extra_pipes.values()):
                if other is not pipe and id(other) not in self._parked:
                    progress(ProgressEvent(stage, 0, 1, "moving the idle pipeline to host memory to make room"))
                    move(other, "cpu")
                    self._parked.add(id(other))
            memory.free_accelerator_memory()
        progress(ProgressEvent(stage, 0, 1, "moving the pipeline to the accelerator"))
        move(pipe, self.device)
        self._parked.discard(id(pipe))
        progress(ProgressEvent(stage, 1, 1))
        return pipe

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

    def _planner(self, size: str) -> Any:
        """The planner of ``size``, shared with Simple mode's sketches (backends/acestep/sketch.py)."""
        if size not in self.planners:
            from backends.acestep.sketch import planner_for

            self.planners[size] = planner_for(size, self.device)
        return self.planners[size]

    def loaded_parts(self) -> list[str]:
        """What this backend holds besides its own weights (for the System view), in words."""
        from backends.acestep.tasks import TASK_WEIGHTS

        names = {v.name: v.display_name for v in TASK_WEIGHTS.values()}
        parts = [names.get(name, name) for name in self.extra_pipes]
        parts += [f"planner {size}" for size in self.planners]
        parts += [f"LoRA {a.info.path.name} x{a.ref.scale:g}" for a in self.loras.active]
        return parts

    def unload(self) -> None:
        from backends.acestep.sketch import release

        for planner in self.planners.values():
            release(planner)
        self.planners.clear()
        self.loras.clear()
        self.extra_pipes.clear()
        self._parked.clear()
        self.pipe = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def wants_offload(info: devices.DeviceInfo, dtype: str) -> bool:
    """Offload idle parts on a CUDA GPU too small to hold the pipeline and a default song beside it.

    Not on Apple's unified memory (moving weights to the host frees nothing there) nor on ZeroGPU
    (a 70 GB slice holds it, and spaces packs the weights on the device at start-up)."""
    if info.kind is not DeviceClass.CUDA or not info.memory_gb:
        return False
    from backends.memory_plan import offload_needed

    return offload_needed(CAPABILITIES, info.memory_gb, dtype=dtype)


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


def refuse_mismatched_options(task: str, options: AceStepOptions) -> None:
    """Options that cannot apply to ``task``, refused before anything loads."""
    from backends.acestep.tasks import weights_for

    if options.planner != "off" and task != "text2music":
        raise StudioError(f"the planner writes new songs; set planner to off for the {task} task.")
    variant = weights_for(task)
    if variant is not None and options.loras:
        raise StudioError(
            f"LoRAs adapt the turbo weights, but {task} runs on {variant.display_name}; remove the LoRAs "
            "or pick cover, repaint or extend."
        )


# The VAE encodes whole 40 ms frames; the source is padded to one so its last samples are kept.
VAE_HOP = 1920


def edit_range(job: RenderJob) -> tuple[float, float]:
    """Seconds of the result the model rewrites. An extension starts a crossfade's length before the
    source's end, so the seam blends real audio into new audio instead of fading in from silence."""
    meta = job.metadata
    start, end = float(meta.get("start", 0.0)), float(meta.get("end", job.duration_s))
    if meta.get("task") == "extend":
        start = max(0.0, start - SPLICE_FADE_S)
    return start, end


def task_conditions(job: RenderJob, sample_rate: int) -> dict[str, Any]:
    """The pipeline arguments of an editing task: source audio, range, stem, cover strength."""
    from backends.acestep.tasks import PIPELINE_TASK

    if job.source_audio is None:
        raise StudioError("this task needs source audio; upload the song to edit.")
    meta = job.metadata
    task = meta["task"]
    source = torch.from_numpy(np.ascontiguousarray(job.source_audio, dtype=np.float32))
    total = round(job.duration_s * sample_rate)  # the source, plus the extension for extend
    padded = math.ceil(total / VAE_HOP) * VAE_HOP
    source = torch.nn.functional.pad(source[:, :padded], (0, max(0, padded - source.shape[-1])))
    out: dict[str, Any] = {"task_type": PIPELINE_TASK[task], "src_audio": source}
    # studio.editing.check_task put in the metadata exactly the fields this task uses.
    if "start" in meta:
        out["repainting_start"], out["repainting_end"] = edit_range(job)
    if "cover_strength" in meta:
        out["audio_cover_strength"] = float(meta["cover_strength"])
    track = meta.get("track")
    if track:
        if get_task(task).track == "list":
            out["complete_track_classes"] = [t for t in track.split(",") if t]
        else:
            out["track_name"] = track
    return out


def splice_source(job: RenderJob, wave: np.ndarray, sample_rate: int) -> np.ndarray:
    """Keep the source bit-for-bit outside the edited range (see studio.audio.splice)."""
    source = np.zeros_like(wave)
    kept = min(job.source_audio.shape[-1], wave.shape[-1])
    source[:, :kept] = job.source_audio[:, :kept]
    start, end = edit_range(job)
    return splice(
        source, wave, round(start * sample_rate), round(end * sample_rate), fade=round(SPLICE_FADE_S * sample_rate)
    )
