"""The audio tokenizer pair for diffusers weights published without it (issue 15, item 1).

The published ``ACE-Step/acestep-v15-xl-turbo-diffusers`` has no ``audio_tokenizer`` /
``audio_token_detokenizer`` folders; diffusers then raises a ValueError inside the pipeline call for cover
and for planner codes (``pipeline_ace_step.py``, ``prepare_src_latents``), i.e. after the planner's LM has
run. Here the tiny pipeline is saved the same way, without the pair, and the pair comes from a tiny
checkpoint in ACE-Step 1.5's native layout (one ``model.safetensors`` or shards + index, upstream key names).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from safetensors import safe_open

from studio import rendering
from studio.devices import detect
from studio.errors import validate
from studio.ground.errors import StudioError
from studio.request import checks, task_info
from studio.song import SongRequest

RATE = 48_000


@pytest.fixture(scope="module")
def no_pair_dir(tmp_path_factory) -> Path:
    from backends.acestep.tiny import save_tiny_pipeline

    return save_tiny_pipeline(tmp_path_factory.mktemp("no-pair"), code_pair=False)


@pytest.fixture(scope="module")
def native_dir(tmp_path_factory) -> Path:
    from backends.acestep.tiny import save_tiny_native_checkpoint

    return save_tiny_native_checkpoint(tmp_path_factory.mktemp("native"))


@pytest.fixture(scope="module")
def source_file(tmp_path_factory) -> Path:
    t = np.arange(RATE * 10) / RATE
    wave = np.stack([0.3 * np.sin(2 * np.pi * 220 * t), 0.3 * np.sin(2 * np.pi * 330 * t)], axis=1)
    path = tmp_path_factory.mktemp("src") / "song.wav"
    sf.write(str(path), wave.astype(np.float32), RATE, subtype="FLOAT")
    return path


@pytest.fixture
def studio():
    studio = rendering.Studio()
    yield studio
    studio.cache.unload_all()


def cover(source: Path) -> SongRequest:
    return validate(SongRequest, {"style": "warm synth", "task": "cover", "cover_strength": 0.5,
                                  "source_audio": str(source), "seed": 1, "options": {"steps": 2}})


def test_the_saved_folder_lacks_the_pair_like_the_published_one(no_pair_dir) -> None:
    index = json.loads((no_pair_dir / "model_index.json").read_text())
    assert "audio_tokenizer" not in index and not (no_pair_dir / "audio_tokenizer").exists()
    from backends.acestep.backend import AceStepBackend

    backend = AceStepBackend.load(str(no_pair_dir), device=detect("cpu"))
    assert backend.pipe.audio_tokenizer is None and backend.pipe.audio_token_detokenizer is None


def test_the_native_file_uses_upstream_key_names(native_dir) -> None:
    # Names from diffusers' scripts/convert_ace_step_to_diffusers.py: prefixes decoder./encoder./tokenizer./
    # detokenizer., attention as q_proj/o_proj/q_norm, the DiT's input conv at proj_in.1.
    with safe_open(str(native_dir / "model.safetensors"), "pt") as f:
        keys = set(f.keys())
    assert {"tokenizer.attention_pooler.layers.0.self_attn.q_proj.weight", "tokenizer.quantizer.project_in.weight",
            "detokenizer.layers.0.self_attn.o_proj.weight", "detokenizer.layers.0.self_attn.k_norm.weight",
            "decoder.proj_in.1.weight", "decoder.scale_shift_table"} <= keys
    assert not any(".to_q." in k or "to_out.0" in k for k in keys)


@pytest.mark.parametrize("shards", [1, 3], ids=["single-file", "sharded"])
def test_cover_works_with_the_pair_read_from_the_native_checkpoint(
    studio, no_pair_dir, source_file, tmp_path, monkeypatch, shards
) -> None:
    from backends.acestep import native_pair
    from backends.acestep.tiny import build_tiny_pipeline, save_tiny_native_checkpoint

    native = save_tiny_native_checkpoint(tmp_path / "native", shards=shards)
    monkeypatch.setenv("STUDIO_ACESTEP_CODEC_WEIGHTS", str(native))
    _, takes, _ = studio.render(cover(source_file), weights=str(no_pair_dir), device=detect("cpu"))
    assert takes[0].audio.shape == (2, 10 * RATE) and np.isfinite(takes[0].audio).all()
    # Every weight of the pair arrived under its diffusers name, equal to the model the native file was made from.
    pipe = studio.cache.loaded()["acestep"].pipe
    original = build_tiny_pipeline()
    for name in ("audio_tokenizer", "audio_token_detokenizer"):
        ours, theirs = getattr(pipe, name).state_dict(), getattr(original, name).state_dict()
        assert ours.keys() == theirs.keys()
        assert all(torch.equal(ours[k], theirs[k]) for k in ours)
    # Converted once: the next process reads the cached pair without touching the checkpoint.
    monkeypatch.setattr(native_pair.NativeCheckpoint, "read", lambda *a: pytest.fail("read the checkpoint again"))
    pair, fingerprint = native_pair.fetch_pair(str(native))
    assert set(pair) == {"audio_tokenizer", "audio_token_detokenizer"} and "scale_shift_table" in fingerprint


def test_only_the_pair_and_the_fingerprint_are_read(native_dir, monkeypatch) -> None:
    from backends.acestep import native_pair

    seen: list[str] = []
    real = native_pair.read_tensors
    monkeypatch.setattr(native_pair, "read_tensors", lambda stream, names: real(stream, seen.extend(names) or names))
    native_pair.fetch_pair(str(native_dir))
    assert seen and all(k.startswith(("tokenizer.", "detokenizer.")) or k.endswith("scale_shift_table")
                        for k in seen)
    assert not any(k.startswith("encoder.") for k in seen)


def test_a_pair_from_another_dit_is_refused(studio, no_pair_dir, source_file, tmp_path, monkeypatch) -> None:
    from backends.acestep.tiny import save_tiny_native_checkpoint

    other = save_tiny_native_checkpoint(tmp_path / "other", seed=1)  # same shapes, other weights
    monkeypatch.setenv("STUDIO_ACESTEP_CODEC_WEIGHTS", str(other))
    with pytest.raises(StudioError, match="belongs to another DiT than the weights at"):
        studio.render(cover(source_file), weights=str(no_pair_dir), device=detect("cpu"))


def test_without_a_source_cover_and_planner_are_refused_before_any_work(no_pair_dir, source_file,
                                                                        monkeypatch) -> None:
    from studio.ui.edit_view import task_choices

    monkeypatch.setenv("STUDIO_ACESTEP_WEIGHTS", str(no_pair_dir))
    monkeypatch.delenv("STUDIO_ACESTEP_CODEC_WEIGHTS", raising=False)
    with pytest.raises(StudioError, match=r"audio tokenizer pair.*STUDIO_ACESTEP_CODEC_WEIGHTS"):
        checks.check_request(cover(source_file))
    planned = validate(SongRequest, {"style": "pop", "duration": 20, "options": {"planner": "0.6B"}})
    with pytest.raises(StudioError, match=r"the 0\.6B planner .*audio tokenizer pair"):
        checks.check_request(planned)
    checks.check_request(validate(SongRequest, {"style": "pop", "duration": 20}))  # DiT-only still works
    info = task_info.task_info("acestep", "cover")
    assert not info.supported and "audio tokenizer pair" in info.note
    assert "cover" not in [task for _, task in task_choices("acestep")]
    assert "repaint" in [task for _, task in task_choices("acestep")]


def test_the_published_turbo_id_has_a_known_source(monkeypatch) -> None:
    from backends.acestep import code_pair

    monkeypatch.delenv("STUDIO_ACESTEP_WEIGHTS", raising=False)
    monkeypatch.delenv("STUDIO_ACESTEP_CODEC_WEIGHTS", raising=False)
    assert code_pair.pair_source("ACE-Step/acestep-v15-xl-turbo-diffusers") == "ACE-Step/acestep-v15-xl-turbo"
    assert task_info.task_info("acestep", "cover").supported


def test_the_planner_never_runs_when_the_pair_cannot_be_had(studio, no_pair_dir, monkeypatch) -> None:
    """Weights passed by --weights are not visible to prepare(): the backend refuses before the LM loads."""
    import backends.acestep.planner.planner as planner_module

    monkeypatch.delenv("STUDIO_ACESTEP_CODEC_WEIGHTS", raising=False)
    monkeypatch.setattr(planner_module.Planner, "load", classmethod(lambda *a, **k: pytest.fail("planner loaded")))
    request = validate(SongRequest, {"style": "pop", "duration": 10, "options": {"planner": "0.6B", "steps": 2}})
    with pytest.raises(StudioError, match=r"the 0\.6B planner .*audio tokenizer pair"):
        studio.render(request, weights=str(no_pair_dir), device=detect("cpu"))


def test_the_pair_is_fetched_before_the_gpu_call(native_dir, source_file, monkeypatch) -> None:
    """On ZeroGPU reading the pair inside the GPU call would be paid in GPU seconds: prefetch does it."""
    from backends.acestep import fetching
    from backends.acestep.native_pair import cache_folder

    monkeypatch.setenv("STUDIO_ACESTEP_CODEC_WEIGHTS", str(native_dir))
    # The pipeline's own files are prefetched too (tests/test_prefetch_offline.py); here, no Hub.
    monkeypatch.setattr(fetching, "fetch_pipeline", lambda location, **kw: Path(location))
    assert not cache_folder(str(native_dir)).exists()
    rendering.prefetch(cover(source_file))
    assert (cache_folder(str(native_dir)) / "fingerprint.safetensors").is_file()
    assert (cache_folder(str(native_dir)) / "audio_token_detokenizer" / "config.json").is_file()


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_byte_range_reader_matches_safetensors(dtype) -> None:
    """The reader that fetches single tensors by range gives what safetensors' own loader gives."""
    import io

    from safetensors.torch import save

    from backends.acestep.native_pair import read_tensors

    tensors = {"a.weight": torch.randn(3, 5).to(dtype), "b": torch.randn(7).to(dtype), "c": torch.randn(2, 2, 2)}
    got = read_tensors(io.BytesIO(save(tensors, metadata={"format": "pt"})), ["c", "a.weight"])
    assert set(got) == {"a.weight", "c"}
    assert all(got[k].dtype == tensors[k].dtype and torch.equal(got[k], tensors[k]) for k in got)


def test_a_folder_that_is_no_native_checkpoint_is_one_sentence(tmp_path) -> None:
    from backends.acestep.native_pair import fetch_pair

    empty, bare = tmp_path / "empty", tmp_path / "bare"
    empty.mkdir()
    bare.mkdir()
    (bare / "config.json").write_text("{}")
    with pytest.raises(StudioError, match=r"could not read ACE-Step's audio tokenizer pair from .*it has no config"):
        fetch_pair(str(empty))
    with pytest.raises(StudioError, match=r"pair from .*STUDIO_ACESTEP_CODEC_WEIGHTS at a native"):
        fetch_pair(str(bare))


def test_from_the_hub_only_small_files_are_downloaded_and_weights_read_by_range(tmp_path, monkeypatch) -> None:
    """A Hub id goes through hf_hub_download for config.json and the shard index only; the weight files are
    opened through HfFileSystem (byte-range reads), here a stand-in serving the tiny sharded checkpoint."""
    import huggingface_hub
    from huggingface_hub.errors import EntryNotFoundError

    from backends.acestep.native_pair import fetch_pair
    from backends.acestep.tiny import save_tiny_native_checkpoint

    local = save_tiny_native_checkpoint(tmp_path / "hub", shards=2)
    downloaded, opened, read_bytes = [], [], []

    def download(repo_id, filename, **_):
        assert repo_id == "ACE-Step/acestep-v15-xl-turbo"
        downloaded.append(filename)
        if not (local / filename).is_file():
            raise EntryNotFoundError(filename)
        return str(local / filename)

    class RangeFile:
        def __init__(self, path):
            self.stream = open(path, "rb")  # noqa: SIM115 - closed in __exit__, like a real file object

        def read(self, n=-1):
            data = self.stream.read(n)
            read_bytes.append(len(data))
            return data

        def seek(self, offset):
            return self.stream.seek(offset)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.stream.close()

    class FakeFileSystem:
        def open(self, path, mode="rb"):
            repo, name = path.rsplit("/", 1)
            assert repo == "ACE-Step/acestep-v15-xl-turbo" and mode == "rb"
            opened.append(name)
            return RangeFile(local / name)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    monkeypatch.setattr(huggingface_hub, "HfFileSystem", FakeFileSystem)
    pair, _ = fetch_pair("ACE-Step/acestep-v15-xl-turbo")
    assert set(downloaded) == {"config.json", "model.safetensors.index.json"}
    assert sorted(set(opened)) == ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    shards = sum((local / name).stat().st_size for name in set(opened))
    assert sum(read_bytes) < shards  # the condition encoder's and the DiT's weights were skipped
    assert set(pair) == {"audio_tokenizer", "audio_token_detokenizer"}
