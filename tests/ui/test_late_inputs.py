"""Raw positional bodies written before an endpoint's later inputs existed get their defaults
(studio.ui.late_inputs); the end-to-end calls are in test_api.py."""

from __future__ import annotations

import pytest

from studio.ui import late_inputs


def _handler(lyrics: str, style: str, partial: bool = False, keep_best: float = 0, request=None, progress=None):
    return lyrics, style, partial, keep_best


def test_a_short_body_gets_the_defaults_of_the_inputs_it_leaves_out(monkeypatch) -> None:
    monkeypatch.setattr(late_inputs, "_LATE", {})
    late_inputs.register("song", _handler)
    assert late_inputs.filled("song", ["la", "pop"]) == ["la", "pop", False, 0]
    assert late_inputs.filled("song", ["la", "pop", True]) == ["la", "pop", True, 0]
    assert late_inputs.filled("song", ["la", "pop", True, 2]) == ["la", "pop", True, 2]
    # Too short even for the first release: left for gradio to refuse, naming what is missing.
    assert late_inputs.filled("song", ["la"]) == ["la"]
    assert late_inputs.filled("other", ["la"]) == ["la"]


def test_only_the_positional_call_and_run_routes_are_rewritten() -> None:
    assert late_inputs._api_name("/gradio_api/call/generate") == "generate"
    assert late_inputs._api_name("/gradio_api/run/generate/") == "generate"
    assert late_inputs._api_name("/gradio_api/call/generate/abc123") is None  # the result stream
    assert late_inputs._api_name("/gradio_api/call/v2/generate") is None  # named: gradio fills defaults
    assert late_inputs._api_name("/gradio_api/queue/join") is None


def test_a_handler_with_a_default_before_a_required_input_is_refused(monkeypatch) -> None:
    monkeypatch.setattr(late_inputs, "_LATE", {})

    def odd(a: str = "", b: str = "x", c: int = 1) -> None: ...

    def worse(a: str, b: str = "", *, c: int) -> None: ...

    late_inputs.register("fine", odd)
    with pytest.raises(ValueError, match="inputs with defaults must come after those without"):
        late_inputs.register("worse", worse)
