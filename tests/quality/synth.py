"""Synthetic songs with known properties: a kick-and-chord loop at a chosen tempo and key."""

from __future__ import annotations

import numpy as np

SR = 22_050
# Scale degrees of a I-IV-V-I cadence (major) or i-iv-V-i (harmonic minor), in semitones from the tonic.
_MAJOR_CHORDS = ((0, 4, 7), (5, 9, 12), (7, 11, 14), (0, 4, 7))
_MINOR_CHORDS = ((0, 3, 7), (5, 8, 12), (7, 11, 14), (0, 3, 7))
_NOTES = {"C": 0, "C#": 1, "D": 2, "D#": 3, "E": 4, "F": 5, "F#": 6, "G": 7, "G#": 8, "A": 9, "A#": 10, "B": 11}


def song(seconds: float, bpm: float | list[float] = 120.0, key: str = "C major", sr: int = SR,
         level: float = 0.5) -> np.ndarray:
    """Mono float32: a decaying kick on every beat plus sustained chords, one per bar (4 beats).
    ``bpm`` as a list of two values glides linearly from the first to the second."""
    n = int(seconds * sr)
    start_bpm, end_bpm = (bpm, bpm) if np.isscalar(bpm) else bpm
    # Beat phase: the integral of the (linearly changing) tempo.
    rate = np.linspace(start_bpm, end_bpm, n) / 60.0
    phase = np.cumsum(rate) / sr
    beat_index = np.floor(phase).astype(int)
    since_beat = (phase - beat_index) / rate
    kick = np.exp(-since_beat * 30) * np.sin(2 * np.pi * 60 * since_beat)
    note, mode = key.split()
    tonic = 48 + _NOTES[note]  # MIDI C3 upwards
    chords = _MINOR_CHORDS if mode == "minor" else _MAJOR_CHORDS
    chord = np.array(chords)[(beat_index // 4) % 4]
    harmony = np.zeros(n)
    for voice in range(3):
        freq = 440.0 * 2 ** ((tonic + chord[:, voice] - 69) / 12)
        ph = 2 * np.pi * np.cumsum(freq) / sr
        harmony += np.sin(ph) + 0.3 * np.sin(2 * ph)
    out = 0.6 * kick + 0.15 * harmony
    return (level * out / np.abs(out).max()).astype(np.float32)


def fade_out(y: np.ndarray, seconds: float, sr: int = SR) -> np.ndarray:
    y = y.copy()
    n = int(seconds * sr)
    y[-n:] *= np.linspace(1.0, 0.0, n) ** 2
    return y


def pad(y: np.ndarray, head_s: float = 0.0, tail_s: float = 0.0, sr: int = SR) -> np.ndarray:
    return np.concatenate([np.zeros(int(head_s * sr), np.float32), y, np.zeros(int(tail_s * sr), np.float32)])
