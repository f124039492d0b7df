"""The one generate flow: validate -> format -> backend -> write. UI, CLI and API all call this."""

from __future__ import annotations

import dataclasses
import logging
import math
import re
import secrets
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, Field

from backends.base import BackendSpec, Capabilities, RenderJob, Take
from backends.plan_input import PlanInput
from studio import memory, registry, settings
from studio.audio import MasteringSettings, audio_format
from studio.budget import BudgetContext, Decision, Preflight, Reservation, default_tier, preflight, tier_limits
from studio.budget.calibration import Calibration, StageTimer
from studio.budget.estimate import SizeScale, canonical_stage
from studio.budget.tiers import Tier
from studio.budget.zerogpu import slice_factor
from studio.editing import check_task
from studio.errors import validate
from studio.ground.errors import Cancelled, StudioError
from studio.ground.progress import ProgressEvent, ProgressFn, no_progress
from studio.ground.vocabulary import DeviceClass, Input
from studio.lyrics import FormatResult, estimate_seconds, format_lyrics, parse
from studio.lyrics import validate as check_dialect
from studio.raw import RawRender
from studio.song import MAX_SEED, SongRequest, SongResult
from studio.tasks import TASKS, default_title, get_task, task_weights, tracks_for
from studio.weights import weights_size

# Request fields that only some backends understand, with the Input that declares them.
_OPTIONAL_INPUTS: dict[str, Input] = {
    "bpm": Input.BPM,
    "key": Input.KEY,
    "time_signature": Input.TIME_SIGNATURE,
    "language": Input.LANGUAGE,
}


@dataclass
class Prepared:
    """A request checked against its backend, ready to render."""

    spec: BackendSpec
    job: RenderJob
    warnings: list[str] = field(default_factory=list)


def _alternatives(ok: callable) -> str:
    names = [s.capabilities.display_name for s in registry.all_specs() if ok(s.capabilities)]
    return " or ".join(names)


def check_duration(duration: float, caps: Capabilities) -> None:
    name = caps.display_name
    if duration < caps.min_duration_s:
        raise StudioError(
            f"`duration` must be >= {caps.min_duration_s:g} s for {name}, got {duration:g}; lengthen the song."
        )
    if duration > caps.max_duration_s:
        longer = _alternatives(lambda c: c.max_duration_s >= duration and c.name != caps.name)
        tip = f" or pick {longer}" if longer else ""
        raise StudioError(
            f"`duration` must be <= {caps.max_duration_s:g} s for {name}, got {duration:g}; "
            f"shorten the song{tip}."
        )


def new_seeds(seed: int | None, takes: int) -> list[int]:
    """Consecutive seeds from the given one (or a random one), so a take can be reproduced alone."""
    base = secrets.randbelow(MAX_SEED + 1) if seed is None else seed
    return [(base + i) % (MAX_SEED + 1) for i in range(takes)]


def prepare(request: SongRequest) -> Prepared:
    """Every check that needs no model: the request fits the backend or a StudioError says why."""
    spec = registry.get_spec(request.backend)
    caps = spec.capabilities
    registry.require_available(spec)
    warnings: list[str] = []
    edit = check_task(request, caps, _alternatives(lambda c: request.task in c.tasks and c.name != caps.name))
    warnings += edit.warnings
    editing = edit.task.needs_source

    for name, needed in _OPTIONAL_INPUTS.items():
        if getattr(request, name) is not None and not caps.accepts(needed):
            takers = _alternatives(lambda c, n=needed: c.accepts(n))
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
        raise StudioError(f"`keep_best` must be below `takes` ({request.takes}) to choose among them, got "
                          f"{request.keep_best}; raise `takes` or drop `keep_best`.")
    if request.instrumental and request.lyrics:
        warnings.append("instrumental is on, so the lyrics are not sung.")
    if not request.instrumental and not request.lyrics:
        if edit.task.uses_lyrics:
            warnings.append(
                f"no lyrics were given, so the {edit.task.noun} is instrumental; write lyrics for vocals."
            )
        request = request.model_copy(update={"instrumental": True})
    if request.verbatim:
        style, lyrics = request.style, "" if request.instrumental else request.lyrics
        estimate = estimate_seconds(parse(lyrics), bpm=request.bpm) if lyrics else 0.0
        problems = check_dialect(caps.lyric_dialect, lyrics, style, instrumental=request.instrumental)
        warnings += [f"sent verbatim despite: {p}" for p in problems]
    else:
        formatted = format_preview(request)
        formatted.raise_for_errors()
        style, lyrics, estimate = formatted.style, formatted.lyrics, formatted.estimated_seconds
        warnings += _summarise([str(f) for f in formatted.fixes], "formatter")
        if formatted.dropped_style_words:
            warnings.append(
                f"style words {caps.display_name} does not understand were left out: "
                f"{', '.join(formatted.dropped_style_words)}"
            )
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
        takers = _alternatives(lambda c: c.dumps_tokens)
        warnings.append(
            f"`partial` has no effect on {caps.display_name}: a diffusion model has no half-song to keep, so "
            "the song is whole or stops with the time-limit message" + (f" ({takers} can keep one)." if takers else ".")
        )
    metadata = {k: getattr(request, k) for k in _OPTIONAL_INPUTS if getattr(request, k) is not None}
    if edit.task.name != "text2music":
        metadata.update(edit.metadata)
    job = RenderJob(
        style=style,
        lyrics=lyrics,
        instrumental=request.instrumental,
        duration_s=float(duration),
        seeds=new_seeds(request.seed, request.takes),
        options=options,
        metadata=metadata,
        source_audio=edit.source.audio if edit.source is not None else None,
    )
    if spec.check_job is not None:
        spec.check_job(job)
    return Prepared(spec=spec, job=job, warnings=warnings)


def format_preview(request: SongRequest) -> FormatResult:
    """Exactly the lyrics and style the chosen model would receive, with fixes and errors."""
    caps = registry.get_spec(request.backend).capabilities
    return format_lyrics(
        request.lyrics, caps.lyric_dialect, style=request.style, duration_s=request.duration,
        instrumental=request.instrumental, bpm=request.bpm, language=request.language,
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


_CALIBRATIONS: dict[Path, Calibration] = {}


def calibration() -> Calibration:
    """One calibration store per state folder, shared by every request in this process."""
    from studio.budget.calibration import FILE_NAME
    from studio.paths import state_dir

    path = state_dir() / FILE_NAME
    if path not in _CALIBRATIONS:
        _CALIBRATIONS[path] = Calibration(path)
    return _CALIBRATIONS[path]


def plan_input(prepared: Prepared, *, include_load: bool | None = None) -> PlanInput:
    """The parts of a prepared request that decide its GPU cost. ``include_load=None``: the load
    stage counts when the process or worker that renders will have to load (studio.worker_state)."""
    from studio.worker_state import load_due

    job = prepared.job
    meta = job.metadata
    return PlanInput(
        duration_s=job.duration_s,
        steps=getattr(job.options, "steps", None),
        passes=dit_passes(prepared),
        takes=len(job.seeds),
        planner=None if getattr(job.options, "planner", "off") == "off" else job.options.planner,
        task=meta.get("task", "text2music"),
        extra_weights=meta.get("weights"),
        # Extra weights (an editing task's base model) may not be held with the model: priced as loading.
        include_load=(load_due(prepared.spec.name) or meta.get("weights") is not None)
        if include_load is None else include_load,
    )


def dit_passes(prepared: Prepared) -> int:
    """Transformer evaluations per step: guided weights run two, a partial cover two more."""
    job = prepared.job
    passes = 1
    variant = task_weights(prepared.spec.name, job.metadata.get("task", "text2music"))
    if variant is not None and variant.guided and getattr(job.options, "guidance_scale", 1.0) > 1.0:
        passes *= 2
    if job.metadata.get("cover_strength", 1.0) < 1.0:
        passes += 1
    return passes


def budget_context(tier: str | None = None, quota_left_s: float | None = None) -> BudgetContext:
    """Prices for this process's device, the visitor's tier and this machine's calibration."""
    from studio import devices

    info = devices.detect()
    chosen = Tier(tier) if tier else default_tier()
    # A ZeroGPU tier is priced on ZeroGPU figures wherever the question is asked (e.g. `plan` on a laptop).
    kind = DeviceClass.ZEROGPU if chosen.on_zerogpu else info.kind
    # This machine's measurements only price work on this machine, never another device class.
    measured = calibration().for_device(info.name) if kind is info.kind else None
    memory_gb, where = devices.memory_budget(info, kind)
    return BudgetContext(kind, tier_limits(chosen), measured, slice_factor(), quota_left_s,
                         memory_gb=memory_gb, memory_where=where, sizes=weights_sizes())


def weights_sizes() -> dict[str, SizeScale]:
    """Per backend, its configured weights against the published ones its seeds describe (only those that
    can be counted here, offline; the rest are priced as published)."""
    out: dict[str, SizeScale] = {}
    for spec in registry.all_specs():
        found = weights_size(spec)
        if found is not None:
            out[spec.name] = SizeScale(factor=found.factor, note=found.sentence())
    return out


def prefetch(request: SongRequest) -> None:
    """Download, off the GPU, what rendering ``request`` would otherwise fetch while holding it."""
    spec = registry.get_spec(request.backend)
    if spec.prefetch is not None:
        options = validate(spec.options, request.options, owner=spec.capabilities.display_name)
        spec.prefetch(options, request.task)
    from studio.quality.finish import lyric_check_on

    # The lyric check runs after the window, but a 1.6 GB first download there would keep the visitor
    # waiting on a finished song; fetched here, it overlaps nothing and costs no GPU time either.
    if lyric_check_on() and request.lyrics.strip() and not request.instrumental:
        from studio.quality.asr import prefetch_asr

        prefetch_asr()


def plan(request: SongRequest, tier: str | None = None, *, fit: bool | None = None,
         quota_left_s: float | None = None) -> Preflight:
    """The budget guard's decision for a request, before any GPU time is spent (``fit``: lighten it
    rather than refuse; None: as the request asks, ``fit_budget``)."""
    fit = request.fit_budget if fit is None else fit
    return plan_prepared(prepare(request), tier, fit=fit, quota_left_s=quota_left_s)


def fit_to_budget(request: SongRequest, tier: str | None = None) -> tuple[SongRequest, str | None]:
    """The request that will run and, when the guard lightened it, the sentence saying how.

    Only a request that asks for it (``fit_budget``) and does not fit as it is changes; one that
    cannot be made to fit is left as it is, for the guard to refuse with its alternatives."""
    if not request.fit_budget:
        return request, None
    decision = plan(request, tier)
    if decision.decision is not Decision.ADJUSTED:
        return request, None
    asked, fitted = decision.requested, decision.request
    options = dict(request.options)
    if fitted.steps != asked.steps:
        options["steps"] = fitted.steps
    if fitted.planner != asked.planner:
        options["planner"] = fitted.planner or "off"
    update: dict[str, object] = {"takes": fitted.takes, "options": options}
    if request.keep_best is not None and fitted.takes <= request.keep_best:
        update["keep_best"] = None  # too few takes left to choose among: keep all of them
    if fitted.duration_s != asked.duration_s:  # only ever a new song's (fit_request never shortens edits)
        update["duration"] = fitted.duration_s
    return request.model_copy(update=update), decision.message


def own_tier() -> str | None:
    """The tier a run planned on this machine for nobody in particular uses (CLI, batch): on
    ZeroGPU the default one, elsewhere ``local``."""
    from studio.devices import on_zerogpu

    return None if on_zerogpu() else Tier.LOCAL.value


def plan_prepared(prepared: Prepared, tier: str | None = None, *, fit: bool = False,
                  quota_left_s: float | None = None) -> Preflight:
    """:func:`plan` for a request already checked by :func:`prepare`."""
    others = [s.capabilities for s in registry.available_specs()]
    from studio import devices

    caps, ctx = prepared.spec.capabilities, budget_context(tier, quota_left_s)
    # Priced for another device class (a ZeroGPU tier asked about on a laptop), nothing is held there yet.
    here = ctx.device is devices.detect().kind
    decided = preflight(caps, plan_input(prepared, include_load=None if here else True), ctx, fit=fit, others=others)
    return dataclasses.replace(decided, expected=ctx.estimate(caps, decided.request, guard=False))


class TaskInfo(BaseModel):
    """What the UI shows about one task on one backend: the controls it needs and the weights it
    uses, with what loading them costs here."""

    task: str
    title: str
    summary: str
    supported: bool
    needs_source: bool
    uses_range: bool
    uses_extend: bool
    uses_strength: bool
    track: str = Field(description="none, optional, required or list (comma-separated names).")
    tracks: tuple[str, ...] = ()
    weights_name: str = Field(description="The weights this task runs on, in words.")
    weights: str = Field(description="Hub id or folder those weights come from.")
    weights_env: str
    extra_weights: bool = Field(description="True when the task loads weights besides the backend's own.")
    load_s: float | None = Field(None, description="Estimated seconds to load those extra weights here.")
    download_gb: float | None = Field(None, description="Download size of the extra weights (once).")
    note: str = ""


def task_info(backend: str, task: str, tier: str | None = None) -> TaskInfo:
    """Describe ``task`` on ``backend`` for the UI (cheap: nothing is loaded)."""

    caps = registry.get_spec(backend).capabilities
    kind = get_task(task)
    variant = task_weights(caps.name, kind.name)
    load_s = None
    note = ""
    if variant is not None:
        ctx = budget_context(tier)
        probe = PlanInput(duration_s=caps.min_duration_s, steps=1, task=kind.name, extra_weights=variant.name)
        try:
            load_s = ctx.estimate(caps, probe).stages.get(f"load:{variant.name}")
        except StudioError:
            load_s = None
        cost = f"about {load_s:.0f} s to load" if load_s is not None else "extra loading time"
        note = (
            f"{kind.title} runs on {variant.display_name}, a second model: {cost} on top of "
            f"{caps.display_name}, and a {variant.download_gb:g} GB download the first time."
        )
    elif kind.name not in caps.tasks:
        takers = _alternatives(lambda c: kind.name in c.tasks)
        note = f"{caps.display_name} cannot do this" + (f"; {takers} can." if takers else ".")
    spec = registry.get_spec(backend)
    refused = spec.refusal(kind.name, None) if spec.refusal and kind.name in caps.tasks else None
    note = refused or note
    return TaskInfo(
        task=kind.name, title=kind.title, summary=kind.summary, supported=kind.name in caps.tasks and not refused,
        needs_source=kind.needs_source, uses_range=kind.uses_range, uses_extend=kind.uses_extend,
        uses_strength=kind.uses_strength, track=kind.track,
        tracks=tracks_for(caps.name) if kind.track != "none" else (),
        weights_name=variant.display_name if variant else caps.display_name,
        weights=(settings.lookup(variant.weights_env).get() or variant.default_weights) if variant
        else (settings.lookup(caps.weights_env).get() or caps.default_weights),
        weights_env=variant.weights_env if variant else caps.weights_env,
        extra_weights=variant is not None, load_s=load_s, download_gb=variant.download_gb if variant else None,
        note=note,
    )


def tasks_for(backend: str, tier: str | None = None) -> list[TaskInfo]:
    """Every task ``backend`` can do, in the table's order (text2music first)."""
    caps = registry.get_spec(backend).capabilities
    return [task_info(backend, name, tier) for name in TASKS if name in caps.tasks]


def local_budget(prepared: Prepared) -> Reservation | None:
    """The reservation for a run that was given none (CLI, batch): on this machine's own tier, so the
    estimate drives the progress ETA and ``STUDIO_TIME_LIMIT`` is enforced when set. None when this
    device has no cost figures and nothing limits the run (there is then no ETA to show)."""
    tier = own_tier()
    try:
        decision = plan_prepared(prepared, tier)
    except StudioError:
        if tier_limits(tier or default_tier()).cap_s is not None:
            raise  # a limit is set, so a run that cannot be priced must not start unchecked
        return None
    if not decision.ok:
        raise StudioError(decision.message)
    return decision.reservation


def take_warnings(takes: Sequence[Take]) -> list[str]:
    """Warnings a backend attached to its takes (e.g. a song cut short by the time budget)."""
    out: list[str] = []
    for i, take in enumerate(takes):
        for note in take.extras.get("warnings", ()):
            out.append(f"take {i + 1}: {note}" if len(takes) > 1 else str(note))
    return out


def record_timings(prepared: Prepared, measured: dict[str, float]) -> None:
    """Feed one run's measured stage times to the calibration (persisted per device name)."""
    from studio import devices

    info = devices.detect()
    caps = prepared.spec.capabilities
    model = caps.cost.get(info.kind)
    if model is None:
        return
    calibration().record(caps.name, info.name, model, plan_input(prepared, include_load=True), measured)


def record_render(raw: RawRender) -> None:
    """Record a render's measured stage times here, once. On ZeroGPU this runs in the main process
    with the GPU worker's measurements: the worker is a fork whose memory (and any file it writes
    against a stale copy) the planner never sees."""
    if raw.recorded:
        return
    from studio import devices

    caps = registry.get_spec(raw.request.backend).capabilities
    model = caps.cost.get(devices.detect().kind)
    if model is not None:
        calibration().record(caps.name, devices.detect().name, model, raw.plan, raw.stage_seconds)
    raw.recorded = True


def check_output(out: Path) -> None:
    """Fail before any GPU time is spent if the songs could not be saved."""
    folder = out.parent if out.suffix else out
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise StudioError(f"cannot write to {folder} ({exc.strerror}); pick another --out.") from None


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40]
    return slug or "song"


AUDIO_SUFFIXES = (".wav", ".flac", ".mp3")


def take_targets(out: Path, request: SongRequest, seeds: list[int]) -> list[tuple[Path, str]]:
    """(folder, file stem) per take. ``song.wav`` -> song (or song-1, song-2 for several takes);
    a folder gets ``<title-or-style>-<seed>`` per take."""
    if out.suffix:
        if out.suffix.lower() not in AUDIO_SUFFIXES:
            raise StudioError(f"--out must end in .wav, .flac or .mp3 (or be a folder), got {out.name}.")
        if len(seeds) == 1:
            return [(out.parent, out.stem)]
        return [(out.parent, f"{out.stem}-{i + 1}") for i in range(len(seeds))]
    stem = _slug(request.title or default_title(request.task, request.source_audio, request.track)
                 or request.style or "song")
    return [(out, f"{stem}-{seed}") for seed in seeds]


def output_formats(out: Path, extra: Sequence[str] = ()) -> list[str]:
    """The --out suffix decides the main format; --format adds others (order kept, no repeats)."""
    main = out.suffix.lower().lstrip(".") if out.suffix else (extra[0] if extra else "wav")
    return list(dict.fromkeys([main, *extra]))


class CancelToken:
    """A stop request for one generation. It is a file, not a threading.Event, because on ZeroGPU
    the work runs in a forked worker process that shares the filesystem but not memory."""

    def __init__(self, folder: Path | str | None = None) -> None:
        base = Path(folder or tempfile.gettempdir())
        self.path = base / f".studio-cancel-{secrets.token_hex(12)}"

    def cancel(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch()

    @property
    def cancelled(self) -> bool:
        return self.path.exists()

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def cancellable(progress: ProgressFn, token: CancelToken) -> ProgressFn:
    """A progress callback that raises ``Cancelled`` at the next step once ``token`` is cancelled."""

    def report(event: ProgressEvent) -> None:
        if token.cancelled:
            raise Cancelled(f"stopped during {event.stage}; nothing was saved.")
        progress(event)

    return report


class Studio:
    """Holds the loaded backends; one per process (the UI, CLI and API share it)."""

    def __init__(self, cache: registry.BackendCache | None = None) -> None:
        self.cache = cache or registry.BackendCache()
        # The takes of the last generate() in memory (codes, stems) for callers that want more
        # than the files, e.g. --dump-tokens.
        self.last_takes: list[Take] = []

    def render(
        self,
        request: SongRequest,
        *,
        weights: str | None = None,
        device=None,
        progress: ProgressFn = no_progress,
        load_options: dict | None = None,
        budget: Reservation | None = None,
        prepared: Prepared | None = None,
    ) -> tuple[Prepared, list[Take], dict[str, float]]:
        """:meth:`measure` and record the measured stage times in this process's calibration."""
        prepared, takes, timings, measured = self.measure(
            request, weights=weights, device=device, progress=progress, load_options=load_options, budget=budget,
            prepared=prepared,
        )
        record_timings(prepared, measured)
        return prepared, takes, timings

    def measure(
        self,
        request: SongRequest,
        *,
        weights: str | None = None,
        device=None,
        progress: ProgressFn = no_progress,
        load_options: dict | None = None,
        budget: Reservation | None = None,
        prepared: Prepared | None = None,
    ) -> tuple[Prepared, list[Take], dict[str, float], dict[str, float]]:
        """Load (once) and render; also returns the seconds measured per stage, for the caller to
        record where the calibration lives (on ZeroGPU: the main process, not the GPU worker).
        With a ``budget`` the run stops cleanly before its reservation runs out (without one, this
        machine's own tier is used: an ETA, and ``STUDIO_TIME_LIMIT`` when set); ``request.partial``
        lets token-based backends keep a song cut short instead. ``prepared`` is the already-checked
        request, when the caller has one (it carries the seeds to use)."""
        prepared = prepared or prepare(request)
        if budget is None:
            budget = local_budget(prepared)
        if budget is not None:
            progress = budget.deadline(progress, partial_ok=request.partial)
        timer = StageTimer()
        user_progress = progress

        def progress(event: ProgressEvent) -> None:
            timer(event)
            user_progress(event)

        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        name = prepared.spec.capabilities.display_name
        progress(ProgressEvent("loading", 0, 1, f"loading {name}"))
        out_of_memory = ""
        held = self.cache.loaded().get(request.backend)
        try:
            backend = self.cache.get(
                request.backend, weights, device=device,
                on_progress=lambda msg: progress(ProgressEvent("loading", 0, 1, msg)),
                **(load_options or {}),
            )
            timings["load"] = time.perf_counter() - t0
            t1 = time.perf_counter()
            takes = backend.render(prepared.job, progress)
        except Exception as exc:
            if not memory.is_out_of_memory(exc):
                raise
            out_of_memory = memory.out_of_memory_message(name, prepared.job.duration_s, len(prepared.job.seeds))
        if out_of_memory:  # outside the handler: the exception's frames (activations) are gone by now
            self._free_after_oom(request.backend)
            raise memory.OutOfMemory(out_of_memory)
        timings["render"] = time.perf_counter() - t1
        # The timer's "loading" is the same stage as the measured "load": keep one sample, not two. A backend
        # this process already held loaded nothing: its ~0 s is no load time, and fitted among real loads
        # (0.8 s cold for the tiny ACE-Step here) its log error made the next estimate of a 120 s song
        # 28 hours. Only a real load is a load sample.
        stages = {k: v for k, v in timer.finish().items() if canonical_stage(k) != "load"}
        loaded = {} if backend is held else {"load": timings["load"]}
        return prepared, takes, timings, {**stages, **loaded}

    def render_raw(
        self,
        request: SongRequest,
        *,
        weights: str | None = None,
        device=None,
        progress: ProgressFn = no_progress,
        load_options: dict | None = None,
        budget: Reservation | None = None,
        prepared: Prepared | None = None,
    ) -> RawRender:
        """The model's part only, as plain data: what the GPU function runs and returns. Nothing is
        mastered, written or recorded; :func:`record_render` and ``studio.finishing`` do that after."""
        prepared = prepared or prepare(request)
        reused = request.backend in self.cache.loaded()
        prepared, takes, timings, measured = self.measure(
            request, weights=weights, device=device, progress=progress, load_options=load_options, budget=budget,
            prepared=prepared,
        )
        self.last_takes = takes
        backend = self.cache.loaded()[request.backend]
        return RawRender(
            request=request, takes=takes, seeds=list(prepared.job.seeds), duration_s=prepared.job.duration_s,
            lyrics_sent=prepared.job.lyrics, style_sent=prepared.job.style,
            warnings=list(prepared.warnings) + _device_warnings(device), plan=plan_input(prepared, include_load=True),
            stage_seconds=measured, weights=backend.weights, device=str(backend.device), dtype=str(backend.dtype),
            load_s=timings["load"], render_s=timings["render"], reused_weights=reused,
        )

    def describe(
        self,
        backend: str,
        text: str,
        *,
        instrumental: bool = False,
        language: str | None = None,
        seed: int | None = None,
        device=None,
        progress: ProgressFn = no_progress,
    ) -> dict:
        """Simple mode: the backend's sketcher writes caption, lyrics and metadata from a description, to
        be shown for editing before anything is rendered. Only the sketcher's own model is loaded (for
        ACE-Step the planner, not the DiT pipeline)."""
        from studio.sketching import check_description

        text = check_description(backend, text)
        spec = registry.get_spec(backend)
        caps, sketcher = spec.capabilities, spec.sketcher
        state = registry.availability(spec)
        if not state.ok:
            raise StudioError(f"{caps.display_name} cannot write a song here: {state.reason}")
        from studio import devices

        where = devices.as_device_info(device).torch_device
        try:
            return sketcher.run(text, instrumental=instrumental, language=language or None, seed=seed,
                                device=where, progress=progress)
        except Exception as exc:
            if not memory.is_out_of_memory(exc):
                raise
        memory.free_accelerator_memory()  # outside the handler: the exception's frames (activations) are gone
        raise memory.OutOfMemory(
            f"{caps.display_name}'s {sketcher.what} ran out of memory writing the sketch; the memory was freed. "
            "Try again when other songs on this GPU have finished, or write the style and lyrics yourself."
        )

    def _free_after_oom(self, backend: str) -> None:
        """A backend that ran out of memory part-way may hold half-moved weights or stale
        activations: drop it (the next request loads it cleanly) and give the memory back."""
        try:
            self.cache.unload(backend)
        except Exception:  # already dropped from the cache; a failing unload must not hide the OOM
            logging.getLogger(__name__).warning("unloading %s after running out of memory failed", backend,
                                                exc_info=True)
        memory.free_accelerator_memory()

    def generate(
        self,
        request: SongRequest,
        *,
        out: Path,
        weights: str | None = None,
        device=None,
        progress: ProgressFn = no_progress,
        load_options: dict | None = None,
        formats: Sequence[str] = (),
        mastering: MasteringSettings | None = None,
        budget: Reservation | None = None,
        check: bool = True,
    ) -> SongResult:
        """Render and export: mastered files in ``formats`` (the raw take beside them), a song
        card in every file and as a sidecar, and stems zipped when the backend made any.
        ``mastering=None`` uses the default (-14 LUFS, -1 dBTP). Without a ``budget`` the run is
        planned on this machine's own tier, lightened first when the request asks to fit it.
        ``check`` measures each take (studio.quality.finish.check_result); a caller holding a GPU
        window passes False and checks after the window closes."""
        started = time.perf_counter()
        fitted = None
        if budget is None:  # a caller that brings a reservation has planned (and fitted) already
            request, fitted = fit_to_budget(request, own_tier())
        prepared = prepare(request)  # fail on bad input before touching the disk or the GPU
        check_output(out)
        chosen = output_formats(out, formats)
        for fmt in chosen:
            audio_format(fmt)  # unknown formats are refused before any GPU time
        raw = self.render_raw(
            request, weights=weights, device=device, progress=progress, load_options=load_options, budget=budget,
            prepared=prepared,
        )
        record_render(raw)
        from studio.finishing import finish

        # A take cut short by the time budget ends the request: later takes were never made.
        result, _ = finish(
            raw, take_targets(out, request, prepared.job.seeds), now=chosen, mastering=mastering,
            progress=progress, started=started, warnings=[fitted] if fitted else [],
        )
        if not check:
            return result
        from studio.quality.finish import check_result

        return check_result(request, result, progress=progress)


def _device_warnings(device) -> list[str]:
    from studio import devices

    info = device or devices.detect()
    return list(info.warnings)
