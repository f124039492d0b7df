"""The Studio: loaded backends rendering prepared requests, for the UI, CLI, API and batch alike."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

from backends.base import Take
from studio import memory, registry
from studio.audio import MasteringSettings, audio_format
from studio.budget import Reservation
from studio.budget.calibration import StageTimer
from studio.budget.estimate import canonical_stage
from studio.errors import validate
from studio.ground.errors import StudioError
from studio.ground.progress import ProgressEvent, ProgressFn, no_progress
from studio.raw import RawRender
from studio.request.checks import check_request
from studio.request.outputs import check_output, output_formats, take_targets
from studio.request.prepare import prepare
from studio.request.prepared import Prepared
from studio.request.pricing import own_tier, plan_input, record_render, record_timings
from studio.song import SongRequest, SongResult


def ready(wanted: SongRequest | Prepared, budget: Reservation | None = None) -> tuple[Prepared, Reservation | None]:
    """The prepared request and the reservation it runs under. A :class:`Prepared` comes as its surface
    made it; a plain request (scripts, the bench, tests) is prepared here once, on this machine's own
    tier, unless the caller brings its own reservation (then it is only checked)."""
    if isinstance(wanted, Prepared):
        return wanted, budget or wanted.reservation
    if budget is not None:
        return check_request(wanted), budget
    prepared = prepare(wanted, own_tier(), unpriced_ok=True)
    return prepared, prepared.reservation


def prefetch(request: SongRequest) -> None:
    """Download, off the GPU, what rendering ``request`` would otherwise fetch while holding it."""
    spec = registry.get_spec(request.backend)
    if spec.prefetch is not None:
        options = validate(spec.options, request.options, owner=spec.capabilities.display_name)
        spec.prefetch(options, request.task)
    from studio.quality.finish import lyric_check_on

    # The lyric check runs after the window, but a 1.6 GB first download there would keep the visitor
    # waiting on a finished song; fetched here, it overlaps nothing and costs no GPU time either.
    if lyric_check_on() and request.lyrics.strip() and not request.instrumental:
        from studio.quality.asr import prefetch_asr

        prefetch_asr()


class Studio:
    """Holds the loaded backends; one per process (the UI, CLI and API share it)."""

    def __init__(self, cache: registry.BackendCache | None = None) -> None:
        self.cache = cache or registry.BackendCache()
        # The takes of the last generate() in memory (codes, stems) for callers that want more
        # than the files, e.g. --dump-tokens.
        self.last_takes: list[Take] = []

    def render(
        self,
        wanted: SongRequest | Prepared,
        *,
        weights: str | None = None,
        device=None,
        progress: ProgressFn = no_progress,
        load_options: dict | None = None,
        budget: Reservation | None = None,
    ) -> tuple[Prepared, list[Take], dict[str, float]]:
        """:meth:`measure` and record the measured stage times in this process's calibration."""
        prepared, takes, timings, measured = self.measure(
            wanted,
            weights=weights,
            device=device,
            progress=progress,
            load_options=load_options,
            budget=budget,
        )
        record_timings(prepared, measured)
        return prepared, takes, timings

    def measure(
        self,
        wanted: SongRequest | Prepared,
        *,
        weights: str | None = None,
        device=None,
        progress: ProgressFn = no_progress,
        load_options: dict | None = None,
        budget: Reservation | None = None,
    ) -> tuple[Prepared, list[Take], dict[str, float], dict[str, float]]:
        """Load (once) and render; also returns the seconds measured per stage, for the caller to
        record where the calibration lives (on ZeroGPU: the main process, not the GPU worker).
        With a ``budget`` the run stops cleanly before its reservation runs out (without one, this
        machine's own tier is used: an ETA, and ``STUDIO_TIME_LIMIT`` when set); ``request.partial``
        lets token-based backends keep a song cut short instead. ``wanted`` is the request as
        :func:`~studio.request.prepare.prepare` made it (it carries the seeds and the reservation), or a
        plain request, prepared here on this machine's own tier."""
        prepared, budget = ready(wanted, budget)
        request = prepared.request
        if budget is not None:
            progress = budget.deadline(progress, partial_ok=request.partial)
        timer = StageTimer()
        user_progress = progress

        def progress(event: ProgressEvent) -> None:
            timer(event)
            user_progress(event)

        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        name = prepared.spec.capabilities.display_name
        progress(ProgressEvent("loading", 0, 1, f"loading {name}"))
        out_of_memory = ""
        held = self.cache.loaded().get(request.backend)
        try:
            backend = self.cache.get(
                request.backend,
                weights,
                device=device,
                on_progress=lambda msg: progress(ProgressEvent("loading", 0, 1, msg)),
                **(load_options or {}),
            )
            timings["load"] = time.perf_counter() - t0
            t1 = time.perf_counter()
            takes = backend.render(prepared.job, progress)
        except Exception as exc:
            if not memory.is_out_of_memory(exc):
                raise
            out_of_memory = memory.out_of_memory_message(name, prepared.job.duration_s, len(prepared.job.seeds))
        if out_of_memory:  # outside the handler: the exception's frames (activations) are gone by now
            self._free_after_oom(request.backend)
            raise memory.OutOfMemory(out_of_memory)
        timings["render"] = time.perf_counter() - t1
        # The timer's "loading" is the same stage as the measured "load": keep one sample, not two. A backend
        # this process already held loaded nothing: its ~0 s is no load time, and fitted among real loads
        # (0.8 s cold for the tiny ACE-Step here) its log error made the next estimate of a 120 s song
        # 28 hours. Only a real load is a load sample.
        stages = {k: v for k, v in timer.finish().items() if canonical_stage(k) != "load"}
        loaded = {} if backend is held else {"load": timings["load"]}
        return prepared, takes, timings, {**stages, **loaded}

    def render_raw(
        self,
        wanted: SongRequest | Prepared,
        *,
        weights: str | None = None,
        device=None,
        progress: ProgressFn = no_progress,
        load_options: dict | None = None,
        budget: Reservation | None = None,
    ) -> RawRender:
        """The model's part only, as plain data: what the GPU function runs and returns. Nothing is
        mastered, written or recorded; :func:`record_render` and ``studio.finishing`` do that after."""
        prepared, budget = ready(wanted, budget)
        request = prepared.request
        reused = request.backend in self.cache.loaded()
        prepared, takes, timings, measured = self.measure(
            prepared,
            weights=weights,
            device=device,
            progress=progress,
            load_options=load_options,
            budget=budget,
        )
        self.last_takes = takes
        backend = self.cache.loaded()[request.backend]
        return RawRender(
            request=request,
            takes=takes,
            seeds=list(prepared.job.seeds),
            duration_s=prepared.job.duration_s,
            lyrics_sent=prepared.job.lyrics,
            style_sent=prepared.job.style,
            warnings=list(prepared.warnings) + device_warnings(device),
            plan=plan_input(prepared, include_load=True),
            stage_seconds=measured,
            weights=backend.weights,
            device=str(backend.device),
            dtype=str(backend.dtype),
            load_s=timings["load"],
            render_s=timings["render"],
            reused_weights=reused,
        )

    def describe(
        self,
        backend: str,
        text: str,
        *,
        instrumental: bool = False,
        language: str | None = None,
        seed: int | None = None,
        device=None,
        progress: ProgressFn = no_progress,
    ) -> dict:
        """Simple mode: the backend's sketcher writes caption, lyrics and metadata from a description, to
        be shown for editing before anything is rendered. Only the sketcher's own model is loaded (for
        ACE-Step the planner, not the DiT pipeline)."""
        from studio.sketching import check_description

        text = check_description(backend, text)
        spec = registry.get_spec(backend)
        caps, sketcher = spec.capabilities, spec.sketcher
        state = registry.availability(spec)
        if not state.ok:
            raise StudioError(f"{caps.display_name} cannot write a song here: {state.reason}")
        from studio import devices

        where = devices.as_device_info(device).torch_device
        try:
            return sketcher.run(
                text, instrumental=instrumental, language=language or None, seed=seed, device=where, progress=progress
            )
        except Exception as exc:
            if not memory.is_out_of_memory(exc):
                raise
        memory.free_accelerator_memory()  # outside the handler: the exception's frames (activations) are gone
        raise memory.OutOfMemory(
            f"{caps.display_name}'s {sketcher.what} ran out of memory writing the sketch; the memory was freed. "
            "Try again when other songs on this GPU have finished, or write the style and lyrics yourself."
        )

    def _free_after_oom(self, backend: str) -> None:
        """A backend that ran out of memory part-way may hold half-moved weights or stale
        activations: drop it (the next request loads it cleanly) and give the memory back."""
        try:
            self.cache.unload(backend)
        except Exception:  # already dropped from the cache; a failing unload must not hide the OOM
            logging.getLogger(__name__).warning(
                "unloading %s after running out of memory failed", backend, exc_info=True
            )
        memory.free_accelerator_memory()

    def generate(
        self,
        wanted: SongRequest | Prepared,
        *,
        out: Path,
        weights: str | None = None,
        device=None,
        progress: ProgressFn = no_progress,
        load_options: dict | None = None,
        formats: Sequence[str] = (),
        mastering: MasteringSettings | None = None,
        budget: Reservation | None = None,
        check: bool = True,
    ) -> SongResult:
        """Render and export: mastered files in ``formats`` (the raw take beside them), a song
        card in every file and as a sidecar, and stems zipped when the backend made any.
        ``mastering=None`` uses the default (-14 LUFS, -1 dBTP). A plain request is prepared here, on
        this machine's own tier, lightened first when it asks to fit it; a caller bringing its own
        ``budget`` has planned already, so the request is only checked.
        ``check`` measures each take (studio.quality.finish.check_result); a caller holding a GPU
        window passes False and checks after the window closes."""
        started = time.perf_counter()
        prepared, budget = ready(wanted, budget)  # fail on bad input before touching the disk or the GPU
        request = prepared.request
        check_output(out)
        chosen = output_formats(out, formats)
        for fmt in chosen:
            audio_format(fmt)  # unknown formats are refused before any GPU time
        raw = self.render_raw(
            prepared,
            weights=weights,
            device=device,
            progress=progress,
            load_options=load_options,
            budget=budget,
        )
        record_render(raw)
        from studio.finishing import finish

        # A take cut short by the time budget ends the request: later takes were never made.
        result, _ = finish(
            raw,
            take_targets(out, request, prepared.seeds),
            now=chosen,
            mastering=mastering,
            progress=progress,
            started=started,
            warnings=[prepared.fitted] if prepared.fitted else [],
        )
        if not check:
            return result
        from studio.quality.finish import check_result

        return check_result(request, result, progress=progress)


def device_warnings(device) -> list[str]:
    from studio import devices

    info = device or devices.detect()
    return list(info.warnings)
