"""Style presets (genres and moods) kept as JSON in ``presets/`` and validated on load."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from studio.errors import explain
from studio.ground.errors import StudioError

PRESETS_DIR = Path(__file__).resolve().parents[1] / "presets"


class Preset(BaseModel):
    """One chip in the style box: clicking it adds ``style`` to the style text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=24, description="Chip label.")
    style: str = Field(min_length=1, max_length=160, description="Words added to the style box.")


class PresetFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["genre", "mood"]
    presets: list[Preset] = Field(min_length=1, max_length=40)


@lru_cache(maxsize=4)
def load(folder: Path = PRESETS_DIR) -> dict[str, list[Preset]]:
    """``{"genre": [...], "mood": [...]}`` from every ``*.json`` file in the folder."""
    found: dict[str, list[Preset]] = {}
    for path in sorted(folder.glob("*.json")):
        try:
            parsed = PresetFile.model_validate(json.loads(path.read_text(encoding="utf-8")))
        except json.JSONDecodeError as exc:
            raise StudioError(
                f"preset file {path.name} is not valid JSON (line {exc.lineno}); fix it."
            ) from None
        except ValidationError as exc:
            raise StudioError(f"preset file {path.name}: {explain(exc, model=PresetFile)}.") from None
        found.setdefault(parsed.kind, []).extend(parsed.presets)
    return found


def add_to_style(style: str, preset_style: str) -> str:
    """Append a preset's words unless they are already there."""
    current = style.strip().rstrip(",")
    if preset_style.lower() in current.lower():
        return current
    return f"{current}, {preset_style}" if current else preset_style
