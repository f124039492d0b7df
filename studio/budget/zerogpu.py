"""``@spaces.GPU(duration=<callable>)`` around the generation path.

Use::

    @gpu_task(plan=lambda name, job, **_: preflight_for(name, job).reservation)
    def render_on_gpu(name: str, job: RenderJob, *, budget: Reservation) -> list[Take]:
        deadline = budget.deadline(progress)
        ...

Calling ``render_on_gpu(name, job)`` plans a :class:`Reservation` in the calling process, then
calls the GPU function with ``budget=`` added. On ZeroGPU that function is wrapped by
``spaces.GPU`` with a duration callable that receives exactly the same arguments and returns
``budget.declared_s`` (the estimate with its margin, rounded up, divided by the slice's scheduling
factor so the scheduler's own multiplication lands on it, and held under the tier's cap). The
reservation travels as an argument rather than being recomputed in the GPU worker, which is a
forked process whose calibration may be older than the caller's.

Off ZeroGPU (``SPACES_ZERO_GPU`` unset) ``spaces`` is never imported and the function runs
directly. Errors the visitor can act on (``StudioError``, including the deadline's) are carried
back as values: ``spaces`` would otherwise replace any non-gradio exception by its class name.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from studio import settings
from studio.budget.reservation import Reservation
from studio.budget.retry import run_with_retry
from studio.devices import on_zerogpu
from studio.ground.errors import StudioError

GpuSize = Literal["large", "xlarge"]


def slice_factor(size: GpuSize | None = None, env: Mapping[str, str] | None = None) -> float:
    """The multiplier ``spaces`` applies to a declared duration when scheduling it.

    ``spaces`` reads the GPU model from ``/proc/driver/nvidia/gpus/*/information`` and looks it up
    in its ``zero/configs.json``: ``duration_factor`` is 1.5 on "NVIDIA RTX PRO 6000 Blackwell
    Server Edition" (the large slice) and 1.0 on the H200 default; a task of size ``xlarge`` is not
    multiplied. ``STUDIO_ZEROGPU_SLICE_FACTOR`` overrides it (e.g. to plan for Blackwell from a laptop).
    """
    if (value := settings.ZEROGPU_SLICE_FACTOR.get(env)) is not None:
        return 1.0 if size == "xlarge" else value
    if not on_zerogpu(env):
        return 1.0
    try:
        if size is None:
            from spaces.zero import default_gpu_size

            size = default_gpu_size()
        if size == "xlarge":
            return 1.0
        from spaces.zero.config import get_config

        return float(get_config()["duration_factor"])
    except Exception:  # an older spaces without per-GPU configs: no multiplier
        return 1.0


@dataclass(frozen=True)
class _Carried:
    """A StudioError travelling back from the GPU worker as a value."""

    error: BaseException


def _carry_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except StudioError as exc:
            return _Carried(exc)

    return run


def _unwrap(result: Any) -> Any:
    if isinstance(result, _Carried):
        raise result.error
    return result


def reservation_duration(*_args: Any, budget: Reservation, **_kwargs: Any) -> int:
    """The duration callable handed to ``spaces.GPU``: it gets the GPU function's own arguments."""
    return budget.declared_s if budget.declared_s is not None else budget.needed_s


def gpu_task(
    plan: Callable[..., Reservation],
    *,
    size: GpuSize | None = None,
    retry: bool = True,
    quota_left: Callable[..., float | None] | None = None,
    notify: Callable[[str], None] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator factory: run the function on ZeroGPU with a reservation that fits.

    ``plan(*args, **kwargs)`` returns the :class:`Reservation` for a call (usually from
    ``preflight``); the decorated function must accept ``budget: Reservation`` as a keyword.
    ``quota_left(*args, **kwargs)`` may say how much of today's quota the visitor has left, so
    a retry is not attempted when it cannot fit; ``notify`` receives a sentence before a retry."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.isgeneratorfunction(fn) or inspect.iscoroutinefunction(fn):
            raise TypeError("gpu_task wraps plain functions; return the result instead of yielding it.")
        inner = _carry_errors(fn)
        if on_zerogpu():
            import spaces  # only here: off ZeroGPU the app must not depend on it

            gpu_fn = spaces.GPU(duration=reservation_duration, size=size)(inner)
        else:
            gpu_fn = inner

        @functools.wraps(fn)
        def call(*args: Any, budget: Reservation | None = None, **kwargs: Any) -> Any:
            if budget is None:
                budget = plan(*args, **kwargs)

            def attempt(reservation: Reservation) -> Any:
                return _unwrap(gpu_fn(*args, budget=reservation, **kwargs))

            if not (retry and budget.zerogpu):
                return attempt(budget)
            left = quota_left(*args, **kwargs) if quota_left is not None else None
            return run_with_retry(attempt, budget, quota_left_s=left, notify=notify)

        call.gpu_fn = gpu_fn  # type: ignore[attr-defined]
        call.plan = plan  # type: ignore[attr-defined]
        return call

    return decorate
