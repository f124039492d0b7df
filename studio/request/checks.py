"""Every check that needs no model: a request fits its backend, or a StudioError says what to change.

The lyrics are formatted, the seeds drawn and an uploaded source decoded here, once per generation:
``studio.request.prepare`` reuses them when the budget guard lightens the request.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel

from backends.base import Capabilities, RenderJob
from studio import registry
from studio.editing import EditPlan, check_task
from studio.errors import validate
from studio.ground.errors import StudioError
from studio.ground.vocabulary import Input
from studio.lyrics import FormatResult, estimate_seconds, format_lyrics, parse
from studio.lyrics import validate as check_dialect
from studio.request.prepared import Prepared
from studio.song import MAX_SEED, SongRequest

# Request fields that only some backends understand, with the Input that declares them (the UI shows
# their controls from this table too, studio.ui.forms).
OPTIONAL_INPUTS: dict[str, Input] = {
    "bpm": Input.BPM,
    "key": Input.KEY,
    "time_signature": Input.TIME_SIGNATURE,
    "language": Input.LANGUAGE,
}


def alternatives(ok: Callable[[Capabilities], bool]) -> str:
    """The display names of the backends for which ``ok`` holds, for a refusal's \"pick ...\"."""
    names = [s.capabilities.display_name for s in registry.all_specs() if ok(s.capabilities)]
    return " or ".join(names)


def check_duration(duration: float, caps: Capabilities) -> None:
    name = caps.display_name
    if duration < caps.min_duration_s:
        raise StudioError(
            f"`duration` must be >= {caps.min_duration_s:g} s for {name}, got {duration:g}; lengthen the song."
        )
    if duration > caps.max_duration_s:
        longer = alternatives(lambda c: c.max_duration_s >= duration and c.name != caps.name)
        tip = f" or pick {longer}" if longer else ""
        raise StudioError(
            f"`duration` must be <= {caps.max_duration_s:g} s for {name}, got {duration:g}; shorten the song{tip}."
        )


def new_seeds(seed: int | None, takes: int) -> list[int]:
    """Consecutive seeds from the given one (or a random one), so a take can be reproduced alone."""
    base = secrets.randbelow(MAX_SEED + 1) if seed is None else seed
    return [(base + i) % (MAX_SEED + 1) for i in range(takes)]


@dataclass(frozen=True)
class SentText:
    """The style and lyrics the model receives, the sung length they suggest and the formatter's notes."""

    style: str
    lyrics: str
    estimate_s: float
    notes: tuple[str, ...]
    asked_duration: float | None  # the duration they were formatted for (LeVo's intro and outro follow it)


@dataclass(frozen=True)
class Drawn:
    """What checking a request read, formatted and drew: a lightened copy of it (the budget guard's fit)
    reuses these rather than reading the upload, formatting the lyrics and drawing seeds again."""

    edit: EditPlan
    text: SentText
    seeds: tuple[int, ...]


def check_request(request: SongRequest) -> Prepared:
    """Every check that needs no model: the request fits the backend or a StudioError says why. The
    result is not priced yet (``studio.request.prepare.prepare`` does both)."""
    return checked(request)[0]


def checked(request: SongRequest, reuse: Drawn | None = None, *, decode: bool = True) -> tuple[Prepared, Drawn]:
    """:func:`check_request`, also returning what it drew; with ``reuse`` (from the same request before
    the guard lightened it) the source, the formatted text and the seeds are taken from there.
    ``decode=False``: an upload's header gives its length and nothing is decoded (the job has no
    source audio then: it prices and refuses, it does not render)."""
    given = request
    spec = registry.get_spec(request.backend)
    caps = spec.capabilities
    registry.require_available(spec)
    warnings: list[str] = []
    if reuse is not None:
        edit = reuse.edit
    else:
        takers = alternatives(lambda c: request.task in c.tasks and c.name != caps.name)
        edit = check_task(request, caps, takers, decode=decode)
    warnings += edit.warnings
    editing = edit.task.needs_source

    for name, needed in OPTIONAL_INPUTS.items():
        if getattr(request, name) is not None and not caps.accepts(needed):
            takers = alternatives(lambda c, n=needed: c.accepts(n))
            raise StudioError(
                f"`{name}` is not used by {caps.display_name}; remove it" + (f" or pick {takers}." if takers else ".")
            )
    if request.language and caps.languages and request.language not in caps.languages:
        raise StudioError(
            f"`language` {request.language!r} is not one {caps.display_name} sings; use one of "
            f"{', '.join(caps.languages)}."
        )
    if not request.style and not request.lyrics and not editing:
        raise StudioError("write a style or lyrics (or both); an empty request gives the model nothing to follow.")
    if request.takes > caps.max_takes:
        raise StudioError(f"`takes` must be <= {caps.max_takes} for {caps.display_name}, got {request.takes}.")
    if request.keep_best is not None and request.keep_best >= request.takes:
        raise StudioError(
            f"`keep_best` must be below `takes` ({request.takes}) to choose among them, got "
            f"{request.keep_best}; raise `takes` or drop `keep_best`."
        )
    if request.instrumental and request.lyrics:
        warnings.append("instrumental is on, so the lyrics are not sung.")
    if not request.instrumental and not request.lyrics:
        if edit.task.uses_lyrics:
            warnings.append(f"no lyrics were given, so the {edit.task.noun} is instrumental; write lyrics for vocals.")
        request = request.model_copy(update={"instrumental": True})
    text = reuse.text if reuse is not None and reuse.text.asked_duration == request.duration else None
    text = text or _sent_text(request, caps)
    style, lyrics, estimate = text.style, text.lyrics, text.estimate_s
    warnings += text.notes
    if len(lyrics) > caps.max_lyrics_chars:
        raise StudioError(
            f"`lyrics` must be at most {caps.max_lyrics_chars} characters for {caps.display_name}, got "
            f"{len(lyrics)}; cut some verses."
        )
    if len(style) > caps.max_style_chars:
        raise StudioError(
            f"`style` must be at most {caps.max_style_chars} characters for {caps.display_name}, got "
            f"{len(style)}; keep the genre, mood, instruments and voice."
        )
    if request.instrumental:
        estimate = 0.0  # nothing to sing: the length is the user's or the backend's default
    if edit.duration is not None:
        duration = edit.duration  # the source decides (checked against the backend's range already)
    else:
        duration = request.duration if request.duration is not None else default_duration(caps, estimate)
    check_duration(duration, caps)
    # Weights a task swaps in (ACE-Step's base for extract) bring their own defaults; the user's win.
    wanted = {**(edit.weights.option_defaults if edit.weights else {}), **request.options}
    options: BaseModel = validate(spec.options, wanted, owner=caps.display_name)
    if editing and getattr(options, "planner", "off") != "off":
        # The planner writes audio codes for a new song, which would replace the source's.
        warnings.append(f"the planner was turned off: the {edit.task.name} task follows the source audio instead.")
        options = options.model_copy(update={"planner": "off"})
    refused = spec.refusal(edit.task.name, options) if spec.refusal else None
    if refused:
        raise StudioError(refused)
    if request.partial and not caps.dumps_tokens:
        takers = alternatives(lambda c: c.dumps_tokens)
        warnings.append(
            f"`partial` has no effect on {caps.display_name}: a diffusion model has no half-song to keep, so "
            "the song is whole or stops with the time-limit message" + (f" ({takers} can keep one)." if takers else ".")
        )
    metadata = {k: getattr(request, k) for k in OPTIONAL_INPUTS if getattr(request, k) is not None}
    fields = edit.fields if edit.task.name != "text2music" else None
    if fields is not None:
        metadata.update(fields.metadata())  # the backend's side of the job stays a mapping (backends.base)
    job = RenderJob(
        style=style,
        lyrics=lyrics,
        instrumental=request.instrumental,
        duration_s=float(duration),
        # Drawn once per generation: a lightened copy keeps the seeds (and so the takes) it had.
        seeds=new_seeds(reuse.seeds[0] if reuse is not None else request.seed, request.takes),
        options=options,
        metadata=metadata,
        source_audio=edit.source.audio if edit.source is not None else None,
    )
    if spec.check_job is not None:
        spec.check_job(job)
    ready = Prepared(request=given, job=job, edit=fields, warnings=tuple(warnings))
    return ready, Drawn(edit, text, tuple(job.seeds))


def _sent_text(request: SongRequest, caps: Capabilities) -> SentText:
    """The formatted (or, with ``verbatim``, checked) style and lyrics; formatting errors refuse."""
    if request.verbatim:
        style, lyrics = request.style, "" if request.instrumental else request.lyrics
        estimate = estimate_seconds(parse(lyrics), bpm=request.bpm) if lyrics else 0.0
        problems = check_dialect(caps.lyric_dialect, lyrics, style, instrumental=request.instrumental)
        notes = [f"sent verbatim despite: {p}" for p in problems]
        return SentText(style, lyrics, estimate, tuple(notes), request.duration)
    formatted = format_preview(request)
    formatted.raise_for_errors()
    notes = _summarise([str(f) for f in formatted.fixes], "formatter")
    if formatted.dropped_style_words:
        notes.append(
            f"style words {caps.display_name} does not understand were left out: "
            f"{', '.join(formatted.dropped_style_words)}"
        )
    return SentText(formatted.style, formatted.lyrics, formatted.estimated_seconds, tuple(notes), request.duration)


def format_preview(request: SongRequest) -> FormatResult:
    """Exactly the lyrics and style the chosen model would receive, with fixes and errors."""
    caps = registry.get_spec(request.backend).capabilities
    return format_lyrics(
        request.lyrics,
        caps.lyric_dialect,
        style=request.style,
        duration_s=request.duration,
        instrumental=request.instrumental,
        bpm=request.bpm,
        language=request.language,
    )


# LeVo-style models stop by themselves; the duration is only their ceiling, so it gets headroom
# over the lyric-based estimate instead of cutting the last chorus.
LYRIC_LENGTH_HEADROOM = 1.15


def default_duration(caps: Capabilities, estimated_seconds: float) -> float:
    """No duration given: follow the lyrics when there are any, else the backend's default."""
    if estimated_seconds <= 0:
        return caps.default_duration_s
    want = estimated_seconds * (LYRIC_LENGTH_HEADROOM if caps.duration_follows_lyrics else 1.0)
    return float(min(caps.max_duration_s, max(caps.min_duration_s, math.ceil(want))))


def _summarise(lines: list[str], label: str, keep: int = 8) -> list[str]:
    out = [f"{label}: {line}" for line in lines[:keep]]
    if len(lines) > keep:
        out.append(f"{label}: and {len(lines) - keep} more changes")
    return out
