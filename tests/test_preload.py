"""The Space's ``preload_from_hub`` (README front matter) lists, per repository, exactly the file patterns
the prefetch of everything a visitor can pick asks the Hub for: each backend for each task, every
planner size, Simple mode's planner, and every stem set's separation model. So the Space's build
downloads what the loaders open, and no visitor pays a download inside the GPU window.

Format, from huggingface/hub-docs docs/hub/spaces-config-reference.md (commit 242f4a1): each item is
``"repository_name"`` for a whole repository or ``"repository_name file1,file2"`` for files in it (an
optional commit sha may follow). The reference documents file names only; it does not say whether glob
patterns are expanded, so the patterns below are the loaders' own and still need one Space build to
confirm they are honoured (README, "ZeroGPU").
"""

from __future__ import annotations

import shutil

import huggingface_hub
import pytest
import yaml

from studio import registry, rendering, sketching
from studio.separation.catalog import STEM_SETS
from studio.separation.loader import locate
from studio.song import SongRequest
from tests.conftest import REPO


def front_matter_preloads() -> dict[str, tuple[str, ...]]:
    front = yaml.safe_load((REPO / "README.md").read_text(encoding="utf-8").split("---")[1])
    out: dict[str, tuple[str, ...]] = {}
    for item in front["preload_from_hub"]:
        repo, _, files = item.partition(" ")
        assert repo not in out, f"{repo} is listed twice"
        out[repo] = tuple(files.split(",")) if files else ()
    return out


@pytest.fixture
def asked(tmp_path, fixtures_dir, monkeypatch) -> dict[str, set[str]]:
    """Runs every prefetch against a recording Hub: repository -> the patterns asked for it."""
    from backends.acestep.tiny import save_tiny_native_checkpoint

    heart = fixtures_dir / "heartmula" / "ckpt"
    # What a snapshot holds for the loaders' own checks after the download (config files they read).
    answers = {
        "lglg666/SongGeneration-v2-large": fixtures_dir / "levo2" / "lelm_tiny",
        "HeartMuLa/HeartMuLaGen": heart,
        "HeartMuLa/HeartMuLa-oss-3B-happy-new-year": heart / "HeartMuLa-oss-3B",
        "HeartMuLa/HeartCodec-oss-20260123": heart / "HeartCodec-oss",
    }
    empty = tmp_path / "snapshot"
    empty.mkdir()
    seen: dict[str, set[str]] = {}

    def record(repo_id: str, *, allow_patterns=None, **_kwargs) -> str:
        assert allow_patterns, f"{repo_id} was asked for whole"
        seen.setdefault(repo_id, set()).update(allow_patterns)
        return str(answers.get(repo_id, empty))

    monkeypatch.setattr(huggingface_hub, "snapshot_download", record)
    for name in ("STUDIO_ACESTEP_WEIGHTS", "STUDIO_ACESTEP_BASE_WEIGHTS", "STUDIO_ACESTEP_PLANNER_WEIGHTS",
                 "STUDIO_LEVO2_WEIGHTS", "STUDIO_LEVO2_RUNTIME", "STUDIO_HEARTMULA_WEIGHTS"):
        monkeypatch.delenv(name, raising=False)
    # The audio tokenizer pair is read from a native checkpoint by byte ranges, not from a snapshot (see the
    # README); a local one keeps this test off the network.
    monkeypatch.setenv("STUDIO_ACESTEP_CODEC_WEIGHTS", str(save_tiny_native_checkpoint(tmp_path / "native")))
    planners = registry.get_spec("acestep").options.model_fields["planner"].annotation.__args__
    for spec in registry.all_specs():
        for task in spec.capabilities.tasks:
            sizes = planners if spec.name == "acestep" else ("off",)
            for planner in sizes:
                options = {"planner": planner} if spec.name == "acestep" else {}
                rendering.prefetch(SongRequest(backend=spec.name, style="pop", lyrics="[Verse]\nla", task=task,
                                             options=options))
        if spec.sketcher is not None:
            sketching.prefetch(spec.name)
    # Split into stems, on any song: each stem set's separation model, fetched before the GPU as the
    # backends' weights are (studio.separation.flow).
    for stem_set in STEM_SETS.values():
        monkeypatch.delenv(stem_set.weights.weights_env, raising=False)
        locate(stem_set.weights)
    shutil.rmtree(empty)
    return seen


def test_preload_from_hub_lists_what_every_prefetch_asks_for(asked) -> None:
    listed = {repo: set(files) for repo, files in front_matter_preloads().items()}
    wanted = {repo: set(patterns) for repo, patterns in asked.items()}
    lines = "\n".join(f"  - {repo} {','.join(sorted(p))}" for repo, p in sorted(wanted.items()))
    assert listed == wanted, f"preload_from_hub should list:\n{lines}"


def test_every_preload_item_has_the_documented_shape() -> None:
    for repo, files in front_matter_preloads().items():
        assert repo.count("/") == 1 and " " not in repo, repo
        assert all(f and "," not in f and " " not in f for f in files), (repo, files)


def test_heartmula_is_preloaded() -> None:
    repos = set(front_matter_preloads())
    assert {"HeartMuLa/HeartMuLaGen", "HeartMuLa/HeartMuLa-oss-3B-happy-new-year",
            "HeartMuLa/HeartCodec-oss-20260123"} <= repos
