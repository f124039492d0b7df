"""Device detection, overrides and dtype choice (no accelerator needed)."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from backends.base import DeviceClass, StudioError
from studio import devices
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


def test_pre_ampere_gpus_get_fp16_instead_of_bf16() -> None:
    old = devices.DeviceInfo(kind=DeviceClass.CUDA, torch_device="cuda", name="T4", bf16=False)
    new = devices.DeviceInfo(kind=DeviceClass.CUDA, torch_device="cuda", name="A100", bf16=True)
    assert old.dtype_name(TABLE) == "float16" and new.dtype_name(TABLE) == "bfloat16"


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
