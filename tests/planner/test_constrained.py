"""The constrained decoder reproduces upstream's string-level traces (fsm_traces.json).

The traces were made with upstream's decoder, a toy tokenizer and a scripted greedy model; ours run
with our own toy tokenizer and an equivalent scripted model (``tiny.ScriptedLM``), so text is
compared, not token ids.
"""

from __future__ import annotations

import pytest
import torch

from backends.acestep.planner.constrained import (
    ConstraintSpec,
    ConstraintVocab,
    MetadataConstraint,
    MetadataLogitsProcessor,
)
from backends.acestep.planner.metadata import KEYSCALES, LANGUAGES, MAX_AUDIO_CODE, parse_metadata
from backends.acestep.planner.planner import Planner, PlannerOptions
from tests.planner.tiny import ScriptedLM

GREEDY = PlannerOptions(temperature=0.0, cfg_scale=2.0, top_p=0.9)
SONG = ("upbeat synth-pop", "[Verse]\nla la la")


def _planner(tokenizer, script: str) -> Planner:
    return Planner(ScriptedLM(tokenizer, script), tokenizer, name="scripted")


def _outputs(trace) -> list[str]:
    return [step["raw_output"] for step in trace["raw_outputs"]]


@pytest.mark.parametrize("trace_id", ["fsm_follow_valid_plan", "fsm_user_bpm_duration_override"])
def test_two_phase_traces(tiny_tokenizer, fsm_traces, trace_id):
    trace = fsm_traces[trace_id]
    given = trace["call_args"].get("user_metadata", {})
    plan = _planner(tiny_tokenizer, trace["model_preference_cot"]).plan(*SONG, options=GREEDY, **given)
    assert plan.outputs == _outputs(trace)
    assert plan.lm_metadata == trace["result_metadata"]
    assert plan.code_count == trace["result_audio_codes_count"]


def test_skipped_caption_and_language(tiny_tokenizer, fsm_traces):
    trace = fsm_traces["fsm_skip_caption_and_language"]
    options = GREEDY.model_copy(update={"rewrite_caption": False, "detect_language": False})
    plan = _planner(tiny_tokenizer, trace["model_preference_cot"]).plan(*SONG, options=options)
    assert plan.outputs == _outputs(trace)
    assert plan.lm_metadata == trace["result_metadata"]
    assert plan.caption == SONG[0]  # the DiT keeps the user's caption


def test_out_of_range_wishes_are_coerced(tiny_tokenizer, fsm_traces):
    trace = fsm_traces["fsm_out_of_range_values"]
    plan = _planner(tiny_tokenizer, trace["model_preference_cot"]).plan(*SONG, options=GREEDY)
    meta = plan.lm_metadata
    expected = trace["result_metadata"]
    # bpm 400 -> 40 and time signature 5 -> 2 are fixed by the prefix trees alone.
    for key in ("bpm", "caption", "timesignature"):
        assert meta[key] == expected[key], key
    # Where the wish is illegal and the fake model has no second choice, the pick is the lowest
    # token id among legal ones, so it depends on the toy vocabulary's id order: upstream's toy
    # gave duration 50, "A# minor" and "ro". What must hold: the legal part of the wish is kept
    # ("5" must be followed by a digit) and every value is legal.
    assert 50 <= meta["duration"] <= 59
    assert meta["keyscale"] in KEYSCALES and meta["language"] in LANGUAGES
    assert plan.code_count == 5 * meta["duration"]
    assert plan.outputs[1].startswith(_outputs(trace)[1].removesuffix("<|im_end|>"))


def _corrected_create_sample_output(fsm_traces) -> str:
    # Upstream (with its genres vocabulary) writes "genres:tropical house"; we have no vocabulary,
    # so the model writes its own space, as in the training data's YAML.
    raw = _outputs(fsm_traces["fsm_create_sample_language_injected"])[0]
    return raw.replace("genres:tropical house", "genres: tropical house")


def _describe(tiny_tokenizer, trace):
    script = (
        trace["model_preference_cot"] + "\n\n# Lyric\n[Verse 1]\nGolden sky and salty air\n<|audio_code_3|>"
    )
    return _planner(tiny_tokenizer, script).describe("a beach song", language="ja", options=GREEDY)


def test_create_sample_injects_language_and_masks_codes(tiny_tokenizer, fsm_traces):
    trace = fsm_traces["fsm_create_sample_language_injected"]
    draft = _describe(tiny_tokenizer, trace)
    assert draft.raw_output == _corrected_create_sample_output(fsm_traces)
    expected = trace["result_metadata"]
    for key in ("bpm", "caption", "genres", "keyscale", "language", "timesignature", "lyrics"):
        assert getattr(draft, key) == expected[key], key
    assert draft.duration == expected["duration"]
    assert "<|audio_code_" not in draft.raw_output


def test_genres_without_vocabulary_keeps_the_next_field(tiny_tokenizer, fsm_traces):
    trace = fsm_traces["fsm_create_sample_no_genres_vocab_upstream_bug"]
    assert "\neyscale: " in _outputs(trace)[0]  # upstream's bug, recorded
    draft = _describe(tiny_tokenizer, trace)
    assert "\nkeyscale: A♭ major\n" in draft.raw_output and "\neyscale" not in draft.raw_output
    assert draft.keyscale == "A♭ major"


def test_phase1_stops_where_think_would_close(tiny_tokenizer, fsm_traces):
    raw = _outputs(fsm_traces["fsm_follow_valid_plan"])[0]
    assert raw.endswith("timesignature: 4\n<|im_end|>") and "</think>" not in raw


def test_codes_phase_allows_only_valid_codes_and_forces_eos(tiny_tokenizer):
    vocab = ConstraintVocab(tiny_tokenizer)
    assert len(vocab.valid_code_ids) == MAX_AUDIO_CODE + 1
    assert len(vocab.all_code_ids) == 65535
    constraint = MetadataConstraint(vocab, ConstraintSpec(phase="codes", target_codes=3))
    invalid = tiny_tokenizer.convert_tokens_to_ids("<|audio_code_64000|>")
    for _ in range(3):
        scores = constraint.mask(torch.zeros(len(tiny_tokenizer)))
        allowed = torch.isfinite(scores).nonzero().flatten().tolist()
        assert allowed == vocab.valid_code_ids  # EOS blocked, 64000+ never allowed
        assert invalid not in allowed
        constraint.advance(vocab.valid_code_ids[0])
    scores = constraint.mask(torch.zeros(len(tiny_tokenizer)))
    assert torch.isfinite(scores).nonzero().flatten().tolist() == [vocab.eos_id]


def test_logits_processor_drives_transformers_generate(tiny_planner, tiny_tokenizer):
    """The same machine plugged into ``model.generate``: a legal metadata block, EOS at the end."""
    spec = ConstraintSpec(phase="cot", stop_at_reasoning=True, skip_caption=True, injected={"bpm": "128"})
    processor = MetadataLogitsProcessor(MetadataConstraint(tiny_planner.vocab, spec))
    prompt = tiny_tokenizer("<|im_start|>assistant\n", return_tensors="pt", add_special_tokens=False)
    torch.manual_seed(0)
    out = tiny_planner.model.generate(
        **prompt,
        logits_processor=[processor],
        do_sample=True,
        max_new_tokens=80,
        eos_token_id=tiny_tokenizer.eos_token_id,
        pad_token_id=tiny_tokenizer.pad_token_id,
    )
    text = tiny_tokenizer.decode(out[0, prompt["input_ids"].shape[1] :], skip_special_tokens=False)
    assert text.startswith("<think>\nbpm: 128\nduration: ") and text.endswith("\n<|im_end|>")
    meta = parse_metadata(text)
    assert meta["bpm"] == 128 and 10 <= meta["duration"] <= 600
    assert meta["keyscale"] in KEYSCALES and meta["language"] in LANGUAGES and meta["timesignature"] in "2346"
