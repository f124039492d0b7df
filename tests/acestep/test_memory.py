"""ACE-Step's VAE within memory and within Apple's convolution limit: tiled decode and encode equal
the whole ones, tiling keeps the decode's peak from growing with the song, the studio tiles when the
free memory or the device asks, and offloads on a GPU below the XL's needs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from backends.acestep import vae_tiling
from backends.acestep.backend import AceStepBackend, wants_offload
from backends.acestep.declaration import AceStepOptions
from backends.base import RenderJob
from studio import devices, memory
from studio.budget.peak import PeakMemory
from studio.ground.vocabulary import DeviceClass
from tests.mps_limit import FAKE_MPS, fake_mps, mps_conv_limit


def small_vae(channels: int = 2):
    """The real VAE's strides (hop 1920, 25 latent frames per second) at a tiny width, random weights."""
    from diffusers import AutoencoderOobleck

    torch.manual_seed(0)
    return AutoencoderOobleck(
        encoder_hidden_size=16, downsampling_ratios=[2, 4, 4, 6, 10], channel_multiples=[1, 1, 1, 1, 1],
        decoder_channels=channels, decoder_input_channels=8, audio_channels=2, sampling_rate=48_000,
    ).eval()


@pytest.mark.parametrize("tiling", [vae_tiling.VaeTiling(40, 8), vae_tiling.tiles_within(65_536)],
                         ids=["memory-tiles", "mps-tiles"])
def test_tiled_decode_equals_untiled(tiling) -> None:
    vae = small_vae()
    z = torch.randn(2, 8, 90)  # two takes, 3.6 s
    with torch.no_grad():
        vae_tiling.apply(vae, None)
        whole = vae.decode(z).sample
        vae_tiling.apply(vae, tiling)
        tiled = vae.decode(z).sample
    assert tiled.shape == whole.shape
    # The overlap covers the decoder's reach, so only float rounding differs.
    torch.testing.assert_close(tiled, whole, rtol=1e-4, atol=1e-5)


def test_tiled_encode_equals_untiled_within_tolerance() -> None:
    vae = small_vae()
    audio = torch.randn(1, 2, 1920 * 80)
    with torch.no_grad():
        vae_tiling.apply(vae, None)
        whole = vae.encode(audio).latent_dist.mean
        vae_tiling.apply(vae, vae_tiling.tiles_within(65_536))
        tiled = vae.encode(audio).latent_dist.mean
    assert tiled.shape == whole.shape
    # diffusers' tiled encode is not bit-identical (each tile has its own edge), only close.
    assert (tiled - whole).abs().mean() < 0.05 * whole.abs().mean()


def test_tiling_keeps_the_decode_peak_from_growing_with_the_song() -> None:
    vae = small_vae(channels=8)  # wider inside than its stereo output, like the real one

    def peak(frames: int, tiling) -> float:
        vae_tiling.apply(vae, tiling)
        with torch.no_grad(), PeakMemory() as p:
            out = vae.decode(torch.randn(1, 8, frames)).sample
            del out
        return p.peak_bytes

    tiles = vae_tiling.VaeTiling(24, 6)
    whole_growth = peak(120, None) - peak(60, None)
    tiled_growth = peak(120, tiles) - peak(60, tiles)
    assert whole_growth > 0
    # Tiled, only the finished waveform grows with the song, not the decoder's wide activations.
    assert tiled_growth < 0.35 * whole_growth


def job(seconds: float, takes: int = 1, **metadata) -> RenderJob:
    return RenderJob(style="pop", lyrics="[verse]\nla la", instrumental=False, duration_s=seconds,
                     seeds=list(range(1, takes + 1)), options=AceStepOptions(), metadata=metadata)


@pytest.fixture
def on_mps(monkeypatch):
    """Detection says MPS. The tiny model runs in fp32 there: bf16 convolutions on this CPU are slow,
    and the limit under test is about lengths, not dtypes."""
    from backends.acestep.declaration import CAPABILITIES

    monkeypatch.setitem(CAPABILITIES.dtype_per_device, DeviceClass.MPS, "float32")
    return fake_mps(monkeypatch)


def test_a_song_on_mps_stays_within_the_convolution_limit(tiny_acestep_dir, on_mps, monkeypatch) -> None:
    backend = AceStepBackend.load(str(tiny_acestep_dir))  # detection says MPS
    assert backend.conv_limit == 65_536 and not backend.offload
    seen = mps_conv_limit(monkeypatch)
    takes = backend.render(job(10.0, takes=2))
    assert len(takes) == 2 and all(t.audio.shape == (2, 10 * 48_000) for t in takes)
    assert all(np.isfinite(t.audio).all() for t in takes)
    assert 0 < seen["longest"] <= 65_536

    # The same song decoded whole fails exactly as on a Mac: the guard is what the tiles avoid.
    backend.conv_limit = None
    with pytest.raises(NotImplementedError, match="65536 not supported at the MPS device"):
        backend.render(job(10.0))


def test_an_edit_on_mps_encodes_its_source_within_the_limit(tiny_acestep_dir, on_mps, monkeypatch) -> None:
    backend = AceStepBackend.load(str(tiny_acestep_dir))
    seen = mps_conv_limit(monkeypatch)
    source = np.random.default_rng(0).uniform(-0.5, 0.5, (2, 10 * 48_000)).astype(np.float32)
    edit = job(10.0, task="repaint", start=3.0, end=6.0)
    edit.source_audio = source
    takes = backend.render(edit)
    assert takes[0].audio.shape == (2, 10 * 48_000) and np.isfinite(takes[0].audio).all()
    assert seen["longest"] <= 65_536


@pytest.mark.parametrize(("free_gb", "tiled"), [(0.5, True), (500.0, False)])
def test_tiles_when_the_free_memory_would_not_hold_an_untiled_decode(tiny_acestep, monkeypatch, free_gb, tiled):
    # 2 takes x 60 s decode untiled in ~8.5 GB by the declared figures (0.07 GB per second per take).
    monkeypatch.setattr(memory, "free_accelerator_gb", lambda device: free_gb)
    assert tiny_acestep._tiling(job(60.0, takes=2)) == (vae_tiling.MEMORY_TILES if tiled else None)
    if tiled:  # and the render applies the choice to the pipeline's VAE
        tiny_acestep.render(job(10.0))
        assert tiny_acestep.pipe.vae.use_tiling and tiny_acestep.pipe.vae.use_slicing
        vae_tiling.apply(tiny_acestep.pipe.vae, None)  # the session's pipeline, shared with other tests
    monkeypatch.setattr(memory, "free_accelerator_gb", lambda device: None)
    assert tiny_acestep._tiling(job(600.0, takes=4)) is None  # a CPU decodes whole, as before


@pytest.mark.parametrize(
    ("kind", "memory_gb", "offload"),
    [(DeviceClass.CUDA, 12.0, True), (DeviceClass.CUDA, 24.0, False), (DeviceClass.MPS, 12.0, False),
     (DeviceClass.ZEROGPU, 70.0, False), (DeviceClass.CPU, None, False)],
)
def test_offload_below_the_xl_needs(kind, memory_gb, offload) -> None:
    info = devices.DeviceInfo(kind=kind, torch_device="cpu", name="test", memory_gb=memory_gb)
    assert wants_offload(info, "bfloat16") is offload


def test_a_small_gpu_loads_with_cpu_offload(tiny_acestep_dir, monkeypatch) -> None:
    from diffusers import AceStepPipeline

    calls: list[str] = []
    monkeypatch.setattr(AceStepPipeline, "enable_model_cpu_offload",
                        lambda self, gpu_id=None, device=None: calls.append(str(device)))
    small = devices.DeviceInfo(kind=DeviceClass.CUDA, torch_device="cpu", name="RTX 3060 (12 GB)",
                               memory_gb=12.0)
    backend = AceStepBackend.load(str(tiny_acestep_dir), device=small)
    assert backend.offload and calls == ["cpu"]
    assert FAKE_MPS.conv_output_limit == 65_536 and small.conv_output_limit is None


@pytest.mark.gpu
def test_declared_decode_figures_hold_on_cuda() -> None:
    """On a real GPU: the real VAE configuration (random weights) in bf16 decodes within the declared
    per-second figure untiled and within the declared tile figure tiled (the note records both)."""
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA: the caching allocator's peak is what the figures budget")
    from diffusers import AutoencoderOobleck

    from backends.acestep.declaration import MEMORY
    from bench.vae_memory import REAL_VAE_CONFIG

    vae = AutoencoderOobleck(**REAL_VAE_CONFIG).to("cuda", torch.bfloat16).eval()
    seconds = 60
    z = torch.randn(1, 64, seconds * 25, device="cuda", dtype=torch.bfloat16)
    measured = {}
    for name, tiling in (("untiled", None), ("tiled", vae_tiling.MEMORY_TILES)):
        vae_tiling.apply(vae, tiling)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        with torch.no_grad():
            out = vae.decode(z).sample
            del out
        measured[name] = (torch.cuda.max_memory_allocated() - base) / 2**30
    print(f"CUDA bf16 decode of {seconds} s: {measured}")
    assert measured["untiled"] <= MEMORY.decode_fixed_gb + MEMORY.decode_gb_per_second * seconds
    assert measured["tiled"] <= MEMORY.decode_tile_gb + MEMORY.output_gb_per_second * seconds
