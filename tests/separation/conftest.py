"""Tiny random Demucs weights in the published layout, pointed at through the studio's env vars."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.separation.tiny import SIX, save_published_layout, tiny_htdemucs


@pytest.fixture(scope="session")
def tiny_demucs_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("demucs")
    return {
        "htdemucs": save_published_layout(tiny_htdemucs(), root / "HTDemucs"),
        "htdemucs_6s": save_published_layout(tiny_htdemucs(SIX, seed=1), root / "HTDemucs-6s", name="htdemucs_6s",
                                             sig="5e6f7a8b"),
    }


@pytest.fixture
def tiny_demucs(tiny_demucs_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    monkeypatch.setenv("STUDIO_STEMS_WEIGHTS", str(tiny_demucs_dirs["htdemucs"]))
    monkeypatch.setenv("STUDIO_STEMS6_WEIGHTS", str(tiny_demucs_dirs["htdemucs_6s"]))
    monkeypatch.setenv("STUDIO_DEVICE", "cpu")
    return tiny_demucs_dirs
