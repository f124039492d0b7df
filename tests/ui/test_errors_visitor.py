"""Errors a visitor sees, and how visitors are told apart."""

from __future__ import annotations

import logging
import re

import gradio as gr
import pytest

from backends.base import StudioError
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
