"""Device detection, overrides and dtype choice (no accelerator needed)."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from studio import devices
from studio.ground.errors import StudioError
from studio.ground.vocabulary import DeviceClass
from tests.conftest import REPO

TABLE = {DeviceClass.CUDA: "bfloat16", DeviceClass.MPS: "bfloat16", DeviceClass.CPU: "float32"}


@pytest.fixture(autouse=True)
def _fresh_detect():
    devices.forget()
    yield
    devices.forget()


def test_cpu_override_warns_that_it_is_slow(monkeypatch) -> None:
    monkeypatch.setenv("STUDIO_DEVICE", "cpu")
    info = devices.detect()
    assert info.kind is DeviceClass.CPU and info.torch_device == "cpu"
    assert info.dtype_name(TABLE) == "float32"
    assert any("CPU" in w for w in info.warnings)


def test_asking_for_a_missing_device_is_an_error(monkeypatch) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(StudioError, match="no CUDA GPU is visible"):
        devices.detect("cuda")
    with pytest.raises(StudioError, match="must be cuda, cuda:N, mps or cpu"):
        devices.detect("tpu")


def test_zerogpu_is_recognised_without_touching_cuda(monkeypatch) -> None:
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    info = devices.detect()
    assert info.kind is DeviceClass.ZEROGPU and info.torch_device == "cuda"


def fake_device(monkeypatch, device: str, version: tuple[int, int] | str | None) -> None:
    """Make detection see a CUDA card of compute capability ``version``, or MPS on macOS ``version``."""
    import platform
    from types import SimpleNamespace

    import torch

    cuda = device == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: device == "mps")
    if cuda:
        major, minor = version
        props = SimpleNamespace(name=f"sm_{major}{minor}", total_memory=16 * 2**30, major=major, minor=minor)
        monkeypatch.setattr(torch.cuda, "get_device_properties", lambda index=0: props)
    if device == "mps":
        monkeypatch.setattr(platform, "mac_ver", lambda: (version, ("", "", ""), "arm64"))
        monkeypatch.setattr(torch.mps, "recommended_max_memory", lambda: 24 * 2**30, raising=False)


# (device, compute capability or macOS release) -> dtype of ACE-Step's DiT, its planner, LeVo 2, HeartMuLa's LM.
# Sources: ACE-Step 1.5 issues #1243/#1274 (fp16 NaN on Turing -> float32) and acestep/llm_inference.py (LM in
# bf16 on CUDA, float32 elsewhere); SongGeneration runs in fp16 on GPUs; heartlib only knows bf16 for its LM.
DTYPE_TABLE = [
    ("cuda", (6, 1), ("float32", "float32", "float16", "float32")),  # Pascal (GTX 10xx, P100)
    ("cuda", (7, 0), ("float32", "float32", "float16", "float32")),  # V100
    ("cuda", (7, 5), ("float32", "float32", "float16", "float32")),  # T4, RTX 20xx
    ("cuda", (8, 0), ("bfloat16", "bfloat16", "bfloat16", "bfloat16")),  # A100
    ("cuda", (8, 9), ("bfloat16", "bfloat16", "bfloat16", "bfloat16")),  # L4, RTX 40xx
    ("cuda", (9, 0), ("bfloat16", "bfloat16", "bfloat16", "bfloat16")),  # H100
    ("mps", "13.6.1", ("float32", "float32", "float16", "float32")),
    ("mps", "14.0", ("bfloat16", "float32", "float16", "bfloat16")),
    ("mps", "15.2", ("bfloat16", "float32", "float16", "bfloat16")),
    ("cpu", None, ("float32", "float32", "float32", "float32")),
]


@pytest.mark.parametrize(("device", "version", "expected"), DTYPE_TABLE,
                         ids=[f"{d}-{v}" for d, v, _ in DTYPE_TABLE])
def test_each_backend_picks_its_own_dtype_where_bf16_is_missing(monkeypatch, device, version, expected) -> None:
    from backends.acestep.planner.model import default_dtype
    from backends.heartmula.declaration import LM_DTYPE, LM_DTYPE_WITHOUT_BF16
    from studio import registry

    fake_device(monkeypatch, device, version)
    info = devices.detect()
    assert info.kind.value == device
    acestep, levo = (registry.get_spec(n).capabilities for n in ("acestep", "levo2"))
    got = (
        info.dtype_name(acestep.dtype_per_device, acestep.dtype_without_bf16),
        str(default_dtype(info.torch_device)).removeprefix("torch."),  # what the planner loads with
        info.dtype_name(levo.dtype_per_device, levo.dtype_without_bf16),
        info.dtype_name(LM_DTYPE, LM_DTYPE_WITHOUT_BF16),
    )
    assert got == expected


def test_zerogpu_is_always_bf16(monkeypatch) -> None:
    from studio import registry

    monkeypatch.setenv("SPACES_ZERO_GPU", "1")
    info = devices.detect()
    for spec in registry.all_specs():
        caps = spec.capabilities
        assert info.dtype_name(caps.dtype_per_device, caps.dtype_without_bf16) == "bfloat16"


def test_a_backend_without_a_declared_fallback_gets_float32_not_fp16() -> None:
    old = devices.DeviceInfo(kind=DeviceClass.CUDA, torch_device="cuda", name="T4", bf16=False)
    new = devices.DeviceInfo(kind=DeviceClass.CUDA, torch_device="cuda", name="A100", bf16=True)
    assert old.dtype_name(TABLE) == "float32" and new.dtype_name(TABLE) == "bfloat16"


def test_acestep_loads_in_float32_on_a_card_without_bf16(tiny_acestep_dir) -> None:
    """Through the real load path: a pre-Ampere card (simulated on the CPU) gets the DiT in float32."""
    import torch

    from backends.acestep.backend import AceStepBackend

    t4 = devices.DeviceInfo(kind=DeviceClass.CUDA, torch_device="cpu", name="Tesla T4", bf16=False)
    backend = AceStepBackend.load(str(tiny_acestep_dir), device=t4)
    try:
        assert backend.dtype == "float32" and backend.pipe.transformer.dtype == torch.float32
    finally:
        backend.unload()


def test_app_imports_spaces_before_torch() -> None:
    tree = ast.parse((REPO / "app.py").read_text())
    first = next(n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom)))
    assert isinstance(first, ast.Import) and first.names[0].name == "studio.gpu"
    code = "import sys, studio.gpu; print('spaces' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.split() == ["True", "False"]


def test_detect_follows_the_zerogpu_setting_instead_of_a_stale_answer(monkeypatch) -> None:
    """A remembered answer must not outlive the setting it came from (it once leaked ZeroGPU timings
    into a CPU calibration between tests)."""
    monkeypatch.delenv("STUDIO_DEVICE", raising=False)
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    assert devices.detect().kind is DeviceClass.ZEROGPU
    monkeypatch.delenv("SPACES_ZERO_GPU")
    assert devices.detect().kind is not DeviceClass.ZEROGPU
