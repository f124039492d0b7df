"""The Library view: every song this visitor made, searchable, with likes, reuse and delete."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from studio.library import Library, Song
from studio.ui import visitor
from studio.ui.results import length, like_label, lyrics_markdown, model_name, song_head
from studio.ui.stems_controls import StemsControls, build_stems_controls

HEADERS = ["♥", "Song", "Length", "Model"]


def rows(songs: list[Song]) -> list[list[str]]:
    return [
        ["♥" if s.liked else "", f"{s.title} — {s.style}" if s.style else s.title, length(s.duration),
         model_name(s.backend)]
        for s in songs
    ]  # fmt: skip


@dataclass
class LibraryView:
    search: gr.Textbox
    liked_only: gr.Checkbox
    refresh: gr.Button
    summary: gr.Markdown
    table: gr.Dataframe
    ids: gr.State
    selected: gr.State
    panel: gr.Group
    head: gr.HTML
    audio: gr.Audio
    like: gr.Button
    reuse: gr.Button
    delete: gr.Button
    confirm_row: gr.Row
    confirm: gr.Button
    keep: gr.Button
    lyrics: gr.Markdown
    edit: gr.Button | None = None  # ✂ Edit: the song becomes the Edit view's source
    stems: StemsControls | None = None  # Split into stems (studio.ui.stems_controls)

    def list_outputs(self) -> list[gr.Component]:
        return [self.summary, self.table, self.ids]

    def panel_outputs(self) -> list[gr.Component]:
        return [self.panel, self.head, self.audio, self.like, self.lyrics, self.selected, self.confirm_row]


def list_values(library: Library, key: str | None, query: str, liked_only: bool) -> list[Any]:
    owner = visitor.owner_for(key)
    songs = library.list(owner, query or "", liked_only=bool(liked_only))
    total = library.count(owner)
    if total == 0:
        summary = "No songs yet — make one in **Create** and it will be kept here."
    elif query or liked_only:
        summary = f"{len(songs)} of {total} songs match."
    else:
        summary = f"{total} song{'s' if total != 1 else ''}, newest first. Pick one to play it."
    return [summary, rows(songs), [s.id for s in songs]]


def panel_values(song: Song | None) -> list[Any]:
    if song is None:
        return [gr.update(visible=False), "", None, like_label(None), "", None, gr.update(visible=False)]
    return [
        gr.update(visible=True),
        song_head(song),
        str(song.audio_path),
        like_label(song),
        lyrics_markdown(song),
        song.id,
        gr.update(visible=False),
    ]


def build_library() -> LibraryView:
    with gr.Row(equal_height=True):
        search = gr.Textbox(
            placeholder="Search title, style, lyrics or model",
            show_label=False,
            scale=4,
            min_width=180,
            max_lines=1,
            elem_id="library-search",
        )
        liked_only = gr.Checkbox(label="♥ only", scale=1, min_width=90)
        refresh = gr.Button("Refresh", size="sm", scale=1, min_width=80)
    summary = gr.Markdown()
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=300):
            table = gr.Dataframe(
                headers=HEADERS,
                datatype=["str"] * len(HEADERS),
                interactive=False,
                wrap=True,
                elem_id="library-table",
                max_height=520,
            )
        with gr.Column(scale=2, min_width=300), gr.Group(visible=False, elem_classes="song-card") as panel:
            head = gr.HTML()
            audio = gr.Audio(
                type="filepath",
                interactive=False,
                show_label=False,
                buttons=["download"],
                elem_id="library-player",
            )
            with gr.Row():
                like = gr.Button("♡ Like", size="sm", min_width=0)
                reuse = gr.Button("Reuse settings", size="sm", min_width=0)
                edit = gr.Button("✂ Edit", size="sm", min_width=0)
                delete = gr.Button("🗑 Delete", size="sm", variant="stop", min_width=0)
            with gr.Row(visible=False) as confirm_row:
                gr.Markdown("Delete this song for good?")
                confirm = gr.Button(
                    "Delete", size="sm", variant="stop", min_width=0, elem_id="confirm-delete"
                )
                keep = gr.Button("Keep", size="sm", min_width=0)
            with gr.Accordion("Lyrics", open=False):
                lyrics = gr.Markdown()
            stems = build_stems_controls("library")
    return LibraryView(
        search,
        liked_only,
        refresh,
        summary,
        table,
        gr.State([]),
        gr.State(None),
        panel,
        head,
        audio,
        like,
        reuse,
        delete,
        confirm_row,
        confirm,
        keep,
        lyrics,
        edit,
        stems,
    )
