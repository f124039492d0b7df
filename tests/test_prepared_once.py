"""Check once, price once: every surface prepares a generation once and carries that value to the GPU.

Issue 19 ("the house"), item 1: a generation used to be prepared two to four times (fit, reservation,
the GPU function's own plan, the render), re-formatting the lyrics and drawing new seeds each time.
Each test renders the tiny ACE-Step on the CPU through one surface and counts the passes.
"""

from __future__ import annotations

import argparse
import json
import pickle
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from studio import rendering
from studio.ground.errors import StudioError
from studio.library import Library
from studio.request import checks, prepared
from studio.request import prepare as road
from studio.song import SongRequest
from studio.ui import runner

SONG = {"style": "synth pop", "lyrics": "[Verse]\nneon rain on the window", "duration": 10, "options": {"steps": 2}}


@pytest.fixture
def counted(monkeypatch, tiny_acestep_dir: Path, tmp_path: Path) -> Counter:
    """Counts of prepare() (wherever a surface imported it), of check passes, of the lyric formatter and
    of seed draws; the tiny weights stand in for ACE-Step on this CPU."""
    monkeypatch.setenv("STUDIO_ACESTEP_WEIGHTS", str(tiny_acestep_dir))
    monkeypatch.setenv("STUDIO_DEVICE", "cpu")
    monkeypatch.setenv("STUDIO_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("STUDIO_LYRIC_CHECK", "off")  # no Whisper: this test is about the road before it
    for name in ("STUDIO_TIER", "STUDIO_TIME_LIMIT", "SPACES_ZERO_GPU"):
        monkeypatch.delenv(name, raising=False)
    counts: Counter = Counter()

    def counting(key: str, real: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            counts[key] += 1
            return real(*args, **kwargs)

        return wrapper

    preparing = counting("prepare", road.prepare)
    for module in (road, runner, rendering):  # every name a surface calls it by
        monkeypatch.setattr(module, "prepare", preparing)
    checking = counting("checked", checks.checked)
    for module in (checks, road):
        monkeypatch.setattr(module, "checked", checking)
    monkeypatch.setattr(checks, "format_lyrics", counting("format", checks.format_lyrics))
    monkeypatch.setattr(checks, "new_seeds", counting("seeds", checks.new_seeds))
    yield counts
    runner.STUDIO.cache.unload_all()


def _once(counts: Counter) -> None:
    assert counts == Counter(prepare=1, checked=1, format=1, seeds=1), counts


def test_the_ui_road_prepares_once(counted: Counter, tmp_path: Path) -> None:
    library = Library(tmp_path / "lib")
    try:
        _, songs = runner.make_songs(SongRequest(**SONG), owner="local", library=library, tier="local")
    finally:
        library.close()
    assert len(songs) == 1
    _once(counted)


def test_the_command_line_prepares_once(counted: Counter, tiny_acestep_dir: Path, tmp_path: Path) -> None:
    from studio.commands import generate

    parser = argparse.ArgumentParser()
    generate.register(parser.add_subparsers())
    argv = [
        "generate",
        "--weights",
        str(tiny_acestep_dir),
        "--style",
        SONG["style"],
        "--lyrics",
        SONG["lyrics"],
        "--duration",
        "10",
        "--steps",
        "2",
        "--takes",
        "2",
        "--out",
        str(tmp_path / "song.wav"),
    ]
    args = parser.parse_args(argv)
    args.handler(args)
    assert (tmp_path / "song-1.wav").is_file() and (tmp_path / "song-2.wav").is_file()
    _once(counted)  # two takes, one set of seeds


def test_the_api_prepares_once(counted: Counter, tmp_path: Path) -> None:
    from studio.ui import build_app

    library = Library(tmp_path / "lib")
    try:
        demo = build_app(library=library)
        generate = next(fn.fn for fn in demo.fns.values() if fn.api_name == "generate")
        request = SimpleNamespace(headers={}, client=None, username=None, session_hash="s", cookies={})
        args = [SONG["lyrics"], SONG["style"], "acestep", 10, False, 1, -1, "", 0, "", "", "", '{"steps": 2}', ""]
        first, paths, info = generate(*args, request=request, progress=lambda *a, **k: None)
    finally:
        library.close()
    assert Path(first).is_file() and len(paths) == 1 and not any("error" in w for w in info["warnings"])
    _once(counted)


def test_a_batch_prepares_each_line_once(counted: Counter, tiny_acestep_dir: Path, tmp_path: Path) -> None:
    from studio.cli import main

    lines = tmp_path / "songs.jsonl"
    lines.write_text("".join(json.dumps({**SONG, "id": f"song-{i}"}) + "\n" for i in range(2)), encoding="utf-8")
    assert main(["batch", str(lines), "--out", str(tmp_path / "out"), "--weights", str(tiny_acestep_dir)]) == 0
    assert counted == Counter(prepare=2, checked=2, format=2, seeds=2), counted


def test_a_lightened_request_keeps_its_seeds_and_formats_once(counted: Counter, monkeypatch) -> None:
    """The guard's fit re-checks the lighter request, but reuses the formatted lyrics and the seeds."""
    one = road.plan(SongRequest(**{**SONG, "takes": 1}), "local").reservation.needed_s
    two = road.plan(SongRequest(**{**SONG, "takes": 2}), "local").reservation.needed_s
    monkeypatch.setenv("STUDIO_TIME_LIMIT", str((one + two) // 2))
    counted.clear()
    asked = SongRequest(**{**SONG, "takes": 2, "fit_budget": True})
    ready = road.prepare(asked, "local")
    assert ready.request.takes == 1 and ready.fitted and ready.decision.ok
    assert counted == Counter(prepare=1, checked=2, format=1, seeds=2), counted
    again = road.prepare(asked.model_copy(update={"seed": ready.seeds[0]}), "local")
    assert again.seeds == ready.seeds  # the lighter request's take is the first of the asked ones


def test_the_prepared_request_crosses_into_a_forked_worker(monkeypatch, tmp_path: Path) -> None:
    """On ZeroGPU ``spaces`` pickles the GPU function's arguments into a forked worker: the prepared
    request, its decoded source and its reservation must survive the trip unchanged."""
    import numpy as np
    import soundfile as sf

    rate = 48_000
    source = tmp_path / "source.wav"
    sf.write(source, 0.1 * np.sin(np.arange(12 * rate) * 2 * np.pi * 220 / rate), rate)
    ready = road.prepare(SongRequest(task="repaint", source_audio=str(source), style="pop", start=2, end=6), "pro")
    assert isinstance(ready, prepared.Prepared) and ready.reservation is not None
    back = pickle.loads(pickle.dumps(ready))
    assert back.request == ready.request and back.seeds == ready.seeds and back.warnings == ready.warnings
    assert back.job.lyrics == ready.job.lyrics and back.job.metadata == ready.job.metadata
    assert np.array_equal(back.job.source_audio, ready.job.source_audio)
    assert back.reservation.declared_s == ready.reservation.declared_s and back.spec is ready.spec


@pytest.mark.parametrize(("tier", "takes", "fit"), [("free", 2, True), ("anonymous", 4, False), ("local", 1, False)])
def test_the_plan_command_and_the_plan_endpoint_agree(monkeypatch, capsys, tier: str, takes: int, fit: bool) -> None:
    """``python -m studio plan`` and the API's /plan price the same request the same way: one context
    (device, calibration, weights' size, memory) and one pricing step (studio.request.pricing.decide)."""
    from studio.commands import plan as cli
    from studio.ui import seams

    for name in ("STUDIO_TIER", "STUDIO_TIME_LIMIT", "SPACES_ZERO_GPU", "STUDIO_ZEROGPU_SLICE_FACTOR"):
        monkeypatch.delenv(name, raising=False)
    parser = argparse.ArgumentParser(prog="python -m studio")
    cli.register(parser.add_subparsers(dest="command", required=True))
    argv = ["plan", "--backend", "acestep", "--duration", "180", "--takes", str(takes), "--tier", tier, "--json"]
    args = parser.parse_args(argv + (["--fit"] if fit else []))
    args.handler(args)
    command = json.loads(capsys.readouterr().out)
    request = SongRequest(style="pop", lyrics="[Verse]\nla", duration=180, takes=takes, fit_budget=fit)
    endpoint = seams.plan(request, tier)
    assert endpoint["tier"] == command["tier"] == tier and endpoint["decision"] == command["decision"]
    assert endpoint == command


def test_check_reads_only_the_uploads_header(monkeypatch, tmp_path: Path) -> None:
    """The quick check before the queue (and /plan) refuses and prices an edit from the upload's header;
    only prepare decodes it, and both price it alike."""
    import numpy as np
    import soundfile as sf

    from studio.audio import upload

    rate = 44_100
    source = tmp_path / "source.wav"
    sf.write(source, 0.1 * np.sin(np.arange(12 * rate) * 2 * np.pi * 220 / rate), rate)
    request = SongRequest(task="repaint", source_audio=str(source), style="pop", start=2, end=6)
    real_decode = upload._decode

    def no_decoding(*_a: Any, **_k: Any) -> None:
        raise AssertionError("the upload was decoded")

    monkeypatch.setattr(upload, "_decode", no_decoding)
    quick = road.check(request, "pro")
    assert quick.job.source_audio is None and quick.job.duration_s == pytest.approx(12.0)
    assert road.plan(request, "pro").ok
    with pytest.raises(StudioError, match=r"`end` \(30 s\) is past the end of the source \(12.0 s\)"):
        road.check(request.model_copy(update={"end": 30}), "pro")
    monkeypatch.setattr(upload, "_decode", real_decode)
    full = road.prepare(request, "pro")
    assert full.job.source_audio is not None and full.job.duration_s == pytest.approx(12.0, abs=0.01)
    assert full.reservation.declared_s == quick.reservation.declared_s
