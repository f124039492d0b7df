"""Naming LoRAs: ``ID_OR_FILE[:SCALE]`` references, their limits, and the error every check raises."""

from __future__ import annotations

import logging
import math
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from studio import settings
from studio.ground.errors import StudioError

log = logging.getLogger(__name__)

# A file over this is refused before its header is read: a LoRA of the XL DiT at rank 64 on every

MAX_MB_ENV = settings.MAX_LORA_MB.name
DEFAULT_MAX_MB = settings.MAX_LORA_MB.default
MAX_RANK_ENV = settings.MAX_LORA_RANK.name
DEFAULT_MAX_RANK = settings.MAX_LORA_RANK.default
MAX_LORAS = 4
MIN_SCALE, MAX_SCALE = 0.0, 2.0
SOURCE_MAX = 1000
class LoraError(StudioError):
    """A LoRA reference or file the studio refuses; the message says what to change."""

    spends_no_call = True  # refused before any model work: the rate limit is not charged (studio.ratelimit)

# --------------------------------------------------------------------------------------------- references


class LoraRef(BaseModel):
    """One LoRA of a request: where it is and how strongly it applies."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(
        min_length=1, max_length=SOURCE_MAX,
        description="A .safetensors file, a folder holding one, or a Hub id (owner/name[/file.safetensors]).",
    )
    scale: float = Field(1.0, ge=MIN_SCALE, le=MAX_SCALE, description="0 = off, 1 = as trained.")

    @field_validator("source")
    @classmethod
    def _strip(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("a LoRA needs a source: a .safetensors file, a folder or a Hub id (owner/name)")
        return value

    def __str__(self) -> str:
        return format_lora_arg(self)


def parse_lora_arg(text: str) -> LoraRef:
    """``SOURCE[:SCALE]``: the scale is the text after the last ``:`` when that text is a number.

    Hub ids never contain ``:``, and a Windows path's drive colon is followed by ``\\``, so
    ``C:\\loras\\x.safetensors`` is a path with scale 1 and ``C:\\loras\\x.safetensors:0.5`` has
    scale 0.5. A path that itself ends in ``:<number>`` can be given with an explicit ``:1``."""
    text = (text or "").strip()
    source, sep, tail = text.rpartition(":")
    scale = 1.0
    if sep and _is_number(tail):
        scale = float(tail)
    else:
        source = text
    if not source:
        raise LoraError(f"LoRA {text!r} names no file; give a .safetensors path or a Hub id, e.g. owner/name:0.8.")
    if not math.isfinite(scale) or not MIN_SCALE <= scale <= MAX_SCALE:
        raise LoraError(
            f"LoRA scale must be between {MIN_SCALE:g} and {MAX_SCALE:g}, got {tail} in {text!r}; "
            "1 applies it as trained."
        )
    if len(source) > SOURCE_MAX:
        raise LoraError(f"LoRA source is {len(source)} characters long (at most {SOURCE_MAX}); shorten the path.")
    return LoraRef(source=source, scale=scale)


def format_lora_arg(ref: LoraRef) -> str:
    """The inverse of :func:`parse_lora_arg` (what a song card or a command line shows)."""
    return f"{ref.source}:{ref.scale:g}"


NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _is_number(text: str) -> bool:
    return NUMBER.fullmatch(text.strip()) is not None


def coerce_refs(value: Any) -> Any:
    """Options accept ``"owner/name:0.8"`` strings as well as ``{source, scale}`` items."""
    if value is None:
        return []
    if isinstance(value, (str, dict, LoraRef)):
        value = [value]
    if not isinstance(value, (list, tuple)):
        return value
    out = []
    for item in value:
        if isinstance(item, str):
            try:
                out.append(parse_lora_arg(item))
            except LoraError as exc:
                raise ValueError(str(exc).rstrip(".")) from None
        else:
            out.append(item)
    return out


def check_ref_list(refs: list[LoraRef]) -> list[LoraRef]:
    if len(refs) > MAX_LORAS:
        raise ValueError(f"at most {MAX_LORAS} LoRAs can be stacked, got {len(refs)}; drop the weakest ones")
    seen: set[str] = set()
    for ref in refs:
        if ref.source in seen:
            raise ValueError(f"LoRA {ref.source} is listed twice; give it once with the scale you want")
        seen.add(ref.source)
    return refs


# --------------------------------------------------------------------------------------------- limits


def max_bytes() -> int:
    return _env_number(settings.MAX_LORA_MB) * 1024 * 1024


def max_rank() -> int:
    return _env_number(settings.MAX_LORA_RANK)


def _env_number(setting: settings.Setting[int]) -> int:
    # A bad limit refuses the LoRA the way a bad file does (LoraError spends no rate-limit call).
    try:
        return setting.get()
    except StudioError as exc:
        raise LoraError(str(exc)) from None

