"""Classical DSP measures of a take (librosa, numpy): no weights, a few seconds per song on a CPU.

Every threshold comes from :mod:`studio.quality.thresholds`."""

from __future__ import annotations

import warnings

import numpy as np

from studio.quality import thresholds as T
from studio.quality.jit import first_call
from studio.quality.report import Measure

_PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_FLATS = {"Db": "C#", "Eb": "D#", "Gb": "F#", "Ab": "G#", "Bb": "A#", "Cb": "B", "Fb": "E", "E#": "F", "B#": "C"}
# Krumhansl & Kessler (1982) key profiles, as tabulated in Krumhansl, "Cognitive Foundations of
# Musical Pitch" (1990), table 4.1: the probe-tone ratings of each pitch class in C major / C minor.
_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
# Hop of the onset envelope: 256 samples at 22.05 kHz is 11.6 ms, fine enough for beat times.
_HOP = 256
_FRAME_S = 0.1  # level frames for silence and the loud level


def mono(audio: np.ndarray) -> np.ndarray:
    """``[channels, samples]`` or ``[samples]`` -> float32 mono."""
    audio = np.asarray(audio, dtype=np.float32)
    return audio if audio.ndim == 1 else audio.mean(axis=0)


def for_analysis(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mono at :data:`T.ANALYSIS_RATE` (soxr, as librosa's default resampler)."""
    import soxr

    y = mono(audio)
    if sample_rate != T.ANALYSIS_RATE:
        y = soxr.resample(y, sample_rate, T.ANALYSIS_RATE).astype(np.float32)
    return y


# --- tempo -------------------------------------------------------------------------------------


def beat_times(y: np.ndarray, sr: int = T.ANALYSIS_RATE) -> np.ndarray:
    import librosa

    # trim=False: librosa's own trimming of weak edge beats drops nearly all of them when the song
    # has a silent stretch (measured: 1 beat of 19 left after 3 s of leading silence); callers
    # pass the sounding part only instead.
    with first_call("beat_track"):
        _, beats = librosa.beat.beat_track(y=y, sr=sr, hop_length=_HOP, units="time", trim=False)
    return np.asarray(beats, dtype=np.float64)


def tempo_of(beats: np.ndarray) -> float | None:
    """BPM from beat times: the slope of a line through them, so the frame grid's quantisation of
    each interval averages out (one interval alone is only good to ~2 % at 120 BPM)."""
    if len(beats) < 4:
        return None
    slope = np.polyfit(np.arange(len(beats)), beats, 1)[0]
    return float(60.0 / slope) if slope > 0 else None


def tempo_measure(bpm: float | None, requested: float | None) -> Measure:
    if bpm is None:
        return Measure(name="tempo", ok=None, unit="BPM", target=requested, summary="tempo not found",
                       detail="no steady beat was found (rubato, ambient or too short).")
    shown = f"tempo {bpm:.0f}" + (f" vs {requested:g} BPM" if requested else " BPM")
    if not requested:
        return Measure(name="tempo", ok=None, value=round(bpm, 1), unit="BPM", summary=shown,
                       detail="no BPM was requested, so there is nothing to compare the tempo with.")
    ratio = bpm / requested
    for factor, words in ((1.0, ""), (2.0, "double time"), (0.5, "half time")):
        if abs(ratio / factor - 1.0) <= T.TEMPO_TOLERANCE:
            if not words:
                return Measure(name="tempo", ok=True, value=round(bpm, 1), target=requested, unit="BPM",
                               summary=shown, detail=f"{bpm:.1f} BPM, within {T.TEMPO_TOLERANCE:.0%} of the request.")
            return Measure(name="tempo", ok=False, value=round(bpm, 1), target=requested, unit="BPM",
                           summary=f"{shown} ({words})",
                           detail=f"{bpm:.1f} BPM is {words} of the requested {requested:g}: the grid matches "
                           "but the felt pulse does not.")
    return Measure(name="tempo", ok=False, value=round(bpm, 1), target=requested, unit="BPM", summary=shown,
                   detail=f"{bpm:.1f} BPM is {abs(ratio - 1):.0%} away from the requested {requested:g} "
                   f"(allowed {T.TEMPO_TOLERANCE:.0%}).")


def drift_measure(beats: np.ndarray, duration: float) -> Measure:
    """Tempo of the first window against the last (a minute each, halves for shorter songs)."""
    if duration < T.TEMPO_DRIFT_MIN_SONG_S:
        return Measure(name="tempo drift", ok=None, unit="%", summary="drift n/a",
                       detail=f"songs under {T.TEMPO_DRIFT_MIN_SONG_S:g} s are too short to compare two windows.")
    window = min(T.TEMPO_DRIFT_WINDOW_S, duration / 2)
    first = tempo_of(beats[beats < window])
    last = tempo_of(beats[beats >= duration - window])
    if first is None or last is None:
        return Measure(name="tempo drift", ok=None, unit="%", summary="drift n/a",
                       detail="no steady beat at the start or the end to compare.")
    drift = (last - first) / first
    ok = abs(drift) <= T.TEMPO_DRIFT_MAX
    return Measure(name="tempo drift", ok=ok, value=round(100 * drift, 1), unit="%",
                   summary=f"drift {100 * drift:+.1f}%",
                   detail=f"{first:.1f} BPM in the first {window:.0f} s, {last:.1f} BPM in the last "
                   f"(allowed ±{T.TEMPO_DRIFT_MAX:.0%}).")


# --- key ---------------------------------------------------------------------------------------


def pitch_class(note: str) -> int:
    note = note[0].upper() + note[1:]
    return _PITCH_CLASSES.index(_FLATS.get(note, note))


def key_name(tonic: int, minor: bool) -> str:
    return f"{_PITCH_CLASSES[tonic]} {'minor' if minor else 'major'}"


def estimate_key(y: np.ndarray, sr: int = T.ANALYSIS_RATE) -> tuple[str, float] | None:
    """(key, correlation) of the song's mean chroma with the best of the 24 rotated profiles."""
    import librosa

    with first_call("chroma_stft"), warnings.catch_warnings():
        # Near-silent or unpitched audio has no peaks to estimate tuning from; the profile check
        # below then reports "key not found" instead of librosa's warning.
        warnings.simplefilter("ignore", UserWarning)
        chroma = librosa.feature.chroma_stft(y=y, sr=sr, n_fft=4096, hop_length=2048)
    profile = chroma.mean(axis=1)
    if not np.isfinite(profile).all() or profile.std() == 0:
        return None
    best: tuple[float, str] = (-2.0, "")
    for tonic in range(12):
        for minor, template in ((False, _MAJOR), (True, _MINOR)):
            r = float(np.corrcoef(profile, np.roll(template, tonic))[0, 1])
            if r > best[0]:
                best = (r, key_name(tonic, minor))
    return best[1], best[0]


def relative_of(key: str) -> str:
    note, mode = key.split()
    tonic = pitch_class(note)
    return key_name((tonic + 9) % 12, True) if mode == "major" else key_name((tonic + 3) % 12, False)


def key_measure(found: tuple[str, float] | None, requested: str | None) -> Measure:
    if found is None:
        return Measure(name="key", ok=None, target=requested, summary="key not found",
                       detail="the take has no pitched content to read a key from.")
    key, r = found
    if not requested:
        return Measure(name="key", ok=None, summary=f"key {key}",
                       detail=f"reads as {key} (profile match {r:.2f}); no key was requested.")
    note, mode = requested.split()
    wanted = key_name(pitch_class(note), mode == "minor")
    if key == wanted:
        return Measure(name="key", ok=True, target=requested, summary=f"key {key}",
                       detail=f"reads as {key}, as requested (profile match {r:.2f}).")
    if key == relative_of(wanted):
        return Measure(name="key", ok=False, target=requested, summary=f"key {key} vs {wanted} (relative)",
                       detail=f"reads as {key}, the relative {'minor' if 'minor' in key else 'major'} of "
                       f"{wanted}: the same notes, another home.")
    return Measure(name="key", ok=False, target=requested, summary=f"key {key} vs {wanted}",
                   detail=f"reads as {key} (profile match {r:.2f}), not the requested {wanted}.")


# --- peaks -------------------------------------------------------------------------------------


def clipped_runs(audio: np.ndarray) -> tuple[int, int]:
    """(runs of >= CLIP_RUN consecutive full-scale samples, samples in them), over all channels."""
    audio = np.atleast_2d(np.asarray(audio, dtype=np.float32))
    runs = samples = 0
    for channel in audio:
        full = np.abs(channel) >= T.CLIP_LEVEL
        if not full.any():
            continue
        edges = np.diff(np.concatenate(([0], full.astype(np.int8), [0])))
        lengths = np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)
        long = lengths[lengths >= T.CLIP_RUN]
        runs += len(long)
        samples += int(long.sum())
    return runs, samples


def peak_measures(audio: np.ndarray, true_peak: float | None = None) -> list[Measure]:
    """True peak and clipping of ``audio``. ``true_peak``: its linear true peak at
    ``studio.audio.peaks.TRUE_PEAK_OVERSAMPLE``, when mastering measured it already (a minute of stereo costs ~0.15
    CPU s to measure, and the background checks compete with the next song's render for the CPU)."""
    from studio.audio.loudness import to_db
    from studio.audio.peaks import TRUE_PEAK_OVERSAMPLE
    from studio.audio.peaks import true_peak as measured_true_peak

    audio = np.atleast_2d(np.asarray(audio, dtype=np.float32))
    if true_peak is None:
        true_peak = measured_true_peak(audio, TRUE_PEAK_OVERSAMPLE)
    peak_db = to_db(true_peak)
    peak = Measure(name="true peak", ok=None if peak_db is None else peak_db <= T.TRUE_PEAK_MAX_DBTP,
                   value=None if peak_db is None else round(peak_db, 2), target=T.TRUE_PEAK_MAX_DBTP,
                   unit="dBTP", summary="silent" if peak_db is None else f"peak {peak_db:+.1f} dBTP",
                   detail="the take is silent." if peak_db is None else
                   f"true peak {peak_db:+.2f} dBTP (4x oversampled); the ceiling is {T.TRUE_PEAK_MAX_DBTP:g} dBTP"
                   + ("" if peak_db <= T.TRUE_PEAK_MAX_DBTP else ", so mastering will limit it") + ".")
    runs, samples = clipped_runs(audio)
    clip = Measure(name="clipping", ok=runs <= T.CLIPPED_RUNS_MAX, value=float(samples), unit="samples",
                   summary="no clipping" if runs == 0 else f"clipped {runs}×",
                   detail="no clipped runs." if runs == 0 else
                   f"{runs} runs of {T.CLIP_RUN}+ samples at full scale ({samples} samples): audible distortion.")
    return [peak, clip]


# --- level: silence and ending -----------------------------------------------------------------


def frame_levels_db(y: np.ndarray, sr: int) -> np.ndarray:
    hop = max(1, int(sr * _FRAME_S))
    frames = len(y) // hop
    if frames == 0:
        return np.zeros(0)
    power = (y[: frames * hop].reshape(frames, hop).astype(np.float64) ** 2).mean(axis=1)
    return 10 * np.log10(np.maximum(power, 1e-20))


def sounding_span(y: np.ndarray, sr: int) -> tuple[int, int]:
    """(first, last + 1) sample of the part that is not silence (the whole take when all is silent)."""
    levels = frame_levels_db(y, sr)
    if len(levels) == 0 or levels.max() <= -190:
        return 0, len(y)
    hop = max(1, int(sr * _FRAME_S))
    sounding = np.flatnonzero(levels >= levels.max() - T.SILENCE_BELOW_DB)
    return int(sounding[0] * hop), min(len(y), int((sounding[-1] + 1) * hop))


def level_measures(y: np.ndarray, sr: int) -> list[Measure]:
    """Head and tail silence and an abrupt ending, from 100 ms frame levels of the mono mix."""
    levels = frame_levels_db(y, sr)
    duration = len(y) / sr
    if len(levels) == 0 or levels.max() <= -190:
        return [Measure(name="silence", ok=False, summary="silent take", detail="the take holds no sound.")]
    sounding = np.flatnonzero(levels >= levels.max() - T.SILENCE_BELOW_DB)
    head = sounding[0] * _FRAME_S
    tail = max(0.0, duration - (sounding[-1] + 1) * _FRAME_S)
    out = [
        Measure(name="head silence", ok=head <= T.HEAD_SILENCE_MAX_S, value=round(head, 2), unit="s",
                target=T.HEAD_SILENCE_MAX_S, summary=f"starts at {head:.1f} s",
                detail=f"{head:.1f} s of silence before the first sound (allowed {T.HEAD_SILENCE_MAX_S:g} s)."),
        Measure(name="tail silence", ok=tail <= T.TAIL_SILENCE_MAX_S, value=round(tail, 2), unit="s",
                target=T.TAIL_SILENCE_MAX_S, summary=f"tail {tail:.1f} s",
                detail=f"{tail:.1f} s of silence after the last sound (allowed {T.TAIL_SILENCE_MAX_S:g} s)."),
    ]
    loud = float(np.percentile(levels[sounding], 90))
    last = y[-max(1, int(sr * T.ABRUPT_END_WINDOW_S)):].astype(np.float64)
    end_db = 10 * np.log10(max(float((last**2).mean()), 1e-20))
    below = loud - end_db
    abrupt = below < T.ABRUPT_END_WITHIN_DB
    out.append(Measure(name="ending", ok=not abrupt, value=round(below, 1), unit="dB",
                       target=T.ABRUPT_END_WITHIN_DB, summary="abrupt ending" if abrupt else "clean ending",
                       detail=f"the last {T.ABRUPT_END_WINDOW_S:g} s is {below:.0f} dB under the song's loud level"
                       + (": the music is cut off mid-phrase." if abrupt else ", so it fades or rings out.")))
    return out


def duration_measure(duration: float, requested: float | None) -> Measure:
    if not requested:
        return Measure(name="duration", ok=None, value=round(duration, 2), unit="s", summary=f"{duration:.0f} s",
                       detail="no duration was requested.")
    allowed = max(T.DURATION_TOLERANCE * requested, T.DURATION_TOLERANCE_MIN_S)
    ok = abs(duration - requested) <= allowed
    return Measure(name="duration", ok=ok, value=round(duration, 2), target=requested, unit="s",
                   summary=f"{duration:.0f} vs {requested:g} s",
                   detail=f"{duration:.1f} s against the requested {requested:g} s (allowed ±{allowed:.0f} s).")


def measure_all(audio: np.ndarray, sample_rate: int, *, bpm: float | None = None, key: str | None = None,
                duration: float | None = None, true_peak: float | None = None) -> list[Measure]:
    """Every DSP measure of one take, in the order the card lists them (``true_peak``: see
    :func:`peak_measures`)."""
    y = for_analysis(audio, sample_rate)
    seconds = np.atleast_2d(audio).shape[-1] / sample_rate
    start, stop = sounding_span(y, T.ANALYSIS_RATE)
    music = y[start:stop]
    beats = beat_times(music) if len(music) > T.ANALYSIS_RATE else np.zeros(0)
    return [
        tempo_measure(tempo_of(beats), bpm),
        drift_measure(beats, len(music) / T.ANALYSIS_RATE),
        key_measure(estimate_key(y), key),
        *peak_measures(audio, true_peak),
        *level_measures(y, T.ANALYSIS_RATE),
        duration_measure(seconds, duration),
    ]
