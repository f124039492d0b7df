"""Prefetch downloads exactly what the loaders open, before the GPU is asked for.

On ZeroGPU a download inside ``@spaces.GPU`` is paid in the visitor's GPU seconds. The studio
calls ``SPEC.prefetch`` in the main process first; then the loader must find everything in the
cache. Here the Hub is a folder of tiny checkpoints in the published layouts (the pipeline repo
``ACE-Step/acestep-v15-xl-turbo-diffusers``; the 1.7B planner in the ``acestep-5Hz-lm-1.7B``
subfolder of the shared ``ACE-Step/Ace-Step1.5`` repo, beside other models). ``snapshot_download``
is replaced by a copy into a real HF cache layout (``models--org--name/snapshots/<sha>`` plus
``refs/main``), recording each file; the loaders then run with the Hub offline
(``HF_HUB_OFFLINE``), through the real ``snapshot_download``, on only the recorded files.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import huggingface_hub
import pytest
from huggingface_hub import constants
from huggingface_hub.utils import filter_repo_objects

from studio import rendering
from studio.devices import detect
from studio.song import SongRequest

PIPELINE_REPO = "ACE-Step/acestep-v15-xl-turbo-diffusers"
SHARED_REPO = "ACE-Step/Ace-Step1.5"
SHA = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    def __init__(self, remote: dict[str, Path], cache: Path) -> None:
        self.remote = remote
        self.cache = cache
        self.fetched: set[tuple[str, str]] = set()

    def snapshot_download(self, repo_id: str, *, allow_patterns=None, **_kwargs) -> str:
        source = self.remote[repo_id]
        files = [str(p.relative_to(source)) for p in source.rglob("*") if p.is_file()]
        storage = self.cache / f"models--{repo_id.replace('/', '--')}"
        snapshot = storage / "snapshots" / SHA
        for name in filter_repo_objects(files, allow_patterns=allow_patterns):
            (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / name, snapshot / name)
            self.fetched.add((repo_id, name))
        (storage / "refs").mkdir(parents=True, exist_ok=True)
        (storage / "refs" / "main").write_text(SHA)
        return str(snapshot)


@pytest.fixture
def hub(tmp_path, tiny_acestep_dir, fixtures_dir, monkeypatch) -> FakeHub:
    from tests.planner.tiny import save_tiny_planner

    pipeline = tmp_path / "remote" / "pipeline"
    shutil.copytree(tiny_acestep_dir, pipeline)
    (pipeline / "README.md").write_text("model card")  # what no loader opens
    (pipeline / "transformer" / "diffusion_pytorch_model.bin").write_bytes(b"a duplicate in another format")
    shared = tmp_path / "remote" / "shared"
    save_tiny_planner(shared / "acestep-5Hz-lm-1.7B", fixtures_dir)
    (shared / "acestep-v15-turbo").mkdir()
    (shared / "acestep-v15-turbo" / "model.safetensors").write_bytes(b"another model in the same repo")
    fake = FakeHub({PIPELINE_REPO: pipeline, SHARED_REPO: shared}, tmp_path / "hf-cache")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(fake.cache))
    for name in ("STUDIO_ACESTEP_WEIGHTS", "STUDIO_ACESTEP_PLANNER_WEIGHTS"):
        monkeypatch.delenv(name, raising=False)
    return fake


def test_prefetch_then_load_offline_from_exactly_the_fetched_files(hub: FakeHub, tmp_path, monkeypatch) -> None:
    from backends.acestep.tiny import save_tiny_native_checkpoint

    # The planner's codes need ACE-Step's audio tokenizer pair, read from the native checkpoint
    # (backends/acestep/code_pair.py, tested in tests/acestep/test_code_pair.py); here from a folder.
    monkeypatch.setenv("STUDIO_ACESTEP_CODEC_WEIGHTS", str(save_tiny_native_checkpoint(tmp_path / "native")))
    monkeypatch.setattr(huggingface_hub, "snapshot_download", hub.snapshot_download)
    rendering.prefetch(SongRequest(style="pop", options={"planner": "1.7B"}))
    fetched = hub.fetched
    assert (PIPELINE_REPO, "model_index.json") in fetched
    assert (PIPELINE_REPO, "transformer/diffusion_pytorch_model.safetensors") in fetched
    assert (SHARED_REPO, "acestep-5Hz-lm-1.7B/model.safetensors") in fetched
    assert (PIPELINE_REPO, "README.md") not in fetched
    assert (PIPELINE_REPO, "transformer/diffusion_pytorch_model.bin") not in fetched
    assert not any(name.startswith("acestep-v15-turbo/") for _, name in fetched)

    # The GPU side: the real snapshot_download, the Hub unreachable, only the fetched files on disk.
    monkeypatch.undo()  # restores snapshot_download, and the cache setting with it:
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hub.cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for name in ("STUDIO_ACESTEP_WEIGHTS", "STUDIO_ACESTEP_PLANNER_WEIGHTS"):
        monkeypatch.delenv(name, raising=False)
    assert sum(1 for p in hub.cache.rglob("*") if p.is_file() and "snapshots" in p.parts) == len(fetched)
    studio = rendering.Studio()
    try:
        backend = studio.cache.get("acestep", None, device=detect("cpu"))
        assert backend.weights == PIPELINE_REPO
        planner = backend._planner("1.7B")
        assert planner.model is not None
        draft = studio.describe("acestep", "a calm song about the sea", seed=1)
        assert isinstance(draft, dict)
    finally:
        studio.cache.unload_all()


def test_simple_mode_fetches_only_its_planner_and_sketches_offline_without_the_pipeline(hub, monkeypatch) -> None:
    """Simple mode's sketch is the planner's alone (issue 16): its prefetch takes the 1.7B planner's
    subfolder and nothing of the ~11 GB pipeline, and the sketch then runs with the Hub offline and no
    DiT pipeline loaded."""
    import backends.acestep.planner.planner as planner_module
    from backends.acestep import sketch
    from studio import sketching

    monkeypatch.setattr(huggingface_hub, "snapshot_download", hub.snapshot_download)
    sketching.prefetch("acestep")
    assert hub.fetched and {repo for repo, _ in hub.fetched} == {SHARED_REPO}
    assert all(name.startswith("acestep-5Hz-lm-1.7B/") for _, name in hub.fetched)

    monkeypatch.undo()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hub.cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("STUDIO_DEVICE", "cpu")
    monkeypatch.delenv("STUDIO_ACESTEP_PLANNER_WEIGHTS", raising=False)
    monkeypatch.setattr(planner_module, "FREE_TEXT_TOKEN_CAP", 64)  # a random model never stops by itself
    studio = rendering.Studio()
    try:
        assert not sketch.loaded("cpu")
        draft = studio.describe("acestep", "a calm song about the sea", seed=1)
        assert set(draft) == {"caption", "lyrics", "instrumental", "metadata"}
        assert sketch.loaded("cpu")
        assert studio.cache.loaded() == {}  # the DiT pipeline was never loaded for it
    finally:
        sketch.release_all()


def test_start_up_on_zerogpu_fetches_and_loads_the_default_backend_in_the_main_process(hub, monkeypatch) -> None:
    """What app.py runs at import on ZeroGPU (runner.preload_for_zerogpu): the default backend is
    on its device before any GPU call, from the pipeline's files only (no planner: off by default)."""
    from studio.ui import runner

    monkeypatch.setattr(huggingface_hub, "snapshot_download", hub.snapshot_download)
    monkeypatch.setenv("STUDIO_DEVICE", "cpu")  # stands in for the cuda that spaces packs
    try:
        runner.preload_for_zerogpu()
        assert "acestep" in runner.STUDIO.cache.loaded()
    finally:
        runner.STUDIO.cache.unload_all()
    assert {repo for repo, _ in hub.fetched} == {PIPELINE_REPO}
    assert (PIPELINE_REPO, "model_index.json") in hub.fetched


# --- LeVo 2 and HeartMuLa: each backend's prefetch for each task it supports, then an offline load.

LEVO_MODEL_REPO = "lglg666/SongGeneration-v2-large"
LEVO_RUNTIME_REPO = "lglg666/SongGeneration-Runtime"
HEART_GEN_REPO = "HeartMuLa/HeartMuLaGen"
HEART_LM_REPO = "HeartMuLa/HeartMuLa-oss-3B-happy-new-year"
HEART_CODEC_REPO = "HeartMuLa/HeartCodec-oss-20260123"


def _levo_remote(root: Path, fixtures_dir: Path) -> dict[str, Path]:
    """The two LeVo 2 repositories as published (paths as the model's config.yaml names them), each with
    files the port never opens: another weights format, the upstream runtime's other checkpoints and tools."""
    import tarfile

    levo = fixtures_dir / "levo2"
    model = root / "levo-model"
    shutil.copytree(levo / "lelm_tiny", model)  # config.yaml, model.pt, and state_dict_keys.json (unused)
    (model / "README.md").write_text("model card")
    runtime = root / "levo-runtime"
    with tarfile.open(levo / "third_party" / "Qwen2-7B_tokenizer.tar.xz") as tar:
        tar.extractall(runtime / "third_party", filter="data")
    shutil.copytree(levo / "decoder" / "ckpt" / "model_septoken", runtime / "ckpt" / "model_septoken")
    vae = runtime / "ckpt" / "vae"
    vae.mkdir(parents=True)
    shutil.copy(levo / "decoder" / "ckpt" / "vae" / "stable_audio_1920_vae.json", vae / "stable_audio_1920_vae.json")
    shutil.copy(levo / "decoder" / "ckpt" / "vae" / "autoencoder_music_tiny.ckpt", vae / "autoencoder_music_1320k.ckpt")
    (vae / "autoencoder_music_1320k_old.ckpt").write_bytes(b"an older VAE nothing reads")
    (runtime / "ckpt" / "model_1rvq").mkdir()
    (runtime / "ckpt" / "model_1rvq" / "model_2_fixed.safetensors").write_bytes(b"another tokenizer")
    (runtime / "third_party" / "demucs").mkdir()
    (runtime / "third_party" / "demucs" / "htdemucs.pth").write_bytes(b"upstream's separator")
    return {LEVO_MODEL_REPO: model, LEVO_RUNTIME_REPO: runtime}


def _heart_remote(root: Path, fixtures_dir: Path) -> dict[str, Path]:
    """HeartMuLa's three repositories, from the upstream-made tiny checkpoint, plus files no loader opens."""
    ckpt = fixtures_dir / "heartmula" / "ckpt"
    gen = root / "heart-gen"
    gen.mkdir()
    for name in ("tokenizer.json", "gen_config.json"):
        shutil.copy(ckpt / name, gen / name)
    (gen / "README.md").write_text("model card")
    lm = root / "heart-lm"
    shutil.copytree(ckpt / "HeartMuLa-oss-3B", lm)
    (lm / "model.bin").write_bytes(b"the same weights in another format")
    (lm / "generation_config.json").write_text("{}")
    codec = root / "heart-codec"
    shutil.copytree(ckpt / "HeartCodec-oss", codec)
    (codec / "README.md").write_text("model card")
    return {HEART_GEN_REPO: gen, HEART_LM_REPO: lm, HEART_CODEC_REPO: codec}


@pytest.fixture
def other_hub(tmp_path, fixtures_dir, monkeypatch) -> FakeHub:
    remote = {**_levo_remote(tmp_path / "remote", fixtures_dir), **_heart_remote(tmp_path / "remote", fixtures_dir)}
    fake = FakeHub(remote, tmp_path / "hf-cache")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(fake.cache))
    for name in ("STUDIO_LEVO2_WEIGHTS", "STUDIO_LEVO2_RUNTIME", "STUDIO_HEARTMULA_WEIGHTS"):
        monkeypatch.delenv(name, raising=False)
    return fake


def _offline(hub: FakeHub, monkeypatch) -> None:
    """The GPU side: the real snapshot_download, the Hub unreachable, only the fetched files on disk."""
    monkeypatch.undo()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hub.cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for name in ("STUDIO_LEVO2_WEIGHTS", "STUDIO_LEVO2_RUNTIME", "STUDIO_HEARTMULA_WEIGHTS"):
        monkeypatch.delenv(name, raising=False)
    assert sum(1 for p in hub.cache.rglob("*") if p.is_file() and "snapshots" in p.parts) == len(hub.fetched)


def _prefetch_every_task(backend: str, hub: FakeHub, monkeypatch) -> set[tuple[str, str]]:
    """Prefetch once per task the backend supports; every task must ask for the same files."""
    from studio import registry

    monkeypatch.setattr(huggingface_hub, "snapshot_download", hub.snapshot_download)
    tasks = registry.get_spec(backend).capabilities.tasks
    seen: list[set[tuple[str, str]]] = []
    for task in tasks:
        hub.fetched = set()
        rendering.prefetch(SongRequest(backend=backend, style="pop", lyrics="[Verse]\nla la", task=task))
        seen.append(set(hub.fetched))
    assert all(s == seen[0] for s in seen), dict(zip(tasks, seen, strict=True))
    hub.fetched = seen[0]
    return seen[0]


def test_levo2_prefetch_fetches_exactly_what_its_loader_opens_then_loads_offline(other_hub, monkeypatch) -> None:
    fetched = _prefetch_every_task("levo2", other_hub, monkeypatch)
    assert fetched == {
        (LEVO_MODEL_REPO, "config.yaml"),
        (LEVO_MODEL_REPO, "model.pt"),
        (LEVO_RUNTIME_REPO, "ckpt/model_septoken/model_2.safetensors"),
        (LEVO_RUNTIME_REPO, "ckpt/model_septoken/dims.json"),  # the tiny decoder's sizes (config.DecoderDims)
        (LEVO_RUNTIME_REPO, "ckpt/vae/stable_audio_1920_vae.json"),
        (LEVO_RUNTIME_REPO, "ckpt/vae/autoencoder_music_1320k.ckpt"),
        (LEVO_RUNTIME_REPO, "third_party/Qwen2-7B/vocab.json"),
        (LEVO_RUNTIME_REPO, "third_party/Qwen2-7B/merges.txt"),
        (LEVO_RUNTIME_REPO, "third_party/Qwen2-7B/tokenizer_config.json"),
        (LEVO_RUNTIME_REPO, "third_party/Qwen2-7B/config.json"),
    }
    _offline(other_hub, monkeypatch)
    studio = rendering.Studio()
    try:
        backend = studio.cache.get("levo2", None, device=detect("cpu"))
        assert backend.lm is not None and backend.decoder is not None and backend.vae is not None
    finally:
        studio.cache.unload_all()


def test_heartmula_prefetch_fetches_exactly_what_its_loader_opens_then_loads_offline(other_hub, monkeypatch) -> None:
    fetched = _prefetch_every_task("heartmula", other_hub, monkeypatch)
    assert fetched == {
        (HEART_GEN_REPO, "tokenizer.json"),
        (HEART_GEN_REPO, "gen_config.json"),
        (HEART_LM_REPO, "config.json"),
        (HEART_LM_REPO, "flavors.json"),  # the tiny checkpoint's dimensions (flavors.py)
        (HEART_LM_REPO, "model.safetensors"),
        (HEART_CODEC_REPO, "config.json"),
        (HEART_CODEC_REPO, "model.safetensors"),
    }
    _offline(other_hub, monkeypatch)
    studio = rendering.Studio()
    try:
        backend = studio.cache.get("heartmula", None, device=detect("cpu"))
        # The models load on first use; both are read here, from the recorded files only.
        assert backend.pipeline.lm is not None and backend.pipeline.codec is not None
    finally:
        studio.cache.unload_all()
