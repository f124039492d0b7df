"""ACE-Step on a tiny random checkpoint in the real diffusers layout."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from backends.acestep.backend import INSTRUMENTAL_LYRICS, AceStepBackend
from backends.acestep.declaration import AceStepOptions
from backends.acestep.spec import SPEC
from backends.base import RenderJob
from studio.devices import detect
from studio.ground.errors import StudioError
from tests.contract import BackendContract


class TestAceStepContract(BackendContract):
    lyrics = "[Verse]\nNeon rivers in the rain\n\n[Chorus]\nWe are the light"

    @pytest.fixture
    def backend(self, tiny_acestep):
        return tiny_acestep

    @pytest.fixture
    def duration(self) -> float:
        return 10.3  # not a whole number of latent frames: checks the trim


def test_loads_real_layout_with_declared_dtype(tiny_acestep, tiny_acestep_dir) -> None:
    assert tiny_acestep.weights == str(tiny_acestep_dir)
    assert tiny_acestep.dtype == SPEC.capabilities.dtype_per_device[detect("cpu").kind] == "float32"
    assert tiny_acestep.pipe.transformer.dtype == torch.float32
    assert tiny_acestep.sample_rate == 48_000


def test_matches_bare_pipeline_call(tiny_acestep) -> None:
    """Our render is the pipeline's own output, trimmed: nothing else touches the samples."""
    job = RenderJob(
        style="lofi", lyrics="[Verse]\nhello", instrumental=False, duration_s=10.0, seeds=[5],
        options=AceStepOptions(steps=4), metadata={"bpm": 90, "key": "A minor", "language": "en"},
    )
    ours = tiny_acestep.render(job)[0].audio
    bare = tiny_acestep.pipe(
        prompt=["lofi"], lyrics=["[Verse]\nhello"], audio_duration=10.0, vocal_language="en",
        num_inference_steps=4, shift=3.0, bpm=90, keyscale="A minor",
        generator=[torch.Generator("cpu").manual_seed(5)],
    ).audios[0, :, :480_000].numpy()
    np.testing.assert_array_equal(ours, bare)


def test_instrumental_sends_instrumental_tag(tiny_acestep, monkeypatch) -> None:
    seen = {}
    real = tiny_acestep.pipe.__class__.__call__

    def spy(pipe, *args, **kwargs):
        seen.update(kwargs)
        return real(pipe, *args, **kwargs)

    monkeypatch.setattr(tiny_acestep.pipe.__class__, "__call__", spy)
    job = RenderJob(style="ambient", lyrics="", instrumental=True, duration_s=10.0, seeds=[1],
                    options=AceStepOptions(steps=2))
    tiny_acestep.render(job)
    assert seen["lyrics"] == [INSTRUMENTAL_LYRICS]
    assert seen["vocal_language"] == "unknown"
    assert seen["num_inference_steps"] == 2


def test_missing_folder_says_what_to_do(tmp_path) -> None:
    with pytest.raises(StudioError, match="STUDIO_ACESTEP_WEIGHTS"):
        AceStepBackend.load(str(tmp_path / "nope"), device=detect("cpu"))


def test_folder_without_pipeline_is_explained(tmp_path) -> None:
    with pytest.raises(StudioError, match="not a diffusers ACE-Step folder"):
        AceStepBackend.load(str(tmp_path), device=detect("cpu"))


def test_offline_hub_id_names_both_options(monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HOME", "/nonexistent-hf-home")
    with pytest.raises(StudioError) as info:
        AceStepBackend.load("ACE-Step/definitely-not-downloaded-here", device=detect("cpu"))
    message = str(info.value)
    assert "--weights" in message and "STUDIO_ACESTEP_WEIGHTS" in message


@pytest.mark.gpu
@pytest.mark.real_weights
def test_real_turbo_weights_make_a_song(tmp_path) -> None:
    backend = AceStepBackend.load(None, device=detect())
    job = RenderJob(style="upbeat synth pop", lyrics="[Verse]\nHello world", instrumental=False, duration_s=20.0,
                    seeds=[42], options=AceStepOptions())
    (take,) = backend.render(job)
    assert take.audio.shape == (2, 20 * 48_000)
    assert np.abs(take.audio).max() > 0.1


def test_a_cpu_renders_takes_one_by_one_and_each_is_the_take_made_alone(tiny_acestep, monkeypatch) -> None:
    """Issue 18: 4 takes of 600 s in one batch needed ~20 GB of host memory on a CPU; one at a time, the
    peak is one take's. Each take is then exactly what rendering its seed alone gives."""
    batches: list[int] = []
    real = tiny_acestep.pipe.__class__.__call__

    def spy(pipe, *args, **kwargs):
        batches.append(len(kwargs["prompt"]))
        return real(pipe, *args, **kwargs)

    monkeypatch.setattr(tiny_acestep.pipe.__class__, "__call__", spy)

    def job(seeds: list[int]) -> RenderJob:
        return RenderJob(style="lofi", lyrics="[Verse]\nhello", instrumental=False, duration_s=10.0, seeds=seeds,
                         options=AceStepOptions(steps=2))

    takes = tiny_acestep.render(job([5, 6, 7]))
    assert batches == [1, 1, 1] and [t.seed for t in takes] == [5, 6, 7]
    alone = tiny_acestep.render(job([6]))[0].audio
    np.testing.assert_array_equal(takes[1].audio, alone)
    batches.clear()
    monkeypatch.setattr(tiny_acestep, "device", "meta")  # any accelerator: its memory is priced for the batch
    tiny_acestep.render(job([5, 6, 7]))
    assert batches == [3]
