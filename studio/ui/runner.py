"""The generate flow as the UI and API run it: GPU call, cancel, keep in the library.

Nothing here imports gradio; handlers in ``studio.ui`` turn its results into components.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backends.base import Cancelled, ProgressEvent, ProgressFn, no_progress
from studio import glibc_heap, ratelimit
from studio import library as lib
from studio.budget import Reservation
from studio.budget.deadline import eta_of, eta_text
from studio.budget.zerogpu import gpu_task
from studio.gpu import gpu, gpu_available_here
from studio.gpu_jobs import reservation_for
from studio.service import CancelToken, Studio, cancellable, fit_to_budget, prefetch
from studio.song import SongRequest, SongResult, TakeResult

STUDIO = Studio()  # one per process: the UI and the API share the loaded weights
DOWNLOAD_FORMATS = ("wav", "mp3")  # WAV (24-bit, mastered) for the player, MP3 320 for sharing
# One planner pass of ~600 tokens (metadata + lyrics, no CFG, no codes) plus loading: well under a
# minute on a ZeroGPU slice; fixed because the budget guard prices renders, not sketches.
DESCRIBE_GPU_SECONDS = 60


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
    out: Path,
    token: CancelToken,
    progress: ProgressFn | None = None,
    *,
    tier: str | None = None,
    budget: Reservation,
) -> SongResult:
    """The only function that holds the GPU, for the duration the budget guard reserved for the
    visitor's ``tier``; the run stops cleanly before that runs out. Arguments and result are plain,
    picklable data."""
    return STUDIO.generate(
        request, out=out, progress=cancellable(progress or no_progress, token), budget=budget,
        formats=DOWNLOAD_FORMATS,
    )


@gpu(duration=DESCRIBE_GPU_SECONDS)
def describe_on_gpu(backend: str, text: str, instrumental: bool, language: str | None, seed: int | None) -> dict:
    """Simple mode's sketch (the planner's create-sample pass): plain data in, plain data out."""
    return STUDIO.describe(backend, text, instrumental=instrumental, language=language, seed=seed)


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
    limit; both are checked here, before the GPU is asked for."""
    # Fitted here, for the visitor's tier, so that the GPU function and its reservation see the
    # request that will actually run (and the library keeps that one).
    request, fitted = fit_to_budget(request, tier)
    # Refused by validation or by the budget guard: refused before the rate limit is spent (issue
    # 17.4), since the visitor got nothing. The GPU function plans the same request again (ms).
    reservation_for(request, tier)
    ratelimit.take_gpu(rate_key or owner, address)
    staging = library.root / "staging" / lib.new_id()  # beside the library, so keeping a take is a rename
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
        result = render_on_gpu(request, staging, token, gpu_progress, tier=tier)
        if token.cancelled:
            raise Cancelled("stopped before saving; nothing was kept.")
        progress(ProgressEvent("saving", 0, 1, "adding to your library"))
        if fitted:
            result.warnings.insert(0, fitted)
        songs = library.add_result(owner, request, result)
        for song, take in zip(songs, result.takes, strict=True):
            keep_downloads(song, take)
        progress(ProgressEvent("saving", 1, 1))
        return result, songs
    finally:
        JOBS.finish(session, token)
        shutil.rmtree(staging, ignore_errors=True)
        glibc_heap.trim()  # a render frees hundreds of MB; give the pages back instead of keeping them
