"""`python -m studio generate ...`: make songs from the command line (same path as the app)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from backends.base import ProgressEvent, StudioError
from studio.errors import validate
from studio.registry import DEFAULT_BACKEND
from studio.song import SongRequest


def _read_lyrics(args: argparse.Namespace) -> str:
    if args.lyrics_file is None:
        return args.lyrics or ""
    try:
        if args.lyrics_file == "-":
            return sys.stdin.read()
        return Path(args.lyrics_file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise StudioError(f"cannot read --lyrics-file {args.lyrics_file} ({reason}); check the path.") from None


def request_from_args(args: argparse.Namespace) -> SongRequest:
    options = {}
    if args.steps is not None:
        options["steps"] = args.steps
    data = {
        "backend": args.backend,
        "title": args.title or "",
        "style": args.style or "",
        "lyrics": _read_lyrics(args),
        "instrumental": args.instrumental,
        "duration": args.duration,
        "seed": args.seed,
        "takes": args.takes,
        "bpm": args.bpm,
        "key": args.key,
        "time_signature": args.time_signature,
        "language": args.language,
        "options": options,
    }
    return validate(SongRequest, data)


def _progress(quiet: bool):
    def show(event: ProgressEvent) -> None:
        if quiet:
            return
        detail = event.message or (f"{event.done}/{event.total}" if event.total else "")
        print(f"[{event.stage}] {detail}", file=sys.stderr, flush=True)

    return show


def run(args: argparse.Namespace) -> int:
    from studio.service import Studio

    request = request_from_args(args)
    device = None
    if args.device:
        from studio import devices

        device = devices.detect(args.device)
    result = Studio().generate(
        request, out=Path(args.out), weights=args.weights, device=device, progress=_progress(args.json)
    )
    if args.json:
        print(
            json.dumps(
                {
                    "paths": [str(p) for p in result.paths],
                    "sample_rate": result.sample_rate,
                    "duration": result.duration,
                    "seeds": result.seeds,
                    "backend": result.backend,
                    "weights": result.weights,
                    "device": result.device,
                    "dtype": result.dtype,
                    "elapsed_s": result.elapsed_s,
                    "warnings": result.warnings,
                },
                indent=2,
            )
        )
        return 0
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for take in result.takes:
        print(
            f"wrote {take.path} ({take.sample_rate} Hz, {take.channels} ch, {take.duration:.2f} s, seed {take.seed})"
        )
    print(f"{result.backend} on {result.device}/{result.dtype} in {result.elapsed_s:.1f} s")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="generate songs and write them to --out")
    p.add_argument("--backend", default=DEFAULT_BACKEND, help="acestep (default), levo2 or heartmula")
    p.add_argument("--weights", help="Hub id or local folder of the backend's weights")
    p.add_argument("--title", help="song title (used in file names)")
    p.add_argument("--style", help="style / caption: genre, mood, instruments, voice")
    lyr = p.add_mutually_exclusive_group()
    lyr.add_argument("--lyrics", help="lyrics text")
    lyr.add_argument("--lyrics-file", help="file with lyrics (- for stdin)")
    p.add_argument("--instrumental", action="store_true", help="no vocals")
    p.add_argument("--duration", type=float, help="seconds (default: the backend's)")
    p.add_argument("--seed", type=int, help="random seed (default: random, reported)")
    p.add_argument("--steps", type=int, help="diffusion steps (ACE-Step)")
    p.add_argument("--takes", type=int, default=1, help="number of takes, 1-4")
    p.add_argument("--bpm", type=int, help="tempo in beats per minute")
    p.add_argument("--key", help="key and scale, e.g. 'F# minor'")
    p.add_argument("--time-signature", help="2, 3, 4 or 6 (beats per bar)")
    p.add_argument("--language", help="vocal language code, e.g. en, zh, ja, es")
    p.add_argument("--device", help="cuda, cuda:N, mps or cpu (default: detect; env STUDIO_DEVICE)")
    p.add_argument("--out", required=True, help="a .wav path or a folder")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.set_defaults(handler=run)
