"""The Create view: lyrics, style, model, length, advanced options, and the Generate row."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from studio import presets, registry
from studio.ground.errors import StudioError
from studio.ground.vocabulary import Input
from studio.song import SongRequest
from studio.ui import forms
from studio.ui.lora_controls import LoraControls, build_lora_controls, takes_loras
from studio.ui.seams import clock

# A section tag goes on its own line where the caret is in the lyrics box (the end when it never had
# focus), with a blank line before it when text precedes. The box keeps its caret after losing focus.
INSERT_TAG_JS = """(text) => {
  const box = document.querySelector('#lyrics textarea');
  text = text || '';
  const at = box && box.selectionStart != null && box.value === text ? box.selectionStart : text.length;
  const before = text.slice(0, at).replace(/\\s*$/, '');
  const after = text.slice(at).replace(/^[ \\t]*\\n?/, '');
  return (before ? before + '\\n\\n' : '') + '[TAG]\\n' + after;
}"""


@dataclass
class CreateView:
    backend: gr.Dropdown
    model_info: gr.Markdown
    mode: gr.Radio
    description: gr.Textbox
    write_btn: gr.Button
    restore: gr.File
    title: gr.Textbox
    style: gr.Textbox
    lyrics: gr.Textbox
    instrumental: gr.Checkbox
    duration: gr.Slider
    takes: gr.Slider
    seed: gr.Textbox
    bpm: gr.Textbox
    key: gr.Dropdown
    time_signature: gr.Dropdown
    language: gr.Dropdown
    partial: gr.Checkbox
    fit_budget: gr.Checkbox
    keep_best: gr.Dropdown
    format_btn: gr.Button
    format_box: gr.Accordion
    formatted: gr.Code
    format_notes: gr.Markdown
    generate_btn: gr.Button
    cancel_btn: gr.Button
    estimate: gr.Markdown
    status: gr.Markdown
    options: list[tuple[forms.OptionControl, gr.Component]] = field(default_factory=list)
    lyric_tags: list[gr.Button] = field(default_factory=list)
    loras: LoraControls | None = None
    results: Any = None
    examples: Any = None  # gr.Examples; its load_input_event fills the form

    # -- the form as data ---------------------------------------------------------------------
    def fields(self) -> list[gr.Component]:
        """Every control that shapes a request, in the order ``fill`` returns values."""
        return [
            self.backend,
            self.title,
            self.style,
            self.lyrics,
            self.instrumental,
            self.duration,
            self.takes,
            self.seed,
            self.bpm,
            self.key,
            self.time_signature,
            self.language,
            self.partial,
            self.fit_budget,
            self.keep_best,
            self.mode,
            self.description,
            *[c for _, c in self.options],
            *(self.loras.components() if self.loras else []),
        ]

    def request_from(self, data: dict[gr.Component, Any]) -> SongRequest:
        backend = data[self.backend]
        if data.get(self.mode) == "Simple":
            raise StudioError(
                "In Simple mode, press “Write the song” first: it fills in the style and lyrics for you to "
                "edit, then Generate makes the song."
            )
        return forms.build_request(
            backend=backend,
            title=data[self.title],
            style=data[self.style],
            lyrics=data[self.lyrics],
            instrumental=data[self.instrumental],
            duration=data[self.duration],
            takes=data[self.takes],
            seed=data[self.seed],
            extras={
                "bpm": data[self.bpm],
                "key": data[self.key],
                "time_signature": data[self.time_signature],
                "language": data[self.language],
            },
            options={
                **{c.name: c.value_of(data[comp]) for c, comp in self.options if c.backend == backend},
                **self._lora_option(data, backend),
            },
            partial=data[self.partial],
            fit_budget=data[self.fit_budget],
            keep_best=best_of(data[self.keep_best], data[self.takes]),
        )

    def _lora_option(self, data: dict[gr.Component, Any], backend: str) -> dict[str, Any]:
        if self.loras is None or not takes_loras(backend):
            return {}
        refs = self.loras.refs(*(data[c] for c in self.loras.components()))
        return {"loras": refs} if refs else {}

    def fill(self, request: SongRequest) -> list[Any]:
        """Control values that reproduce ``request`` (for Reuse and Retake)."""
        opts = request.options
        return [
            request.backend,
            request.title,
            request.style,
            request.lyrics,
            request.instrumental,
            request.duration or registry.get_spec(request.backend).capabilities.default_duration_s,
            request.takes,
            forms.number_text(request.seed),
            forms.number_text(request.bpm),
            request.key or "",
            request.time_signature or "",
            request.language or "",
            request.partial,
            request.fit_budget,
            request.keep_best or 0,
            "Custom",
            "",
            *[
                c.shown(opts.get(c.name, c.default)) if c.backend == request.backend else gr.update()
                for c, _ in self.options
            ],
            *(self.loras.fill(opts) if self.loras else []),
        ]

    def draft_outputs(self) -> list[gr.Component]:
        return [self.style, self.lyrics, self.instrumental, self.duration, self.bpm, self.key,
                self.time_signature, self.language, self.mode]

    def fill_draft(self, draft: dict[str, Any], backend: str) -> list[Any]:
        return draft_values(draft, backend)

    def backend_updates(self, backend: str, duration: float | None = None) -> list[Any]:
        """What changes when another model is picked; outputs are ``backend_outputs()``. A length that
        changes with the model says so (issue 17.10: 60 s silently became 150 s)."""
        spec = registry.get_spec(backend)
        caps = spec.capabilities
        langs = [("auto", "")] + [(code, code) for code in caps.languages if code != "unknown"]
        length = min(max(caps.default_duration_s, caps.min_duration_s), caps.max_duration_s)
        info = duration_info(caps)
        if duration is not None and abs(float(duration) - length) >= 0.5:
            info += f" · set to {clock(length)}, {caps.display_name}'s usual length (was {clock(float(duration))})"
        return [
            forms.model_card(spec),
            # Back to Custom where the model takes no description, or its box would stay open without a mode.
            gr.update(visible=True) if caps.accepts(Input.DESCRIPTION) else gr.update(visible=False, value="Custom"),
            gr.update(minimum=caps.min_duration_s, maximum=caps.max_duration_s, value=length, info=info),
            gr.update(maximum=caps.max_takes),
            gr.update(visible=caps.max_takes > 1, value=0),  # one take a run: nothing to choose among
            gr.update(visible=caps.accepts(Input.BPM)),
            gr.update(visible=caps.accepts(Input.KEY)),
            gr.update(visible=caps.accepts(Input.TIME_SIGNATURE)),
            gr.update(visible=caps.accepts(Input.LANGUAGE) or not caps.inputs, choices=langs, value=""),
            gr.update(visible=forms.keeps_partial(caps)),
            *[gr.update(visible=c.backend == backend) for c, _ in self.options],
            *(self.loras.visibility(backend) if self.loras else []),
        ]

    def backend_outputs(self) -> list[gr.Component]:
        return [
            self.model_info,
            self.mode,
            self.duration,
            self.takes,
            self.keep_best,
            self.bpm,
            self.key,
            self.time_signature,
            self.language,
            self.partial,
            *[c for _, c in self.options],
            *(self.loras.outputs() if self.loras else []),
        ]


def _option_component(control: forms.OptionControl, visible: bool) -> gr.Component:
    """A backend option as a control: on/off as a checkbox, a choice (or on/off/auto) as a dropdown, a
    bounded number as a slider. Labels and choices come from studio.options, in the visitor's words."""
    common: dict[str, Any] = {"label": control.label, "info": control.info, "visible": visible,
                              "elem_id": f"option-{control.backend}-{control.name}"}
    if control.kind == "bool":
        return gr.Checkbox(value=bool(control.default), **common)
    if control.kind in ("choice", "auto-bool"):
        return gr.Dropdown(control.choice_labels(), value=control.shown(control.default), **common)
    step = 1 if control.kind == "int" else 0.05
    return gr.Slider(control.minimum, control.maximum, value=control.default, step=step, **common)


def _chips(label: str, items: list[presets.Preset], style: gr.Textbox) -> None:
    gr.HTML(f'<p class="chip-label">{label}</p>')
    with gr.Row(elem_classes="chips"):
        for preset in items:
            chip = gr.Button(preset.name, size="sm", variant="secondary", min_width=0)
            chip.click(
                lambda s, p=preset.style: presets.add_to_style(s, p),
                style,
                style,
                queue=False,
                api_visibility="private",
            )


def build_create(build_results: Callable[[], Any]) -> CreateView:
    default = registry.get_spec(registry.DEFAULT_BACKEND)
    caps = default.capabilities
    found = presets.load()
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=300):
            with gr.Group():
                backend = gr.Dropdown(
                    forms.model_choices(),
                    value=default.name,
                    label="Model",
                    info="Every model; the note below says why one cannot run here.",
                )
                model_info = gr.Markdown(forms.model_card(default), elem_classes="licence", padding=True)
            mode = gr.Radio(
                ["Custom", "Simple"],
                value="Custom",
                label="Mode",
                visible=caps.accepts(Input.DESCRIPTION),
                info="Simple: describe the song and the model writes the lyrics.",
            )
            description = gr.Textbox(
                label="Describe the song", visible=False, lines=2,
                placeholder="a melancholic bossa nova about the sea, soft male vocals",
                info=forms.sketch_line(default), elem_id="description",
            )
            write_btn = gr.Button("✍️ Write the song", visible=False, variant="secondary", elem_id="write")
            title = gr.Textbox(label="Title", placeholder="Untitled", max_lines=1)
            style = gr.Textbox(
                label="Style",
                lines=2,
                max_length=caps.max_style_chars,
                placeholder="dreamy synth pop, warm female vocals, 100 bpm",
            )
            _chips("Genres", found.get("genre", []), style)
            _chips("Moods", found.get("mood", []), style)
            lyrics = gr.Textbox(
                label="Lyrics",
                lines=9,
                max_lines=30,
                elem_id="lyrics",
                placeholder="[Verse]\nWrite your lines here…\n\n[Chorus]\n…",
                render=False,  # the section-tag toolbar sits above it but needs it as input
            )
            tags = []
            with gr.Row(elem_classes="tags chips") as tag_row:
                for tag in forms.SECTION_TAGS:
                    btn = gr.Button(f"[{tag}]", size="sm", min_width=0, variant="secondary")
                    # In the browser, at the caret of the lyrics box (issue 17.12: it always appended).
                    btn.click(None, lyrics, lyrics, js=INSERT_TAG_JS.replace("TAG", tag), queue=False,
                              api_visibility="private")
                    tags.append(btn)
            lyrics.render()
            instrumental = gr.Checkbox(label="Instrumental", value=False, elem_id="instrumental")
            # Takes and Keep side by side (how many made, how many kept); three controls in one row
            # squeezed "Instrumental" under its own width on a 390 px phone.
            with gr.Row():
                takes = gr.Slider(1, caps.max_takes, value=1, step=1, label="Takes", scale=2, min_width=170,
                                  elem_id="takes")
                keep_best = gr.Dropdown(
                    KEEP_CHOICES, value=0, label="Keep", scale=1, min_width=150, elem_id="keep-best",
                    visible=caps.max_takes > 1, info="Best of N: all are checked, the best kept.",
                )
            with gr.Column(elem_id="examples", min_width=0):
                # A checkbox column reads "true"/"false" in the table, and the lyrics are cut after a few
                # words anyway: the table shows title, style and, in words, whether it is sung (a column
                # of its own, never shown as a control); the hidden columns still fill the form.
                sung = gr.Textbox(label="Vocals", visible=False)
                examples = gr.Examples(
                    [[e["title"], e["style"], sung_words(e["instrumental"]), e["lyrics"], e["instrumental"]]
                     for e in load_examples()],
                    [title, style, sung, lyrics, instrumental], label="Start from an example", examples_per_page=3,
                    visible_columns=[0, 1, 2],
                )
            duration = gr.Slider(
                caps.min_duration_s,
                caps.max_duration_s,
                value=caps.default_duration_s,
                step=1,
                label="Duration (s)",
                info=duration_info(caps),
                elem_id="duration",
            )
            restore = gr.File(
                label="Reuse a song made here: drop its WAV, FLAC, MP3 or .song.json",
                file_types=[".wav", ".flac", ".mp3", ".json"],
                elem_id="restore",
            )
            format_btn = gr.Button("Format preview", size="sm", variant="secondary")
            with gr.Accordion("What the model receives", open=False) as format_box:
                format_notes = gr.Markdown()
                formatted = gr.Code(label="Lyrics sent", language=None, interactive=False, lines=8)
            with gr.Accordion("Advanced", open=False):
                seed = seed_box(elem_id="seed")
                with gr.Row():
                    bpm = whole_box("BPM", "auto", "30–300; empty lets the model choose.", elem_id="bpm")
                    key = gr.Dropdown(
                        forms.KEY_CHOICES, value="", label="Key", allow_custom_value=True, min_width=120
                    )
                    time_signature = gr.Dropdown(
                        forms.TIME_SIGNATURE_CHOICES, value="", label="Time signature", min_width=120
                    )
                    language = gr.Dropdown(
                        [("auto", "")] + [(c, c) for c in caps.languages if c != "unknown"],
                        value="",
                        label="Vocal language",
                        min_width=120,
                    )
                partial = gr.Checkbox(
                    value=False,
                    label="Keep a shorter song if time runs out",
                    info="If the GPU time reserved runs out, keep what the model made so far (ending in a "
                    "short fade) instead of an error.",
                    visible=forms.keeps_partial(caps),
                )
                fit_budget = fit_budget_checkbox("the song", "fewer takes, fewer steps, then shorter")
                options = []
                for control in forms.all_option_controls():
                    options.append((control, _option_component(control, control.backend == default.name)))
                loras = build_lora_controls(takes_loras(default.name))
            with gr.Row(elem_id="generate-row"):
                generate_btn = gr.Button(
                    "🎵 Generate", variant="primary", size="lg", scale=3, elem_id="generate"
                )
                cancel_btn = gr.Button(
                    "Cancel", variant="stop", size="lg", scale=1, visible=False, elem_id="cancel"
                )
            estimate = gr.Markdown(elem_id="estimate")
        with gr.Column(scale=2, min_width=300):
            status = gr.Markdown(
                "🎧 Your takes will appear here, and stay in your Library.", elem_id="status"
            )
            results = build_results()
    view = CreateView(
        backend=backend,
        model_info=model_info,
        mode=mode,
        description=description,
        write_btn=write_btn,
        restore=restore,
        title=title,
        style=style,
        lyrics=lyrics,
        instrumental=instrumental,
        duration=duration,
        takes=takes,
        seed=seed,
        bpm=bpm,
        key=key,
        time_signature=time_signature,
        language=language,
        partial=partial,
        fit_budget=fit_budget,
        keep_best=keep_best,
        format_btn=format_btn,
        format_box=format_box,
        formatted=formatted,
        format_notes=format_notes,
        generate_btn=generate_btn,
        cancel_btn=cancel_btn,
        estimate=estimate,
        status=status,
        options=options,
        lyric_tags=tags,
        loras=loras,
        results=results,
        examples=examples,
    )
    mode.change(
        # The planner line is read afresh: a sketch or another tab may have downloaded it meanwhile.
        lambda m, b: (gr.update(visible=m == "Simple", info=forms.sketch_line(registry.get_spec(b))),
                      gr.update(visible=m == "Simple"), gr.update(visible=m != "Simple"),
                      gr.update(visible=m != "Simple")),
        [mode, backend],
        [description, write_btn, lyrics, tag_row],
        queue=False,
        api_visibility="private",
    )
    return view


def load_examples() -> list[dict[str, Any]]:
    """The ready songs a first visitor can generate at once (assets/examples.json): title, style, lyrics and
    instrumental, each checked against the request model so a broken example fails here, not on Generate."""
    import json

    from studio.ui.theme import ASSETS

    examples = json.loads((ASSETS / "examples.json").read_text(encoding="utf-8"))
    for example in examples:
        SongRequest(title=example["title"], style=example["style"], lyrics=example["lyrics"],
                    instrumental=example["instrumental"])
    return examples


def sung_words(instrumental: bool) -> str:
    return "instrumental" if instrumental else "with vocals"


def duration_info(caps: Any) -> str:
    return f"{clock(caps.min_duration_s)}–{clock(caps.max_duration_s)} (min:s) for {caps.display_name}"


def whole_box(label: str, placeholder: str, info: str, **kwargs: Any) -> gr.Textbox:
    """A box for a whole number that may stay empty (see ``forms.whole_number``)."""
    return gr.Textbox(label=label, placeholder=placeholder, info=info, max_lines=1, min_width=100, **kwargs)


def seed_box(**kwargs: Any) -> gr.Textbox:
    return whole_box("Seed", "random", "Empty = a new random seed each run; the same seed and settings repeat "
                     "a song.", **kwargs)


# Best of N (``SongRequest.keep_best``): 0 keeps every take. The takes are all made (and priced by the
# budget guard as any takes are); the checks rank them and the rest are deleted (quality.finish).
KEEP_CHOICES = [("all takes", 0), ("the best", 1), ("the best 2", 2), ("the best 3", 3)]


def best_of(keep: Any, takes: Any) -> int:
    """The form's "Keep" as ``keep_best``, refused in the form's own words when there is nothing to choose."""
    keep = int(keep or 0)
    made = int(takes or 1)
    if keep and keep >= made:
        raise StudioError(
            f"“Keep” must be fewer than “Takes” to choose among them: {made} take{'s' if made > 1 else ''} "
            f"made, the best {keep} kept; raise Takes to {keep + 1} or more, or keep all takes."
        )
    return keep


def fit_budget_checkbox(what: str, how: str) -> gr.Checkbox:
    """The opt-in to "fit to my budget" (``SongRequest.fit_budget``), shown where GPU time is limited."""
    return gr.Checkbox(
        value=False,
        label="Fit to my GPU time",
        info=f"If {what} would not fit the GPU time you have, make it lighter ({how}) instead of refusing "
        "it; the status says what changed.",
        visible=forms.budget_is_limited(),
    )


def restored_values(view: CreateView, path: str | None) -> list[Any]:
    """The settings a studio-made file carries (its song card), as form values."""
    from studio.audio import read_card
    from studio.errors import validate
    from studio.ui.uploads import inside_uploads

    if not path:
        return [gr.update() for _ in view.fields()]
    # Only a file that came through gradio's upload folder is opened: no caller makes the server read
    # its own files (the same rule as songs to edit and LoRAs).
    source = inside_uploads(path, what="the song to take settings from")
    request = validate(SongRequest, read_card(source).params)
    return view.fill(request)


def draft_values(draft: dict[str, Any], backend: str) -> list[Any]:
    """Simple mode's sketch as values for ``CreateView.draft_outputs()``, back in Custom mode so the
    visitor can edit it before rendering."""
    meta = draft.get("metadata", {})
    caps = registry.get_spec(backend).capabilities
    duration = meta.get("duration")
    if duration:
        duration = min(max(float(duration), caps.min_duration_s), caps.max_duration_s)
    return [
        draft.get("caption", ""),
        draft.get("lyrics", ""),
        bool(draft.get("instrumental")),
        duration if duration else gr.update(),
        forms.number_text(meta.get("bpm") or None),
        meta.get("keyscale") or "",
        str(meta.get("timesignature") or ""),
        meta.get("language") if meta.get("language") in caps.languages else "",
        "Custom",
    ]
