"""On ZeroGPU the split runs in a forked worker: what it loads and measures there is lost with it, so
everything the card and the calibration need must come back as its return value.

``spaces.GPU`` is replaced by a stand-in that, like spaces, asks the duration callable with the
function's own arguments and runs the function in a forked process, results pickled back."""

from __future__ import annotations

import os
import pickle
import sys
import types

import pytest

from backends.base import CostModel
from studio import devices
from studio.budget.zerogpu import gpu_task
from studio.ground.vocabulary import DeviceClass
from studio.request import pricing
from studio.separation import flow
from tests.separation.tiny import make_song


class ForkingSpaces:
    def __init__(self) -> None:
        self.durations: list[int] = []

    def GPU(self, task=None, *, duration=None, size=None):
        def wrap(fn):
            def handler(*args, **kwargs):
                self.durations.append(duration(*args, **kwargs))
                read, write = os.pipe()
                pid = os.fork()
                if pid == 0:  # the worker: run, send the result, vanish with everything it holds
                    os.close(read)
                    try:
                        payload = pickle.dumps(("ok", fn(*args, **kwargs)))
                    except BaseException as exc:  # sent to the parent
                        payload = pickle.dumps(("error", repr(exc)))
                    with os.fdopen(write, "wb") as out:
                        out.write(payload)
                    os._exit(0)
                os.close(write)
                with os.fdopen(read, "rb") as stream:
                    kind, value = pickle.loads(stream.read())
                os.waitpid(pid, 0)
                if kind == "error":
                    raise RuntimeError(value)
                return value

            return handler

        return wrap if task is None else wrap(task)


@pytest.fixture
def zerogpu(monkeypatch, tiny_demucs):
    import torch

    torch.set_num_threads(1)  # an OpenMP pool from the parent does not survive fork()
    fake = ForkingSpaces()
    module = types.ModuleType("spaces")
    module.GPU = fake.GPU
    monkeypatch.setitem(sys.modules, "spaces", module)
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    monkeypatch.setenv("STUDIO_ZEROGPU_SLICE_FACTOR", "1")
    monkeypatch.delenv("STUDIO_TIER", raising=False)
    # What importing the flow does on a Space: the separation wrapped by spaces.GPU with its budget.
    monkeypatch.setattr(flow, "separate_on_gpu", gpu_task(plan=flow._reserve)(flow.separate_on_gpu.__wrapped__))
    # The stand-in worker runs on this shared 2-core CPU, not a ZeroGPU slice: price it as ten times
    # the CPU seed so the deadline (which is real) does not stop it.
    cpu = flow.SEPARATOR.cost[DeviceClass.CPU].stages
    slow = CostModel(stages={
        k: v.model_copy(update={"fixed": v.fixed * 10, "per_audio_second": v.per_audio_second * 10})
        for k, v in cpu.items()
    })
    cost = {**flow.SEPARATOR.cost, DeviceClass.ZEROGPU: slow}
    monkeypatch.setattr(flow, "SEPARATOR", flow.SEPARATOR.model_copy(update={"cost": cost}))
    flow._LOADED.clear()
    return fake


def test_a_forked_split_brings_back_what_the_card_and_the_calibration_need(zerogpu, tmp_path) -> None:
    song = make_song(tmp_path / "fork.wav", seconds=1.5)
    expected = flow.reservation(1.5)
    result = flow.split_song(song, out=tmp_path / "out", stems=2)
    assert zerogpu.durations == [expected.declared_s] and expected.zerogpu
    assert flow._LOADED == {}  # the model was loaded in the worker only
    card = result.card.read_text()
    assert '"0a1b2c3d"' in card and '"device": "cpu"' in card
    samples = pricing.calibration().samples(devices.detect().name, "demucs", "separate")
    assert len(samples) == 1 and samples[0].seconds > 0
