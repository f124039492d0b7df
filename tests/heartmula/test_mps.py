"""HeartCodec within Apple's convolution limit (tests/mps_limit.py reproduces the MPS guard on the CPU)."""

from __future__ import annotations

import pytest
import torch

from backends.base import RenderJob
from backends.heartmula.declaration import HeartMuLaOptions
from backends.heartmula.spec import SPEC
from studio.ground.vocabulary import DeviceClass
from tests.heartmula.helpers import assert_waveform_close
from tests.mps_limit import LIMIT, fake_mps, mps_conv_limit


def test_chunked_decoder_equals_the_whole_one(codec, monkeypatch) -> None:
    """A window's 744 latent frames make 1,428,480 samples, which MPS refuses; in chunks every output
    fits the limit and the waveform is the whole decode's (the context covers the causal layers' reach)."""
    torch.manual_seed(0)
    latent = torch.randn(1, 128, 744) * 0.3
    with torch.inference_mode():
        whole = codec.scalar_model.decode(latent)
        seen = mps_conv_limit(monkeypatch)
        with pytest.raises(NotImplementedError, match="MPS"):  # as on a Mac, without chunks
            codec.scalar_model.decode(latent)
        seen["longest"] = 0
        chunked = codec.scalar_model.decode(latent, LIMIT)
    assert chunked.shape == whole.shape == (1, 1, 744 * 1920)
    torch.testing.assert_close(chunked, whole, atol=1e-5, rtol=1e-4)
    assert 0 < seen["longest"] <= LIMIT


def test_the_upstream_window_decodes_within_the_limit(codec, safetensors_file, monkeypatch) -> None:
    ref = safetensors_file("e2e_case1_codec_1window.safetensors")
    monkeypatch.setattr(codec, "conv_limit", LIMIT)
    seen = mps_conv_limit(monkeypatch)
    wav = codec.decode(ref["frames"], noise=[ref["noise_window0"]])
    assert_waveform_close(wav, ref["wav"])
    assert 0 < seen["longest"] <= LIMIT


def test_a_song_on_mps_finishes(hm_dir, prompt_cases, monkeypatch) -> None:
    fake_mps(monkeypatch)
    # fp32: half precision on this CPU is slow, and the limit is about lengths, not dtypes.
    from backends.heartmula.declaration import LM_DTYPE  # what the loader reads

    monkeypatch.setitem(LM_DTYPE, DeviceClass.MPS, "float32")
    backend = SPEC.load(weights=str(hm_dir / "ckpt"))
    seen = mps_conv_limit(monkeypatch)
    job = RenderJob(style="Piano, Happy", lyrics=prompt_cases["case1_en"]["inputs"]["lyrics"], instrumental=False,
                    duration_s=10.0, seeds=[3], options=HeartMuLaOptions(top_k=50))
    (take,) = backend.render(job)
    assert take.audio.shape[0] == 2 and take.audio.shape[1] > 0
    assert 0 < seen["longest"] <= LIMIT
