"""Finding and loading the planner's weights: a plain ``Qwen3ForCausalLM`` and its tokenizer.

No ``trust_remote_code``: the official configs are ``model_type: qwen3`` without ``auto_map``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from studio.ground.errors import StudioError


@dataclass(frozen=True)
class PlannerCheckpoint:
    repo: str  # Hub id, or a local folder
    subfolder: str | None = None

    @property
    def local(self) -> bool:
        return Path(self.repo).is_dir()

    def describe(self) -> str:
        return f"{self.repo}/{self.subfolder}" if self.subfolder else self.repo


# The three official sizes. 1.7B (upstream's default) has no repository of its own.
PLANNER_CHECKPOINTS: dict[str, PlannerCheckpoint] = {
    "0.6B": PlannerCheckpoint("ACE-Step/acestep-5Hz-lm-0.6B"),
    "1.7B": PlannerCheckpoint("ACE-Step/Ace-Step1.5", "acestep-5Hz-lm-1.7B"),
    "4B": PlannerCheckpoint("ACE-Step/acestep-5Hz-lm-4B"),
}
DEFAULT_PLANNER = "1.7B"
REQUIRED_TOKENS = ("<|im_start|>", "<|im_end|>", "<think>", "</think>", "<|audio_code_0|>")


def resolve_checkpoint(weights: str | None) -> PlannerCheckpoint:
    """A size name (``0.6B``/``1.7B``/``4B``), a local folder, a Hub id, or ``owner/repo/sub/folder``."""
    weights = (weights or DEFAULT_PLANNER).strip()
    if weights in PLANNER_CHECKPOINTS:
        return PLANNER_CHECKPOINTS[weights]
    if Path(weights).expanduser().is_dir():
        return PlannerCheckpoint(str(Path(weights).expanduser()))
    parts = weights.split("/")
    if len(parts) >= 2 and all(parts) and not weights.startswith((".", "/", "~")):
        return PlannerCheckpoint("/".join(parts[:2]), "/".join(parts[2:]) or None)
    raise StudioError(
        f"Planner weights {weights!r} are neither a size ({', '.join(PLANNER_CHECKPOINTS)}), an existing "
        "folder, nor a Hub id like 'ACE-Step/acestep-5Hz-lm-0.6B'; pick one of those."
    )


def default_device() -> str:
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def default_dtype(device: str):
    """The studio's device policy for the planner (PLANNER_DTYPE): bf16 only where the device has it."""
    from backends.acestep.declaration import PLANNER_DTYPE, PLANNER_DTYPE_WITHOUT_BF16
    from studio import devices

    info = devices.as_device_info(device)
    return devices.torch_dtype(info.dtype_name(PLANNER_DTYPE, PLANNER_DTYPE_WITHOUT_BF16))


def load_planner_weights(
    weights: str | None = None,
    *,
    device: str | None = None,
    dtype=None,
    local_files_only: bool = False,
):
    """Return ``(model, tokenizer, checkpoint)`` with the model on ``device`` in eval mode."""
    from transformers import AutoConfig, AutoTokenizer, Qwen3ForCausalLM

    checkpoint = resolve_checkpoint(weights)
    device = device or default_device()
    dtype = dtype or default_dtype(device)
    kwargs: dict = {"local_files_only": local_files_only}
    if checkpoint.subfolder:
        kwargs["subfolder"] = checkpoint.subfolder
    try:
        config = AutoConfig.from_pretrained(checkpoint.repo, **kwargs)
    except OSError as err:
        raise StudioError(
            f"Could not read the planner config from {checkpoint.describe()}: {err}. Check the id or "
            "folder, or download the weights first (huggingface-cli download)."
        ) from err
    if getattr(config, "model_type", None) != "qwen3":
        raise StudioError(
            f"{checkpoint.describe()} is a {config.model_type!r} model; the ACE-Step planner is a Qwen3 "
            "model (acestep-5Hz-lm-*). Point --weights at one of those."
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(checkpoint.repo, **kwargs)
        model = Qwen3ForCausalLM.from_pretrained(checkpoint.repo, dtype=dtype, **kwargs)
    except OSError as err:
        raise StudioError(f"Could not load the planner from {checkpoint.describe()}: {err}") from err
    vocab = tokenizer.get_vocab()
    missing = [token for token in REQUIRED_TOKENS if token not in vocab]
    if missing:
        raise StudioError(
            f"The tokenizer at {checkpoint.describe()} lacks {', '.join(missing)}; it is not an ACE-Step "
            "5Hz LM tokenizer. Use the tokenizer files that ship with the planner weights."
        )
    model.to(device).eval()
    return model, tokenizer, checkpoint
