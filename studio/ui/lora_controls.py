"""LoRA controls for backends whose Options take ``loras``: Hub ids typed one per line, plus one upload.

The upload is checked from its header the moment it lands, so a wrong file is refused with its
reason before anyone presses Generate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from studio import registry
from studio.ground.errors import StudioError


def takes_loras(backend: str) -> bool:
    return "loras" in registry.get_spec(backend).options.model_fields


@dataclass
class LoraControls:
    hub: gr.Textbox
    upload: gr.File
    scale: gr.Slider
    note: gr.Markdown

    def components(self) -> list[gr.Component]:
        return [self.hub, self.upload, self.scale]

    def refs(self, hub: str | None, upload: str | None, scale: float | None) -> list[str]:
        """``ID_OR_FILE:SCALE`` items, the syntax of ``--lora`` (the upload last)."""
        lines = (line.strip() for line in (hub or "").splitlines())
        items = [line for line in lines if line and not line.startswith("#")]
        if upload:
            items.append(f"{upload}:{1.0 if scale is None else float(scale):g}")
        return items

    def fill(self, options: dict[str, Any]) -> list[Any]:
        """Values for ``components()`` from a request's options: Hub ids back in the box; an uploaded
        file is not offered again (the upload folder is emptied after a while)."""
        from backends.acestep.lora import LoraRef, coerce_refs, format_lora_arg, looks_local

        hub = []
        for item in coerce_refs(options.get("loras")):
            ref = item if isinstance(item, LoraRef) else LoraRef.model_validate(item)
            if not looks_local(ref.source):
                hub.append(format_lora_arg(ref))
        return ["\n".join(hub), None, 1.0]

    def visibility(self, backend: str) -> list[Any]:
        shown = takes_loras(backend)
        return [gr.update(visible=shown) for _ in (self.hub, self.upload, self.scale, self.note)]

    def outputs(self) -> list[gr.Component]:
        return [self.hub, self.upload, self.scale, self.note]


def check_upload(path: str | None) -> str:
    """One line about an uploaded LoRA: what it adapts, or why it cannot be used."""
    if not path:
        return ""
    from backends.acestep.lora import check_lora_file

    try:
        return f"✅ {check_lora_file(path).describe()}"
    except StudioError as exc:
        return f"❌ {exc}"


def build_lora_controls(visible: bool) -> LoraControls:
    hub = gr.Textbox(
        label="LoRAs from the Hub",
        lines=2,
        placeholder="owner/name:0.8 — one per line (up to 4 in all)",
        info="Style adapters for ACE-Step; the number after ':' is the strength (0–2, default 1).",
        visible=visible,
    )
    upload = gr.File(
        label="…or upload a LoRA (.safetensors)", file_types=[".safetensors"], visible=visible, elem_id="lora-upload"
    )
    scale = gr.Slider(0, 2, value=1.0, step=0.05, label="Uploaded LoRA strength", visible=visible)
    note = gr.Markdown(visible=visible)
    upload.change(check_upload, upload, note, queue=False, api_visibility="private")
    return LoraControls(hub=hub, upload=upload, scale=scale, note=note)
