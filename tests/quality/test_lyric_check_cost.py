"""The lyric check's Whisper stage: priced from seeds with their source, calibrated by the takes it
hears, fetched before the GPU, run on the CPU after a ZeroGPU window, and on by default only where it
runs on this process's own accelerator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio import devices, rendering
from studio.cli import main
from studio.ground.errors import StudioError
from studio.ground.vocabulary import DeviceClass
from studio.quality import asr, asr_cost, finish
from studio.request import pricing
from studio.song import SongRequest
from tests.quality.tiny_whisper import build


@pytest.fixture(scope="module")
def tiny_whisper(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("whisper") / "whisper-tiny-random")


def test_the_check_is_priced_from_seeds_that_name_their_source(monkeypatch) -> None:
    from studio.budget.estimate import estimate

    monkeypatch.setenv("STUDIO_DEVICE", "cpu")
    priced = estimate(asr_cost.LYRIC_CHECKER, asr_cost.plan_input(60.0), DeviceClass.CPU)
    assert priced.sources["transcribe"].startswith("seed: faster-whisper#1030")
    per_second = 39 / 780 * 1.5 * 40  # the CUDA figure x1.5 for word timestamps, x40 on a CPU
    assert priced.stages["transcribe"] == pytest.approx(0.5 + 60 * per_second)
    # Loading counts once for a call, hearing once per take; a loaded Whisper is not loaded again.
    two = asr_cost.estimate_s(60.0, takes=2)
    assert two == pytest.approx(3.0 + 2 * (0.5 + 60 * per_second))
    assert asr_cost.estimate_s(60.0, takes=2, loaded=True) == pytest.approx(two - 3.0)


def test_the_estimate_beside_generate_adds_the_check_only_when_it_runs(monkeypatch) -> None:
    from studio.ui.seams import estimate_line

    monkeypatch.setenv("STUDIO_DEVICE", "cpu")
    song = SongRequest(style="pop", lyrics="[Verse]\nneon lights", duration=30, takes=2, options={"steps": 1})
    monkeypatch.setenv(finish.LYRIC_CHECK_ENV, "off")
    assert "check the lyrics" not in estimate_line(song)
    monkeypatch.setenv(finish.LYRIC_CHECK_ENV, "on")
    line = estimate_line(song)
    expected = asr_cost.estimate_s(30.0, 2)
    from studio.ui.seams import clock

    assert f"then about {clock(expected)} to check the lyrics" in line, line
    assert "check the lyrics" not in estimate_line(song.model_copy(update={"instrumental": True, "lyrics": ""}))


def test_generating_with_the_check_on_calibrates_its_price(tiny_acestep_dir, tiny_whisper, tmp_path, capsys,
                                                           monkeypatch) -> None:
    """The tiny random Whisper, loaded through the real path, hears two takes; its measured times
    replace the seed for the next estimate on this device."""
    monkeypatch.setenv("STUDIO_DEVICE", "cpu")
    monkeypatch.setenv(finish.LYRIC_CHECK_ENV, "on")
    monkeypatch.setenv("STUDIO_ASR_MODEL", str(tiny_whisper))
    before = pricing.calibration().samples(devices.detect().name, "whisper", "transcribe")
    assert main(["generate", "--weights", str(tiny_acestep_dir), "--style", "synth pop", "--duration", "10",
                 "--lyrics", "[Verse]\nNeon rain", "--takes", "2", "--seed", "3", "--steps", "1",
                 "--out", str(tmp_path / "songs"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert all(c["lyrics"] is not None and c["lyrics"]["asr_model"] == str(tiny_whisper) for c in out["checks"])
    samples = pricing.calibration().samples(devices.detect().name, "whisper", "transcribe")
    assert len(samples) == len(before) + 2 and all(s.seconds > 0 for s in samples)
    from studio.budget.estimate import estimate

    priced = estimate(asr_cost.LYRIC_CHECKER, asr_cost.plan_input(10.0), DeviceClass.CPU,
                      pricing.calibration().for_device(devices.detect().name))
    assert "transcribe" in priced.calibrated
    print(f"tiny Whisper heard 10 s in {samples[-1].seconds:.3f} s; the seed said "
          f"{0.5 + 10 * 39 / 780 * 1.5 * 40:.1f} s for the real one on a CPU")


def test_whisper_is_fetched_before_the_gpu_when_the_check_is_on(tiny_acestep_dir, tmp_path, monkeypatch) -> None:
    """``rendering.prefetch`` is what the UI runs before asking ZeroGPU for the window: with the check on,
    Whisper's weights are fetched there (here a folder that is missing, so the fetch says so)."""
    monkeypatch.setenv("STUDIO_ACESTEP_WEIGHTS", str(tiny_acestep_dir))  # the song model's own, no Hub
    missing = tmp_path / "no-whisper"
    monkeypatch.setenv("STUDIO_ASR_MODEL", str(missing))
    song = SongRequest(style="pop", lyrics="[Verse]\nneon lights", duration=30)
    monkeypatch.setenv(finish.LYRIC_CHECK_ENV, "off")
    rendering.prefetch(song)  # off: Whisper is not asked for
    monkeypatch.setenv(finish.LYRIC_CHECK_ENV, "on")
    rendering.prefetch(song.model_copy(update={"instrumental": True, "lyrics": ""}))  # nothing to hear
    with pytest.raises(StudioError, match=r"Whisper \(lyric check\) weights folder .*no-whisper does not exist"):
        rendering.prefetch(song)


def test_on_zerogpu_the_check_is_priced_and_run_on_the_cpu(monkeypatch) -> None:
    """After the window the main process's CUDA is spaces' stand-in (DESIGN.md: the GPU function runs
    in a forked worker), so Whisper is loaded on the CPU there and priced as a CPU run."""
    monkeypatch.delenv("STUDIO_DEVICE", raising=False)
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    assert devices.detect().kind is DeviceClass.ZEROGPU
    assert asr.where().kind is DeviceClass.CPU and asr.where().torch_device == "cpu"


def test_auto_turns_the_check_on_only_on_a_local_accelerator_with_reachable_weights(tmp_path, monkeypatch) -> None:
    from huggingface_hub import constants

    monkeypatch.delenv(finish.LYRIC_CHECK_ENV, raising=False)
    monkeypatch.setenv("STUDIO_DEVICE", "cpu")
    assert finish.lyric_check_setting() == "auto" and finish.lyric_check_on() is False  # minutes per take on a CPU
    gpu = devices.DeviceInfo(kind=DeviceClass.CUDA, torch_device="cuda", name="a CUDA card", memory_gb=24.0)
    monkeypatch.setattr(asr, "where", lambda: gpu)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    assert finish.lyric_check_on() is True
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert finish.lyric_check_on() is False  # the Hub cannot be reached: nothing to fetch Whisper from
    monkeypatch.setenv("STUDIO_ASR_MODEL", str(tmp_path))
    assert finish.lyric_check_on() is True  # a folder needs no fetch
    monkeypatch.setenv(finish.LYRIC_CHECK_ENV, "off")
    assert finish.lyric_check_on() is False
    monkeypatch.setenv(finish.LYRIC_CHECK_ENV, "sometimes")
    with pytest.raises(StudioError, match="STUDIO_LYRIC_CHECK must be on, off or auto, got 'sometimes'"):
        finish.lyric_check_on()


def test_an_automatic_check_that_cannot_load_whisper_keeps_the_song_and_says_so(tmp_path, monkeypatch) -> None:
    """On by auto, a Whisper folder that is not a Whisper (transformers cannot read it) is a warning on
    the result, not a lost song; turned on by hand, it is the error."""
    import numpy as np
    import soundfile as sf

    from studio.song import SongResult, TakeResult

    broken = tmp_path / "not-whisper"
    broken.mkdir()
    monkeypatch.delenv(finish.LYRIC_CHECK_ENV, raising=False)
    monkeypatch.setenv("STUDIO_ASR_MODEL", str(broken))
    # As ``auto`` decides on a CUDA machine with the Hub reachable (the test above); the model itself is
    # loaded on this CPU.
    monkeypatch.setattr(finish, "lyric_check_on", lambda: True)
    monkeypatch.setenv("STUDIO_DEVICE", "cpu")
    take = tmp_path / "take.wav"
    sf.write(take, np.zeros((48_000 * 2, 2), dtype=np.float32) + 0.1, 48_000)
    request = SongRequest(style="pop", lyrics="[Verse]\nneon lights", duration=10)
    result = SongResult(backend="acestep", weights="tiny", device="cpu", dtype="float32", sample_rate=48_000,
                        duration=2.0, elapsed_s=1.0, lyrics_sent=request.lyrics, style_sent="pop",
                        takes=[TakeResult(seed=1, path=take, sample_rate=48_000, channels=2, duration=2.0,
                                          files={"wav": take})])
    checked = finish.check_result(request, result)
    assert checked.takes[0].checks is not None and checked.takes[0].checks.lyrics is None
    assert any(w.startswith("lyrics not checked:") for w in checked.warnings), checked.warnings
    monkeypatch.setenv(finish.LYRIC_CHECK_ENV, "on")
    with pytest.raises(StudioError, match="not-whisper is not a Whisper checkpoint transformers can load"):
        finish.check_result(request, result)
