"""The visitor's ZeroGPU tier, read from the request (fake headers and sign-ins, no network)."""

from __future__ import annotations

import base64
import json
from types import SimpleNamespace

import pytest

from studio.budget.tiers import Tier
from studio.budget.visitor_tier import token_payload, visitor_tier
from studio.song import SongRequest
from studio.ui import seams, visitor

ZERO = {"SPACES_ZERO_GPU": "true"}


def jwt(payload: dict) -> str:
    body = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    return f"eyJhbGciOiJub25lIn0.{body}.sig"


@pytest.mark.parametrize(
    ("headers", "userinfo", "env", "tier"),
    [
        ({}, None, {}, Tier.LOCAL),  # off ZeroGPU
        ({}, None, ZERO, Tier.ANONYMOUS),  # no token: IP quota
        ({"X-IP-Token": jwt({"error": "InvalidRepoToken"})}, None, ZERO, Tier.ANONYMOUS),
        ({"x-ip-token": jwt({"sub": "visitor"})}, None, ZERO, Tier.ANONYMOUS),  # a token alone tells nothing
        ({"x-ip-token": jwt({})}, {"preferred_username": "ana", "isPro": False}, ZERO, Tier.FREE),
        ({"x-ip-token": jwt({})}, {"preferred_username": "ana", "isPro": True}, ZERO, Tier.PRO),
        ({}, {"preferred_username": "ana", "isPro": True}, {**ZERO, "STUDIO_TIER": "free"}, Tier.FREE),
        ({}, None, {"STUDIO_TIER": "pro"}, Tier.PRO),  # the override wins everywhere
    ],
)
def test_tier_from_request(headers, userinfo, env, tier) -> None:
    found = visitor_tier(headers, userinfo, env=env)
    assert found.tier is tier and found.reason


def test_token_payload_is_read_leniently() -> None:
    assert token_payload(jwt({"error": "x"})) == {"error": "x"}
    assert token_payload("not-a-jwt") == {} and token_payload("a.%%%.c") == {}


def fake_request(headers: dict, userinfo: dict | None = None, as_attributes: bool = False) -> SimpleNamespace:
    """Shaped like gr.Request: headers (a mapping, or plain attributes when rebuilt from a queue)
    and the starlette request whose scope holds the sign-in session."""
    session = {"oauth_info": {"userinfo": userinfo}} if userinfo else {}
    head = SimpleNamespace(**headers) if as_attributes else headers
    return SimpleNamespace(headers=head, request=SimpleNamespace(scope={"session": session}))


def test_ui_reads_headers_and_sign_in_from_gradio_requests(monkeypatch) -> None:
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    monkeypatch.delenv("STUDIO_TIER", raising=False)
    assert visitor.tier_of(None) == "anonymous"
    assert visitor.tier_of(fake_request({"x-ip-token": jwt({})})) == "anonymous"
    assert visitor.tier_of(fake_request({"x_ip_token": "t"}, as_attributes=True)) == "anonymous"
    assert visitor.tier_of(fake_request({}, {"isPro": False, "preferred_username": "a"})) == "free"
    assert visitor.tier_of(fake_request({}, {"isPro": True, "preferred_username": "a"})) == "pro"


def test_the_live_estimate_uses_the_visitors_cap(monkeypatch) -> None:
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    monkeypatch.setenv("STUDIO_ZEROGPU_SLICE_FACTOR", "1")  # no GPU driver to read here
    monkeypatch.delenv("STUDIO_TIER", raising=False)
    request = SongRequest(style="pop", duration=60)
    pro = visitor.tier_of(fake_request({}, {"isPro": True, "preferred_username": "a"}))
    assert "cap 5:00" in seams.estimate_line(request, pro)
    assert "cap 2:00" in seams.estimate_line(request, visitor.tier_of(fake_request({})))
