"""Stems for a visitor: of one of their library songs or of an upload, kept in their own folder.

Files live under the library's served audio folder, ``<audio>/<owner>/stems/<song id or upload-…>/<n>/``,
so the player's download buttons can hand them out, and a deleted song takes its stems with it
(``Library.delete``). The library's clean-up skips folders, so nothing here is swept as stray.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from studio import ratelimit
from studio.ground.progress import ProgressFn, no_progress
from studio.later import master_file
from studio.library import Library, new_id
from studio.separation.catalog import stem_set
from studio.separation.flow import StemsResult, split_song

STEMS_DIR = "stems"


def song_stems_dir(song_audio: Path, song_id: str) -> Path:
    return song_audio.parent / STEMS_DIR / song_id


def split_library_song(
    library: Library, owner: str, song_id: str, count: int | str | None, *, tier: str | None = None,
    progress: ProgressFn = no_progress, rate_key: str = "", address: str = "",
) -> StemsResult:
    """Split one of ``owner``'s songs (the owner check is ``library.get``'s)."""
    song = library.get(owner, song_id)
    chosen = stem_set(count)
    ratelimit.take_gpu(rate_key or owner, address, what="stem splits")
    folder = song_stems_dir(song.audio_path, song.id) / str(chosen.count)
    shutil.rmtree(folder, ignore_errors=True)  # a second split of the same song replaces the first
    # The lossless master: stems must have the song's own length (the player's MP3 is padded).
    return split_song(master_file(song.audio_path, song.id), out=folder, stems=chosen.count, title=song.title,
                      tier=tier, progress=progress)


def split_upload(
    library: Library, owner: str, source: str | Path, count: int | str | None, *, title: str = "",
    tier: str | None = None, progress: ProgressFn = no_progress, rate_key: str = "", address: str = "",
) -> StemsResult:
    """Split a file the visitor uploaded (the caller checks it came through the upload folder)."""
    chosen = stem_set(count)
    ratelimit.take_gpu(rate_key or owner, address, what="stem splits")
    folder = library._owner_dir(owner) / STEMS_DIR / f"upload-{new_id()}" / str(chosen.count)
    try:
        return split_song(source, out=folder, stems=chosen.count, title=title or None, tier=tier, progress=progress)
    except BaseException:
        shutil.rmtree(folder.parent, ignore_errors=True)
        raise
