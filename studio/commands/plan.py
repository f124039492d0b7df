"""``python -m studio plan``: what a request would cost, whether it fits, and what would."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from studio.ground.errors import StudioError
from studio.ground.vocabulary import DeviceClass
from studio.tasks import TASK_NAMES, task_weights


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "plan",
        help="estimate GPU time for a request and check it against a ZeroGPU tier",
        description=(
            "Print the estimated GPU time of a request, the cap of the chosen tier, the decision "
            "(run, adjusted, refuse) and alternatives that fit. Exit status 0 when it would run, "
            "1 when it would be refused, 2 on a usage error."
        ),
    )
    p.add_argument("--backend", required=True, help="backend name (`python -m studio backends` lists them)")
    p.add_argument("--duration", required=True, type=_positive_float, help="song length in seconds")
    p.add_argument("--steps", type=_positive_int, help="diffusion steps (default: the backend's)")
    p.add_argument("--takes", type=_positive_int, default=1, help="songs per request (default 1)")
    p.add_argument("--planner", help="LM planner size, for a backend that has one (its `planner_sizes`); default: none")
    p.add_argument(
        "--task", default="text2music", choices=list(TASK_NAMES),
        help="task (default text2music); edits also price encoding the source and any extra weights",
    )
    p.add_argument(
        "--tier",
        choices=["anonymous", "free", "pro", "local"],
        help="whose limits apply (default: STUDIO_TIER, else free on ZeroGPU, local elsewhere)",
    )
    p.add_argument(
        "--device",
        choices=[d.value for d in DeviceClass],
        help="device class to price (default: zerogpu for ZeroGPU tiers, else this machine's, as the studio does)",
    )
    p.add_argument("--device-name", help="use calibration measured on this device (STUDIO_STATE_DIR)")
    p.add_argument(
        "--slice-factor",
        type=_positive_float,
        help="ZeroGPU scheduling multiplier (1.5 on the Blackwell large slice; default: detected)",
    )
    p.add_argument("--quota-left", type=float, help="seconds left of today's quota, if known")
    p.add_argument(
        "--memory-gb", type=_positive_float,
        help="accelerator memory to budget against (default: this GPU's, 70 on ZeroGPU; none on a CPU)",
    )
    p.add_argument("--fit", action="store_true", help="lighten the request until it fits and say how")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except StudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    from backends.plan_input import PlanInput
    from studio.budget.estimate import cost_model
    from studio.request.pricing import budget_context, decide

    try:
        from studio.registry import all_specs, get_spec
    except ImportError as exc:  # pragma: no cover - until the registry lands
        raise StudioError(f"The backend registry is not available ({exc}).") from exc
    try:
        spec = get_spec(args.backend)
    except LookupError:
        names = ", ".join(s.name for s in all_specs())
        raise StudioError(f"Unknown backend {args.backend!r}; pick one of: {names}.") from None
    caps = spec.capabilities
    if not caps.min_duration_s <= args.duration <= caps.max_duration_s:
        raise StudioError(
            f"`--duration` must be between {caps.min_duration_s:g} and {caps.max_duration_s:g} s for "
            f"{caps.display_name}, got {args.duration:g}."
        )
    if args.takes > caps.max_takes:
        raise StudioError(f"`--takes` must be <= {caps.max_takes} for {caps.display_name}, got {args.takes}.")
    # The same prices the studio's own requests get (the API's /plan, the UI's estimate): this machine's
    # device, calibration, weights' size and memory unless a flag names another.
    ctx = budget_context(
        args.tier, args.quota_left, device=DeviceClass(args.device) if args.device else None,
        device_name=args.device_name, factor=args.slice_factor, memory_gb=args.memory_gb,
    )
    uses_steps = any(c.per_step_per_audio_second > 0 for c in cost_model(caps, ctx.device).stages.values())
    steps = args.steps if args.steps is not None else (caps.default_steps if uses_steps else None)
    variant = task_weights(caps.name, args.task)
    if variant is not None and uses_steps:
        # Weights a task swaps in bring their own step count; guided ones run the DiT twice a step.
        steps = args.steps or int(variant.option_defaults.get("steps", steps or 1))
    req = PlanInput(
        duration_s=args.duration, steps=steps, takes=args.takes, planner=args.planner, task=args.task,
        extra_weights=variant.name if variant is not None else None,
        passes=2 if variant is not None and variant.guided else 1,
    )
    result = decide(caps, req, ctx, fit=args.fit, others=[s.capabilities for s in all_specs()])
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(_text(result))
    return 0 if result.ok else 1


def _memory_line(result: Any) -> str:
    mem = result.memory
    if mem is None:
        return "  memory     not checked (no accelerator memory known here; pass --memory-gb)"
    verdict = "fits" if mem.fits else "does not fit"
    return f"  memory     {mem.estimate.summary()}; {verdict} in {mem.available_gb:.1f} GB"


def _text(result: Any) -> str:
    r = result.reservation
    est = r.estimate
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in est.stages.items())
    calibrated = ", ".join(est.calibrated) if est.calibrated else "none (seed figures)"
    lines = [
        f"{result.caps.display_name} on {est.device.value}, {r.limits.tier.label} tier",
        f"  estimate   {est.total_s:.1f} s  ({stages})",
        f"  margin     x{est.margin:.2f}  calibrated stages: {calibrated}",
        _memory_line(result),
    ]
    if r.zerogpu:
        lines.append(
            f"  reserve    {r.needed_s} s needed; spaces.GPU(duration={r.declared_s}) x{r.slice_factor:g} "
            f"slice factor = {r.quota_s} s of quota"
        )
    else:
        lines.append(f"  reserve    {r.needed_s} s needed")
    if r.cap_s is None:
        lines.append("  cap        none")
    else:
        daily = f" (daily quota {r.limits.daily_s:.0f} s)" if r.limits.daily_s else ""
        lines.append(f"  cap        {r.cap_s:.0f} s per request{daily}")
    lines.append(f"  decision   {result.decision.value}")
    lines.append(f"  {result.message}")
    if result.alternatives:
        lines.append("  alternatives that fit:")
        lines += [f"    - {a.text} (reserve {a.reserve_s} s)" for a in result.alternatives]
    return "\n".join(lines)
