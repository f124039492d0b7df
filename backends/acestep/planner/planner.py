"""The planner: caption + lyrics (+ whatever metadata the user fixed) -> metadata and audio codes
for ``AceStepPipeline``; and simple mode, a description -> caption, lyrics and metadata.

The flow follows upstream's ``inference.generate_music`` / ``LLMHandler`` in "thinking" mode:

* Phase 1 writes the metadata block under constrained decoding (no CFG), with the user's bpm,
  key, time signature and duration injected verbatim. It is skipped when the user fixed all four.
* Phase 2 re-dumps the metadata as YAML into the prompt and writes exactly ``int(duration * 5)``
  codes with CFG (scale 2.0 against the bare ``NO USER INPUT`` prompt).

Where we differ from upstream on purpose:

* ``write_metadata=False`` with no user metadata at all: upstream crashes (``'NoneType' object has
  no attribute 'items'``); we condition phase 2 on an empty think block and let the model end.
* The language for the DiT: upstream always passes the user's value (``unknown`` by default),
  because it looks the detected language up under the wrong key. We pass the user's language when
  they chose one, otherwise the language the planner detected.
* Parsed YAML quotes are removed (``metadata.py``), so Norwegian stays ``no``.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field

from backends.acestep.planner.constrained import ConstraintSpec, ConstraintVocab, MetadataConstraint, Phase
from backends.acestep.planner.cost import COT_TOKENS, target_code_count
from backends.acestep.planner.decoding import Sampling, decode
from backends.acestep.planner.metadata import (
    CODES_PER_SECOND,
    DURATION_RANGE,
    LANGUAGES,
    audio_code_values,
    cot_text,
    extract_lyrics,
    parse_audio_codes,
    parse_metadata,
)
from backends.acestep.planner.prompts import (
    NO_USER_INPUT,
    codes_unconditional_prompt,
    create_sample_prompt,
    text2music_codes_prompt,
    text2music_cot_prompt,
)
from studio.ground.errors import StudioError
from studio.ground.progress import ProgressEvent, ProgressFn, no_progress

# Upstream's context budget (vLLM's max_model_len); the pt path caps new tokens at 64 below it.
MAX_MODEL_LEN = 4096
FREE_TEXT_TOKEN_CAP = min(DURATION_RANGE[1] * CODES_PER_SECOND + 500, MAX_MODEL_LEN - 64)  # 3500
PROGRESS_EVERY = 16


class PlannerOptions(BaseModel):
    """How the planner samples. Defaults are upstream's ``GenerationParams``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: float = Field(0.85, ge=0.0, le=2.0, description="Sampling temperature; 0 is greedy.")
    cfg_scale: float = Field(2.0, ge=1.0, le=10.0, description="CFG strength for the audio codes.")
    top_k: int | None = Field(None, ge=0, description="Keep the k likeliest tokens; None or 0 is off.")
    top_p: float | None = Field(0.9, gt=0.0, le=1.0, description="Nucleus sampling; None or 1.0 is off.")
    repetition_penalty: float = Field(1.0, gt=0.0, le=3.0, description="1.0 is off.")
    negative_prompt: str = Field(NO_USER_INPUT, description="User text of CFG's unconditional branch.")
    write_metadata: bool = Field(True, description="Let the planner fill metadata the user left open.")
    rewrite_caption: bool = Field(True, description="Give the DiT the planner's richer caption.")
    detect_language: bool = Field(True, description="Let the planner name the vocal language.")
    write_codes: bool = Field(True, description="Write the audio codes (off: metadata only).")
    max_new_tokens: int | None = Field(
        None,
        ge=16,
        le=3500,
        description="Cap on free-text calls (metadata block, simple-mode lyrics); None is upstream's 3500.",
    )
    max_duration: int = Field(
        DURATION_RANGE[1],
        ge=DURATION_RANGE[0],
        le=DURATION_RANGE[1],
        description="Longest duration it may pick.",
    )


@dataclass(frozen=True)
class LMCall:
    """One generation: the exact prompt strings and every setting that shapes the output."""

    phase: Phase
    prompt: str
    uncond_prompt: str | None
    sampling: Sampling
    spec: ConstraintSpec
    max_new_tokens: int


@dataclass
class Plan:
    """What the DiT gets, plus the exact strings that produced it."""

    caption: str
    lyrics: str
    bpm: int | None
    keyscale: str | None
    timesignature: str | None
    duration: float | None
    language: str
    audio_codes: str
    lm_metadata: dict[str, Any] = field(default_factory=dict)  # parsed phase-1 output ({} if skipped)
    cot: str = ""  # the think block phase 2 was conditioned on
    # What phase 2 needs to run again for another take.
    source_caption: str = ""
    cot_metadata: dict[str, Any] = field(default_factory=dict)
    target_duration: float | None = None
    calls: list[LMCall] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)

    @property
    def code_count(self) -> int:
        return len(audio_code_values(self.audio_codes))

    @property
    def audio_seconds(self) -> float | None:
        """The song's length: the codes decide it when there are codes."""
        return self.code_count / CODES_PER_SECOND if self.audio_codes else self.duration

    @property
    def metadata(self) -> dict[str, Any]:
        return {
            "bpm": self.bpm,
            "caption": self.caption,
            "duration": self.duration,
            "keyscale": self.keyscale,
            "language": self.language,
            "timesignature": self.timesignature,
        }

    def dit_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``AceStepPipeline.__call__`` (codes switch it to cover-from-codes)."""
        kwargs: dict[str, Any] = {
            "prompt": self.caption,
            "lyrics": self.lyrics,
            "vocal_language": self.language,
            "bpm": self.bpm,
            "keyscale": self.keyscale,
            "timesignature": self.timesignature,
            # <= 0 makes diffusers take the length from the codes.
            "audio_duration": self.duration if self.duration else -1.0,
        }
        if self.audio_codes:
            kwargs["audio_codes"] = self.audio_codes
        return kwargs


@dataclass
class SampleDraft:
    """Simple mode's result, shown for editing before anything is rendered."""

    caption: str
    lyrics: str
    bpm: int | None
    duration: float | None
    keyscale: str | None
    timesignature: str | None
    language: str | None
    genres: str | None
    instrumental: bool
    prompt: str = ""
    raw_output: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "caption": self.caption,
            "lyrics": self.lyrics,
            "instrumental": self.instrumental,
            "metadata": {
                "bpm": self.bpm,
                "duration": self.duration,
                "genres": self.genres,
                "keyscale": self.keyscale,
                "language": self.language,
                "timesignature": self.timesignature,
            },
        }


# -- pure planning logic (no model) ----------------------------------------------------------


def _given_text(value: str | None) -> str | None:
    """Upstream's rule for keyscale/time signature: stripped, unless empty or "n/a"."""
    if value is None:
        return None
    text = str(value).strip()
    return text if text and text.lower() != "n/a" else None


def user_metadata(
    *,
    bpm: int | None = None,
    keyscale: str | None = None,
    timesignature: str | None = None,
    duration: float | None = None,
) -> dict[str, Any]:
    """The values the user fixed, in the form they are injected into the metadata block."""
    meta: dict[str, Any] = {}
    if bpm is not None and int(bpm) > 0:
        meta["bpm"] = int(bpm)
    if (key := _given_text(keyscale)) is not None:
        meta["keyscale"] = key
    if (ts := _given_text(timesignature)) is not None:
        meta["timesignature"] = ts
    if duration is not None and duration > 0:
        # The block carries whole seconds (95.5 -> 95); the code count keeps the fraction (477).
        meta["duration"] = int(duration)
    return meta


def _positive_int(value: Any) -> int | None:
    return value if isinstance(value, int) and value > 0 else None


def cot_call(caption: str, lyrics: str, given: Mapping[str, Any], options: PlannerOptions) -> LMCall:
    return LMCall(
        phase="cot",
        prompt=text2music_cot_prompt(caption, lyrics),
        uncond_prompt=None,  # upstream forces CFG 1.0 for phase 1
        sampling=Sampling(options.temperature, options.top_k, options.top_p, options.repetition_penalty, 1.0),
        spec=ConstraintSpec(
            phase="cot",
            stop_at_reasoning=True,
            skip_caption=not options.rewrite_caption,
            skip_language=not options.detect_language,
            skip_genres=True,
            injected={key: str(value) for key, value in given.items()},
            max_duration=options.max_duration,
        ),
        max_new_tokens=options.max_new_tokens or FREE_TEXT_TOKEN_CAP,
    )


def codes_call(
    caption: str,
    lyrics: str,
    metadata: Mapping[str, Any],
    target_duration: float | None,
    options: PlannerOptions,
) -> LMCall:
    target = target_code_count(target_duration) if target_duration else None
    return LMCall(
        phase="codes",
        prompt=text2music_codes_prompt(caption, lyrics, cot_text(metadata)),
        uncond_prompt=codes_unconditional_prompt(options.negative_prompt),
        sampling=Sampling(
            options.temperature, options.top_k, options.top_p, options.repetition_penalty, options.cfg_scale
        ),
        spec=ConstraintSpec(
            phase="codes", skip_caption=True, skip_language=True, skip_genres=False, target_codes=target
        ),
        max_new_tokens=(target + 10)
        if target is not None
        else (options.max_new_tokens or FREE_TEXT_TOKEN_CAP),
    )


def describe_call(text: str, instrumental: bool, language: str | None, options: PlannerOptions) -> LMCall:
    injected = {}
    if language and language.strip() and language.strip().lower() != "unknown":
        injected["language"] = language.strip()
    return LMCall(
        phase="understand",
        prompt=create_sample_prompt(text, instrumental),
        uncond_prompt=None,
        # Upstream's create_sample: no CFG, no top-k/top-p by default.
        sampling=Sampling(options.temperature, None, None, 1.0, 1.0),
        spec=ConstraintSpec(
            phase="understand", skip_genres=False, injected=injected, max_duration=options.max_duration
        ),
        max_new_tokens=options.max_new_tokens or FREE_TEXT_TOKEN_CAP,
    )


Generate = Callable[[LMCall, str], str]


def run_plan(
    generate: Generate,
    caption: str,
    lyrics: str,
    *,
    bpm: int | None = None,
    keyscale: str | None = None,
    timesignature: str | None = None,
    duration: float | None = None,
    vocal_language: str | None = None,
    options: PlannerOptions | None = None,
) -> Plan:
    """The two-phase flow around any ``generate(call, label) -> raw text`` function."""
    options = options or PlannerOptions()
    if duration is not None and duration > options.max_duration:
        raise StudioError(
            f"`duration` must be <= {options.max_duration} s with the planner on, got {duration:g}; "
            "shorten the song or turn the planner off."
        )
    given = user_metadata(bpm=bpm, keyscale=keyscale, timesignature=timesignature, duration=duration)
    has_all = all(key in given for key in ("bpm", "keyscale", "timesignature", "duration"))
    calls: list[LMCall] = []
    outputs: list[str] = []
    lm_meta: dict[str, Any] = {}
    if options.write_metadata and not has_all:
        call = cot_call(caption, lyrics, given, options)
        raw = generate(call, "writing metadata")
        calls.append(call)
        outputs.append(raw)
        lm_meta = parse_metadata(raw)
    # User values win over whatever the block says (they were injected, so normally equal).
    metadata = {**lm_meta, **given}

    codes = ""
    cot = ""
    target = duration if duration is not None and duration > 0 else _positive_int(metadata.get("duration"))
    if options.write_codes:
        call = codes_call(caption, lyrics, metadata, target, options)
        raw = generate(call, "writing audio codes")
        calls.append(call)
        outputs.append(raw)
        codes = parse_audio_codes(raw)
        cot = cot_text(metadata)

    lm_caption = lm_meta.get("caption") if options.rewrite_caption else None
    final_duration: float | None
    if duration is not None and duration > 0:
        final_duration = float(duration)
    elif (lm_duration := _positive_int(metadata.get("duration"))) is not None:
        final_duration = float(lm_duration)
    else:
        # Nobody chose a length: the DiT takes it from the codes (see ``Plan.audio_seconds``) and,
        # like upstream, its text prompt says "30 seconds".
        final_duration = None
    return Plan(
        caption=lm_caption if isinstance(lm_caption, str) and lm_caption.strip() else caption,
        lyrics=lyrics,
        bpm=_positive_int(metadata.get("bpm")),
        keyscale=metadata.get("keyscale") or None,
        timesignature=str(metadata["timesignature"]) if metadata.get("timesignature") else None,
        duration=final_duration,
        language=_dit_language(vocal_language, lm_meta.get("language")),
        audio_codes=codes,
        lm_metadata=lm_meta,
        cot=cot,
        source_caption=caption,
        cot_metadata=metadata,
        target_duration=target,
        calls=calls,
        outputs=outputs,
    )


def _dit_language(user: str | None, detected: Any) -> str:
    # Differs from upstream (which always passes the user's value, "unknown" by default).
    if user and user.strip() and user.strip().lower() != "unknown":
        return user.strip()
    if isinstance(detected, str) and detected in LANGUAGES:
        return detected
    return "unknown"


def draft_from_output(raw: str, instrumental: bool, prompt: str = "") -> SampleDraft:
    meta = parse_metadata(raw)
    lyrics = extract_lyrics(raw)
    if not lyrics and instrumental:
        lyrics = "[Instrumental]"
    duration = _positive_int(meta.get("duration"))
    return SampleDraft(
        caption=str(meta.get("caption", "")),
        lyrics=lyrics,
        bpm=_positive_int(meta.get("bpm")),
        duration=float(duration) if duration else None,
        keyscale=meta.get("keyscale") or None,
        timesignature=meta.get("timesignature") or None,
        language=meta.get("language") or None,
        genres=meta.get("genres") or None,
        instrumental=instrumental,
        prompt=prompt,
        raw_output=raw,
    )


# -- the loaded planner ----------------------------------------------------------------------


class Planner:
    """A loaded 5 Hz LM. Construct with ``Planner.load(weights)`` or from a model and tokenizer."""

    def __init__(self, model, tokenizer, *, name: str = "custom") -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.vocab = ConstraintVocab(tokenizer)

    @classmethod
    def load(
        cls,
        weights: str | None = None,
        *,
        device: str | None = None,
        dtype=None,
        local_files_only: bool = False,
    ) -> Planner:
        from backends.acestep.planner.model import load_planner_weights

        model, tokenizer, checkpoint = load_planner_weights(
            weights, device=device, dtype=dtype, local_files_only=local_files_only
        )
        return cls(model, tokenizer, name=checkpoint.describe())

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    # -- public API ----------------------------------------------------------------------------
    def plan(
        self,
        caption: str,
        lyrics: str,
        *,
        bpm: int | None = None,
        keyscale: str | None = None,
        timesignature: str | None = None,
        duration: float | None = None,
        vocal_language: str | None = None,
        options: PlannerOptions | None = None,
        seed: int | None = None,
        generator: torch.Generator | None = None,
        progress: ProgressFn = no_progress,
    ) -> Plan:
        generator = self._generator(seed, generator)
        return run_plan(
            lambda call, label: self._generate(call, label, generator, progress),
            caption,
            lyrics,
            bpm=bpm,
            keyscale=keyscale,
            timesignature=timesignature,
            duration=duration,
            vocal_language=vocal_language,
            options=options,
        )

    def recode(
        self,
        plan: Plan,
        *,
        options: PlannerOptions | None = None,
        seed: int | None = None,
        generator: torch.Generator | None = None,
        progress: ProgressFn = no_progress,
    ) -> Plan:
        """New codes for another take, on the same metadata (upstream runs phase 1 once per batch)."""
        call = codes_call(
            plan.source_caption,
            plan.lyrics,
            plan.cot_metadata,
            plan.target_duration,
            options or PlannerOptions(),
        )
        raw = self._generate(call, "writing audio codes", self._generator(seed, generator), progress)
        calls = [*(c for c in plan.calls if c.phase != "codes"), call]
        outputs = [*plan.outputs[: len(calls) - 1], raw]
        codes = parse_audio_codes(raw)
        return replace(plan, audio_codes=codes, cot=cot_text(plan.cot_metadata), calls=calls, outputs=outputs)

    def describe(
        self,
        text: str,
        *,
        instrumental: bool = False,
        language: str | None = None,
        options: PlannerOptions | None = None,
        seed: int | None = None,
        generator: torch.Generator | None = None,
        progress: ProgressFn = no_progress,
    ) -> SampleDraft:
        """Simple mode: one description -> caption, lyrics and metadata (upstream's create_sample)."""
        call = describe_call(text, instrumental, language, options or PlannerOptions())
        raw = self._generate(call, "writing a song sketch", self._generator(seed, generator), progress)
        return draft_from_output(raw, instrumental, call.prompt)

    def unload(self) -> None:
        device = self.model.device if self.model is not None else None
        self.model = None
        self.tokenizer = None
        gc.collect()
        if device is not None and device.type == "cuda":
            torch.cuda.empty_cache()

    # -- internals -----------------------------------------------------------------------------
    def _generator(self, seed: int | None, generator: torch.Generator | None) -> torch.Generator | None:
        if generator is not None or seed is None:
            return generator
        return torch.Generator(device=self.device).manual_seed(int(seed))

    def _generate(
        self, call: LMCall, label: str, generator: torch.Generator | None, progress: ProgressFn
    ) -> str:
        if self.model is None:
            raise StudioError("The planner was unloaded; load it again before planning.")
        encode = self.vocab.encode
        total = call.spec.target_codes if call.spec.target_codes is not None else COT_TOKENS

        def report(count: int, token: int) -> None:
            if count % PROGRESS_EVERY == 0:
                progress(ProgressEvent("plan", count, max(total, count), label))

        progress(ProgressEvent("plan", 0, total, label))
        tokens = decode(
            self.model,
            encode(call.prompt),
            uncond_ids=encode(call.uncond_prompt) if call.uncond_prompt is not None else None,
            max_new_tokens=call.max_new_tokens,
            stop_ids={i for i in (self.vocab.eos_id, self.vocab.pad_id) if i is not None},
            pad_id=self.vocab.pad_id if self.vocab.pad_id is not None else self.vocab.eos_id,
            sampling=call.sampling,
            constraint=MetadataConstraint(self.vocab, call.spec),
            generator=generator,
            on_token=report,
        )
        progress(ProgressEvent("plan", len(tokens), max(total, len(tokens)), label))
        return self.tokenizer.decode(tokens, skip_special_tokens=False)
