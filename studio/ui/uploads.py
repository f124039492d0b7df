"""Files a visitor hands the studio: only what came through gradio's upload folder is opened.

A request built in the browser or through the API may name a path; trusting it would let a visitor
make the server read its own files (a "cover" of /etc/passwd, a LoRA from another visitor's
folder). Paths are resolved, symlinks included, before the check.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr
from gradio.data_classes import FileData, GradioRootModel

from studio.errors import shown
from studio.ground.errors import StudioError


def upload_folder() -> Path:
    from gradio.utils import get_upload_folder

    return Path(get_upload_folder()).resolve()


def inside_uploads(path: str | Path, *, what: str) -> Path:
    """``path`` resolved, if it is a file gradio received; otherwise one sentence saying to upload it."""
    try:
        resolved = Path(path).expanduser().resolve()
    except (OSError, RuntimeError, ValueError):
        resolved = None
    if resolved is None or not resolved.is_relative_to(upload_folder()) or not resolved.is_file():
        raise StudioError(f"{what} must be a file uploaded here; upload it again (a server path is not accepted).")
    return resolved


def checked_loras(options: dict) -> dict:
    """``options`` with every LoRA either a Hub id or an uploaded file; a local server path is refused."""
    loras = options.get("loras")
    if not loras:
        return options
    from backends.acestep.lora import LoraRef, coerce_refs, looks_local
    from backends.acestep.lora.sources import hub_id_problem

    try:
        refs = [r if isinstance(r, LoraRef) else LoraRef.model_validate(r) for r in coerce_refs(loras)]
    except ValueError as exc:  # pydantic's ValidationError included
        raise StudioError(f"`loras`: {str(exc).splitlines()[-1].strip()}; give `owner/name[:scale]` items.") from None
    kept = []
    for ref in refs:
        if looks_local(ref.source):
            kept_path = inside_uploads(ref.source, what=f"the LoRA {ref.source[:200]!r}")
            ref = ref.model_copy(update={"source": str(kept_path)})
        elif problem := hub_id_problem(ref.source):  # never joined onto a folder: refused here, before the queue
            raise StudioError(f"the LoRA {ref.source[:200]!r} is not a Hub id: {problem}; give owner/name.")
        kept.append(ref.model_dump())
    return {**options, "loras": kept}


class FileOrPath(GradioRootModel):
    # Anything at all: a value that is neither a file nor a path is refused by ``source_file``'s
    # preprocess with a sentence; left to this model, pydantic's error (with its documentation links)
    # was the answer to `source=false` on /edit, /stems and /check (issue 18 item 6, found by the fuzz).
    root: FileData | str | Any


def source_file(label: str) -> gr.File:
    """A file input that also takes a bare path string, so a caller naming a file on the server is told
    to upload it (by ``uploads.inside_uploads``) instead of getting a schema error without a reason.

    A gr.File with two instance attributes replaced, not a subclass: gradio writes a ``.pyi`` beside
    the module of every Component subclass when the class is defined."""
    component = gr.File(label=label, type="filepath")
    file_preprocess = component.preprocess

    def preprocess(payload: Any) -> str | None:
        value = given = payload.root if isinstance(payload, FileOrPath) else payload
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, dict):
            try:
                value = FileData.model_validate(value)
            except ValueError:
                value = None
        if not isinstance(value, FileData):  # gr.Error: raised outside the handler, where user_errors is not
            raise gr.Error(
                f"`{label}` must be an uploaded file (handle_file(...) on the client), got {shown(given)}.",
                print_exception=False,
            )
        return file_preprocess(value)  # type: ignore[return-value]

    component.data_model = FileOrPath
    component.preprocess = preprocess  # type: ignore[method-assign]
    return component
