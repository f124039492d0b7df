"""LeVo 2 passes the contract every backend passes (tiny upstream-made fixture weights)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.contract import BackendContract


@pytest.fixture(scope="module")
def levo_backend(levo_fx: Path, levo_runtime: Path):
    from backends.levo.spec import SPEC

    return SPEC.load(str(levo_fx / "lelm_tiny"), runtime=str(levo_runtime), device="cpu")


class TestLevoContract(BackendContract):
    lyrics = "[verse] hello there. ; [chorus] sing along"
    exact_length = False

    @pytest.fixture
    def backend(self, levo_backend):
        return levo_backend

    @pytest.fixture
    def duration(self) -> float:
        return 1.0
