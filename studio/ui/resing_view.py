"""🎤 Sing this line again, on a result card: the line the check did not hear is repainted from its
aligned time range with its own lyrics (ACE-Step's repaint task), kept in the library as a new
song, and checked again against the whole song's lyrics."""

from __future__ import annotations

from typing import Any

import gradio as gr

from studio.library import Library
from studio.ui import gpu_guard, runner, visitor
from studio.ui.errors import user_errors
from studio.ui.gpu_guard import GPU_QUEUE
from studio.ui.results import take_id


def sing_again(library: Library, owner: str, song_id: str, line_number: int, *, session: str = "",
               progress=None, tier: str | None = None, address: str = "", rate_key: str = ""):
    """Repaint line ``line_number`` of ``song_id`` and check the new song; returns (result, new songs)."""
    from studio.ground.progress import no_progress
    from studio.quality import Intent, check_take
    from studio.quality.finish import studio_transcriber
    from studio.quality.read import read_audio
    from studio.quality.resing import pick_line, resing_fields
    from studio.quality.store import load_checks, save_checks

    song = library.get(owner, song_id)  # the owner check: only your own songs
    checks = load_checks(song.audio_path)
    line = pick_line(checks.lyrics if checks else None, int(line_number))
    original = song.song_request()
    request = original.model_copy(update={
        **resing_fields(line, runner.lossless_file(song), song.duration), "seed": None,
        "title": f"{song.title} (line {line.index + 1} again)",
    })
    result, songs = runner.make_songs(request, owner=owner, library=library, session=session,
                                      progress=progress or no_progress, tier=tier, address=address,
                                      rate_key=rate_key)
    # Checked again as the whole song it now is, not as the one line that was repainted.
    intent = Intent.of(original, duration=song.duration)
    transcriber = studio_transcriber()
    for new in songs:
        audio, rate = read_audio(str(runner.lossless_file(new)))
        save_checks(new.audio_path, check_take(audio, rate, intent, transcriber=transcriber))
    return result, songs


def wire_sing_again(form, key: gr.BrowserState, library: Library, *, concurrency: int) -> None:
    """The card's button runs on the GPU queue like Generate and shows the new take in the cards."""
    for i, card in enumerate(form.results.cards):

        @user_errors
        def run(k: str | None, ids: list[str], line_number: int | None, request: gr.Request,
                progress: gr.Progress = gr.Progress(), i: int = i) -> list[Any]:  # noqa: B008 (gradio's idiom)
            if not line_number:
                raise gr.Error("pick the line to sing again.")
            _, songs = sing_again(
                library, visitor.owner_for(k), take_id(ids, i), int(line_number), session=request.session_hash or "",
                progress=runner.StageProgress(progress), tier=visitor.tier_of(request),
                address=visitor.client_address(request),
            )
            return [f"🎤 Line {int(line_number)} sung again and checked — kept in your Library.",
                    *form.results.values(songs)]

        def may_run(k: str | None, ids: list[str], line_number: int | None, request: gr.Request) -> list[dict]:
            return gpu_guard.verdict(lambda: gpu_guard.may_queue(request, k), 3)

        card.resing.click(run, [key, form.results.ids, card.resing_line], [form.status, *form.results.outputs()],
                          concurrency_id=GPU_QUEUE, concurrency_limit=concurrency, api_visibility="private",
                          validator=may_run)
