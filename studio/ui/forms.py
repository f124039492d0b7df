"""From control values to a SongRequest and back; which controls a backend shows. No gradio here."""

from __future__ import annotations

from typing import Any

from backends.base import BackendSpec, Capabilities
from studio import registry, weights
from studio.errors import validate
from studio.ground.errors import StudioError
from studio.ground.vocabulary import Input
from studio.options import OptionField, all_option_fields
from studio.request.checks import OPTIONAL_INPUTS
from studio.song import SongRequest
from studio.ui.errors import for_visitors
from studio.ui.uploads import checked_loras

TIME_SIGNATURE_CHOICES = [("auto", ""), ("2/4", "2"), ("3/4", "3"), ("4/4", "4"), ("6/8", "6")]
KEY_CHOICES = [""] + [
    f"{n} {m}"
    for m in ("major", "minor")
    for n in ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
]
SECTION_TAGS = ("Intro", "Verse", "Pre-Chorus", "Chorus", "Bridge", "Outro")
# Request fields that get a control only when the backend declares the Input: the table the request's
# check refuses them by.
OPTIONAL_CONTROLS: dict[str, Input] = OPTIONAL_INPUTS


# A backend option's control is built from its declaration in studio.options (shared with the CLI/API).
OptionControl = OptionField


def all_option_controls() -> list[OptionControl]:
    return all_option_fields()


def model_choices() -> list[tuple[str, str]]:
    out = []
    for spec in registry.all_specs():
        caps = spec.capabilities
        label = caps.display_name
        if not caps.commercial_use:
            label += " · non-commercial"
        status = weights_label(spec)
        if status:
            label += f" · {status}"
        out.append((label, caps.name))
    return out


def weights_label(spec: BackendSpec) -> str:
    """What the picker adds after a model's name ("" = ready): not downloaded (size), needs a GPU,
    incompatible weights, cannot run here."""
    state = weights.status(spec)
    return "" if state.state is weights.WeightsState.READY else state.label


def sketch_line(spec: BackendSpec) -> str:
    """Simple mode's note: which model writes the song from a description, its size and whether it is here,
    before the visitor presses anything (issue 17.6). "" for a backend that takes no description."""
    sketcher = spec.sketcher
    if sketcher is None:
        return ""
    found = registry.availability(spec)
    if not found.ok:
        return f"Uses {sketcher.what}, which cannot run here: {found.reason}"
    part = sketcher.weights()
    # Other weights named by a variable have no known size: say only whether they are here.
    size = f"{part.download_gb:.1f} GB, " if part.download_gb is not None else ""
    state, detail = weights.part_status(part)
    if state is weights.WeightsState.READY:
        return f"Uses {sketcher.what} ({size}downloaded); the song model is not needed to write the song."
    if state is weights.WeightsState.NOT_DOWNLOADED:
        return f"Uses {sketcher.what} ({size}not downloaded — fetched on first use)."
    return f"Uses {sketcher.what}: ❌ incompatible weights — {detail}"


def model_card(spec: BackendSpec) -> str:
    """Markdown under the model picker: what it is, its licence, and why it cannot run (if so)."""
    caps, state = spec.capabilities, registry.availability(spec)
    lines = [f"**{caps.display_name}** — {caps.summary}"]
    licence = f"Licence: {caps.licence}."
    if not caps.commercial_use:
        licence = f"**Non-commercial use only.** {caps.licence_note or licence} Licence: {caps.licence}."
    lines.append(licence)
    if not state.ok:
        lines.append(f"⚠️ Not available here: {state.reason}")
    else:
        found = weights.status(spec)
        if found.state is not weights.WeightsState.READY:
            lines.append(f"{found.label}. {found.detail}")
    return for_visitors("\n\n".join(lines))


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _whole(value: Any) -> Any:
    """7.0 (a number box's value) -> 7; anything else (NaN, 7.5, text) is left for the request's own
    validation, which names the field instead of failing in a conversion here."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def whole_number(value: Any, name: str) -> int | None:
    """A seed or BPM as typed: empty is None (random seed, the model's own tempo), digits are a number.

    Typed into a text box, not a gr.Number: gradio's number box shows 0 for an empty value as soon as
    it renders, and 0 is a real seed and an invalid BPM (issue 17.2, 17.3)."""
    if _blank(value):
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text.isdigit():
            raise StudioError(f"`{name}` must be a whole number, got {text!r}; type digits or leave it empty.")
        return int(text)
    return _whole(value)


def number_text(value: int | float | None) -> str:
    """What a seed or BPM box shows for a request's value (empty for None)."""
    return "" if value is None else str(_whole(value))


def build_request(
    *,
    backend: str,
    title: str = "",
    style: str = "",
    lyrics: str = "",
    instrumental: bool = False,
    duration: float | None = None,
    takes: int = 1,
    seed: float | str | None = None,
    extras: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
    partial: bool = False,
    fit_budget: bool = False,
    keep_best: float | str | None = None,
) -> SongRequest:
    """A validated request from control values; controls the backend does not show are left out.
    ``keep_best`` 0 or empty keeps every take."""
    caps: Capabilities = registry.get_spec(backend).capabilities
    data: dict[str, Any] = {
        "backend": backend,
        "title": title or "",
        "style": style or "",
        "lyrics": lyrics or "",
        "instrumental": bool(instrumental),
        "duration": None if _blank(duration) else duration,
        "takes": 1 if _blank(takes) or takes == 0 else _whole(takes),
        "seed": whole_number(seed, "seed"),
        # A visitor names LoRAs by Hub id or uploads them; a path on this server is never opened.
        "options": checked_loras({k: v for k, v in (options or {}).items() if not _blank(v)}),
        "partial": bool(partial),  # the service says when a model cannot keep a cut song
        "fit_budget": bool(fit_budget),
    }
    best = whole_number(keep_best, "keep_best")
    if best:  # 0 = every take (the API's and the form's default), not "keep none"
        data["keep_best"] = best
    for name, needed in OPTIONAL_CONTROLS.items():
        value = (extras or {}).get(name)
        if caps.accepts(needed) and not _blank(value):
            data[name] = whole_number(value, name) if name == "bpm" else value
    return validate(SongRequest, data)


def budget_is_limited() -> bool:
    """Whether this studio's requests have a GPU time cap to fit (ZeroGPU, or STUDIO_TIME_LIMIT)."""
    from studio.budget import default_tier, tier_limits

    return tier_limits(default_tier()).cap_s is not None


def keeps_partial(caps: Capabilities) -> bool:
    """Whether a song cut by the time budget can be kept: token-based (autoregressive) models only."""
    return caps.dumps_tokens
