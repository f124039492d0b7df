"""Constrained decoding of the planner's metadata block and audio codes.

A token-level state machine in the spirit of upstream's ``MetadataConstrainedLogitsProcessor``
(same field order, value vocabularies, injection of user values, stop rules), written for this
project. It masks raw scores before repetition penalty, top-k/top-p and temperature.

What it enforces (see the fixture README, section 5):

* ``<think>``, ``\\n`` and every field name with its colon are forced, token by token.
* Values come from prefix trees over the tokenizer's own tokenization of each legal line
  (``"bpm: 118"`` -> ``[' ', '1', '1', '8']``): bpm 30-300, duration 10-``max_duration``,
  70 key scales, 51 languages (first token chosen greedily), time signatures 2/3/4/6.
* The caption is free text (no backticks, no audio codes, at most 512 tokens); it ends when,
  after a newline, the most likely token does not start with a space or tab. The model then
  writes the next field name itself, and the machine jumps to that field's value.
* Values the user gave are injected verbatim (``" " + value + "\\n"``), never checked or changed.
* Phase 1 (``stop_at_reasoning``) gets EOS exactly where ``</think>`` would start.
* The codes phase admits only the 64,000 valid code tokens plus EOS; EOS is blocked until the
  target count and then forced.
* After ``</think>`` in simple mode the text is free, but audio-code tokens stay masked.

Differences from upstream, on purpose:

* genres: upstream constrains it to a vocabulary file we do not ship; without that file its
  fallback moves the machine twice on the newline and eats the first letter of the next field
  name ("eyscale:"). Here genres is free text (no codes, no backticks, non-empty, at most
  ``genres_max_tokens``) and the newline moves the machine exactly once.
* A numeric value with no legal continuation gets a forced newline instead of an all ``-inf`` row.
* After the caption, upstream lets the model write the next field name unconstrained (so it could
  stop, emit codes, ramble, skip a field or jump to a skipped one such as ``language``). Here the
  next field's name is forced, as after every other field; a model that writes it the usual way
  produces the same text.
* EOS is masked inside the caption and genres values: stopping there would lose every later field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import ClassVar, Literal

import torch
from transformers import LogitsProcessor

from backends.acestep.planner.metadata import (
    BPM_RANGE,
    DURATION_RANGE,
    FIELD_ORDER,
    KEYSCALES,
    LANGUAGES,
    MAX_AUDIO_CODE,
    TIME_SIGNATURES,
)

Phase = Literal["cot", "codes", "understand"]
NEG_INF = float("-inf")
_CODE_TOKEN_RE = re.compile(r"^<\|audio_code_(\d+)\|>$")


@dataclass(frozen=True)
class ConstraintSpec:
    """What one LM call is allowed to write."""

    phase: Phase
    stop_at_reasoning: bool = False
    skip_caption: bool = False
    skip_language: bool = False
    skip_genres: bool = True
    # Field name -> value text, injected verbatim instead of generated.
    injected: Mapping[str, str] = field(default_factory=dict)
    # Codes phase: exact number of codes before EOS; None lets the model stop on its own.
    target_codes: int | None = None
    max_duration: int = DURATION_RANGE[1]
    caption_max_tokens: int = 512
    genres_max_tokens: int = 64

    def enabled_fields(self) -> tuple[str, ...]:
        skipped = {
            "caption": self.skip_caption,
            "language": self.skip_language,
            "genres": self.skip_genres,
        }
        return tuple(name for name in FIELD_ORDER if not skipped.get(name, False))


class ConstraintVocab:
    """Everything the state machine needs from one tokenizer, computed once and reused."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        eos = tokenizer.eos_token_id
        if eos is None:
            raise ValueError("the planner tokenizer has no eos_token; expected <|im_end|>")
        self.eos_id: int = int(eos)
        self.pad_id: int | None = tokenizer.pad_token_id
        self.newline_id = self._last_token("\n")
        self.backtick_id = self._last_token("`")
        valid: list[int] = []
        every: list[int] = []
        for text, token_id in tokenizer.get_vocab().items():
            match = _CODE_TOKEN_RE.match(text)
            if match:
                every.append(token_id)
                if int(match.group(1)) <= MAX_AUDIO_CODE:
                    valid.append(token_id)
        if not valid:
            raise ValueError("the planner tokenizer has no <|audio_code_N|> tokens")
        self.valid_code_ids = sorted(valid)
        self.all_code_ids = sorted(every)
        self._tensors: dict[tuple[str, torch.device], torch.Tensor] = {}
        self._trees: dict[tuple[str, int], dict[tuple[int, ...], frozenset[int]]] = {}

    # -- tokenizer helpers -------------------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def _last_token(self, text: str) -> int:
        ids = self.encode(text)
        if not ids:
            raise ValueError(f"the planner tokenizer cannot encode {text!r}")
        return ids[-1]

    @lru_cache(maxsize=65536)  # noqa: B019 - one vocab per loaded tokenizer, lives as long as it
    def text(self, token_id: int) -> str:
        return self.tokenizer.decode([token_id])

    @lru_cache(maxsize=256)  # noqa: B019
    def single_token_prefix(self, remaining: str) -> tuple[int, int]:
        """(token, characters consumed): the longest prefix of ``remaining`` that is one token."""
        for end in range(len(remaining), 0, -1):
            ids = self.encode(remaining[:end])
            if len(ids) == 1:
                return ids[0], end
        ids = self.encode(remaining)
        return ids[0], len(self.text(ids[0]))

    def tensor(self, name: str, device: torch.device) -> torch.Tensor:
        key = (name, device)
        if key not in self._tensors:
            ids = {
                "valid_codes": self.valid_code_ids,
                "all_codes": self.all_code_ids,
                "codes_and_eos": [*self.valid_code_ids, self.eos_id],
            }[name]
            self._tensors[key] = torch.tensor(ids, dtype=torch.long, device=device)
        return self._tensors[key]

    # -- value prefix trees ------------------------------------------------------------------
    def tree(self, name: str, max_duration: int) -> dict[tuple[int, ...], frozenset[int]]:
        key = (name, max_duration if name == "duration" else 0)
        if key not in self._trees:
            values: Sequence[str] = {
                "bpm": [str(v) for v in range(BPM_RANGE[0], BPM_RANGE[1] + 1)],
                "duration": [str(v) for v in range(DURATION_RANGE[0], max_duration + 1)],
                "keyscale": KEYSCALES,
                "language": LANGUAGES,
                "timesignature": TIME_SIGNATURES,
            }[name]
            self._trees[key] = self._build_tree(name, values)
        return self._trees[key]

    def _build_tree(self, name: str, values: Sequence[str]) -> dict[tuple[int, ...], frozenset[int]]:
        # Tokenize whole lines: the space before the value may merge into the value's first token
        # (" G"), so the value tokens are what follows the tokens of "name:".
        context = self.encode(f"{name}:")
        tree: dict[tuple[int, ...], set[int]] = {}
        for value in values:
            full = self.encode(f"{name}: {value}")
            if full[: len(context)] != context or len(full) == len(context):
                continue
            tokens = full[len(context) :]
            for i in range(len(tokens) + 1):
                nxt = tokens[i] if i < len(tokens) else self.newline_id
                tree.setdefault(tuple(tokens[:i]), set()).add(nxt)
        return {prefix: frozenset(allowed) for prefix, allowed in tree.items()}


def _whitelist(scores: torch.Tensor, allowed: Sequence[int] | torch.Tensor) -> torch.Tensor:
    out = torch.full_like(scores, NEG_INF)
    index = (
        allowed
        if isinstance(allowed, torch.Tensor)
        else torch.tensor(list(allowed), dtype=torch.long, device=scores.device)
    )
    out[index] = scores[index]
    return out


def _block(scores: torch.Tensor, blocked: torch.Tensor) -> torch.Tensor:
    out = scores.clone()
    out[blocked] = NEG_INF
    return out


class MetadataConstraint:
    """The state machine for one LM call. ``mask`` filters a 1-D score row; ``advance`` consumes the
    token that was picked."""

    _FIXED_TEXT: ClassVar[dict[str, str]] = {"think": "<think>", "newline": "\n", "think_end": "</think>"}

    def __init__(self, vocab: ConstraintVocab, spec: ConstraintSpec) -> None:
        self.vocab = vocab
        self.spec = spec
        self.fields = spec.enabled_fields()
        self.codes_count = 0
        self._queue: list[int] = []
        self._reset_value()
        if spec.phase == "codes":
            # Phase-2 prompts already end with "</think>\n\n": go straight to codes.
            self.state, self.field_index = "codes", -1
        else:
            self.state, self.field_index = "think", -1
        self.position = 0  # characters of the current fixed text already written

    def _reset_value(self) -> None:
        self.value_tokens: list[int] = []
        self.value_text = ""
        self.caption_tokens = 0
        self.caption_after_newline = False
        self.caption_ending = False
        self.pending_name = ""
        self._greedy_first: int | None = None

    # -- state queries -----------------------------------------------------------------------
    @property
    def current_field(self) -> str | None:
        return self.fields[self.field_index] if 0 <= self.field_index < len(self.fields) else None

    @property
    def in_codes(self) -> bool:
        return self.state == "codes"

    @property
    def finished(self) -> bool:
        return self.state == "done"

    def _fixed_text(self) -> str | None:
        if self.state == "name":
            return f"{self.current_field}:"
        return self._FIXED_TEXT.get(self.state)

    # -- transitions -------------------------------------------------------------------------
    def _goto_name(self, index: int) -> None:
        self._reset_value()
        self.position = 0
        if index < len(self.fields):
            self.state, self.field_index = "name", index
        else:
            self.state, self.field_index = "think_end", len(self.fields)

    def _goto_value(self, index: int) -> None:
        self._reset_value()
        self.position = 0
        self.state, self.field_index = "value", index
        injected = self.spec.injected.get(self.fields[index])
        if injected is not None:
            self._queue = self.vocab.encode(f" {injected}\n")

    def _after_think_end(self) -> None:
        self.position = 0
        self.state = "free" if self.spec.phase == "understand" else "codes"

    # -- masking -----------------------------------------------------------------------------
    def mask(self, scores: torch.Tensor) -> torch.Tensor:
        """Return ``scores`` (1-D, raw logits) with every illegal next token at -inf."""
        v = self.vocab
        if self._queue:
            return _whitelist(scores, [self._queue[0]])
        state = self.state
        if state == "done":
            return scores
        if state == "free":
            return _block(scores, v.tensor("all_codes", scores.device))
        if state == "codes":
            target = self.spec.target_codes
            if target is not None and self.codes_count >= target:
                return _whitelist(scores, [v.eos_id])
            out = _whitelist(scores, v.tensor("codes_and_eos", scores.device))
            if target is not None:
                out[v.eos_id] = NEG_INF
            return out
        if state == "think_end" and self.spec.stop_at_reasoning:
            return _whitelist(scores, [v.eos_id])
        fixed = self._fixed_text()
        if fixed is not None:
            token, _ = v.single_token_prefix(fixed[self.position :])
            return _whitelist(scores, [token])
        return self._mask_value(scores)

    def _mask_value(self, scores: torch.Tensor) -> torch.Tensor:
        v = self.vocab
        name = self.current_field
        if name == "caption":
            return self._mask_caption(scores)
        if name == "genres":
            out = _block(scores, v.tensor("all_codes", scores.device))
            out[v.backtick_id] = NEG_INF
            self._block_stop(out)
            if not self.value_text.strip():
                out[v.newline_id] = NEG_INF
            elif len(self.value_tokens) >= self.spec.genres_max_tokens:
                return _whitelist(scores, [v.newline_id])
            return out
        assert name is not None
        tree = v.tree(name, self.spec.max_duration)
        allowed = tree.get(tuple(self.value_tokens))
        if not allowed:
            return _whitelist(scores, [v.newline_id])
        if name in ("keyscale", "language", "timesignature") and v.newline_id in allowed:
            return _whitelist(scores, [v.newline_id])
        if name == "language" and not self.value_tokens:
            # Upstream picks the language's first token greedily, whatever the temperature.
            candidates = sorted(allowed)
            index = torch.tensor(candidates, dtype=torch.long, device=scores.device)
            best = candidates[int(torch.argmax(scores[index]))]
            return _whitelist(scores, [best])
        return _whitelist(scores, sorted(allowed))

    def _mask_caption(self, scores: torch.Tensor) -> torch.Tensor:
        v = self.vocab
        out = _block(scores, v.tensor("all_codes", scores.device))
        if self.caption_after_newline:
            top = v.text(int(torch.argmax(scores)))
            self.caption_after_newline = False
            if top and top[0] not in " \t":
                # An unindented line: the caption is over and the model writes the next field name.
                self.caption_ending = True
        if self.caption_ending:
            return _whitelist(scores, self._next_name_tokens())
        out[v.backtick_id] = NEG_INF
        self._block_stop(out)
        if self.caption_tokens >= self.spec.caption_max_tokens:
            return _whitelist(scores, [v.newline_id])
        return out

    def _block_stop(self, scores: torch.Tensor) -> None:
        # Differs from upstream: an EOS inside the metadata block would lose every field after it.
        scores[self.vocab.eos_id] = NEG_INF
        if self.vocab.pad_id is not None:
            scores[self.vocab.pad_id] = NEG_INF

    def _next_name_tokens(self) -> list[int]:
        """The token that continues ``pending_name`` towards ``"<next field>:"``."""
        target = f"{self.fields[self.field_index + 1]}:"
        return [self.vocab.single_token_prefix(target[len(self.pending_name) :])[0]]

    # -- consuming the picked token ----------------------------------------------------------
    def advance(self, token_id: int) -> None:
        v = self.vocab
        if self._queue:
            self._queue.pop(0)
            if not self._queue:
                self._goto_name(self.field_index + 1)
            return
        state = self.state
        if state == "done":
            return
        if token_id == v.eos_id or (v.pad_id is not None and token_id == v.pad_id):
            self.state = "done"
            return
        if state == "codes":
            self.codes_count += 1
            return
        if state == "free":
            return
        fixed = self._fixed_text()
        if fixed is not None:
            self.position += len(v.text(token_id))
            if self.position >= len(fixed):
                if state == "think":
                    self.state, self.position = "newline", 0
                elif state == "newline":
                    self._goto_name(0)
                elif state == "name":
                    self._goto_value(self.field_index)
                else:
                    self._after_think_end()
            return
        self._advance_value(token_id)

    def _advance_value(self, token_id: int) -> None:
        v = self.vocab
        name = self.current_field
        text = v.text(token_id)
        if name == "caption":
            self.caption_tokens += 1
            self.value_text += text
            self.caption_after_newline = "\n" in text
            if self.caption_ending:
                self.pending_name += text
                if self.pending_name.endswith(":"):
                    self._end_caption(self.pending_name[:-1])
            return
        if name == "genres":
            if "\n" in text:
                self._goto_name(self.field_index + 1)
            else:
                self.value_tokens.append(token_id)
                self.value_text += text
            return
        if token_id == v.newline_id:
            self._goto_name(self.field_index + 1)
        else:
            self.value_tokens.append(token_id)
            self.value_text += text

    def _end_caption(self, written_name: str) -> None:
        # The mask only lets the model spell the next field's name, so this is always that field.
        self._goto_value(self.fields.index(written_name))


class MetadataLogitsProcessor(LogitsProcessor):
    """The same machine as a transformers ``LogitsProcessor`` (batch of one), for ``model.generate``.

    It consumes the tokens appended since its last call, then masks. Our own decoding loop
    (``decoding.decode``) calls ``MetadataConstraint`` directly because it also needs the state for
    CFG over code tokens only.
    """

    def __init__(self, constraint: MetadataConstraint) -> None:
        self.constraint = constraint
        self._seen: int | None = None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if input_ids.shape[0] != 1:
            raise ValueError("MetadataLogitsProcessor drives one sequence at a time")
        length = input_ids.shape[1]
        if self._seen is not None:
            for token in input_ids[0, self._seen : length].tolist():
                self.constraint.advance(int(token))
        self._seen = length
        return self.constraint.mask(scores[0]).unsqueeze(0)
