"""``python -m studio lyrics --to {acestep,levo2,heartmula} [--style TEXT] [--duration S] [--check]
[--json] [FILE|-]``: print lyrics (and style) in a model's dialect.

Exit codes: 0 done; 1 ``--check`` found errors; 2 the input could not be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from studio.ground.vocabulary import LyricDialect
from studio.lyrics.api import FormatResult, format_lyrics


def register(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "lyrics",
        help="format lyrics for one model's dialect",
        description="Read lyrics as people write them and print them in a model's strict dialect, "
        "with what was changed (stderr) and what must be fixed.",
    )
    parser.add_argument("--to", required=True, choices=[d.value for d in LyricDialect],
                        help="the model dialect to write")
    parser.add_argument("--style", default="", help="a style description to convert as well")
    parser.add_argument("--duration", type=float, default=None, metavar="S",
                        help="requested song length in seconds (LeVo picks intro/outro lengths from it)")
    parser.add_argument("--bpm", type=int, default=None, help="tempo, used in LeVo's style and the estimate")
    parser.add_argument("--instrumental", action="store_true", help="the song has no vocals")
    parser.add_argument("--check", action="store_true", help="exit with status 1 when there are errors")
    parser.add_argument("--json", action="store_true",
                        help="print a JSON object (lyrics, style, fixes, errors, estimated_seconds)")
    parser.add_argument("file", nargs="?", default="-", help="lyrics file, or - for standard input")
    parser.set_defaults(handler=run)
    return parser


def _read(source: str) -> str:
    """The lyrics, or OSError when there are more than any model takes (read no further than that)."""
    from studio.song import MAX_LYRICS_CHARS

    if source == "-":
        text = sys.stdin.read(MAX_LYRICS_CHARS + 1)
    else:
        with Path(source).open(encoding="utf-8") as f:
            text = f.read(MAX_LYRICS_CHARS + 1)
    if len(text) > MAX_LYRICS_CHARS:
        raise OSError(0, f"more than {MAX_LYRICS_CHARS} characters, more than any model sings; cut it first")
    return text


def _as_json(result: FormatResult) -> str:
    data = result.model_dump(mode="json", include={
        "lyrics", "style", "fixes", "errors", "estimated_seconds", "dropped_style_words", "ok"})
    return json.dumps(data, ensure_ascii=False, indent=2)


def run(args: argparse.Namespace) -> int:
    try:
        text = _read(args.file)
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        print(f"error: cannot read lyrics from {args.file!r}: {reason}", file=sys.stderr)
        return 2
    result = format_lyrics(text, args.to, style=args.style, duration_s=args.duration,
                           instrumental=args.instrumental, bpm=args.bpm)
    if args.json:
        print(_as_json(result))
    else:
        print(result.lyrics)
        if result.style:
            print(f"\nstyle: {result.style}")
        for fix in result.fixes:
            print(f"fixed: {fix}", file=sys.stderr)
        for error in result.errors:
            print(f"error: {error}", file=sys.stderr)
        print(f"estimated length: {result.estimated_seconds:.0f} s", file=sys.stderr)
    return 1 if args.check and result.errors else 0
