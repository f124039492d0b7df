"""Seconds the take checks need per minute of audio on this machine.

Times the DSP measures (librosa, no weights) on a synthetic 48 kHz stereo song, and, with
``--asr-model DIR_OR_ID``, the Whisper lyric check too (a folder with real Whisper weights gives
the real figure; without it the ASR part is skipped and says so). Prints CPU seconds of this
process as well as wall seconds: on a shared machine wall time mostly measures the neighbours.

    .venv/bin/python bench/check_speed.py [--minutes 3] [--rounds 3] [--asr-model DIR] [--device cpu]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--asr-model", help="Whisper weights (Hub id or folder); omitted: DSP measures only")
    parser.add_argument("--device", default=None)
    args = parser.parse_args()

    import numpy as np
    import soxr

    from studio.quality import Intent, check_take
    from tests.quality import synth

    seconds = args.minutes * 60
    mono = soxr.resample(synth.fade_out(synth.song(seconds, 120, "C major"), 3), synth.SR, 48_000)
    audio = np.stack([mono, mono]).astype(np.float32)
    lyrics = "[Verse]\n" + "\n".join(f"line number {i} of the song" for i in range(int(seconds / 5)))
    intent = Intent(lyrics=lyrics, bpm=120, key="C major", duration=seconds)
    transcriber = None
    if args.asr_model:
        from studio.quality.asr import load_transcriber

        transcriber = load_transcriber(args.asr_model, device=args.device)
    check_take(audio[:, : 48_000 * 10], 48_000, intent, transcriber=transcriber)  # imports, numba JIT
    walls, cpus = [], []
    for _ in range(args.rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        check_take(audio, 48_000, intent, transcriber=transcriber)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    per_min = args.minutes
    what = "DSP measures + Whisper " + args.asr_model if transcriber else "DSP measures only (no --asr-model)"
    print(f"{what}, {args.minutes:g} min of 48 kHz stereo, {args.rounds} rounds")
    print(f"wall s per audio minute: median {statistics.median(walls) / per_min:.2f}, "
          f"max {max(walls) / per_min:.2f}")
    print(f"cpu  s per audio minute: median {statistics.median(cpus) / per_min:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
