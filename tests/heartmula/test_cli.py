"""HeartMuLa from the command line, through the formatter, service and export (tiny fixture)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf

from studio.cli import main


def test_generate_with_tokens(hm_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "heart.flac"
    tokens = tmp_path / "frames.npy"
    code = main([
        "generate", "--backend", "heartmula", "--weights", str(hm_dir / "ckpt"), "--device", "cpu",
        "--style", "pop, piano, happy", "--lyrics", "[Verse]\nhello there\n\n[Chorus]\nsing along",
        "--duration", "10", "--seed", "9", "--top-k", "20", "--temperature", "0.9", "--cfg", "1.5",
        "--dump-tokens", str(tokens), "--out", str(out), "--json",
    ])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert json.loads(captured.out)["backend"] == "heartmula"
    frames = np.load(tokens)
    assert frames.ndim == 2 and frames.shape[0] == 8
    info = sf.info(str(out))
    assert info.samplerate == 48_000 and info.channels == 2 and 0 < info.frames <= 10 * 48_000
