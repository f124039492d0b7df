from __future__ import annotations

import json

import pytest
import torch

from backends.heartmula.codec.model import WindowPlan
from backends.heartmula.generate import SamplingParams, generate_frames
from tests.heartmula.helpers import assert_waveform_close


def test_flow_latents_match_upstream(codec, safetensors_file):
    ref = safetensors_file("e2e_case1_codec_1window.safetensors")
    (latent,) = codec.flow_latents(ref["frames"], [ref["noise_window0"]])
    assert latent.shape == (1, 744, 256)
    torch.testing.assert_close(latent[:, :104], ref["flow_latent_window0_first104"], atol=1e-4, rtol=0)
    torch.testing.assert_close(latent[:, -40:], ref["flow_latent_window0_last40"], atol=1e-4, rtol=0)


def test_one_window_waveform_with_injected_noise(codec, safetensors_file):
    ref = safetensors_file("e2e_case1_codec_1window.safetensors")
    wav = codec.decode(ref["frames"], noise=[ref["noise_window0"]])
    assert wav.dtype == torch.float32 and wav.device.type == "cpu"
    assert_waveform_close(wav, ref["wav"])


def test_two_windows_with_crossfade(codec, safetensors_file, hm_dir):
    ref = safetensors_file("codec_373frames_2windows.safetensors")
    wav = codec.decode(ref["codes"], noise=[ref["noise_window0"], ref["noise_window1"]])
    assert wav.shape == (2, 373 * 3840)
    assert_waveform_close(wav[:, :24000], ref["wav_0_24000"])
    assert_waveform_close(
        wav[:, 1220000:1240000], ref["wav_1220000_1240000"]
    )  # crossfade starts at 1,228,800
    assert_waveform_close(wav[:, 1420000:], ref["wav_1420000_end"])
    assert_waveform_close(wav[:, ::64], ref["wav_every_64th"])
    meta = json.loads((hm_dir / "meta.json").read_text())["codec_2windows"]
    sums = wav.double().sum(dim=1).tolist()
    assert sums == pytest.approx(meta["wav_sum_per_channel"], rel=1e-3)


def test_seed_reproduces_upstream_end_to_end(lm, codec, builder, prompt_cases, safetensors_file):
    """One generator drawn in upstream's order (LM sampling, then codec noise) gives upstream's song."""
    ref = safetensors_file("e2e_case1_codec_1window.safetensors")
    inputs = prompt_cases["case1_en"]["inputs"]
    generator = torch.Generator().manual_seed(4321)
    frames = generate_frames(
        lm,
        builder.build(inputs["tags"], inputs["lyrics"]),
        1920,
        SamplingParams(1.5, 1.0, 1),
        8193,
        generator=generator,
    )
    assert torch.equal(frames, ref["frames"])
    assert_waveform_close(codec.decode(frames, generator=generator), ref["wav"])


@pytest.mark.parametrize(
    ("frames", "padded", "starts"),
    [(25, 372, [0]), (372, 372, [0]), (373, 692, [0, 320]), (692, 692, [0, 320]), (424, 692, [0, 320])],
)
def test_window_plan(frames, padded, starts):
    """424 frames: upstream keeps 424 and decodes one window, losing the tail; the port pads to two."""
    plan = WindowPlan()
    assert (plan.codes, plan.hop_codes, plan.latents, plan.overlap_latents) == (372, 320, 744, 104)
    assert (plan.samples, plan.hop_samples, plan.overlap_samples) == (1428480, 1228800, 199680)
    assert plan.padded_length(frames) == padded
    assert plan.starts(padded) == starts


def test_out_of_range_codes_are_clamped_not_crashing(codec):
    codes = torch.full((8, 4), 8192, dtype=torch.int32)
    noise = [torch.zeros(1, 744, 256)]
    wav = codec.decode(codes, noise=noise, steps=1)
    assert wav.shape == (2, 4 * 3840) and torch.isfinite(wav).all()
