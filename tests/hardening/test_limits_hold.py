"""Limits that hold against a launched app (issue 18 item 2): a spoofed X-Forwarded-For, throwaway
visitor keys and a busy GPU queue do not get a caller past the per-address limit or the queue caps,
and refused requests spend no rate-limit call."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from studio.ground.errors import StudioError

ARGS = ["[Verse]\nla", "pop", "acestep", 10, False, 1, 1, "", 0, "", "", "", '{"steps": 1}']


class Sentinel(StudioError):
    """What the fake GPU raises once it is let go: the call reached the render."""


@contextmanager
def held_gpu(monkeypatch) -> Iterator[tuple[threading.Event, list[str]]]:
    """The GPU function replaced by one that waits until released: jobs stay running or queued."""
    from studio.ui import runner

    release, reached = threading.Event(), []

    def render(prepared, *_a, **_k):
        request = prepared.request
        reached.append(request.lyrics)
        if "quick" not in request.lyrics:
            release.wait(60)
        raise Sentinel("rendered")

    monkeypatch.setattr(runner, "render_on_gpu", render)
    try:
        yield release, reached
    finally:
        release.set()


def join(url: str, data: list, headers: dict | None = None) -> httpx.Response:
    """POST /gradio_api/call/generate: 200 = joined the queue, 422 = refused before it (the validator)."""
    return httpx.post(f"{url.rstrip('/')}/gradio_api/call/generate", json={"data": [*data, False, False]},
                      headers=headers or {}, timeout=30)


def wait_for(condition, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_spoofed_forwarded_for_does_not_escape_the_per_address_limit(studio_app, monkeypatch) -> None:
    """A Space's proxy appends the address it saw; whatever a client wrote comes before it. Before,
    the first entry was believed: a new made-up address per call got a fresh bucket every time."""
    from studio import ratelimit
    from studio.ui import visitor

    monkeypatch.setattr(ratelimit, "ADDRESS", ratelimit.RateLimiter(env=ratelimit.ADDRESS_ENV, shared_default=None,
                                                                     per="address"))
    env = {"STUDIO_MULTI_USER": "1", "STUDIO_RATE_LIMIT": "off", "STUDIO_RATE_LIMIT_PER_ADDRESS": "1/3600",
           "STUDIO_TRUSTED_PROXY_HOPS": "1"}
    with held_gpu(monkeypatch) as (release, _), studio_app(**env) as url:
        release.set()
        proxy_saw = "198.51.100.7"
        first = join(url, [*ARGS, visitor.new_key()], {"X-Forwarded-For": f"10.0.0.1, {proxy_saw}"})
        assert first.status_code == 200, first.text
        done = httpx.get(f"{url.rstrip('/')}/gradio_api/call/generate/{first.json()['event_id']}", timeout=60)
        assert "rendered" in done.text, done.text  # it reached the GPU, so it spent the address's call
        for spoof in ("203.0.113.1", "203.0.113.2, 203.0.113.3", "::1"):
            again = join(url, [*ARGS, visitor.new_key()], {"X-Forwarded-For": f"{spoof}, {proxy_saw}"})
            assert again.status_code == 422 and "per address" in again.text, (spoof, again.text)
        # A different visitor behind the same proxy, at another address, has a bucket of their own.
        neighbour = join(url, [*ARGS, visitor.new_key()], {"X-Forwarded-For": "198.51.100.8"})
        assert neighbour.status_code == 200, neighbour.text


@pytest.mark.parametrize(
    ("env", "expected"),
    [({}, 0), ({"SPACE_ID": "me/studio"}, 1), ({"SPACE_ID": "me/studio", "STUDIO_TRUSTED_PROXY_HOPS": "2"}, 2)],
)
def test_only_a_space_trusts_a_proxy_hop_by_default(env, expected) -> None:
    from studio.ui import visitor

    assert visitor.trusted_proxy_hops(env) == expected

    class Request:
        def __init__(self) -> None:
            self.headers = {"x-forwarded-for": "6.6.6.6, 198.51.100.7, 10.1.2.3"}
            self.client = type("Peer", (), {"host": "10.0.0.9"})()

    with pytest.MonkeyPatch.context() as mp:
        for name in ("SPACE_ID", "STUDIO_TRUSTED_PROXY_HOPS"):
            mp.delenv(name, raising=False)
        for name, value in env.items():
            mp.setenv(name, value)
        # 0 hops: the socket peer; 1: what the last proxy appended; 2: the entry before it. Never 6.6.6.6.
        assert visitor.client_address(Request()) == ["10.0.0.9", "10.1.2.3", "198.51.100.7"][expected]


def test_a_bad_hop_count_says_how_to_write_it() -> None:
    from studio.ui import visitor

    with pytest.raises(StudioError, match=r"STUDIO_TRUSTED_PROXY_HOPS must be the number of proxies .* got 'one'"):
        visitor.trusted_proxy_hops({"STUDIO_TRUSTED_PROXY_HOPS": "one"})


def test_queue_caps_and_the_keyless_limit_refuse_before_the_queue_while_the_gpu_is_busy(
    studio_app, monkeypatch
) -> None:
    """One GPU slot, held by a running job. A keyless call past its address's rate (before, the
    validator got no request, so the address was "unknown" and this was found only after the wait), a
    second job of the same visitor and a job past the address's cap (with a fresh throwaway key) are all
    refused at once (422), not after waiting for the GPU; a job within the caps joins the queue."""
    from studio import ratelimit
    from studio.ui import visitor

    monkeypatch.setattr(ratelimit, "GPU", ratelimit.RateLimiter())
    env = {"STUDIO_MULTI_USER": "1", "STUDIO_RATE_LIMIT": "2/3600", "STUDIO_GPU_CONCURRENCY": "1",
           "STUDIO_QUEUED_PER_VISITOR": "1", "STUDIO_QUEUED_PER_ADDRESS": "2"}
    quick = ["[Verse]\nquick", *ARGS[1:]]
    with held_gpu(monkeypatch) as (release, reached), studio_app(**env) as url:
        for _ in range(2):  # no key: the address's bucket pays; its two calls of the hour
            first = join(url, [*quick, ""])
            done = httpx.get(f"{url.rstrip('/')}/gradio_api/call/generate/{first.json()['event_id']}", timeout=60)
            assert "rendered" in done.text, done.text
        alice = visitor.new_key()
        assert join(url, [*ARGS, alice]).status_code == 200
        wait_for(lambda: len(reached) == 3)  # alice's song holds the only GPU slot
        started = time.monotonic()
        keyless = join(url, [*quick, ""])
        assert keyless.status_code == 422 and "faster than this studio allows" in keyless.text, keyless.text
        second = join(url, [*ARGS, alice])
        assert second.status_code == 422, second.text
        assert "you already have 1 songs waiting or being made" in second.text, second.text
        bob = join(url, [*ARGS, visitor.new_key()])
        assert bob.status_code == 200, bob.text  # the address's second job: waits behind alice's
        throwaway = join(url, [*ARGS, visitor.new_key()])  # a fresh key does not make a fresh caller
        assert throwaway.status_code == 422 and "your network address already has 2 songs" in throwaway.text
        assert time.monotonic() - started < 20  # all answered while the GPU was still busy
        assert len(reached) == 3
        release.set()


def test_a_refused_request_spends_no_rate_limit_call(monkeypatch, tmp_path) -> None:
    """Validation, the budget guard, a bad LoRA (here a Hub id that climbs out of its folder) and an
    unusable upload refuse the request; the visitor's one call an hour is still there afterwards."""
    from studio import ratelimit
    from studio.library import Library
    from studio.song import SongRequest
    from studio.ui import runner

    monkeypatch.setenv("STUDIO_RATE_LIMIT", "1/3600")
    monkeypatch.setattr(ratelimit, "GPU", ratelimit.RateLimiter())
    calls: list[str] = []

    def render(prepared, *_a, **_k):
        request = prepared.request
        calls.append(request.lyrics)
        if request.options.get("loras"):
            from backends.acestep.lora import parse_lora_arg
            from backends.acestep.lora.sources import resolve

            resolve(parse_lora_arg(request.options["loras"][0]).source)  # what loading the LoRA does first
        raise Sentinel("rendered")

    monkeypatch.setattr(runner, "render_on_gpu", render)
    library = Library(tmp_path / "lib")
    song = {"style": "pop", "lyrics": "[Verse]\nla", "duration": 10, "options": {"steps": 1}}
    try:
        refused = [
            SongRequest(**{**song, "duration": 5000}),  # validation
            SongRequest(**{**song, "options": {"steps": 1, "loras": ["owner/name/../../../etc/x.safetensors"]}}),
            SongRequest(**{**song, "task": "repaint", "source_audio": str(tmp_path / "nope.wav"), "start": 1,
                           "end": 2}),
        ]
        for request in refused:
            with pytest.raises(StudioError) as caught:
                runner.make_songs(request, owner="alice", library=library)
            assert not isinstance(caught.value, (ratelimit.RateLimited, Sentinel)), caught.value
        monkeypatch.setenv("STUDIO_TIME_LIMIT", "1")  # the budget guard refuses any song
        with pytest.raises(StudioError, match="nothing was charged"):
            runner.make_songs(SongRequest(**song), owner="alice", library=library)
        monkeypatch.delenv("STUDIO_TIME_LIMIT")
        with pytest.raises(Sentinel):  # the one call of the hour, still unspent
            runner.make_songs(SongRequest(**song), owner="alice", library=library)
        with pytest.raises(ratelimit.RateLimited):
            runner.make_songs(SongRequest(**song), owner="alice", library=library)
    finally:
        library.close()
