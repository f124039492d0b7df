"""Loads the tiny upstream-made checkpoint once per session through the real loading path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")


@pytest.fixture(scope="session")
def hm_dir(fixtures_dir: Path) -> Path:
    path = fixtures_dir / "heartmula"
    if not (path / "ckpt").is_dir():
        pytest.skip(f"HeartMuLa fixture not found at {path}")
    return path


@pytest.fixture(scope="session")
def prompt_cases(hm_dir: Path) -> dict:
    return json.loads((hm_dir / "prompts.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def builder(hm_dir: Path):
    from backends.heartmula.prompt import PromptBuilder

    return PromptBuilder.from_files(hm_dir / "ckpt" / "tokenizer.json", hm_dir / "ckpt" / "gen_config.json")


@pytest.fixture(scope="session")
def lm(hm_dir: Path):
    from backends.heartmula.lm import load_lm

    return load_lm(hm_dir / "ckpt" / "HeartMuLa-oss-3B")


@pytest.fixture(scope="session")
def safetensors_file(hm_dir: Path):
    from safetensors.torch import load_file

    def load(name: str) -> dict:
        return load_file(str(hm_dir / name))

    return load


@pytest.fixture(scope="session")
def codec(hm_dir: Path):
    from backends.heartmula.codec.model import load_codec

    return load_codec(hm_dir / "ckpt" / "HeartCodec-oss")
