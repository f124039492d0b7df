"""The System view: device, dtype, loaded backends and weights, licences, ZeroGPU status."""

from __future__ import annotations

import gradio as gr

from studio import devices, registry, weights
from studio.gpu import gpu_available_here
from studio.library import Library
from studio.rendering import Studio
from studio.ui import visitor
from studio.ui.errors import for_visitors


def _device_lines() -> list[str]:
    try:
        info = devices.detect()
    except Exception as exc:  # a bad STUDIO_DEVICE must not hide the rest of the page
        return [f"- **Device:** unavailable ({exc})"]
    memory = f", {info.memory_gb:.0f} GB" if info.memory_gb else ""
    lines = [f"- **Device:** {info.name} (`{info.torch_device}`{memory}), bf16 {'yes' if info.bf16 else 'no'}"]
    lines += [f"- ⚠️ {w}" for w in info.warnings]
    return lines


def report(studio: Studio, library: Library) -> str:
    zerogpu = (
        "on (GPU per request via `spaces.GPU`)"
        if gpu_available_here()
        else ("set, but the `spaces` package is missing" if devices.on_zerogpu() else "off")
    )
    lines = [
        "### This machine",
        *_device_lines(),
        f"- **ZeroGPU:** {zerogpu}",
        f"- **Visitors:** {'each browser has its own library' if visitor.multi_user() else 'one local user'}",
        f"- **Library:** `{library.root}`",
        "",
        "### Models",
    ]
    # One short list per model, not a five-column table: on a 390 px phone the table scrolled inside its box
    # and hid its last columns (the licence) off to the side.
    loaded = studio.cache.loaded()
    for spec in registry.all_specs():
        caps = spec.capabilities
        found = weights.status(spec)
        here = found.label if found.state is weights.WeightsState.READY else f"{found.label}: {found.detail}"
        backend = loaded.get(spec.name)
        load = f"`{backend.weights}` on {backend.device}" if backend else "not loaded"
        parts = getattr(backend, "loaded_parts", None) if backend else None  # optional: extra weights, adapters
        if parts is not None and parts():
            load += " + " + ", ".join(parts())
        if backend:
            load += f", {backend.dtype}"
        licence = caps.licence + ("" if caps.commercial_use else " — **non-commercial use only**")
        lines += [f"- **{caps.display_name}:** {here}", f"    - Loaded: {load}", f"    - Licence: {licence}"]
    notes = [
        f"- **{s.capabilities.display_name}:** {s.capabilities.licence_note}"
        for s in registry.all_specs()
        if s.capabilities.licence_note
    ]
    if notes:
        lines += ["", "### Licence notes", *notes]
    return for_visitors("\n".join(lines))


def build_system(studio: Studio, library: Library) -> tuple[gr.Markdown, gr.Button, gr.Button]:
    body = gr.Markdown(report(studio, library), elem_id="system-report")
    with gr.Row():
        refresh = gr.Button("Refresh", size="sm", min_width=0)
        # On a shared studio one visitor must not unload the models everyone else is using.
        unload = gr.Button(
            "Unload all models", size="sm", variant="secondary", min_width=0, visible=not visitor.multi_user()
        )
    refresh.click(lambda: report(studio, library), None, body, queue=False, api_visibility="private")

    def unload_all() -> str:
        if visitor.multi_user():
            raise gr.Error("models are shared by every visitor here, so only the studio's owner can unload them.")
        studio.cache.unload_all()
        return report(studio, library)

    unload.click(unload_all, None, body, concurrency_id="gpu", api_visibility="private")
    return body, refresh, unload
