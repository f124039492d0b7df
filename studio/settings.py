"""Every ``STUDIO_*`` setting, declared once: its type, default, parser, the sentence for a bad value,
and its documentation (after vLLM's ``vllm/envs.py``, which keeps every environment variable in one
table with its type, default and parser).

Nothing else in the studio reads ``os.environ`` for a studio setting (tests/test_settings.py greps the
tree for it); README's settings table is written from this table by ``scripts/settings_table.py``.

Values are read at call time, never frozen at import: tests and a maintainer change a variable and the
next request sees it. Most accessors take an optional ``env`` mapping (default ``os.environ``) so a
caller can ask what a given environment would mean.

A setting whose default depends on where the studio runs (a shared Space, ZeroGPU) has ``default``
None: ``get`` answers None when it is unset and the caller that knows the context picks the value;
``default_doc`` says what that is.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from studio.ground.errors import StudioError

T = TypeVar("T")
PREFIX = "STUDIO_"


@dataclass(frozen=True)
class Setting(Generic[T]):
    name: str
    kind: str  # how a value is written, for README's table
    doc: str
    parse: Callable[[str, str], T]
    default: T | None = None
    default_doc: str = ""  # README's default column when ``default`` is None or needs words
    # Blank ("STUDIO_X=") reads as unset for most settings; for the ones that can be turned off it is a
    # value, "off", as it has always been (``STUDIO_RATE_LIMIT=`` means no limit, not the Space default).
    blank_is_value: bool = False
    group: str = "Studio"

    def text(self, env: Mapping[str, str] | None = None) -> str | None:
        """The value as written, or None when unset."""
        raw = (os.environ if env is None else env).get(self.name)
        if raw is None or (not raw.strip() and not self.blank_is_value):
            return None
        return raw

    def is_set(self, env: Mapping[str, str] | None = None) -> bool:
        return self.text(env) is not None

    def get(self, env: Mapping[str, str] | None = None) -> T | None:
        """The parsed value; ``default`` when unset. A bad value raises the setting's sentence."""
        raw = self.text(env)
        return self.default if raw is None else self.parse(self.name, raw)

    @property
    def default_text(self) -> str:
        if self.default_doc:
            return self.default_doc
        return "unset" if self.default is None else f"`{self.default}`"


# --------------------------------------------------------------------------------------------- parsers
_ON = ("1", "true", "yes", "on")
_OFF = ("0", "false", "no", "off")
_NONE = ("", "off", "none", "0", "no", "false")


def parse_text(name: str, text: str) -> str:
    return text.strip()


def parse_lower(name: str, text: str) -> str:
    # STUDIO_DEVICE: which devices exist is only known when a model loads (studio.devices checks it there).
    return text.strip().lower()


def parse_choice(*choices: str) -> Callable[[str, str], str]:
    def parse(name: str, text: str) -> str:
        value = text.strip().lower()
        if value not in choices:
            raise StudioError(f"{name} must be one of {', '.join(choices)}, got {text[:40]!r}; fix the setting.")
        return value

    return parse


def parse_flag(name: str, text: str) -> bool:
    value = text.strip().lower()
    if value in _ON:
        return True
    if value in _OFF:
        return False
    # Before the table each flag guessed: an unknown word was "on" for one and "off" for another.
    raise StudioError(f"{name} must be on or off (1/0, true/false, yes/no), got {text[:40]!r}; fix the setting.")


def parse_on_off_auto(name: str, text: str) -> str:
    value = text.strip().lower()
    if value == "auto":
        return "auto"
    try:
        return "on" if parse_flag(name, value) else "off"
    except StudioError:
        raise StudioError(f"{name} must be on, off or auto, got {text[:40]!r}; unset it for auto.") from None


def parse_count(unit: str, example: int, minimum: int = 1) -> Callable[[str, str], int]:
    """A whole number of ``unit``, at least ``minimum``."""

    def parse(name: str, text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise StudioError(
                f"{name} must be a whole number of {unit} >= {minimum} (e.g. {example}), got {text[:40]!r}; "
                "fix the setting."
            )
        return value

    return parse


def parse_proxy_hops(name: str, text: str) -> int:
    try:
        hops = int(text.strip())
    except ValueError:
        hops = -1
    if hops < 0:
        raise StudioError(
            f"{name} must be the number of proxies in front of the studio (0, 1, 2, ...), got "
            f"{text[:40]!r}; a Space has 1, a server nobody proxies 0."
        )
    return hops


def parse_count_or_off(unit: str) -> Callable[[str, str], int | None]:
    def parse(name: str, text: str) -> int | None:
        value = text.strip().lower()
        if value in _NONE:
            return None
        try:
            cap = int(value)
        except ValueError:
            cap = 0
        if cap < 1:
            raise StudioError(
                f"{name} must be a whole number of {unit} >= 1 or `off`, got {text[:40]!r}; fix the setting."
            )
        return cap

    return parse


def parse_size(name: str, text: str) -> int:
    """'100mb' / '2 GB' / '500000' -> bytes (the same spelling gradio's max_file_size takes)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmg]?i?b?)\s*", text.lower())
    if not match:
        raise StudioError(f"{name} must look like '100mb' or '2gb', got {text!r}.")
    unit = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[match.group(2)[:1] or ""]
    return int(float(match.group(1)) * unit)


def parse_size_text(name: str, text: str) -> str:
    """A size as written ("100mb"), once it is known to read: gradio takes the spelling itself."""
    parse_size(name, text)
    return text.strip()


def parse_size_or_off(name: str, text: str) -> int | None:
    if text.strip().lower() in _NONE:
        return None
    try:
        return parse_size(name, text)
    except StudioError:
        raise StudioError(
            f"{name} must look like '1gb' or '500mb' (or 'off'), got {text[:40]!r}; fix the setting."
        ) from None


_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def parse_seconds(name: str, raw: str) -> float | None:
    """``"90"``, ``"90s"``, ``"2m"``, ``"1h"`` -> seconds; empty or ``0`` -> None (no limit)."""
    text = raw.strip().lower()
    if text in ("", "0", "none", "off"):
        return None
    unit = _UNITS.get(text[-1])
    number = text[:-1] if unit is not None else text
    try:
        value = float(number) * (unit or 1.0)
    except ValueError:
        raise StudioError(f"{name} must be a number of seconds like 90, 90s or 2m; got {raw!r}.") from None
    if value < 0:
        raise StudioError(f"{name} must be positive; got {raw!r}.")
    return value


def parse_factor(name: str, text: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise StudioError(f"{name} must be a number like 1.5; got {text!r}.")
    return value


@dataclass(frozen=True)
class Rate:
    """``calls`` per ``per_s`` seconds (a token bucket's size and refill, studio.ratelimit)."""

    calls: int
    per_s: float

    @property
    def refill_per_s(self) -> float:
        return self.calls / self.per_s

    def describe(self) -> str:
        if self.per_s % 3600 == 0:
            span = f"{self.per_s / 3600:g} hour" + ("s" if self.per_s != 3600 else "")
        elif self.per_s % 60 == 0:
            span = f"{self.per_s / 60:g} minute" + ("s" if self.per_s != 60 else "")
        else:
            span = f"{self.per_s:g} s"
        return f"{self.calls} every {span}"


def parse_rate(name: str, text: str) -> Rate | None:
    """``"10/600"`` -> Rate(10, 600); ``"off"``, ``"0"`` or empty -> None (no limit)."""
    value = text.strip().lower()
    if value in _NONE:
        return None
    calls, sep, seconds = value.partition("/")
    try:
        rate = Rate(int(calls), float(seconds)) if sep else None
    except ValueError:
        rate = None
    if rate is None or rate.calls < 1 or not (math.isfinite(rate.per_s) and rate.per_s > 0):
        raise StudioError(
            f"{name} must look like `10/600` (calls per seconds) or `off`, got {text!r}; fix the setting."
        )
    return rate


def parse_days_or_off(name: str, text: str) -> float | None:
    value = text.strip().lower()
    # "0" is not "off" here: zero days would read as "remove at once", so it is refused with the rest.
    if value in ("", "off", "none", "no", "false", "never"):
        return None
    try:
        days = float(value)
    except ValueError:
        days = math.nan
    if not (math.isfinite(days) and days > 0):
        raise StudioError(
            f"{name} must be a number of days > 0 (e.g. 30) or `off`, got {text[:40]!r}; fix the setting."
        )
    return days


@dataclass(frozen=True)
class Window:
    """At most ``most`` (files, or bytes) per sliding window of ``per_s`` seconds (studio.ui.upload_caps)."""

    most: int
    per_s: float


def parse_window(example: str, parse_most: Callable[[str, str], int]) -> Callable[[str, str], Window | None]:
    """``"30/3600"`` (or ``"1gb/3600"`` with a size parser) -> Window; ``off`` -> None."""

    def parse(name: str, text: str) -> Window | None:
        value = text.strip().lower()
        if value in _NONE:
            return None
        most, sep, seconds = value.partition("/")
        try:
            window = Window(parse_most(name, most), float(seconds)) if sep else None
        except (ValueError, StudioError):
            window = None
        if window is None or window.most < 1 or not (math.isfinite(window.per_s) and window.per_s > 0):
            raise StudioError(
                f"{name} must look like `{example}` (at most that much per that many seconds) or `off`, got "
                f"{text[:40]!r}; fix the setting."
            )
        return window

    return parse


def _whole(name: str, text: str) -> int:
    return int(text)


# --------------------------------------------------------------------------------------------- the table
TABLE: dict[str, Setting[Any]] = {}


def _declare(setting: Setting[T]) -> Setting[T]:
    if not setting.name.startswith(PREFIX) or setting.name in TABLE:
        raise AssertionError(f"{setting.name} is declared twice or lacks the {PREFIX} prefix")
    TABLE[setting.name] = setting
    return setting


_HUB = "its Hub id (see Weights)"


def _weights(name: str, what: str, default_doc: str, group: str = "Weights") -> Setting[str]:
    return _declare(Setting(
        name, "Hub id or folder", f"Where {what} come from.",
        parse_text, default_doc=default_doc, group=group,
    ))


# Weights. Their default Hub ids are declared by what owns them (backends/*/spec.py, the stems catalog,
# the lyric check), so README's Weights, Stems and Checking sections list them.
ACESTEP_WEIGHTS = _weights("STUDIO_ACESTEP_WEIGHTS", "ACE-Step's turbo weights", _HUB)
ACESTEP_BASE_WEIGHTS = _weights(
    "STUDIO_ACESTEP_BASE_WEIGHTS", "ACE-Step's base weights (extract, lego, complete)",
    _HUB,
)
ACESTEP_PLANNER_WEIGHTS = _weights(
    "STUDIO_ACESTEP_PLANNER_WEIGHTS", "the ACE-Step planner's (5 Hz LM) weights", "the size the request asks for",
)
ACESTEP_CODEC_WEIGHTS = _weights(
    "STUDIO_ACESTEP_CODEC_WEIGHTS", "the audio tokenizer pair for weights without one (a native ACE-Step checkpoint)",
    "the known native twin of the DiT",
)
LEVO2_WEIGHTS = _weights("STUDIO_LEVO2_WEIGHTS", "LeVo 2's model weights", _HUB)
LEVO2_RUNTIME = _weights("STUDIO_LEVO2_RUNTIME", "LeVo 2's runtime files", _HUB)
LEVO2_TOKENIZER = _declare(Setting(
    "STUDIO_LEVO2_TOKENIZER", "folder",
    "A folder with the Qwen2 tokenizer files LeVo 2 counts lyric tokens with.",
    parse_text, default_doc="the runtime folder's copy", group="Weights",
))
HEARTMULA_WEIGHTS = _weights(
    "STUDIO_HEARTMULA_WEIGHTS", "HeartMuLa's weights (a folder laid out like upstream's, or an LM Hub id)",
    "the official Hub repos",
)
STEMS_WEIGHTS = _weights("STUDIO_STEMS_WEIGHTS", "the 2- and 4-stem Demucs weights", "its Hub id (see Stems)")
STEMS6_WEIGHTS = _weights("STUDIO_STEMS6_WEIGHTS", "the 6-stem Demucs weights", "its Hub id (see Stems)")
MAX_LORA_MB = _declare(Setting(
    "STUDIO_MAX_LORA_MB", "whole number", "The largest LoRA file the studio loads, in MB.",
    parse_count("MB", 512), default=512, group="Weights",
))
MAX_LORA_RANK = _declare(Setting(
    "STUDIO_MAX_LORA_RANK", "whole number", "The highest LoRA rank the studio loads.",
    parse_count("ranks", 256), default=256, group="Weights",
))

# Where it runs.
DEVICE = _declare(Setting(
    "STUDIO_DEVICE", "cuda, cuda:N, mps or cpu",
    "Forces the device; one that is not here is an error, not a silent CPU run.",
    parse_lower, default_doc="detect", group="Where it runs",
))
STATE_DIR = _declare(Setting(
    "STUDIO_STATE_DIR", "folder", "State that survives a restart: GPU-time calibration, the ACE-Step tokenizer pair.",
    parse_text, default_doc="/data/song-studio on a Space with storage, else ~/.cache/song-studio",
    group="Where it runs",
))
GPU_CONCURRENCY = _declare(Setting(
    "STUDIO_GPU_CONCURRENCY", "whole number", "How many generations run at once.",
    parse_count("generations", 4), default_doc="4 on ZeroGPU, 1 elsewhere", group="Where it runs",
))
QUEUE_SIZE = _declare(Setting(
    "STUDIO_QUEUE_SIZE", "whole number", "How many requests may wait for the GPU.",
    parse_count("waiting requests", 20), default_doc="20 on ZeroGPU, 64 elsewhere", group="Where it runs",
))
# gradio keeps a copy of every component's config for each browser tab or API client it has seen
# (about 0.5 MB for this UI) and drops the least recently used only past this many; its own default,
# 10 000, lets a busy Space grow by ~5 GB. Past the cap, a tab idle for that long starts from the
# defaults again (its Library and settings live elsewhere and are kept).
SESSION_CAPACITY = _declare(Setting(
    "STUDIO_SESSION_CAPACITY", "whole number", "How many visitor sessions gradio keeps in memory.",
    parse_count("sessions", 1000), default=1000, group="Where it runs",
))
MCP = _declare(Setting(
    "STUDIO_MCP", "on/off", "The MCP server at /gradio_api/mcp/ (the named API endpoints as tools).",
    parse_flag, default=True, default_doc="on", group="Where it runs",
))

# Library.
LIBRARY_DIR = _declare(Setting(
    "STUDIO_LIBRARY_DIR", "folder", "The song library's folder.",
    parse_text, default_doc="/data/song-studio on a Space with storage, else ~/.song-studio/library", group="Library",
))
LIBRARY_DB_DIR = _declare(Setting(
    "STUDIO_LIBRARY_DB_DIR", "folder", "Where the library's SQLite database lives (never on a bucket mount).",
    parse_text, default_doc="beside the audio; a local cache folder for a library on /data", group="Library",
))
MULTI_USER = _declare(Setting(
    "STUDIO_MULTI_USER", "on/off", "Tell visitors apart (each gets their own library and limits).",
    parse_flag, default_doc="on for a Space (`SPACE_ID` set), off elsewhere", group="Library",
))
BROWSER_SECRET = _declare(Setting(
    "STUDIO_BROWSER_SECRET", "text",
    "Encrypts the visitor key kept in the browser; set it as a Space secret so keys survive restarts.",
    parse_text, default_doc="a new one each start", group="Library",
))

# Limits of a shared studio.
RATE_LIMIT = _declare(Setting(
    "STUDIO_RATE_LIMIT", "N/S or off", "GPU jobs one visitor may start: N every S seconds.",
    parse_rate, default_doc="`10/600` on a shared studio, off elsewhere", blank_is_value=True, group="Limits",
))
RATE_LIMIT_PER_ADDRESS = _declare(Setting(
    "STUDIO_RATE_LIMIT_PER_ADDRESS", "N/S or off", "GPU jobs one caller address may start: N every S seconds.",
    parse_rate, default_doc="off", blank_is_value=True, group="Limits",
))
QUEUED_PER_VISITOR = _declare(Setting(
    "STUDIO_QUEUED_PER_VISITOR", "whole number or off", "GPU jobs one visitor may hold in the queue at once.",
    parse_count_or_off("jobs"), default_doc="2 on a shared studio, off elsewhere", blank_is_value=True,
    group="Limits",
))
QUEUED_PER_ADDRESS = _declare(Setting(
    "STUDIO_QUEUED_PER_ADDRESS", "whole number or off", "GPU jobs one caller address may hold in the queue at once.",
    parse_count_or_off("jobs"), default_doc="6 on a shared studio, off elsewhere", blank_is_value=True,
    group="Limits",
))
TRUSTED_PROXY_HOPS = _declare(Setting(
    "STUDIO_TRUSTED_PROXY_HOPS", "whole number",
    "How many proxies in front of the studio append to X-Forwarded-For (a caller's address for the limits).",
    parse_proxy_hops, default_doc="1 on a Space, 0 elsewhere", group="Limits",
))
QUOTA_PER_VISITOR = _declare(Setting(
    "STUDIO_QUOTA_PER_VISITOR", "size or off", "What one visitor's songs may take on disk.",
    parse_size_or_off, default_doc="`1gb` on a shared studio, off elsewhere", blank_is_value=True, group="Limits",
))
QUOTA_TOTAL = _declare(Setting(
    "STUDIO_QUOTA_TOTAL", "size or off", "What the whole library may take on disk.",
    parse_size_or_off, default_doc="`40gb` on a shared studio, off elsewhere", blank_is_value=True, group="Limits",
))
SESSIONS_PER_ADDRESS = _declare(Setting(
    "STUDIO_SESSIONS_PER_ADDRESS", "whole number or off",
    "UI sessions one caller address may hold in the session store (a flood cannot evict other visitors).",
    parse_count_or_off("sessions"), default_doc="a tenth of STUDIO_SESSION_CAPACITY on a shared studio, off elsewhere",
    blank_is_value=True, group="Limits",
))
RETENTION_DAYS = _declare(Setting(
    "STUDIO_RETENTION_DAYS", "days or off",
    "Songs of a visitor key not seen for this many days are removed with their files (swept at start and every 6 h).",
    parse_days_or_off, default_doc="`30` on a shared studio, off elsewhere", blank_is_value=True, group="Limits",
))
UPLOADS_PER_VISITOR = _declare(Setting(
    "STUDIO_UPLOADS_PER_VISITOR", "N/S or off", "Files one caller address may upload: N over a sliding S seconds.",
    parse_window("30/3600", _whole), default_doc="`30/3600` on a shared studio, off elsewhere", blank_is_value=True,
    group="Limits",
))
UPLOAD_BYTES_PER_VISITOR = _declare(Setting(
    "STUDIO_UPLOAD_BYTES_PER_VISITOR", "size/S or off",
    "Bytes one caller address may upload over a sliding S seconds (sizes as STUDIO_MAX_UPLOAD).",
    parse_window("1gb/3600", parse_size), default_doc="`1gb/3600` on a shared studio, off elsewhere",
    blank_is_value=True, group="Limits",
))
MAX_UPLOAD = _declare(Setting(
    "STUDIO_MAX_UPLOAD", "size", "The largest file a visitor may upload.",
    parse_size_text, default="100mb", group="Limits",
))
DECODE_SLOTS = _declare(Setting(
    "STUDIO_DECODE_SLOTS", "whole number", "How many uploads decode at once (read when the studio starts).",
    parse_count("uploads", 1), default=1, group="Limits",
))

# GPU time.
TIER = _declare(Setting(
    "STUDIO_TIER", "anonymous, free, pro or local", "Whose GPU-time limits apply, for every visitor.",
    parse_choice("anonymous", "free", "pro", "local"),
    default_doc="read from each visitor on ZeroGPU; local elsewhere", group="GPU time",
))
TIME_LIMIT = _declare(Setting(
    "STUDIO_TIME_LIMIT", "seconds (90, 90s, 2m, 1h)", "A GPU-time limit per request off ZeroGPU.",
    parse_seconds, default_doc="no limit", group="GPU time",
))
ZEROGPU_HARD_CAP = _declare(Setting(
    "STUDIO_ZEROGPU_HARD_CAP", "seconds or off", "Every ZeroGPU per-call cap is held under this.",
    parse_seconds, default=300.0, default_doc="300 s", blank_is_value=True, group="GPU time",
))
ZEROGPU_SLICE_FACTOR = _declare(Setting(
    "STUDIO_ZEROGPU_SLICE_FACTOR", "number",
    "What `spaces` multiplies a declared duration by when scheduling (1.5 on the Blackwell slice).",
    parse_factor, default_doc="read from the GPU on ZeroGPU, 1 elsewhere", group="GPU time",
))
# The per-tier figures (studio/budget/tiers.py): per-call caps are undocumented, so these are the
# figures to plan for; the daily quotas are Hugging Face's published ones (DESIGN.md, ZeroGPU facts).
_ZEROGPU = {"ANONYMOUS": (120.0, 120.0), "FREE": (120.0, 300.0), "PRO": (300.0, 2400.0)}
ZEROGPU_CAP = {
    tier.lower(): _declare(Setting(
        f"STUDIO_ZEROGPU_CAP_{tier}", "seconds or off", f"The longest GPU call on the {tier.lower()} tier.",
        parse_seconds, default=cap, default_doc=f"{cap:.0f} s", blank_is_value=True, group="GPU time",
    ))
    for tier, (cap, _) in _ZEROGPU.items()
}
ZEROGPU_QUOTA = {
    tier.lower(): _declare(Setting(
        f"STUDIO_ZEROGPU_QUOTA_{tier}", "seconds or off", f"The daily GPU time on the {tier.lower()} tier.",
        parse_seconds, default=quota, default_doc=f"{quota:.0f} s", blank_is_value=True, group="GPU time",
    ))
    for tier, (_, quota) in _ZEROGPU.items()
}

# Checks.
ASR_MODEL = _weights(
    "STUDIO_ASR_MODEL", "the lyric check's Whisper weights", "its Hub id (see Checking takes)", group="Checks",
)
LYRIC_CHECK = _declare(Setting(
    "STUDIO_LYRIC_CHECK", "on, off or auto",
    "Transcribe each take and compare it with the lyrics (generate, UI, API); auto: on where Whisper runs on "
    "this process's own GPU (CUDA, MPS) and its weights can be had.",
    parse_on_off_auto, default="auto", group="Checks",
))

# The test suite and the benchmarks.
SHARED = _declare(Setting(
    "STUDIO_SHARED", "folder", "The shared folder holding the golden fixtures (tests, benchmarks).",
    parse_text, default_doc="`../shared` beside the checkout", group="Tests",
))
REAL_WEIGHTS = _declare(Setting(
    "STUDIO_REAL_WEIGHTS", "on/off", "Run the tests marked `real_weights` (they need the downloaded checkpoints).",
    parse_flag, default=False, default_doc="off", group="Tests",
))

SHOTS = _declare(Setting(
    "STUDIO_SHOTS", "folder", "Where the browser tests save their screenshots.",
    parse_text, default_doc="the test's temporary folder", group="Tests",
))


def lookup(name: str) -> Setting[Any]:
    """The declared setting called ``name``. A ``STUDIO_`` name that is not declared is a mistake in the
    code; a backend registered from outside the studio (a plug-in, a test) may read a variable of its
    own, which is plain text."""
    if name in TABLE:
        return TABLE[name]
    if name.startswith(PREFIX):
        raise StudioError(f"{name} is not a studio setting; declare it in studio/settings.py.")
    return Setting(name, "text", "", parse_text)


# --------------------------------------------------------------------------------------------- contexts
def on_space(env: Mapping[str, str] | None = None) -> bool:
    """Running as a Hugging Face Space (the platform sets ``SPACE_ID``)."""
    return bool((os.environ if env is None else env).get("SPACE_ID"))


def shared_studio(env: Mapping[str, str] | None = None) -> bool:
    """Visitors are told apart: ``STUDIO_MULTI_USER`` when set, else on a Space."""
    flag = MULTI_USER.get(env)
    return on_space(env) if flag is None else flag
