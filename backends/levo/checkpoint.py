"""Strict checkpoint loading: every key accounted for, named in the error when it is not."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import torch
from torch import nn

from backends.base import StudioError


class CheckpointMismatch(StudioError):
    """The weights file does not fit the model built from its config."""


def load_torch_state(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise StudioError(f"Weights file {path} is missing; re-download the LeVo 2 files.")
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:  # torch raises several types for a bad or foreign pickle
        raise StudioError(
            f"Could not read {path} as plain tensors ({exc}); the file may be corrupt."
        ) from exc
    if isinstance(obj, Mapping) and "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping):
        raise StudioError(f"{path} does not hold a dictionary of tensors.")
    return dict(obj)


def strip_prefix(state: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    if prefix and not any(k.startswith(prefix) for k in state):
        raise CheckpointMismatch(f"No key in the checkpoint starts with {prefix!r}; is this the right file?")
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)} if prefix else dict(state)


def load_strict(
    module: nn.Module, state: Mapping[str, torch.Tensor], *, what: str, ignored: Iterable[str] = ()
) -> None:
    """Copy ``state`` into ``module``; ``ignored`` keys are known to exist and be unused at inference."""
    ignored = set(ignored)
    own = module.state_dict()
    given = {k: v for k, v in state.items() if k not in ignored}
    missing = sorted(set(own) - set(given))
    unexpected = sorted(set(given) - set(own))
    problems = []
    if missing:
        problems.append(f"missing keys: {', '.join(missing[:20])}" + (" ..." if len(missing) > 20 else ""))
    if unexpected:
        problems.append(
            f"unexpected keys: {', '.join(unexpected[:20])}" + (" ..." if len(unexpected) > 20 else "")
        )
    wrong = [
        f"{k} {tuple(v.shape)} != {tuple(own[k].shape)}"
        for k, v in given.items()
        if k in own and tuple(v.shape) != tuple(own[k].shape)
    ]
    if wrong:
        problems.append(f"shape mismatches (file != model): {'; '.join(wrong[:10])}")
    if problems:
        raise CheckpointMismatch(f"{what} does not match the model: " + " | ".join(problems))
    module.load_state_dict(given, strict=True)
