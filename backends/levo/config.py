"""LeVo 2 settings read from the official files, as plain dataclasses.

The model repo's ``config.yaml`` uses OmegaConf interpolations (``${eval:...}``, ``${load_yaml:...}``)
that we never evaluate: we read only the literal numbers we need and compute the few derived
ones ourselves, so no code from the download ever runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from studio.ground.errors import StudioError

# Fixed by the model family (upstream hard-codes them; the checkpoint shapes agree).
LYRIC_PAD_ID = 151643  # Qwen2 <|endoftext|>
STRUCTURE_ID_OFFSET = 151645  # structure id = tag token id - this
STYLE_SPECIAL_TOKENS: tuple[str, ...] = (
    "[Musicality-very-high]",
    "[Musicality-high]",
    "[Musicality-medium]",
    "[Musicality-low]",
    "[Musicality-very-low]",
    "[Pure-Music]",
    ".",
)
STRUCTURE_TAGS: tuple[str, ...] = (
    "[verse]",
    "[chorus]",
    "[bridge]",
    "[intro-short]",
    "[intro-medium]",
    "[intro-long]",
    "[outro-short]",
    "[outro-medium]",
    "[outro-long]",
    "[inst-short]",
    "[inst-medium]",
    "[inst-long]",
    "[silence]",
)


@dataclass(frozen=True)
class LmConfig:
    """The language model's shape and the conditioning layout (defaults: v2-large)."""

    dim: int = 2048
    intermediate_size: int = 11008
    num_heads: int = 16
    num_layers: int = 36
    num_layers_sub: int = 12
    code_depth: int = 3
    code_size: int = 16384
    rope_theta: float = 500000.0
    rope_theta_sub: float = 500000.0
    rms_norm_eps: float = 1e-5
    delays: tuple[int, ...] = (0, 250, 250)
    cfg_coef: float = 1.5
    lyric_max_len: int = 600
    style_max_len: int = 100
    prompt_len_s: int = 10
    frame_rate: int = 25
    max_duration_s: float = 270.0
    sample_rate: int = 48000
    prepend_order: tuple[str, ...] = ("description", "prompt_audio", "type_info")
    vae_config_path: str = "ckpt/vae/stable_audio_1920_vae.json"
    vae_weights_path: str = "ckpt/vae/autoencoder_music_1320k.ckpt"
    separate_tokenizer_path: str = "ckpt/model_septoken/model_2.safetensors"
    tokenizer_path: str = "third_party/Qwen2-7B"

    @property
    def eos_id(self) -> int:
        return self.code_size

    @property
    def special_id(self) -> int:
        """Pad / empty / not-yet-valid token: one past EOS."""
        return self.code_size + 1

    @property
    def prompt_frames(self) -> int:
        return self.prompt_len_s * self.frame_rate

    @property
    def prompt_max_len(self) -> int:
        return self.prompt_frames + 2

    @classmethod
    def from_yaml(cls, path: Path) -> LmConfig:
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise StudioError(
                f"Could not read the LeVo 2 config {path}: {exc}. Re-download the model folder."
            ) from exc
        try:
            lm = raw["lm"]
            conds = raw["conditioners"]
            checkpoint_sep = str(raw.get("audio_tokenizer_checkpoint_sep", ""))
            return cls(
                dim=int(lm["dim"]),
                intermediate_size=int(lm["intermediate_size"]),
                num_heads=int(lm["num_heads"]),
                num_layers=int(lm["num_layers"]),
                num_layers_sub=int(lm["num_layers_sub"]),
                code_depth=int(lm["code_depth"]),
                code_size=int(lm["code_size"]),
                rope_theta=float(lm["rope_theta"]),
                rope_theta_sub=float(lm.get("rope_theta_sub", lm["rope_theta"])),
                delays=tuple(int(d) for d in raw["codebooks_pattern"]["delay"]["delays"]),
                cfg_coef=float(raw["classifier_free_guidance"]["inference_coef"]),
                lyric_max_len=int(conds["description"]["QwTokenizer"]["max_len"]),
                style_max_len=int(conds["type_info"]["QwTextTokenizer"]["max_len"]),
                prompt_len_s=int(raw["prompt_len"]),
                frame_rate=int(raw["audio_tokenizer_frame_rate"]),
                max_duration_s=float(raw["max_dur"]),
                sample_rate=int(raw["sample_rate"]),
                prepend_order=tuple(str(x) for x in raw["fuser"]["prepend"]),
                vae_config_path=_relative(raw["vae_config"]),
                vae_weights_path=_relative(raw["vae_model"]),
                separate_tokenizer_path=_relative(checkpoint_sep.split("_", 1)[-1]),
                tokenizer_path=_relative(conds["description"]["QwTokenizer"]["token_path"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise StudioError(
                f"The LeVo 2 config {path} lacks an expected field ({exc}); "
                "is this a SongGeneration v2 config.yaml?"
            ) from exc


def _relative(p: Any) -> str:
    text = str(p)
    return text[2:] if text.startswith("./") else text


@dataclass(frozen=True)
class DecoderDims:
    """Separate-token decoder dimensions. Upstream hard-codes these; defaults are the real model's."""

    rvq_input_dim: int = 1024
    rvq_codebook_dim: int = 32
    rvq_codebook_size: int = 16384
    zero_cond_embedding_dim: int = 1024
    gpt2_n_layer: int = 16
    gpt2_n_head: int = 20
    gpt2_n_embd: int = 2200
    gpt2_n_inner: int = 4400
    gpt2_n_positions: int = 1000
    latent_dim: int = 64
    mask_emb_dim: int = 24
    window_s: int = 40
    num_steps: int = 10
    guidance_scale: float = 1.5
    layer_norm_eps: float = 1e-5
    vae_chunk_size: int = 128
    vae_chunk_overlap: int = 32
    # gen_type 'bgm' / 'vocal' replace the other stream by these constant codes.
    silent_vocal_code: int = 3142
    silent_bgm_code: int = 9670
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def load(cls, folder: Path) -> DecoderDims:
        """Defaults, overridden by ``dims.json`` beside the weights when it exists."""
        path = folder / "dims.json"
        if not path.is_file():
            return cls()
        data = json.loads(path.read_text(encoding="utf-8"))
        known = {f.name for f in fields(cls)} - {"extra"}
        overrides = {k: v for k, v in data.items() if k in known}
        unknown = {k: v for k, v in data.items() if k not in known and not k.startswith("_")}
        if unknown:
            raise StudioError(
                f"{path} names unknown decoder dimensions {sorted(unknown)}; known: {sorted(known)}."
            )
        return replace(cls(), **overrides)


@dataclass(frozen=True)
class VaeConfig:
    """The Oobleck decoder half of the Stable Audio VAE (``stable_audio_1920_vae.json``)."""

    channels: int = 128
    c_mults: tuple[int, ...] = (1, 2, 4, 8, 16)
    strides: tuple[int, ...] = (2, 4, 4, 6, 10)
    latent_dim: int = 64
    out_channels: int = 2
    sample_rate: int = 48000
    final_tanh: bool = False

    @property
    def hop(self) -> int:
        n = 1
        for s in self.strides:
            n *= s
        return n

    @classmethod
    def from_json(cls, path: Path) -> VaeConfig:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            dec = raw["model"]["decoder"]
            if dec.get("type") != "oobleck":
                raise StudioError(
                    f"{path}: only the Oobleck VAE decoder is supported, got {dec.get('type')!r}."
                )
            c = dec["config"]
            if not c.get("use_snake", True):
                raise StudioError(f"{path}: an Oobleck decoder without Snake activations is not supported.")
            return cls(
                channels=int(c["channels"]),
                c_mults=tuple(int(x) for x in c["c_mults"]),
                strides=tuple(int(x) for x in c["strides"]),
                latent_dim=int(c["latent_dim"]),
                out_channels=int(c["out_channels"]),
                sample_rate=int(raw.get("sample_rate", 48000)),
                final_tanh=bool(c.get("final_tanh", False)),
            )
        except (OSError, KeyError, TypeError, ValueError) as exc:
            raise StudioError(
                f"Could not read the VAE config {path}: {exc}. Re-download the runtime folder."
            ) from exc
