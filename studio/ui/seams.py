"""The two calls into parts built elsewhere: the lyric formatter and the GPU budget guard.

Everything in the UI and API that previews formatting or plans GPU time goes through here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from studio.ground.errors import StudioError
from studio.request.checks import format_preview as formatted
from studio.request.prepare import plan as priced
from studio.song import SongRequest


@dataclass
class FormatView:
    lyrics: str
    style: str
    fixes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    estimated_seconds: float | None = None
    note: str = ""

    @property
    def ok(self) -> bool:
        return not self.errors


def _located(items: Any) -> list[str]:
    """The formatter's notes print as ``line N: message`` already."""
    return [str(item) for item in items or []]


def format_preview(request: SongRequest) -> FormatView:
    """The exact lyrics and style the chosen model will receive, with the formatter's notes."""
    result = formatted(request)
    return FormatView(
        lyrics=result.lyrics,
        style=result.style,
        fixes=_located(result.fixes),
        errors=_located(result.errors),
        estimated_seconds=getattr(result, "estimated_seconds", None),
    )


def plan(request: SongRequest, tier: str | None = None) -> dict[str, Any]:
    """The budget guard's report (estimate seconds, cap, decision, alternatives) as plain data."""
    return priced(request, tier).to_dict()


def clock(seconds: float) -> str:
    """Seconds as a visitor reads a duration: 5003 -> "1:23:23", 205 -> "3:25", 14.7 -> "0:15"."""
    whole = max(0, round(float(seconds)))
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def estimate_line(request: SongRequest, tier: str | None = None) -> str:
    """One short line for beside the Generate button, for the visitor's ``tier``: how long, in m:ss, where
    (a CPU is named: its minutes are not GPU time) and what the figure rests on (measured here, or a guess
    from published speeds, scaled to the weights' size when they are not the published model's); the
    guard's sentence when it changes or refuses."""
    try:
        report = plan(request, tier)
    except StudioError as exc:
        return f"⏱ {exc}"
    expected = report.get("expected") or {}
    total = expected.get("total_s")
    where = "on this CPU" if str(report.get("device", "")).lower() == "cpu" else "of GPU time"
    parts = [
        f"about {clock(total)} {where}" if total is not None else f"no estimate yet {where}",
        f"your cap {clock(report['cap_s'])}" if report.get("cap_s") else "",
    ]
    checking = lyric_check_s(request, report.get("request") or {})
    if checking:
        parts.append(f"then about {clock(checking)} to check the lyrics")
    line = "⏱ " + " · ".join(p for p in parts if p)
    line += f" ({expected['basis']})" if expected.get("basis") and total is not None else ""
    line += f" — {expected['basis']}" if expected.get("basis") and total is None else ""
    return f"{line} — {report['message']}" if report.get("message") and report.get("decision") != "run" else line


def lyric_check_s(request: SongRequest, planned: dict[str, Any]) -> float | None:
    """The wait the lyric check adds after the render (it runs after the GPU window, so it is time, not
    quota), or None where it will not run: turned off, or nothing to hear."""
    from studio.quality.finish import lyric_check_on

    if not lyric_check_on() or request.instrumental or not request.lyrics.strip():
        return None
    from studio.quality.asr import is_loaded
    from studio.quality.asr_cost import estimate_s

    seconds = planned.get("duration_s") or request.duration
    if not seconds:
        return None
    return estimate_s(float(seconds), int(planned.get("takes") or request.takes), loaded=is_loaded())
