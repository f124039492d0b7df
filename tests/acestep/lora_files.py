"""Real LoRA files for the tiny ACE-Step transformer, written by diffusers/PEFT's own save paths."""

from __future__ import annotations

import json
from pathlib import Path

import torch

ATTENTION = ("to_q", "to_k", "to_v", "to_out.0")
# diffusers name -> ACE-Step-1.5's own (what its PEFT trainer writes)
ORIGINAL = {".to_q.": ".q_proj.", ".to_k.": ".k_proj.", ".to_v.": ".v_proj.", ".to_out.0.": ".o_proj."}


def make_lora_weights(
    *, rank: int = 4, alpha: float = 8.0, seed: int = 1, targets: tuple[str, ...] = ATTENTION, layers: int = 2,
    hidden: int | None = None,
) -> tuple[dict[str, torch.Tensor], dict]:
    """Random (non-zero) adapters on a scratch tiny transformer: PEFT state dict and its LoraConfig dict."""
    from diffusers.models.transformers.ace_step_transformer import AceStepTransformer1DModel
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    from backends.acestep import tiny

    width = hidden or tiny.HIDDEN
    torch.manual_seed(seed)
    scratch = AceStepTransformer1DModel(
        hidden_size=width, intermediate_size=64, num_hidden_layers=layers, in_channels=3 * tiny.ACOUSTIC_DIM,
        audio_acoustic_hidden_dim=tiny.ACOUSTIC_DIM, patch_size=2, is_turbo=True, model_version="turbo",
        num_attention_heads=4, num_key_value_heads=2, head_dim=width // 4, rope_theta=10000.0, sliding_window=16,
    )
    config = LoraConfig(r=rank, lora_alpha=alpha, target_modules=list(targets), init_lora_weights=False)
    scratch.add_adapter(config, adapter_name="made")
    weights = {k: v.detach().clone() for k, v in get_peft_model_state_dict(scratch, adapter_name="made").items()}
    return weights, config.to_dict()


def save_diffusers_lora(folder: Path, **kwargs) -> Path:
    """``AceStepPipeline.save_lora_weights``: ``pytorch_lora_weights.safetensors`` with its metadata."""
    from diffusers import AceStepPipeline

    weights, config = make_lora_weights(**kwargs)
    AceStepPipeline.save_lora_weights(folder, transformer_lora_layers=weights, transformer_lora_adapter_metadata=config)
    return folder / "pytorch_lora_weights.safetensors"


def save_acestep_trainer_lora(folder: Path, weights: dict[str, torch.Tensor], *, rank: int, alpha: float) -> Path:
    """The layout ACE-Step-1.5's trainer saves (a PEFT adapter folder over its DiT decoder)."""
    from safetensors.torch import save_file

    renamed = {}
    for key, value in weights.items():
        for new, old in ORIGINAL.items():
            key = key.replace(new, old)
        renamed[f"base_model.model.{key}"] = value.contiguous()
    folder.mkdir(parents=True, exist_ok=True)
    save_file(renamed, str(folder / "adapter_model.safetensors"))
    config = {"peft_type": "LORA", "r": rank, "lora_alpha": alpha, "target_modules": ["q_proj", "k_proj", "v_proj",
              "o_proj"]}
    (folder / "adapter_config.json").write_text(json.dumps(config))
    return folder
