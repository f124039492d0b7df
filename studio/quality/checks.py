"""``check_take``: everything the studio measures in one take, in one call.

Self-contained on purpose: the generate flow, the finishing step after the GPU window, ``studio
check`` and the ``/check`` endpoint all call it with audio in memory. The lyric check runs on the
vocal stem when the caller has one (it is what Whisper was trained on: speech without a band) and
on the mix otherwise."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from studio.lyrics.text import is_cjk
from studio.quality.align import check_lyrics, lyric_lines
from studio.quality.measures import measure_all
from studio.quality.report import TakeChecks


@dataclass(frozen=True)
class Intent:
    """What the take was asked to be: the parts of a request the checks compare against."""

    lyrics: str = ""
    instrumental: bool = False
    bpm: float | None = None
    key: str | None = None
    duration: float | None = None
    language: str | None = None

    @classmethod
    def of(cls, request, duration: float | None = None) -> Intent:
        """From a :class:`studio.song.SongRequest` (or anything with the same fields); ``duration``
        is the length the render was given when the request left it to the backend. The lyrics of
        an edit (a repaint's new line) cover only part of the song, so an edit is not held to them."""
        whole_song = getattr(request, "task", "text2music") == "text2music"
        return cls(lyrics=(request.lyrics or "") if whole_song else "", instrumental=bool(request.instrumental),
                   bpm=request.bpm, key=request.key, duration=duration or request.duration,
                   language=request.language)


def guess_language(lyrics: str) -> str | None:
    """Whisper's language code for lyrics in a CJK script (kana: ja, hangul: ko, han only: zh);
    None lets Whisper detect any other language itself."""
    kana = hangul = han = 0
    for ch in lyrics:
        if not is_cjk(ch):
            continue
        code = ord(ch)
        if 0x3040 <= code <= 0x30FF or 0x31F0 <= code <= 0x31FF or 0xFF66 <= code <= 0xFF9F:
            kana += 1
        elif 0xAC00 <= code <= 0xD7AF:
            hangul += 1
        else:
            han += 1
    if kana:
        return "ja"
    if hangul > han:
        return "ko"
    return "zh" if han else None


def check_take(audio: np.ndarray, sample_rate: int, intent: Intent, *, vocals: np.ndarray | None = None,
               transcriber=None, true_peak: float | None = None) -> TakeChecks:
    """Measure one take against what it was asked to be. ``audio`` is ``[channels, samples]`` (or
    mono); ``vocals`` is the separated vocal stem at the same rate, when there is one; without a
    ``transcriber`` (``studio.quality.asr.load_transcriber()``) the lyrics are not checked and
    ``lyric_note`` says so. ``true_peak``: the take's linear true peak when it was measured already
    (``studio.quality.measures.peak_measures``)."""
    started = time.perf_counter()
    audio = np.atleast_2d(np.asarray(audio, dtype=np.float32))
    seconds = audio.shape[-1] / sample_rate
    measures = measure_all(audio, sample_rate, bpm=intent.bpm, key=intent.key, duration=intent.duration,
                           true_peak=true_peak)
    lyrics, note = None, ""
    if intent.instrumental or not lyric_lines(intent.lyrics):
        note = "instrumental: no lyrics to check." if intent.instrumental else "no lyrics were given to check."
    elif transcriber is None:
        note = "lyrics not checked: no ASR model was loaded (turn the lyric check on, or pass --asr-model)."
    else:
        language = intent.language or guess_language(intent.lyrics)
        heard = transcriber.words(vocals if vocals is not None else audio, sample_rate, language=language)
        lyrics = check_lyrics(intent.lyrics, heard, duration=seconds, asr_model=transcriber.location,
                              language=language, on_vocal_stem=vocals is not None)
    return TakeChecks(duration=round(seconds, 3), measures=measures, lyrics=lyrics, lyric_note=note,
                      elapsed_s=round(time.perf_counter() - started, 3))
