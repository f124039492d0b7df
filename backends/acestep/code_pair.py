"""Where the audio tokenizer pair comes from when the diffusers weights were published without it.

ACE-Step's 5 Hz audio codes (the planner's output, and the cover task's re-quantised source) pass
through an ``audio_tokenizer`` / ``audio_token_detokenizer`` pair. diffusers' ``AceStepPipeline``
marks both optional and raises only when a call needs them (``pipeline_ace_step.py``:
``_optional_components``; "requires the registered `audio_tokenizer` and `audio_token_detokenizer`
modules"), and the published ``ACE-Step/acestep-v15-xl-turbo-diffusers`` folder has neither.

The pair is part of the DiT checkpoint itself upstream: ACE-Step 1.5's model holds it as its
``tokenizer`` / ``detokenizer`` submodules, and its handler turns the planner's codes into latents with
``self.model.tokenizer.quantizer`` and ``self.model.detokenizer`` of the very checkpoint that renders
(``acestep/handler.py``, ``_decode_audio_codes_to_latents``). diffusers' converter
(``scripts/convert_ace_step_to_diffusers.py``) splits that same file by prefix: ``decoder.*`` ->
transformer, ``encoder.*`` -> condition encoder, ``tokenizer.*`` / ``detokenizer.*`` -> the pair. So the
pair that belongs to the turbo DiT is the one inside the native turbo checkpoint, and
:mod:`backends.acestep.native_pair` reads it from there and checks, tensor by tensor, that the native
file's DiT is the DiT we render with.

This module is import-free (no torch): the validator and the UI ask it what the configured weights can do.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from studio import settings

PAIR = ("audio_tokenizer", "audio_token_detokenizer")
# A native ACE-Step checkpoint (Hub id or folder holding config.json + model*.safetensors) to take the
# pair from; needed for weights this table does not know, e.g. a local copy of the diffusers folder.
CODEC_ENV = settings.ACESTEP_CODEC_WEIGHTS.name
# diffusers weights -> the native checkpoint of the same DiT (the repository the diffusers one was
# converted from; ACE-Step 1.5's model downloader names it for `acestep-v15-xl-turbo`).
NATIVE_TWINS: dict[str, str] = {
    "ACE-Step/acestep-v15-xl-turbo-diffusers": "ACE-Step/acestep-v15-xl-turbo",
}
# Tasks whose pipeline call tokenises the source audio (diffusers' `prepare_src_latents`, task "cover").
TASKS_NEEDING_PAIR: tuple[str, ...] = ("cover",)


def folder_has_pair(folder: str | Path) -> bool:
    """Whether a diffusers folder ships both halves of the pair as subfolders."""
    root = Path(folder)
    return all((root / name / "config.json").is_file() for name in PAIR)


def pair_source(location: str) -> str | None:
    """Where the pair for the DiT at ``location`` comes from: "" when the folder has it itself, a
    native checkpoint (Hub id or folder) to read it from, or None when nothing establishes one."""
    if Path(location).is_dir() and folder_has_pair(location):
        return ""
    explicit = settings.ACESTEP_CODEC_WEIGHTS.get()
    if explicit:
        return explicit
    return NATIVE_TWINS.get(location)


def missing_pair_reason(location: str, what: str) -> str:
    """The sentence for a request the weights at ``location`` cannot do without the pair."""
    return (
        f"{what} needs ACE-Step's audio tokenizer pair, which the weights at {location} do not include and "
        f"no native checkpoint of the same DiT is known for; set {CODEC_ENV} to the native ACE-Step checkpoint "
        f"these weights were converted from (e.g. {next(iter(NATIVE_TWINS.values()))} for "
        f"{next(iter(NATIVE_TWINS))}), or turn the planner off and pick another task."
    )


def needs_pair(task: str, options: BaseModel | None) -> str | None:
    """What in this request needs the pair, in words (None: nothing does)."""
    if task in TASKS_NEEDING_PAIR:
        return f"the {task} task"
    planner = getattr(options, "planner", "off") if options is not None else "off"
    if planner != "off":
        return f"the {planner} planner (its audio codes)"
    return None


def refusal(location: str, task: str, options: BaseModel | None) -> str | None:
    """Why the weights at ``location`` cannot do ``task`` with ``options`` (None when they can)."""
    what = needs_pair(task, options)
    if what is None or pair_source(location) is not None:
        return None
    return missing_pair_reason(location, what)
