"""Backends share the accelerator: the least recently used ones are unloaded when the memory budget
says the next would not fit beside them (issue 16.4). Free memory is faked from what is loaded."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from backends.acestep.declaration import CAPABILITIES
from backends.base import Availability, BackendSpec, MemoryModel
from studio import devices, memory, registry
from studio.ground.vocabulary import DeviceClass

GPU = devices.DeviceInfo(kind=DeviceClass.CUDA, torch_device="cuda", name="24 GB GPU", memory_gb=24.0)
WEIGHTS_GB = 9.0


class _Opts(BaseModel):
    pass


class _Loaded:
    def __init__(self, name: str, resident: dict[str, float]) -> None:
        self.name, self.weights, self.resident = name, "w", resident
        resident[name] = WEIGHTS_GB

    def unload(self) -> None:
        self.resident.pop(self.name)


@pytest.fixture
def gpu(monkeypatch) -> dict[str, float]:
    """Three 9 GB backends on a 24 GB GPU whose free-memory reading follows what is loaded."""
    resident: dict[str, float] = {}
    model = MemoryModel(weights_gb=WEIGHTS_GB, working_gb=0.5, decode_gb_per_second=0.0, decode_fixed_gb=0.5)
    specs = {}
    for name in ("one", "two", "three"):
        caps = CAPABILITIES.model_copy(update={"name": name, "display_name": name.title(), "memory": model})
        specs[name] = BackendSpec(
            capabilities=caps, options=_Opts, availability=Availability.yes,
            loader=lambda name=name, **_: _Loaded(name, resident),
        )
    monkeypatch.setattr(registry, "get_spec", specs.__getitem__)
    monkeypatch.setattr(memory, "free_accelerator_gb", lambda device: GPU.memory_gb - sum(resident.values()))
    return resident


def test_the_least_recently_used_backend_makes_room(gpu) -> None:
    cache = registry.BackendCache()
    cache.get("one", device=GPU)
    cache.get("two", device=GPU)  # 15 GB free: it fits beside the first
    assert set(gpu) == {"one", "two"} and cache.evicted == []
    cache.get("one", device=GPU)  # used again: "two" is now the least recent
    messages: list[str] = []
    cache.get("three", device=GPU, on_progress=messages.append)  # 6 GB free < 9.5 GB needed (weights + activations)
    assert set(gpu) == {"one", "three"} and cache.evicted == ["two"]
    assert list(cache.loaded()) == ["one", "three"]
    assert "unloading Two to make room (6.0 GB free, Three needs about 9.5 GB)" in messages[0]


def test_nothing_is_evicted_while_it_fits_or_without_a_reading(gpu, monkeypatch) -> None:
    cache = registry.BackendCache()
    big = GPU.__class__(**{**GPU.__dict__, "memory_gb": 80.0})
    monkeypatch.setattr(memory, "free_accelerator_gb", lambda device: big.memory_gb - sum(gpu.values()))
    for name in ("one", "two", "three"):
        cache.get(name, device=big)
    assert set(gpu) == {"one", "two", "three"} and cache.evicted == []
    monkeypatch.setattr(memory, "free_accelerator_gb", lambda device: None)  # a CPU or Apple's unified memory
    cache.unload("three")
    cache.get("three", device=GPU)
    assert cache.evicted == []


def test_everything_else_goes_when_one_backend_needs_the_whole_gpu(gpu, monkeypatch) -> None:
    cache = registry.BackendCache()
    cache.get("one", device=GPU)
    cache.get("two", device=GPU)
    small = GPU.__class__(**{**GPU.__dict__, "memory_gb": 12.0})
    monkeypatch.setattr(memory, "free_accelerator_gb", lambda device: small.memory_gb - sum(gpu.values()))
    cache.get("three", device=small)
    assert cache.evicted == ["one", "two"] and set(gpu) == {"three"}
