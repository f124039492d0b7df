"""The loaded LeVo 2 backend: lyrics + style -> codes (LeLM) -> stereo audio (decoder + VAE)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from backends.base import RenderJob, Take
from backends.levo.conditioning import build_conditions
from backends.levo.declaration import CAPABILITIES, VRAM_GB, LevoOptions
from backends.levo.decoder import FRAME_RATE, SeparateTokenDecoder, generator_noise, load_decoder
from backends.levo.generation import SamplingParams, generate_codes
from backends.levo.lm import LeLM
from backends.levo.loading import load_lm, require_whole_parts, resolve_model, resolve_runtime
from backends.levo.synthesis import decode_codes
from backends.levo.text import LM_GEN_TYPE, build_texts
from backends.levo.vae import OobleckVae, load_vae
from studio import devices
from studio.audio.cut_short import fade_out, partial_note
from studio.ground.errors import Cancelled, DeadlineExceeded, StudioError
from studio.ground.progress import ProgressEvent, ProgressFn, no_progress

# Which decodes each mode needs, in upstream's order (vocal, bgm, then the mix), and the stem names.
DECODES: dict[str, tuple[tuple[str, str], ...]] = {
    "song": (("mixed", "mix"),),
    "bgm": (("bgm", "mix"),),
    "vocal": (("vocal", "mix"),),
    "separate": (("vocal", "vocals"), ("bgm", "accompaniment"), ("mixed", "mix")),
}
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def free_accelerator_gb(device: str) -> float | None:
    if device.startswith("cuda") and torch.cuda.is_available():
        free, _ = torch.cuda.mem_get_info(torch.device(device))
        return free / 1e9
    return None


class LevoBackend:
    # What the backend declares (its declaration.py, below both this module and its spec): a loaded backend
    # carries that, not its spec, so the spec can name this module without importing it.
    capabilities = CAPABILITIES
    options = LevoOptions

    def __init__(
        self,
        lm: LeLM,
        tokenizers,
        decoder: SeparateTokenDecoder,
        vae: OobleckVae,
        *,
        device: str,
        dtype: str,
        weights: str,
        low_memory: bool,
        conv_limit: int | None = None,
    ) -> None:
        # The longest convolution output this device allows (Apple's MPS); the VAE's chunks obey it.
        self.conv_limit = conv_limit
        self.lm = lm
        self.tokenizers = tokenizers
        self.decoder = decoder
        self.vae = vae
        self.device = device
        self.dtype = dtype
        self.weights = weights
        self.low_memory = low_memory

    @classmethod
    def load(
        cls,
        weights: str | None = None,
        runtime: str | None = None,
        *,
        device: devices.DeviceInfo | str | None = None,
        dtype: str | None = None,
        low_memory: bool | None = None,
        offline: bool | None = None,
    ) -> LevoBackend:
        # The studio's one device policy (STUDIO_DEVICE, ZeroGPU, the dtype table), also for direct calls.
        info = devices.as_device_info(device)
        device = info.torch_device
        dtype = dtype or info.dtype_name(CAPABILITIES.dtype_per_device, CAPABILITIES.dtype_without_bf16)
        if dtype not in DTYPES:
            raise StudioError(f"`dtype` must be one of {sorted(DTYPES)}, got {dtype!r}.")
        model_dir = resolve_model(weights, offline=offline)
        runtime_dir = resolve_runtime(runtime, offline=offline, model_dir=model_dir)
        require_whole_parts(model_dir, runtime_dir)
        if low_memory is None:
            free = free_accelerator_gb(device)
            low_memory = free is not None and free < VRAM_GB["v2-large"]["full"]
        home = "cpu" if low_memory else device
        tdtype = DTYPES[dtype]
        lm, tokenizers, cfg = load_lm(model_dir, runtime_dir, device=home, dtype=tdtype)
        decoder = load_decoder(
            runtime_dir / Path(cfg.separate_tokenizer_path).parent, device=home, dtype=tdtype
        )
        # The VAE stays fp32 as upstream runs it (outside its fp16 autocast); it is small.
        vae = load_vae(
            runtime_dir / cfg.vae_config_path,
            runtime_dir / cfg.vae_weights_path,
            device=home,
            dtype=torch.float32,
        )
        return cls(
            lm,
            tokenizers,
            decoder,
            vae,
            device=device,
            dtype=dtype,
            weights=str(model_dir),
            low_memory=low_memory,
            conv_limit=info.conv_output_limit,
        )

    # -- memory

    @contextmanager
    def _on_device(self, *modules: torch.nn.Module, low_memory: bool) -> Iterator[None]:
        """In low-memory mode a stage's modules visit the accelerator only while it runs."""
        if low_memory and self.device != "cpu":
            for m in modules:
                m.to(self.device)
            try:
                yield
            finally:
                for m in modules:
                    m.to("cpu")
                gc.collect()
                if self.device.startswith("cuda"):
                    torch.cuda.empty_cache()
        else:
            yield

    # -- rendering

    def render(self, job: RenderJob, progress: ProgressFn = no_progress) -> list[Take]:
        opts = job.options
        if not isinstance(opts, LevoOptions):
            opts = LevoOptions.model_validate(opts.model_dump() if hasattr(opts, "model_dump") else opts)
        mode = "bgm" if job.instrumental and opts.mode == "song" else opts.mode
        cap = CAPABILITIES.max_duration_s
        if not 0 < job.duration_s <= cap:
            raise StudioError(
                f"`duration` must be between 1 and {cap:.0f} s for LeVo 2, got {job.duration_s:g}; "
                "shorten the song or pick ACE-Step."
            )
        if job.reference_audio is not None:
            raise StudioError(
                "LeVo 2 in this studio cannot use a reference audio yet (its prompt encoder "
                "is not ported); remove the reference or pick another model."
            )
        low_memory = self.low_memory or opts.low_memory
        texts = build_texts(job.lyrics, job.style, bgm=LM_GEN_TYPE[mode] == "bgm")
        # The LM stops on its own when the lyrics are sung; the duration is the cap the budget allows.
        max_frames = int(job.duration_s * self.lm.cfg.frame_rate)
        params = SamplingParams(
            cfg_coef=opts.cfg, temperature=opts.temperature, top_k=opts.top_k, top_p=opts.top_p
        )
        takes = []
        for index, seed in enumerate(job.seeds):
            generator = torch.Generator().manual_seed(int(seed))
            stops: list[Cancelled] = []
            with self._on_device(self.lm, low_memory=low_memory):
                conditions = build_conditions(self.lm, self.tokenizers, texts)
                codes = generate_codes(
                    self.lm, conditions, max_frames, params, generator=generator, progress=progress,
                    on_partial=stops.append,
                ).cpu()
            if stops and codes.shape[-1] == 0:
                raise nothing_to_keep(stops[0], self.lm.cfg.delays)
            if codes.shape[-1] == 0:
                raise StudioError("LeVo 2 ended the song before it began; try another seed or longer lyrics.")
            audio: dict[str, np.ndarray] = {}
            with self._on_device(self.decoder, self.vae, low_memory=low_memory):
                noise = generator_noise(generator)
                for gen_type, name in DECODES[mode]:
                    progress(ProgressEvent("decode", 0, 1, f"decoding {name}"))
                    wav = decode_codes(codes, gen_type, self.decoder, self.vae, noise, progress,
                                       conv_limit=self.conv_limit)
                    audio[name] = _to_take_range(wav.float().numpy())
            rate = self.vae.cfg.sample_rate
            extras: dict = {"codes": codes.numpy().astype(np.int64), "mode": mode}
            if stops:  # cut short by the time budget: fade every stream out where it stops
                audio = {name: fade_out(wav, rate) for name, wav in audio.items()}
                extras["warnings"] = [partial_note(stops[0], audio["mix"].shape[-1] / rate, job.duration_s,
                                                   len(job.seeds) - index - 1)]
            mix = audio.pop("mix")
            takes.append(Take(audio=mix, sample_rate=rate, seed=int(seed), stems=audio, extras=extras))
            if stops:
                break  # no time is left for further takes
        return takes

    def unload(self) -> None:
        for name in ("lm", "decoder", "vae"):
            setattr(self, name, None)
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def nothing_to_keep(stop: Cancelled, delays: tuple[int, ...]) -> DeadlineExceeded:
    """Time ran out before any frame was whole in every stream (the vocal and accompaniment streams
    start ``max(delays)`` steps behind), so a partial result would be silence."""
    lag_s = max(delays) / FRAME_RATE
    return DeadlineExceeded(
        f"Time ran out before LeVo 2 finished its first whole second of audio (its vocal and "
        f"accompaniment streams start {lag_s:g} s behind), so there is nothing to keep. Ask for a shorter "
        "song, or pick ACE-Step, which is faster.",
        stage=getattr(stop, "stage", "lm"), done=getattr(stop, "done", 0), total=getattr(stop, "total", 0),
    )


def _to_take_range(wav: np.ndarray) -> np.ndarray:
    """Takes are float32 in [-1, 1]: scale down (never clip) a decode that overshoots."""
    peak = float(np.abs(wav).max()) if wav.size else 0.0
    out = wav / peak if peak > 1.0 else wav
    return np.ascontiguousarray(out, dtype=np.float32)


def load_backend(
    weights: str | None = None,
    device: devices.DeviceInfo | str | None = None,
    *,
    runtime: str | None = None,
    low_memory: bool | None = None,
    **_: object,
) -> LevoBackend:
    """The registry's loader call (``SPEC.loader`` names it): options other backends take are ignored."""
    return LevoBackend.load(weights=weights, runtime=runtime, device=devices.as_device_info(device),
                            low_memory=low_memory)
