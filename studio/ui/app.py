"""Song Studio's Blocks: Create, Library and System views plus the API, wired together here.

Handlers call ``studio.ui.runner`` / ``studio.library`` / ``studio.ui.seams``; nothing here reads torch.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

import gradio as gr
from starlette.middleware import Middleware

from studio import ratelimit, retention, settings, sketching
from studio.devices import on_zerogpu
from studio.ground.errors import StudioError
from studio.library import Library
from studio.rendering import Studio
from studio.separation.catalog import STEMS_TASK
from studio.ui import (
    api,
    cache_purge,
    forms,
    gpu_guard,
    outcome,
    queue_caps,
    runner,
    seams,
    stems_controls,
    visitor,
)
from studio.ui.create import CreateView, build_create, restored_values
from studio.ui.edit_view import IDLE_STATUS, EditView, build_edit, landed_upload_problem, stems_estimate
from studio.ui.errors import for_visitors, user_errors, visitor_sentence
from studio.ui.late_inputs import LateInputDefaults
from studio.ui.library_view import LibraryView, build_library, list_values, panel_values
from studio.ui.outcome import OUTCOMES, remembered
from studio.ui.raw_routes import RawRouteSentences
from studio.ui.resing_view import wire_sing_again
from studio.ui.results import build_results, forget_downloads, like_label, take_id
from studio.ui.sessions import SessionAddresses
from studio.ui.system import build_system
from studio.ui.theme import CSS, HERO, theme
from studio.ui.upload_caps import UploadCaps

log = logging.getLogger("studio.ui")
PRIVATE: dict[str, Any] = {"api_visibility": "private"}
INSTANT: dict[str, Any] = {"queue": False, "api_visibility": "private"}
IDLE_ESTIMATE = "⏱ Write a style or lyrics (or pick an example) and the time it takes shows here."


def gpu_concurrency() -> int:
    """How many generations run at once: one local GPU serves one; ZeroGPU gives each call its own slice."""
    value = settings.GPU_CONCURRENCY.get()
    return value if value is not None else (4 if on_zerogpu() else 1)


def _wire_create(
    demo: gr.Blocks, create: CreateView, key: gr.BrowserState, library: Library, lib_view: LibraryView
) -> None:
    request_inputs = set(create.fields()) | {key}

    create.backend.change(
        create.backend_updates, [create.backend, create.duration], create.backend_outputs(), **INSTANT
    )

    @user_errors
    def preview(data: dict) -> list[Any]:
        view = seams.format_preview(create.request_from(data))
        notes = [f"ℹ️ {view.note}"] if view.note else []
        notes += [f"❌ {e}" for e in view.errors] + [f"🔧 {f}" for f in view.fixes]
        if view.estimated_seconds:
            notes.append(f"⏱ about {view.estimated_seconds:.0f} s of singing")
        if not view.errors and not view.fixes:
            notes.append("✅ Ready for the model as written.")
        return [gr.Accordion(open=True), "\n\n".join(notes), view.lyrics]

    create.format_btn.click(
        preview, request_inputs, [create.format_box, create.format_notes, create.formatted], **INSTANT
    )

    def estimate(data: dict, request: gr.Request) -> str:
        if not (data[create.style] or "").strip() and not (data[create.lyrics] or "").strip():
            return IDLE_ESTIMATE  # a fresh page is not a mistake to point out (issue 17.10)
        return _estimate_line(create, data, request)

    gr.on(
        [
            demo.load,
            create.backend.change,
            create.duration.change,
            create.takes.change,
            create.instrumental.change,
            create.style.blur,
            create.lyrics.blur,
            *[c.change for _, c in create.options],
        ],
        estimate,
        request_inputs,
        create.estimate,
        trigger_mode="always_last",
        show_progress="hidden",
        **INSTANT,
    )

    # An example fills the form without blurring a box: price it once the values are in.
    create.examples.load_input_event.then(estimate, request_inputs, create.estimate, show_progress="hidden", **INSTANT)

    def write_song(data: dict, request: gr.Request = None) -> list[Any]:  # type: ignore[assignment]
        """Simple mode's sketch into the form. A failure leaves the form as it was and says so once, in a
        toast and the status, rather than an "Error" badge over every control the sketch would fill."""
        try:
            draft = _sketch(data, request)
        except Exception as exc:
            sentence = visitor_sentence(exc)
            gr.Warning(sentence)
            return [*(gr.update() for _ in create.draft_outputs()), f"❌ {sentence}"]
        written = "✍️ The style and lyrics are written: change anything you like, then press Generate."
        return [*create.fill_draft(draft, data[create.backend]), written]

    def _sketch(data: dict, request: gr.Request | None) -> dict:
        backend = data[create.backend]
        seed = forms.whole_number(data[create.seed], "seed")
        address = visitor.client_address(request) if request is not None else ""
        tier = visitor.tier_of(request) if request is not None else None
        # Refusals (an empty description, a sketch the guard cannot fit) spend no call (issue 17.4).
        text = sketching.check_description(backend, data[create.description] or "")
        sketching.sketch_reservation(backend, tier)
        ratelimit.take_gpu(visitor.owner_for(data[key]), address, "song sketches")
        return runner.describe_song(
            backend,
            text,
            bool(data[create.instrumental]),
            data[create.language] or None,
            seed,
            tier=tier,
        )

    def restore(path: str | None) -> list[Any]:
        """A dropped file's recipe fills the form; a file without one leaves the form as it was and says so
        once, in a toast and the status, instead of an "Error" badge on every control (issue 17.7)."""
        try:
            return [*restored_values(create, path), gr.update()]
        except Exception as exc:
            sentence = visitor_sentence(exc)
            gr.Warning(sentence)
            return [*(gr.update() for _ in create.fields()), f"ℹ️ {sentence}"]

    # Queued, outside the GPU queue, so that the toast can reach the page.
    create.restore.upload(
        restore,
        create.restore,
        [*create.fields(), create.status],
        concurrency_id="precheck",
        concurrency_limit=None,
        show_progress="hidden",
        **PRIVATE,
    )

    def may_write(data: dict, request: gr.Request) -> list[dict]:
        return gpu_guard.verdict(lambda: gpu_guard.may_queue(request, data[key], "song sketches"), len(data))

    create.write_btn.click(
        write_song,
        request_inputs,
        [*create.draft_outputs(), create.status],
        concurrency_id=api.GPU_QUEUE,
        concurrency_limit=gpu_concurrency(),
        validator=may_write,
        **PRIVATE,
    )

    _wire_generation(create, key, library, lib_view, api_name="ui_generate")


def _estimate_line(form: CreateView | EditView, data: dict, request: gr.Request) -> str:
    """The live GPU estimate beside a form's button, for this visitor's tier."""
    try:
        line = seams.estimate_line(form.request_from(data), visitor.tier_of(request))
    except Exception as exc:  # half-set forms are normal here; say what is off without a modal
        line = f"⏱ {exc}"
    return for_visitors(line)  # a backend's own refusal may name a server folder (LeVo 2 without weights)


def _wire_generation(
    form: CreateView | EditView, key: gr.BrowserState, library: Library, lib_view: LibraryView, *, api_name: str
) -> None:
    """Generate, Cancel and the result cards of one form (Create or Edit): same queue, same library."""
    results = form.results
    request_inputs = set(form.fields()) | {key}
    run_inputs = request_inputs | {results.ids}  # the takes already on the page stay, below the new ones

    @remembered
    @user_errors
    def generate(
        data: dict,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (gradio's idiom)
    ) -> list[Any]:
        song_request = form.request_from(data)
        owner = visitor.owner_for(data[key])
        result, songs = runner.make_songs(
            song_request,
            owner=owner,
            library=library,
            session=request.session_hash or "",
            progress=runner.StageProgress(progress),
            tier=visitor.tier_of(request),
            address=visitor.client_address(request),
        )
        takes = f"{len(songs)} takes" if len(songs) > 1 else "Your song"
        if song_request.keep_best and len(songs) < song_request.takes:  # best of N: say what was chosen among
            takes = (
                f"The best {len(songs)} of {song_request.takes} takes"
                if len(songs) > 1
                else (f"The best of {song_request.takes} takes")
            )
        lines = [f"✅ {takes} ready in {result.elapsed_s:.1f} s — kept in your Library."]
        lines += [f"⚠️ {w}" for w in result.warnings]
        return ["\n\n".join(lines), *results.values(songs, _still_there(library, owner, data.get(results.ids)))]

    @remembered
    @user_errors
    def ready(data: dict, request: gr.Request) -> list[Any]:
        """Refuse at once what the GPU queue would refuse after the wait: a form that makes no request,
        a visitor over the rate limit (checked here, spent when the job starts)."""
        OUTCOMES.take(outcome.session_of(request))  # a refusal from an earlier run is old news
        form.request_from(data)
        ratelimit.check_gpu(visitor.owner_for(data[key]), visitor.client_address(request))
        queue_caps.check(request, data[key], api.GPU_QUEUE)  # before this tab's job joins the queue
        # Empty: the queue position and the stages show in the progress overlay on this spot; a text under
        # it showed through (issue 17.12: status text drawn over "Starting…").
        return [gr.update(visible=False), gr.update(visible=True), ""]

    def may_run(data: dict, request: gr.Request) -> list[dict]:
        """``ready``'s check again, as the call joins the GPU queue: a script joining this private event by
        fn_index skips ``ready`` (issue 18: UI caps that hold). The page has passed ``ready`` just before,
        so this refuses nothing of the page's; what only the render checks (the budget guard, a model's
        own limits, the library quota) stays in the render, whose failure the page shows as a toast
        (a validator's refusal would only mark an input)."""

        def checks() -> None:
            form.request_from(data)
            gpu_guard.may_queue(request, data[key])

        return gpu_guard.verdict(checks, len(data))

    def settle(shown_estimate: str | None, request: gr.Request) -> list[Any]:
        button, cancel, status = outcome.settled_values(request)
        return [button, cancel, status, outcome.estimate_after(status, shown_estimate)]

    def downloads_when_written(browser_key: str, ids: list[str]) -> list[Any]:
        """The cards showed the song as soon as its player's FLAC was kept; offer the WAV, MP3 (and
        stems) and show the checks once the background writer is done with them."""
        runner.LATER.wait(ids, timeout=600)
        owner = visitor.owner_for(browser_key)
        return results.download_values([library.get(owner, song_id) for song_id in ids])

    buttons = [form.generate_btn, form.cancel_btn]
    gen_events = []

    def chain(dep: Any) -> None:
        # Queued (not INSTANT) so that a refusal's gr.Error reaches the page as a toast; its own
        # unlimited concurrency group keeps it from waiting behind songs on the GPU queue.
        check = dep.then(
            ready,
            request_inputs,
            [*buttons, form.status],
            api_name=f"{api_name}_ready",
            concurrency_id="precheck",
            concurrency_limit=None,
            show_progress="hidden",
            **PRIVATE,
        )
        check.failure(settle, form.estimate, [*buttons, form.status, form.estimate], **INSTANT)
        run = check.success(
            generate,
            run_inputs,
            [form.status, *results.outputs()],
            concurrency_id=api.GPU_QUEUE,
            api_name=api_name,
            concurrency_limit=gpu_concurrency(),
            show_progress_on=[form.status],
            validator=may_run,
            **PRIVATE,
        )
        gen_events.append(run)
        # No progress overlay: the song already plays; a timer over its Checks would read as still working
        # on the song (the details say "checking" until then, studio.ui.results.checks_markdown).
        run.then(
            downloads_when_written, [key, results.ids], results.download_outputs(), show_progress="hidden", **PRIVATE
        )
        # gradio 6.31's page runs a failed event's `.failure` listeners only, not its `.then` ones
        # (templates/frontend/assets/Blocks-*.js: the error branch dispatches the "failure" triggers),
        # so a failed run is settled by its own listener; settling twice changes nothing.
        run.failure(settle, form.estimate, [*buttons, form.status, form.estimate], **INSTANT)
        run.then(settle, form.estimate, [*buttons, form.status, form.estimate], **INSTANT).then(
            lambda k, q, liked: list_values(library, k, q, liked),
            [key, lib_view.search, lib_view.liked_only],
            lib_view.list_outputs(),
            **INSTANT,
        )

    chain(form.generate_btn.click(lambda: None, None, None, **INSTANT))
    _wire_cards(form, key, library, chain)
    wire_sing_again(form, key, library, concurrency=gpu_concurrency())

    def cancel(request: gr.Request) -> list[Any]:
        stopped = runner.JOBS.cancel(request.session_hash or "")
        note = "⏹ Stopped; nothing was saved." if stopped else "⏹ Cancelled before it started."
        return [gr.update(visible=True), gr.update(visible=False), note]

    form.cancel_btn.click(cancel, None, [*buttons, form.status], cancels=gen_events, **INSTANT)


def _still_there(library: Library, owner: str, ids: list[str] | None) -> list[Any]:
    """The songs behind ``ids`` that were not deleted meanwhile, in order."""
    songs = []
    for song_id in ids or []:
        try:
            songs.append(library.get(owner, song_id))
        except StudioError:
            continue
    return songs


def _wire_cards(form: CreateView | EditView, key: gr.BrowserState, library: Library, chain) -> None:
    for i, card in enumerate(form.results.cards):

        @user_errors
        def like(k: str | None, ids: list[str], i: int = i) -> str:
            owner = visitor.owner_for(k)
            song = library.get(owner, take_id(ids, i))
            return like_label(library.like(owner, song.id, not song.liked))

        @user_errors
        def reuse(k: str | None, ids: list[str], i: int = i, new_seed: bool = False) -> list[Any]:
            request = library.get(visitor.owner_for(k), take_id(ids, i)).song_request()
            if new_seed:
                request = request.model_copy(update={"seed": None})
            return form.fill(request)

        card.like.click(like, [key, form.results.ids], card.like, **INSTANT)
        card.reuse.click(reuse, [key, form.results.ids], form.fields(), **INSTANT)
        chain(
            card.retake.click(
                lambda k, ids, i=i: reuse(k, ids, i, True),
                [key, form.results.ids],
                form.fields(),
                **INSTANT,
            )
        )


def _wire_edit(demo: gr.Blocks, edit: EditView, key: gr.BrowserState, library: Library, lib_view: LibraryView) -> None:
    shaping = [edit.backend, edit.task, edit.source, edit.start, edit.end]

    def estimate(data: dict, request: gr.Request) -> str:
        if not data[edit.source]:
            return ""
        if data[edit.task] == STEMS_TASK:
            return stems_estimate(data[edit.source], visitor.tier_of(request))
        return _estimate_line(edit, data, request)

    # The estimate runs after the sliders took the new song's length, never with the old range against
    # the new maximum (gradio refuses "Value 600 is greater than maximum value 12.0", issue 17.8).
    for trigger in (demo.load, edit.backend.change, edit.task.change, edit.source.change):
        trigger(edit.task_updates, shaping, edit.task_outputs(), **INSTANT).then(
            estimate, set(edit.fields()), edit.estimate, show_progress="hidden", **INSTANT
        )
    gr.on(
        [edit.start.release, edit.end.release, edit.extend_by.release, edit.takes.release, edit.track.change],
        estimate,
        set(edit.fields()),
        edit.estimate,
        trigger_mode="always_last",
        show_progress="hidden",
        **INSTANT,
    )

    # A file of one's own replaces a Library song: the edit is named after the new file. One that cannot be
    # a song is refused as it lands, in a toast and the status, instead of when Edit is pressed; the form
    # and the song already loaded stay as they were (issue 17.13). The drop zone empties either way,
    # ready for the next file.
    def landed(path: str | None, status: str | None) -> list[Any]:
        problem = landed_upload_problem(path)
        if problem:
            gr.Warning(problem)
            return [None, gr.update(), gr.update(), gr.update(), f"❌ {problem}"]
        if not path:
            return [gr.update()] * 5
        # A refusal of an earlier file no longer applies once a song has landed.
        said = IDLE_STATUS if (status or "").startswith("❌") else gr.update()
        return [None, path, "", "", said]

    # Queued, outside the GPU queue, so that the toast can reach the page (as the recipe drop does).
    edit.drop.upload(
        landed,
        [edit.drop, edit.status],
        [edit.drop, edit.source, edit.source_title, edit.source_song, edit.status],
        concurrency_id="precheck",
        concurrency_limit=None,
        show_progress="hidden",
        **PRIVATE,
    )
    _wire_generation(edit, key, library, lib_view, api_name="ui_edit")


def _song_to_edit(library: Library, edit: EditView):
    """A handler that opens one of the visitor's own songs in the Edit view (named after its title, with
    its style and lyrics); outputs ``[tabs, *edit.open_outputs()]``, inputs key, song id, model, task."""

    @user_errors
    def edit_song(k: str | None, song_id: str, backend: str, task: str) -> list[Any]:
        song = library.get(visitor.owner_for(k), song_id)  # the owner check: only your own songs
        made = song.song_request()
        return [
            gr.Tabs(selected="edit"),
            *edit.open_song(
                str(runner.lossless_file(song)), song.title, made.style, made.lyrics, backend, task, song.id
            ),
        ]

    return edit_song


def _wire_cards_to_edit(
    forms: list[CreateView | EditView], key: gr.BrowserState, library: Library, edit: EditView, tabs: gr.Tabs
) -> None:
    """✂ Edit on every result card: a take just made becomes the song to edit."""
    to_edit = _song_to_edit(library, edit)
    for form in forms:
        for i, card in enumerate(form.results.cards):
            card.edit.click(
                user_errors(lambda k, ids, b, t, i=i: to_edit(k, take_id(ids, i), b, t)),
                [key, form.results.ids, edit.backend, edit.task],
                [tabs, *edit.open_outputs()],
                **INSTANT,
            )


def _wire_library(
    view: LibraryView, key: gr.BrowserState, library: Library, create: CreateView, edit: EditView, tabs: gr.Tabs
) -> None:
    listed = [key, view.search, view.liked_only]
    refresh = user_errors(lambda k, q, liked: list_values(library, k, q, liked))
    for trigger in (view.refresh.click, view.search.submit, view.liked_only.change):
        trigger(refresh, listed, view.list_outputs(), **INSTANT)
    view.search.change(
        refresh, listed, view.list_outputs(), trigger_mode="always_last", show_progress="hidden", **INSTANT
    )

    @user_errors
    def select(k: str | None, evt: gr.EventData) -> list[Any]:
        """A row was tapped: open its song, or toggle its like (then the list redraws)."""
        data = getattr(evt, "_data", None)
        # The page sends {"song", "action"}; a script joining by fn_index may send anything (the strict fuzz
        # sent a string): it opens nothing, with the library's own sentence.
        data = data if isinstance(data, dict) else {}
        song_id, action = str(data.get("song", "")), data.get("action", "open")
        owner = visitor.owner_for(k)
        song = library.get(owner, song_id)  # the owner check: a forged id opens nothing of anyone else's
        if action == "like":
            song = library.like(owner, song.id, not song.liked)
        return panel_values(song)

    view.songs.select(select, [key], view.panel_outputs(), **INSTANT).then(
        refresh, listed, view.list_outputs(), **INSTANT
    )

    @user_errors
    def like(k: str | None, song_id: str) -> str:
        owner = visitor.owner_for(k)
        song = library.get(owner, song_id)
        return like_label(library.like(owner, song_id, not song.liked))

    view.like.click(like, [key, view.selected], view.like, **INSTANT).then(
        refresh, listed, view.list_outputs(), **INSTANT
    )

    @user_errors
    def rename(k: str | None, song_id: str, title: str) -> list[Any]:
        return panel_values(library.rename(visitor.owner_for(k), song_id, title or ""))

    for trigger in (view.rename.click, view.title.submit):
        trigger(rename, [key, view.selected, view.title], view.panel_outputs(), **INSTANT).then(
            refresh, listed, view.list_outputs(), **INSTANT
        )

    @user_errors
    def reuse(k: str | None, song_id: str) -> list[Any]:
        """A new song's settings go back to Create, an edit's to Edit (with its source, if still here)."""
        request = library.get(visitor.owner_for(k), song_id).song_request()
        keep_create, keep_edit = [gr.update()] * len(create.fields()), [gr.update()] * len(edit.fields())
        if request.task == "text2music":
            return [gr.Tabs(selected="create"), *create.fill(request), *keep_edit]
        return [gr.Tabs(selected="edit"), *keep_create, *edit.fill(request)]

    view.reuse.click(
        reuse,
        [key, view.selected],
        [tabs, *create.fields(), *edit.fields()],
        api_name="library_reuse",
        **INSTANT,
    )

    if view.edit is not None:
        view.edit.click(
            _song_to_edit(library, edit),
            [key, view.selected, edit.backend, edit.task],
            [tabs, *edit.open_outputs()],
            api_name="library_edit",
            **INSTANT,
        )
    view.delete.click(lambda: gr.update(visible=True), None, view.confirm_row, **INSTANT)
    view.keep.click(lambda: gr.update(visible=False), None, view.confirm_row, **INSTANT)

    @user_errors
    def delete(k: str | None, song_id: str) -> list[Any]:
        library.delete(visitor.owner_for(k), song_id)
        forget_downloads(song_id)
        gr.Info("Song deleted.")
        return panel_values(None)

    view.confirm.click(delete, [key, view.selected], view.panel_outputs(), **INSTANT).then(
        refresh, listed, view.list_outputs(), **INSTANT
    )


def build_app(library: Library | None = None, studio: Studio | None = None) -> gr.Blocks:
    """The whole studio. ``library`` defaults to ``STUDIO_LIBRARY_DIR`` / /data / the home folder."""
    library = library or Library()
    studio = studio or runner.STUDIO
    cache_purge.watch(library)  # a deleted song's copies in gradio's cache go with it
    retention.start(library)  # songs of visitors not seen for STUDIO_RETENTION_DAYS are removed
    # gradio's queue rebuilds its monitoring summary (a pandas table of up to 10,000 past events)
    # after every event by default: milliseconds of CPU per API call, growing with uptime. Every
    # 100 events is plenty for the /monitoring page. Read when the Blocks below close.
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "100")
    with gr.Blocks(title="Song Studio", delete_cache=(3600, 6 * 3600)) as demo:
        key = gr.BrowserState(None, storage_key=visitor.STORAGE_KEY, secret=visitor.browser_secret())
        gr.HTML(HERO)
        with gr.Tabs() as tabs:
            with gr.Tab("Create", id="create"):
                create = build_create(build_results)
            with gr.Tab("Edit", id="edit"):
                edit = build_edit(lambda: build_results(prefix="edit-take"))
            with gr.Tab("Library", id="library") as library_tab:
                lib_view = build_library()
            with gr.Tab("System", id="system") as system_tab:
                system_body, _, _ = build_system(studio, library)
        api.register(library, gpu_concurrency())  # first, so the public names are theirs
        stems_controls.register_api(library, gpu_concurrency())
        _wire_create(demo, create, key, library, lib_view)
        _wire_edit(demo, edit, key, library, lib_view)
        _wire_library(lib_view, key, library, create, edit, tabs)
        _wire_cards_to_edit([create, edit], key, library, edit, tabs)
        stems_controls.wire_stems(
            library,
            key,
            [(card, form.results.ids) for form in (create, edit) for card in form.results.cards],
            (lib_view.stems, lib_view.selected),
            (edit.stems, edit.source, edit.source_title, edit.source_song),
            gpu_concurrency(),
        )
        listed = [key, lib_view.search, lib_view.liked_only]
        refresh = user_errors(lambda k, q, liked: list_values(library, k, q, liked))
        library_tab.select(refresh, listed, lib_view.list_outputs(), **INSTANT)
        from studio.ui.system import report

        system_tab.select(lambda: report(studio, library), None, system_body, **INSTANT)
        demo.load(visitor.ensure_key, key, key, **INSTANT).then(refresh, listed, lib_view.list_outputs(), **INSTANT)
    # gradio caps a ZeroGPU Space's queue at ONE waiting request unless the app sets a size: with
    # gpu_concurrency() songs running, the next visitor past one waiting would be told "Queue is full".
    demo.queue(max_size=queue_size())
    demo.studio_library = library  # type: ignore[attr-defined]  # launch_options needs its audio folder
    demo.studio_views = {"create": create, "edit": edit, "key": key}  # type: ignore[attr-defined]  # for tests and tools
    return demo


QUEUE_SIZE_ENV = settings.QUEUE_SIZE.name
# Requests waiting for a GPU on a ZeroGPU Space: with 4 running and ~1 min of GPU each, the last of
# 20 waits about 5 minutes, about as long as a visitor will watch a queue position.
DEFAULT_ZEROGPU_QUEUE_SIZE = 20
# Anywhere else: each waiting request holds a thread's worth of state and, for an edit, its decoded
# upload; an unbounded queue lets one script hold the server's memory. 64 is more than one GPU works
# through in an hour, and far more than one person queues by hand.
DEFAULT_QUEUE_SIZE = 64


def queue_size(env: Mapping[str, str] | None = None) -> int:
    """How many requests may wait for the GPU (``STUDIO_QUEUE_SIZE``).

    Default: DEFAULT_ZEROGPU_QUEUE_SIZE on ZeroGPU, DEFAULT_QUEUE_SIZE elsewhere. There is no
    "no limit" setting: gradio turns an unset size into 1 on ZeroGPU, and elsewhere no limit is
    what let a script fill the server."""
    size = settings.QUEUE_SIZE.get(env)
    if size is None:
        return DEFAULT_ZEROGPU_QUEUE_SIZE if on_zerogpu(env) else DEFAULT_QUEUE_SIZE
    return size


SESSION_CAPACITY_ENV = settings.SESSION_CAPACITY.name
DEFAULT_SESSION_CAPACITY = settings.SESSION_CAPACITY.default


def session_capacity() -> int:
    """How many visitor sessions gradio keeps in memory (``STUDIO_SESSION_CAPACITY``)."""
    return settings.SESSION_CAPACITY.get()


def launch_options(demo: gr.Blocks | None = None) -> dict[str, Any]:
    """Keyword arguments for ``demo.launch``: theme, CSS, and the library's audio folder (only that
    folder: the database beside it must never be served)."""
    library: Library | None = getattr(demo, "studio_library", None)
    options: dict[str, Any] = {
        "server_name": os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        "theme": theme(),
        "css": CSS,
        "footer_links": ["api", "settings"],
        # Uploads are song files to restore settings from; nothing legitimate is bigger.
        "max_file_size": settings.MAX_UPLOAD.get(),
        "state_session_capacity": session_capacity(),
        # The raw /run routes answer a caller's bad request with 422 and a sentence, never 500; a raw
        # positional body written before an endpoint's later inputs existed gets their defaults; uploads
        # are counted per address (studio.ui.upload_caps); one address cannot evict other visitors'
        # sessions (studio.ui.sessions).
        "app_kwargs": {
            "middleware": [
                Middleware(RawRouteSentences),
                Middleware(LateInputDefaults),
                Middleware(UploadCaps),
                Middleware(SessionAddresses),
            ]
        },
        # Agents call the named API endpoints (generate, edit, format_lyrics, plan, ...) as MCP tools
        # at /gradio_api/mcp/ (the gradio[mcp] extra); STUDIO_MCP=0 turns the server off.
        "mcp_server": settings.MCP.get(),
    }
    if library is not None:
        options["allowed_paths"] = [str(library.audio_dir)]
        options["blocked_paths"] = [str(library.db_path), str(library.root / "staging")]
    return options
