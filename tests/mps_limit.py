"""Apple's MPS convolution limit, reproduced on the CPU.

PyTorch's MPS convolution refuses an output with any dimension over 2**16 (the guard added in
pytorch/pytorch#129484 checks every output size, so a long waveform trips it: #142515), and
PYTORCH_ENABLE_MPS_FALLBACK does not reroute it (#134416). ``mps_conv_limit`` makes ``conv1d`` and
``conv_transpose1d`` (what ``nn.Conv1d`` / ``nn.ConvTranspose1d`` call) fail the same way, and
``fake_mps`` makes the studio believe it runs on MPS while the tensors stay on the CPU.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from studio import devices
from studio.ground.vocabulary import DeviceClass

LIMIT = 65_536
MESSAGE = "Output channels > 65536 not supported at the MPS device."
FAKE_MPS = devices.DeviceInfo(kind=DeviceClass.MPS, torch_device="cpu", name="Apple Silicon (MPS, faked on the CPU)")


def mps_conv_limit(monkeypatch) -> dict[str, int]:
    """Patch the 1-D convolutions to refuse long outputs; returns the count of calls and the longest output."""
    seen = {"calls": 0, "longest": 0}

    def guarded(real):
        def conv(*args, **kwargs) -> torch.Tensor:
            out = real(*args, **kwargs)
            seen["calls"] += 1
            seen["longest"] = max(seen["longest"], max(out.shape))
            if any(size > LIMIT for size in out.shape):
                raise NotImplementedError(MESSAGE)
            return out

        return conv

    monkeypatch.setattr(F, "conv1d", guarded(F.conv1d))
    monkeypatch.setattr(F, "conv_transpose1d", guarded(F.conv_transpose1d))
    return seen


def fake_mps(monkeypatch) -> devices.DeviceInfo:
    """Device detection answers MPS (with the CPU as the torch device)."""
    monkeypatch.setattr(devices, "detect", lambda preferred=None: FAKE_MPS)
    return FAKE_MPS
