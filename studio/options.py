"""Every backend option once, read from each backend's ``Options`` model: what the Create view's
controls, the command line's flags and the API's ``options`` object are built from.

A new field in a backend's Options shows up on every surface without being listed anywhere else; the
only things declared here are the words a visitor reads (labels and choice names), so that internal
names ("cfg", "top_k", "None decides …") never reach the page (issue 17.10 and 17.15).
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

from pydantic.fields import FieldInfo

from studio import registry

# Fields with a control of their own elsewhere (studio.ui.lora_controls; the CLI's repeatable --lora).
OWN_CONTROLS = ("loras",)

LABELS: dict[str, str] = {
    "steps": "Steps",
    "shift": "Timestep shift",
    "guidance_scale": "Guidance scale",
    "planner": "Planner (plans the song's structure first)",
    "mode": "What to make",
    "cfg": "Guidance strength",
    "temperature": "Temperature",
    "top_k": "Top-k sampling",
    "top_p": "Top-p (nucleus) sampling",
    "low_memory": "Save memory",
}
CHOICE_LABELS: dict[str, dict[str, str]] = {
    "mode": {"song": "Song (vocals + music)", "bgm": "Instrumental only", "vocal": "Vocals only",
             "separate": "Song + separate stems (zip)"},
    "planner": {"off": "Off", "0.6B": "0.6B (fastest)", "1.7B": "1.7B", "4B": "4B (best, slowest)"},
}
AUTO = "auto"  # how an optional on/off field's None ("decide for me") is chosen and shown


@dataclass(frozen=True)
class OptionField:
    """One field of one backend's Options, as any surface needs it."""

    backend: str
    name: str
    kind: str  # "int", "float", "bool", "auto-bool" (None = decide) or "choice"
    default: Any
    minimum: float | None
    maximum: float | None
    description: str
    choices: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return LABELS.get(self.name, self.name.replace("_", " ").capitalize())

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def info(self) -> str:
        """The description in the visitor's words: an optional field's None is the Auto choice."""
        return self.description.replace("None decides", "Auto decides")

    def choice_labels(self) -> list[tuple[str, str]]:
        if self.kind == "auto-bool":
            return [("Auto", AUTO), ("On", "on"), ("Off", "off")]
        names = CHOICE_LABELS.get(self.name, {})
        return [(names.get(c, c), c) for c in self.choices]

    def value_of(self, shown: Any) -> Any:
        """A control's value as the Options model takes it (Auto -> None, on/off -> True/False)."""
        if self.kind == "auto-bool":
            return {"on": True, "off": False}.get(str(shown)) if shown not in (None, "", AUTO) else None
        return shown

    def shown(self, value: Any) -> Any:
        """The control's value for an Options value (the inverse of ``value_of``)."""
        if self.kind == "auto-bool":
            return AUTO if value is None else ("on" if value else "off")
        return value


def _bounds(info: FieldInfo) -> tuple[float | None, float | None]:
    low = high = None
    for meta in info.metadata:
        low = getattr(meta, "ge", getattr(meta, "gt", low))
        high = getattr(meta, "le", getattr(meta, "lt", high))
    return low, high


def _kind(annotation: Any) -> tuple[str | None, tuple[str, ...]]:
    optional = False
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(args) < len(typing.get_args(annotation))
        annotation = args[0] if len(args) == 1 else annotation
    if typing.get_origin(annotation) is Literal:
        return "choice", tuple(str(a) for a in typing.get_args(annotation))
    if annotation is bool:
        return ("auto-bool" if optional else "bool"), ()
    return {int: "int", float: "float"}.get(annotation), ()


def option_fields(backend: str) -> list[OptionField]:
    """The backend's options a control, flag or API parameter can carry; numbers need both bounds."""
    spec = registry.get_spec(backend)
    out = []
    for name, info in spec.options.model_fields.items():
        if name in OWN_CONTROLS:
            continue
        kind, choices = _kind(info.annotation)
        low, high = _bounds(info)
        if kind is None or (kind in ("int", "float") and (low is None or high is None)):
            raise TypeError(
                f"{spec.name}'s option `{name}` cannot be shown: give it a bool, Literal or bounded number type, "
                "or a control of its own (studio.options.OWN_CONTROLS)."
            )
        out.append(OptionField(spec.name, name, kind, info.default, low, high, info.description or "", choices))
    return out


def all_option_fields() -> list[OptionField]:
    return [f for spec in registry.all_specs() for f in option_fields(spec.name)]


def cli_flags() -> dict[str, list[OptionField]]:
    """Option name -> the backends' fields behind its one command-line flag (``--top-k`` serves two)."""
    flags: dict[str, list[OptionField]] = {}
    for field in all_option_fields():
        flags.setdefault(field.name, []).append(field)
    return flags
