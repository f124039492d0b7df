"""`python -m studio check SONG_FILE`: measure any audio file the way the studio measures its takes.

A file the studio made carries its recipe (song card), so its lyrics, BPM, key and duration are
the targets unless flags say otherwise; any other file is checked against the flags alone."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from studio.ground.errors import StudioError
from studio.quality.read import read_audio
from studio.quality.report import MARKS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="measure a song: lyrics heard, tempo, key, peaks, silence, ending",
                       description=__doc__)
    p.add_argument("song", help="WAV, FLAC, MP3 or OGG file")
    p.add_argument("--lyrics-file", help="the intended lyrics (any dialect the studio reads)")
    p.add_argument("--lyrics", help="the intended lyrics as text")
    p.add_argument("--vocals", help="the separated vocal stem of the same song, heard instead of the mix")
    p.add_argument("--bpm", type=float, help="requested tempo to compare with")
    p.add_argument("--key", help="requested key, e.g. 'F# minor'")
    p.add_argument("--duration", type=float, help="requested length in seconds")
    p.add_argument("--language", help="language code of the lyrics for Whisper (e.g. en, es, zh, ja)")
    p.add_argument("--asr-model", help="Whisper weights: Hub id or folder (default: $STUDIO_ASR_MODEL or "
                   "openai/whisper-large-v3-turbo)")
    p.add_argument("--no-asr", action="store_true", help="skip the lyric check (no Whisper download)")
    p.add_argument("--device", help="device for Whisper, e.g. cpu or cuda (default: cuda when present)")
    p.add_argument("--json", action="store_true", help="print the checks as JSON")
    p.add_argument("--strict", action="store_true", help="exit with status 1 when any check fails")
    p.add_argument("--sing-again", type=int, metavar="LINE",
                   help="repaint lyric line LINE (as numbered in the report) on ACE-Step, then check the new song")
    p.add_argument("--out", help="with --sing-again: where the new song goes (file or folder; default: beside "
                   "the song)")
    p.add_argument("--weights", help="with --sing-again: ACE-Step weights (Hub id or folder)")
    p.set_defaults(handler=run)


def intent_from(args: argparse.Namespace):
    from studio.quality.checks import Intent

    recipe: dict = {}
    try:
        from studio.audio import read_card

        recipe = dict(read_card(args.song).params)
    except StudioError:
        pass  # not a studio file: only the flags say what it should be
    lyrics = recipe.get("lyrics") or ""
    if args.lyrics_file:
        try:
            lyrics = Path(args.lyrics_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or "not UTF-8 text"
            raise StudioError(f"cannot read --lyrics-file {args.lyrics_file} ({reason}); check the path.") from None
    elif args.lyrics is not None:
        lyrics = args.lyrics
    key = args.key or recipe.get("key")
    if key:
        from studio.song import normalise_key

        try:
            key = normalise_key(key)
        except ValueError as exc:
            raise StudioError(str(exc)) from None
    given_lyrics = bool(args.lyrics_file or args.lyrics)
    return Intent(lyrics=lyrics, instrumental=bool(recipe.get("instrumental")) and not given_lyrics,
                  bpm=args.bpm or recipe.get("bpm"), key=key, duration=args.duration or recipe.get("duration"),
                  language=args.language or recipe.get("language"))


def run(args: argparse.Namespace) -> int:
    from studio.quality.checks import check_take

    audio, rate = read_audio(args.song)
    vocals = None
    if args.vocals:
        vocals, vocal_rate = read_audio(args.vocals, "the vocal stem")
        if vocal_rate != rate:
            raise StudioError(f"--vocals is {vocal_rate} Hz but the song is {rate} Hz; export both at one rate.")
    intent = intent_from(args)
    transcriber = None
    if not args.no_asr and intent.lyrics and not intent.instrumental:
        from studio.quality.asr import load_transcriber

        transcriber = load_transcriber(args.asr_model, device=args.device,
                                       on_progress=lambda m: print(m, file=sys.stderr))
    checks = check_take(audio, rate, intent, vocals=vocals, transcriber=transcriber)
    if args.sing_again is not None:
        return sing_again(args, checks, intent, transcriber)
    if args.json:
        print(json.dumps({"file": str(args.song), "summary": checks.summary(), **checks.model_dump(mode="json")},
                         ensure_ascii=False, indent=2))
    else:
        print(describe(checks))
    failed = checks.failed or (checks.lyrics is not None and checks.lyrics.heard < len(checks.lyrics.lines))
    return 1 if args.strict and failed else 0


def sing_again(args: argparse.Namespace, checks, intent, transcriber) -> int:
    """Repaint one line of the song from its aligned range with its own lyrics, then check the new
    song against the whole lyrics again (the same as the card's 🎤 button)."""
    from studio.errors import validate
    from studio.quality.checks import check_take
    from studio.quality.resing import pick_line, resing_fields
    from studio.rendering import Studio
    from studio.song import SongRequest

    line = pick_line(checks.lyrics, args.sing_again)
    recipe: dict = {}
    try:
        from studio.audio import read_card

        recipe = dict(read_card(args.song).params)
    except StudioError:
        pass  # a song from elsewhere: repainted with ACE-Step's defaults
    for name in ("seed", "takes", "keep_best", "task", "source_audio", "start", "end", "extend_by", "track",
                 "cover_strength", "instrumental"):
        recipe.pop(name, None)
    request = validate(SongRequest, {**recipe, **resing_fields(line, Path(args.song), checks.duration)})
    song = Path(args.song)
    out = Path(args.out) if args.out else song.with_name(f"{song.stem}-line{line.index + 1}{song.suffix}")
    result = Studio().generate(request, out=out, weights=args.weights)
    new_audio, rate = read_audio(str(result.paths[0]))
    again = check_take(new_audio, rate, intent, transcriber=transcriber)
    if args.json:
        print(json.dumps({"file": str(result.paths[0]), "line": line.index + 1, "start": request.start,
                          "end": request.end, "before": checks.summary(), "summary": again.summary(),
                          **again.model_dump(mode="json")}, ensure_ascii=False, indent=2))
    else:
        print(f"sang line {line.index + 1} again ({request.start:g}-{request.end:g} s): wrote {result.paths[0]}")
        print(f"before: {checks.summary()}")
        print(describe(again))
    return 0


def describe(checks) -> str:
    """The checks as a reader wants them: the glance line, then every measure, then every line."""
    out = [checks.summary(), ""]
    for m in checks.measures:
        out.append(f"  {MARKS[m.ok]} {m.name}: {m.detail}")
    if checks.lyrics is not None:
        ly = checks.lyrics
        out += ["", f"  lyrics heard by {ly.asr_model}" + (" on the vocal stem" if ly.on_vocal_stem else " on the mix")
                + f" ({'CER' if ly.unit == 'character' else 'WER'} {ly.error_rate:.1%}):"]
        for line in ly.lines:
            when = f"{_clock(line.start)}-{_clock(line.end)}" if line.start is not None else "     -     "
            mark = {"heard": "✓", "partly": "~", "missing": "✗"}[line.status]
            order = " (out of order)" if line.out_of_order else ""
            out.append(f"  {mark} {when}  {line.text}  [{line.status} {line.heard_share:.0%}{order}]")
        for extra in ly.extra:
            out.append(f"  + heard but not in the lyrics: {extra}")
    elif checks.lyric_note:
        out += ["", f"  {checks.lyric_note}"]
    out.append(f"\n  checked in {checks.elapsed_s:.1f} s")
    return "\n".join(out)


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    return f"{int(seconds // 60)}:{seconds % 60:05.2f}"
