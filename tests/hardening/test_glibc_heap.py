"""The glibc heap settings: applied on glibc, a safe no-op on any other C library."""

from __future__ import annotations

import platform

import pytest

from studio import glibc_heap


@pytest.fixture(autouse=True)
def fresh_detection():
    glibc_heap.glibc.cache_clear()
    yield
    glibc_heap.glibc.cache_clear()


@pytest.mark.parametrize(
    ("system", "libc"), [("Darwin", ("", "")), ("Linux", ("musl", "1.2.4")), ("Windows", ("", ""))]
)
def test_a_no_op_where_the_c_library_is_not_glibc(monkeypatch, system, libc) -> None:
    monkeypatch.setattr(platform, "system", lambda: system)
    monkeypatch.setattr(platform, "libc_ver", lambda *a, **k: libc)

    def no_dlopen(*_a, **_k):
        raise AssertionError("libc.so.6 must not be opened on a non-glibc system")

    monkeypatch.setattr(glibc_heap.ctypes, "CDLL", no_dlopen)
    monkeypatch.delenv(glibc_heap.ARENA_ENV, raising=False)
    assert glibc_heap.glibc() is None
    assert glibc_heap.cap_arenas() is False
    assert glibc_heap.trim() is False


def test_an_unopenable_libc_is_treated_as_absent(monkeypatch) -> None:
    monkeypatch.setattr(platform, "system", lambda: "Linux")
    monkeypatch.setattr(platform, "libc_ver", lambda *a, **k: ("glibc", "2.36"))

    def missing(*_a, **_k):
        raise OSError("libc.so.6: cannot open shared object file")

    monkeypatch.setattr(glibc_heap.ctypes, "CDLL", missing)
    assert glibc_heap.glibc() is None
    assert glibc_heap.cap_arenas() is False and glibc_heap.trim() is False


class FakeLibc:
    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.mallopt = self._record("mallopt", 1)
        self.malloc_trim = self._record("malloc_trim", 1)

    def _record(self, name: str, result: int):
        def call(*args):
            self.calls.append((name, *args))
            return result

        return call


def test_on_glibc_arenas_are_capped_unless_the_environment_already_says(monkeypatch) -> None:
    fake = FakeLibc()
    monkeypatch.setattr(glibc_heap, "glibc", lambda: fake)
    monkeypatch.delenv(glibc_heap.ARENA_ENV, raising=False)
    assert glibc_heap.cap_arenas() is True
    assert fake.calls == [("mallopt", -8, 2)]  # M_ARENA_MAX from <malloc.h>
    monkeypatch.setenv(glibc_heap.ARENA_ENV, "4")  # the operator's choice, read by glibc at start-up
    assert glibc_heap.cap_arenas() is False
    assert glibc_heap.trim() is True
    assert fake.calls[-1] == ("malloc_trim", 0)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="needs glibc")
def test_the_real_glibc_accepts_both_calls() -> None:
    assert glibc_heap.glibc() is not None
    glibc_heap.trim()  # returns 0 or 1 depending on what was free; it must simply not fail
