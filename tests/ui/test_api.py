"""The named API endpoints, driven by gradio_client against the app launched in the test."""

from __future__ import annotations

import soundfile as sf
from gradio_client import Client


def _generate(client: Client, **kw):
    args = {"lyrics": "[Verse]\nneon lights", "style": "synth pop", "duration": 10, "seed": 7, **kw}
    return client.predict(**args, api_name="/generate")


def test_generate_returns_audio_of_the_right_length_and_a_library_entry(studio_app, tmp_path) -> None:
    with studio_app() as url:
        client = Client(url, verbose=False)
        audio, takes, info = _generate(client, takes=2, options='{"steps": 2}')
        data, rate = sf.read(audio)
        assert rate == 48_000 and data.shape == (10 * 48_000, 2)
        assert len(takes) == 2
        songs = info["songs"]
        assert [s["seed"] for s in songs] == [7, 8] and songs[0]["duration"] == 10
        listed = client.predict(api_name="/library")
        assert {s["id"] for s in listed} == {s["id"] for s in songs}
        assert "path" not in str(listed[0].keys()) and "owner" not in listed[0]


def test_format_plan_and_backends_answer_without_the_queue(studio_app) -> None:
    with studio_app() as url:
        client = Client(url, verbose=False)
        formatted = client.predict(lyrics="[Verse]\nhello", style="pop", api_name="/format_lyrics")
        assert formatted["lyrics"] == "[Verse]\nhello" and formatted["ok"] is True
        backends = client.predict(api_name="/backends")
        by_name = {b["name"]: b for b in backends}
        assert by_name["acestep"]["available"] and by_name["acestep"]["max_duration_s"] == 600
        assert by_name["levo2"]["commercial_use"] is False and by_name["levo2"]["licence_note"]
        assert all(b["available"] or b["reason"] for b in backends)
        plan = client.predict(style="pop", duration=30, api_name="/plan")
        assert plan["backend"] == "acestep" and plan["decision"] and plan["estimate"]["total_s"] > 0
        try:
            client.predict(lyrics="x", style="pop", duration=5, api_name="/plan")
        except Exception as exc:
            assert "`duration` must be >= 10 s for ACE-Step 1.5 XL turbo, got 5" in str(exc)
        else:
            raise AssertionError("a too-short duration was planned")


def test_library_survives_a_restart_and_visitors_are_isolated(studio_app, tmp_path) -> None:
    library_dir = tmp_path / "persistent"
    env = {"STUDIO_MULTI_USER": "1"}
    with studio_app(library_dir, **env) as url:
        client = Client(url, verbose=False)
        _, _, alice = _generate(client, options='{"steps": 1}')
        alice_key = alice["visitor_key"]
        _, _, bob = _generate(client, style="folk", options='{"steps": 1}')
        bob_key = bob["visitor_key"]
        assert alice_key and bob_key and alice_key != bob_key
    with studio_app(library_dir, **env) as url:  # a fresh process-level app on the same folder
        client = Client(url, verbose=False)
        alice_songs = client.predict(visitor_key=alice_key, api_name="/library")
        bob_songs = client.predict(visitor_key=bob_key, api_name="/library")
        assert [s["id"] for s in alice_songs] == [alice["songs"][0]["id"]]
        assert [s["id"] for s in bob_songs] == [bob["songs"][0]["id"]]
        assert client.predict(visitor_key=bob_key, query="synth", api_name="/library") == []
        try:
            client.predict(visitor_key="short", api_name="/library")
        except Exception as exc:
            assert "visitor key is missing or malformed" in str(exc)
        else:
            raise AssertionError("a malformed visitor key listed songs")
