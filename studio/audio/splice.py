"""Putting a repainted range back into its song.

A diffusion model re-decodes the whole song, so even the part it was told to keep comes back through
the VAE (slightly dulled) and at the pipeline's own loudness. A musician expects an edit to leave
the rest of the song bit-for-bit alone, so the source is spliced back outside the range, the new
part is matched to the source's level, and short raised-cosine crossfades sit just inside the
range so every kept sample is the original one.
"""

from __future__ import annotations

import numpy as np

SPLICE_FADE_S = 0.1
_QUIET = 1e-5


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


def splice(
    source: np.ndarray,
    generated: np.ndarray,
    start: int,
    end: int,
    *,
    fade: int,
    keep: np.ndarray | None = None,
) -> np.ndarray:
    """``generated`` inside samples ``[start, end)``, ``source`` outside; both ``[channels, n]``.

    ``keep`` marks the samples whose source is real audio (default: everywhere outside the range);
    the level match compares the two takes only there. Fades shrink to fit a short range."""
    if source.shape != generated.shape:
        raise ValueError(f"source {source.shape} and generated {generated.shape} differ in shape")
    n = source.shape[-1]
    start, end = max(0, start), min(n, end)
    if keep is None:
        keep = np.ones(n, dtype=bool)
        keep[start:end] = False
    gain = 1.0
    kept_gen, kept_src = _rms(generated[:, keep]), _rms(source[:, keep])
    if kept_gen > _QUIET and kept_src > _QUIET:
        gain = kept_src / kept_gen  # undo the pipeline's peak normalisation against the kept part
    new = generated * np.float32(gain)
    peak = float(np.max(np.abs(new[:, start:end]))) if end > start else 0.0
    if peak > 1.0:
        new = new / np.float32(peak)
    weight = np.zeros(n, dtype=np.float32)
    weight[start:end] = 1.0
    fade = max(0, min(fade, (end - start) // 2))
    if fade:
        ramp = (0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, fade, dtype=np.float64))).astype(np.float32)
        if start > 0:
            weight[start : start + fade] = ramp
        if end < n:
            weight[end - fade : end] = ramp[::-1]
    out = weight * new + (1.0 - weight) * source
    return np.ascontiguousarray(np.clip(out, -1.0, 1.0), dtype=np.float32)
