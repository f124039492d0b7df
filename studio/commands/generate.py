"""`python -m studio generate ...`: make songs from the command line (same path as the app)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from studio import registry
from studio.commands.progress import progress_line
from studio.commands.stems import add_stem_flags
from studio.errors import validate
from studio.ground.errors import StudioError
from studio.ground.progress import ProgressEvent
from studio.options import cli_flags as option_names
from studio.registry import DEFAULT_BACKEND
from studio.request.outputs import OFFERED_FORMATS
from studio.separation.catalog import STEMS_TASK
from studio.song import SongRequest
from studio.tasks import TASK_NAMES


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


def _from_song(path: str) -> dict:
    """The request recorded in a file the studio made (its song card)."""
    from studio.audio import read_card

    return dict(read_card(path).params)


def request_from_args(args: argparse.Namespace) -> SongRequest:
    # Only flags the user set become options, so a backend that lacks one says so by name.
    options = {name: getattr(args, name) for name in BACKEND_FLAGS if getattr(args, name) is not None}
    if getattr(args, "lora", None):
        from backends.acestep.lora import lora_option

        options["loras"] = [lora_option(text) for text in args.lora]
    given = {
        "backend": args.backend,
        "title": args.title,
        "style": args.style,
        "lyrics": _read_lyrics(args) if (args.lyrics is not None or args.lyrics_file) else None,
        "instrumental": args.instrumental,
        "duration": args.duration,
        "seed": args.seed,
        "takes": args.takes if args.takes != 1 else None,
        "keep_best": args.keep_best,
        "bpm": args.bpm,
        "key": args.key,
        "time_signature": args.time_signature,
        "language": args.language,
        "verbatim": args.verbatim or None,
        "partial": args.partial or None,
        "fit_budget": args.fit or None,
        "options": options or None,
        "task": args.task,
        # Absolute, so the song card's recipe still finds the source from another folder.
        "source_audio": str(Path(args.src_audio).expanduser().resolve()) if args.src_audio else None,
        "start": args.start,
        "end": args.end,
        "extend_by": args.extend_by,
        "track": args.track,
        "cover_strength": args.cover_strength,
    }
    if args.from_song:
        # The card's recipe, with any flag given on this command line taking precedence.
        data = _from_song(args.from_song)
        data.update({k: v for k, v in given.items() if v not in (None, "", False) and k != "options"})
        if options:
            data["options"] = {**data.get("options", {}), **options}
    else:
        data = {k: v for k, v in given.items() if v is not None}
        data.setdefault("backend", DEFAULT_BACKEND)
    return validate(SongRequest, data)


# One flag per backend option, built from the backends' Options (studio.options), so a new option gets
# its flag without being listed here; the chosen backend's Options model validates the value.
BACKEND_FLAGS = tuple(option_names())


def add_option_flags(p: argparse.ArgumentParser) -> None:
    for fields in option_names().values():
        first = fields[0]
        owners = ", ".join(dict.fromkeys(registry.get_spec(f.backend).capabilities.display_name for f in fields))
        text = f"{first.description} ({owners})".replace("%", "%%")
        if first.kind in ("bool", "auto-bool"):
            p.add_argument(first.flag, action="store_const", const=True, help=text)
        elif first.kind == "choice":
            p.add_argument(first.flag, choices=list(first.choices), help=text)
        else:
            p.add_argument(first.flag, type=int if first.kind == "int" else float, help=text)


def dump_tokens(path: Path, takes: list) -> list[Path]:
    """Save each take's generated codes (LeVo [1, 3, T], HeartMuLa [8, T]) as .npy."""
    import numpy as np

    paths = [path] if len(takes) == 1 else [path.with_name(f"{path.stem}-{i + 1}.npy") for i in range(len(takes))]
    for target, take in zip(paths, takes, strict=True):
        np.save(target, np.asarray(take.extras["codes"]))
    return paths


def _mastering(args: argparse.Namespace):
    from studio.audio import MasteringSettings

    if args.no_master:
        return MasteringSettings(normalize=False, limit=False)
    if args.target_lufs is not None:
        if not -40 <= args.target_lufs <= -5:
            raise StudioError(f"--target-lufs must be between -40 and -5, got {args.target_lufs:g}.")
        return MasteringSettings(target_lufs=args.target_lufs)
    return None


def _progress(quiet: bool):
    def show(event: ProgressEvent) -> None:
        if not quiet:
            print(progress_line(event), file=sys.stderr, flush=True)

    return show


def run(args: argparse.Namespace) -> int:
    from studio.rendering import Studio

    if args.task == STEMS_TASK:  # a separation, not a render: its own flow (studio.separation)
        from studio.commands import stems

        return stems.run(args)
    if args.stems is not None or args.stems_weights:
        raise StudioError("--stems and --stems-weights belong to the stems task; add --task stems.")
    request = request_from_args(args)
    if args.dump_tokens:
        from studio import registry

        caps = registry.get_spec(request.backend).capabilities
        if not caps.dumps_tokens:
            raise StudioError(
                f"--dump-tokens needs a token-based backend (levo2, heartmula); {caps.display_name} is a "
                "diffusion model."
            )
        if Path(args.dump_tokens).suffix != ".npy":
            raise StudioError(f"--dump-tokens must name a .npy file, got {args.dump_tokens}.")
    device = None
    if args.device:
        from studio import devices

        device = devices.detect(args.device)
    load_options = {"runtime": args.runtime} if args.runtime else {}
    studio = Studio()
    result = studio.generate(
        request, out=Path(args.out), weights=args.weights, device=device, progress=_progress(args.json),
        load_options=load_options, formats=args.format, mastering=_mastering(args),
    )
    token_files = dump_tokens(Path(args.dump_tokens), studio.last_takes) if args.dump_tokens else []
    if args.json:
        print(
            json.dumps(
                {
                    "paths": [str(p) for p in result.paths],
                    "files": [{k: str(v) for k, v in t.files.items()} for t in result.takes],
                    "cards": [str(t.card) for t in result.takes],
                    "loudness_lufs": [t.loudness_lufs for t in result.takes],
                    "sample_rate": result.sample_rate,
                    "duration": result.duration,
                    "seeds": result.seeds,
                    "backend": result.backend,
                    "weights": result.weights,
                    "device": result.device,
                    "dtype": result.dtype,
                    "elapsed_s": result.elapsed_s,
                    "warnings": result.warnings,
                    "tokens": [str(p) for p in token_files],
                    "checks": [t.checks.model_dump(mode="json") if t.checks else None for t in result.takes],
                    "best_first": result.best_first,
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
        if take.checks is not None:
            print(f"  checks: {take.checks.summary()}")
    for path in token_files:
        print(f"wrote tokens {path}")
    print(f"{result.backend} on {result.device}/{result.dtype} in {result.elapsed_s:.1f} s")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="generate songs and write them to --out")
    p.add_argument("--backend", help="acestep (default), levo2 or heartmula")
    p.add_argument("--from-song", metavar="FILE", help="restore the settings of a file the studio made")
    p.add_argument("--weights", help="Hub id or local folder of the backend's weights")
    p.add_argument("--title", help="song title (used in file names)")
    p.add_argument("--style", help="style / caption: genre, mood, instruments, voice")
    lyr = p.add_mutually_exclusive_group()
    lyr.add_argument("--lyrics", help="lyrics text")
    lyr.add_argument("--lyrics-file", help="file with lyrics (- for stdin)")
    p.add_argument("--instrumental", action="store_true", help="no vocals")
    p.add_argument("--duration", type=float, help="seconds (default: the backend's)")
    p.add_argument("--seed", type=int, help="random seed (default: random, reported)")
    p.add_argument("--runtime", help="LeVo 2 runtime: Hub id or folder (env STUDIO_LEVO2_RUNTIME)")
    p.add_argument("--verbatim", action="store_true", help="send lyrics and style exactly as given (no formatter)")
    p.add_argument("--partial", action="store_true",
                   help="if STUDIO_TIME_LIMIT runs out, keep what LeVo 2 / HeartMuLa made (faded) instead of failing")
    p.add_argument("--fit", action="store_true",
                   help="if the song would not fit the time limit (STUDIO_TIME_LIMIT, or a ZeroGPU tier), make "
                   "fewer takes, a smaller planner, fewer steps or a shorter song instead of refusing, and say so")
    add_option_flags(p)
    p.add_argument("--lora", action="append", metavar="ID_OR_FILE[:SCALE]",
                   help="ACE-Step LoRA: a .safetensors file, folder or Hub id, scale 0-2 after the last ':' "
                   "(default 1); repeat to stack")
    p.add_argument("--dump-tokens", metavar="PATH.npy", help="save generated codes (LeVo [1,3,T], HeartMuLa [8,T])")
    p.add_argument("--takes", type=int, default=1, help="number of takes, 1-4")
    p.add_argument("--keep-best", type=int, help="best of N: check the --takes takes and keep only this many")
    p.add_argument("--bpm", type=int, help="tempo in beats per minute")
    p.add_argument("--key", help="key and scale, e.g. 'F# minor'")
    p.add_argument("--time-signature", help="2, 3, 4 or 6 (beats per bar)")
    p.add_argument("--language", help="vocal language code, e.g. en, zh, ja, es")
    p.add_argument("--device", help="cuda, cuda:N, mps or cpu (default: detect; env STUDIO_DEVICE)")
    edit = p.add_argument_group("editing a song (ACE-Step)")
    edit.add_argument("--task", choices=[*TASK_NAMES, STEMS_TASK],
                      help="text2music (default), an edit of --src-audio, or stems (split it; any backend's song)")
    edit.add_argument("--src-audio", metavar="FILE", help="the song to edit: WAV, FLAC, MP3 or OGG")
    edit.add_argument("--start", type=float, metavar="S", help="repaint from this second (default: the start)")
    edit.add_argument("--end", type=float, metavar="S", help="repaint up to this second (default: the end)")
    edit.add_argument("--extend-by", type=float, metavar="S", help="extend: seconds of new music after the end")
    edit.add_argument("--track", metavar="NAME",
                      help="extract/lego: the stem, e.g. vocals, drums, bass; complete: names, comma-separated")
    edit.add_argument("--cover-strength", type=float, metavar="0-1",
                      help="cover: how closely to follow the source (default 1)")
    add_stem_flags(edit)
    p.add_argument("--out", required=True, help="a .wav/.flac/.mp3 path or a folder")
    p.add_argument("--format", action="append", choices=OFFERED_FORMATS, default=[],
                   help="also write this format (repeatable; WAV 24-bit, FLAC, MP3 320 kbps)")
    p.add_argument("--no-master", action="store_true", help="skip loudness normalisation and the limiter")
    p.add_argument("--target-lufs", type=float, help="loudness target (default -14 LUFS)")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.set_defaults(handler=run)
