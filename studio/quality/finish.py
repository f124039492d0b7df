"""The checks as the generate flow runs them on every take it makes: ``check_result`` takes a
finished :class:`studio.song.SongResult` (its files on disk), so it runs wherever the files are,
after the GPU window on ZeroGPU (DESIGN: only model work belongs inside the window).

The DSP measures always run (about 1.3 CPU seconds per minute of audio). The lyric check needs
Whisper (a 1.6 GB download, and seconds to minutes of compute a song), so it runs only where it is
turned on: ``STUDIO_LYRIC_CHECK=on`` (the weights from ``STUDIO_ASR_MODEL``), or a caller that
passes a transcriber of its own (``studio check``, the /check endpoint)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from studio import settings
from studio.audio.export import FORMATS
from studio.ground.progress import ProgressEvent, no_progress
from studio.quality.checks import Intent, check_take
from studio.quality.read import read_audio
from studio.quality.report import TakeChecks, rank

LYRIC_CHECK_ENV = settings.LYRIC_CHECK.name
# The files a take's checks may read: every format the studio writes.
AUDIO_SUFFIXES = tuple(dict.fromkeys(kind.extension for kind in FORMATS.values()))


def lyric_check_setting() -> str:
    """``on``, ``off`` or ``auto`` (unset): STUDIO_LYRIC_CHECK as written; anything else is a sentence."""
    return settings.LYRIC_CHECK.get() or "auto"


def lyric_check_on() -> bool:
    """Whether each take's lyrics are heard. ``auto`` (the default) turns it on where Whisper runs on
    this process's own accelerator (CUDA, MPS) and its weights can be had (a folder, or the Hub when not
    offline): there it hears a 3-minute song in about 15 s (asr_cost's seed). On a CPU, and on ZeroGPU,
    where the check runs on the main process's CPU after the window, the same song takes minutes per take
    (the x40 CPU seed: ~9 min), so it stays off unless asked for."""
    setting = lyric_check_setting()
    if setting != "auto":
        return setting == "on"
    from studio.ground.vocabulary import DeviceClass
    from studio.quality.asr import where

    if where().kind not in (DeviceClass.CUDA, DeviceClass.MPS):
        return False
    from studio.quality.asr import asr_location
    from studio.weights import looks_local

    location = asr_location()
    if looks_local(location):
        return Path(location).expanduser().is_dir()
    from huggingface_hub import constants

    return not constants.HF_HUB_OFFLINE


def studio_transcriber(on_progress=None):
    """The Whisper pipeline when the lyric check is on, else None. Turned on explicitly, a Whisper that
    cannot be loaded is an error; on by ``auto``, it is a warning (``check_result`` reports it) and the
    song is kept unchecked."""
    if not lyric_check_on():
        return None
    from studio.ground.errors import StudioError
    from studio.quality.asr import load_transcriber

    try:
        return load_transcriber(on_progress=on_progress)
    except StudioError as exc:
        if lyric_check_setting() == "on":
            raise
        raise LyricCheckUnavailable(str(exc)) from exc


class LyricCheckUnavailable(Exception):
    """The automatic lyric check could not load Whisper (no network, no weights)."""


def check_takes(intent: Intent, takes: Sequence, *, transcriber=None) -> list[TakeChecks]:
    """Checks for takes in memory (anything with ``audio``, ``sample_rate`` and ``stems``), in order;
    a take's ``vocals`` stem, when there is one, is what Whisper hears."""
    return [
        check_take(t.audio, t.sample_rate, intent, vocals=(t.stems or {}).get("vocals"), transcriber=transcriber)
        for t in takes
    ]


def best_first(checks: Sequence[TakeChecks]) -> list[int]:
    """Take indices, best first: lyric error, then failed measures, then unheard lines."""
    return rank(list(checks))


def _take_audio(take) -> Path:
    """The unmastered file when there is one (what the model made), else the take's main file."""
    raw = [Path(p) for k, p in take.files.items() if k.startswith("raw.")]
    return raw[0] if raw else Path(take.path)


def check_result(request, result, *, progress=no_progress, transcriber=None, audio=None):
    """``result`` with every take checked (``TakeResult.checks``), synced lyrics written where the
    lyrics were heard, ranked (``best_first``), and cut to the best ``request.keep_best`` takes.
    ``audio`` (seed -> (``[channels, samples]``, rate)): the takes as the model made them, when the
    caller still holds them (the UI, whose only file yet is the player's MP3, longer by its padding)."""
    takes = [t for t in result.takes if t.path is not None]
    if not takes:
        return result
    progress(ProgressEvent("checking", 0, len(takes), "listening to the takes"))
    intent = Intent.of(request, duration=result.duration)
    timed, unavailable = _hearing(
        intent, transcriber, on_progress=lambda m: progress(ProgressEvent("checking", 0, 1, m))
    )
    if unavailable is not None:  # auto mode only: said on the result, the song is kept
        warning = f"lyrics not checked: {unavailable}"
        result = result.model_copy(update={"warnings": [*result.warnings, warning]})
    checked = []
    for i, take in enumerate(result.takes):
        if take.path is None:
            checked.append(take)
            continue
        if audio is not None and take.seed in audio:
            samples, rate = audio[take.seed]
        else:
            samples, rate = read_audio(_take_audio(take))
        vocals = read_audio(take.stems["vocals"])[0] if "vocals" in take.stems else None
        checks = check_take(samples, rate, intent, vocals=vocals, transcriber=timed)
        if timed is not None:
            timed.calibrate(samples.shape[-1] / rate)
        files = write_synced_lyrics(take.files, checks, title=getattr(request, "title", ""))
        checked.append(take.model_copy(update={"checks": checks, "files": files}))
        progress(ProgressEvent("checking", i + 1, len(result.takes)))
    if getattr(request, "keep_best", None) is not None:
        checked = keep_best(checked, request.keep_best)
    return result.model_copy(update={"takes": checked, "best_first": ranked(checked)})


def check_kept(request, duration: float, audio, sample_rate: int, files: Sequence[Path], *, vocals=None,
               transcriber=None, true_peak: float | None = None) -> TakeChecks:
    """One take of a song already kept and playable, checked (the UI's background writer runs this:
    the checks cost about 1.3 CPU seconds per minute of audio, which the player need not wait for).
    Synced lyrics, when heard, go into ``files`` (the downloads) and an ``.lrc`` beside the first.
    The studio's own Whisper is timed and calibrates the lyric-check stage, as in ``check_result``; an
    automatic lyric check that cannot load Whisper leaves the take with its DSP measures only.
    ``true_peak``: the take's linear true peak as mastering measured it, so it is not measured twice."""
    intent = Intent.of(request, duration=duration)
    timed, _unavailable = _hearing(intent, transcriber)
    checks = check_take(audio, sample_rate, intent, vocals=vocals, transcriber=timed, true_peak=true_peak)
    if timed is not None:
        timed.calibrate(np.atleast_2d(audio).shape[-1] / sample_rate)
    write_synced_lyrics({str(i): path for i, path in enumerate(files)}, checks, title=getattr(request, "title", ""))
    return checks


def _hearing(intent: Intent, transcriber=None, on_progress=None) -> tuple[_Timed | None, str | None]:
    """What hears the lyrics of ``check_result`` and ``check_kept``: the caller's transcriber, else the
    studio's Whisper when the lyric check is on (its load timed when this call loads it), wrapped to
    calibrate; and why an automatic lyric check could not load Whisper (None when it could)."""
    if transcriber is not None or not intent.lyrics or intent.instrumental:
        return (_Timed(transcriber) if transcriber is not None else None), None
    from studio.quality.asr import is_loaded

    fresh, started = lyric_check_on() and not is_loaded(), time.perf_counter()
    try:
        transcriber = studio_transcriber(on_progress=on_progress)
    except LyricCheckUnavailable as exc:
        return None, str(exc)
    if transcriber is None:
        return None, None
    return _Timed(transcriber, load_s=time.perf_counter() - started if fresh else None), None


class _Timed:
    """A transcriber that times each hearing, so the studio's own Whisper calibrates the lyric-check
    stage's price (``asr_cost``); a caller's own transcriber (a given transcript) is heard untimed.
    ``load_s``, when this check loaded Whisper, is recorded with the first hearing only."""

    def __init__(self, transcriber, load_s: float | None = None) -> None:
        self.inner = transcriber
        self.location = transcriber.location
        self.last_s: float | None = None
        self.load_s = load_s

    def words(self, audio, sample_rate: int, language: str | None = None):
        started = time.perf_counter()
        heard = self.inner.words(audio, sample_rate, language=language)
        self.last_s = time.perf_counter() - started
        return heard

    def calibrate(self, seconds: float) -> None:
        from studio.quality.asr import Transcriber
        from studio.quality.asr_cost import STAGE, record

        if self.last_s is None:
            return
        if isinstance(self.inner, Transcriber):
            record(seconds, {STAGE: self.last_s, **({"load": self.load_s} if self.load_s else {})})
        self.load_s = None  # loading is counted with the first take only
        self.last_s = None


def ranked(takes: Sequence) -> list[int]:
    """Indices of results' takes, best first (unchecked takes keep their place)."""
    if any(t.checks is None for t in takes):
        return list(range(len(takes)))
    return best_first([t.checks for t in takes])


def keep_best(takes: Sequence, count: int) -> list:
    """Best of N: the ``count`` best takes, best first; the others' files are deleted."""
    ordered = [takes[i] for i in ranked(takes)]
    for dropped in ordered[count:]:
        for path in [*dropped.files.values(), dropped.card, dropped.stems_zip, *dropped.stems.values()]:
            if path is not None:
                Path(path).unlink(missing_ok=True)
    return ordered[:count]


def write_synced_lyrics(files: dict, checks: TakeChecks, *, title: str = "") -> dict:
    """Synced lyrics in every exported audio file's tags and an ``.lrc`` beside the first one;
    returns ``files`` with ``lrc`` added (unchanged when the lyrics were not heard)."""
    from studio.quality.synced import write_lrc, write_synced_tags

    if checks.lyrics is None or not files:
        return files
    audio = [Path(p) for p in files.values() if Path(p).suffix.lower() in AUDIO_SUFFIXES]
    for path in audio:
        write_synced_tags(path, checks.lyrics)
    lrc = write_lrc(audio[0], checks.lyrics, title=title, length_s=checks.duration) if audio else None
    return {**files, "lrc": lrc} if lrc else files
