from __future__ import annotations

import pytest

from backends.heartmula.prompt import wrap_tags

CASES = ["case1_en", "case2_zh", "case3_tags_only"]


@pytest.mark.parametrize("case", CASES)
def test_prompt_ids_equal_upstream(case, builder, prompt_cases, safetensors_file):
    data = prompt_cases[case]
    expected = safetensors_file("prompts.safetensors")
    prompt = builder.build(data["inputs"]["tags"], data["inputs"]["lyrics"])
    assert builder.tag_ids(data["inputs"]["tags"]) == data["tags_ids"]
    assert builder.lyric_ids(data["inputs"]["lyrics"]) == data["lyrics_ids"]
    assert prompt.muq_index == data["muq_idx"]
    assert prompt.length == data["prompt_len"]
    assert prompt.tokens.tolist() == expected[f"{case}/cfg1.0/tokens"][0].tolist()
    assert prompt.mask.tolist() == expected[f"{case}/cfg1.0/tokens_mask"][0].tolist()
    # The CFG batch is two identical rows; the model makes row 1 unconditional itself.
    for row in expected[f"{case}/cfg1.5/tokens"]:
        assert row.tolist() == prompt.tokens.tolist()


def test_tags_are_lowercased_and_wrapped_once(prompt_cases):
    assert wrap_tags("Piano,Happy") == "<tag>piano,happy</tag>"
    assert wrap_tags("<tag>rock</tag>") == "<tag>rock</tag>"
    data = prompt_cases["case1_en"]
    assert wrap_tags(data["inputs"]["tags"]) == data["tags_text_after_lower_and_wrap"]


def test_empty_lyrics_give_bos_eos(builder):
    assert builder.lyric_ids("") == [builder.config.text_bos_id, builder.config.text_eos_id]
