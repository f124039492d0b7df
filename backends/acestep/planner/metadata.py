"""Reading the planner's output and writing the CoT block it is conditioned on.

Upstream's rules are followed (field detection, YAML-style continuation lines, int coercion of
bpm/duration, the CoT re-dump with ``yaml.dump``), with two deliberate differences, marked
"differs from upstream" below:

* YAML quotes are removed when parsing. Upstream keeps them, so Norwegian comes back as ``'no'``
  (with the quotes) and a second round trip writes ``'''no'''`` into the phase-2 prompt.
* The detected language is kept under ``language`` and handed on (see ``planner.py``); upstream
  looks it up under a different key and loses it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml

AUDIO_CODE_RE = re.compile(r"<\|audio_code_(\d+)\|>")
MAX_AUDIO_CODE = 63999  # FSQ codebook 8*8*8*5*5*5 = 64000 entries; the vocabulary holds more tokens.
CODES_PER_SECOND = 5

# The order the model was trained on (yaml.dump(sort_keys=True)), which the constrained decoder enforces.
FIELD_ORDER: tuple[str, ...] = (
    "bpm",
    "caption",
    "duration",
    "genres",
    "keyscale",
    "language",
    "timesignature",
)
# Fields the phase-2 CoT carries; genres is dropped there (upstream does the same).
COT_FIELDS: tuple[str, ...] = ("bpm", "caption", "duration", "keyscale", "language", "timesignature")

BPM_RANGE = (30, 300)
DURATION_RANGE = (10, 600)
TIME_SIGNATURES: tuple[str, ...] = ("2", "3", "4", "6")
_LANGUAGE_CODES = (
    "ar az bg bn ca cs da de el en es fa fi fr he hi hr ht hu id is it ja ko la lt ms ne nl no pa pl pt "
    "ro ru sa sk sr sv sw ta te th tl tr uk ur vi yue zh unknown"
)
LANGUAGES: tuple[str, ...] = tuple(_LANGUAGE_CODES.split(" "))
_NOTES = "ABCDEFG"
_ACCIDENTALS = ("", "#", "b", "♯", "♭")
KEYSCALES: tuple[str, ...] = tuple(
    f"{note}{acc} {mode}" for note in _NOTES for acc in _ACCIDENTALS for mode in ("major", "minor")
)


def _unquote_yaml_scalar(value: str) -> str:
    # Differs from upstream: upstream keeps YAML quotes in parsed values ('no' stays "'no'").
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1].replace("''", "'")
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            loaded = yaml.safe_load(value)
        except yaml.YAMLError:
            return value
        return loaded if isinstance(loaded, str) else value
    return value


def _int_or_text(value: str) -> int | str:
    try:
        return int(value)
    except ValueError:
        return value


def _reasoning_text(output: str) -> str:
    match = re.search(r"<think>(.*?)</think>", output, re.DOTALL)
    if match and match.group(1).strip():
        return match.group(1).strip()
    # Phase 1 under constrained decoding has no closing tag: EOS is forced where it would start.
    return output.split("<|audio_code_")[0].strip()


def parse_metadata(output: str) -> dict[str, Any]:
    """Metadata from the first think block (or, without one, from the text before the first code).

    A field line starts without whitespace and contains ``:``; indented lines continue the
    previous value; lines starting with ``<`` are tags. Unknown keys are dropped.
    """
    fields: dict[str, list[str]] = {}
    current: str | None = None
    for line in _reasoning_text(output).split("\n"):
        if line.strip().startswith("<"):
            continue
        if line and not line[0].isspace() and ":" in line:
            key, first = line.split(":", 1)
            current = key.strip().lower()
            fields[current] = [first] if first.strip() else []
        elif line.startswith((" ", "\t")) and current is not None:
            fields[current].append(line)

    metadata: dict[str, Any] = {}
    for key in FIELD_ORDER:
        lines = fields.get(key)
        if not lines:
            continue
        if key == "caption":
            # YAML folding: continuation lines are stripped and joined by single spaces.
            text = " ".join(part.strip() for part in lines if part.strip())
        else:
            text = "\n".join(lines).strip()
        text = _unquote_yaml_scalar(text)
        metadata[key] = _int_or_text(text) if key in ("bpm", "duration") else text
    return metadata


def parse_audio_codes(output: str) -> str:
    """Every ``<|audio_code_N|>`` in the text, concatenated unchanged (range checks happen elsewhere)."""
    return "".join(match.group(0) for match in AUDIO_CODE_RE.finditer(output))


def audio_code_values(codes: str) -> list[int]:
    return [int(match.group(1)) for match in AUDIO_CODE_RE.finditer(codes)]


def extract_lyrics(output: str) -> str:
    """Free text after ``</think>`` (simple mode / format / understand), minus a ``# Lyric(s)`` header
    and a trailing ``<|im_end|>``."""
    _, sep, after = output.partition("</think>")
    if not sep:
        return ""
    after = after.strip()
    after = re.sub(r"^#\s*Lyrics?\s*\n", "", after, flags=re.IGNORECASE)
    after = re.sub(r"<\|im_end\|>\s*$", "", after)
    after = re.sub(r"<\|endoftext\|>\s*$", "", after)
    return after.strip()


def cot_text(metadata: Mapping[str, Any]) -> str:
    """The phase-2 CoT block, dumped the way the training data was: ``yaml.dump`` with sorted keys,
    unicode kept, default width (captions re-wrap at about 80 columns with two-space continuations)
    and YAML's own quoting (``language: 'no'``)."""
    items: dict[str, Any] = {}
    for key in COT_FIELDS:
        value = metadata.get(key)
        if value is None:
            continue
        if key == "timesignature" and isinstance(value, str) and value.endswith("/4"):
            value = value.split("/")[0]
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        items[key] = value
    body = yaml.dump(items, allow_unicode=True, sort_keys=True).strip() if items else ""
    return f"<think>\n{body}\n</think>"


def codes_string(values: list[int]) -> str:
    return "".join(f"<|audio_code_{v}|>" for v in values)
