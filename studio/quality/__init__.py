"""Take checks: what the studio hears in each take before the visitor does (lyrics heard per line,
tempo, key, peaks, silence, ending, duration), and the ranking that puts the best take first.

Public API: ``check_take`` with ``Intent`` -> ``TakeChecks``; ``check_takes``; ``best_first``."""

from __future__ import annotations

from studio.quality.checks import Intent, check_take
from studio.quality.finish import best_first, check_takes
from studio.quality.report import LineCheck, LyricCheck, Measure, TakeChecks, Word

__all__ = ["Intent", "LineCheck", "LyricCheck", "Measure", "TakeChecks", "Word", "best_first", "check_take",
           "check_takes"]
