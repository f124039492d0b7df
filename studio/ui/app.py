"""Gradio Blocks for the studio. Handlers call studio.service; nothing here reads torch."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import gradio as gr

from backends.base import StudioError
from studio import registry
from studio.errors import validate
from studio.gpu import gpu
from studio.service import Studio
from studio.song import SongRequest

STUDIO = Studio()


def _output_dir() -> Path:
    root = Path(os.environ.get("STUDIO_OUTPUT_DIR") or Path(tempfile.gettempdir()) / "song-studio")
    root.mkdir(parents=True, exist_ok=True)
    return root


def _choices() -> list[tuple[str, str]]:
    out = []
    for spec in registry.all_specs():
        caps, state = spec.capabilities, spec.availability()
        label = caps.display_name if state.ok else f"{caps.display_name} (not available: {state.reason})"
        out.append((label, caps.name))
    return out


@gpu(duration=120)
def _render(request: SongRequest, out: Path):
    return STUDIO.generate(request, out=out)


def generate(backend: str, style: str, lyrics: str, instrumental: bool, duration: float, seed: float | None,
             ) -> tuple[str, str]:
    try:
        request = validate(SongRequest, {
            "backend": backend, "style": style, "lyrics": lyrics, "instrumental": instrumental,
            "duration": duration, "seed": None if seed in (None, "") else int(seed),
        })
        result = _render(request, _output_dir())
    except StudioError as exc:
        raise gr.Error(str(exc)) from None
    take = result.takes[0]
    return str(take.path), f"seed {take.seed} · {result.device}/{result.dtype} · {result.elapsed_s:.1f} s"


def build_app() -> gr.Blocks:
    with gr.Blocks(title="Song Studio") as demo:
        gr.Markdown("# Song Studio")
        backend = gr.Dropdown(_choices(), value=registry.DEFAULT_BACKEND, label="Model")
        style = gr.Textbox(label="Style", placeholder="upbeat synth pop, bright female vocals")
        lyrics = gr.Textbox(label="Lyrics", lines=10)
        instrumental = gr.Checkbox(label="Instrumental")
        duration = gr.Slider(10, 600, value=60, step=1, label="Duration (s)")
        seed = gr.Number(label="Seed (empty = random)", precision=0)
        go = gr.Button("Generate", variant="primary")
        audio = gr.Audio(label="Song", type="filepath")
        info = gr.Markdown()
        go.click(generate, [backend, style, lyrics, instrumental, duration, seed], [audio, info], api_name="generate")
    return demo


def launch_options() -> dict:
    return {"server_name": os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1")}
