"""A deadline inside the run: stop cleanly before the reserved GPU time runs out.

ZeroGPU kills a task that outlives its reservation ("GPU task aborted"), after the quota is spent
and with nothing to show. The deadline wraps the backend's progress callback and, at every
diffusion step or generated frame, compares what is left of the reservation with what finishing
needs, measured from the run's own pace:
- a diffusion stage (or any stage whose partial output is useless) needs all its remaining steps
  plus the stages after it (decode); when they cannot fit, stopping now saves the visitor's quota;
- an autoregressive ``lm`` stage, when the visitor allowed partial results, needs only the next
  frame plus decode; when even that no longer fits the backend is told to stop and return what it
  has with a short fade (``DeadlineExceeded.partial``; see :func:`studio.audio.cut_short.fade_out`).
Off ZeroGPU with no ``STUDIO_TIME_LIMIT`` it never stops anything and only keeps the ETA.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from studio.budget.estimate import Estimate, canonical_stage, stage_base
from studio.ground.errors import DeadlineExceeded
from studio.ground.progress import ProgressEvent, ProgressFn, no_progress

# Stages whose output so far is still a song (frames of audio tokens), so they may end early.
PARTIAL_STAGES = frozenset({"lm"})
# Word for one unit of progress per stage, for messages.
STAGE_UNITS: dict[str, str] = {"diffusion": "step", "lm": "frame", "plan": "token", "decode": "chunk"}


@dataclass(frozen=True)
class EtaEvent(ProgressEvent):
    """A progress event with the run's estimated seconds left (None: unknown), as the Deadline
    forwards it; plain callbacks can treat it as the ProgressEvent it is."""

    eta_s: float | None = None


def eta_of(event: ProgressEvent) -> float | None:
    return getattr(event, "eta_s", None)


def eta_text(seconds: float | None) -> str:
    """'about 45 s left', 'about 2 min 10 s left'; '' when unknown. Rounded so it does not flicker."""
    if seconds is None or seconds != seconds:
        return ""
    if seconds < 1.5:
        return "almost done"
    if seconds < 60:
        return f"about {max(2, round(seconds / 5) * 5 if seconds >= 20 else round(seconds))} s left"
    minutes, rest = divmod(round(seconds / 10) * 10, 60)
    return f"about {minutes} min {rest:02d} s left" if rest else f"about {minutes} min left"


class Deadline:
    """A :data:`ProgressFn` that forwards to ``progress`` and then enforces ``limit_s``."""

    def __init__(
        self,
        limit_s: float | None,
        estimate: Estimate | None = None,
        *,
        progress: ProgressFn = no_progress,
        partial_ok: bool = False,
        spent_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        what: str = "",
    ) -> None:
        self.limit_s = limit_s
        self.estimate = estimate
        self.progress = progress
        self.partial_ok = partial_ok
        self.spent_s = spent_s
        self.what = what or (f"the {limit_s:.0f} s reserved for this request" if limit_s else "")
        self._clock = clock
        self._start = clock()
        self._last = self._start
        self._stage: str | None = None
        self._stage_start = self._start
        self._first: tuple[float, int] | None = None
        self._last_done = 0
        self.eta_s: float | None = estimate.total_s - spent_s if estimate is not None else None
        # Once a partial stop has been signalled the rest of the reservation belongs to decoding
        # what was made; stopping again would throw the song away.
        self.stopped_partial = False

    @property
    def elapsed_s(self) -> float:
        return self._clock() - self._start + self.spent_s

    def __call__(self, event: ProgressEvent) -> None:
        seen = self._observe(event)
        # The visitor's own Cancel comes first; the callback gets the fresh ETA with the event.
        self.progress(EtaEvent(event.stage, event.done, event.total, event.message, eta_s=self.eta_s))
        self._enforce(event, *seen)

    def _later_s(self, stage: str) -> float:
        """Estimated seconds of the stages after ``stage`` (not loading, which is behind us)."""
        if self.estimate is None:
            return 0.0
        names = [n for n in self.estimate.stages if stage_base(n) != "load"]
        bases = [stage_base(n) for n in names]
        stage = canonical_stage(stage)
        base = stage_base(stage)
        if stage in names:
            after = names[names.index(stage) + 1 :]
        elif base in bases:
            after = names[bases.index(base) + 1 :]
        else:  # a stage the cost model does not know: at least decoding is still to come
            after = [n for n in names if stage_base(n) == "decode"]
        return sum(self.estimate.stages[n] for n in after) * self.estimate.margin

    def _unit_s(self, event: ProgressEvent, now: float) -> float:
        """Seconds per step/frame: measured when possible, else the estimate's."""
        if self._first is not None and event.done - self._first[1] >= 1:
            # Measured from the stage's first event on, so a slow first step (warm-up) is left out.
            return (now - self._first[0]) / (event.done - self._first[1])
        if event.done > 0:
            return (now - self._stage_start) / event.done
        if self.estimate is not None and event.total > 0:
            seconds = self.estimate.stages.get(canonical_stage(event.stage))
            if seconds is None:
                matches = [
                    v for k, v in self.estimate.stages.items() if stage_base(k) == stage_base(event.stage)
                ]
                seconds = matches[0] if matches else 0.0
            return seconds / event.total
        return 0.0

    def check(self, event: ProgressEvent) -> None:
        """Update the ETA from ``event`` and stop the run if finishing no longer fits."""
        self._enforce(event, *self._observe(event))

    def _observe(self, event: ProgressEvent) -> tuple[float, float, float]:
        """Track the stage's pace and refresh ``eta_s``; returns (now, seconds per unit, later)."""
        now = self._clock()
        # A new stage, or the same stage starting over (the next take), is timed afresh.
        if event.stage != self._stage or event.done < self._last_done:
            self._stage = event.stage
            self._stage_start = self._last
            self._first = None
        if event.done == 0:
            self._stage_start = now
        unit = self._unit_s(event, now)
        if self._first is None and event.done > 0:
            self._first = (now, event.done)
        self._last = now
        self._last_done = event.done
        later = self._later_s(event.stage)
        to_go_all = max(0, event.total - event.done)
        if stage_base(event.stage) == "load" and self.estimate is not None:
            # Loading reports no steps worth timing: what is left is the estimate minus the time gone.
            self.eta_s = max(0.0, self.estimate.total_s - (now - self._start + self.spent_s))
        else:
            self.eta_s = to_go_all * unit + (later / self.estimate.margin if self.estimate else 0.0)
        return now, unit, later

    def _enforce(self, event: ProgressEvent, now: float, unit: float, later: float) -> None:
        to_go_all = max(0, event.total - event.done)
        if self.limit_s is None or self.stopped_partial or (to_go_all == 0 and later == 0):
            return
        if stage_base(event.stage) == "load":
            return  # the preflight priced the whole run; the first step after loading is checked
        partial = self.partial_ok and stage_base(event.stage) in PARTIAL_STAGES and event.done > 0
        to_go = min(1, to_go_all) if partial else to_go_all
        needed = to_go * unit + later
        elapsed = now - self._start + self.spent_s
        remaining = self.limit_s - elapsed
        if needed <= remaining:
            return
        noun = STAGE_UNITS.get(stage_base(event.stage), "step")
        where = f"{event.stage} {noun} {event.done} of {event.total}"
        if partial:
            # No share of the song here: a delayed codebook pattern (an LM stage) makes steps and audio differ;
            # the backend says how long the kept take is (partial_note).
            message = (
                f"Time ran out at {where}: {self.what} is nearly used up, so the song ends here with a "
                f"short fade. Ask for a shorter song to get a full one."
            )
        else:
            message = (
                f"Stopped at {where}: at the pace measured, finishing needs about {needed:.0f} s more, "
                f"but only {max(0.0, remaining):.0f} s of {self.what} are left, so the run was stopped "
                f"before the GPU would be taken away. Try a shorter song, fewer steps or a faster model."
            )
        self.stopped_partial = partial
        raise DeadlineExceeded(
            message,
            stage=event.stage,
            done=event.done,
            total=event.total,
            elapsed_s=elapsed,
            limit_s=self.limit_s,
            needed_s=needed,
            partial=partial,
        )
