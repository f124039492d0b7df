"""The Stems control: on every result card, on the Library's song panel, in the Edit view (for an
upload), and the ``/stems`` API endpoint. Each one calls ``studio.separation.keep`` and so
``studio.separation.flow.split_song``, the same flow as ``python -m studio stems``.

LeVo 2's own ``separate`` mode is a different thing (the model's own vocal / accompaniment split
made while it generates); it stays on the Create view and is labelled as such there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from studio import ratelimit
from studio.ground.errors import StudioError
from studio.library import Library
from studio.separation.catalog import STEM_SETS
from studio.separation.flow import StemsResult
from studio.ui import gpu_guard, visitor
from studio.ui.errors import user_errors

CHOICES = [(f"{s.count} stems", s.count) for s in STEM_SETS.values()]
HELP = "; ".join(s.label for s in STEM_SETS.values()) + ". Made by Demucs from the finished song."
_QUEUE = {"concurrency_id": "gpu"}


@dataclass
class StemsControls:
    count: gr.Radio
    button: gr.Button
    files: gr.File
    report: gr.Markdown

    def outputs(self) -> list[gr.Component]:
        return [self.files, self.report]


def build_stems_controls(elem_id: str, *, title: str = "Stems", accordion: bool = True) -> StemsControls:
    """How many stems, a button, then the zip and the DAW pack to download: in a closed accordion (a
    card, the Library), or as they are (the Edit view, where "Split into stems" is a task of its own)."""
    if not accordion:
        count = gr.Radio(CHOICES, value=4, label="Stems", info=HELP)
        button = gr.Button("✂ Split into stems", variant="primary", size="lg", elem_id=f"{elem_id}-stems")
        files = gr.File(label="Stems zip and DAW pack", file_count="multiple", interactive=False, visible=False)
        report = gr.Markdown(elem_id=f"{elem_id}-stems-report")
        return StemsControls(count, button, files, report)
    with gr.Accordion(title, open=False):
        with gr.Row(equal_height=True):
            count = gr.Radio(CHOICES, value=4, show_label=False, info=HELP, scale=3, min_width=160)
            button = gr.Button("Split into stems", size="sm", scale=1, min_width=0, elem_id=f"{elem_id}-stems")
        files = gr.File(label="Stems zip and DAW pack", file_count="multiple", interactive=False, visible=False)
        report = gr.Markdown()
    return StemsControls(count, button, files, report)


def report_markdown(result: StemsResult) -> str:
    near = result.report.near_silent
    lines = [
        f"**{len(result.stems)} stems** of *{result.title}* ({result.model}, on {result.device}, "
        f"{result.elapsed_s:.1f} s). {result.report.fit_words().capitalize()}.",
    ]
    if near:
        lines.append(f"Near-silent: {', '.join(near)} (included anyway).")
    lines += [f"- {w}" for w in result.warnings if "reconstruction error" not in w and "near-silent" not in w]
    return "\n".join(lines)


def _shown(result: StemsResult) -> list[Any]:
    return [gr.update(value=[str(result.zip), str(result.pack)], visible=True), report_markdown(result)]


def wire_stems(
    library: Library,
    key: gr.BrowserState,
    cards: list[tuple[Any, gr.State]],
    library_panel: tuple[Any, gr.State],
    upload: tuple[StemsControls, gr.Audio, gr.State, gr.State] | None,
    gpu_concurrency: int,
) -> None:
    """``cards``: (card, ids) per result card (its index in ids is the card's); ``library_panel``:
    (controls, selected song id); ``upload``: the Edit view's controls, its source, its title and the
    id of the Library song it holds ("" for an upload)."""
    from studio.separation.keep import split_library_song, split_upload
    from studio.ui.runner import StageProgress

    def song_split(
        k: str | None, song_id: str | None, count: int, request: gr.Request, progress: gr.Progress
    ) -> list[Any]:
        if not song_id:
            raise StudioError("pick a song first, then press Split into stems.")
        result = split_library_song(
            library,
            visitor.owner_for(k),
            song_id,
            count,
            tier=visitor.tier_of(request),
            progress=StageProgress(progress),
            address=visitor.client_address(request),
        )
        return _shown(result)

    def may_split(k: str | None, _chosen: Any, _count: Any, request: gr.Request) -> list[dict]:
        """The rate and queue caps before the wait, for a script joining these buttons by fn_index."""
        return gpu_guard.verdict(lambda: gpu_guard.may_queue(request, k, "stem splits"), 3)

    def may_split_upload(
        k: str | None, _path: Any, _name: Any, _song: Any, _count: Any, request: gr.Request
    ) -> list[dict]:
        return gpu_guard.verdict(lambda: gpu_guard.may_queue(request, k, "stem splits"), 5)

    queued = {"concurrency_limit": gpu_concurrency, "api_visibility": "private", "validator": may_split, **_QUEUE}
    for index, (card, ids) in enumerate(cards):
        controls: StemsControls = card.stems

        @user_errors
        def from_card(k, shown, count, request: gr.Request, progress=gr.Progress(), i=index):  # noqa: B008
            chosen = shown[i] if isinstance(shown, list) and i < len(shown) else None
            return song_split(k, chosen, count, request, progress)

        controls.button.click(from_card, [key, ids, controls.count], controls.outputs(), **queued)

    controls, selected = library_panel

    @user_errors
    def from_library(k, song_id, count, request: gr.Request, progress=gr.Progress()):  # noqa: B008
        return song_split(k, song_id, count, request, progress)

    controls.button.click(from_library, [key, selected, controls.count], controls.outputs(), **queued)

    if upload is not None:
        edit_controls, source, title, song = upload

        @user_errors
        def from_upload(k, path, name, song_id, count, request: gr.Request, progress=gr.Progress()):  # noqa: B008
            if not path:
                raise StudioError(
                    "upload a song first (WAV, FLAC, MP3, OGG, M4A, Opus or WebM), then press Split into stems."
                )
            # A Library song opened here (its lossless file, ``<id>.wav``, still in the player) is split as
            # that song: the stems stay with it and its lyric check times the DAW pack's sections.
            if song_id and Path(path).stem == song_id:
                return song_split(k, song_id, count, request, progress)
            result = split_upload(
                library,
                visitor.owner_for(k),
                path,
                count,
                title=name or "",
                tier=visitor.tier_of(request),
                progress=StageProgress(progress),
                address=visitor.client_address(request),
            )
            return _shown(result)

        edit_controls.button.click(
            from_upload,
            [key, source, title, song, edit_controls.count],
            edit_controls.outputs(),
            **{**queued, "validator": may_split_upload},
        )


def register_api(library: Library, gpu_concurrency: int) -> None:
    """``/stems``: split an uploaded song; returns the zip and the DAW pack, and what the card says."""
    from studio.audio.upload import read_source
    from studio.separation.catalog import MAX_SECONDS, MIN_SECONDS, stem_set
    from studio.separation.flow import reservation
    from studio.separation.keep import split_upload
    from studio.ui import gpu_guard, uploads
    from studio.ui.runner import StageProgress

    @user_errors
    def stems(
        source: str | None = None,
        stems: float = 4,
        title: str = "",
        visitor_key: str = "",
        request: gr.Request = None,  # type: ignore[assignment]  # gradio fills it in
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (gradio's idiom)
    ) -> tuple[list[str], dict]:
        """Split an uploaded song (WAV, FLAC, MP3, OGG, M4A, Opus or WebM) into 2, 4 or 6 stems with Demucs."""
        whole = stems is not None and float(stems) == int(stems)
        count = stem_set(int(stems) if whole else stems).count  # 2.5 is refused, not rounded
        if not source:
            raise StudioError("`source` is required: upload the song to split (handle_file on the client).")
        path = uploads.inside_uploads(source, what="`source`")
        rate_key = "" if visitor_key else f"ip:{visitor.client_address(request)}"
        owner = visitor.owner_for(visitor_key)
        if gpu_guard.CHECK_ONLY.get():
            song = read_source(path, max_seconds=MAX_SECONDS, min_seconds=MIN_SECONDS, what="the song to split")
            reservation(song.seconds, visitor.tier_of(request))
            ratelimit.check_gpu(rate_key or owner, visitor.client_address(request), what="stem splits")
            return [], {}
        result = split_upload(
            library,
            owner,
            path,
            count,
            title=title,
            tier=visitor.tier_of(request),
            progress=StageProgress(progress),
            rate_key=rate_key,
            address=visitor.client_address(request),
        )
        info = result.public()
        # Server paths stay on the server: the caller gets the files themselves and their names.
        info["stems"] = {name: p.name for name, p in result.stems.items()}
        for field in ("zip", "pack", "card"):
            info[field] = getattr(result, field).name
        return [str(result.zip), str(result.pack)], info

    with gr.Column(visible=False):
        inputs = [
            uploads.source_file("source"),
            gr.Number(4, label="stems", precision=0),
            gr.Textbox("", label="title"),
            gr.Textbox("", label="visitor_key"),
        ]
        outputs = [gr.File(file_count="multiple", label="files"), gr.JSON(label="info")]
    gr.on(
        triggers=[],
        fn=stems,
        inputs=inputs,
        outputs=outputs,
        api_name="stems",
        concurrency_id=gpu_guard.GPU_QUEUE,
        concurrency_limit=gpu_concurrency,
        validator=gpu_guard.refuse_before_queueing(stems),
    )
