"""The Edit view and the Create view's LoRA controls, driven through the handlers the built app runs.

The app is built (not launched) on the tiny ACE-Step weights; each handler is the exact function gradio
calls, with the same error handling, so a refusal here is the sentence a visitor would see.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest
import soundfile as sf

from studio.ground.errors import StudioError
from studio.library import Library
from studio.ui import build_app, runner
from studio.ui.runner import STUDIO

RATE = 48_000


def _song(path: Path, seconds: float = 11.0) -> Path:
    t = np.arange(round(seconds * RATE)) / RATE
    wave = np.stack([0.3 * np.sin(2 * np.pi * 220 * t), 0.3 * np.sin(2 * np.pi * 330 * t)], axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), wave.astype(np.float32), RATE)
    return path


@pytest.fixture
def app(tiny_acestep_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "uploads"))
    monkeypatch.setenv("STUDIO_ACESTEP_WEIGHTS", str(tiny_acestep_dir))
    monkeypatch.setenv("STUDIO_DEVICE", "cpu")
    library = Library(tmp_path / "library")
    demo = build_app(library=library)
    views = SimpleNamespace(demo=demo, library=library, uploads=tmp_path / "uploads")
    views.fns = {fn.api_name: fn.fn for fn in demo.fns.values() if fn.api_name}
    yield views
    library.close()
    STUDIO.cache.unload_all()


def _edit_view(demo):
    return demo.studio_views["edit"]


def _owner() -> str:
    from studio.ui import visitor

    return visitor.owner_for(None)  # locally everyone is the one owner


def _form(edit, source: str | None, key=None, **values):
    data = {key: None} if key is not None else {}
    data |= {
        edit.backend: "acestep",
        edit.task: "repaint",
        edit.source: source,
        edit.start: 3.0,
        edit.end: 6.0,
        edit.extend_by: 10.0,
        edit.cover_strength: 0.8,
        edit.track: None,
        edit.style: "lofi piano",
        edit.lyrics: "",
        edit.seed: 7,
        edit.takes: 1,
        edit.fit_budget: False,
        edit.source_title: "",
    }
    data.update({getattr(edit, k): v for k, v in values.items()})
    return data


def test_a_repaint_made_in_the_edit_view_keeps_the_source_outside_the_range(app) -> None:
    edit = _edit_view(app.demo)
    source = _song(app.uploads / "abc" / "demo.wav")
    data = _form(edit, str(source))
    events: list[tuple[float, str]] = []
    data[app.demo.studio_views["key"]] = None
    out = app.fns["ui_edit"](data, SimpleNamespace(session_hash="s1"), lambda f, desc="": events.append((f, desc)))
    status = out[0]
    assert "ready" in status, status
    [song] = app.library.list(_owner())
    assert song.request["task"] == "repaint" and song.title.startswith("demo")
    # The player's MP3 carries encoder padding; the mastered WAV (written just after) is sample-exact.
    made, rate = sf.read(str(runner.lossless_file(song)), always_2d=True)
    original, _ = sf.read(str(source), always_2d=True)
    assert rate == RATE and made.shape[0] == original.shape[0]  # a repaint is as long as its source
    # Outside the repainted range (with the crossfade) the song is the source (mastering scales it).
    before = slice(0, round(2.8 * RATE))
    gain = np.sum(made[before] * original[before]) / np.sum(original[before] ** 2)
    assert np.max(np.abs(made[before] - gain * original[before])) < 0.02
    assert any("Rendering" in label for _, label in events)


def test_the_edit_view_refuses_a_path_that_was_not_uploaded(app, tmp_path: Path) -> None:
    edit = _edit_view(app.demo)
    outside = _song(tmp_path / "server" / "secret.wav")
    with pytest.raises(StudioError, match="must be a file uploaded here"):
        edit.request_from(_form(edit, str(outside)))
    with pytest.raises(StudioError, match="upload the song to edit first"):
        edit.request_from(_form(edit, None))


def test_each_task_shows_its_own_controls_and_the_weights_it_loads(app) -> None:
    edit = _edit_view(app.demo)
    source = _song(app.uploads / "x" / "song.wav", seconds=12.0)
    names = [c for c in edit.task_outputs()]
    repaint = dict(zip(names, edit.task_updates("acestep", "repaint", str(source)), strict=True))
    assert repaint[edit.start]["visible"] and repaint[edit.end]["value"] == pytest.approx(12.0)
    assert not repaint[edit.track]["visible"] and "Source: 12.0 s" in repaint[edit.source_note]
    extract = dict(zip(names, edit.task_updates("acestep", "extract", str(source)), strict=True))
    assert extract[edit.track]["visible"] and "vocals" in extract[edit.track]["choices"]
    assert not extract[edit.start]["visible"] and not extract[edit.lyrics]["visible"]
    assert "ACE-Step 1.5 XL base" in extract[edit.task_note] and "GB download" in extract[edit.task_note]
    extend = dict(zip(names, edit.task_updates("acestep", "extend", str(source)), strict=True))
    assert extend[edit.extend_by]["visible"] and extend[edit.extend_by]["maximum"] == pytest.approx(600 - 12.0)


def test_library_edit_sends_only_your_own_song_to_the_edit_view(app, monkeypatch: pytest.MonkeyPatch) -> None:
    from studio.ui import visitor

    monkeypatch.setenv("STUDIO_MULTI_USER", "1")  # visitors told apart, as on a Space
    monkeypatch.setenv("STUDIO_RATE_LIMIT", "off")
    mine, theirs = visitor.new_key(), visitor.new_key()
    edit = _edit_view(app.demo)
    source = _song(app.uploads / "y" / "demo.wav")
    form = _form(edit, str(source))
    form[app.demo.studio_views["key"]] = mine
    app.fns["ui_edit"](form, SimpleNamespace(session_hash="s2"), lambda *a, **k: None)
    [song] = app.library.list(visitor.owner_for(mine))
    _tab, *opened = app.fns["library_edit"](mine, song.id, "acestep", "repaint")
    shown = dict(zip(edit.open_outputs(), opened, strict=True))
    path, title = shown[edit.source], shown[edit.source_title]
    assert path == str(runner.lossless_file(song)) and title == song.title == "demo (Repaint)"
    assert path.endswith(".wav")  # the 24-bit lossless master, not the 16-bit FLAC the player streams
    named = edit.request_from(_form(edit, str(source), source_title=title, task="cover"))
    assert named.title == "demo (Repaint) (Cover)"
    for stranger in (theirs, None):
        with pytest.raises(gr.Error):
            app.fns["library_edit"](stranger, song.id, "acestep", "repaint")
    # Reuse of an edit goes back to the Edit view with the task and range it used.
    values = app.fns["library_reuse"](mine, song.id)
    fields = dict(zip(edit.fields(), values[-len(edit.fields()) :], strict=True))
    assert fields[edit.task] == "repaint" and fields[edit.start] == 3.0 and fields[edit.end] == 6.0
    assert values[0].selected == "edit"


def test_create_loras_come_from_the_hub_or_an_upload_never_a_server_path(app, tmp_path: Path) -> None:
    from studio.ui.forms import build_request

    request = build_request(backend="acestep", style="x", options={"loras": ["someone/tiny-lora:0.5"]})
    assert request.options["loras"] == [{"source": "someone/tiny-lora", "scale": 0.5}]
    secret = tmp_path / "server" / "style.safetensors"
    secret.parent.mkdir()
    secret.write_bytes(b"\0" * 64)
    with pytest.raises(StudioError, match="must be a file uploaded here"):
        build_request(backend="acestep", style="x", options={"loras": [f"{secret}:1"]})
    uploaded = app.uploads / "z" / "style.safetensors"
    uploaded.parent.mkdir(parents=True)
    uploaded.write_bytes(b"\0" * 64)
    request = build_request(backend="acestep", style="x", options={"loras": [f"{uploaded}:0.7"]})
    assert request.options["loras"][0]["source"] == str(uploaded.resolve())

    controls = app.demo.studio_views["create"].loras
    assert controls.refs("a/b:0.5\n# a note\n\nc/d", str(uploaded), 0.7) == ["a/b:0.5", "c/d", f"{uploaded}:0.7"]
    hub, upload, _ = controls.fill({"loras": ["a/b:0.5"]})
    assert hub == "a/b:0.5" and upload is None


def test_an_uploaded_lora_is_checked_the_moment_it_lands(tmp_path: Path) -> None:
    from studio.ui.lora_controls import check_upload

    pickle = tmp_path / "bad.safetensors"
    pickle.write_bytes(b"\x80\x04" + b"\0" * 100)
    assert check_upload(str(pickle)).startswith("❌") and "pickle" in check_upload(str(pickle))
    assert check_upload(None) == ""


def test_on_zerogpu_downloads_happen_before_the_gpu_is_asked_for(monkeypatch, tmp_path: Path) -> None:
    from studio.ui import runner
    from studio.ui.forms import build_request

    order: list[str] = []
    monkeypatch.setattr(runner, "gpu_available_here", lambda: True)
    monkeypatch.setattr(runner, "prefetch", lambda request: order.append("prefetch"))

    def held_gpu(*args, **kwargs):
        order.append("gpu")
        raise StudioError("stop here")

    monkeypatch.setattr(runner, "render_on_gpu", held_gpu)
    library = Library(tmp_path / "library")
    try:
        with pytest.raises(StudioError, match="stop here"):
            runner.make_songs(build_request(backend="acestep", style="x"), owner="local", library=library)
    finally:
        library.close()
    assert order == ["prefetch", "gpu"]


def test_every_result_card_can_send_its_take_to_the_edit_view(app) -> None:
    edit = _edit_view(app.demo)
    create = app.demo.studio_views["create"]
    source = _song(app.uploads / "w" / "demo.wav")
    app.fns["ui_edit"](
        _form(edit, str(source), key=app.demo.studio_views["key"]),
        SimpleNamespace(session_hash="s3"),
        lambda *a, **k: None,
    )
    [song] = app.library.list(_owner())
    senders = [fn for fn in app.demo.fns.values() if edit.source in fn.outputs and create.results.ids in fn.inputs]
    assert len(senders) == len(create.results.cards)
    values = dict(zip(senders[0].outputs, senders[0].fn(None, [song.id], "acestep", "repaint"), strict=True))
    assert values[edit.source] == str(runner.lossless_file(song)) and values[edit.source_title] == "demo (Repaint)"
    # The song's own style and lyrics come along (cover and repaint start from them), and the range is the
    # whole song; the maximum stays the model's longest, so a value the page still holds from before (600)
    # is not refused as "Value 600 is greater than maximum value 11.0" (issue 17.8).
    assert values[edit.style]["value"] == "lofi piano" and values[edit.lyrics]["value"] == song.song_request().lyrics
    assert values[edit.end]["value"] == pytest.approx(11.0) and values[edit.end]["maximum"] == 600
    assert values[edit.start]["value"] == 0


def test_a_visitor_over_the_rate_limit_is_refused_before_joining_the_gpu_queue(app, monkeypatch) -> None:
    from studio import ratelimit
    from studio.ui import visitor

    monkeypatch.setenv("STUDIO_MULTI_USER", "1")
    monkeypatch.setenv(ratelimit.ENV, "1/3600")
    monkeypatch.setattr(ratelimit, "GPU", ratelimit.RateLimiter())
    edit = _edit_view(app.demo)
    source = _song(app.uploads / "r" / "demo.wav")
    form = _form(edit, str(source))
    form[app.demo.studio_views["key"]] = visitor.new_key()
    request = SimpleNamespace(session_hash="s4", headers={}, client=None)
    ready = app.fns["ui_edit_ready"]
    ready(form, request)  # allowed, and checking spends nothing:
    ready(form, request)
    app.fns["ui_edit"](form, request, lambda *a, **k: None)  # the job spends the one call
    with pytest.raises(gr.Error, match="try again in"):
        ready(form, request)
    with pytest.raises(gr.Error, match="upload the song to edit first"):  # a bad form: refused at once too
        ready({**form, edit.source: None}, request)


def test_the_edit_estimate_is_planned_for_the_visitors_tier(app, monkeypatch) -> None:
    from studio.ui import seams, visitor

    edit = _edit_view(app.demo)
    asked: list[str | None] = []
    monkeypatch.setattr(visitor, "tier_of", lambda request: "pro")
    monkeypatch.setattr(seams, "estimate_line", lambda request, tier=None: asked.append(tier) or "⏱ fine")
    estimate = next(fn for fn in app.demo.fns.values() if fn.outputs == [edit.estimate])
    source = _song(app.uploads / "t" / "demo.wav")
    assert estimate.fn(_form(edit, str(source)), SimpleNamespace()) == "⏱ fine" and asked == ["pro"]
    assert estimate.fn(_form(edit, None), SimpleNamespace()) == ""  # nothing to price before an upload


def test_reusing_an_edit_keeps_its_range_through_the_refresh_that_follows(app) -> None:
    """Reuse fills the form, then the task/source change refreshes the sliders (issue 17.8: 4–8 s came
    back as 0–15 s). Both steps are the handlers gradio runs, in that order."""
    edit = _edit_view(app.demo)
    source = _song(app.uploads / "k" / "demo.wav", seconds=15.0)
    app.fns["ui_edit"](
        _form(edit, str(source), key=app.demo.studio_views["key"], start=4.0, end=8.0),
        SimpleNamespace(session_hash="s6"),
        lambda *a, **k: None,
    )
    [song] = app.library.list(_owner())
    [reuse] = [fn for fn in app.demo.fns.values() if fn.api_name == "library_reuse"]
    filled = dict(zip(reuse.outputs, reuse.fn(None, song.id), strict=True))
    start, end = filled[edit.start], filled[edit.end]
    assert (start, end) == (4.0, 8.0)
    refreshed = dict(
        zip(edit.task_outputs(), edit.task_updates("acestep", "repaint", str(source), start, end), strict=True)
    )
    assert (refreshed[edit.start]["value"], refreshed[edit.end]["value"]) == (4.0, 8.0)
    # A range that does not fit the song loaded now becomes the whole song.
    wide = dict(zip(edit.task_outputs(), edit.task_updates("acestep", "repaint", str(source), 4.0, 90.0), strict=True))
    assert (wide[edit.start]["value"], wide[edit.end]["value"]) == (0, pytest.approx(15.0))


def test_a_request_the_budget_refuses_does_not_spend_the_rate_limit(app, monkeypatch, tmp_path) -> None:
    """Issue 17.4: a refusal gave the visitor nothing, so it must not cost one of their calls."""
    from studio import ratelimit
    from studio.ui import runner
    from studio.ui.forms import build_request

    monkeypatch.setenv(ratelimit.ENV, "1/3600")
    monkeypatch.setattr(ratelimit, "GPU", ratelimit.RateLimiter())
    monkeypatch.setenv("STUDIO_TIME_LIMIT", "1")  # nothing fits one second: the guard refuses
    with pytest.raises(StudioError, match="STUDIO_TIME_LIMIT"):
        runner.make_songs(build_request(backend="acestep", style="x", duration=30), owner="o", library=app.library)
    ratelimit.check_gpu("o")  # still the one call left


def test_a_new_run_keeps_the_sessions_earlier_takes_and_names_downloads_after_the_song(app) -> None:
    """Issue 17.11: a second run replaced the first one's card, and downloads were named by random ids."""
    edit = _edit_view(app.demo)
    source = _song(app.uploads / "n" / "demo.wav")
    form = _form(edit, str(source), key=app.demo.studio_views["key"], seed=None)
    first = app.fns["ui_edit"](form, SimpleNamespace(session_hash="s7"), lambda *a, **k: None)
    second = app.fns["ui_edit"](
        {**form, edit.results.ids: first[-1]}, SimpleNamespace(session_hash="s7"), lambda *a, **k: None
    )
    assert len(second[-1]) == 2 and second[-1][1] == first[-1][0]  # newest first, the earlier one below
    outputs = dict(zip(edit.results.outputs(), second[1:], strict=True))
    card = edit.results.cards[1]
    assert outputs[card.group]["visible"] and outputs[card.head]  # the earlier take is still shown
    # The player streams the title-named FLAC at once; the WAV download follows once written (studio.later).
    player = outputs[edit.results.cards[0].audio]["value"]
    assert Path(player).name == "demo (Repaint).flac" and Path(player).is_file()
    from studio.ui import visitor

    owner = visitor.owner_for(form[app.demo.studio_views["key"]])
    assert runner.LATER.wait(second[-1], timeout=120)
    buttons = edit.results.download_values([app.library.get(owner, i) for i in second[-1]])
    wav = buttons[0]["value"]
    assert Path(wav).name == "demo (Repaint).wav" and Path(wav).is_file()


def test_a_dropped_file_reaches_the_player_only_once_the_server_has_read_it(app) -> None:
    """Issue 17.13: the drop zone's upload event checks the file's header on the server. A song goes into the
    player as the one to edit; anything else is refused in one sentence, the song already loaded kept."""
    edit = _edit_view(app.demo)
    [landing] = [fn for fn in app.demo.fns.values() if edit.drop in fn.inputs]
    assert landing.api_visibility == "private" and edit.source in landing.outputs

    def land(path: Path, status: str) -> dict:
        return dict(zip(landing.outputs, landing.fn(str(path), status), strict=True))

    song = _song(app.uploads / "a" / "demo.wav")
    landed = land(song, "❌ an earlier refusal")
    assert landed[edit.source] == str(song) and landed[edit.drop] is None  # the zone is ready for the next file
    assert landed[edit.source_title] == "" and landed[edit.source_song] == ""  # no longer a Library song
    assert landed[edit.status].startswith("✂ Edited songs appear here")
    fake = app.uploads / "b" / "notes.mp3"
    fake.parent.mkdir(parents=True)
    fake.write_text("shopping list: eggs, milk\n" * 40)
    with pytest.warns(UserWarning, match="notes.mp3 is not audio this studio can read"):  # the toast
        refused = land(fake, "")
    assert refused[edit.status].startswith("❌ notes.mp3 is not audio this studio can read")
    for kept in (edit.source, edit.source_title, edit.source_song):
        assert refused[kept] == gr.update(), f"a refused file changed {kept}"


def test_the_whole_song_range_sits_on_the_sliders_steps(app, tmp_path: Path) -> None:
    """A phone's voice memo (AAC in m4a) says 11.02133 s in its header (the encoder's padding); the "To" box
    showed all five decimals. The whole song is 0–11.0 s, on the 0.1 s step and inside the song."""
    from studio.ui.edit_view import source_seconds
    from tests.edit.test_upload_bounds import encode_with_pyav, tone

    edit = _edit_view(app.demo)
    memo = encode_with_pyav(tmp_path / "memo.m4a", "mp4", "aac", tone(11.0))
    assert source_seconds(str(memo)) != pytest.approx(11.0, abs=1e-3)  # the header's length is off the step
    shaped = dict(zip(edit.task_outputs(), edit.task_updates("acestep", "repaint", str(memo)), strict=True))
    assert (shaped[edit.start]["value"], shaped[edit.end]["value"]) == (0, 11.0)
