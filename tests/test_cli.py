"""`python -m studio` end to end: real subprocesses for the main paths, main() for bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from studio.cli import main
from tests.conftest import REPO


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "STUDIO_DEVICE": "cpu", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "studio", *args], capture_output=True, text=True, cwd=REPO, env=full_env, timeout=300
    )


def test_generate_writes_48k_stereo_wav_of_asked_length(tiny_acestep_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "songs" / "neon.wav"
    proc = run_cli(
        "generate", "--backend", "acestep", "--weights", str(tiny_acestep_dir), "--style", "synth pop",
        "--lyrics", "[Verse]\nNeon rain", "--duration", "12.5", "--seed", "11", "--steps", "2",
        "--out", str(out), "--json",
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["paths"] == [str(out)]
    assert summary["sample_rate"] == 48_000 and summary["seeds"] == [11]
    assert summary["backend"] == "acestep" and summary["device"] == "cpu" and summary["dtype"] == "float32"
    assert summary["elapsed_s"] > 0 and any("CPU" in w for w in summary["warnings"])
    info = sf.info(str(out))
    assert (info.samplerate, info.channels, info.frames) == (48_000, 2, 12.5 * 48_000)


def test_generate_takes_and_lyrics_file(tiny_acestep_dir: Path, tmp_path: Path) -> None:
    lyrics = tmp_path / "lyrics.txt"
    lyrics.write_text("[Chorus]\nsing it loud\n", encoding="utf-8")
    out = tmp_path / "out"
    proc = run_cli(
        "generate", "--weights", str(tiny_acestep_dir), "--lyrics-file", str(lyrics), "--duration", "10",
        "--takes", "2", "--seed", "100", "--steps", "2", "--out", str(out),
    )
    assert proc.returncode == 0, proc.stderr
    files = sorted(out.glob("*.wav"))
    assert [f.name for f in files] == ["song-100.wav", "song-101.wav"]
    assert "wrote" in proc.stdout


def test_backends_json_lists_all_with_reasons() -> None:
    proc = run_cli("backends", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = {r["name"]: r for r in json.loads(proc.stdout)}
    assert set(rows) == {"acestep", "levo2", "heartmula"}
    assert rows["acestep"]["available"] is True and rows["acestep"]["sample_rate"] == 48_000
    assert "steps" in rows["acestep"]["options"]
    for name in ("levo2", "heartmula"):
        if not rows[name]["available"]:
            assert rows[name]["reason"], name


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--backend", "suno", "--style", "x"], "unknown backend 'suno'"),
        (["--style", "x", "--duration", "700"], "`duration` must be <= 600 s"),
        (["--style", "x", "--duration", "2"], "`duration` must be >= 10 s"),
        (["--duration", "20"], "write a style or lyrics"),
        (["--style", "x", "--lyrics-file", "/no/such/file.txt"], "cannot read --lyrics-file"),
        (["--style", "x", "--takes", "9"], "`takes` must be <= 4"),
        (["--style", "x", "--steps", "0"], "`steps` must be >= 1"),
        (["--style", "x", "--key", "H major"], "`key` must look like"),
        (["--style", "x", "--language", "xx"], "`language` 'xx' is not one"),
        (["--backend", "levo2", "--style", "x", "--bpm", "90"], "`bpm` is not used by LeVo 2"),
        (["--style", "x", "--top-k", "5"], "unknown option `top_k` for ACE-Step 1.5 XL turbo"),
        (["--style", "x", "--dump-tokens", "t.npy"], "--dump-tokens needs a token-based backend"),
    ],
)
def test_bad_input_exits_nonzero_with_one_line(args, message, tmp_path, capsys) -> None:
    code = main(["generate", *args, "--out", str(tmp_path / "a.wav")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("error: ") and message in err and "\n" not in err
    assert not list(tmp_path.glob("*.wav"))


def test_unwritable_output_is_refused_before_loading(tmp_path, capsys) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code = main(["generate", "--style", "x", "--weights", "/never/loaded", "--out", str(blocker / "sub" / "a.wav")])
    err = capsys.readouterr().err
    assert code == 2 and "cannot write to" in err and "/never/loaded" not in err


def test_offline_without_weights_names_both_options(tmp_path, capsys) -> None:
    proc = run_cli(
        "generate", "--style", "x", "--duration", "10", "--out", str(tmp_path / "a.wav"),
        env={"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")},
    )
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert "--weights" in last and "STUDIO_ACESTEP_WEIGHTS" in last
