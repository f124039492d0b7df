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

from studio import service
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
    service.prefetch(SongRequest(style="pop", options={"planner": "1.7B"}))
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
    studio = service.Studio()
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
    studio = service.Studio()
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
