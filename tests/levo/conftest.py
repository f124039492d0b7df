"""The LeVo 2 fixture arranged like the official downloads (built once per test session)."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def levo_fx(fixtures_dir: Path) -> Path:
    path = fixtures_dir / "levo2"
    if not path.is_dir():
        pytest.skip("levo2 fixture missing")
    return path


@pytest.fixture(scope="session")
def levo_runtime(levo_fx: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder laid out like `lglg666/SongGeneration-Runtime`: ckpt/… and third_party/Qwen2-7B."""
    root = tmp_path_factory.mktemp("levo_runtime")
    with tarfile.open(levo_fx / "third_party" / "Qwen2-7B_tokenizer.tar.xz") as tar:
        tar.extractall(root / "third_party", filter="data")
    sep = root / "ckpt" / "model_septoken"
    sep.mkdir(parents=True)
    for name in ("model_2.safetensors", "dims.json"):
        shutil.copy(levo_fx / "decoder" / "ckpt" / "model_septoken" / name, sep / name)
    vae = root / "ckpt" / "vae"
    vae.mkdir(parents=True)
    src = levo_fx / "decoder" / "ckpt" / "vae"
    shutil.copy(src / "stable_audio_1920_vae.json", vae / "stable_audio_1920_vae.json")
    shutil.copy(src / "autoencoder_music_tiny.ckpt", vae / "autoencoder_music_1320k.ckpt")
    return root
