"""Finishing: rendered takes become songs (master, files, song card, stems) in the main process.

The one road from a :class:`~studio.raw.RawRender` to files, for the CLI (``Studio.generate``)
and for the UI/API (``studio.ui.runner.make_songs``, after the GPU function returned). Nothing
here runs inside the GPU window: on ZeroGPU that window is the visitor's quota, and mastering
plus encoding cost seconds of CPU per take.

A caller that wants the song playable quickly asks for the player's format ``now`` and the other
downloads ``later``; :class:`LaterFiles` writes those when the caller chooses (the UI: in a
background thread, see ``studio.later``). Per-take post-steps (stem separation, quality checks)
belong in :func:`finish_take`: it sees the take, its master and its card once.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from backends.base import Take
from studio import registry
from studio.audio import (
    MasteringSettings,
    MasterResult,
    SongCard,
    export,
    export_song,
    master,
    save_stems,
    studio_artist,
)
from studio.audio.export import write_draft
from studio.audio.peaks import TRUE_PEAK_OVERSAMPLE
from studio.ground.progress import ProgressEvent, ProgressFn, no_progress
from studio.raw import RawRender
from studio.song import SongResult, TakeResult
from studio.tasks import default_title

# What the player streams, written while the visitor waits for the song: 16-bit FLAC, lossless and
# compressed (roughly half a 16-bit WAV, a third of the 24-bit WAV's ~52 MB per 3-min take), and a
# tenth of the encoding time of the 320 kbps MP3, which follows with the WAV in the background
# (studio.audio.export.FORMATS says why FLAC plays everywhere).
PLAYER_FORMAT = "flac16"


@dataclass
class LaterFiles:
    """One take's downloads that are written after its player's file (mastered already)."""

    mix: np.ndarray
    sample_rate: int
    card: SongCard
    formats: tuple[str, ...]
    stems: dict[str, np.ndarray] = field(default_factory=dict)
    # The raw take's linear true peak as mastering measured it (at the checks' oversampling), for its
    # checks; None when it was not measured that way.
    source_true_peak: float | None = None

    def write(self, folder: Path, name: str) -> dict[str, Path]:
        """Write ``<name>.<fmt>`` per format and ``<name>.stems.zip`` when there are stems; returns
        format -> file (``stems.zip`` for the zip). No sidecar: the library keeps the recipe."""
        folder.mkdir(parents=True, exist_ok=True)
        files = {
            fmt: export(self.mix, self.sample_rate, folder / name, fmt, self.card, sidecar=False)
            for fmt in self.formats
        }
        if self.stems:
            # Stems are written beside each other then zipped; only the zip stays in the library.
            with tempfile.TemporaryDirectory(dir=folder, prefix=".stems-") as scratch:
                saved = save_stems(
                    self.stems, self.sample_rate, scratch, name, self.card, mix_files=tuple(files.values())[:1]
                )
                target = folder / saved.zip_path.name
                os.replace(saved.zip_path, target)
            files["stems.zip"] = target
        return files


@dataclass
class FinishedTake:
    result: TakeResult
    later: LaterFiles | None  # None: every file was written now


def card_for(raw: RawRender, take: Take) -> SongCard:
    """The recipe every exported file carries; ``params`` rebuilds this exact take."""
    from studio.library import multi_user, public_request, public_source

    request = raw.request
    caps = registry.get_spec(request.backend).capabilities
    params, weights = request.model_dump(mode="json"), raw.weights
    if multi_user():
        # The card travels inside every file a visitor downloads: a weights folder, an upload's path or a
        # LoRA's path on this server is named by its file name only (issues 17.11, 18.5). A local user's
        # own files keep them, so `--from-song` finds the same LoRA and weights again.
        params, weights = public_request(params), public_source(weights)
    params.update(seed=take.seed, takes=1, keep_best=None, duration=raw.duration_s)
    return SongCard(
        title=request.title
        or default_title(request.task, request.source_audio, request.track)
        or (request.style[:60] or "Untitled song"),
        artist=studio_artist(caps.display_name),
        lyrics=request.lyrics,
        style=request.style,
        backend=caps.name,
        model_id=weights,
        seed=take.seed,
        params=params,
        sample_rate=take.sample_rate,
        duration_s=take.audio.shape[-1] / take.sample_rate,
    )


def finish_take(
    raw: RawRender,
    take: Take,
    folder: Path,
    name: str,
    *,
    now: Sequence[str],
    later: Sequence[str] = (),
    mastering: MasteringSettings | None = None,
) -> FinishedTake:
    """Master ``take`` once, write ``now`` (with the song card, embedded and as a sidecar; the raw
    take and the stems too when nothing is left for later) and hand back the rest as LaterFiles."""
    settings = mastering or MasteringSettings()
    card = card_for(raw, take)
    mastered, draft = None, None
    if settings.active and PLAYER_FORMAT in now:
        mastered, draft = master_while_drafting_player(take.audio, take.sample_rate, settings, folder / name)
    elif settings.active:
        mastered = master(take.audio, take.sample_rate, settings)
    deferred = tuple(fmt for fmt in dict.fromkeys(later) if fmt not in now)
    everything_now = not deferred
    try:
        exported = export_song(
            take.audio,
            take.sample_rate,
            folder,
            name,
            formats=now,
            card=card,
            mastering=settings,
            stems=(take.stems or None) if everything_now else None,
            mastered=mastered,
            keep_raw=everything_now,
            drafts={PLAYER_FORMAT: draft} if draft is not None else None,
        )
    finally:
        if draft is not None:
            draft.unlink(missing_ok=True)  # renamed to the player's file already unless export_song failed
    result = TakeResult(
        path=exported.paths[now[0]],
        seed=take.seed,
        sample_rate=take.sample_rate,
        channels=take.audio.shape[0],
        duration=take.audio.shape[-1] / take.sample_rate,
        files={
            **exported.paths,
            **{f"raw.{k}": v for k, v in exported.unmastered.items() if v not in exported.paths.values()},
        },
        card=exported.card_path,
        stems=exported.stems,
        stems_zip=exported.stems_zip,
        loudness_lufs=mastered.lufs_after if mastered else None,
    )
    if everything_now:
        return FinishedTake(result, None)
    mix = mastered.audio if mastered is not None else np.asarray(take.audio, dtype=np.float32)
    # The checks read float32 samples at this oversampling: the same figure only for the same reading.
    measured = mastered is not None and settings.oversample == TRUE_PEAK_OVERSAMPLE and take.audio.dtype == np.float32
    return FinishedTake(
        result,
        LaterFiles(
            mix,
            take.sample_rate,
            exported.card,
            deferred,
            dict(take.stems),
            source_true_peak=mastered.source_true_peak if measured else None,
        ),
    )


def master_while_drafting_player(
    audio: np.ndarray, sample_rate: int, settings: MasteringSettings, path: Path
) -> tuple[MasterResult, Path | None]:
    """Master ``audio``, writing the player's file of its plain-gain master while the true peak is measured.

    Why: on the way to a playable song the true-peak envelope (~0.13 CPU s for a 60-s stereo take on the
    2-core dev machine) and the player's FLAC (~0.14 s: 16-bit conversion, libFLAC encode) ran one after
    the other, though the FLAC needs only the loudness gain, which is known before the envelope. Once the
    gain is known ``master`` has helper threads measure the envelope (studio.audio.peaks.PendingEnvelope)
    while this thread encodes the FLAC in ``on_gain``, then helps with what is left of the envelope:
    one thread per core, the FLAC's chain (loudness, gain, encode) never waiting for a core. README's
    ZeroGPU section has the figures.

    Returns the result and the untagged draft (beside ``path``'s player file, for ``export_song``'s
    ``drafts``) when the master is exactly the drafted audio (``master``'s ``on_gain`` array itself: the
    limiter stayed idle at that gain); otherwise ``None``, the draft removed, and the caller encodes the
    master as before. A failed draft is not an error here: the caller's own encode then reports it.
    """
    drafted: list[Path] = []
    plain: list[np.ndarray] = []

    def draft(audio: np.ndarray) -> None:
        plain.append(audio)
        # A failed draft is dropped: the caller's encode of the master writes (or reports) the same file.
        with contextlib.suppress(Exception):
            drafted.append(write_draft(audio, sample_rate, path, PLAYER_FORMAT))

    used = False
    try:
        mastered = master(audio, sample_rate, settings, on_gain=draft)
        used = bool(plain) and mastered.audio is plain[0]
    finally:
        if drafted and not used:
            drafted[0].unlink(missing_ok=True)
    return mastered, drafted[0] if used and drafted else None


def finish(
    raw: RawRender,
    targets: Sequence[tuple[Path, str]],
    *,
    now: Sequence[str],
    later: Sequence[str] = (),
    mastering: MasteringSettings | None = None,
    progress: ProgressFn = no_progress,
    started: float | None = None,
    warnings: Sequence[str] = (),
) -> tuple[SongResult, list[LaterFiles | None]]:
    """Every take of ``raw`` finished into ``targets`` ((folder, file stem) per take); the result
    as the CLI prints it and the library keeps it, and per take what is left to write."""
    from studio.request.outputs import take_warnings

    takes = raw.takes
    results: list[TakeResult] = []
    pending: list[LaterFiles | None] = []
    for i, ((folder, name), take) in enumerate(zip(targets[: len(takes)], takes, strict=True)):
        progress(ProgressEvent("mastering", i, len(takes)))
        done = finish_take(raw, take, folder, name, now=now, later=later, mastering=mastering)
        results.append(done.result)
        pending.append(done.later)
        progress(ProgressEvent("saving", i + 1, len(takes)))
    elapsed = time.perf_counter() - started if started is not None else raw.load_s + raw.render_s
    result = SongResult(
        backend=raw.request.backend,
        weights=raw.weights,
        device=raw.device,
        dtype=raw.dtype,
        sample_rate=takes[0].sample_rate,
        duration=raw.duration_s,
        elapsed_s=round(elapsed, 3),
        takes=results,
        lyrics_sent=raw.lyrics_sent,
        style_sent=raw.style_sent,
        warnings=[*warnings, *raw.warnings, *take_warnings(takes)],
    )
    return result, pending
