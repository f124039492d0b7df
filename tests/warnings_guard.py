"""A deprecated call made by our own code fails the test that makes it (issue 15, item 8).

pyproject's ``filterwarnings`` turns DeprecationWarning/FutureWarning into errors when the warning is
attributed to a ``studio``/``backends`` module, but Python attributes a warning to the frame ``stacklevel``
names, and library deprecations often land elsewhere: transformers' ``@deprecate_kwarg`` warns with
``stacklevel=2``, which names ``torch.nn.modules.module`` (nn.Module's ``_call_impl``), not the code that
passed ``past_key_values``. So ``warnings.warn`` is also wrapped: a deprecation whose caller, past the
deprecated function itself and any call plumbing, is one of our modules is raised as an error.
A deprecation inside a library's own code (e.g. torch's weight_norm used by diffusers' VAE) is left alone.
"""

from __future__ import annotations

import sys
import warnings
from types import FrameType

import pytest

OWN_PACKAGES = ("studio", "backends")
# Frames that sit between a deprecated function and its caller without being either.
PLUMBING = (
    "torch.nn.modules.module",
    "torch.utils._contextlib",
    "transformers.utils.deprecation",
    "transformers.utils.generic",
    "transformers.utils.output_capturing",
    "functools",
    "contextlib",
    "typing_extensions",
)
CATEGORIES = (DeprecationWarning, FutureWarning)


def _module(frame: FrameType) -> str:
    return frame.f_globals.get("__name__", "")


def made_by_own_code(warning_frame: FrameType | None) -> bool:
    """Whether the call that led to a warning came from our code. ``warning_frame`` is the function that
    called ``warnings.warn`` (the deprecated one, or its decorator); its caller decides."""
    frame = warning_frame.f_back if warning_frame is not None else None
    while frame is not None and _module(frame).startswith(PLUMBING):
        frame = frame.f_back
    return frame is not None and _module(frame).split(".")[0] in OWN_PACKAGES


def _category(message: object, category: type[Warning] | None) -> type[Warning]:
    if isinstance(message, Warning):
        return type(message)
    return category or UserWarning


def guarded(real):
    def warn(message, category=None, stacklevel=1, *args, **kwargs):
        kind = _category(message, category)
        if issubclass(kind, CATEGORIES) and made_by_own_code(sys._getframe(1)):
            raise message if isinstance(message, Warning) else kind(message)
        return real(message, category, stacklevel + 1, *args, **kwargs)

    warn.__wrapped__ = real
    return warn


@pytest.fixture(scope="session", autouse=True)
def own_deprecations_are_errors():
    real = warnings.warn
    warnings.warn = guarded(real)
    try:
        yield
    finally:
        warnings.warn = real
