"""Every prompt we build equals upstream's, byte for byte (cases.json)."""

from __future__ import annotations

import pytest

from backends.acestep.planner import prompts
from backends.acestep.planner.metadata import cot_text, parse_metadata


def _t2m_cases(planner_cases):
    return [case for case in planner_cases["text2music_cases"] if case["lm_calls"]]


def test_instructions_match_upstream_constants(planner_cases):
    constants = planner_cases["constants"]
    assert constants["DEFAULT_LM_INSTRUCTION"] == prompts.TEXT2MUSIC_INSTRUCTION
    assert constants["DEFAULT_LM_INSPIRED_INSTRUCTION"] == prompts.INSPIRATION_INSTRUCTION
    assert constants["DEFAULT_LM_REWRITE_INSTRUCTION"] == prompts.REWRITE_INSTRUCTION
    assert constants["DEFAULT_LM_UNDERSTAND_INSTRUCTION"] == prompts.UNDERSTAND_INSTRUCTION


def test_text2music_prompts_equal_every_case(planner_cases):
    checked = 0
    for case in _t2m_cases(planner_cases):
        inputs = case["inputs"]
        cot_prompt = prompts.text2music_cot_prompt(inputs["caption"], inputs["lyrics"])
        metadata = None
        for call in case["lm_calls"]:
            if call["generation_phase"] == "cot":
                assert cot_prompt == call["formatted_prompt"], case["id"]
                metadata = parse_metadata(call["raw_output_fed_back"])
            else:
                # Phase 2's CoT comes from the parsed phase-1 block, or from the user's metas.
                if metadata is None:
                    metadata = {k: inputs[k] for k in ("bpm", "keyscale", "timesignature") if k in inputs}
                    if "duration" in inputs:
                        metadata["duration"] = int(inputs["duration"])
                built = prompts.text2music_codes_prompt(
                    inputs["caption"], inputs["lyrics"], cot_text(metadata)
                )
                assert built == call["formatted_prompt"], case["id"]
                assert prompts.codes_unconditional_prompt() == call["unconditional_prompt"], case["id"]
            checked += 1
    assert checked == 21  # 12 cases with calls: 9 two-phase, 3 single-phase


def test_simple_and_format_prompts(planner_cases):
    for case in planner_cases["simple_and_format_cases"]:
        inputs = case["inputs"]
        if case["id"].startswith("simple"):
            built = prompts.create_sample_prompt(inputs["query"], inputs["instrumental"])
        else:
            built = prompts.format_sample_prompt(inputs["caption"], inputs["lyrics"])
        assert built == case["lm_call"]["formatted_prompt"], case["id"]


def test_understand_and_current_phase2_layout(planner_cases):
    example = planner_cases["understand_prompt_example"]
    assert prompts.understand_prompt(example["audio_codes"]) == example["formatted_prompt"]
    layouts = planner_cases["legacy_vs_current_phase2_prompt"]
    built = prompts.text2music_codes_prompt(
        "melancholic acoustic ballad", "[Instrumental]", layouts["cot_text"]
    )
    assert built == layouts["current_open_turn_prompt"]
    assert built != layouts["legacy_closed_turn_prompt"]


def test_custom_negative_prompt_replaces_no_user_input():
    assert prompts.codes_unconditional_prompt("noisy, lo-fi").endswith(
        "<|im_start|>user\nnoisy, lo-fi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
    )
    assert prompts.codes_unconditional_prompt("  ") == prompts.codes_unconditional_prompt()


@pytest.mark.slow
def test_our_chat_rendering_equals_the_tokenizer_template(planner_cases, tiny_tokenizer):
    """The hand-rendered ChatML equals apply_chat_template with the fixture template."""
    for case in _t2m_cases(planner_cases):
        inputs = case["inputs"]
        user = f"# Caption\n{inputs['caption']}\n\n# Lyric\n{inputs['lyrics']}\n"
        messages = [
            {"role": "system", "content": prompts.system_content(prompts.TEXT2MUSIC_INSTRUCTION)},
            {"role": "user", "content": user},
        ]
        rendered = tiny_tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        assert rendered == prompts.text2music_cot_prompt(inputs["caption"], inputs["lyrics"])
