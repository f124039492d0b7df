"""Which accelerator this process has, and which dtype a backend should use on it.

ZeroGPU is recognised from ``SPACES_ZERO_GPU`` (set by the Space runtime); there the GPU only
exists inside ``@spaces.GPU`` calls, so we report CUDA without probing it. ``STUDIO_DEVICE``
(cuda, mps, cpu, or cuda:N) overrides detection.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from studio import settings
from studio.ground.errors import StudioError
from studio.ground.vocabulary import DeviceClass

if platform.system() == "Darwin":
    # A few ops (e.g. some FFT and conv variants) have no MPS kernel; run them on the CPU
    # instead of failing. Must be set before torch initialises MPS.
    os.environ.setdefault("PYTORCH_ENABLE_MPS_FALLBACK", "1")

# PyTorch's MPS backend refuses a convolution whose output has any dimension over 2**16 ("Output
# channels > 65536 not supported at the MPS device", a guard that checks every output size, so a
# long waveform trips it: pytorch/pytorch#129484, #142515), and PYTORCH_ENABLE_MPS_FALLBACK does not
# reroute it (pytorch/pytorch#134416). Upstream ACE-Step hit it in its VAE decode and now decodes in
# small chunks (ACE-Step-1.5 issue #211, PR #416). Every decoder and encoder here stays within it.
MPS_CONV_OUTPUT_LIMIT = 65_536

# GPU memory of a ZeroGPU slice (an H200 MIG 3g.71gb slice: ~70 GiB usable).
ZEROGPU_MEMORY_GB = 70.0

CPU_WARNING = (
    "Running on the CPU: a song takes many minutes. Use a CUDA GPU or an Apple Silicon Mac for "
    "interactive speed."
)


def on_zerogpu(env: Mapping[str, str] | None = None) -> bool:
    """The same test ``spaces`` itself uses (``spaces/config.py``)."""
    env = os.environ if env is None else env
    return env.get("SPACES_ZERO_GPU", "").lower() in ("1", "t", "true")


@dataclass(frozen=True)
class DeviceInfo:
    kind: DeviceClass
    torch_device: str
    name: str
    memory_gb: float | None = None
    bf16: bool = True
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def conv_output_limit(self) -> int | None:
        """The longest output a 1-D convolution may produce here (Apple's MPS), or None."""
        return MPS_CONV_OUTPUT_LIMIT if self.kind is DeviceClass.MPS else None

    def dtype_name(self, table: Mapping[DeviceClass, str],
                   without_bf16: Mapping[DeviceClass, str] | None = None) -> str:
        """The backend's declared dtype here. Where it wants bf16 and the device has none, the backend's
        own fallback for this device class, else float32: fp16 is not a safe default, bf16-trained weights
        overflow in it (ACE-Step 1.5 issues #1243 and #1274: NaN latents on T4 / Turing in fp16)."""
        wanted = table.get(self.kind, table.get(DeviceClass.CPU, "float32"))
        if wanted == "bfloat16" and not self.bf16:
            return (without_bf16 or {}).get(self.kind, "float32")
        return wanted


def _cuda_info(index: int) -> DeviceInfo:
    import torch

    props = torch.cuda.get_device_properties(index)
    # bf16 tensor cores arrived with Ampere (sm_80); older cards emulate it slowly.
    return DeviceInfo(
        kind=DeviceClass.CUDA,
        torch_device=f"cuda:{index}" if index else "cuda",
        name=props.name,
        memory_gb=props.total_memory / 1024**3,
        bf16=props.major >= 8,
    )


def macos_major() -> int:
    """The macOS major version (0 elsewhere or when unknown)."""
    release = platform.mac_ver()[0] or "0"
    head = release.split(".")[0]
    return int(head) if head.isdigit() else 0


def _mps_info() -> DeviceInfo:
    import torch

    # MPS has bf16 from macOS 14 (PyTorch's MPS backend refuses bf16 tensors on older systems).
    major = macos_major()
    mem = None
    if hasattr(torch.mps, "recommended_max_memory"):
        mem = torch.mps.recommended_max_memory() / 1024**3
    return DeviceInfo(kind=DeviceClass.MPS, torch_device="mps", name="Apple Silicon (MPS)", memory_gb=mem,
                      bf16=major >= 14)


def _cpu_info() -> DeviceInfo:
    return DeviceInfo(kind=DeviceClass.CPU, torch_device="cpu", name=platform.processor() or "CPU",
                      bf16=False, warnings=(CPU_WARNING,))


def detect(preferred: str | None = None) -> DeviceInfo:
    """The device to run on. ``preferred`` (or ``STUDIO_DEVICE``) forces one; asking for a device
    that is not here is an error rather than a silent CPU run."""
    choice = (preferred or settings.DEVICE.get() or "").strip().lower()
    # Probing CUDA/MPS is slow, so answers are remembered, per setting they depend on.
    return _detect(choice, on_zerogpu())


def forget() -> None:
    """Probe again on the next :func:`detect` (after a GPU appears or a driver reloads; tests)."""
    _detect.cache_clear()


@lru_cache(maxsize=8)
def _detect(choice: str, zerogpu: bool) -> DeviceInfo:
    if zerogpu and choice in ("", "cuda"):
        return DeviceInfo(kind=DeviceClass.ZEROGPU, torch_device="cuda", name="ZeroGPU (H200 slice)",
                          memory_gb=ZEROGPU_MEMORY_GB)
    import torch

    if choice.startswith("cuda"):
        if not torch.cuda.is_available():
            raise StudioError(f"STUDIO_DEVICE={choice} but no CUDA GPU is visible; unset it or use 'cpu'.")
        index = int(choice.split(":")[1]) if ":" in choice else 0
        return _cuda_info(index)
    if choice == "mps":
        if not torch.backends.mps.is_available():
            raise StudioError("STUDIO_DEVICE=mps but MPS is not available; unset it or use 'cpu'.")
        return _mps_info()
    if choice == "cpu":
        return _cpu_info()
    if choice:
        raise StudioError(f"STUDIO_DEVICE must be cuda, cuda:N, mps or cpu, got {choice!r}.")
    if torch.cuda.is_available():
        return _cuda_info(0)
    if torch.backends.mps.is_available():
        return _mps_info()
    return _cpu_info()


def memory_budget(info: DeviceInfo, kind: DeviceClass) -> tuple[float | None, str]:
    """Accelerator memory a request priced for ``kind`` may use, and how to name it in a sentence.

    A ZeroGPU tier gets a slice's memory wherever it is asked; the local device its own total
    (weights of other loaded backends are evicted to make room, see registry.BackendCache); a CPU
    or an unknown device None: host memory is not budgeted."""
    if kind is DeviceClass.ZEROGPU:
        return ZEROGPU_MEMORY_GB, "a ZeroGPU slice has"
    if kind is info.kind and kind is not DeviceClass.CPU and info.memory_gb:
        return info.memory_gb, f"this {info.name} has"
    return None, ""


def as_device_info(device: DeviceInfo | str | None) -> DeviceInfo:
    """Loaders accept a DeviceInfo (from the registry) or a device name (from tests and scripts)."""
    if isinstance(device, DeviceInfo):
        return device
    return detect(device)


def torch_dtype(name: str):  # -> torch.dtype, kept untyped so this module imports without torch
    import torch

    return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[name]
