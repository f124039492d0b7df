"""The two-phase flow against upstream's recorded calls (cases.json), with the LM's replies
scripted from the fixture: prompts, sampling, constraint settings, and what reaches the DiT."""

from __future__ import annotations

import pytest

from backends.acestep.planner.metadata import LANGUAGES, codes_string
from backends.acestep.planner.planner import (
    LMCall,
    PlannerOptions,
    describe_call,
    draft_from_output,
    run_plan,
)
from studio.ground.errors import StudioError

FLAG_TO_OPTION = {
    "use_cot_metas": "write_metadata",
    "use_cot_caption": "rewrite_caption",
    "use_cot_language": "detect_language",
    "thinking": "write_codes",
}


def _scripted(case):
    """A stand-in LM returning the fixture's phase-1 text and synthetic codes of the asked length."""
    seen: list[LMCall] = []
    fallback = {call["generation_phase"]: call["raw_output_fed_back"] for call in case["lm_calls"]}

    def generate(call: LMCall, label: str) -> str:
        seen.append(call)
        if call.phase == "cot":
            return fallback["cot"]
        count = call.spec.target_codes or fallback["codes"]["codes"]["count"]
        return codes_string([(i * 7919) % 64000 for i in range(count)]) + "<|im_end|>"

    return generate, seen


def _run(case):
    inputs = case["inputs"]
    options = PlannerOptions(**{FLAG_TO_OPTION[k]: v for k, v in inputs.items() if k in FLAG_TO_OPTION})
    generate, seen = _scripted(case)
    plan = run_plan(
        generate,
        inputs["caption"],
        inputs["lyrics"],
        bpm=inputs.get("bpm"),
        keyscale=inputs.get("keyscale"),
        timesignature=inputs.get("timesignature"),
        duration=inputs.get("duration"),
        vocal_language=inputs.get("vocal_language"),
        options=options,
    )
    return plan, seen


def _cases(planner_cases):
    return [c for c in planner_cases["text2music_cases"] if "upstream_error" not in c]


def test_every_call_matches_upstream(planner_cases):
    for case in _cases(planner_cases):
        _, seen = _run(case)
        assert [c.phase for c in seen] == [c["generation_phase"] for c in case["lm_calls"]], case["id"]
        for ours, theirs in zip(seen, case["lm_calls"], strict=True):
            assert ours.prompt == theirs["formatted_prompt"], case["id"]
            assert ours.uncond_prompt == theirs.get("unconditional_prompt"), case["id"]
            sampling, fsm = theirs["sampling"], theirs["fsm"]
            assert ours.sampling.temperature == sampling["temperature"]
            assert ours.sampling.cfg_scale == sampling["cfg_scale"], case["id"]
            assert ours.sampling.top_k == sampling["top_k"] and ours.sampling.top_p == sampling["top_p"]
            assert ours.sampling.repetition_penalty == sampling["repetition_penalty"]
            assert ours.spec.stop_at_reasoning == theirs["stop_at_reasoning"]
            assert ours.spec.skip_caption == fsm["skip_caption"], case["id"]
            assert ours.spec.skip_language == fsm["skip_language"], case["id"]
            assert ours.spec.skip_genres == fsm["skip_genres"], case["id"]
            injected = {k: str(v) for k, v in (fsm["user_metadata"] or {}).items()}
            assert dict(ours.spec.injected) == injected, case["id"]
            assert ours.spec.target_codes == fsm.get("target_codes"), case["id"]
            if ours.phase == "codes" and ours.spec.target_codes is not None:
                assert ours.max_new_tokens == ours.spec.target_codes + 10
            else:
                assert ours.max_new_tokens == 3500


def _expected_language(case) -> str:
    theirs = case["dit_handler_kwargs"]["vocal_language"]
    detected = case["phase1_parsed_metadata"]
    detected = detected.get("language") if isinstance(detected, dict) else None
    # Deliberate difference: with no user choice we pass the detected language; upstream loses it.
    if theirs == "unknown" and detected in LANGUAGES:
        return detected
    return theirs


def test_dit_inputs_match_upstream(planner_cases):
    differing = []
    for case in _cases(planner_cases):
        plan, _ = _run(case)
        theirs = case["dit_handler_kwargs"]
        kwargs = plan.dit_kwargs()
        assert kwargs["prompt"] == theirs["captions"], case["id"]
        assert kwargs["lyrics"] == theirs["lyrics"]
        assert kwargs["bpm"] == theirs["bpm"], case["id"]
        assert kwargs["keyscale"] == theirs["key_scale"], case["id"]
        assert (kwargs["timesignature"] or "") == theirs["time_signature"], case["id"]
        assert kwargs["audio_duration"] == theirs["audio_duration"], case["id"]
        assert kwargs["vocal_language"] == _expected_language(case), case["id"]
        if kwargs["vocal_language"] != theirs["vocal_language"]:
            differing.append(case["id"])
        assert plan.code_count == theirs["audio_code_string"]["count"], case["id"]
        assert ("audio_codes" in kwargs) == (plan.code_count > 0)
    assert differing == ["t2m_language_no_yaml_quirk"]


def test_dit_encoder_strings_match_upstream(planner_cases):
    """diffusers' own prompt formatting, fed with our plan, gives upstream's encoder strings."""
    from diffusers.pipelines.ace_step.pipeline_ace_step import AceStepPipeline

    for case in _cases(planner_cases):
        plan, _ = _run(case)
        theirs = case["dit_text_inputs"]
        kwargs = plan.dit_kwargs()
        text, lyric = AceStepPipeline._format_prompt(
            AceStepPipeline,
            prompt=kwargs["prompt"],
            lyrics=kwargs["lyrics"],
            vocal_language=kwargs["vocal_language"],
            audio_duration=kwargs["audio_duration"],
            instruction=theirs["instruction"],
            bpm=kwargs["bpm"],
            keyscale=kwargs["keyscale"],
            timesignature=kwargs["timesignature"],
        )
        assert text == theirs["text_encoder_input"], case["id"]
        expected_lyric = theirs["lyric_encoder_input"].replace(
            f"# Languages\n{case['dit_handler_kwargs']['vocal_language']}\n",
            f"# Languages\n{_expected_language(case)}\n",
        )
        assert lyric == expected_lyric, case["id"]


def test_user_values_are_never_rewritten(planner_cases):
    case = next(c for c in planner_cases["text2music_cases"] if c["id"] == "t2m_waltz_float_duration")
    plan, seen = _run(case)
    assert plan.duration == 95.5 and plan.timesignature == "3"
    assert seen[0].spec.injected == {"timesignature": "3", "duration": "95"}
    assert plan.code_count == 477  # int(95.5 * 5), not int(95) * 5

    # Even if the block came back with other values, the user's win.
    def liar(call: LMCall, label: str) -> str:
        if call.phase == "cot":
            return "<think>\nbpm: 99\nduration: 33\nkeyscale: C major\ntimesignature: 4\n<|im_end|>"
        return codes_string(list(range(call.spec.target_codes or 0)))

    plan = run_plan(liar, "c", "l", bpm=120, keyscale="B♭ minor", duration=20.5)
    assert (plan.bpm, plan.keyscale, plan.duration, plan.timesignature) == (120, "B♭ minor", 20.5, "4")
    assert "bpm: 120" in plan.cot and "duration: 20" in plan.cot and plan.code_count == 102


def test_no_metadata_at_all_does_not_crash(planner_cases):
    case = next(c for c in planner_cases["text2music_cases"] if "upstream_error" in c)
    calls: list[LMCall] = []

    def generate(call: LMCall, label: str) -> str:
        calls.append(call)
        return codes_string([1, 2, 3]) + "<|im_end|>"

    plan = run_plan(
        generate,
        case["inputs"]["caption"],
        case["inputs"]["lyrics"],
        options=PlannerOptions(write_metadata=False),
    )
    assert [c.phase for c in calls] == ["codes"]
    assert calls[0].prompt.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    assert calls[0].spec.target_codes is None
    assert plan.code_count == 3 and plan.duration is None and plan.audio_seconds == pytest.approx(0.6)
    assert plan.dit_kwargs()["audio_duration"] == -1.0


def test_too_long_for_the_planner_is_an_actionable_error():
    with pytest.raises(StudioError, match="must be <= 600 s"):
        run_plan(lambda call, label: "", "c", "l", duration=700)


def test_simple_mode_calls_and_results(planner_cases):
    for case in planner_cases["simple_and_format_cases"]:
        if not case["id"].startswith("simple"):
            continue
        inputs, theirs = case["inputs"], case["lm_call"]
        call = describe_call(
            inputs["query"], inputs["instrumental"], inputs["vocal_language"], PlannerOptions()
        )
        assert call.prompt == theirs["formatted_prompt"], case["id"]
        assert call.uncond_prompt is None and call.sampling.cfg_scale == 1.0
        assert call.sampling.top_k is None and call.sampling.top_p is None
        assert call.spec.phase == "understand" and call.spec.skip_genres == theirs["fsm"]["skip_genres"]
        assert dict(call.spec.injected) == (theirs["fsm"]["user_metadata"] or {}), case["id"]
        assert call.spec.stop_at_reasoning is False
        draft = draft_from_output(theirs["raw_output_fed_back"], inputs["instrumental"], call.prompt)
        result = case["create_sample_result"]
        for key in ("caption", "lyrics", "bpm", "duration", "keyscale", "language", "timesignature"):
            assert getattr(draft, key) == result[key], (case["id"], key)
        assert draft.instrumental == result["instrumental"]
