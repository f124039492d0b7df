"""The named API endpoints, driven by gradio_client against the app launched in the test."""

from __future__ import annotations

import json

import soundfile as sf
from gradio_client import Client

from studio.request import checks
from studio.request import prepare as road


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


def _call_raw(url: str, endpoint: str, data: list) -> str:
    """Call an endpoint over plain HTTP (what a hand-written client sends), returning the event stream,
    or "refused <status>: <body>" when the call is turned away before it joins the queue."""
    import httpx

    base = f"{url.rstrip('/')}/gradio_api/call/{endpoint}"
    joined = httpx.post(base, json={"data": data}, timeout=30)
    if joined.status_code != 200:
        return f"refused {joined.status_code}: {joined.text}"
    return httpx.get(f"{base}/{joined.json()['event_id']}", timeout=60).text


def _song(path, seconds: float = 11.0):
    import numpy as np

    t = np.arange(round(seconds * 48_000)) / 48_000
    wave = np.stack([0.3 * np.sin(2 * np.pi * 220 * t), 0.3 * np.sin(2 * np.pi * 330 * t)], axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), wave.astype("float32"), 48_000)
    return path


def test_edit_repaints_an_uploaded_song_and_refuses_a_server_path(studio_app, tmp_path) -> None:
    from gradio_client import handle_file

    source = _song(tmp_path / "mine" / "demo.wav")
    with studio_app() as url:
        client = Client(url, verbose=False)
        audio, takes, info = client.predict(
            source=handle_file(str(source)), task="repaint", start=3, end=6, style="lofi piano", seed=5,
            options='{"steps": 1}', api_name="/edit",
        )
        made, rate = sf.read(audio, always_2d=True)
        original, _ = sf.read(str(source), always_2d=True)
        assert rate == 48_000 and made.shape == original.shape  # a repaint is as long as its source
        [song] = info["songs"]
        assert song["request"]["task"] == "repaint" and song["title"] == "demo (Repaint)"
        assert len(takes) == 1 and song["seed"] == 5
        # A path on the server (here the very file just uploaded from) is never opened.
        try:
            client.predict(source=str(source), task="repaint", start=3, end=6, api_name="/edit")
        except Exception as exc:
            assert "the song to edit must be a file uploaded here" in str(exc), str(exc)
        else:
            raise AssertionError("a server path was edited")
        # Sent as file data without the client's upload, gradio itself refuses to read it, before the
        # call joins the queue.
        file_data = {"path": str(source), "meta": {"_type": "gradio.FileData"}}
        inputs = [file_data, "repaint", 3, 6, None, "", None, "", "", -1, 1, "{}", "", "", "", False]
        raw = _call_raw(url, "edit", inputs)
        assert raw.startswith("refused 400") and "not uploaded by a user" in raw, raw
        assert [s["id"] for s in client.predict(api_name="/library")] == [song["id"]]
        try:
            client.predict(source=handle_file(str(source)), task="cover", start=3, api_name="/edit")
        except Exception as exc:
            assert "`start` is not used by the cover task" in str(exc), str(exc)
        else:
            raise AssertionError("a cover took a start time")


def test_tasks_say_which_weights_each_task_loads(studio_app) -> None:
    with studio_app() as url:
        client = Client(url, verbose=False)
        tasks = {t["task"]: t for t in client.predict(api_name="/tasks")}
        assert {"text2music", "cover", "repaint", "extend", "extract"} <= set(tasks)
        extract = tasks["extract"]
        assert extract["weights_name"] == "ACE-Step 1.5 XL base" and extract["extra_weights"] is True
        assert extract["weights_env"] == "STUDIO_ACESTEP_BASE_WEIGHTS" and extract["download_gb"] > 0
        assert extract["track"] == "required" and "vocals" in extract["tracks"]
        assert tasks["repaint"]["uses_range"] and not tasks["repaint"]["extra_weights"]
        assert tasks["extend"]["uses_extend"] and tasks["cover"]["uses_strength"]
        # The main weights are a folder on this (test) server: named as such, not by their path.
        assert tasks["repaint"]["weights"] == "a folder on this server"
        try:
            client.predict(backend="nope", api_name="/tasks")
        except Exception as exc:
            assert "nope" in str(exc), str(exc)
        else:
            raise AssertionError("an unknown backend listed tasks")


def test_generate_takes_partial_last_so_positional_callers_keep_working(studio_app) -> None:
    from studio.ui.api import _request

    # Token-based models keep a song cut short when asked; ACE-Step renders whole songs only.
    assert _request("[Verse]\nhi", "pop", "levo2", 30, False, partial=True).partial is True
    kept = _request("[Verse]\nhi", "pop", "acestep", 30, False, partial=True)
    assert kept.partial is True  # passed on, and the service says it has no effect here
    assert any("`partial` has no effect on ACE-Step" in w for w in checks.check_request(kept).warnings)
    old = ["[Verse]\nneon", "synth pop", "acestep", 10, False, 1, 3, "", 0, "", "", "", '{"steps": 1}', ""]
    with studio_app() as url:
        client = Client(url, verbose=False)
        params = client.view_api(return_format="dict", print_info=False)["named_endpoints"]["/generate"]
        added = params["parameters"][-3:]  # inputs added after the first release, each with a default
        assert [(p["parameter_name"], p["parameter_default"]) for p in added] == [
            ("partial", False),
            ("fit_budget", False),
            ("keep_best", 0),
        ]
        _, _, before = client.predict(*old, api_name="/generate")  # written before `partial` existed
        _, _, after = client.predict(*old, True, api_name="/generate")
        assert before["songs"][0]["seed"] == after["songs"][0]["seed"] == 3
        assert before["songs"][0]["request"]["partial"] is False
        # Hand-written clients post a bare positional list (e176994: one without `keep_best` was refused
        # once it became an input). Bodies written for each earlier release still run; the new input works.
        for release in (old, [*old, False], [*old, False, False]):
            raw = _call_raw(url, "generate", release)
            assert "event: complete" in raw and '"seed": 3' in raw.replace('"seed":3', '"seed": 3'), raw[-400:]
        two = [*old[:5], 2, *old[6:]]
        best = _call_raw(url, "generate", [*two, False, False, 1])
        assert "event: complete" in best, best[-400:]
        info = json.loads(best.split("data: ", 1)[1].splitlines()[0])[2]
        assert len(info["songs"]) == 1 and info["best_first"] == [0]
        # Too few even for the first release: gradio's refusal, not a padded call.
        assert not _call_raw(url, "generate", old[:5]).startswith("event: complete")


def test_best_of_n_over_the_api_keeps_the_best_takes(studio_app) -> None:
    with studio_app() as url:
        client = Client(url, verbose=False)
        _, kept, info = _generate(client, takes=3, keep_best=2, options='{"steps": 1}')
        assert len(kept) == 2 and len(info["songs"]) == 2 and info["best_first"] == [0, 1]
        assert {s["seed"] for s in info["songs"]} <= {7, 8, 9}
        # The dropped take is not in the library either.
        assert {s["id"] for s in client.predict(api_name="/library")} == {s["id"] for s in info["songs"]}
        try:
            _generate(client, takes=2, keep_best=2, options='{"steps": 1}')
        except Exception as exc:
            assert "`keep_best` must be below `takes` (2) to choose among them, got 2" in str(exc), str(exc)
        else:
            raise AssertionError("keeping as many takes as were made was accepted as best of N")


def test_a_bad_request_or_a_caller_over_the_limit_is_refused_before_joining_the_gpu_queue(
    studio_app, monkeypatch
) -> None:
    """What the queued call would refuse after waiting for a GPU, the endpoint refuses at once (HTTP
    422 naming the input, gradio_client's ValidationError), with the same sentence."""
    from studio import ratelimit
    from studio.ui import visitor

    monkeypatch.setenv(ratelimit.ENV, "1/3600")
    monkeypatch.setattr(ratelimit, "GPU", ratelimit.RateLimiter())
    args = ["[Verse]\nla", "pop", "acestep", 10, False, 1, 1, "", 0, "", "", "", '{"steps": 1}']
    with studio_app(STUDIO_MULTI_USER="1") as url:
        bad = _call_raw(url, "generate", [*args[:3], 5000, *args[4:], "", False, False])
        assert bad.startswith("refused 422") and "`duration` must be <=" in bad, bad
        client = Client(url, verbose=False)
        key = visitor.new_key()
        client.predict(*args, key, api_name="/generate")  # the one call the limit allows
        over = _call_raw(url, "generate", [*args, key, False, False])
        assert over.startswith("refused 422") and '"parameter_name":"visitor_key"' in over, over
        assert "try again in" in over
        try:
            client.predict(*args, key, api_name="/generate")
        except Exception as exc:
            assert "visitor_key" in str(exc) and "try again in" in str(exc), str(exc)
        else:
            raise AssertionError("a caller over the limit was queued")
        # Checking spent nothing: the one song made is still the only one, and the limit counts it once.
        assert len(client.predict(visitor_key=key, api_name="/library")) == 1
        # A song the budget guard would refuse (here a maintainer's 1 s limit) is refused at once too.
        monkeypatch.setenv("STUDIO_TIME_LIMIT", "1")
        long = _call_raw(url, "generate", [*args[:3], 600, *args[4:], visitor.new_key(), False, False])
        assert long.startswith("refused 422") and "nothing was charged" in long, long


def test_fit_budget_lightens_a_song_that_would_not_fit_and_says_how(studio_app, monkeypatch) -> None:
    from studio.song import SongRequest

    monkeypatch.delenv("STUDIO_TIME_LIMIT", raising=False)
    asked = SongRequest(style="synth pop", lyrics="[Verse]\nneon", duration=10, takes=2, options={"steps": 1})
    one = road.plan(asked.model_copy(update={"takes": 1}), "local").reservation.needed_s
    two = road.plan(asked, "local").reservation.needed_s
    monkeypatch.setenv("STUDIO_TIME_LIMIT", str((one + two) // 2))  # one take fits, two do not
    with studio_app() as url:
        client = Client(url, verbose=False)
        plan = client.predict(style="synth pop", duration=10, takes=2, steps=1, fit_budget=True, api_name="/plan")
        assert plan["decision"] == "adjusted" and plan["request"]["takes"] == 1
        try:
            _generate(client, takes=2, options='{"steps": 1}')
        except Exception as exc:  # not asked to fit: refused before the queue, nothing made
            assert "nothing was charged" in str(exc), str(exc)
        else:
            raise AssertionError("a request over the limit was made")
        _, takes, info = _generate(client, takes=2, options='{"steps": 1}', fit_budget=True)
        assert len(takes) == 1
        assert info["warnings"][0].startswith("Fitted to your budget: made 1 take(s) instead of 2")
        [song] = client.predict(api_name="/library")
        assert song["request"]["fit_budget"] is True  # one song: the one take that fitted
