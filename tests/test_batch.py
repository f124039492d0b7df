"""`python -m studio batch`: error isolation, resume, and a 2-process run under accelerate."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from studio.cli import main
from tests.conftest import REPO

LINES = [
    {"id": "one", "style": "synth pop", "duration": 10, "seed": 1, "options": {"steps": 2}},
    {"style": "lofi", "lyrics": "[Verse]\nrain", "duration": 10, "seed": 2, "options": {"steps": 2}},
    "not json",
    {"style": "x", "duration": 3},
    {"id": "mp3", "style": "ambient", "duration": 10, "seed": 4, "formats": ["mp3"], "options": {"steps": 2}},
]


def write_requests(path: Path) -> Path:
    rows = [row if isinstance(row, str) else json.dumps(row) for row in LINES]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def manifest(out: Path) -> list[dict]:
    return [json.loads(r) for r in (out / "manifest.jsonl").read_text().splitlines()]


def test_bad_lines_are_reported_and_the_rest_go_on_then_resume(tiny_acestep_dir, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("STUDIO_ACESTEP_WEIGHTS", str(tiny_acestep_dir))
    requests = write_requests(tmp_path / "req.jsonl")
    out = tmp_path / "out"
    assert main(["batch", str(requests), "--out", str(out)]) == 1  # some lines failed
    rows = manifest(out)
    assert [r["line"] for r in rows] == [1, 2, 3, 4, 5]
    assert [r["status"] for r in rows] == ["ok", "ok", "error", "error", "ok"]
    assert "not JSON" in rows[2]["error"] and "`duration` must be >= 10 s" in rows[3]["error"]
    assert any(p.endswith(".mp3") for p in rows[4]["paths"])
    assert all(Path(p).is_file() for r in rows if r["status"] == "ok" for p in r["paths"])
    stamps = {p: os.stat(p).st_mtime_ns for r in rows if r["status"] == "ok" for p in r["paths"]}

    # A rerun skips what is done and retries only the failures.
    Path(rows[1]["paths"][0]).unlink()  # a lost file is made again
    assert main(["batch", str(requests), "--out", str(out)]) == 1
    again = manifest(out)
    assert len(again) == 5 and [r["status"] for r in again] == ["ok", "ok", "error", "error", "ok"]
    for path, stamp in stamps.items():
        if path not in rows[1]["paths"]:
            assert os.stat(path).st_mtime_ns == stamp, f"{path} was made again"
    assert Path(rows[1]["paths"][0]).is_file()


@pytest.mark.slow
def test_two_processes_share_the_work_and_merge_one_manifest(tiny_acestep_dir, tmp_path) -> None:
    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    if accelerate is None:
        pytest.skip("accelerate's launcher is not installed")
    requests = write_requests(tmp_path / "req.jsonl")
    out = tmp_path / "out"
    env = {**os.environ, "STUDIO_DEVICE": "cpu", "STUDIO_ACESTEP_WEIGHTS": str(tiny_acestep_dir),
           "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(
        [accelerate, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
         "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "29533",
         "-m", "studio", "batch", str(requests), "--out", str(out)],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=600,
    )
    rows = manifest(out)
    assert [r["line"] for r in rows] == [1, 2, 3, 4, 5], proc.stderr[-2000:]
    assert {r["rank"] for r in rows} == {0, 1}
    assert [r["rank"] for r in rows] == [0, 1, 0, 1, 0]  # line i goes to process i mod 2
    assert not list(out.glob("manifest.part-*.jsonl"))
    assert [r["status"] for r in rows] == ["ok", "ok", "error", "error", "ok"]
