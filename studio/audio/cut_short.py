"""A take cut short by its deadline (``DeadlineExceeded.partial``): its fade and the note it carries.

A backend that returns the frames generated so far ends them with :func:`fade_out` and says why the take
is short with :func:`partial_note`; both are plain audio and text helpers, so backends reach them here.
"""

from __future__ import annotations

import numpy as np

FADE_S = 1.5


def fade_out(audio: np.ndarray, sample_rate: int, seconds: float = FADE_S) -> np.ndarray:
    """A copy of ``audio`` ([channels, samples] or [samples]) with a raised-cosine fade at the end."""
    out = np.array(audio, dtype=np.float32, copy=True)
    n = min(out.shape[-1], max(1, round(seconds * sample_rate)))
    ramp = (0.5 * (1.0 + np.cos(np.linspace(0.0, np.pi, n)))).astype(np.float32)
    out[..., -n:] *= ramp
    return out


def partial_note(stop: BaseException, seconds: float, asked_s: float, skipped_takes: int = 0) -> str:
    """The warning a song cut short carries: why it is short, how long it is, what was not made."""
    note = f"{stop} The take is {seconds:.1f} s long instead of up to {asked_s:g} s."
    if skipped_takes:
        note += f" The remaining {skipped_takes} take(s) were not started."
    return note
