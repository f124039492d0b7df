"""LeVo 2 passes the contract every backend passes (tiny upstream-made fixture weights)."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import pytest

from tests.contract import BackendContract


@pytest.fixture(scope="module")
def levo_backend(fixtures_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    from backends.levo.spec import SPEC

    fx = fixtures_dir / "levo2"
    if not fx.is_dir():
        pytest.skip("levo2 fixture missing")
    root = tmp_path_factory.mktemp("levo_runtime")  # laid out like the official runtime repo
    with tarfile.open(fx / "third_party" / "Qwen2-7B_tokenizer.tar.xz") as tar:
        tar.extractall(root / "third_party", filter="data")
    for sub, names in (("model_septoken", ("model_2.safetensors", "dims.json")),):
        (root / "ckpt" / sub).mkdir(parents=True)
        for name in names:
            shutil.copy(fx / "decoder" / "ckpt" / sub / name, root / "ckpt" / sub / name)
    (root / "ckpt" / "vae").mkdir(parents=True)
    vae = fx / "decoder" / "ckpt" / "vae"
    shutil.copy(vae / "stable_audio_1920_vae.json", root / "ckpt" / "vae" / "stable_audio_1920_vae.json")
    shutil.copy(vae / "autoencoder_music_tiny.ckpt", root / "ckpt" / "vae" / "autoencoder_music_1320k.ckpt")
    return SPEC.loader(str(fx / "lelm_tiny"), runtime=str(root), device="cpu")


class TestLevoContract(BackendContract):
    lyrics = "[verse] hello there. ; [chorus] sing along"
    exact_length = False

    @pytest.fixture
    def backend(self, levo_backend):
        return levo_backend

    @pytest.fixture
    def duration(self) -> float:
        return 1.0
