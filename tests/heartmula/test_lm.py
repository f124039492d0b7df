from __future__ import annotations

import pytest
import torch

from backends.heartmula.generate import SamplingParams, generate_frames
from studio.ground.errors import Cancelled, StudioError
from studio.ground.progress import ProgressEvent

TOL = 1e-4


def _case(builder, prompt_cases, name):
    inputs = prompt_cases[name]["inputs"]
    return builder.build(inputs["tags"], inputs["lyrics"])


@torch.inference_mode()
def test_teacher_forced_logits_match_upstream(lm, builder, prompt_cases, safetensors_file):
    ref = safetensors_file("teacher_forced_case1_cfg1.5.safetensors")
    prompt = _case(builder, prompt_cases, "case1_en")
    forced = ref["forced_frames"]
    state = lm.new_state(2, prompt.length + 32, guided=True)
    feed_mask = torch.ones(2, 1, 9, dtype=torch.bool)
    feed_mask[..., -1] = False
    for k in range(forced.shape[0]):
        if k == 0:
            tokens = prompt.tokens.expand(2, -1, -1)
            mask = prompt.mask.expand(2, -1, -1)
            last = lm.backbone_step(
                state, tokens, mask, torch.arange(prompt.length), torch.zeros(2, 512), prompt.muq_index
            )
        else:
            feed = torch.zeros(2, 1, 9, dtype=torch.long)
            feed[:, 0, :8] = forced[k - 1]
            last = lm.backbone_step(state, feed, feed_mask, torch.tensor([prompt.length + k - 1]))
        torch.testing.assert_close(last, ref["backbone_last_hidden"][k], atol=TOL, rtol=0)
        raw = lm.codebook0_head(last)
        if k < 5:
            torch.testing.assert_close(raw[0], ref["c0_raw_logits_cond_frames_0_4"][k], atol=TOL, rtol=0)
        guided = lm.guide(raw, 1.5, True)[0]
        torch.testing.assert_close(guided, ref["c0_guided_logits"][k], atol=TOL, rtol=0)

        hidden = []

        def pick(i, h, k=k, hidden=hidden):
            hidden.append(h)
            return forced[k, i].view(1, 1).repeat(2, 1).to(torch.int32)

        c0 = forced[k, 0].view(1, 1).repeat(2, 1).to(torch.int32)
        lm.decode_codebooks(state, last, c0, pick)
        torch.testing.assert_close(torch.stack(hidden), ref["decoder_last_hidden"][k], atol=TOL, rtol=0)
        if k in (0, forced.shape[0] - 1):
            logits = torch.stack(
                [lm.guide(lm.codebook_logits(i + 1, h), 1.5, True)[0] for i, h in enumerate(hidden)]
            )
            row = 0 if k == 0 else 1
            torch.testing.assert_close(
                logits, ref["decoder_guided_logits_frames_0_19"][row], atol=TOL, rtol=0
            )


RUNS = [
    ("gen_case1_cfg1.5_topk1", "case1_en", 1.5, 1, 1.0, 1234),
    ("gen_case2_cfg1.5_topk1", "case2_zh", 1.5, 1, 1.0, 1234),
    ("gen_case3_cfg1.5_topk1", "case3_tags_only", 1.5, 1, 1.0, 1234),
    ("gen_case1_cfg1.0_topk1", "case1_en", 1.0, 1, 1.0, 1234),
    ("gen_case1_cfg1.5_topk50_temp1.0_seed1234", "case1_en", 1.5, 50, 1.0, 1234),
    ("gen_case1_cfg3.0_topk5_temp0.7_seed99", "case1_en", 3.0, 5, 0.7, 99),
]


@pytest.mark.parametrize(("key", "case", "cfg", "top_k", "temperature", "seed"), RUNS)
def test_generation_equals_upstream_frames(
    lm, builder, prompt_cases, safetensors_file, key, case, cfg, top_k, temperature, seed
):
    """Greedy runs are exact; sampled runs match because the generator is drawn in upstream's order."""
    expected = safetensors_file("generation.safetensors")[key]
    frames = generate_frames(
        lm,
        _case(builder, prompt_cases, case),
        1920,
        SamplingParams(cfg, temperature, top_k),
        8193,
        generator=torch.Generator().manual_seed(seed),
    )
    assert frames.dtype == torch.int32
    assert torch.equal(frames, expected)


def test_cfg_run_then_plain_run_then_cfg_run(lm, builder, prompt_cases, safetensors_file):
    """Upstream crashes here: its caches keep the first run's batch size."""
    ref = safetensors_file("generation.safetensors")
    prompt = _case(builder, prompt_cases, "case1_en")
    for key, cfg in [
        ("gen_case1_cfg1.5_topk1", 1.5),
        ("gen_case1_cfg1.0_topk1", 1.0),
        ("gen_case1_cfg1.5_topk1", 1.5),
    ]:
        frames = generate_frames(
            lm, prompt, 1920, SamplingParams(cfg, 1.0, 1), 8193, generator=torch.Generator().manual_seed(1234)
        )
        assert torch.equal(frames, ref[key])


def test_same_seed_repeats_and_other_seed_differs(lm, builder, prompt_cases):
    prompt = _case(builder, prompt_cases, "case2_zh")
    params = SamplingParams(1.5, 1.0, 50)

    def run(seed):
        return generate_frames(lm, prompt, 800, params, 8193, generator=torch.Generator().manual_seed(seed))

    assert torch.equal(run(7), run(7))
    assert not torch.equal(run(7), run(8))


def test_progress_per_frame_and_cancel(lm, builder, prompt_cases):
    prompt = _case(builder, prompt_cases, "case1_en")
    events: list[ProgressEvent] = []
    generate_frames(lm, prompt, 800, SamplingParams(1.5, 1.0, 1), 8193, progress=events.append)
    assert [e.done for e in events] == list(range(1, 12))
    assert all(e.total == 11 and e.stage == "lm" for e in events)

    def stop_at_three(event: ProgressEvent) -> None:
        if event.done == 3:
            raise Cancelled("stopped by the test")

    with pytest.raises(Cancelled):
        generate_frames(lm, prompt, 800, SamplingParams(1.5, 1.0, 1), 8193, progress=stop_at_three)


def test_stop_rule_drops_the_eos_frame(lm, builder, prompt_cases, safetensors_file):
    """With eos at a code value the greedy run reaches, generation stops before that frame."""
    expected = safetensors_file("generation.safetensors")["gen_case1_cfg1.5_topk1"]
    prompt = _case(builder, prompt_cases, "case1_en")
    # The first frame is never checked; pick the smallest value that appears in a later frame as "eos".
    later = expected[:, 1:]
    eos = int(later.max())
    first_hit = int((later >= eos).any(dim=0).nonzero()[0]) + 1
    frames = generate_frames(
        lm, prompt, 1920, SamplingParams(1.5, 1.0, 1), eos, generator=torch.Generator().manual_seed(0)
    )
    assert torch.equal(frames, expected[:, :first_hit])


@pytest.mark.parametrize(
    "params", [SamplingParams(0.5, 1.0, 1), SamplingParams(1.5, 0.0, 1), SamplingParams(1.5, 1.0, 0)]
)
def test_bad_sampling_params_are_refused(lm, builder, prompt_cases, params):
    with pytest.raises(StudioError):
        generate_frames(lm, _case(builder, prompt_cases, "case1_en"), 160, params, 8193)
