"""The generate flow as the UI and API run it: GPU call, cancel, keep in the library.

Nothing here imports gradio; handlers in ``studio.ui`` turn its results into components.
"""

from __future__ import annotations

import functools
import math
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backends.base import Cancelled, ProgressEvent, ProgressFn, StudioError, no_progress
from studio import glibc_heap, quotas, ratelimit, registry
from studio import library as lib
from studio.budget import Reservation
from studio.budget.deadline import eta_of, eta_text
from studio.budget.estimate import stage_base
from studio.budget.zerogpu import gpu_task, slice_factor
from studio.finishing import PLAYER_FORMAT, finish
from studio.gpu import gpu, gpu_available_here
from studio.gpu_jobs import reservation_for
from studio.later import LATER, master_file
from studio.quality.finish import check_result
from studio.quality.store import save_checks
from studio.raw import RawRender
from studio.service import CancelToken, Studio, cancellable, fit_to_budget, plan, prefetch, record_render
from studio.song import SongRequest, SongResult, TakeResult
from studio.worker_state import WORKER

STUDIO = Studio()  # one per process: the UI and the API share the loaded weights
# MP3 320 is also what the player streams (studio.finishing.PLAYER_FORMAT), written before the song
# is shown; the 24-bit WAV follows in the background.
DOWNLOAD_FORMATS = ("wav", "mp3")


@dataclass(frozen=True)
class Stage:
    label: str
    start: float  # where this stage sits on the overall progress bar
    end: float


# Stage names come from ProgressEvent.stage; unknown ones show as-is at the last known position.
STAGES: dict[str, Stage] = {
    "loading": Stage("Loading weights", 0.0, 0.15),
    "planning": Stage("Planning", 0.15, 0.2),
    "rendering": Stage("Rendering", 0.2, 0.85),
    "decoding": Stage("Decoding", 0.85, 0.9),
    "mastering": Stage("Mastering", 0.9, 0.95),
    "saving": Stage("Saving", 0.95, 1.0),
}


def describe(event: ProgressEvent) -> tuple[float, str]:
    """(overall fraction, label) for one progress event, with the time left when it is known."""
    stage = STAGES.get(event.stage, Stage(event.stage.capitalize(), 0.9, 0.95))
    part = event.done / event.total if event.total else 0.0
    label = stage.label
    if event.total > 1:
        label += f" {event.done}/{event.total}"
    if event.message:
        label += f" — {event.message}"
    if eta := eta_text(eta_of(event)):
        label += f" · {eta}"
    return stage.start + (stage.end - stage.start) * min(max(part, 0.0), 1.0), label


@dataclass
class StageProgress:
    """Shows studio progress events as named stages on a ``gr.Progress``.

    A plain picklable object rather than a closure, so on ZeroGPU it travels into the forked GPU
    worker with the other arguments: there ``spaces`` replaces gradio's ``Queue.set_progress`` with
    a relay to the visitor's page (``spaces/zero/gradio.py``: QUEUE_RPC_METHODS) and restores the
    event id, so ``gr.Progress`` calls made while the GPU works reach the progress bar."""

    bar: Any  # gr.Progress, or anything called like one: bar(fraction, desc=label)

    def __call__(self, event: ProgressEvent) -> None:
        fraction, label = describe(event)
        self.bar(fraction, desc=label)


def _reservation(request: SongRequest, *_: object, tier: str | None = None, **__: object) -> Reservation:
    return reservation_for(request, tier)


@gpu_task(plan=_reservation)
def render_on_gpu(
    request: SongRequest,
    token: CancelToken,
    progress: ProgressFn | None = None,
    *,
    tier: str | None = None,
    budget: Reservation,
) -> RawRender:
    """The only function that holds the GPU, for the duration the budget guard reserved for the
    visitor's ``tier``; the run stops cleanly before that runs out. Only the model runs here: it
    returns the raw takes and the measured stage times as plain, picklable data, and the caller
    masters, encodes, files and records them after the GPU is released."""
    raw = STUDIO.render_raw(request, progress=cancellable(progress or no_progress, token), budget=budget)
    return raw.portable()


# A sketch (caption, metadata and lyrics, no audio codes) is ~600 planner tokens; the planner
# writes audio codes at 5 per second of song, so a 120-s song's plan is priced like that many tokens.
SKETCH_PRICED_AS_S = 120.0


def _sketch_request(backend: str) -> SongRequest:
    """A stand-in request the guard prices like a sketch: an instrumental song whose planner pass
    writes as many tokens as a sketch does, with simple mode's planner size."""
    from backends.acestep.spec import DESCRIBE_PLANNER

    caps = registry.get_spec(backend).capabilities
    duration = min(caps.max_duration_s, max(caps.min_duration_s, SKETCH_PRICED_AS_S))
    return SongRequest(backend=backend, style="sketch", instrumental=True, duration=duration,
                       options={"planner": DESCRIBE_PLANNER})


def describe_seconds(backend: str, *_args: Any, **_kwargs: Any) -> int:
    """GPU seconds to declare for a sketch, from the budget guard: the load stage when the worker
    will have to load (studio.worker_state) plus one planner pass, with the estimate's margin."""
    decision = plan(_sketch_request(backend))
    if decision.reservation is None:
        raise StudioError(decision.message)
    estimate = decision.reservation.estimate
    seconds = sum(s for name, s in estimate.stages.items() if stage_base(name) in ("load", "plan"))
    return max(1, math.ceil(seconds * estimate.margin / slice_factor()))


@gpu(duration=describe_seconds)
def describe_on_gpu(backend: str, text: str, instrumental: bool, language: str | None, seed: int | None) -> dict:
    """Simple mode's sketch (the planner's create-sample pass): plain data in, plain data out."""
    return STUDIO.describe(backend, text, instrumental=instrumental, language=language, seed=seed)


def preload_for_zerogpu() -> None:
    """At start-up on ZeroGPU, in the main process: fetch the default backend and load it onto
    ``cuda``. This is the documented ZeroGPU pattern (hub-docs ``spaces-zerogpu.md``: load the
    pipeline and ``.to('cuda')`` at import time, outside ``@spaces.GPU``): ``spaces`` packs those
    tensors once and hands them to every GPU worker, so no visitor's quota pays for reading ~11 GB
    (ACE-Step XL turbo in bf16) from disk. Only the default is packed: packed weights beyond ~45 GB
    make spaces pick the ``xlarge`` size, which costs visitors 2x quota (DESIGN.md; hub-docs lists
    large = half an H200, 1x quota, xlarge = a full H200, 2x). Other backends load in the worker."""
    default = SongRequest(style="preload")  # the default backend with its default options
    prefetch(default)
    from studio.quality.finish import lyric_check_on

    if lyric_check_on():  # heard after the window, but fetched now rather than on a visitor's first song
        from studio.quality.asr import prefetch_asr

        prefetch_asr()
    STUDIO.cache.get(default.backend)


def describe_song(backend: str, text: str, instrumental: bool, language: str | None, seed: int | None) -> dict:
    """Simple mode: fetch the planner (and the pipeline) before the GPU is asked for, then sketch."""
    if gpu_available_here():
        prefetch(_sketch_request(backend))
    return describe_on_gpu(backend, text, instrumental, language, seed)


def finish_into_library(
    raw: RawRender,
    library: lib.Library,
    owner: str,
    staging: Path,
    progress: Callable[[ProgressEvent], None] = no_progress,
    fitted: str | None = None,
    started: float | None = None,
) -> tuple[SongResult, list[lib.Song]]:
    """Finish the raw takes (``studio.finishing``, the CLI's road too) and keep them in ``owner``'s
    library. Each song is kept as soon as its player file is written; its other downloads are
    written in the background (``studio.later.LATER``, waited on by song id)."""
    targets = [(staging, f"take-{i + 1}") for i in range(len(raw.takes))]
    later_formats = [fmt for fmt in DOWNLOAD_FORMATS if fmt != PLAYER_FORMAT]
    result, later = finish(raw, targets, now=(PLAYER_FORMAT,), later=later_formats, progress=progress,
                           started=started, warnings=[fitted] if fitted else [])
    # By seed: checking may rank the takes and keep only the best (request.keep_best).
    later_by_seed = {take.seed: files for take, files in zip(result.takes, later, strict=True)}
    # Checked here, after the GPU is given back: the checks read the finished files on the CPU.
    result = check_result(raw.request, result, progress=progress,
                          audio={t.seed: (t.audio, t.sample_rate) for t in raw.takes})
    progress(ProgressEvent("saving", 0, 1, "adding to your library"))
    songs = library.add_result(owner, raw.request, result)
    for song, take in zip(songs, result.takes, strict=True):
        files = later_by_seed.get(take.seed)
        keep_downloads(song, take)
        if take.checks is not None:
            save_checks(song.audio_path, take.checks)
        if files is not None:
            LATER.submit(song.id, functools.partial(files.write, song.audio_path.parent, song.id))
    return result, songs


def lossless_file(song: lib.Song, timeout: float | None = 600) -> Path:
    """The song's mastered WAV once written (waiting for the background writer); the player's file
    when no WAV was made."""
    return master_file(song.audio_path, song.id, timeout=timeout)


def keep_downloads(song: lib.Song, take: TakeResult) -> None:
    """Move the take's other download formats (MP3) and its stems zip beside the song's audio in
    the library (``<id>.mp3``, ``<id>.stems.zip``), before the staging folder is removed; the
    result card offers them (studio.ui.results.DOWNLOADS) and deleting the song removes them."""
    wanted = {f".{fmt}": take.files.get(fmt) for fmt in DOWNLOAD_FORMATS}
    wanted[".stems.zip"] = take.stems_zip
    for suffix, source in wanted.items():
        target = song.audio_path.with_name(song.id + suffix)
        if source is None or target == song.audio_path or not Path(source).is_file():
            continue
        shutil.move(str(source), target)


class Jobs:
    """The running generation per browser session, so Cancel can find it."""

    def __init__(self) -> None:
        self._tokens: dict[str, CancelToken] = {}
        self._lock = threading.Lock()

    def start(self, session: str, folder: Path) -> CancelToken:
        token = CancelToken(folder)
        with self._lock:
            self._tokens[session] = token
        return token

    def cancel(self, session: str) -> bool:
        with self._lock:
            token = self._tokens.get(session)
        if token is None:
            return False
        token.cancel()
        return True

    def finish(self, session: str, token: CancelToken) -> None:
        with self._lock:
            if self._tokens.get(session) is token:
                del self._tokens[session]
        token.clear()


JOBS = Jobs()


def make_songs(
    request: SongRequest,
    *,
    owner: str,
    library: lib.Library,
    session: str = "",
    progress: Callable[[ProgressEvent], None] = no_progress,
    rate_key: str = "",
    address: str = "",
    tier: str | None = None,
) -> tuple[SongResult, list[lib.Song]]:
    """Render ``request`` and keep every take in ``owner``'s library, planned for the visitor's
    ``tier`` (None: STUDIO_TIER or this machine's default). ``rate_key`` (default: the owner) is whose
    GPU rate limit the call spends, ``address`` the caller's address for the optional per-address
    limit; both are checked here, before the GPU is asked for. A request the validator or the budget
    guard refuses, or one refused before any model work (a bad LoRA, an unusable upload, a model that
    cannot run here), spends no call."""
    # Fitted here, for the visitor's tier, so that the GPU function and its reservation see the
    # request that will actually run (and the library keeps that one).
    started = time.perf_counter()
    request, fitted = fit_to_budget(request, tier)
    reservation_for(request, tier)  # validation and the budget guard: refusals raise before any spending
    quotas.check_room(library, owner)  # a full library refuses before the GPU, not after the render
    ratelimit.take_gpu(rate_key or owner, address)
    try:
        return _render_and_keep(request, fitted, owner=owner, library=library, session=session,
                                progress=progress, tier=tier, started=started)
    except StudioError as exc:
        if ratelimit.spends_no_call(exc):
            ratelimit.refund_gpu(rate_key or owner, address)
        raise


def _render_and_keep(
    request: SongRequest,
    fitted: str | None,
    *,
    owner: str,
    library: lib.Library,
    session: str,
    progress: Callable[[ProgressEvent], None],
    tier: str | None,
    started: float,
) -> tuple[SongResult, list[lib.Song]]:
    # Beside the library, so keeping a take is a rename; named after this process, so the next start
    # can tell a crash's leftovers (its process is gone) from a render still running elsewhere.
    staging = library.root / "staging" / lib.staging_name()
    session = session or lib.new_id()
    token = JOBS.start(session, library.root / "staging")
    try:
        # On ZeroGPU the work runs in a forked process: only a picklable progress (StageProgress)
        # can follow it there; any other callback would fail to cross, so it is left behind.
        remote = gpu_available_here()
        if remote:
            progress(ProgressEvent("loading", 0, 1, "fetching weights before the GPU starts"))
            prefetch(request)
        gpu_progress = progress if not remote or isinstance(progress, StageProgress) else None
        try:
            raw = render_on_gpu(request, token, gpu_progress, tier=tier)
        except BaseException:
            WORKER.failed()  # spaces forks a fresh worker after a failed task: the next one loads again
            raise
        WORKER.succeeded(request.backend, worker_kept_weights=getattr(raw, "reused_weights", False))
        record_render(raw)  # here, in the main process: a forked GPU worker's records would be lost
        if token.cancelled:
            raise Cancelled("stopped before saving; nothing was kept.")
        result, songs = finish_into_library(raw, library, owner, staging, progress, fitted, started)
        progress(ProgressEvent("saving", 1, 1))
        return result, songs
    finally:
        JOBS.finish(session, token)
        shutil.rmtree(staging, ignore_errors=True)
        glibc_heap.trim()  # a render frees hundreds of MB; give the pages back instead of keeping them
