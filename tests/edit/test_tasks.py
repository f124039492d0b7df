"""Editing tasks end to end on the tiny ACE-Step pipeline, and the checks that run before it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from studio import registry, rendering
from studio.devices import detect
from studio.editing import check_task
from studio.errors import validate
from studio.ground.errors import StudioError
from studio.request import checks, pricing, task_info
from studio.song import SongRequest

RATE = 48_000
SOURCE_S = 10.5  # not a whole number of 40 ms latent frames: checks the padding and the trim


def music(seconds: float = SOURCE_S) -> np.ndarray:
    """A source with content everywhere: two tones and a slow tremolo, [frames, 2]."""
    t = np.arange(round(seconds * RATE)) / RATE
    left = 0.35 * np.sin(2 * np.pi * 220 * t) * (0.8 + 0.2 * np.sin(2 * np.pi * 0.5 * t))
    right = 0.3 * np.sin(2 * np.pi * 330 * t)
    return np.stack([left, right], axis=1).astype(np.float32)


@pytest.fixture(scope="module")
def source_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("src") / "demo.wav"
    sf.write(str(path), music(), RATE, subtype="FLOAT")
    return path


@pytest.fixture(scope="module")
def studio(tiny_acestep_dir):
    studio = rendering.Studio()
    yield studio
    studio.cache.unload("acestep")


@pytest.fixture
def base_weights(tiny_acestep_dir, monkeypatch):
    """The base weights are a second copy of the tiny pipeline, loaded through the same path."""
    monkeypatch.setenv("STUDIO_ACESTEP_BASE_WEIGHTS", str(tiny_acestep_dir))


def edit(source: Path | None = None, **kw) -> SongRequest:
    data = {"style": "warm analog synth", "options": {"steps": 2}, **kw}
    if source is not None:
        data["source_audio"] = str(source)
    return validate(SongRequest, data)


def render(studio, tiny_acestep_dir, request: SongRequest, events: list | None = None):
    progress = (lambda e: events.append(e)) if events is not None else (lambda e: None)
    prepared, takes, _ = studio.render(request, weights=str(tiny_acestep_dir), device=detect("cpu"),
                                       progress=progress)
    return prepared, takes


@pytest.mark.parametrize(
    ("fields", "seconds"),
    [
        ({"task": "cover", "cover_strength": 0.6}, SOURCE_S),
        ({"task": "repaint", "start": 3.0, "end": 6.0}, SOURCE_S),
        ({"task": "extend", "extend_by": 4.25}, SOURCE_S + 4.25),
        ({"task": "extract", "track": "vocals"}, SOURCE_S),
    ],
    ids=["cover", "repaint", "extend", "extract"],
)
def test_each_task_returns_the_right_length(studio, tiny_acestep_dir, source_file, base_weights, fields, seconds):
    prepared, takes = render(studio, tiny_acestep_dir, edit(source_file, **fields))
    assert prepared.job.duration_s == pytest.approx(seconds)
    audio = takes[0].audio
    assert audio.shape == (2, round(seconds * RATE)) and audio.dtype == np.float32
    assert np.isfinite(audio).all() and np.abs(audio).max() <= 1.0


def test_repaint_keeps_the_untouched_region_and_changes_the_range(studio, tiny_acestep_dir, source_file):
    _, takes = render(studio, tiny_acestep_dir, edit(source_file, task="repaint", start=3.0, end=6.0, seed=4))
    out, src = takes[0].audio, music().T
    before, after = slice(0, 3 * RATE), slice(6 * RATE, None)
    np.testing.assert_allclose(out[:, before], src[:, before], atol=1e-6)
    np.testing.assert_allclose(out[:, after], src[:, after], atol=1e-6)
    inside = slice(round(3.2 * RATE), round(5.8 * RATE))  # past the 0.1 s crossfades
    assert np.abs(out[:, inside] - src[:, inside]).mean() > 0.05
    # the new part is brought to the source's level, not the pipeline's -1 dBFS peak
    rms = lambda x: float(np.sqrt(np.mean(x**2)))  # noqa: E731
    assert 0.2 < rms(out[:, inside]) / rms(src[:, inside]) < 5


def test_extend_keeps_the_source_and_blends_the_seam(studio, tiny_acestep_dir, source_file):
    _, takes = render(studio, tiny_acestep_dir, edit(source_file, task="extend", extend_by=3.0, seed=2))
    out, src = takes[0].audio, music().T
    seam = round((SOURCE_S - 0.1) * RATE)  # the crossfade sits in the source's last 0.1 s
    np.testing.assert_allclose(out[:, :seam], src[:, :seam], atol=1e-6)
    tail = out[:, round(SOURCE_S * RATE):]
    assert tail.shape[-1] == 3 * RATE and np.abs(tail).max() > 0.01  # new music, not padding


def test_base_weight_tasks_load_the_base_pipeline_once(studio, tiny_acestep_dir, source_file, base_weights,
                                                      tmp_path):
    if "acestep" in studio.cache.loaded():
        studio.cache.loaded()["acestep"].extra_pipes.clear()  # an earlier test may have loaded it
    events: list = []
    render(studio, tiny_acestep_dir, edit(source_file, task="extract", track="drums"), events)
    backend = studio.cache.loaded()["acestep"]
    assert set(backend.extra_pipes) == {"base"} and backend.extra_pipes["base"] is not backend.pipe
    loads = [e for e in events if e.stage == "load:base"]
    events.clear()
    render(studio, tiny_acestep_dir, edit(source_file, task="extract", track="bass"), events)
    assert loads and not [e for e in events if e.stage == "load:base"]
    # The System view says the base weights are held too (they cost memory until unloaded).
    from studio.library import Library
    from studio.ui.system import report

    assert "ACE-Step 1.5 XL base" in backend.loaded_parts()
    library = Library(tmp_path / "lib")
    try:
        assert "+ ACE-Step 1.5 XL base" in report(studio, library)
    finally:
        library.close()


def test_task_arguments_reach_the_pipeline(studio, tiny_acestep_dir, source_file, base_weights, monkeypatch):
    from diffusers import AceStepPipeline

    seen: dict = {}
    real = AceStepPipeline.__call__

    def spy(pipe, *args, **kwargs):
        seen.update(kwargs)
        return real(pipe, *args, **kwargs)

    monkeypatch.setattr(AceStepPipeline, "__call__", spy)
    render(studio, tiny_acestep_dir, edit(source_file, task="cover", cover_strength=0.3))
    assert seen["task_type"] == "cover" and seen["audio_cover_strength"] == 0.3
    assert seen["src_audio"].shape == (2, 263 * 1920)  # padded up to whole VAE frames
    render(studio, tiny_acestep_dir, edit(source_file, task="extend", extend_by=2.0))
    assert seen["task_type"] == "repaint"
    assert (seen["repainting_start"], seen["repainting_end"]) == pytest.approx((SOURCE_S - 0.1, SOURCE_S + 2.0))
    assert seen["src_audio"].shape[-1] >= (SOURCE_S + 2.0) * RATE
    render(studio, tiny_acestep_dir, edit(source_file, task="complete", track="Drums, Backing Vocals"))
    assert seen["task_type"] == "complete" and seen["complete_track_classes"] == ["drums", "backing_vocals"]
    assert seen["guidance_scale"] == 7.0 and seen["num_inference_steps"] == 2  # base defaults, user's steps
    seen.clear()
    render(studio, tiny_acestep_dir, edit(source_file, task="extract", track="vocals"))
    assert seen["task_type"] == "extract" and seen["track_name"] == "vocals"
    assert "repainting_start" not in seen and "audio_cover_strength" not in seen


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"task": "repaint"}, "the repaint task needs a song to work on; upload one (--src-audio FILE)"),
        ({"task": "repaint", "src": True, "start": 6, "end": 3}, "`end` (3 s) must be after `start` (6 s)"),
        ({"task": "repaint", "src": True, "end": 30}, "is past the end of the source (10.5 s); use the extend task"),
        ({"task": "repaint", "src": True, "start": 12}, "`start` (12 s) is past the end of the source"),
        ({"task": "repaint", "src": True, "start": 3, "end": 3.5}, "is under 1 s; widen it"),
        ({"task": "extend", "src": True}, "the extend task needs `extend_by`"),
        ({"task": "extend", "src": True, "extend_by": 595}, "add at most 590 s"),
        ({"task": "extract", "src": True}, "the extract task needs `track`: which part, e.g. vocals"),
        ({"task": "extract", "src": True, "track": "kazoo"}, "`track` 'kazoo' is not a part ACE-Step"),
        ({"task": "repaint", "src": True, "cover_strength": 0.5}, "`cover_strength` is not used by the repaint task"),
        ({"task": "cover", "src": True, "extend_by": 3}, "`extend_by` is not used by the cover task; remove it"),
        ({"src": True}, "`source_audio` is only used when editing a song"),
        ({"task": "remix"}, "`task` must be one of text2music, cover, repaint"),
    ],
)
def test_bad_edit_requests_get_one_actionable_sentence(source_file, fields, message):
    fields = dict(fields)
    source = source_file if fields.pop("src", False) else None
    with pytest.raises(StudioError) as info:
        checks.check_request(edit(source, **fields))
    assert message in str(info.value)


def test_a_short_source_is_refused_with_the_minimum(tmp_path):
    path = tmp_path / "short.wav"
    sf.write(str(path), music(4.0), RATE)
    with pytest.raises(StudioError, match=r"the source is 4.0 s; .* at least 10 s, so upload a longer excerpt"):
        checks.check_request(edit(path, task="cover"))
    # ... but extending it past the minimum is fine
    assert checks.check_request(edit(path, task="extend", extend_by=8)).job.duration_s == pytest.approx(12.0)


def test_a_task_the_backend_lacks_names_one_that_has_it(source_file, monkeypatch):
    monkeypatch.setattr(registry, "require_available", lambda spec: None)  # LeVo needs no weights to refuse
    with pytest.raises(StudioError, match=r"LeVo 2.* cannot do the repaint task; pick ACE-Step 1\.5 XL turbo"):
        checks.check_request(edit(source_file, task="repaint", backend="levo2", options={}))
    caps = registry.get_spec("heartmula").capabilities
    with pytest.raises(StudioError, match="pick another backend"):
        check_task(edit(source_file, task="repaint"), caps)


def test_prepare_fills_the_job_and_warns(source_file):
    asked = edit(source_file, task="repaint", start=2, duration=99, options={"planner": "1.7B"})
    prepared = checks.check_request(asked)
    job = prepared.job
    assert job.source_audio.shape == (2, round(SOURCE_S * RATE)) and job.duration_s == pytest.approx(SOURCE_S)
    assert dict(job.metadata) | {"source_seconds": 0} == {
        "task": "repaint", "start": 2.0, "end": pytest.approx(SOURCE_S), "source_seconds": 0,
        "source_name": "demo.wav",
    }
    assert job.options.planner == "off"
    text = " ".join(prepared.warnings)
    assert "`duration` was ignored" in text and "planner was turned off" in text
    assert "repainted part is instrumental" in text


def test_budget_prices_encoding_base_weights_and_guidance(source_file, base_weights):
    repaint = pricing.plan_input(checks.check_request(edit(source_file, task="repaint", start=2)))
    assert (repaint.task, repaint.extra_weights, repaint.passes, repaint.steps) == ("repaint", None, 1, 2)
    extract = pricing.plan_input(checks.check_request(validate(SongRequest, {
        "task": "extract", "track": "vocals", "source_audio": str(source_file)})))
    assert (extract.extra_weights, extract.passes, extract.steps) == ("base", 2, 32)
    cover = pricing.plan_input(checks.check_request(edit(source_file, task="cover", cover_strength=0.5)))
    assert cover.passes == 2  # a partial cover runs the text-only condition as well
    caps = registry.get_spec("acestep").capabilities
    ctx = pricing.budget_context("pro")
    stages = ctx.estimate(caps, extract).stages
    assert {"load", "load:base", "encode", "diffusion", "decode"} <= set(stages)
    assert "load:base" not in ctx.estimate(caps, repaint).stages and "encode" in ctx.estimate(caps, repaint).stages
    plain = ctx.estimate(caps, extract.model_copy(update={"passes": 1})).stages["diffusion"]
    assert stages["diffusion"] > 1.4 * plain  # twice the per-step work, same fixed overhead


def test_task_info_says_which_weights_and_what_loading_costs(base_weights, tiny_acestep_dir):
    info = task_info.task_info("acestep", "extract", tier="pro")
    assert info.extra_weights and info.weights_name == "ACE-Step 1.5 XL base"
    assert info.weights == str(tiny_acestep_dir) and info.weights_env == "STUDIO_ACESTEP_BASE_WEIGHTS"
    assert info.load_s == pytest.approx(8.0) and info.download_gb == 10.0
    assert "second model" in info.note and "about 8 s to load" in info.note
    assert info.track == "required" and "vocals" in info.tracks
    repaint = task_info.task_info("acestep", "repaint")
    assert not repaint.extra_weights and repaint.weights_name == "ACE-Step 1.5 XL turbo" and repaint.uses_range
    names = [t.task for t in task_info.tasks_for("acestep")]
    assert names[:5] == ["text2music", "cover", "repaint", "extend", "extract"]
    assert task_info.tasks_for("levo2") and all(t.task == "text2music" for t in task_info.tasks_for("levo2"))


def test_cli_repaints_a_file_and_records_the_edit(tiny_acestep_dir, source_file, tmp_path):
    from tests.test_cli import run_cli

    out = tmp_path / "edit.wav"
    proc = run_cli(
        "generate", "--weights", str(tiny_acestep_dir), "--task", "repaint", "--src-audio", str(source_file),
        "--start", "2", "--end", "5", "--steps", "2", "--seed", "3", "--no-master", "--out", str(out), "--json",
    )
    assert proc.returncode == 0, proc.stderr
    assert sf.info(str(out)).frames == round(SOURCE_S * RATE)
    card = json.loads(out.with_name("edit.song.json").read_text())
    params = card["params"]
    assert (params["task"], params["start"], params["end"]) == ("repaint", 2.0, 5.0)
    assert params["source_audio"] == str(source_file.resolve()) and card["title"] == "demo (Repaint)"
    written, _ = sf.read(str(out), dtype="float32")
    np.testing.assert_allclose(written[: 2 * RATE - 100], music()[: 2 * RATE - 100], atol=1e-4)


def test_cli_refuses_an_edit_without_a_source(capsys):
    from studio.cli import main

    code = main(["generate", "--task", "extend", "--extend-by", "5", "--out", "x.wav"])
    assert code != 0 and "needs a song to work on" in capsys.readouterr().err


def test_loras_on_a_task_that_runs_on_other_weights_are_refused_before_loading() -> None:
    from backends.acestep.backend import refuse_mismatched_options
    from backends.acestep.declaration import AceStepOptions

    with_lora = AceStepOptions(loras=["someone/tiny-lora:0.5"])
    refuse_mismatched_options("cover", with_lora)  # turbo weights: the LoRA applies
    with pytest.raises(StudioError, match=r"LoRAs adapt the turbo weights, but extract runs on ACE-Step 1\.5 XL base"):
        refuse_mismatched_options("extract", with_lora)
    with pytest.raises(StudioError, match="set planner to off for the repaint task"):
        refuse_mismatched_options("repaint", AceStepOptions(planner="0.6B"))


def test_prefetch_downloads_hub_loras_and_task_weights_before_the_gpu_is_held(monkeypatch) -> None:
    """On ZeroGPU a download inside the GPU call is paid in GPU seconds; prefetch does it first."""
    from backends.acestep import lora
    from studio import weights as weights_source

    fetched: list[str] = []
    monkeypatch.setattr(lora, "check_lora", lambda source, on_progress=None: fetched.append(f"lora {source}"))
    monkeypatch.setattr(weights_source, "fetch", lambda location, **kw: fetched.append(f"weights {location}"))
    monkeypatch.delenv("STUDIO_ACESTEP_BASE_WEIGHTS", raising=False)
    request = validate(SongRequest, {"style": "x", "options": {"loras": ["someone/tiny-lora:0.5"]}})
    monkeypatch.delenv("STUDIO_ACESTEP_WEIGHTS", raising=False)
    turbo = "weights ACE-Step/acestep-v15-xl-turbo-diffusers"  # every request's own pipeline comes first
    rendering.prefetch(request)
    assert fetched == [turbo, "lora someone/tiny-lora"]
    fetched.clear()
    rendering.prefetch(request.model_copy(update={"task": "extract", "options": {}}))
    assert fetched == [turbo, "weights ACE-Step/acestep-v15-xl-base-diffusers"]
    fetched.clear()
    rendering.prefetch(request.model_copy(update={"task": "repaint", "options": {}}))
    assert fetched == [turbo]  # the turbo weights do repaints: nothing else


@pytest.mark.parametrize("free", [1.0, 1000.0], ids=["small-accelerator", "room-for-both"])
def test_turbo_and_base_take_turns_on_an_accelerator_without_room_for_both(
    studio, tiny_acestep_dir, source_file, base_weights, monkeypatch, free
):
    """Where the accelerator cannot hold both XL pipelines, the idle one waits in host memory and comes
    back when needed; the audio is the same either way. (Here the device is the CPU, so the free memory
    is what the test says it is, and the moves are watched rather than felt.)"""
    from backends.acestep import backend as acestep_backend
    from studio import memory

    if "acestep" in studio.cache.loaded():
        studio.cache.unload("acestep")  # start from the turbo pipeline alone on the device
    moves: list[tuple[str, str]] = []
    real_move = acestep_backend.move

    def watched(pipe, device):
        loaded = studio.cache.loaded()["acestep"]
        name = "turbo" if pipe is loaded.pipe else "base"
        # The device is the CPU here too: a pipeline still counted as on the device is leaving it.
        moves.append((name, "device" if id(pipe) in loaded._parked else "host"))
        return real_move(pipe, device)

    monkeypatch.setattr(memory, "free_accelerator_gb", lambda device: free)
    monkeypatch.setattr(acestep_backend, "move", watched)
    request = edit(source_file, task="extract", track="drums", seed=3)
    _, swapped = render(studio, tiny_acestep_dir, request)
    after_extract, moves[:] = list(moves), []
    render(studio, tiny_acestep_dir, edit(source_file, task="cover", cover_strength=0.6, seed=3))
    after_cover = list(moves)
    if free < 10:
        assert after_extract == [("turbo", "host"), ("base", "device")]
        assert after_cover == [("base", "host"), ("turbo", "device")]
    else:
        assert after_extract == [("base", "device")] and after_cover == []
    monkeypatch.setattr(memory, "free_accelerator_gb", lambda device: None)
    _, again = render(studio, tiny_acestep_dir, request)
    np.testing.assert_array_equal(swapped[0].audio, again[0].audio)
    studio.cache.unload("acestep")


@pytest.mark.parametrize(
    "fields",
    [
        {"task": "cover", "cover_strength": 0.6},
        {"task": "repaint", "start": 3.0, "end": 6.0},
        {"task": "extend", "extend_by": 2.0},
        {"task": "extract", "track": "vocals"},
    ],
    ids=["cover", "repaint", "extend", "extract"],
)
def test_an_edit_with_the_same_seed_is_the_same_song(studio, tiny_acestep_dir, source_file, base_weights, fields):
    """The pipeline draws the source's latents from torch's global generator; the backend seeds it
    per call, so an edit is as reproducible as a new song (it was not: every run differed)."""
    request = edit(source_file, seed=11, **fields)
    _, first = render(studio, tiny_acestep_dir, request)
    _, second = render(studio, tiny_acestep_dir, request)
    np.testing.assert_array_equal(first[0].audio, second[0].audio)
    _, other = render(studio, tiny_acestep_dir, request.model_copy(update={"seed": 12}))
    assert not np.array_equal(first[0].audio, other[0].audio)
    # ...and the caller's own random stream is left where it was.
    import torch

    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    render(studio, tiny_acestep_dir, request)
    assert torch.equal(torch.rand(3), expected)
