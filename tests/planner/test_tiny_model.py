"""A tiny random Qwen3 planner in the real on-disk layout, end to end: the same code path as the
official checkpoints (config check, tokenizer, ``Qwen3ForCausalLM``), random weights."""

from __future__ import annotations

import argparse
import json

import pytest

from backends.acestep.planner.cost import estimate_planner_cost
from backends.acestep.planner.metadata import KEYSCALES, LANGUAGES, MAX_AUDIO_CODE, audio_code_values
from backends.acestep.planner.model import PLANNER_CHECKPOINTS, resolve_checkpoint
from backends.acestep.planner.planner import Planner, PlannerOptions
from studio.ground.errors import Cancelled, StudioError
from studio.ground.progress import ProgressEvent

FAST = PlannerOptions(rewrite_caption=False)  # a random model's free-text caption is just slow noise
SHORT = PlannerOptions(max_new_tokens=600)  # a random model rarely picks EOS for its lyrics


def test_plan_writes_metadata_and_exact_code_count(tiny_planner):
    events: list[ProgressEvent] = []
    plan = tiny_planner.plan(
        "dreamy synth pop", "[Verse]\nla la", duration=7.3, seed=3, options=FAST, progress=events.append
    )
    assert plan.code_count == int(7.3 * 5) == 36
    assert all(0 <= v <= MAX_AUDIO_CODE for v in audio_code_values(plan.audio_codes))
    assert plan.audio_codes == "".join(f"<|audio_code_{v}|>" for v in audio_code_values(plan.audio_codes))
    meta = plan.lm_metadata
    assert 30 <= meta["bpm"] <= 300 and meta["keyscale"] in KEYSCALES and meta["language"] in LANGUAGES
    assert meta["timesignature"] in ("2", "3", "4", "6") and meta["duration"] == 7
    assert plan.outputs[0].startswith("<think>\nbpm: ") and plan.outputs[0].endswith("\n<|im_end|>")
    assert plan.outputs[1].endswith("<|im_end|>")
    assert plan.calls[1].prompt.endswith(plan.cot + "\n\n")
    assert {e.stage for e in events} == {"plan"} and events[-1].done == 37  # 36 codes + EOS
    # The pipeline's own parser reads the same codes back.
    from diffusers.pipelines.ace_step.pipeline_ace_step import _parse_audio_code_string

    assert _parse_audio_code_string(plan.audio_codes, MAX_AUDIO_CODE) == audio_code_values(plan.audio_codes)
    kwargs = plan.dit_kwargs()
    assert kwargs["audio_duration"] == 7.3 and kwargs["prompt"] == "dreamy synth pop"
    assert kwargs["vocal_language"] == meta["language"]


def test_same_seed_same_plan(tiny_planner):
    a = tiny_planner.plan("x", "y", duration=3, seed=11, options=FAST)
    b = tiny_planner.plan("x", "y", duration=3, seed=11, options=FAST)
    assert a.outputs == b.outputs


def test_user_values_survive(tiny_planner):
    plan = tiny_planner.plan(
        "x",
        "y",
        bpm=97,
        keyscale="F♯ minor",
        timesignature="3",
        duration=12.5,
        vocal_language="de",
        seed=5,
        options=FAST,
    )
    assert len(plan.calls) == 1  # all four given: no metadata phase, exactly like upstream
    assert (plan.bpm, plan.keyscale, plan.timesignature, plan.duration) == (97, "F♯ minor", "3", 12.5)
    assert plan.language == "de" and plan.code_count == 62
    assert "bpm: 97" in plan.cot and "keyscale: F♯ minor" in plan.cot and "duration: 12" in plan.cot

    plan = tiny_planner.plan("x", "y", bpm=301, duration=4, seed=5, options=FAST)  # out of range: kept
    assert plan.outputs[0].startswith("<think>\nbpm: 301\n") and plan.bpm == 301


def test_caption_rewrite_runs_to_completion(tiny_planner):
    plan = tiny_planner.plan("lofi", "[Instrumental]", duration=2, seed=1)
    assert plan.code_count == 10
    meta = plan.lm_metadata
    assert set(meta) == {"bpm", "caption", "duration", "keyscale", "language", "timesignature"}
    assert plan.caption == meta["caption"] and meta["keyscale"] in KEYSCALES


def test_recode_keeps_metadata(tiny_planner):
    plan = tiny_planner.plan("x", "y", duration=3, seed=1, options=FAST)
    again = tiny_planner.recode(plan, seed=2)
    assert again.cot == plan.cot and again.metadata == plan.metadata
    assert again.code_count == plan.code_count == 15 and again.calls[0] is plan.calls[0]
    assert again.calls[1].prompt == plan.calls[1].prompt


def test_progress_can_cancel(tiny_planner):
    def stop(event: ProgressEvent) -> None:
        if event.done >= 16:
            raise Cancelled("stopped by the user")

    with pytest.raises(Cancelled):
        tiny_planner.plan("x", "y", duration=20, seed=1, options=FAST, progress=stop)


def test_describe_returns_a_draft(tiny_planner):
    draft = tiny_planner.describe(
        "a sad piano ballad", instrumental=True, language="en", seed=4, options=SHORT
    )
    assert draft.language == "en"  # injected
    assert draft.keyscale in KEYSCALES and draft.timesignature in ("2", "3", "4", "6")
    assert 30 <= draft.bpm <= 300 and 10 <= draft.duration <= 600
    assert draft.genres and "<|audio_code_" not in draft.raw_output
    assert draft.lyrics  # the model's text, or "[Instrumental]" when it wrote none
    assert draft.prompt.endswith(
        "a sad piano ballad\n\ninstrumental: true<|im_end|>\n<|im_start|>assistant\n"
    )
    assert set(draft.to_dict()) == {"caption", "lyrics", "instrumental", "metadata"}


def test_describe_cli(tiny_planner_dir, capsys):
    from backends.acestep.planner.cli import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(
        [
            "describe",
            "city pop at night",
            "--weights",
            str(tiny_planner_dir),
            "--seed",
            "1",
            "--device",
            "cpu",
            "--language",
            "ja",
            "--max-new-tokens",
            "400",
        ]
    )
    assert args.handler(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["metadata"]["language"] == "ja" and isinstance(out["lyrics"], str)


def test_cli_reports_bad_weights(tmp_path, capsys):
    from backends.acestep.planner.cli import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    (tmp_path / "config.json").write_text('{"model_type": "llama"}')
    args = parser.parse_args(["describe", "x", "--weights", str(tmp_path), "--device", "cpu"])
    assert args.handler(args) == 2
    assert "Qwen3 model" in capsys.readouterr().err


def test_checkpoint_names():
    assert resolve_checkpoint("1.7B") == PLANNER_CHECKPOINTS["1.7B"]
    assert resolve_checkpoint(None).subfolder == "acestep-5Hz-lm-1.7B"
    assert resolve_checkpoint("ACE-Step/acestep-5Hz-lm-4B").repo == "ACE-Step/acestep-5Hz-lm-4B"
    sub = resolve_checkpoint("ACE-Step/Ace-Step1.5/acestep-5Hz-lm-1.7B")
    assert (sub.repo, sub.subfolder) == ("ACE-Step/Ace-Step1.5", "acestep-5Hz-lm-1.7B")
    with pytest.raises(StudioError, match="neither a size"):
        resolve_checkpoint("not a model")


def test_unloaded_planner_says_so(tiny_planner):
    planner = Planner(tiny_planner.model, tiny_planner.tokenizer)
    planner.unload()
    with pytest.raises(StudioError, match="unloaded"):
        planner.describe("x")


def test_cost_estimate():
    cost = estimate_planner_cost(95.5)
    assert cost.code_tokens == 477 + 10 and cost.cot_tokens > 0 and cost.cfg
    assert cost.sequence_tokens == cost.cot_tokens + 2 * cost.code_tokens
    assert estimate_planner_cost(None).code_tokens == 3010
    assert estimate_planner_cost(60, writes_metadata=False).cot_tokens == 0
