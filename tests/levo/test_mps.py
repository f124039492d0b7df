"""LeVo 2's VAE within Apple's convolution limit (tests/mps_limit.py reproduces the MPS guard on the CPU)."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from safetensors.torch import load_file  # noqa: E402

from backends.base import RenderJob  # noqa: E402
from backends.levo.declaration import LevoOptions  # noqa: E402
from backends.levo.decoder import load_decoder  # noqa: E402
from backends.levo.spec import SPEC  # noqa: E402
from backends.levo.synthesis import latents_to_audio, streams_for, vae_chunks  # noqa: E402
from backends.levo.vae import load_vae  # noqa: E402
from tests.mps_limit import LIMIT, fake_mps, mps_conv_limit  # noqa: E402


def test_chunked_decode_matches_upstream_within_the_limit(levo_fx: Path, monkeypatch) -> None:
    """The fixture's upstream waveform, decoded in chunks whose waveform fits MPS's limit."""
    ref = load_file(levo_fx / "decoder" / "decode_case1_mixed.safetensors")
    ckpt = levo_fx / "decoder" / "ckpt"
    decoder = load_decoder(ckpt / "model_septoken")
    vae = load_vae(ckpt / "vae" / "stable_audio_1920_vae.json", ckpt / "vae" / "autoencoder_music_tiny.ckpt")
    draws = [ref["randn_0_first_latent"], ref["randn_1_flow_noise"]]
    vocal, bgm = streams_for(ref["tokens_in"], "mixed", decoder)
    windows = decoder.codes_to_latents(vocal, bgm, lambda shape: draws.pop(0))
    frames = ref["tokens_in"].shape[-1]
    seen = mps_conv_limit(monkeypatch)
    d = decoder.dims
    with pytest.raises(NotImplementedError, match="MPS"):  # upstream's 128-frame chunks trip the guard
        latents_to_audio(windows, vae, window=decoder.window, frames=frames, chunk=d.vae_chunk_size,
                         overlap=d.vae_chunk_overlap)
    seen["longest"] = 0
    chunk, overlap = vae_chunks(d.vae_chunk_size, d.vae_chunk_overlap, vae.cfg.hop, LIMIT)
    assert chunk * vae.cfg.hop <= LIMIT
    wav = latents_to_audio(windows, vae, window=decoder.window, frames=frames, chunk=chunk, overlap=overlap)
    torch.testing.assert_close(wav, ref["wav_out"][0], atol=1e-4, rtol=0)
    assert 0 < seen["longest"] <= LIMIT


def test_a_song_on_mps_finishes(levo_fx: Path, levo_runtime: Path, monkeypatch) -> None:
    fake_mps(monkeypatch)
    # fp32: half precision on this CPU is slow, and the limit is about lengths, not dtypes.
    backend = SPEC.load(str(levo_fx / "lelm_tiny"), runtime=str(levo_runtime), dtype="float32")
    assert backend.conv_limit == LIMIT
    seen = mps_conv_limit(monkeypatch)
    job = RenderJob(style="pop", lyrics="[verse] la la la", instrumental=False, duration_s=1.0, seeds=[3],
                    options=LevoOptions(mode="song", top_k=5))
    (take,) = backend.render(job)
    assert take.audio.shape == (2, 48_000) and bool(torch.isfinite(torch.from_numpy(take.audio)).all())
    assert 0 < seen["longest"] <= LIMIT
