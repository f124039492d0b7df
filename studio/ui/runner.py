"""The generate flow as the UI and API run it: GPU call, cancel, keep in the library.

Nothing here imports gradio; handlers in ``studio.ui`` turn its results into components.
"""

from __future__ import annotations

import functools
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backends.base import Take
from studio import devices, glibc_heap, quotas, ratelimit, sketching
from studio import library as lib
from studio.budget import Reservation
from studio.budget.calibration import StageTimer
from studio.budget.deadline import eta_of, eta_text
from studio.budget.zerogpu import gpu_task
from studio.finishing import PLAYER_FORMAT, LaterFiles, finish
from studio.gpu import gpu_available_here
from studio.ground.errors import Cancelled, StudioError
from studio.ground.progress import ProgressEvent, ProgressFn, no_progress
from studio.later import LATER, master_file
from studio.quality.finish import AUDIO_SUFFIXES, best_first, check_kept, check_result
from studio.quality.store import load_checks, save_checks
from studio.raw import RawRender
from studio.rendering import Studio, prefetch
from studio.request.cancel import CancelToken, cancellable
from studio.request.prepare import prepare
from studio.request.prepared import Prepared
from studio.request.pricing import record_render
from studio.song import SongRequest, SongResult, TakeResult
from studio.worker_state import WORKER

STUDIO = Studio()  # one per process: the UI and the API share the loaded weights
# Written in the background after the player's FLAC (studio.finishing.PLAYER_FORMAT) made the song
# playable: the 24-bit WAV and the 320 kbps MP3 (LAME at quality 2 alone takes longer than the rest).
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


def _reservation(prepared: Prepared, *_: object, **__: object) -> Reservation:
    """The reservation :func:`prepare` made for the visitor's tier: on ZeroGPU the duration handed to
    ``spaces.GPU`` (estimate, margin, slice factor, tier cap); the run stops cleanly before it ends."""
    if prepared.reservation is None:
        raise StudioError("this request was not priced; prepare it for a tier before asking for the GPU.")
    return prepared.reservation


@gpu_task(plan=_reservation)
def render_on_gpu(
    prepared: Prepared,
    token: CancelToken,
    progress: ProgressFn | None = None,
    *,
    budget: Reservation,
) -> RawRender:
    """The only function that holds the GPU, for the duration the budget guard reserved when the
    request was prepared; the run stops cleanly before that runs out. ``prepared`` (pickled into the
    forked ZeroGPU worker) carries the formatted lyrics, the drawn seeds and the decoded source, so
    nothing is checked, formatted or read again here. Only the model runs: it returns the raw takes
    and the measured stage times as plain, picklable data, and the caller masters, encodes, files and
    records them after the GPU is released."""
    raw = STUDIO.render_raw(prepared, progress=cancellable(progress or no_progress, token), budget=budget)
    return raw.portable()


def _sketch_reservation(backend: str, *_: object, tier: str | None = None, **__: object) -> Reservation:
    return sketching.sketch_reservation(backend, tier)


@gpu_task(plan=_sketch_reservation)
def describe_on_gpu(
    backend: str, text: str, instrumental: bool, language: str | None, seed: int | None, *,
    tier: str | None = None, budget: Reservation,
) -> tuple[dict, bool, dict[str, float]]:
    """Simple mode's sketch (the planner's create-sample pass) for the time the guard reserved: plain data
    in; out the sketch, whether this worker already held the sketcher and the measured stage seconds (the
    parent keeps the books)."""
    where = devices.as_device_info(None).torch_device
    held = sketching.sketcher_of(backend).loaded(where)
    timer = StageTimer()
    draft = STUDIO.describe(backend, text, instrumental=instrumental, language=language, seed=seed, device=where,
                            progress=timer)
    return draft, held, timer.finish()


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


def describe_song(backend: str, text: str, instrumental: bool, language: str | None, seed: int | None,
                  tier: str | None = None) -> dict:
    """Simple mode: refuse a bad description and fetch only the sketcher's files before the GPU is asked
    for, then sketch for the time the guard reserves for the visitor's ``tier``."""
    text = sketching.check_description(backend, text)
    if gpu_available_here():
        sketching.prefetch(backend)
    try:
        draft, held, measured = describe_on_gpu(backend, text, instrumental, language, seed, tier=tier)
    except BaseException:
        WORKER.failed()  # spaces forks a fresh worker after a failed task: it loads again
        raise
    WORKER.succeeded(sketching.worker_key(backend), worker_kept_weights=held)
    sketching.record(backend, measured, loaded=not held)
    return draft


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
    library. Each song is kept as soon as its player file is written; its other downloads and its
    checks follow in the background (``studio.later.LATER``, waited on by song id), except when
    the request keeps only the best takes: the checks rank them, so they come first."""
    targets = [(staging, f"take-{i + 1}") for i in range(len(raw.takes))]
    later_formats = [fmt for fmt in DOWNLOAD_FORMATS if fmt != PLAYER_FORMAT]
    result, later = finish(raw, targets, now=(PLAYER_FORMAT,), later=later_formats, progress=progress,
                           started=started, warnings=[fitted] if fitted else [])
    # By seed: checking may rank the takes and keep only the best (request.keep_best).
    later_by_seed = {take.seed: files for take, files in zip(result.takes, later, strict=True)}
    raw_by_seed = {t.seed: t for t in raw.takes}
    if raw.request.keep_best is not None:
        # After the GPU is given back, on the CPU; which songs are kept depends on them.
        result = check_result(raw.request, result, progress=progress,
                              audio={t.seed: (t.audio, t.sample_rate) for t in raw.takes})
    progress(ProgressEvent("saving", 0, 1, "adding to your library"))
    songs = library.add_result(owner, raw.request, result)
    for song, take in zip(songs, result.takes, strict=True):
        keep_downloads(song, take)
        if take.checks is not None:
            save_checks(song.audio_path, take.checks)
        LATER.submit(song.id, functools.partial(
            _after_playable, raw, raw_by_seed[take.seed], song.audio_path, later_by_seed.get(take.seed),
            check=take.checks is None,
        ))
    return result, songs


def _after_playable(raw: RawRender, take: Take, audio_path: Path, files: LaterFiles | None, *, check: bool) -> None:
    """What a song's card offers once it is playable: its other downloads, then its checks (which write
    synced lyrics into those downloads)."""
    written = files.write(audio_path.parent, audio_path.stem) if files is not None else {}
    if check:
        downloads = [path for path in written.values() if path.suffix in AUDIO_SUFFIXES]
        checks = check_kept(raw.request, raw.duration_s, take.audio, take.sample_rate, downloads,
                            vocals=(take.stems or {}).get("vocals"),
                            true_peak=files.source_true_peak if files is not None else None)
        save_checks(audio_path, checks)


def best_first_of(songs: list[lib.Song]) -> list[int]:
    """Indices of ``songs`` ranked by their saved checks (in order while any is still unchecked): the
    result's own ranking exists only when the checks ran before the songs were kept (keep_best)."""
    checks = [load_checks(song.audio_path) for song in songs]
    if any(c is None for c in checks):
        return list(range(len(songs)))
    return best_first(checks)


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
    request: SongRequest | Prepared,
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
    # Prepared once, for the visitor's tier: checked, fitted and priced, so that the GPU function and its
    # reservation see the request that will actually run (and the library keeps that one).
    started = time.perf_counter()
    prepared = request if isinstance(request, Prepared) else prepare(request, tier)  # refusals raise here
    quotas.check_room(library, owner)  # a full library refuses before the GPU, not after the render
    ratelimit.take_gpu(rate_key or owner, address)
    try:
        return _render_and_keep(prepared, owner=owner, library=library, session=session,
                                progress=progress, started=started)
    except StudioError as exc:
        if ratelimit.spends_no_call(exc):
            ratelimit.refund_gpu(rate_key or owner, address)
        raise


def _render_and_keep(
    prepared: Prepared,
    *,
    owner: str,
    library: lib.Library,
    session: str,
    progress: Callable[[ProgressEvent], None],
    started: float,
) -> tuple[SongResult, list[lib.Song]]:
    request = prepared.request
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
            raw = render_on_gpu(prepared, token, gpu_progress)
        except BaseException:
            WORKER.failed()  # spaces forks a fresh worker after a failed task: the next one loads again
            raise
        WORKER.succeeded(request.backend, worker_kept_weights=getattr(raw, "reused_weights", False))
        record_render(raw)  # here, in the main process: a forked GPU worker's records would be lost
        if token.cancelled:
            raise Cancelled("stopped before saving; nothing was kept.")
        result, songs = finish_into_library(raw, library, owner, staging, progress, prepared.fitted, started)
        progress(ProgressEvent("saving", 1, 1))
        return result, songs
    finally:
        JOBS.finish(session, token)
        shutil.rmtree(staging, ignore_errors=True)
        glibc_heap.trim()  # a render frees hundreds of MB; give the pages back instead of keeping them
