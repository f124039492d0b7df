"""Weights checked at load, not at the end (issue 15.7), and their status up front (issue 17.6).

Each damaged folder below is what a user really meets: a clone without `git lfs` leaves ~130-byte
pointer files (https://github.com/git-lfs/git-lfs/blob/main/docs/spec.md); an interrupted copy leaves
a file cut short; a hand-made folder lacks a part or holds another model's tensors. Each is made from
the tiny checkpoints in the real on-disk layout and must be refused when the backend loads, with a
sentence naming the folder and the file, before any tensor is read or any song is started.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from backends.base import Availability
from studio import registry, weights
from studio.ground.errors import StudioError
from studio.weights import WeightsState
from tests.levo.conftest import levo_fx, levo_runtime  # noqa: F401 - fixtures used below

LFS_POINTER = (
    "version https://git-lfs.github.com/spec/v1\n"
    "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
    "size 9516000000\n"
)


def as_lfs_pointer(path: Path) -> None:
    path.write_text(LFS_POINTER)


def cut(path: Path, keep: float = 0.6) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def reshape_one_tensor(path: Path, name_part: str) -> str:
    """Rewrite a safetensors file with the first tensor whose name contains ``name_part`` one row longer."""
    import torch
    from safetensors.torch import load_file, save_file

    state = load_file(str(path))
    name = next(k for k in sorted(state) if name_part in k and state[k].dim() >= 1)
    state[name] = torch.cat([state[name], state[name][:1]], 0)
    save_file(state, str(path))
    return name


# --- ACE-Step (diffusers folder)


@pytest.fixture
def acestep_copy(tiny_acestep_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny_acestep_dir, tmp_path / "acestep"))


def load_acestep(folder: Path):
    from backends.acestep.backend import AceStepBackend
    from studio.devices import detect

    return AceStepBackend.load(str(folder), device=detect("cpu"))


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (lambda f: as_lfs_pointer(f / "transformer" / "diffusion_pytorch_model.safetensors"),
         "transformer/diffusion_pytorch_model.safetensors is a Git LFS pointer"),
        (lambda f: cut(f / "text_encoder" / "model.safetensors"), "text_encoder/model.safetensors is truncated"),
        (lambda f: shutil.rmtree(f / "vae"), "vae/config.json is missing"),
        (lambda f: cut(f / "model_index.json", 0.5), "model_index.json is not valid JSON"),
    ],
    ids=["lfs-pointer", "truncated", "missing-part", "cut-json"],
)
def test_acestep_refuses_a_damaged_folder_at_load(acestep_copy: Path, damage, says: str) -> None:
    damage(acestep_copy)
    with pytest.raises(StudioError) as err:
        load_acestep(acestep_copy)
    text = str(err.value)
    assert f"ACE-Step weights folder {acestep_copy}" in text and says in text
    assert "hf download" in text  # says how to get a whole copy


# --- LeVo 2 (model.pt + runtime folder)


@pytest.fixture
def levo_copies(levo_fx: Path, levo_runtime: Path, tmp_path: Path) -> tuple[Path, Path]:  # noqa: F811
    model = Path(shutil.copytree(levo_fx / "lelm_tiny", tmp_path / "model"))
    runtime = Path(shutil.copytree(levo_runtime, tmp_path / "runtime"))
    return model, runtime


@pytest.mark.parametrize(
    ("damage", "which", "says"),
    [
        (lambda m, r: as_lfs_pointer(m / "model.pt"), "model", "model.pt is a Git LFS pointer"),
        (lambda m, r: cut(m / "model.pt"), "model", "model.pt is truncated"),
        (lambda m, r: cut(r / "ckpt/model_septoken/model_2.safetensors"), "runtime",
         "ckpt/model_septoken/model_2.safetensors is truncated"),
        (lambda m, r: (r / "ckpt/vae/autoencoder_music_1320k.ckpt").unlink(), "runtime",
         "ckpt/vae/autoencoder_music_1320k.ckpt is missing"),
    ],
    ids=["lfs-pointer", "truncated-model", "truncated-decoder", "missing-vae"],
)
def test_levo_refuses_a_damaged_folder_at_load(levo_copies, damage, which: str, says: str) -> None:
    from backends.levo.backend import LevoBackend

    model, runtime = levo_copies
    damage(model, runtime)
    with pytest.raises(StudioError) as err:
        LevoBackend.load(str(model), runtime=str(runtime), device="cpu")
    folder = model if which == "model" else runtime
    assert f"weights folder {folder} is not a usable checkpoint" in str(err.value)
    assert says in str(err.value)


# --- HeartMuLa (loads its models lazily: the check must happen at load, not on the first song)


@pytest.fixture
def heartmula_copy(fixtures_dir: Path, tmp_path: Path) -> Path:
    source = fixtures_dir / "heartmula" / "ckpt"
    if not source.is_dir():
        pytest.skip("HeartMuLa fixture missing")
    return Path(shutil.copytree(source, tmp_path / "heartmula"))


def load_heartmula(folder: Path):
    from backends.heartmula.backend import load

    return load(str(folder), device="cpu")


def test_heartmula_refuses_a_wrong_shaped_codec_at_load(heartmula_copy: Path) -> None:
    name = reshape_one_tensor(heartmula_copy / "HeartCodec-oss" / "model.safetensors", "scalar_model.decoder")
    with pytest.raises(StudioError) as err:
        load_heartmula(heartmula_copy)
    text = str(err.value)
    assert f"HeartCodec checkpoint in {heartmula_copy / 'HeartCodec-oss'}" in text
    assert "shape mismatches" in text and name in text


def test_heartmula_refuses_an_lm_with_a_missing_tensor_at_load(heartmula_copy: Path) -> None:
    from safetensors.torch import load_file, save_file

    path = heartmula_copy / "HeartMuLa-oss-3B" / "model.safetensors"
    state = load_file(str(path))
    dropped = sorted(state)[0]
    del state[dropped]
    save_file(state, str(path))
    with pytest.raises(StudioError) as err:
        load_heartmula(heartmula_copy)
    assert "HeartMuLa LM checkpoint in" in str(err.value) and dropped in str(err.value)


@pytest.mark.parametrize("damage", [as_lfs_pointer, cut], ids=["lfs-pointer", "truncated"])
def test_heartmula_refuses_a_damaged_file_at_load(heartmula_copy: Path, damage) -> None:
    damage(heartmula_copy / "HeartCodec-oss" / "model.safetensors")
    with pytest.raises(StudioError) as err:
        load_heartmula(heartmula_copy)
    assert f"HeartCodec weights folder {heartmula_copy / 'HeartCodec-oss'}" in str(err.value)
    assert "model.safetensors is " in str(err.value)


def test_heartmula_whole_fixture_still_loads(heartmula_copy: Path) -> None:
    backend = load_heartmula(heartmula_copy)
    assert backend.pipeline.loaded == {"lm": False, "codec": False}  # checked, not yet loaded


# --- Status up front, offline


@pytest.fixture
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    for spec in registry.all_specs():
        for part in spec.weights:
            if part.env:
                monkeypatch.delenv(part.env, raising=False)
    registry.refresh_availability()
    return cache


def put_in_cache(cache: Path, repo: str, folder: Path) -> Path:
    """Lay ``folder`` out as huggingface_hub's cache does: refs/main names a snapshot of the files."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    root = cache / f"models--{repo.replace('/', '--')}"
    (root / "refs").mkdir(parents=True)
    (root / "refs" / "main").write_text(commit)
    return Path(shutil.copytree(folder, root / "snapshots" / commit))


def test_empty_cache_says_not_downloaded_with_the_size(empty_cache: Path) -> None:
    for spec in registry.all_specs():
        found = weights.status(spec)
        if found.state is WeightsState.NEEDS_GPU:  # LeVo 2 on a small CPU box
            continue
        assert found.state is WeightsState.NOT_DOWNLOADED, found
        assert found.download_gb_at_least > 1
        assert found.label.startswith("⬇️ not downloaded — ") and "GB, downloaded on first use" in found.label
    acestep = weights.status(registry.get_spec("acestep"))
    assert acestep.download_gb == 11.0 and "ACE-Step/acestep-v15-xl-turbo-diffusers" in acestep.detail


def test_a_cached_snapshot_is_ready(empty_cache: Path, tiny_acestep_dir: Path) -> None:
    put_in_cache(empty_cache, "ACE-Step/acestep-v15-xl-turbo-diffusers", tiny_acestep_dir)
    assert weights.status(registry.get_spec("acestep")).state is WeightsState.READY


def test_a_partly_cached_snapshot_is_still_to_download(empty_cache: Path, tiny_acestep_dir: Path) -> None:
    snapshot = put_in_cache(empty_cache, "ACE-Step/acestep-v15-xl-turbo-diffusers", tiny_acestep_dir)
    shutil.rmtree(snapshot / "transformer")
    found = weights.status(registry.get_spec("acestep"))
    assert found.state is WeightsState.NOT_DOWNLOADED and "partly downloaded" in found.detail


def test_a_damaged_cached_file_is_incompatible(empty_cache: Path, tiny_acestep_dir: Path) -> None:
    snapshot = put_in_cache(empty_cache, "ACE-Step/acestep-v15-xl-turbo-diffusers", tiny_acestep_dir)
    as_lfs_pointer(snapshot / "vae" / "diffusion_pytorch_model.safetensors")
    found = weights.status(registry.get_spec("acestep"))
    assert found.state is WeightsState.INCOMPATIBLE and "Git LFS pointer" in found.detail


def test_a_bad_local_folder_is_incompatible_and_named(
    empty_cache: Path, heartmula_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cut(heartmula_copy / "HeartMuLa-oss-3B" / "model.safetensors")
    monkeypatch.setenv("STUDIO_HEARTMULA_WEIGHTS", str(heartmula_copy))
    found = weights.status(registry.get_spec("heartmula"))
    assert found.state is WeightsState.INCOMPATIBLE and found.label == "❌ incompatible weights"
    assert str(heartmula_copy / "HeartMuLa-oss-3B") in found.detail and "truncated" in found.detail


def test_a_whole_local_folder_is_ready(empty_cache: Path, heartmula_copy: Path, monkeypatch) -> None:
    monkeypatch.setenv("STUDIO_HEARTMULA_WEIGHTS", str(heartmula_copy))
    assert weights.status(registry.get_spec("heartmula")).state is WeightsState.READY


def test_a_backend_refused_for_want_of_a_gpu_says_so() -> None:
    spec = dataclasses.replace(
        registry.get_spec("levo2"),
        availability=lambda: Availability.no("LeVo 2 on the CPU needs about 24 GB of memory.", needs_gpu=True),
    )
    found = weights.status(spec)
    assert found.state is WeightsState.NEEDS_GPU and found.label == "⛔ needs a GPU"


def test_cli_picker_and_system_show_the_status(empty_cache: Path, capsys: pytest.CaptureFixture) -> None:
    import argparse

    from studio.commands import backends as backends_command
    from studio.ui import forms

    backends_command.run(argparse.Namespace(json=False))
    out = capsys.readouterr().out
    assert "ACE-Step 1.5 XL turbo — ⬇️ not downloaded — 11.0 GB, downloaded on first use" in out
    rows = {r["name"]: r for r in backends_command.describe()}
    assert rows["acestep"]["weights_status"]["state"] == "not downloaded"
    assert rows["acestep"]["weights_parts"][0]["size_source"]
    labels = dict((name, label) for label, name in forms.model_choices())
    assert "not downloaded — 11.0 GB" in labels["acestep"] and "available" not in labels["acestep"]
