"""HeartMuLa passes the contract every backend passes (tiny upstream-made fixture weights)."""

from __future__ import annotations

import pytest

from tests.contract import BackendContract


@pytest.fixture(scope="module")
def heart_backend(hm_dir):
    from backends.heartmula.spec import SPEC

    return SPEC.load(weights=str(hm_dir / "ckpt"), device="cpu")


class TestHeartMuLaContract(BackendContract):
    lyrics = "[Verse]\nhello there\n\n[Chorus]\nsing along"
    style = "pop,piano,happy"
    exact_length = False

    @pytest.fixture
    def backend(self, heart_backend):
        return heart_backend

    @pytest.fixture
    def duration(self) -> float:
        return 10.0
