"""The per-visitor GPU rate limit: its arithmetic, its setting, and that every GPU path spends it."""

from __future__ import annotations

import re

import gradio as gr
import pytest

from studio import ratelimit
from studio.ground.errors import StudioError
from studio.ratelimit import Rate, RateLimited, RateLimiter, parse_rate


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rates_parse_and_a_bad_setting_says_how_to_write_it() -> None:
    assert parse_rate("10/600") == Rate(10, 600.0)
    assert parse_rate(" off ") is None and parse_rate("0") is None and parse_rate("") is None
    for bad in ("ten", "10", "5/0", "-1/60", "3/nan", "1/-5"):
        with pytest.raises(StudioError, match="STUDIO_RATE_LIMIT must look like `10/600`"):
            parse_rate(bad)


def test_a_burst_then_one_call_per_interval_with_the_wait_in_seconds() -> None:
    clock = Clock()
    limiter = RateLimiter(Rate(3, 60), clock=clock)
    for _ in range(3):
        limiter.take("alice")
    with pytest.raises(RateLimited) as caught:
        limiter.take("alice")
    assert caught.value.retry_after_s == 20
    assert "(3 every 1 minute per visitor); try again in 20 s." in str(caught.value)
    limiter.take("bob")  # another visitor is not slowed down by alice
    clock.now += 19
    with pytest.raises(RateLimited, match="try again in 1 s"):
        limiter.take("alice")
    clock.now += 1
    limiter.take("alice")


def test_off_locally_and_on_for_a_shared_studio(monkeypatch) -> None:
    monkeypatch.delenv(ratelimit.ENV, raising=False)
    monkeypatch.delenv("SPACE_ID", raising=False)
    monkeypatch.setenv("STUDIO_MULTI_USER", "0")
    assert ratelimit.configured_rate() is None
    monkeypatch.setenv("STUDIO_MULTI_USER", "1")
    assert ratelimit.configured_rate() == parse_rate(ratelimit.SPACE_DEFAULT)
    monkeypatch.setenv(ratelimit.ENV, "off")
    assert ratelimit.configured_rate() is None
    monkeypatch.setenv(ratelimit.ENV, "2/60")
    limiter = RateLimiter(clock=Clock())
    limiter.take("k")
    limiter.take("k")
    with pytest.raises(RateLimited):
        limiter.take("k")


def test_many_visitors_do_not_grow_memory_without_bound(monkeypatch) -> None:
    monkeypatch.setattr(ratelimit, "_PRUNE_AT", 100)
    clock = Clock()
    limiter = RateLimiter(Rate(5, 5), clock=clock)
    for i in range(100):
        limiter.take(f"visitor-{i}")
    clock.now += 10  # every bucket is full again
    limiter.take("one-more")
    assert limiter.tracked() <= 2


@pytest.fixture
def tight_limit(monkeypatch):
    monkeypatch.setenv(ratelimit.ENV, "1/3600")
    monkeypatch.setenv("STUDIO_MULTI_USER", "1")
    monkeypatch.setattr(ratelimit, "GPU", RateLimiter())


class Sentinel(StudioError):
    pass


def test_the_generate_api_spends_the_callers_limit(app_fns, tight_limit, monkeypatch) -> None:
    from studio.ui import runner, visitor

    def fake_render(*_a, **_k):
        raise Sentinel("the GPU was asked")

    monkeypatch.setattr(runner, "render_on_gpu", fake_render)
    call = app_fns("generate")

    class Request:
        def __init__(self) -> None:
            self.headers = {"x-forwarded-for": "203.0.113.7, 10.0.0.1"}
            self.client = None

    args = ["[Verse]\nla", "pop", "acestep", 30, False, 1, 1, "", 0, "", "", "", "{}"]
    with pytest.raises(gr.Error, match="the GPU was asked"):
        call(*args, "", request=Request())
    # No key: a fresh key per call must not mean a fresh limit - the address is what counts.
    with pytest.raises(gr.Error, match=r"try again in \d+ s"):
        call(*args, "", request=Request())
    key = visitor.new_key()
    with pytest.raises(gr.Error, match="the GPU was asked"):
        call(*args, key, request=Request())
    with pytest.raises(gr.Error, match=r"faster than this studio allows .* try again in \d+ s"):
        call(*args, key, request=Request())


def test_write_for_me_spends_the_visitors_limit(tight_limit, monkeypatch, tmp_path) -> None:
    from studio.library import Library
    from studio.ui import build_app, runner, visitor

    def fake_describe(*_a, **_k):
        raise Sentinel("the planner was asked")

    monkeypatch.setattr(runner, "describe_on_gpu", fake_describe)
    demo = build_app(library=Library(tmp_path / "lib"))
    block = next(f for f in demo.fns.values() if f.api_name == "write_song")
    data = _sketch_form(block)
    data[next(c for c in block.inputs if isinstance(c, gr.BrowserState))] = visitor.new_key()
    # A sketch's outcome is the status sentence (the form is left as it was), not an Error badge per control.
    assert "the planner was asked" in block.fn(data)[-1]
    assert re.search(r"song sketches faster .* try again in \d+ s", block.fn(data)[-1])


def test_a_refused_description_spends_no_call(tight_limit, monkeypatch, tmp_path) -> None:
    from studio.library import Library
    from studio.ui import build_app, runner, visitor

    monkeypatch.setattr(runner, "describe_on_gpu", lambda *_a, **_k: ({}, False, {}))  # draft, held, measured
    demo = build_app(library=Library(tmp_path / "lib"))
    block = next(f for f in demo.fns.values() if f.api_name == "write_song")
    data = _sketch_form(block)
    data[next(c for c in block.inputs if isinstance(c, gr.BrowserState))] = visitor.new_key()
    description = next(c for c in block.inputs if getattr(c, "label", "") == "Describe the song")
    empty = {**data, description: "   "}
    for _ in range(3):
        assert "describe the song first" in block.fn(empty)[-1]
    assert "written" in block.fn(data)[-1]  # the one call of the hour is still there


def _sketch_form(block) -> dict:
    data = {c: getattr(c, "value", None) for c in block.inputs}
    description = next(c for c in block.inputs if getattr(c, "label", "") == "Describe the song")
    data[description] = "a calm song about the sea"
    return data


def address_limiter() -> RateLimiter:
    return RateLimiter(env=ratelimit.ADDRESS_ENV, shared_default=None, per="address")


def test_fresh_visitor_keys_do_not_escape_the_per_address_limit(monkeypatch) -> None:
    monkeypatch.setenv(ratelimit.ENV, "2/60")
    monkeypatch.setenv(ratelimit.ADDRESS_ENV, "3/60")
    monkeypatch.setattr(ratelimit, "GPU", RateLimiter())
    monkeypatch.setattr(ratelimit, "ADDRESS", address_limiter())
    for i in range(3):
        ratelimit.take_gpu(f"invented-key-{i}", "198.51.100.9")
    with pytest.raises(RateLimited, match=r"\(3 every 1 minute per address\); try again in 20 s"):
        ratelimit.take_gpu("invented-key-3", "198.51.100.9")
    ratelimit.take_gpu("invented-key-3", "198.51.100.10")  # a neighbour's address has its own bucket


def test_a_call_the_visitor_limit_refuses_does_not_spend_the_address(monkeypatch) -> None:
    monkeypatch.setenv(ratelimit.ENV, "1/60")
    monkeypatch.setenv(ratelimit.ADDRESS_ENV, "2/60")
    monkeypatch.setattr(ratelimit, "GPU", RateLimiter())
    monkeypatch.setattr(ratelimit, "ADDRESS", address_limiter())
    ratelimit.take_gpu("alice", "198.51.100.9")
    for _ in range(3):  # refused by alice's own bucket; the address keeps its one remaining call
        with pytest.raises(RateLimited, match="per visitor"):
            ratelimit.take_gpu("alice", "198.51.100.9")
    ratelimit.take_gpu("bob", "198.51.100.9")
    with pytest.raises(RateLimited, match="per address"):
        ratelimit.take_gpu("carol", "198.51.100.9")


def test_the_per_address_limit_is_off_unless_set_even_on_a_space(monkeypatch) -> None:
    monkeypatch.delenv(ratelimit.ADDRESS_ENV, raising=False)
    monkeypatch.setenv("STUDIO_MULTI_USER", "1")
    assert ratelimit.ADDRESS.rate() is None
    monkeypatch.setenv(ratelimit.ADDRESS_ENV, "often")
    with pytest.raises(StudioError, match="STUDIO_RATE_LIMIT_PER_ADDRESS must look like `10/600`"):
        ratelimit.ADDRESS.rate()


def test_the_ui_and_api_spend_the_address_bucket(app_fns, monkeypatch, tmp_path) -> None:
    from studio.library import Library
    from studio.ui import build_app, runner, visitor

    monkeypatch.setenv("STUDIO_MULTI_USER", "1")
    monkeypatch.setenv(ratelimit.ENV, "off")
    monkeypatch.setenv(ratelimit.ADDRESS_ENV, "1/3600")
    monkeypatch.setenv("STUDIO_TRUSTED_PROXY_HOPS", "1")  # the header below is what a Space's proxy writes
    monkeypatch.setattr(ratelimit, "ADDRESS", address_limiter())

    def fake(*_a, **_k):
        raise Sentinel("the GPU was asked")

    monkeypatch.setattr(runner, "render_on_gpu", fake)
    monkeypatch.setattr(runner, "describe_on_gpu", fake)

    class Request:
        def __init__(self, address: str) -> None:
            self.headers = {"x-forwarded-for": address}
            self.client = None
            self.session_hash = "s"

    call = app_fns("generate")
    args = ["[Verse]\nla", "pop", "acestep", 30, False, 1, 1, "", 0, "", "", "", "{}"]
    with pytest.raises(gr.Error, match="the GPU was asked"):
        call(*args, visitor.new_key(), request=Request("203.0.113.7"))
    with pytest.raises(gr.Error, match="per address"):  # a brand-new key from the same address
        call(*args, visitor.new_key(), request=Request("203.0.113.7"))

    demo = build_app(library=Library(tmp_path / "lib"))
    block = next(f for f in demo.fns.values() if f.api_name == "write_song")
    data = _sketch_form(block)
    key = next(c for c in block.inputs if isinstance(c, gr.BrowserState))
    data[key] = visitor.new_key()
    assert re.search(r"the (planner|GPU) was asked", block.fn(data, Request("203.0.113.8"))[-1])
    data[key] = visitor.new_key()
    assert re.search(r"song sketches faster .* per address", block.fn(data, Request("203.0.113.8"))[-1])
