"""``python -m studio describe "TEXT"``: simple mode from the command line, printed as JSON."""

from __future__ import annotations

import argparse
import json
import sys

from backends.acestep.planner.model import DEFAULT_PLANNER, PLANNER_CHECKPOINTS
from studio.ground.errors import StudioError


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "describe",
        help="turn a one-line description into caption, lyrics and metadata (ACE-Step planner)",
        description="Simple mode: the ACE-Step 5 Hz LM expands a description into a caption, lyrics "
        "and metadata, printed as JSON for editing before rendering.",
    )
    parser.add_argument("text", help='what the song should be, e.g. "a feel-good summer song about a beach"')
    parser.add_argument(
        "--planner",
        choices=sorted(PLANNER_CHECKPOINTS),
        default=DEFAULT_PLANNER,
        help=f"planner size (default {DEFAULT_PLANNER})",
    )
    parser.add_argument("--weights", help="Hub id or local folder of the planner; overrides --planner")
    parser.add_argument("--seed", type=int, default=None, help="seed for repeatable sampling")
    parser.add_argument("--instrumental", action="store_true", help="ask for an instrumental piece")
    parser.add_argument("--language", default=None, help="vocal language code to use, e.g. en, zh, ja")
    parser.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")
    parser.add_argument(
        "--max-new-tokens", type=int, default=None, help="cap on generated tokens (default 3500, upstream's)"
    )
    parser.set_defaults(handler=run_describe)
    return parser


def run_describe(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from backends.acestep.planner.planner import Planner, PlannerOptions

    try:
        options = PlannerOptions(max_new_tokens=args.max_new_tokens)
    except ValidationError:
        print("error: --max-new-tokens must be between 16 and 3500", file=sys.stderr)
        return 2
    try:
        planner = Planner.load(args.weights or args.planner, device=args.device)
        try:
            draft = planner.describe(
                args.text,
                instrumental=args.instrumental,
                language=args.language,
                seed=args.seed,
                options=options,
            )
        finally:
            planner.unload()
    except StudioError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(draft.to_dict(), ensure_ascii=False, indent=2))
    return 0
