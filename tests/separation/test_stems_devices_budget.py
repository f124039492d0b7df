"""Where the separator may run (the MPS conv limit, reproduced) and how the budget guard prices it."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from studio import devices
from studio.ground.errors import StudioError
from studio.ground.vocabulary import DeviceClass
from studio.request import pricing
from studio.separation import flow, loader, run
from studio.separation.catalog import HTDEMUCS, stem_set
from tests.separation.tiny import FOUR, tiny_htdemucs


def _mps_like_convs(monkeypatch: pytest.MonkeyPatch) -> None:
    """conv1d / conv_transpose1d that fail the way MPS does on an output longer than 65 536 samples
    (DESIGN.md, "Real checkpoints and devices"), so the limit can be met on a CPU."""
    import torch.nn.functional as F

    for name in ("conv1d", "conv_transpose1d"):
        real = getattr(F, name)

        def limited(*args, _real=real, **kwargs):
            out = _real(*args, **kwargs)
            if out.shape[-1] > run.MPS_CONV1D_MAX_OUTPUT:
                raise RuntimeError("Output channels > 65536 not supported at the MPS device.")
            return out

        monkeypatch.setattr(F, name, limited)


def _separator(model) -> loader.LoadedSeparator:
    return loader.LoadedSeparator(
        model=model, weights=HTDEMUCS, location="test", folder=Path("."), signatures=("x",), sources=FOUR,
        samplerate=int(model.samplerate), segment_s=float(model.segment),
    )


def test_chunks_under_the_mps_conv_limit_run_and_longer_ones_go_to_the_cpu(monkeypatch) -> None:
    _mps_like_convs(monkeypatch)
    audio = (0.1 * np.random.default_rng(0).standard_normal((2, 66_150))).astype(np.float32)
    short = _separator(tiny_htdemucs(segment=Fraction(1)))  # 44 100-sample chunks
    assert run.device_for(DeviceClass.MPS, "mps", short) == ("mps", None)
    stems = run.separate(short, audio, 44_100, stem_set(4))  # every conv stays under the limit
    assert all(a.shape == audio.shape for a in stems.values())

    long = _separator(tiny_htdemucs(segment=Fraction(2)))  # 88 200-sample chunks: MPS would refuse
    with pytest.raises(RuntimeError, match="65536"):
        run.separate(long, audio, 44_100, stem_set(4))
    where, why = run.device_for(DeviceClass.MPS, "mps", long)
    assert where == "cpu" and "88,200 samples" in why and "MPS refuses" in why
    assert run.device_for(DeviceClass.CUDA, "cuda", long) == ("cuda", None)


def test_the_published_htdemucs_runs_on_the_cpu_of_a_mac() -> None:
    """The real model, built on the meta device from its published settings: demucs' grids/mmi.py
    (dconv_mode 3, depth 4, t_layers 5) and its 7.8 s training segment (sevagh/demucs.cpp issue #2:
    'the demucs segment length of 7.8 seconds'), which every chunk is padded to."""
    from demucs.htdemucs import HTDemucs

    with torch.device("meta"):
        model = HTDemucs(sources=list(FOUR), dconv_mode=3, depth=4, t_layers=5, segment=Fraction(39, 5))
    where, why = run.device_for(DeviceClass.MPS, "mps", _separator(model))
    assert where == "cpu" and "343,980 samples" in why


def test_a_split_is_priced_from_seeds_with_their_source_and_refused_over_the_limit(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("STUDIO_DEVICE", "cpu")
    held = flow.reservation(120.0)
    assert list(held.estimate.stages) == ["load", "separate"]
    assert held.estimate.sources["separate"].startswith("seed: demucs issue #426")
    assert held.estimate.stages["separate"] == pytest.approx(0.5 + 3.0 * 120)
    monkeypatch.setenv("STUDIO_TIME_LIMIT", "60")
    with pytest.raises(StudioError, match=r"splitting 120 s of audio into stems needs about \d+ s of GPU time"):
        flow.reservation(120.0)


def test_measured_times_calibrate_the_next_estimate(tiny_demucs, monkeypatch, tmp_path) -> None:
    from tests.separation.tiny import make_song

    def measured(folder, count, audio, rate, progress=None, **_):
        stems = {k: audio / 4 for k in ("vocals", "drums", "bass", "other")}
        return stems, {"load": 0.2, "separate": 0.9}, {"device": "cpu", "notes": [], "signatures": ("fake",)}

    monkeypatch.setattr(flow, "separate_on_gpu", measured)
    song = make_song(tmp_path / "s.wav", seconds=2.0)
    before = flow.reservation(2.0).estimate
    assert "separate" not in before.calibrated
    flow.split_song(song, out=tmp_path / "out")
    samples = pricing.calibration().samples(devices.detect().name, "demucs", "separate")
    assert [s.seconds for s in samples] == [0.9]
    after = flow.reservation(2.0).estimate
    assert "separate" in after.calibrated and after.stages["separate"] < before.stages["separate"]


def test_a_device_asked_for_is_the_one_priced(monkeypatch) -> None:
    """`--device cpu` on a CUDA machine must be priced as a CPU run (the seed there is 20x the GPU's)."""
    monkeypatch.delenv("STUDIO_DEVICE", raising=False)
    cuda = devices.DeviceInfo(kind=DeviceClass.CUDA, torch_device="cuda", name="Test GPU")
    real = devices._detect

    def detect(choice: str, zerogpu: bool):
        return cuda if choice == "" else real(choice, zerogpu)

    monkeypatch.setattr(devices, "_detect", detect)
    on_gpu = flow.reservation(60.0).estimate
    on_cpu = flow.reservation(60.0, device="cpu").estimate
    assert on_gpu.device is DeviceClass.CUDA and on_cpu.device is DeviceClass.CPU
    assert on_cpu.stages["separate"] == pytest.approx(0.5 + 3.0 * 60)
