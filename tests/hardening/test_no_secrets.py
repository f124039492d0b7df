"""Nothing secret or private leaves the server (issue 18 item 5): song cards name no server paths, a
LoRA Hub id never becomes a path, batch ids are names, and what the browser secret does and does not
protect is what README says."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import httpx
import numpy as np
import pytest
import soundfile as sf

from studio.ground.errors import StudioError


def test_a_song_card_names_no_server_path(tiny_acestep_dir: Path, tmp_path: Path, monkeypatch) -> None:
    """The weights folder and the edited upload were written into every file's card before. On a shared
    studio (a Space) they leave as file names; a local user's own files keep their paths (--from-song)."""
    from studio.audio import read_card
    from studio.rendering import Studio
    from studio.song import SongRequest

    monkeypatch.setenv("STUDIO_MULTI_USER", "1")

    upload = tmp_path / "private-uploads" / "4f2a9c" / "my demo.wav"
    upload.parent.mkdir(parents=True)
    t = np.arange(11 * 48_000) / 48_000
    sf.write(str(upload), np.stack([0.3 * np.sin(2 * np.pi * 220 * t)] * 2, axis=1).astype("float32"), 48_000)
    request = SongRequest(task="repaint", source_audio=str(upload), start=2, end=6, style="pop",
                          options={"steps": 1}, seed=3)
    result = Studio().generate(request, out=tmp_path / "out" / "song.wav", weights=str(tiny_acestep_dir))
    card = read_card(result.takes[0].path)
    text = card.to_json()
    assert str(tmp_path) not in text and "private-uploads" not in text, text[:400]
    assert card.model_id == tiny_acestep_dir.name and card.params["source_audio"] == "my demo.wav"


@pytest.mark.parametrize(
    "source",
    ["owner/name/../../../../etc/x.safetensors", "owner/../x.safetensors", "../owner/name", "owner/name//x.safetensors",
     "owner/name/sub/../../x.safetensors", "owner/na--me"],
)
def test_a_lora_hub_id_with_path_syntax_never_reaches_the_file_system(source, monkeypatch) -> None:
    import huggingface_hub

    from backends.acestep.lora.refs import LoraError
    from backends.acestep.lora.sources import resolve

    def touched(*_a, **_k):
        raise AssertionError("the Hub or the disk was asked")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", touched)
    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", touched)
    with pytest.raises(LoraError, match=r"Hub id|neither an existing file"):
        resolve(source)


def test_the_ui_refuses_such_a_lora_before_the_queue() -> None:
    from studio.ui.uploads import checked_loras

    with pytest.raises(StudioError, match=r"is not a Hub id: .*'\.\./\.\./etc/x\.safetensors'"):
        checked_loras({"loras": ["owner/name/../../etc/x.safetensors:0.5"]})
    assert checked_loras({"loras": ["owner/name/sub/x.safetensors:0.5"]})["loras"][0]["scale"] == 0.5


def test_batch_ids_are_names_and_duplicates_are_reported(tmp_path: Path, monkeypatch) -> None:
    from studio import rendering
    from studio.cli import main

    made: list[Path] = []

    class FakeStudio:
        def generate(self, request, *, out: Path, **_k):
            out.mkdir(parents=True, exist_ok=True)
            song = out / "song.wav"
            song.write_bytes(b"RIFF")
            made.append(out)
            take = SimpleNamespace(files={"wav": song}, checks=None)
            return SimpleNamespace(takes=[take], seeds=[1], backend="acestep", best_first=[0])

    monkeypatch.setattr(rendering, "Studio", FakeStudio)
    song = {"style": "pop", "lyrics": "[Verse]\nla", "duration": 10}
    ids = ["../escape", "/etc/cron.d/x", "a/b", "..", "ok-1", "dup", "dup", "x" * 300]
    requests = tmp_path / "req.jsonl"
    requests.write_text("".join(json.dumps({**song, "id": i}) + "\n" for i in ids))
    out = tmp_path / "out"
    assert main(["batch", str(requests), "--out", str(out)]) == 1
    rows = [json.loads(r) for r in (out / "manifest.jsonl").read_text().splitlines()]
    assert [r["status"] for r in rows] == ["error"] * 4 + ["ok", "ok", "error", "error"]
    assert all("must be a plain name" in r["error"] for r in rows[:4] + rows[7:])
    assert "`id` 'dup' is already line 6's" in rows[6]["error"]
    assert sorted(p.name for p in made) == ["dup", "ok-1"]
    assert all(p.parent == out for p in made)
    assert not (tmp_path / "escape").exists() and sorted(p.name for p in out.iterdir()) == [
        "dup", "manifest.jsonl", "ok-1"]


def test_the_browser_secret_is_public_and_a_visitor_key_is_what_protects_a_library(studio_app) -> None:
    """gr.BrowserState encrypts in the browser, so its secret is in every visitor's /config (gradio
    components/browser_state.py puts it in the component's props). README says so: the secret keeps
    stored keys readable across restarts and protects nothing else; the random visitor key (192 bits,
    stored in the database only as a hash) is what keeps one visitor's songs from another."""
    from gradio_client import Client

    secret = "a-secret-that-every-visitor-can-read"
    with studio_app(STUDIO_MULTI_USER="1", STUDIO_BROWSER_SECRET=secret) as url:
        config = httpx.get(f"{url.rstrip('/')}/config", timeout=30).text
        assert secret in config  # the fact README states
        client = Client(url, verbose=False)
        # Knowing the secret opens nobody's library: used as a key it is just a new, empty one.
        assert client.predict(visitor_key=secret, api_name="/library") == []
