"""The one stems flow the CLI, the API and the UI call: read -> price -> separate (GPU) -> write.

Only ``separate_on_gpu`` holds the accelerator, and it only runs the model: the weights are fetched
before it (``loader.locate``), and the files, the zip, the DAW pack and the calibration are written
after it returns, in the calling process (DESIGN.md: on ZeroGPU only model work belongs inside the
window, and what a forked GPU worker records in memory is lost).
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from backends.plan_input import PlanInput
from studio import devices, memory
from studio.audio.card import SongCard
from studio.audio.tags import read_card
from studio.budget import Reservation, default_tier, tier_limits
from studio.budget.zerogpu import gpu_task
from studio.ground.errors import StudioError
from studio.ground.progress import ProgressEvent, ProgressFn, no_progress
from studio.separation import loader
from studio.separation.catalog import MAX_SECONDS, MIN_SECONDS, SEPARATOR, STEMS_TASK, stem_set
from studio.separation.files import StemsCard, write_stems
from studio.separation.pack import write_pack
from studio.separation.report import SeparationReport, measure
from studio.separation.run import OVERLAP, STAGE, device_for, separate


class StemsResult(BaseModel):
    """What a split produced, for the CLI's JSON, the API's answer and the UI's card."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    title: str
    stems: dict[str, Path]
    zip: Path
    pack: Path
    card: Path
    sample_rate: int
    duration_s: float
    device: str
    model: str
    report: SeparationReport
    warnings: list[str] = Field(default_factory=list)
    elapsed_s: float

    def public(self) -> dict:
        return {
            "title": self.title, "stems": {k: str(v) for k, v in self.stems.items()}, "zip": str(self.zip),
            "pack": str(self.pack), "card": str(self.card), "sample_rate": self.sample_rate,
            "duration_s": round(self.duration_s, 3), "device": self.device, "model": self.model,
            "reconstruction_error_db": self.report.reconstruction_error_db,
            "near_silent": self.report.near_silent, "warnings": self.warnings, "elapsed_s": self.elapsed_s,
        }


# --- pricing --------------------------------------------------------------------------------------

def plan_input(seconds: float) -> PlanInput:
    return PlanInput(duration_s=max(seconds, 0.01), task=STEMS_TASK)


def reservation(seconds: float, tier: str | None = None, device: str | None = None) -> Reservation:
    """The GPU time a split of ``seconds`` reserves for ``tier`` (None: this machine's own) on
    ``device`` (None: the detected one), or the sentence saying it does not fit; priced from the seeds
    and that device's calibration."""
    from studio.budget.tiers import Tier
    from studio.request.pricing import budget_context, calibration, own_tier

    tier = tier if tier is not None else own_tier()
    context = budget_context(tier)
    if device and not context.on_zerogpu:  # e.g. `--device cpu` on a CUDA machine is priced as a CPU run
        info = devices.detect(device)
        if info.kind is not context.device:
            context = replace(context, device=info.kind, calibration=calibration().for_device(info.name))
    held = context.reserve(SEPARATOR, plan_input(seconds))
    if not held.fits:
        cap = tier_limits(Tier(tier) if tier else default_tier()).cap_s
        raise StudioError(
            f"splitting {seconds:.0f} s of audio into stems needs about {held.needed_s} s of GPU time with its "
            f"safety margin, more than the {cap:.0f} s this tier allows, so it was not started; split a shorter "
            "excerpt or run the studio on your own machine."
        )
    return held


def record(seconds: float, measured: dict[str, float], device: str | None = None) -> None:
    """Feed one split's stage times to the calibration, in the calling process."""
    from studio.request.pricing import calibration

    info = devices.detect(device)
    model = SEPARATOR.cost.get(info.kind)
    if model is not None:
        calibration().record(SEPARATOR.name, info.name, model, plan_input(seconds), measured)


# --- the GPU function -------------------------------------------------------------------------------

_LOADED: dict[tuple[str, str], loader.LoadedSeparator] = {}
_LOCK = threading.Lock()


def _separator(folder: str, count: int) -> loader.LoadedSeparator:
    chosen = stem_set(count).weights
    with _LOCK:
        key = (folder, chosen.name)
        if key not in _LOADED:
            _LOADED.clear()  # one separator at a time: they are small, but the GPU is shared with the songs
            _LOADED[key] = loader.load(Path(folder), chosen)
        return _LOADED[key]


def _reserve(folder: str, count: int, audio: np.ndarray, rate: int, *_: object,
             device: str | None = None, tier: str | None = None, **__: object) -> Reservation:
    return reservation(audio.shape[-1] / rate, tier, device)


@gpu_task(plan=_reserve)
def separate_on_gpu(
    folder: str, count: int, audio: np.ndarray, rate: int, progress: ProgressFn | None = None, *,
    device: str | None = None, tier: str | None = None, budget: Reservation,
) -> tuple[dict[str, np.ndarray], dict[str, float], dict]:
    """Load (once per process) and separate; returns the stems, the measured stage times and what
    the stems card records (device, notes, signatures). Plain data in and out: on ZeroGPU this runs
    in a forked worker, whose loaded model the calling process never sees."""
    progress = budget.deadline(progress or no_progress)
    info = devices.detect(device)
    started = time.perf_counter()
    progress(ProgressEvent("load", 0, 1, "loading the separator"))
    separator = _separator(folder, count)
    where, why = device_for(info.kind, info.torch_device, separator)
    loaded = time.perf_counter()
    try:
        stems = separate(separator, audio, rate, stem_set(count), device=where, progress=progress)
    except Exception as exc:
        if not memory.is_out_of_memory(exc):
            raise
        stems = None
    if stems is None:  # outside the handler, so the failed activations are gone before freeing
        memory.free_accelerator_memory()
        raise memory.OutOfMemory(memory.out_of_memory_message("the stem separator", audio.shape[-1] / rate, 1))
    timings = {"load": loaded - started, STAGE: time.perf_counter() - loaded}
    return stems, timings, {"device": where, "notes": [why] if why else [], "signatures": separator.signatures}


# --- the flow ---------------------------------------------------------------------------------------

def _own_card(path: Path) -> SongCard | None:
    try:
        return read_card(path)
    except StudioError:
        return None  # an upload the studio did not make: there is no recipe to carry


def split_song(
    source: str | Path,
    *,
    out: Path,
    stems: int | str | None = None,
    title: str | None = None,
    weights: str | None = None,
    device: str | None = None,
    tier: str | None = None,
    progress: ProgressFn = no_progress,
) -> StemsResult:
    """Split ``source`` (any WAV/FLAC/MP3/OGG, made by the studio or not) into 2, 4 or 6 stems under
    ``out``: ``<title> - <stem>.wav`` (24-bit, the song's rate, the mix's level), ``<title> - stems.zip``,
    ``<title> - stems.json`` (how they were made) and ``<title> - DAW pack.zip``."""
    started = time.perf_counter()
    chosen = stem_set(stems)
    from studio.audio.upload import read_source, resample

    song = read_source(source, max_seconds=MAX_SECONDS, min_seconds=MIN_SECONDS, what="the song to split")
    seconds = song.seconds
    held = reservation(seconds, tier, device)  # refuse before any download or GPU time
    out = Path(out)
    from studio.request.outputs import check_output

    check_output(out)
    path = Path(source)
    card = _own_card(path)
    name = (title or "").strip() or (card.title if card else "") or path.stem
    # The song's own rate: a studio song's, or an upload's before the studio's 48 kHz conditioning.
    rate = song.original_rate if song.original_rate != song.sample_rate else song.sample_rate
    mix = song.audio if rate == song.sample_rate else resample(song.audio, song.sample_rate, rate)

    progress(ProgressEvent("load", 0, 1, f"fetching {chosen.weights.display_name} weights"))
    folder = loader.locate(chosen.weights, weights, on_progress=lambda m: progress(ProgressEvent("load", 0, 1, m)))
    parts, timings, made = separate_on_gpu(str(folder), chosen.count, mix, rate, progress, device=device,
                                                   tier=tier, budget=held)
    record(seconds, timings, device)

    progress(ProgressEvent("saving", 0, 1, "writing the stems"))
    report = measure(mix, parts)
    notes = [*song.warnings, *made["notes"], *report.sentences()]
    where = made["device"]
    song_card = card or SongCard(
        title=name, artist="Song Studio stems of an uploaded recording", backend=SEPARATOR.name,
        model_id=str(weights or chosen.weights.default_weights), seed=0,
        params={"task": STEMS_TASK, "stems": chosen.count, "source": path.name},
        sample_rate=rate, duration_s=seconds,
    )
    stems_card = StemsCard(
        title=name, source=path.name, source_card=card, stems=chosen.stems, stem_count=chosen.count,
        model=chosen.weights.display_name, weights=str(weights or folder),
        signatures=tuple(made["signatures"]), device=where, overlap=OVERLAP,
        sample_rate=rate, duration_s=seconds, report=report, notes=list(notes),
        separated_s=round(timings[STAGE], 3),
    )
    out.mkdir(parents=True, exist_ok=True)
    files, card_path, zip_path = write_stems(parts, rate, out, name, stems_card, song_card)
    # A library song's checks sit beside its master (``<id>.checks.json``); their aligned lines time
    # the pack's sections. An upload has none, and its sections stay "not known".
    from studio.quality.store import load_checks

    checked = load_checks(path) if card is not None else None
    pack = write_pack(out, stems_card, list(files.values()), card_path, path,
                      lyric_check=checked.lyrics if checked is not None else None)
    progress(ProgressEvent("saving", 1, 1))
    return StemsResult(
        title=name, stems=files, zip=zip_path, pack=pack, card=card_path, sample_rate=rate, duration_s=seconds,
        device=where, model=chosen.weights.display_name, report=report, warnings=stems_card.notes,
        elapsed_s=round(time.perf_counter() - started, 3),
    )
