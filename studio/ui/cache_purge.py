"""A deleted song leaves no copy behind in gradio's file cache (issue 18 item 3).

gradio serves an output file by copying it into its cache (``GRADIO_TEMP_DIR``, default
``/tmp/gradio``) under a folder named by a seeded SHA-256 of the file's bytes
(gradio/processing_utils.py: ``save_file_to_cache`` -> ``hash_file``), and answers
``/gradio_api/file=<that copy>`` until its ``delete_cache`` sweep ages it out: hours after the visitor
deleted the song. The seed is kept in a file beside gradio (utils.py ``get_hash_seed``), so hashing a
song's files before they are removed names exactly the folders gradio made for them, in this process
and in earlier ones. The title-named download links (studio.ui.results.named_download) hold the same
bytes, so they land in the same folders.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from studio.library import Library

log = logging.getLogger(__name__)


def cache_folder() -> Path:
    from gradio.utils import get_upload_folder

    return Path(get_upload_folder()).resolve()


def cached_copies(files: list[Path]) -> list[Path]:
    """The folders of gradio's cache that hold a copy of any of ``files``."""
    from gradio.processing_utils import hash_file

    root = cache_folder()
    found = []
    for path in files:
        try:
            folder = root / hash_file(path)
        except OSError:  # gone already: nothing left to hash, nothing gradio could have copied since
            continue
        if folder.is_dir():
            found.append(folder)
    return found


def forget(files: list[Path]) -> None:
    """Remove gradio's cached copies of ``files`` (a ``Library.on_delete`` listener)."""
    for folder in cached_copies(files):
        shutil.rmtree(folder, ignore_errors=True)
        log.info("removed the cached copy %s of a deleted song", folder.name[:12])


def watch(library: Library) -> None:
    """Every song ``library`` deletes (a visitor's delete, retention) takes its cached copies with it."""
    if forget not in library.on_delete:
        library.on_delete.append(forget)
