"""The DSP measures on synthetic songs whose tempo, key, clipping, silence and ending are known."""

from __future__ import annotations

import numpy as np
import pytest

from studio.quality import measures
from studio.quality import thresholds as T
from tests.quality import synth

SR = synth.SR


def _by_name(items):
    return {m.name: m for m in items}


@pytest.fixture(scope="module")
def steady() -> np.ndarray:
    return synth.fade_out(synth.song(24, 120, "C major"), 3)


def test_tempo_matches_the_request(steady) -> None:
    bpm = measures.tempo_of(measures.beat_times(steady))
    assert bpm == pytest.approx(120, rel=0.01)
    assert measures.tempo_measure(bpm, 120).ok is True


@pytest.mark.parametrize("played, requested, words", [(60, 120, "half time"), (140, 70, "double time")])
def test_half_and_double_time_are_named(played, requested, words) -> None:
    bpm = measures.tempo_of(measures.beat_times(synth.song(24, played)))
    m = measures.tempo_measure(bpm, requested)
    assert m.ok is False and words in m.summary


def test_a_tempo_off_by_more_than_the_tolerance_fails() -> None:
    bpm = measures.tempo_of(measures.beat_times(synth.song(24, 128)))
    m = measures.tempo_measure(bpm, 120)
    assert bpm == pytest.approx(128, rel=0.01)
    assert m.ok is False and "time" not in m.summary  # 6.7 % off is not a factor of two
    assert measures.tempo_measure(bpm, None).ok is None  # nothing requested, nothing to fail


def test_drift_between_first_and_last_minute() -> None:
    gliding = synth.song(130, [116, 126])  # +8.6 % over the song; the minutes differ by ~4 %
    m = measures.drift_measure(measures.beat_times(gliding), 130)
    assert m.ok is False and m.value > 100 * T.TEMPO_DRIFT_MAX
    steady = synth.song(130, 116)
    assert measures.drift_measure(measures.beat_times(steady), 130).ok is True
    assert measures.drift_measure(np.arange(0, 20, 0.5), 20).ok is None  # too short to have two windows


@pytest.mark.parametrize("key", ["C major", "A minor", "F# major", "Eb minor"])
def test_key_is_read_from_the_harmony(key) -> None:
    found = measures.estimate_key(synth.song(16, 100, key.replace("Eb", "D#")))
    m = measures.key_measure(found, key)
    assert m.ok is True, m.detail


def test_relative_and_wrong_keys_fail_with_their_names() -> None:
    found = measures.estimate_key(synth.song(16, 100, "A minor"))
    relative = measures.key_measure(found, "C major")
    assert relative.ok is False and "relative" in relative.summary
    wrong = measures.key_measure(measures.estimate_key(synth.song(16, 100, "D major")), "C major")
    assert wrong.ok is False and "D major vs C major" in wrong.summary


def test_clipping_and_true_peak() -> None:
    clean = synth.song(6, 120, level=0.5)
    peak, clip = measures.peak_measures(clean[None])
    assert peak.ok is True and clip.ok is True and clip.value == 0
    hot = np.clip(clean * 4, -1.0, 1.0)  # every kick flattened at full scale
    peak, clip = measures.peak_measures(np.stack([hot, hot]))
    assert clip.ok is False and clip.value >= T.CLIP_RUN
    assert peak.ok is False and peak.value > T.TRUE_PEAK_MAX_DBTP
    # A single full-scale sample is a peak, not a clipped run.
    one = clean.copy()
    one[1000] = 1.0
    assert measures.clipped_runs(one) == (0, 0)


def test_silence_at_head_and_tail() -> None:
    y = synth.pad(synth.fade_out(synth.song(12, 120), 2), head_s=3.0, tail_s=5.0)
    got = _by_name(measures.level_measures(y, SR))
    assert got["head silence"].ok is False and got["head silence"].value == pytest.approx(3.0, abs=0.15)
    assert got["tail silence"].ok is False and got["tail silence"].value >= 5.0
    tight = _by_name(measures.level_measures(synth.pad(synth.fade_out(synth.song(12, 120), 2), 0.5, 1.0), SR))
    assert tight["head silence"].ok is True and tight["tail silence"].ok is True


def test_an_abrupt_ending_is_flagged_and_a_fade_is_not(steady) -> None:
    cut = synth.song(12, 120)[: int(11.3 * SR)]  # stops in the middle of a chord
    assert _by_name(measures.level_measures(cut, SR))["ending"].ok is False
    assert _by_name(measures.level_measures(steady, SR))["ending"].ok is True
    silent = measures.level_measures(np.zeros(SR * 3, np.float32), SR)
    assert silent[0].ok is False and silent[0].summary == "silent take"


def test_duration_against_the_request() -> None:
    assert measures.duration_measure(118.0, 120).ok is True
    assert measures.duration_measure(95.0, 120).ok is False
    assert measures.duration_measure(29.0, 30).ok is True  # under the 3 s floor of the tolerance
    assert measures.duration_measure(95.0, None).ok is None


def test_measure_all_on_a_stereo_48k_take() -> None:
    import soxr

    y = synth.fade_out(synth.song(20, 100, "G major"), 3)
    stereo = np.stack([soxr.resample(y, SR, 48_000)] * 2)
    got = _by_name(measures.measure_all(stereo, 48_000, bpm=100, key="G major", duration=20))
    assert [m.ok for m in got.values()].count(False) == 0, [m.summary for m in got.values() if m.ok is False]
    assert got["tempo"].summary == "tempo 100 vs 100 BPM"


def test_a_true_peak_measured_already_is_read_not_measured_again(monkeypatch) -> None:
    from studio.audio import peaks

    hot = np.clip(synth.song(6, 120, level=0.5) * 4, -1.0, 1.0)
    audio = np.stack([hot, hot])
    measured = measures.peak_measures(audio)
    known = peaks.true_peak(audio.astype(np.float32))
    monkeypatch.setattr(peaks, "true_peak", lambda *a, **k: pytest.fail("measured the true peak again"))
    assert measures.peak_measures(audio, known) == measured
    # The figure given is the one reported.
    quiet, _ = measures.peak_measures(audio, 0.5)
    assert quiet.value == round(20 * np.log10(0.5), 2) and quiet.ok is True
