"""What the GPU function hands back: the model's takes and what was measured, as plain data.

On ZeroGPU the GPU function runs in a forked worker and its result is pickled back to the main
process (``spaces/zero/wrappers.py``: the worker puts the return value on a queue). Everything the
visitor's GPU seconds must not pay for (mastering, encoding, tags, cards, the library, calibration)
happens in the main process from this object, so it holds only arrays, numbers and strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from backends.base import Take
from backends.plan_input import PlanInput
from studio.song import SongRequest

# Take.extras keys that cross the process boundary; the rest (codes, tensors for --dump-tokens)
# stays in the process that rendered.
PORTABLE_EXTRAS = ("warnings",)


@dataclass
class RawRender:
    """One request's rendered takes before any finishing."""

    request: SongRequest  # the request as it ran (fitted, seeds resolved in ``seeds``)
    takes: list[Take]
    seeds: list[int]
    duration_s: float
    lyrics_sent: str
    style_sent: str
    warnings: list[str]  # from checking the request (formatter fixes, ignored fields)
    plan: PlanInput  # what the calibration files the measured seconds under
    stage_seconds: dict[str, float]  # measured per stage in the worker, recorded by the main process
    weights: str
    device: str
    dtype: str
    # True when the worker already held this backend's weights (it is being reused); the main process
    # prices the next load from this evidence, not from an assumption about worker reuse.
    reused_weights: bool = False
    load_s: float = 0.0
    render_s: float = 0.0
    recorded: bool = field(default=False, compare=False)  # calibration fed already (no double count)

    def portable(self) -> RawRender:
        """A copy safe to pickle across processes: float32 numpy audio and stems, plain extras."""
        takes = [
            Take(
                audio=np.ascontiguousarray(np.asarray(t.audio, dtype=np.float32)),
                sample_rate=int(t.sample_rate),
                seed=int(t.seed),
                stems={k: np.asarray(v, dtype=np.float32) for k, v in t.stems.items()},
                extras={k: list(v) for k, v in t.extras.items() if k in PORTABLE_EXTRAS},
            )
            for t in self.takes
        ]
        return RawRender(**{**self.__dict__, "takes": takes})
