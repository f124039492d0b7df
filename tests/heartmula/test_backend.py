from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from pydantic import ValidationError

from backends.base import Backend, RenderJob
from backends.heartmula.declaration import HeartMuLaOptions
from backends.heartmula.spec import SPEC
from studio.ground.errors import StudioError
from studio.ground.progress import ProgressEvent
from tests.conftest import REPO


def test_spec_declares_heartmula():
    caps = SPEC.capabilities
    assert (caps.name, caps.display_name, caps.lyric_dialect.value) == (
        "heartmula",
        "HeartMuLa 3B",
        "heartmula",
    )
    assert (caps.sample_rate, caps.channels, caps.licence) == (48000, 2, "Apache-2.0")
    assert caps.max_duration_s == 240.0
    assert SPEC.availability().ok


def test_options_defaults_and_forbid_extra():
    opts = HeartMuLaOptions()
    assert (opts.cfg, opts.temperature, opts.top_k, opts.low_memory) == (1.5, 1.0, 50, None)
    with pytest.raises(ValidationError):
        HeartMuLaOptions(topk=3)
    with pytest.raises(ValidationError):
        HeartMuLaOptions(cfg=0.5)


@pytest.fixture(scope="module")
def backend(hm_dir):
    return SPEC.load(weights=str(hm_dir / "ckpt"), device="cpu")


def _job(prompt_cases, seeds, **options):
    inputs = prompt_cases["case1_en"]["inputs"]
    return RenderJob(
        style=" Piano, Happy ,Wedding,Synthesizer",
        lyrics=inputs["lyrics"],
        instrumental=False,
        duration_s=10.0,
        seeds=seeds,
        options=HeartMuLaOptions(**options),
    )


def test_render_returns_seeded_stereo_takes(backend, prompt_cases):
    assert isinstance(backend, Backend)
    events: list[ProgressEvent] = []
    loads = (backend.pipeline.lm_loads, backend.pipeline.codec_loads)
    takes = backend.render(_job(prompt_cases, [3, 4], top_k=50, low_memory=True), events.append)
    for take, seed in zip(takes, [3, 4], strict=True):
        codes = take.extras["codes"]
        assert codes.shape[0] == 8 and 1 <= codes.shape[1] <= 126
        assert take.audio.dtype == np.float32
        assert take.audio.shape == (2, min(codes.shape[1] * 3840, 10 * 48000))  # cut to the asked length
        assert take.sample_rate == 48000 and take.seed == seed
    # Both takes' codes come first, then both decodes: each model loads once and is gone afterwards.
    stages = [e.stage for e in events]
    assert stages.index("codec") > len(stages) - 1 - stages[::-1].index("lm")
    assert stages.count("codec") == 2
    assert (backend.pipeline.lm_loads, backend.pipeline.codec_loads) == (loads[0] + 1, loads[1] + 1)
    assert backend.pipeline.loaded == {"lm": False, "codec": False}


def test_render_keeps_models_and_repeats_a_seed(backend, prompt_cases):
    (first,) = backend.render(_job(prompt_cases, [5], temperature=0.9, low_memory=False))
    assert backend.pipeline.loaded == {"lm": True, "codec": True}
    before = (backend.pipeline.lm_loads, backend.pipeline.codec_loads)
    (again,) = backend.render(_job(prompt_cases, [5], temperature=0.9, low_memory=False))
    assert (backend.pipeline.lm_loads, backend.pipeline.codec_loads) == before
    np.testing.assert_array_equal(first.extras["codes"], again.extras["codes"])
    np.testing.assert_array_equal(first.audio, again.audio)
    backend.unload()
    assert backend.pipeline.loaded == {"lm": False, "codec": False}


def test_duration_out_of_range_is_refused(backend, prompt_cases):
    job = _job(prompt_cases, [1])
    job.duration_s = 300.0
    with pytest.raises(StudioError, match="240"):
        backend.render(job)


def test_missing_folder_and_offline_hub_give_plain_errors(tmp_path, monkeypatch):
    from backends.heartmula import weights

    with pytest.raises(StudioError, match="does not exist"):
        weights.resolve_files(tmp_path / "nowhere")

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    with pytest.raises(StudioError, match="Could not download `HeartMuLa/HeartMuLaGen`"):
        weights.resolve_files(None)


def test_strict_loading_names_the_bad_tensor(hm_dir, tmp_path):
    from safetensors.torch import load_file, save_file

    from backends.heartmula.lm import load_lm

    src = hm_dir / "ckpt" / "HeartMuLa-oss-3B"
    dst = tmp_path / "lm"
    dst.mkdir()
    for name in ("config.json", "flavors.json"):
        shutil.copy(src / name, dst / name)
    state = load_file(str(src / "model.safetensors"))
    state["backbone.norm.weight"] = state.pop("backbone.norm.scale")
    save_file(state, str(dst / "model.safetensors"))
    with pytest.raises(StudioError, match=r"backbone\.norm\.scale.*backbone\.norm\.weight"):
        load_lm(dst)


def test_unknown_flavor_is_named(hm_dir, tmp_path):
    from backends.heartmula.lm import LMConfig

    config = json.loads((hm_dir / "ckpt" / "HeartMuLa-oss-3B" / "config.json").read_text())
    config["backbone_flavor"] = "llama-13B"
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(StudioError, match="llama-13B"):
        LMConfig.from_dir(tmp_path)


def test_real_flavors_are_known_without_flavors_json(tmp_path):
    from backends.heartmula.lm import LMConfig

    (tmp_path / "config.json").write_text(
        json.dumps({"backbone_flavor": "llama-3B", "decoder_flavor": "llama-300M"})
    )
    config = LMConfig.from_dir(tmp_path)
    assert (config.backbone.num_layers, config.backbone.dim_per_head) == (28, 128)
    assert (config.decoder.num_layers, config.decoder.dim_per_head, config.decoder.num_kv_heads) == (
        3,
        384,
        4,
    )


def test_spec_import_is_cheap():
    import subprocess
    import sys

    code = "import sys, backends.heartmula.spec; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "False"


def test_style_becomes_upstream_tag_string():
    from backends.heartmula.backend import style_to_tags

    assert style_to_tags(" Piano, happy ,,Wedding ") == "Piano,happy,Wedding"
