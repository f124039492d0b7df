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
