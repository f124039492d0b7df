"""Named API endpoints for gradio_client: /generate, /edit, /format_lyrics, /plan, /tasks, /backends,
/library.

Formatting, planning, listing models, tasks and songs answer at once (no queue); /generate and /edit
join the one GPU queue the UI's Generate button uses, under the same rate limit and ZeroGPU tier,
after a validator has refused at once what the queued call would refuse after the wait.
API callers identify themselves with a ``visitor_key`` (returned by /generate or /edit on a Space)
instead of the browser's stored key. A song to edit arrives as an uploaded file (``handle_file`` on
the client); a path on the server is never opened.
"""

from __future__ import annotations

import json
from typing import Any

import gradio as gr

from studio import ratelimit, registry
from studio import weights as weights_source
from studio.errors import shown, validate
from studio.ground.errors import StudioError
from studio.library import Library
from studio.request import prepare as road
from studio.request.task_info import tasks_for
from studio.song import SongRequest
from studio.tasks import get_task
from studio.ui import forms, gpu_guard, late_inputs, queue_caps, runner, seams, uploads, visitor
from studio.ui.errors import user_errors
from studio.ui.gpu_guard import GPU_QUEUE, refuse_before_queueing
from studio.ui.uploads import source_file


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
    partial: bool = False,
    fit_budget: bool = False,
    keep_best: float | None = None,
) -> SongRequest:
    return forms.build_request(
        backend=_text(backend, "backend") or registry.DEFAULT_BACKEND,
        title=title,
        style=style,
        lyrics=lyrics,
        instrumental=instrumental,
        duration=duration,
        takes=takes or 1,
        seed=seed,
        extras={"bpm": bpm, "key": key, "time_signature": time_signature, "language": language},
        options=_options(options),
        partial=partial,
        fit_budget=fit_budget,
        keep_best=keep_best,
    )


def _tier(tier: object) -> str:
    """An API caller's ``tier`` (empty = theirs), in any case; anything else is one sentence."""
    from studio.budget.tiers import Tier

    if tier in (None, ""):
        return ""
    names = [t.value for t in Tier]
    value = str(tier).strip().lower()
    if not isinstance(tier, str) or value not in names:
        raise StudioError(f"`tier` must be one of {', '.join(names)} (or empty for yours), got {shown(tier)}.")
    return value


def _text(value: object, name: str) -> str:
    """A text input (None = empty); a number or a list where text belongs is one sentence."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise StudioError(f"`{name}` must be text, got {shown(value)}.")
    return value


def _limit(limit: object, default: int = 50, most: int = 1000) -> int:
    """A count a caller may leave out (None = ``default``); a bool, text or list is one sentence."""
    if limit is None:
        return default
    if isinstance(limit, bool) or not isinstance(limit, (int, float)) or limit != limit or not 1 <= limit <= most:
        raise StudioError(f"`limit` must be a whole number from 1 to {most}, got {shown(limit)}.")
    return int(limit)


def _options(options: str | dict | None) -> dict:
    """The ``options`` JSON object as a dict (empty text = no options)."""
    if isinstance(options, str):
        try:
            options = json.loads(options) if options.strip() else {}
        except json.JSONDecodeError as exc:
            raise StudioError(f'`options` must be a JSON object like {{"steps": 8}}; {exc.msg}.') from None
    if options is not None and not isinstance(options, dict):
        raise StudioError('`options` must be a JSON object like {"steps": 8}.')
    return options or {}


def _seed(seed: float | None) -> float | None:
    return None if seed is None or seed < 0 else seed


def _edit_request(
    source: str | None,
    task: str,
    *,
    start: float | None = None,
    end: float | None = None,
    extend_by: float | None = None,
    track: str = "",
    cover_strength: float | None = None,
    style: str = "",
    lyrics: str = "",
    seed: float | None = None,
    takes: float = 1,
    options: str | dict | None = None,
    backend: str = "",
    title: str = "",
    fit_budget: bool = False,
) -> SongRequest:
    """A validated editing request; only a file gradio received is accepted as the source, and a
    field left empty stays unset (the task's own check refuses a field it does not use)."""
    kind = get_task((task or "").strip().lower())
    if not kind.needs_source:
        raise StudioError(f"/edit changes an existing song; for {kind.name} call /generate instead.")
    if not source:
        raise StudioError(f"the {kind.name} task needs the song to edit; pass it as `source` (handle_file(path)).")
    fields: dict[str, Any] = {
        "backend": backend or registry.DEFAULT_BACKEND,
        "task": kind.name,
        "source_audio": str(uploads.inside_uploads(source, what="the song to edit")),
        "title": title or "",
        "style": style or "",
        "lyrics": lyrics or "",
        "seed": forms._whole(_seed(seed)),
        "takes": forms._whole(takes) or 1,
        "options": uploads.checked_loras(_options(options)),
        "start": start,
        "end": end,
        "extend_by": extend_by,
        "track": track or None,
        "cover_strength": cover_strength,
        "fit_budget": bool(fit_budget),
    }
    return validate(SongRequest, fields)  # type: ignore[return-value]


def tasks_info(backend: str, tier: str | None = None) -> list[dict[str, Any]]:
    """Every task ``backend`` can do with the weights it loads and their cost, as plain data. A
    weights folder on this server is named as such, not by its path."""
    out = []
    for info in tasks_for(backend or registry.DEFAULT_BACKEND, tier):
        row = info.model_dump(mode="json")
        if weights_source.looks_local(row["weights"]):
            row["weights"] = "a folder on this server"
        out.append(row)
    return out


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
        """The exact lyrics and style the model will receive, with the formatter's fixes and errors.
        Call it before /generate to see how lyrics in any tag dialect are rewritten for the model.

        Args:
            lyrics: Song lyrics with section tags such as [Verse], [Chorus] (any common dialect).
            style: Genre, mood, instruments and voice, e.g. "dreamy synth pop, female vocals".
            backend: Model name: acestep (default), levo2 or heartmula (see /backends).
            duration: Planned length in seconds, or empty to let the lyrics decide.
            instrumental: True for a song without vocals.
        """
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
        fit_budget: bool = False,
        request: gr.Request = None,  # type: ignore[assignment]  # gradio fills it in
    ) -> dict:
        """GPU seconds this song would take, the cap, the decision and alternatives, before anything runs.

        Args:
            lyrics: Song lyrics with section tags, as for /generate.
            style: Genre, mood, instruments and voice.
            backend: Model name: acestep (default), levo2 or heartmula.
            duration: Length in seconds, or empty for the model's default.
            instrumental: True for a song without vocals.
            takes: How many versions to render in one call.
            steps: Diffusion steps (ACE-Step), or empty for the default.
            tier: ZeroGPU visitor tier to plan for (anonymous, free, pro, local); empty = the caller's.
            fit_budget: Say what /generate would change (steps, takes, length) to fit, instead of refusing.
        """
        options = {"steps": steps} if steps else {}
        return seams.plan(
            _request(lyrics, style, backend, duration, instrumental, takes, options=options, fit_budget=fit_budget),
            _tier(tier) or visitor.tier_of(request),
        )

    @user_errors
    def backends() -> list[dict]:
        """Every model this studio offers: availability (with the reason when unavailable), licence,
        duration range, accepted inputs and the JSON schema of its options."""
        return backends_info()

    @user_errors
    def library_list(
        visitor_key: str = "",
        query: str = "",
        liked_only: bool = False,
        limit: int = 50,
    ) -> list[dict]:
        """Your songs, newest first, with the settings that made each one.

        Args:
            visitor_key: On a Space, the key /generate returned (it identifies your library).
            query: Words to find in title, style, lyrics or model name.
            liked_only: Only songs marked as liked.
            limit: At most this many songs (1 to 1000).
        """
        owner = visitor.owner_for(_text(visitor_key, "visitor_key"))
        return [s.public() for s in library.list(owner, _text(query, "query"), liked_only=bool(liked_only),
                                                 limit=_limit(limit))]

    @user_errors
    def tasks(backend: str = "acestep", tier: str = "", request: gr.Request = None) -> list[dict]:  # type: ignore[assignment]
        """What a model can do besides writing a song (cover, repaint, extend, extract, ...): the fields
        each task uses, the weights it loads and what loading them costs.

        Args:
            backend: Model name: acestep (default), levo2 or heartmula.
            tier: ZeroGPU visitor tier to price loading for; empty = the caller's.
        """
        backend = _text(backend, "backend") or registry.DEFAULT_BACKEND
        return tasks_info(backend, _tier(tier) or visitor.tier_of(request))

    # gradio_client and the /call/ HTTP API still pass these through the queue, where the default
    # concurrency limit of 1 would line every caller up behind one another; they are short and
    # thread-safe, so none is set.
    instant: dict[str, Any] = {"queue": False, "concurrency_limit": None}
    gr.api(format_lyrics, api_name="format_lyrics", **instant)
    gr.api(plan, api_name="plan", **instant)
    gr.api(tasks, api_name="tasks", **instant)
    gr.api(backends, api_name="backends", **instant)
    gr.api(library_list, api_name="library", **instant)

    def render(
        song_request: SongRequest, visitor_key: str, request: gr.Request, progress: gr.Progress
    ) -> tuple[str, list[str], dict]:
        """Render on the GPU for the caller, planned for their tier and counted against their rate limit."""
        # Callers without a key would get a fresh one (and a fresh rate limit) every time, so
        # their address is what the limit counts.
        rate_key = "" if visitor_key else f"ip:{visitor.client_address(request)}"
        if gpu_guard.CHECK_ONLY.get():
            road.check(song_request, visitor.tier_of(request))  # header-only: the upload is decoded when it runs
            ratelimit.check_gpu(rate_key or visitor.owner_for(visitor_key), visitor.client_address(request))
            queue_caps.check(request, visitor_key, GPU_QUEUE)
            return "", [], {}
        if visitor.multi_user() and not visitor_key:
            visitor_key = visitor.new_key()
        owner = visitor.owner_for(visitor_key)
        result, songs = runner.make_songs(
            song_request, owner=owner, library=library, progress=runner.StageProgress(progress),
            tier=visitor.tier_of(request), rate_key=rate_key, address=visitor.client_address(request),
        )
        # API callers get the lossless master, as before: the first request for it waits for the
        # background writer (the UI's player streams the FLAC meanwhile), which also checks the takes.
        paths = [str(runner.lossless_file(s)) for s in songs]
        info = {
            "songs": [s.public() for s in songs],
            "warnings": result.warnings,
            "visitor_key": visitor_key if visitor.multi_user() else "",
            "best_first": runner.best_first_of(songs),  # indices into songs, ranked by their checks
        }
        return paths[0], paths, info

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
        partial: bool = False,  # added last, so callers that pass the first 14 inputs keep working
        fit_budget: bool = False,  # likewise
        # Likewise; a raw positional body without it is filled in by ``late_inputs`` (e176994).
        keep_best: float = 0,
        request: gr.Request = None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (gradio's idiom)
    ) -> tuple[str, list[str], dict]:
        """Make a song on the GPU and keep it in the caller's library; returns the first take's audio
        (WAV), every take, and their library entries with warnings. Check /plan first on a Space.

        Args:
            lyrics: Song lyrics with section tags such as [Verse], [Chorus]; empty for instrumental.
            style: Genre, mood, instruments and voice, e.g. "melancholic bossa nova, nylon guitar".
            backend: Model name: acestep (default), levo2 or heartmula.
            duration: Length in seconds; 0 = the model's default or the lyrics' length.
            instrumental: True for a song without vocals.
            takes: How many versions to render (consecutive seeds).
            seed: Random seed to reproduce a take; -1 = random.
            title: Song title; empty = from the style.
            bpm: Tempo in beats per minute; 0 = let the model choose.
            key: Musical key such as "A minor"; empty = let the model choose.
            time_signature: Beats per bar such as "4"; empty = let the model choose.
            language: Language of the lyrics (ISO code such as "en"); empty = detect.
            options: JSON object of model options (see /backends), e.g. {"steps": 8}.
            visitor_key: On a Space, the key from an earlier call, to add to the same library.
            partial: Keep a song the time limit cut short (LeVo 2, HeartMuLa) instead of failing.
            fit_budget: Lighten the request (steps, takes, length) when it would not fit the GPU budget.
            keep_best: Best of N: check every take and keep only this many (fewer than takes); 0 = every take.
        """
        song_request = _request(
            lyrics,
            style,
            backend,
            duration or None,
            instrumental,
            takes or 1,
            _seed(seed),
            title,
            bpm or None,
            key,
            time_signature,
            language,
            options,
            partial=bool(partial),
            fit_budget=bool(fit_budget),
            keep_best=keep_best,
        )
        return render(song_request, visitor_key, request, progress)

    late_inputs.register("generate", generate)

    @user_errors
    def edit(
        source: str | None = None,
        task: str = "repaint",
        # None (the client's default) = unset: the task's own default, and refused by a task not using it.
        start: float | None = None,
        end: float | None = None,
        extend_by: float | None = None,
        track: str = "",
        cover_strength: float | None = None,
        style: str = "",
        lyrics: str = "",
        seed: float | None = -1,
        takes: float = 1,
        options: str = "{}",
        visitor_key: str = "",
        backend: str = registry.DEFAULT_BACKEND,
        title: str = "",
        fit_budget: bool = False,
        request: gr.Request = None,  # type: ignore[assignment]  # gradio fills it in
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (gradio's idiom)
    ) -> tuple[str, list[str], dict]:
        """Edit an uploaded song (cover, repaint, extend, extract, ...); returns what /generate returns.

        Args:
            source: The song to edit, uploaded as a file.
            task: repaint, cover, extend, extract, ... (see /tasks for what each model can do).
            start: Start of the part to change, in seconds (repaint).
            end: End of the part to change, in seconds (repaint).
            extend_by: Seconds to add (extend).
            track: Instrument or voice to extract or add, e.g. "vocals".
            cover_strength: How closely a cover follows the source, 0 to 1.
            style: Style for the new material.
            lyrics: Lyrics for the new material.
            seed: Random seed; -1 = random.
            takes: How many versions to render.
            options: JSON object of model options.
            visitor_key: On a Space, the key from an earlier call.
            backend: Model name (acestep).
            title: Title of the edited song.
            fit_budget: Lighten the request when it would not fit the GPU budget.
        """
        song_request = _edit_request(
            source, task, start=start, end=end, extend_by=extend_by, track=track,
            cover_strength=cover_strength, style=style, lyrics=lyrics, seed=seed, takes=takes,
            options=options, backend=backend, title=title, fit_budget=fit_budget,
        )
        return render(song_request, visitor_key, request, progress)

    @user_errors
    def check(song: str | None, lyrics: str = "", bpm: float | None = None, key: str = "",
              duration: float | None = None, language: str = "") -> dict:
        """Measure an uploaded song the way every take is measured: lyrics heard (where the lyric
        check is on), tempo against bpm, key, true peak, clipping, silence, ending, duration."""
        from studio.quality import Intent, check_take
        from studio.quality.finish import studio_transcriber
        from studio.quality.read import read_audio
        from studio.song import normalise_key

        if not song:
            raise StudioError("upload the song to check (WAV, FLAC, MP3 or OGG).")
        path = uploads.inside_uploads(song, what="the song to check")
        try:
            key = normalise_key(key) if key and key.strip() else None
        except ValueError as exc:
            raise StudioError(str(exc)) from None
        audio, rate = read_audio(str(path))
        intent = Intent(lyrics=lyrics or "", bpm=bpm or None, key=key, duration=duration or None,
                        language=(language or "").strip().lower() or None)
        checks = check_take(audio, rate, intent, transcriber=studio_transcriber() if intent.lyrics else None)
        return {"summary": checks.summary(), **checks.model_dump(mode="json")}

    @user_errors
    def sing_again(song_id: str, line: float, visitor_key: str = "", request: gr.Request = None,  # type: ignore[assignment]
                   progress: gr.Progress = gr.Progress()) -> dict:  # noqa: B008 (gradio's idiom)
        """Repaint one lyric line of one of your songs (ACE-Step) from the range the lyric check aligned
        it to, with that line's lyrics; the new song is kept in your library and checked again."""
        from studio.ui.resing_view import sing_again as run

        rate_key = "" if visitor_key else f"ip:{visitor.client_address(request)}"
        result, songs = run(library, visitor.owner_for(visitor_key), song_id, int(line or 0),
                            progress=runner.StageProgress(progress), tier=visitor.tier_of(request),
                            address=visitor.client_address(request), rate_key=rate_key)
        return {"songs": [s.public() for s in songs], "warnings": result.warnings}

    def outputs() -> list[gr.Component]:
        return [
            gr.Audio(type="filepath", label="audio"),
            gr.File(file_count="multiple", label="takes"),
            gr.JSON(label="info"),
        ]

    with gr.Column(visible=False):
        # New inputs go at the end, with a default, so positional callers keep working.
        generate_inputs = [
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
            gr.Checkbox(False, label="partial"),
            gr.Checkbox(False, label="fit_budget"),
            gr.Number(0, label="keep_best", precision=0),
        ]
        generate_outputs = outputs()
        edit_inputs = [
            source_file("source"),
            gr.Textbox("repaint", label="task"),
            # No initial value: the client's default comes from edit()'s None.
            gr.Number(None, label="start"),
            gr.Number(None, label="end"),
            gr.Number(None, label="extend_by"),
            gr.Textbox("", label="track"),
            gr.Number(None, label="cover_strength"),
            gr.Textbox("", label="style"),
            gr.Textbox("", label="lyrics"),
            gr.Number(-1, label="seed", precision=0),
            gr.Number(1, label="takes", precision=0),
            gr.Textbox("{}", label="options"),
            gr.Textbox("", label="visitor_key"),
            gr.Textbox(registry.DEFAULT_BACKEND, label="backend"),
            gr.Textbox("", label="title"),
            gr.Checkbox(False, label="fit_budget"),
        ]
        edit_outputs = outputs()
        check_inputs = [
            source_file("song"),
            gr.Textbox("", label="lyrics"),
            gr.Number(0, label="bpm"),
            gr.Textbox("", label="key"),
            gr.Number(0, label="duration"),
            gr.Textbox("", label="language"),
        ]
        check_output = gr.JSON(label="checks")
        sing_inputs = [gr.Textbox("", label="song_id"), gr.Number(0, label="line", precision=0),
                       gr.Textbox("", label="visitor_key")]
        sing_output = gr.JSON(label="info")
    # CPU work (and Whisper where the lyric check is on): queued one at a time, not on the GPU queue.
    gr.on(triggers=[], fn=check, inputs=check_inputs, outputs=check_output, api_name="check",
          concurrency_id="check", concurrency_limit=1)
    def may_sing_again(song_id: str, line: float, visitor_key: str = "",
                       request: gr.Request = None) -> list[dict]:  # type: ignore[assignment]
        return gpu_guard.verdict(lambda: gpu_guard.may_queue(request, visitor_key), 3)

    gr.on(triggers=[], fn=sing_again, inputs=sing_inputs, outputs=sing_output, api_name="sing_again",
          concurrency_id=GPU_QUEUE, concurrency_limit=gpu_concurrency, validator=may_sing_again)
    for fn, inputs, outs, name in (
        (generate, generate_inputs, generate_outputs, "generate"),
        (edit, edit_inputs, edit_outputs, "edit"),
    ):
        gr.on(
            triggers=[],
            fn=fn,
            inputs=inputs,
            outputs=outs,
            api_name=name,
            concurrency_id=GPU_QUEUE,
            concurrency_limit=gpu_concurrency,
            validator=refuse_before_queueing(fn),
        )
