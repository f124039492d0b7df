"""Named API endpoints for gradio_client: /generate, /format_lyrics, /plan, /backends, /library.

Formatting, planning, listing models and listing songs answer at once (no queue); /generate
joins the one GPU queue the UI's Generate button uses. API callers identify themselves with a
``visitor_key`` (returned by /generate on a Space) instead of the browser's stored key.
"""

from __future__ import annotations

import json
from typing import Any

import gradio as gr

from backends.base import StudioError
from studio import registry
from studio.library import Library
from studio.song import SongRequest
from studio.ui import forms, runner, seams, visitor
from studio.ui.errors import user_errors

GPU_QUEUE = "gpu"


def _request(
    lyrics: str,
    style: str,
    backend: str,
    duration: float | None,
    instrumental: bool,
    takes: int = 1,
    seed: float | None = None,
    title: str = "",
    bpm: float | None = None,
    key: str = "",
    time_signature: str = "",
    language: str = "",
    options: str | dict | None = None,
) -> SongRequest:
    if isinstance(options, str):
        try:
            options = json.loads(options) if options.strip() else {}
        except json.JSONDecodeError as exc:
            raise StudioError(f'`options` must be a JSON object like {{"steps": 8}}; {exc.msg}.') from None
    if options is not None and not isinstance(options, dict):
        raise StudioError('`options` must be a JSON object like {"steps": 8}.')
    return forms.build_request(
        backend=backend or registry.DEFAULT_BACKEND,
        title=title,
        style=style,
        lyrics=lyrics,
        instrumental=instrumental,
        duration=duration,
        takes=takes or 1,
        seed=seed,
        extras={"bpm": bpm, "key": key, "time_signature": time_signature, "language": language},
        options=options or {},
    )


def backends_info() -> list[dict[str, Any]]:
    out = []
    for spec in registry.all_specs():
        caps, state = spec.capabilities, registry.availability(spec)
        out.append(
            {
                "name": caps.name,
                "display_name": caps.display_name,
                "summary": caps.summary,
                "available": state.ok,
                "reason": state.reason,
                "licence": caps.licence,
                "commercial_use": caps.commercial_use,
                "licence_note": caps.licence_note,
                "min_duration_s": caps.min_duration_s,
                "max_duration_s": caps.max_duration_s,
                "default_duration_s": caps.default_duration_s,
                "max_takes": caps.max_takes,
                "inputs": sorted(i.value for i in caps.inputs),
                "languages": list(caps.languages),
                "options": spec.options.model_json_schema(),
            }
        )
    return out


def register(library: Library, gpu_concurrency: int) -> None:
    """Add the API endpoints to the Blocks being built."""

    @user_errors
    def format_lyrics(
        lyrics: str,
        style: str = "",
        backend: str = "acestep",
        duration: float | None = None,
        instrumental: bool = False,
    ) -> dict:
        """The exact lyrics and style the model will receive, with the formatter's fixes and errors."""
        view = seams.format_preview(_request(lyrics, style, backend, duration, instrumental))
        return {
            "lyrics": view.lyrics,
            "style": view.style,
            "fixes": view.fixes,
            "errors": view.errors,
            "ok": view.ok,
            "estimated_seconds": view.estimated_seconds,
            "note": view.note,
        }

    @user_errors
    def plan(
        lyrics: str = "",
        style: str = "",
        backend: str = "acestep",
        duration: float | None = None,
        instrumental: bool = False,
        takes: int = 1,
        steps: int | None = None,
        tier: str = "",
        request: gr.Request = None,  # type: ignore[assignment]  # gradio fills it in
    ) -> dict:
        """GPU seconds this song would take, the cap, the decision and alternatives (tier: empty = yours)."""
        options = {"steps": steps} if steps else {}
        return seams.plan(
            _request(lyrics, style, backend, duration, instrumental, takes, options=options),
            tier or visitor.tier_of(request),
        )

    @user_errors
    def backends() -> list[dict]:
        """Every model: availability with the reason, licence, duration range, inputs, options schema."""
        return backends_info()

    @user_errors
    def library_list(
        visitor_key: str = "",
        query: str = "",
        liked_only: bool = False,
        limit: int = 50,
    ) -> list[dict]:
        """Your songs, newest first (on a Space: pass the visitor_key that /generate returned)."""
        owner = visitor.owner_for(visitor_key)
        return [s.public() for s in library.list(owner, query, liked_only=liked_only, limit=limit)]

    # gradio_client and the /call/ HTTP API still pass these through the queue, where the default
    # concurrency limit of 1 would line every caller up behind one another; they are short and
    # thread-safe, so none is set.
    instant: dict[str, Any] = {"queue": False, "concurrency_limit": None}
    gr.api(format_lyrics, api_name="format_lyrics", **instant)
    gr.api(plan, api_name="plan", **instant)
    gr.api(backends, api_name="backends", **instant)
    gr.api(library_list, api_name="library", **instant)

    @user_errors
    def generate(
        lyrics: str,
        style: str,
        backend: str,
        duration: float | None,
        instrumental: bool,
        takes: float,
        seed: float | None,
        title: str,
        bpm: float | None,
        key: str,
        time_signature: str,
        language: str,
        options: str,
        visitor_key: str,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (gradio's idiom)
    ) -> tuple[str, list[str], dict]:
        """Make a song; returns the first take, every take, and their library entries."""
        song_request = _request(
            lyrics,
            style,
            backend,
            duration or None,
            instrumental,
            takes or 1,
            None if seed is None or seed < 0 else seed,
            title,
            bpm or None,
            key,
            time_signature,
            language,
            options,
        )
        # Callers without a key would get a fresh one (and a fresh rate limit) every time, so
        # their address is what the limit counts.
        rate_key = "" if visitor_key else f"ip:{visitor.client_address(request)}"
        if visitor.multi_user() and not visitor_key:
            visitor_key = visitor.new_key()
        owner = visitor.owner_for(visitor_key)
        result, songs = runner.make_songs(
            song_request, owner=owner, library=library, progress=runner.StageProgress(progress),
            tier=visitor.tier_of(request), rate_key=rate_key,
        )
        paths = [str(s.audio_path) for s in songs]
        info = {
            "songs": [s.public() for s in songs],
            "warnings": result.warnings,
            "visitor_key": visitor_key if visitor.multi_user() else "",
        }
        return paths[0], paths, info

    with gr.Column(visible=False):
        inputs = [
            gr.Textbox(label="lyrics"),
            gr.Textbox(label="style"),
            gr.Textbox(registry.DEFAULT_BACKEND, label="backend"),
            # 0 duration = the model's default length, seed -1 = random, bpm 0 = let the model choose
            gr.Number(0, label="duration"),
            gr.Checkbox(False, label="instrumental"),
            gr.Number(1, label="takes", precision=0),
            gr.Number(-1, label="seed", precision=0),
            gr.Textbox("", label="title"),
            gr.Number(0, label="bpm", precision=0),
            gr.Textbox("", label="key"),
            gr.Textbox("", label="time_signature"),
            gr.Textbox("", label="language"),
            gr.Textbox("{}", label="options"),
            gr.Textbox("", label="visitor_key"),
        ]
        outputs = [
            gr.Audio(type="filepath", label="audio"),
            gr.File(file_count="multiple", label="takes"),
            gr.JSON(label="info"),
        ]
    gr.on(
        triggers=[],
        fn=generate,
        inputs=inputs,
        outputs=outputs,
        api_name="generate",
        concurrency_id=GPU_QUEUE,
        concurrency_limit=gpu_concurrency,
    )
