"""Result cards: one per take, with player, details, downloads, Like, Retake and Reuse."""

from __future__ import annotations

import html
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from studio import registry
from studio.ground.errors import StudioError
from studio.later import LATER
from studio.library import Song
from studio.ui.stems_controls import StemsControls, build_stems_controls

# This session's takes, newest first (issue 17.11: a Retake or a new Generate removed the earlier cards,
# so takes could not be compared). Older ones stay in the Library.
MAX_CARDS = 8
DOWNLOAD_DIR = "song-studio-downloads"  # under the system temp folder, which gradio may serve from


def length(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def model_name(backend: str) -> str:
    try:
        return registry.get_spec(backend).capabilities.display_name
    except Exception:  # a song made by a backend this build no longer lists
        return backend


def song_head(song: Song) -> str:
    made = time.strftime("%Y-%m-%d %H:%M", time.localtime(song.created_at))
    style = html.escape(song.style or "no style")
    return (
        f'<div class="song-head"><h3>{html.escape(song.title)}</h3>'
        f'<div class="meta"><span class="pill">{html.escape(model_name(song.backend))}</span>'
        f'<span class="pill">{length(song.duration)}</span><span class="pill">seed {song.seed}</span></div>'
        f'<div class="meta">{style}</div>'
        f'<div class="meta">made {made} in {song.elapsed_s:.1f} s on {html.escape(song.device)} '
        f"({html.escape(song.dtype)})</div></div>"
    )


def like_label(song: Song | None) -> str:
    return "♥ Liked" if song is not None and song.liked else "♡ Like"


def lyrics_markdown(song: Song) -> str:
    if not song.lyrics_sent.strip():
        return "*Instrumental*"
    return "```\n" + song.lyrics_sent.replace("```", "'''") + "\n```"


# What each card offers to download, in button order: label -> the file beside the song's audio.
# The runner keeps these next to the library's audio file (studio.ui.runner.keep_downloads).
DOWNLOADS: dict[str, str] = {"WAV": ".wav", "MP3": ".mp3", "Stems (zip)": ".stems.zip"}


def download_path(song: Song, label: str) -> Path | None:
    """The file behind one download button of ``song``'s card, or None when it was not made."""
    suffix = DOWNLOADS[label]
    path = song.audio_path if song.audio_path.suffix == suffix else song.audio_path.with_name(song.id + suffix)
    return path if path.is_file() else None


def song_checks(song: Song):
    """The song's checks (studio.quality), or None when it was never checked."""
    from studio.quality.store import load_checks

    return load_checks(song.audio_path)


def checks_line(checks) -> str:
    """The at-a-glance line under the card's title: ✓ lyrics 18/19 lines · ✓ tempo 121 vs 120 BPM · ..."""
    if checks is None:
        return ""
    return f'<div class="meta checks-line">{html.escape(checks.summary())}</div>'


def checks_markdown(checks, pending: bool = False) -> str:
    """Every measure with its sentence, then every lyric line with its time and whether it was heard;
    ``pending``: the background writer (studio.later) has yet to check the song."""
    if checks is None:
        return "*Checking the take: the measures show here in a moment.*" if pending else "*Not checked.*"
    from studio.quality.report import MARKS as marks

    out = [f"- {marks[m.ok]} **{m.name}**: {m.detail}" for m in checks.measures]
    if checks.lyrics is None:
        out.append(f"\n*{checks.lyric_note}*")
        return "\n".join(out)
    ly = checks.lyrics
    where = "the vocal stem" if ly.on_vocal_stem else "the mix"
    out.append(f"\n**Lyrics** heard by `{ly.asr_model}` on {where} — the score depends on that model.\n")
    for line in ly.lines:
        mark = {"heard": "✓", "partly": "~", "missing": "✗"}[line.status]
        when = f"{length(line.start)}–{length(line.end)}" if line.start is not None and line.end is not None else "–"
        order = ", out of order" if line.out_of_order else ""
        out.append(f"- {mark} `{when}` {html.escape(line.text)} *({line.status}{order})*")
    out += [f"- ➕ heard but not written: *{html.escape(extra)}*" for extra in ly.extra]
    return "\n".join(out)


def karaoke(checks) -> list[dict] | None:
    """The heard lines as the player's subtitles, so it shows the current line while playing."""
    if checks is None or checks.lyrics is None:
        return None
    lines = [ln for ln in checks.lyrics.lines if ln.status != "missing" and ln.start is not None and ln.end is not None]
    return [
        {"text": ln.text, "timestamp": [round(ln.start, 2), round(max(ln.end, ln.start + 0.1), 2)]} for ln in lines
    ] or None


def resing_choices(song: Song, checks) -> list[tuple[str, int]]:
    """(label, line number) of each line that can be sung again; none unless the song's model repaints."""
    from studio.quality.resing import lines_to_sing_again

    try:
        repaints = "repaint" in registry.get_spec(song.backend).capabilities.tasks
    except Exception:  # a backend this build no longer lists
        repaints = False
    if not repaints or checks is None:
        return []
    lines = lines_to_sing_again(checks.lyrics)
    return [(f"{ln.index + 1}. {ln.text[:60]} ({ln.status})", ln.index + 1) for ln in lines]


def best_first(songs: list[Song]) -> list[Song]:
    """Songs ranked by their checks (unchecked songs keep their order)."""
    from studio.quality import best_first as rank

    checks = [song_checks(s) for s in songs]
    if not songs or any(c is None for c in checks):
        return songs
    return [songs[i] for i in rank(checks)]


def file_stem(title: str) -> str:
    """A song title as a file name a visitor recognises: "Neon Rivers (Cover)" stays as it is; characters
    file systems refuse are dropped."""
    kept = re.sub(r"[^\w\s().,'&+-]", "", title, flags=re.UNICODE)
    return re.sub(r"\s+", " ", kept).strip(" .")[:80] or "song"


def named_download(song: Song, path: Path) -> Path:
    """``path`` under the song's title: the browser saves a download under the served file's name, and the
    library's files are named by id (issue 17.11). A hard link where the file system allows, else a copy."""
    suffix = ".stems.zip" if path.name.endswith(".stems.zip") else path.suffix
    target = Path(tempfile.gettempdir()) / DOWNLOAD_DIR / song.id / f"{file_stem(song.title)}{suffix}"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, target)
        except OSError:
            shutil.copyfile(path, target)
    return target


def take_id(ids: object, index: int) -> str:
    """The id of the song on card ``index``: a script can press a card the page keeps hidden, or send
    any value where the page keeps the ids (issue 18 item 6, found by the fuzz)."""
    if isinstance(ids, list) and 0 <= index < len(ids) and isinstance(ids[index], str) and ids[index]:
        return ids[index]
    raise StudioError("there is no song on this card yet; make one first (or reload the page).")


def forget_downloads(song_id: str) -> None:
    """Remove a deleted song's title-named links, which would keep its audio alive."""
    shutil.rmtree(Path(tempfile.gettempdir()) / DOWNLOAD_DIR / song_id, ignore_errors=True)


@dataclass
class Card:
    group: gr.Group
    head: gr.HTML
    audio: gr.Audio
    like: gr.Button
    retake: gr.Button
    reuse: gr.Button
    edit: gr.Button
    downloads: list[gr.DownloadButton]  # one per DOWNLOADS entry, in its order
    lyrics: gr.Markdown
    checks: gr.HTML  # the at-a-glance line
    details: gr.Markdown  # every measure and lyric line, in the Checks accordion
    resing_line: gr.Dropdown  # a line the check did not hear
    resing: gr.Button  # opens it in Edit as a repaint of that line
    stems: StemsControls | None = None  # Split into stems (studio.ui.stems_controls)

    def outputs(self) -> list[gr.Component]:
        return [
            self.group,
            self.head,
            self.audio,
            self.like,
            *self.downloads,
            self.lyrics,
            self.checks,
            self.details,
            self.resing_line,
            self.resing,
        ]

    @staticmethod
    def values(song: Song | None) -> list[Any]:
        if song is None:
            hidden = [gr.update(value=None, visible=False) for _ in DOWNLOADS]
            return [
                gr.update(visible=False),
                "",
                gr.update(value=None, subtitles=None),
                like_label(None),
                *hidden,
                "",
                "",
                "",
                gr.update(choices=[], value=None, visible=False),
                gr.update(visible=False),
            ]
        files = [download_path(song, label) for label in DOWNLOADS]
        files = [named_download(song, f) if f is not None else None for f in files]
        checks = song_checks(song)
        again = resing_choices(song, checks)
        return [
            gr.update(visible=True),
            song_head(song),
            # The player streams the compressed file kept first (studio.finishing.PLAYER_FORMAT); its own
            # download button saves it under the song's title too.
            gr.update(value=str(named_download(song, song.audio_path)), subtitles=karaoke(checks)),
            like_label(song),
            *[gr.update(value=str(f) if f else None, visible=f is not None) for f in files],
            lyrics_markdown(song),
            checks_line(checks),
            checks_markdown(checks, pending=LATER.pending(song.id)),
            gr.update(choices=again, value=again[0][1] if again else None, visible=bool(again)),
            gr.update(visible=bool(again)),
        ]


@dataclass
class ResultsView:
    cards: list[Card]
    ids: gr.State  # song id shown on each card

    def outputs(self) -> list[gr.Component]:
        return [o for card in self.cards for o in card.outputs()] + [self.ids]

    def download_outputs(self) -> list[gr.Component]:
        """The download buttons and the checks of every card: what studio.later writes after the song
        became playable. Not the player: updating it would stop a song the visitor already started."""
        return [
            o
            for card in self.cards
            for o in (*card.downloads, card.checks, card.details, card.resing_line, card.resing)
        ]

    def download_values(self, songs: list[Song]) -> list[Any]:
        """For songs whose WAV, MP3, stems and checks were written after they were shown (studio.later):
        the player streamed the FLAC meanwhile."""
        out: list[Any] = []
        for i in range(MAX_CARDS):
            song = songs[i] if i < len(songs) else None
            files = [download_path(song, label) if song is not None else None for label in DOWNLOADS]
            if song is not None:
                files = [named_download(song, f) if f is not None else None for f in files]
            out += [gr.update(value=str(f) if f else None, visible=f is not None) for f in files]
            if song is None:
                out += [gr.update(), gr.update(), gr.update(), gr.update()]
                continue
            checks = song_checks(song)
            again = resing_choices(song, checks)
            out += [
                checks_line(checks),
                checks_markdown(checks),
                gr.update(choices=again, value=again[0][1] if again else None, visible=bool(again)),
                gr.update(visible=bool(again)),
            ]
        return out

    def values(self, songs: list[Song], earlier: list[Song] | None = None) -> list[Any]:
        """Cards for ``songs`` just made (best first, by their checks), followed by this session's
        ``earlier`` takes (newest first)."""
        fresh = {s.id for s in songs}
        shown = [*best_first(songs), *(s for s in earlier or [] if s.id not in fresh)][:MAX_CARDS]
        out: list[Any] = []
        for i in range(MAX_CARDS):
            out += Card.values(shown[i] if i < len(shown) else None)
        return [*out, [s.id for s in shown]]


def build_results(prefix: str = "take") -> ResultsView:
    """``prefix`` keeps element ids unique when two views show results (``take-0``, ``edit-take-0``)."""
    cards = []
    for i in range(MAX_CARDS):
        with gr.Group(visible=False, elem_classes="song-card") as group:
            head = gr.HTML()
            audio = gr.Audio(
                type="filepath",
                interactive=False,
                show_label=False,
                elem_id=f"{prefix}-{i}",
                buttons=["download"],
            )
            with gr.Row(elem_classes="card-actions"):
                like = gr.Button("♡ Like", size="sm", min_width=0)
                retake = gr.Button("↻ Retake", size="sm", min_width=0)
                reuse = gr.Button("Reuse settings", size="sm", min_width=0)
                edit = gr.Button("✂ Edit", size="sm", min_width=0)
            with gr.Row():
                downloads = [
                    gr.DownloadButton(f"⬇ {label}", size="sm", min_width=0, visible=False) for label in DOWNLOADS
                ]
            checks = gr.HTML()
            with gr.Accordion("Checks", open=False):
                details = gr.Markdown()
                with gr.Row():
                    resing_line = gr.Dropdown(label="Line not heard", choices=[], visible=False, scale=3)
                    resing = gr.Button("🎤 Sing this line again", size="sm", visible=False, scale=1)
            with gr.Accordion("Lyrics", open=False):
                lyrics = gr.Markdown()
            stems = build_stems_controls(f"{prefix}-{i}")
        cards.append(
            Card(
                group,
                head,
                audio,
                like,
                retake,
                reuse,
                edit,
                downloads,
                lyrics,
                checks,
                details,
                resing_line,
                resing,
                stems,
            )
        )
    return ResultsView(cards=cards, ids=gr.State([]))
