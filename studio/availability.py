"""Whether a backend can run in this process, remembered: a tool below the registry, so that
``studio.weights`` can ask it without importing the registry above it."""

from __future__ import annotations

import os
import threading

from backends.base import Availability, BackendSpec

# Availability answers are kept per process: checking them reads package metadata and probes folders,
# which was most of the time /plan took, and it is asked on every plan, preview and listing. An
# answer is reused only while the settings it can depend on are unchanged (the key holds every
# STUDIO_*/SPACES_*/HF_* variable, so pointing a weights variable elsewhere re-checks) and while the
# spec still has the same check (a test that swaps it gets its own answer).
_ENV_PREFIXES = ("STUDIO_", "SPACES_", "HF_")
_AVAILABILITY: dict[tuple, Availability] = {}
_AVAILABILITY_LOCK = threading.Lock()


def _settings_key() -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(_ENV_PREFIXES)))


def availability(spec: BackendSpec) -> Availability:
    """``spec.availability()``, remembered for this process while the relevant settings stay the same."""
    key = (spec.name, spec.availability, _settings_key())
    with _AVAILABILITY_LOCK:
        known = _AVAILABILITY.get(key)
    if known is not None:
        return known
    state = spec.availability()
    with _AVAILABILITY_LOCK:
        if len(_AVAILABILITY) > 64:  # settings keep changing (tests): start over rather than grow
            _AVAILABILITY.clear()
        _AVAILABILITY[key] = state
    return state


def refresh_availability() -> None:
    """Forget every remembered answer, e.g. after installing a package into the running process."""
    with _AVAILABILITY_LOCK:
        _AVAILABILITY.clear()
