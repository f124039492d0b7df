"""LeVo 2 from the command line, through the formatter, service and export (tiny fixture)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf

from studio.cli import main


def test_generate_separate_with_tokens(levo_fx: Path, levo_runtime: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "levo.wav"
    tokens = tmp_path / "codes.npy"
    code = main([
        "generate", "--backend", "levo2", "--weights", str(levo_fx / "lelm_tiny"), "--runtime", str(levo_runtime),
        "--device", "cpu", "--style", "female pop, piano, happy",
        "--lyrics", "[Verse]\nhello there\n[Chorus]\nsing along",
        "--duration", "10", "--seed", "3", "--mode", "separate", "--top-k", "5", "--dump-tokens", str(tokens),
        "--out", str(out), "--json",
    ])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = json.loads(captured.out)
    assert summary["backend"] == "levo2" and summary["tokens"] == [str(tokens)]
    codes = np.load(tokens)
    assert codes.ndim == 3 and codes.shape[:2] == (1, 3)
    info = sf.info(str(out))
    assert info.samplerate == 48_000 and info.channels == 2 and 0 < info.frames <= 10 * 48_000
    assert (tmp_path / "levo.stems.zip").is_file()
    assert {p.name for p in tmp_path.glob("levo.*.wav")} >= {"levo.vocals.wav", "levo.accompaniment.wav"}
