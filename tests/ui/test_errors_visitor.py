"""Errors a visitor sees, and how visitors are told apart."""

from __future__ import annotations

import logging
import re

import gradio as gr
import pytest

from studio.ground.errors import StudioError
from studio.ui import visitor
from studio.ui.errors import user_errors


def test_user_errors_pass_through_and_unexpected_ones_get_a_logged_id(caplog) -> None:
    @user_errors
    def mine() -> None:
        raise StudioError("`duration` must be <= 600 s; shorten the song.")

    @user_errors
    def ours() -> None:
        raise KeyError("boom")

    with pytest.raises(gr.Error) as info:
        mine()
    assert info.value.message == "`duration` must be <= 600 s; shorten the song."
    with caplog.at_level(logging.ERROR, logger="studio.ui"), pytest.raises(gr.Error) as info:
        ours()
    error_id = re.search(r"error id ([0-9a-f]{8})", info.value.message).group(1)
    assert "boom" not in info.value.message and error_id in caplog.text and "KeyError" in caplog.text


def test_owners_local_and_multi_user(monkeypatch) -> None:
    monkeypatch.delenv("SPACE_ID", raising=False)
    monkeypatch.delenv(visitor.MULTI_USER_ENV, raising=False)
    assert visitor.owner_for(None) == "local"
    monkeypatch.setenv("SPACE_ID", "someone/song-studio")
    key = visitor.ensure_key(None)
    assert visitor.valid_key(key) and visitor.ensure_key(key) == key
    owner = visitor.owner_for(key)
    assert (
        owner != key and owner == visitor.owner_for(key) and owner != visitor.owner_for(visitor.new_key())
    )
    with pytest.raises(StudioError, match="visitor key is missing"):
        visitor.owner_for("../../etc")


def test_an_unexpected_error_with_advice_shows_the_advice_with_its_id(caplog) -> None:
    """Issue 17.9: a shape check or a bad checkpoint says what to do, yet the visitor only read "Something
    went wrong". The sentence is shown (server paths cut to file names), the id is logged either way."""

    @user_errors
    def bad_weights() -> None:
        try:
            raise OSError("/root/.cache/huggingface/hub/models--x/model.safetensors is incomplete")
        except OSError as exc:
            raise RuntimeError("loading failed; delete model.safetensors and download the weights again") from exc

    @user_errors
    def shapes() -> None:
        raise ValueError("`audio` must have 2 channels, got 6; mix it down to stereo first.")

    with caplog.at_level(logging.ERROR, logger="studio.ui"), pytest.raises(gr.Error) as info:
        bad_weights()
    message = info.value.message
    assert message.startswith("loading failed; delete model.safetensors and download the weights again")
    assert re.search(r"error id ([0-9a-f]{8})", message, re.I).group(1) in caplog.text
    with pytest.raises(gr.Error, match="must have 2 channels, got 6; mix it down"):
        shapes()
    with pytest.raises(gr.Error) as info:  # the path of a file on this server never reaches the page
        user_errors(lambda: (_ for _ in ()).throw(OSError("/srv/secret/weights/x.bin must be readable")))()
    assert "/srv/secret" not in info.value.message and "x.bin must be readable" in info.value.message


def test_paths_in_sentences_become_the_setting_on_a_shared_studio(monkeypatch, tmp_path) -> None:
    """Issue 17: a backend's own error named the server's weights folder in the toast. A visitor of a shared
    studio reads the setting instead; the owner of a local studio keeps the path (the quickest way to it)."""
    from studio.ui.errors import for_visitors

    folder = tmp_path / "no-levo-weights"
    monkeypatch.setenv("STUDIO_LEVO2_WEIGHTS", str(folder))
    # The sentence backends/levo/spec.py writes for a folder without its files.
    said = (f"The folder {folder} (from STUDIO_LEVO2_WEIGHTS) has no config.yaml; "
            "point STUDIO_LEVO2_WEIGHTS at a full copy.")
    assert for_visitors(said, shared=False) == said
    assert for_visitors(said, shared=True) == (
        "The folder set by STUDIO_LEVO2_WEIGHTS has no config.yaml; point STUDIO_LEVO2_WEIGHTS at a full copy."
    )
    assert for_visitors(f"could not read {folder}/model.pt.", shared=True) == (
        "could not read a file in the folder set by STUDIO_LEVO2_WEIGHTS."
    )
    assert for_visitors(f"the folder STUDIO_LEVO2_WEIGHTS={folder} does not exist.", shared=True) == (
        "the folder STUDIO_LEVO2_WEIGHTS does not exist."
    )
    # A path no setting names, next to a URL and a word with slashes that are not paths.
    mixed = "/srv/x/y broke; see https://huggingface.co/org/repo/tree/main and/or ask"
    assert for_visitors(mixed, shared=True) == (
        "a location on the server broke; see https://huggingface.co/org/repo/tree/main and/or ask"
    )
    monkeypatch.setenv(visitor.MULTI_USER_ENV, "1")

    @user_errors
    def backend_failed() -> None:
        raise StudioError(said)

    with pytest.raises(gr.Error) as info:
        backend_failed()
    assert str(folder) not in info.value.message and "set by STUDIO_LEVO2_WEIGHTS" in info.value.message


def test_a_shared_studio_names_the_setting_not_the_folder_in_the_api_error(studio_app, tmp_path) -> None:
    """The real failure through the launched app: LeVo 2 pointed at an empty folder, asked for over the API
    by a visitor of a shared studio, then by the owner of a local one."""
    from gradio_client import Client

    empty = tmp_path / "no-levo-weights"
    empty.mkdir()
    env = {"STUDIO_LEVO2_WEIGHTS": str(empty), "STUDIO_LEVO2_RUNTIME": str(empty), "STUDIO_RATE_LIMIT": "off"}
    said = {}
    for shared in ("1", "0"):
        with studio_app(library_dir=tmp_path / f"library-{shared}", STUDIO_MULTI_USER=shared, **env) as url:
            client = Client(url, verbose=False)
            with pytest.raises(Exception) as info:
                client.predict(lyrics="[Verse]\na line", style="pop", backend="levo2", duration=30,
                               api_name="/generate")
            said[shared] = str(info.value)
    assert "LeVo 2" in said["1"] and "STUDIO_LEVO2_WEIGHTS" in said["1"], said["1"]
    assert str(tmp_path) not in said["1"], said["1"]
    assert str(empty) in said["0"], said["0"]


def test_the_live_estimate_line_names_the_setting_on_a_shared_studio(monkeypatch, tmp_path) -> None:
    """The line beside Generate repeats a refusal's sentence too (before anything is pressed)."""
    from types import SimpleNamespace

    from studio.ui.app import _estimate_line

    folder = tmp_path / "no-levo-weights"
    monkeypatch.setenv("STUDIO_LEVO2_WEIGHTS", str(folder))

    def refused(_data: dict) -> None:
        raise StudioError(f"The folder {folder} (from STUDIO_LEVO2_WEIGHTS) has no config.yaml.")

    form = SimpleNamespace(request_from=refused)
    monkeypatch.setenv(visitor.MULTI_USER_ENV, "1")
    assert _estimate_line(form, {}, None) == "⏱ The folder set by STUDIO_LEVO2_WEIGHTS has no config.yaml."
    monkeypatch.setenv(visitor.MULTI_USER_ENV, "0")
    assert str(folder) in _estimate_line(form, {}, None)
