"""`python -m studio stems --src-audio F [--stems 2|4|6]`: split any song into stems (the same flow
as the app's Stems button); `generate --task stems` lands here too."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_stem_flags(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    p.add_argument("--stems", type=int, choices=[2, 4, 6], default=None,
                   help="stems task: 2 (vocals / accompaniment), 4 (vocals, drums, bass, other; default) or 6 "
                   "(adds guitar and piano)")
    p.add_argument("--stems-weights", metavar="ID_OR_DIR",
                   help="stems task: Demucs weights, a Hub id or folder (env STUDIO_STEMS_WEIGHTS for 2/4 stems, "
                   "STUDIO_STEMS6_WEIGHTS for 6)")


def run(args: argparse.Namespace) -> int:
    from studio.commands.progress import progress_line
    from studio.separation.flow import split_song

    def show(event) -> None:
        if not args.json:
            print(progress_line(event), file=sys.stderr, flush=True)

    if not args.src_audio:
        from studio.ground.errors import StudioError

        raise StudioError("the stems task needs a song to split; pass --src-audio FILE (WAV, FLAC, MP3 or OGG).")
    result = split_song(
        Path(args.src_audio).expanduser().resolve(), out=Path(args.out), stems=args.stems, title=args.title,
        weights=args.stems_weights, device=args.device, progress=show,
    )
    if args.json:
        print(json.dumps(result.public(), indent=2))
        return 0
    for warning in result.warnings:
        print(f"note: {warning}", file=sys.stderr)
    for path in result.stems.values():
        print(f"wrote {path}")
    print(f"wrote {result.zip}\nwrote {result.pack}")
    print(f"{result.model} on {result.device} in {result.elapsed_s:.1f} s")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("stems", help="split a song (any WAV/FLAC/MP3/OGG) into 2, 4 or 6 stems and a DAW pack")
    p.add_argument("--src-audio", required=True, metavar="FILE", help="the song to split")
    add_stem_flags(p)
    p.add_argument("--title", help="title used in the file names (default: the song card's, else the file name)")
    p.add_argument("--device", help="cuda, cuda:N, mps or cpu (default: detect; env STUDIO_DEVICE)")
    p.add_argument("--out", required=True, help="folder for the stems, their zip and the DAW pack")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.set_defaults(handler=run)
