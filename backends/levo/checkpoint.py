"""Strict checkpoint loading: every key accounted for, named in the error when it is not."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import torch
from torch import nn

from studio.ground.errors import StudioError


class CheckpointMismatch(StudioError):
    """The weights file does not fit the model built from its config."""


def load_torch_state(path: Path, *, mmap: bool = True) -> dict[str, torch.Tensor]:
    """``mmap=False`` reads every tensor into a storage of its own, so each can be freed on its own
    (see ``assign_strict``); a memory map stays resident until its last tensor goes."""
    if not path.is_file():
        raise StudioError(f"Weights file {path} is missing; re-download the LeVo 2 files.")
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True, mmap=mmap)
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


def check_keys(
    module: nn.Module, state: Mapping[str, torch.Tensor], *, what: str, ignored: Iterable[str] = ()
) -> None:
    """Every module tensor in ``state`` with its shape and nothing else, apart from ``ignored`` keys."""
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


def load_strict(
    module: nn.Module, state: Mapping[str, torch.Tensor], *, what: str, ignored: Iterable[str] = ()
) -> None:
    """Copy ``state`` into ``module``; ``ignored`` keys are known to exist and be unused at inference."""
    check_keys(module, state, what=what, ignored=ignored)
    ignored = set(ignored)
    module.load_state_dict({k: v for k, v in state.items() if k not in ignored}, strict=True)


def assign_strict(
    module: nn.Module,
    state: dict[str, torch.Tensor],
    *,
    what: str,
    dtype: torch.dtype | None = None,
    ignored: Iterable[str] = (),
    keep_float32: tuple[str, ...] = (),
) -> None:
    """For a module built on the meta device: each checkpoint tensor becomes its parameter, cast on its
    own to ``dtype`` (floating ones; ``keep_float32`` prefixes to fp32) and taken out of ``state`` as it
    goes. Host memory so holds about one copy of the weights in their load dtype, never an fp32 model
    beside them. ``state`` is emptied."""
    check_keys(module, state, what=what, ignored=ignored)
    for key in set(ignored):
        state.pop(key, None)
    assigned: dict[str, torch.Tensor] = {}
    for key in list(module.state_dict()):
        tensor = state.pop(key)
        if tensor.is_floating_point():
            if key.startswith(keep_float32):
                tensor = tensor.float()
            elif dtype is not None:
                tensor = tensor.to(dtype)
        assigned[key] = tensor
    module.load_state_dict(assigned, strict=True, assign=True)
    unset = [n for n, t in (*module.named_parameters(), *module.named_buffers()) if t.is_meta]
    if unset:
        raise CheckpointMismatch(f"{what} left {len(unset)} tensors unset (first: {unset[:5]}).")
