"""The Edit view: cover, repaint, extend, pull a stem out of or split a song into stems, uploaded or
from the Library.

Which model tasks there are, which controls each needs and which weights it loads all come from
``studio.request.task_info.tasks_for`` (the task table), so a task added there shows up here unchanged. The
last entry, "Split into stems", is the studio's own Demucs split (``studio.separation``), the same
for every model: picking it swaps the edit's controls for the stem count and a Split button.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from studio import registry
from studio.audio.upload import SUFFIXES
from studio.errors import validate
from studio.ground.errors import StudioError
from studio.request import task_info as tasks_table
from studio.separation.catalog import STEMS_TASK
from studio.song import SongRequest
from studio.tasks import TASKS, default_title
from studio.ui import forms, uploads
from studio.ui.create import fit_budget_checkbox, seed_box
from studio.ui.seams import clock
from studio.ui.stems_controls import StemsControls, build_stems_controls

# What the drop zone offers in the file picker: every suffix the studio decodes (studio.audio.upload).
SOURCE_TYPES = list(SUFFIXES)
IDLE_STATUS = "✂ Edited songs appear here, and stay in your Library."


# The task table is shared with the CLI and speaks in request fields; the page names its controls instead
# (issue 17.10: `cover_strength` and `extend_by` reached the page).
CONTROL_WORDS = {"cover_strength": "“Follow the source”", "extend_by": "“Add (s) after the end”"}


def in_words(text: str) -> str:
    for field_name, words in CONTROL_WORDS.items():
        text = re.sub(rf"`?\b{field_name}\b`?", words, text)
    return text


def editing_backends() -> list[str]:
    """Backends that can do more than write a new song."""
    return [s.name for s in registry.all_specs() if set(s.capabilities.tasks) - {"text2music"}]


STEMS_TITLE = "Split into stems"


def task_choices(backend: str) -> list[tuple[str, str]]:
    # A task the configured weights cannot do (e.g. cover without ACE-Step's audio tokenizer pair) is hidden.
    infos = tasks_table.tasks_for(backend)
    tasks = [(info.title, info.task) for info in infos if info.task != "text2music" and info.supported]
    return [*tasks, (STEMS_TITLE, STEMS_TASK)]  # Demucs, not the model: offered whatever the model


def stems_estimate(source: str | None, tier: str | None) -> str:
    """The split's GPU reservation for the song, as the estimate line says it (or why it does not fit)."""
    from studio.separation.flow import reservation

    seconds = source_seconds(source)
    if not seconds:
        return ""
    try:
        held = reservation(seconds, tier)
    except StudioError as exc:
        return f"⏱ {exc}"
    from studio.ground.vocabulary import DeviceClass

    if held.estimate.device is DeviceClass.CPU:  # a CPU's seconds are no GPU time (as estimate_line says)
        return f"⏱ Splitting {seconds:.0f} s of audio takes about {clock(held.needed_s)} on this CPU."
    return f"⏱ Splitting {seconds:.0f} s of audio reserves about {clock(held.needed_s)} of GPU time."


def source_seconds(path: str | None) -> float | None:
    """The uploaded song's length from its header (nothing decoded), for the range sliders."""
    if not path:
        return None
    from studio.audio.decoding import probe

    try:
        header = probe(Path(path))
    except Exception:  # the request's own check names what is wrong with the file
        return None
    return header.frames / header.rate if header.frames else None


def landed_upload_problem(path: str | None) -> str | None:
    """Why a file just dropped on the Edit view cannot be a song (not audio, cut short), or None:
    said when it lands, not when Edit is pressed."""
    if not path:
        return None
    from studio.audio.decoding import NotAudio, Truncated, probe

    name = Path(path).name
    not_audio = f"{name} is not audio this studio can read; upload a WAV, FLAC, MP3, OGG, M4A/AAC, Opus or WebM file."
    if Path(path).suffix.lower() not in SUFFIXES:  # read_source refuses it later anyway: say so now
        return not_audio
    try:
        probe(Path(path))
    except Truncated:
        return f"{name} is truncated (the file ends before its audio does); upload the whole file again."
    except (NotAudio, OSError):
        return not_audio
    return None


@dataclass
class EditView:
    backend: gr.Dropdown
    task: gr.Radio
    task_note: gr.Markdown
    drop: gr.File  # where a song lands; it reaches the server whatever the file holds (see build_edit)
    source: gr.Audio  # the song to edit, in a player: only a file the server has read lands here
    player_box: gr.Column
    source_note: gr.Markdown
    start: gr.Slider
    end: gr.Slider
    extend_by: gr.Slider
    cover_strength: gr.Slider
    track: gr.Dropdown
    style: gr.Textbox
    lyrics: gr.Textbox
    seed: gr.Textbox
    takes: gr.Slider
    fit_budget: gr.Checkbox
    generate_btn: gr.Button
    cancel_btn: gr.Button
    estimate: gr.Markdown
    status: gr.Markdown
    source_title: gr.State  # a Library song's title, to name the edit after it
    source_song: gr.State  # a Library song's id, so its stems stay with it and its checks time the DAW pack
    stems: StemsControls
    stems_box: gr.Column
    edit_only: list[gr.Component]  # what an edit needs and a split does not: hidden while splitting
    results: Any = None

    def fields(self) -> list[gr.Component]:
        """Every control that shapes an edit request, in the order ``fill`` returns values.

        The page applies an update's values in this order, and setting the task or the song fires their
        change events at once: the range comes first, so those events read the new range against the new
        maximum ("Value 600 is greater than maximum value 12.0", issue 17.8)."""
        return [
            self.backend,
            self.start,
            self.end,
            self.extend_by,
            self.cover_strength,
            self.track,
            self.style,
            self.lyrics,
            self.seed,
            self.takes,
            self.fit_budget,
            self.source_title,
            self.task,
            self.source,
        ]

    def request_from(self, data: dict[gr.Component, Any]) -> SongRequest:
        """A validated request; controls the task does not use are left out so they cannot refuse it."""
        backend, task = data[self.backend], data[self.task]
        if task == STEMS_TASK:
            raise StudioError("a split is not an edit: press ✂ Split into stems under the stem count.")
        kind = TASKS[task]
        source = data[self.source]
        if not source:
            raise StudioError(
                f"upload the song to edit first (WAV, FLAC, MP3, OGG, M4A, Opus or WebM), then press {kind.title}."
            )
        track = data[self.track]
        if isinstance(track, list):
            track = ",".join(track)
        fields: dict[str, Any] = {
            "backend": backend,
            "task": task,
            "source_audio": str(uploads.inside_uploads(source, what="the song to edit")),
            "style": data[self.style] or "",
            "lyrics": (data[self.lyrics] or "") if kind.uses_lyrics else "",
            "seed": forms.whole_number(data[self.seed], "seed"),
            "takes": int(data[self.takes] or 1),
            "fit_budget": bool(data[self.fit_budget]),
        }
        if kind.uses_range:
            fields["start"], fields["end"] = float(data[self.start]), float(data[self.end])
        if kind.uses_extend:
            fields["extend_by"] = float(data[self.extend_by])
        if kind.uses_strength:
            fields["cover_strength"] = float(data[self.cover_strength])
        if kind.track != "none" and track:
            fields["track"] = track
        if data[self.source_title]:
            fields["title"] = default_title(task, source, track, name=data[self.source_title])[:200]
        return validate(SongRequest, fields)

    def fill(self, request: SongRequest) -> list[Any]:
        """Control values that reproduce ``request`` (Reuse and Retake of an edit)."""
        kind = TASKS[request.task]
        track: Any = request.track or (None if kind.track != "list" else [])
        if kind.track == "list" and isinstance(track, str):
            track = [t for t in track.split(",") if t]
        # The upload folder is emptied after a while; an edit whose source has gone asks for it again.
        source = request.source_audio if request.source_audio and Path(request.source_audio).is_file() else None
        # The edit's own range (4–8 s); the task/source refresh that follows keeps it (issue 17.8).
        return [
            request.backend,
            request.start if request.start is not None else gr.update(),
            request.end if request.end is not None else gr.update(),
            request.extend_by if request.extend_by is not None else gr.update(),
            request.cover_strength if request.cover_strength is not None else gr.update(),
            track,
            request.style,
            request.lyrics,
            forms.number_text(request.seed),
            request.takes,
            request.fit_budget,
            "",
            request.task,
            source,
        ]

    def open_song(
        self, path: str, title: str, style: str, lyrics: str, backend: str, task: str, song_id: str = ""
    ) -> list[Any]:
        """Values for ``open_outputs()``: a song becomes the one to edit, with its style and lyrics (which
        cover and repaint start from) and the range set to the whole song."""
        shaped = self.task_updates(backend, task, path)
        at = self.task_outputs().index(self.lyrics)  # one update per component: its visibility and the text
        shaped[at] = {**shaped[at], "value": lyrics}
        at = self.task_outputs().index(self.style)
        shaped[at] = {**shaped[at], "value": style}
        return [song_id, title, *shaped, path]

    def open_outputs(self) -> list[gr.Component]:
        """The song last: setting it fires its change event, which must read the range set here (see fields)."""
        return [self.source_song, self.source_title, *self.task_outputs(), self.source]

    def task_updates(
        self, backend: str, task: str, source: str | None, start: float | None = None, end: float | None = None
    ) -> list[Any]:
        """What changes when another task is picked or another song is loaded: ``task_outputs()``.

        A range already inside the song (a reused edit's) is kept; otherwise it becomes the whole song."""
        if task == STEMS_TASK:
            return self._stems_updates(source)
        info = tasks_table.task_info(backend, task)
        kind = TASKS[task]
        seconds = source_seconds(source)
        note = f"**{info.title}** — {in_words(info.summary)}\n\nRuns on **{info.weights_name}**."
        if info.note:
            note += f" {in_words(info.note)}"
        longest = registry.get_spec(backend).capabilities.max_duration_s
        span = seconds if seconds else longest
        keep = start is not None and end is not None and 0 <= start < end <= span and (start, end) != (0, longest)
        # The whole song, on the sliders' 0.1 s steps: an m4a's header says 11.02133 s (its encoder's padding)
        # and the "To" box showed all five decimals. Down, not to the nearest: the range stays inside the song.
        start, end = (start, end) if keep else (0, math.floor(span * 10 + 1e-6) / 10)
        source_note = (
            f"Source: {seconds:.1f} s." if seconds else "Upload a song, or pick one in your Library and press ✂ Edit."
        )
        multiple = kind.track == "list"
        # The range sliders keep the model's longest song as their maximum: gradio checks a value against
        # the maximum on the server, and a tab never opened yet sends its old value (600) with the next
        # event, so a maximum shrunk to the song refused it ("Value 600 is greater than maximum value
        # 10.0", issue 17.8). The song's own length is in the info line; the edit's check refuses a range
        # past it with a sentence.
        within = f"0–{seconds:.1f} s: the whole song" if seconds else None
        return [
            note,
            source_note,
            gr.update(visible=info.uses_range, maximum=longest, value=start, info=within),
            gr.update(visible=info.uses_range, maximum=longest, value=end, info=within),
            gr.update(visible=info.uses_extend, maximum=max(1.0, longest - (seconds or 0))),
            gr.update(visible=info.uses_strength),
            gr.update(
                visible=info.track != "none",
                choices=list(info.tracks),
                multiselect=multiple,
                value=[] if multiple else (info.tracks[0] if info.track == "required" and info.tracks else None),
                label="Parts to add" if multiple else "Stem",
            ),
            gr.update(visible=kind.uses_lyrics),
            gr.update(visible=True),  # style
            *[gr.update(visible=c is not self.fit_budget or forms.budget_is_limited()) for c in self.edit_only],
            gr.update(visible=False),  # the stems box
            gr.update(visible=bool(source)),  # the player
        ]

    def _stems_updates(self, source: str | None) -> list[Any]:
        seconds = source_seconds(source)
        # The stem sets are listed once, under the count; the note says what the split gives.
        note = (
            f"**{STEMS_TITLE}** — separate parts of the whole song, made by Demucs whatever model made it. "
            "They add back up to the mix, and a DAW pack (stems, mix, tempo, key, sections, lyrics) comes "
            "with them."
        )
        source_note = (
            f"Source: {seconds:.1f} s." if seconds else "Upload a song, or pick one in your Library and press ✂ Edit."
        )
        hidden = gr.update(visible=False)
        return [
            note,
            source_note,
            *[hidden] * 7,
            *[hidden] * len(self.edit_only),
            gr.update(visible=True),
            gr.update(visible=bool(source)),
        ]

    def task_outputs(self) -> list[gr.Component]:
        return [
            self.task_note,
            self.source_note,
            self.start,
            self.end,
            self.extend_by,
            self.cover_strength,
            self.track,
            self.lyrics,
            self.style,
            *self.edit_only,
            self.stems_box,
            self.player_box,
        ]


def build_edit(build_results: Any) -> EditView:
    backends = editing_backends()
    backend_name = registry.DEFAULT_BACKEND if registry.DEFAULT_BACKEND in backends else (backends or [""])[0]
    choices = task_choices(backend_name) if backend_name else []
    first = choices[0][1] if choices else "cover"
    longest = registry.get_spec(backend_name).capabilities.max_duration_s if backend_name else 600.0
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=300):
            backend = gr.Dropdown(
                [(registry.get_spec(b).capabilities.display_name, b) for b in backends],
                value=backend_name or None,
                label="Model",
                visible=len(backends) > 1,
            )
            # A gr.File, not an upload gr.Audio: gradio's Audio drop zone decodes a file in the browser
            # first and, when that fails (a text file renamed .mp3), sends no event at all, so nothing could
            # say why the song vanished (issue 17.13). A file always reaches the server, which reads its
            # header (``landed_upload_problem``) and only then puts the song in the player below.
            drop = gr.File(
                label="Song to edit (WAV, FLAC, MP3, OGG, M4A, Opus or WebM)",
                file_types=SOURCE_TYPES,
                type="filepath",
                elem_id="edit-source",
            )
            with gr.Column(visible=False) as player_box:
                source = gr.Audio(
                    type="filepath",
                    interactive=False,
                    label="Loaded song",
                    buttons=["download"],
                    elem_id="edit-player",
                )
            source_note = gr.Markdown("Upload a song, or pick one in your Library and press ✂ Edit.")
            task = gr.Radio(choices, value=first, label="What to do", elem_id="edit-task")
            task_note = gr.Markdown(elem_classes="licence", padding=True)
            with gr.Column(visible=False, elem_id="edit-stems") as stems_box:
                stems = build_stems_controls("edit-source", accordion=False)
            with gr.Row():
                start = gr.Slider(0, longest, value=0, step=0.1, label="From (s)", min_width=150)
                end = gr.Slider(0, longest, value=longest, step=0.1, label="To (s)", min_width=150)
            extend_by = gr.Slider(1, longest, value=30, step=1, label="Add (s) after the end", visible=False)
            cover_strength = gr.Slider(
                0,
                1,
                value=1.0,
                step=0.05,
                label="Follow the source",
                visible=False,
                info="1 keeps the melody and structure closely; lower lets the new style take over.",
            )
            track = gr.Dropdown([], label="Stem", visible=False)
            style = gr.Textbox(label="Style", lines=2, placeholder="the new style, e.g. acoustic folk, female vocals")
            lyrics = gr.Textbox(label="Lyrics", lines=6, max_lines=30, placeholder="[Verse]\n…", elem_id="edit-lyrics")
            with gr.Row():
                seed = seed_box(elem_id="edit-seed")
                takes = gr.Slider(1, 4, value=1, step=1, label="Takes", min_width=160)
            fit_budget = fit_budget_checkbox("the edit", "fewer takes or steps; an edit is never shortened")
            with gr.Row(elem_id="edit-row"):
                generate_btn = gr.Button("✂ Edit the song", variant="primary", size="lg", scale=3, elem_id="edit")
                cancel_btn = gr.Button(
                    "Cancel", variant="stop", size="lg", scale=1, visible=False, elem_id="edit-cancel"
                )
            estimate = gr.Markdown(elem_id="edit-estimate")
        with gr.Column(scale=2, min_width=300):
            status = gr.Markdown(IDLE_STATUS, elem_id="edit-status")
            results = build_results()
    return EditView(
        backend=backend,
        task=task,
        task_note=task_note,
        drop=drop,
        source=source,
        player_box=player_box,
        source_note=source_note,
        start=start,
        end=end,
        extend_by=extend_by,
        cover_strength=cover_strength,
        track=track,
        style=style,
        lyrics=lyrics,
        seed=seed,
        takes=takes,
        fit_budget=fit_budget,
        generate_btn=generate_btn,
        cancel_btn=cancel_btn,
        estimate=estimate,
        status=status,
        source_title=gr.State(""),
        source_song=gr.State(""),
        stems=stems,
        stems_box=stems_box,
        edit_only=[seed, takes, fit_budget, generate_btn],
        results=results,
    )
