"""Who can see what, against the launched app: no file outside the library's audio folder is served,
no visitor reaches another's songs through any handler, and uploads are capped."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
import httpx
import pytest
from gradio_client import Client

from studio.library import Library
from tests.launched import launched_studio

UPLOAD_CAP = "100kb"


@dataclass
class Running:
    url: str
    demo: gr.Blocks
    library: Library

    def fn(self, name: str) -> Any:
        return next(f.fn for f in self.demo.fns.values() if f.api_name == name)


@pytest.fixture(scope="module")
def app(tiny_acestep_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    env = {
        "STUDIO_ACESTEP_WEIGHTS": str(tiny_acestep_dir), "STUDIO_DEVICE": "cpu", "STUDIO_MULTI_USER": "1",
        "STUDIO_MAX_UPLOAD": UPLOAD_CAP, "STUDIO_RATE_LIMIT": "off",
    }
    with launched_studio(env, tmp_path_factory.mktemp("secure-library")) as running:
        yield Running(*running)


@pytest.fixture(scope="module")
def alice(app: Running) -> dict:
    client = Client(app.url, verbose=False)
    audio, _, info = client.predict(
        lyrics="[Verse]\nsecret song", style="synth pop", duration=10, seed=1, options='{"steps": 1}',
        api_name="/generate",
    )
    song = info["songs"][0]
    return {"key": info["visitor_key"], "id": song["id"], "audio": audio,
            "path": app.library.get(_owner(info["visitor_key"]), song["id"]).audio_path}


def _owner(key: str) -> str:
    from studio.ui import visitor

    return visitor.owner_for(key)


def _get(app: Running, path: str) -> httpx.Response:
    return httpx.get(f"{app.url}/gradio_api/file={path}", timeout=30)


def _refused(response: httpx.Response, secret: bytes) -> bool:
    return response.status_code in (400, 403, 404) and secret not in response.content


def test_no_file_outside_the_audio_folder_is_served(app: Running, alice: dict, tmp_path: Path) -> None:
    secret = b"top-secret-token-1234"
    outside = tmp_path / "private.txt"
    outside.write_bytes(secret)
    (app.library.root / "notes.txt").write_bytes(secret)  # beside the database, not in audio/
    audio_dir = app.library.audio_dir
    link = audio_dir / "link.wav"
    link.symlink_to(outside)
    db = app.library.db_path
    attempts = [
        str(outside), "/etc/passwd", str(db), str(app.library.root / "notes.txt"),
        f"{audio_dir}/../library.sqlite3", f"{audio_dir}/../notes.txt", f"{audio_dir}/..%2Fnotes.txt",
        "../../../../etc/passwd", "..%2F..%2F..%2Fetc%2Fpasswd", str(link),
        f"{audio_dir}/{alice['path'].parent.name}/../../notes.txt",
    ]
    try:
        for path in attempts:
            response = _get(app, path)
            assert _refused(response, secret), f"{path}: {response.status_code}"
            assert b"CREATE TABLE" not in response.content and b"root:" not in response.content, path
    finally:
        link.unlink()
    # The visitor's own song is served to whoever holds its unguessable address.
    assert _get(app, str(alice["path"])).status_code == 200


def test_song_addresses_are_unguessable_and_never_listed(app: Running, alice: dict) -> None:
    owner_dir, file_id = alice["path"].parent.name, alice["path"].stem
    assert re.fullmatch(r"[0-9a-f]{32}", owner_dir) and len(file_id) >= 22  # 128 + 128 random bits
    listing = httpx.get(f"{app.url}/gradio_api/file={app.library.audio_dir}", timeout=30)
    assert owner_dir.encode() not in listing.content
    client = Client(app.url, verbose=False)
    mine = client.predict(visitor_key=alice["key"], api_name="/library")
    assert [s["id"] for s in mine] == [alice["id"]]
    assert "owner" not in mine[0] and str(app.library.root) not in str(mine)


def test_another_visitor_reaches_nothing_through_any_handler(app: Running, alice: dict) -> None:
    from studio.ui import visitor

    bob, song_id = visitor.new_key(), alice["id"]
    client = Client(app.url, verbose=False)
    assert client.predict(visitor_key=bob, api_name="/library") == []
    assert client.predict(visitor_key=bob, query=song_id, api_name="/library") == []
    assert client.predict(visitor_key=bob, query="secret", api_name="/library") == []

    class Tapped:  # the song list's select event (studio.ui.library_view): which song, and what was tapped
        def __init__(self, action: str) -> None:
            self._data = {"song": song_id, "action": action}

    handlers = {
        "like": lambda: app.fn("like")(bob, [song_id] * 4),
        "reuse": lambda: app.fn("reuse")(bob, [song_id] * 4),
        "library like": lambda: app.fn("like_4")(bob, song_id),
        "library reuse": lambda: app.fn("reuse_4")(bob, song_id),
        "delete": lambda: app.fn("delete")(bob, song_id),
        "select": lambda: app.fn("select")(bob, Tapped("open")),
        "select like": lambda: app.fn("select")(bob, Tapped("like")),
    }
    for name, call in handlers.items():
        try:
            answer = call()
        except gr.Error as exc:
            assert "no song" in str(exc.message), f"{name}: {exc.message}"
        else:
            assert song_id not in str(answer) and "secret song" not in str(answer), name
    song = app.library.get(_owner(alice["key"]), song_id)
    assert not song.liked and song.audio_path.is_file()


def test_a_missing_or_forged_key_lists_nothing(app: Running, alice: dict) -> None:
    client = Client(app.url, verbose=False)
    for key in ("", "short", "../../etc/passwd", alice["key"][:-1] + "!", "x" * 200):
        try:
            songs = client.predict(visitor_key=key, api_name="/library")
        except Exception as exc:
            assert "visitor key is missing or malformed" in str(exc)
        else:
            raise AssertionError(f"key {key!r} listed {songs}")


def test_a_restore_upload_reads_only_song_cards(app: Running) -> None:
    restore = next(
        f.fn for f in app.demo.fns.values()
        if len(f.inputs) == 1 and isinstance(f.inputs[0], gr.File) and f.inputs[0].label and "song" in
        f.inputs[0].label.lower()
    )
    for path in ("/etc/passwd", str(app.library.db_path), "../../etc/passwd"):
        # A file that is not an uploaded song card leaves the form as it was and says so in the status
        # (issue 17.7), without a word of what the file holds.
        answer = restore(path)
        *fields, status = answer
        assert all(field == gr.update() for field in fields)
        assert "root:" not in str(answer) and "CREATE TABLE" not in str(answer) and "uploaded" in status, status


def test_uploads_over_the_cap_are_refused(app: Running) -> None:
    def upload(size: int) -> httpx.Response:
        files = {"files": ("song.wav", b"\0" * size, "audio/wav")}
        return httpx.post(f"{app.url}/gradio_api/upload", files=files, timeout=30)

    assert upload(10_000).status_code == 200
    big = upload(300_000)
    assert big.status_code == 413, big.status_code


def test_the_upload_cap_comes_from_the_setting(monkeypatch) -> None:
    from studio.ui import launch_options

    monkeypatch.setenv("STUDIO_MAX_UPLOAD", "5mb")
    assert launch_options()["max_file_size"] == "5mb"
    monkeypatch.delenv("STUDIO_MAX_UPLOAD")
    assert launch_options()["max_file_size"] == "100mb"


def test_a_visitor_cannot_unload_the_shared_models(app: Running) -> None:
    with pytest.raises(gr.Error, match="only the studio's owner can unload"):
        app.fn("unload_all")()
