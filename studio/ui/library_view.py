"""The Library view: every song this visitor made as a list of rows that fits a phone, with a panel to
play, rename, like, reuse, edit or delete the song a row opens.

The list is one gr.HTML: each row is play · title · style · length · model · date · like, and a tap
anywhere else on the row opens the song (issue 17.5: the spreadsheet it replaces was 700–900 px wide on
a 390 px phone and its rows could not be tapped). Its script sends ``select`` events with the song id
and the action; the server checks the owner on every one.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from studio.library import Library, Song
from studio.ui import visitor
from studio.ui.results import karaoke, length, like_label, lyrics_markdown, model_name, song_checks, song_head
from studio.ui.stems_controls import StemsControls, build_stems_controls

# Rows send {song, action}: "open" (the row), "like" (the heart) or "open" of the parent song (an edit's
# "edit of …" link); ▶ plays the row's file in the page without a round trip.
LIST_SCRIPT = """
let player = null, playing = null;
element.addEventListener('click', (event) => {
  const row = event.target.closest('[data-song]');
  if (!row) return;
  const hit = event.target.closest('[data-action]');
  const action = hit ? hit.dataset.action : 'open';
  if (action === 'play') {
    if (player && playing === hit) { player.pause(); player = null; playing = null; hit.textContent = '▶'; return; }
    if (player) { player.pause(); playing.textContent = '▶'; }
    player = new Audio(hit.dataset.src); playing = hit; hit.textContent = '⏸';
    player.addEventListener('ended', () => { hit.textContent = '▶'; player = null; playing = null; });
    player.play().catch(() => { hit.textContent = '▶'; });
    return;
  }
  if (action === 'parent') { trigger('select', {song: hit.dataset.parent, action: 'open'}); return; }
  trigger('select', {song: row.dataset.song, action: action});
});
"""


def parent_of(song: Song, by_id: dict[str, Song]) -> Song | None:
    """The song an edit was made from, when that song is in this visitor's library.

    A song opened with ✂ Edit reaches the Edit view as its library file, ``<song id>.<ext>``; gradio keeps
    the file name when it caches the upload, so the source's name is the parent's id."""
    source = song.request.get("source_audio") if song.request.get("task", "text2music") != "text2music" else None
    return by_id.get(Path(str(source)).stem) if source else None


def _made(song: Song) -> str:
    return time.strftime("%Y-%m-%d", time.localtime(song.created_at))


def song_list_html(songs: list[Song], parents: dict[str, Song] | None = None) -> str:
    """The list's rows as HTML (titles and styles escaped: visitors write them)."""
    parents = parents or {}
    if not songs:
        return '<p class="song-empty">No songs here yet.</p>'
    rows = []
    for song in songs:
        title, style = html.escape(song.title), html.escape(song.style or "no style")
        parent = parents.get(song.id)
        link = (
            f' · edit of <button class="song-parent" data-action="parent" data-parent="{parent.id}">'
            f"{html.escape(parent.title)}</button>"
            if parent
            else ""
        )
        src = html.escape(f"gradio_api/file={song.audio_path}", quote=True)
        heart = "♥" if song.liked else "♡"
        rows.append(
            f'<li class="song-row" data-song="{song.id}">'
            f'<button class="song-play" data-action="play" data-src="{src}" aria-label="Play {title}">▶</button>'
            f'<div class="song-main" role="button" tabindex="0" aria-label="Open {title}">'
            f'<div class="song-title">{title}</div><div class="song-style">{style}</div>'
            f'<div class="song-meta">{length(song.duration)} · {html.escape(model_name(song.backend))} · '
            f"{_made(song)}{link}</div></div>"
            f'<button class="song-like" data-action="like" aria-label="Like {title}">{heart}</button></li>'
        )
    return f'<ul class="song-list">{"".join(rows)}</ul>'


@dataclass
class LibraryView:
    search: gr.Textbox
    liked_only: gr.Checkbox
    refresh: gr.Button
    summary: gr.Markdown
    songs: gr.HTML
    selected: gr.State
    panel: gr.Group
    head: gr.HTML
    audio: gr.Audio
    title: gr.Textbox
    rename: gr.Button
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
        return [self.summary, self.songs]

    def panel_outputs(self) -> list[gr.Component]:
        return [self.panel, self.head, self.audio, self.title, self.like, self.lyrics, self.selected, self.confirm_row]


def list_values(library: Library, key: str | None, query: str, liked_only: bool) -> list[Any]:
    owner = visitor.owner_for(key)
    songs = library.list(owner, query or "", liked_only=bool(liked_only))
    total = library.count(owner)
    if total == 0:
        summary = "No songs yet — make one in **Create** and it will be kept here."
    elif query or liked_only:
        summary = f"{len(songs)} of {total} songs match."
    else:
        summary = f"{total} song{'s' if total != 1 else ''}, newest first. Tap one to open it, ▶ to listen."
    everyone = {s.id: s for s in library.list(owner)} if query or liked_only else {s.id: s for s in songs}
    parents = {s.id: p for s in songs if (p := parent_of(s, everyone)) is not None}
    return [summary, song_list_html(songs, parents)]


def panel_values(song: Song | None) -> list[Any]:
    if song is None:
        return [
            gr.update(visible=False),
            "",
            gr.update(value=None, subtitles=None),
            "",
            like_label(None),
            "",
            None,
            gr.update(visible=False),
        ]
    return [
        gr.update(visible=True),
        song_head(song),
        # The karaoke line too: a take's lyric check is written after it became playable (studio.later),
        # so a song opened here is where its heard lines show while it plays.
        gr.update(value=str(song.audio_path), subtitles=karaoke(song_checks(song))),
        song.title,
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
            min_width=160,
            max_lines=1,
            elem_id="library-search",
        )
        liked_only = gr.Checkbox(label="♥ only", scale=1, min_width=90, elem_id="liked-only")
        refresh = gr.Button("Refresh", size="sm", scale=1, min_width=80)
    summary = gr.Markdown()
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=300):
            songs = gr.HTML(song_list_html([]), js_on_load=LIST_SCRIPT, elem_id="library-list")
        with gr.Column(scale=2, min_width=300), gr.Group(visible=False, elem_classes="song-card") as panel:
            head = gr.HTML()
            audio = gr.Audio(
                type="filepath",
                interactive=False,
                show_label=False,
                buttons=["download"],
                elem_id="library-player",
            )
            with gr.Row(equal_height=True):
                title = gr.Textbox(label="Title", max_lines=1, scale=3, min_width=160, elem_id="library-title")
                rename = gr.Button("Rename", size="sm", scale=1, min_width=80)
            with gr.Row(elem_classes="card-actions"):
                like = gr.Button("♡ Like", size="sm", min_width=0)
                reuse = gr.Button("Reuse settings", size="sm", min_width=0)
                edit = gr.Button("✂ Edit", size="sm", min_width=0)
                delete = gr.Button("🗑 Delete", size="sm", variant="stop", min_width=0)
            with gr.Row(visible=False) as confirm_row:
                gr.Markdown("Delete this song for good?")
                confirm = gr.Button("Delete", size="sm", variant="stop", min_width=0, elem_id="confirm-delete")
                keep = gr.Button("Keep", size="sm", min_width=0)
            with gr.Accordion("Lyrics", open=False):
                lyrics = gr.Markdown()
            stems = build_stems_controls("library")
    return LibraryView(
        search=search,
        liked_only=liked_only,
        refresh=refresh,
        summary=summary,
        songs=songs,
        selected=gr.State(None),
        panel=panel,
        head=head,
        audio=audio,
        title=title,
        rename=rename,
        like=like,
        reuse=reuse,
        delete=delete,
        confirm_row=confirm_row,
        confirm=confirm,
        keep=keep,
        lyrics=lyrics,
        edit=edit,
        stems=stems,
    )
