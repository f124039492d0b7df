"""LeVo 2 port against golden data from upstream (tiny random weights, fp32, CPU)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from safetensors.torch import load_file  # noqa: E402

from backends.base import Backend, RenderJob  # noqa: E402
from backends.levo.checkpoint import CheckpointMismatch, load_strict  # noqa: E402
from backends.levo.conditioning import build_conditions  # noqa: E402
from backends.levo.declaration import LevoOptions  # noqa: E402
from backends.levo.decoder import load_decoder  # noqa: E402
from backends.levo.generation import SamplingParams, generate_codes  # noqa: E402
from backends.levo.lm import UNUSED_KEYS  # noqa: E402
from backends.levo.loading import load_lm, resolve  # noqa: E402
from backends.levo.pattern import DelayPattern  # noqa: E402
from backends.levo.spec import SPEC  # noqa: E402
from backends.levo.synthesis import decode_codes, streams_for  # noqa: E402
from backends.levo.text import build_texts  # noqa: E402
from backends.levo.vae import load_vae  # noqa: E402
from studio.ground.errors import Cancelled, StudioError  # noqa: E402
from studio.ground.progress import ProgressEvent  # noqa: E402

CASES = ["case1_en", "case2_zh", "case3_bgm", "case4_en_no_description", "case5_bgm_no_description"]


@pytest.fixture(scope="module")
def fx(levo_fx: Path) -> Path:
    return levo_fx


@pytest.fixture(scope="module")
def runtime(levo_runtime: Path) -> Path:
    return levo_runtime


@pytest.fixture(scope="module")
def lm_bundle(fx: Path, runtime: Path):
    torch.set_num_threads(1)
    return load_lm(fx / "lelm_tiny", runtime)


@pytest.fixture(scope="module")
def cases(fx: Path) -> dict:
    return json.loads((fx / "conditioning" / "cases.json").read_text())["cases"]


def _texts(case: dict):
    return build_texts(case["raw_lyric"], case["raw_description"] or "", bgm=case["gen_type"] == "bgm")


@pytest.mark.parametrize("name", CASES)
def test_conditioning_matches_upstream(name: str, fx: Path, cases: dict, lm_bundle) -> None:
    lm, tok, _ = lm_bundle
    case, ref = cases[name], load_file(fx / "conditioning" / f"{name}.safetensors")
    texts = _texts(case)
    assert texts.lyrics == case["conditional_branch_text"]["description"]
    assert texts.style == case["conditional_branch_text"]["type_info"]
    assert texts.uncond_lyrics == case["unconditional_branch_text"]["description"]
    assert texts.uncond_style == case["unconditional_branch_text"]["type_info"]
    enc = tok.encode_lyrics([texts.lyrics, texts.uncond_lyrics])
    assert torch.equal(enc["input_ids"], ref["lyric_input_ids"])
    assert torch.equal(enc["attention_mask"], ref["lyric_attention_mask"])
    enc = tok.encode_style([texts.style, texts.uncond_style])
    assert torch.equal(enc["input_ids"], ref["style_input_ids"])
    assert torch.equal(enc["attention_mask"], ref["style_attention_mask"])

    co = build_conditions(lm, tok, texts)
    exact = {
        "lyric_ids_padded": co.lyric["ids"],
        "lyric_structure_ids": co.lyric["structure"],
        "lyric_mask": co.lyric["mask"],
        "style_ids_padded": co.style["ids"],
        "style_mask": co.style["mask"],
        "prompt_audio_length": co.prompt_lengths,
        "prompt_audio_wav": co.prompt_codes.reshape(2, 1, -1),
        "audio_qt_embs_input": co.prompt_tokens,
    }
    for key, value in exact.items():
        assert torch.equal(value, ref[key]), key
    conds = lm.condition_provider.conditioners
    p1, p2 = conds["prompt_audio"](co.prompt_codes)
    close = {
        "lyric_embeds": conds["description"](co.lyric),
        "style_embeds": conds["type_info"](co.style),
        "prompt_embeds1": p1,
        "prompt_embeds2": p2,
    }
    for key, value in close.items():
        torch.testing.assert_close(value, ref[key], atol=1e-6, rtol=0, msg=key)
    # The prefix is [lyrics | prompt | style] for both towers.
    assert co.prefix.main.shape == (2, 600 + 252 + 100, lm.cfg.dim)


def test_teacher_forced_logits(fx: Path, cases: dict, lm_bundle) -> None:
    lm, tok, cfg = lm_bundle
    ref = load_file(fx / "forward" / "teacher_forced_case1.safetensors")
    co = build_conditions(lm, tok, _texts(cases["case1_en"]))
    pattern = DelayPattern(cfg.delays)
    seq, mask = pattern.build(ref["codes"], cfg.special_id)
    assert torch.equal(seq, ref["pattern_sequence"]) and torch.equal(mask, ref["pattern_mask"])
    with torch.no_grad():
        raw = lm(seq.repeat(2, 1, 1), co.prefix)
    torch.testing.assert_close(raw[..., ref["raw_vocab_subset"]], ref["raw_logits_subset"], atol=1e-4, rtol=0)
    torch.testing.assert_close(raw.logsumexp(-1), ref["raw_logsumexp"], atol=1e-4, rtol=0)
    assert torch.equal(raw.argmax(-1), ref["raw_argmax"])
    logits = pattern.revert_logits(raw)
    torch.testing.assert_close(logits[..., ref["vocab_subset"]], ref["logits_subset"], atol=1e-4, rtol=0)
    torch.testing.assert_close(logits[:, :, [0, 39]], ref["logits_full_frames_0_39"], atol=1e-4, rtol=0)
    assert torch.equal(logits.argmax(-1), ref["argmax"])


def test_greedy_generation_equals_upstream(fx: Path, cases: dict, lm_bundle) -> None:
    lm, tok, _ = lm_bundle
    ref = load_file(fx / "generate" / "case1_greedy.safetensors")
    co = build_conditions(lm, tok, _texts(cases["case1_en"]))
    events: list[ProgressEvent] = []
    params = SamplingParams(cfg_coef=1.5, temperature=1.0, top_k=1, top_p=0.0)
    codes = generate_codes(
        lm, co, 50, params, generator=torch.Generator().manual_seed(1234), progress=events.append
    )
    assert torch.equal(codes, ref["tokens"])
    assert len(events) == 300 and events[-1].done == events[-1].total == 300


def test_progress_can_cancel(cases: dict, lm_bundle) -> None:
    lm, tok, _ = lm_bundle
    co = build_conditions(lm, tok, _texts(cases["case1_en"]))

    def stop(event: ProgressEvent) -> None:
        if event.done == 3:
            raise Cancelled("stopped by the test")

    with pytest.raises(Cancelled):
        generate_codes(lm, co, 50, SamplingParams(top_k=1), progress=stop)


def test_checkpoint_keys_are_strict(fx: Path, lm_bundle) -> None:
    lm, _, _ = lm_bundle
    raw = torch.load(fx / "lelm_tiny" / "model.pt", weights_only=True)
    state = {k.removeprefix("audiolm."): v for k, v in raw.items()}
    assert set(state) >= UNUSED_KEYS
    broken = dict(state)
    broken.pop("linears.1.weight")
    broken["extra.thing"] = torch.zeros(1)
    named = r"missing keys: linears\.1\.weight.*unexpected keys: extra\.thing"
    with pytest.raises(CheckpointMismatch, match=named):
        load_strict(lm, broken, what="test", ignored=UNUSED_KEYS)
    with pytest.raises(CheckpointMismatch, match=r"unexpected keys: .*out_norm\.bias"):
        load_strict(lm, state, what="test")


def test_decoder_reproduces_upstream(fx: Path) -> None:
    ref = load_file(fx / "decoder" / "decode_case1_mixed.safetensors")
    ckpt = fx / "decoder" / "ckpt"
    decoder = load_decoder(ckpt / "model_septoken")
    assert decoder.dims.gpt2_n_embd == 184  # dims.json overrode the real defaults
    vae = load_vae(ckpt / "vae" / "stable_audio_1920_vae.json", ckpt / "vae" / "autoencoder_music_tiny.ckpt")
    vae_only = vae.decode(ref["vae_only_latents_in"])
    torch.testing.assert_close(vae_only, ref["vae_only_wav_out"], atol=1e-4, rtol=0)

    draws = [ref["randn_0_first_latent"], ref["randn_1_flow_noise"]]

    def injected(shape: tuple[int, ...]) -> torch.Tensor:
        assert tuple(draws[0].shape) == tuple(shape)
        return draws.pop(0)

    vocal, bgm = streams_for(ref["tokens_in"], "mixed", decoder)
    windows = decoder.codes_to_latents(vocal, bgm, injected)
    assert len(windows) == 1 and not draws
    torch.testing.assert_close(windows[0], ref["latents_window0"], atol=1e-4, rtol=0)
    draws[:] = [ref["randn_0_first_latent"], ref["randn_1_flow_noise"]]
    wav = decode_codes(ref["tokens_in"], "mixed", decoder, vae, injected)
    torch.testing.assert_close(wav, ref["wav_out"][0], atol=1e-4, rtol=0)


def test_backend_separate_mode_end_to_end(fx: Path, runtime: Path) -> None:
    backend = SPEC.load(str(fx / "lelm_tiny"), runtime=str(runtime), device="cpu")
    assert isinstance(backend, Backend)
    assert backend.dtype == "float32" and backend.device == "cpu"
    job = RenderJob(
        style="Female, Pop",
        lyrics="[verse] hello there. ; [chorus] sing along",
        instrumental=False,
        duration_s=1.0,
        seeds=[7],
        options=LevoOptions(mode="separate", top_k=5),
    )
    stages: set[str] = set()
    (take,) = backend.render(job, lambda e: stages.add(e.stage))
    assert take.sample_rate == 48000 and take.seed == 7
    assert take.audio.shape == (2, 48000) and take.audio.dtype.name == "float32"
    assert set(take.stems) == {"vocals", "accompaniment"}
    assert take.extras["codes"].shape == (1, 3, 25)
    assert {"lm", "decode"} <= stages
    # Same seed, same codes (sampling uses only our own generator).
    song = RenderJob(**{**job.__dict__, "options": LevoOptions(mode="song", top_k=5)})
    (again,) = backend.render(song)
    assert (again.extras["codes"] == take.extras["codes"]).all()
    assert not again.stems


def test_options_and_spec() -> None:
    caps = SPEC.capabilities
    assert caps.name == "levo2" and caps.sample_rate == 48000 and caps.channels == 2
    assert caps.max_duration_s == 270 and caps.duration_follows_lyrics and not caps.commercial_use
    opts = LevoOptions()
    assert (opts.mode, opts.cfg, opts.temperature, opts.top_k, opts.top_p) == ("song", 1.5, 1.0, 50, 0.0)
    with pytest.raises(ValueError, match="extra"):
        LevoOptions(cfg_scale=2.0)
    with pytest.raises(ValueError):
        LevoOptions(mode="karaoke")


def test_hub_id_offline_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(StudioError, match=r"Could not get the LeVo 2 model"):
        resolve("someone/not-a-real-levo-repo", patterns=("config.yaml",), what="model", offline=True)


@pytest.mark.gpu
def test_backend_low_memory_on_accelerator(fx: Path, runtime: Path) -> None:
    """Half precision on the accelerator; in low-memory mode the LM and decoder take turns on it."""
    device = "cuda" if torch.cuda.is_available() else "mps"
    backend = SPEC.load(str(fx / "lelm_tiny"), runtime=str(runtime), device=device, low_memory=True)
    job = RenderJob(
        style="pop",
        lyrics="[verse] la la la",
        instrumental=False,
        duration_s=1.0,
        seeds=[1],
        options=LevoOptions(mode="song"),
    )
    seen: set[str] = set()

    def probe(event: ProgressEvent) -> None:
        lm_dev = backend.lm.emb[0].weight.device.type
        dec_dev = backend.decoder.mask_emb.weight.device.type
        seen.add(f"{event.stage}:{lm_dev}:{dec_dev}")

    (take,) = backend.render(job, probe)
    assert take.audio.shape == (2, 48000)
    assert bool(torch.isfinite(torch.from_numpy(take.audio)).all())
    assert f"lm:{device}:cpu" in seen and f"decode:cpu:{device}" in seen
    assert backend.lm.emb[0].weight.device.type == "cpu"


def test_availability_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUDIO_LEVO2_WEIGHTS", str(tmp_path))
    verdict = SPEC.availability()
    assert not verdict.ok and "config.yaml" in verdict.reason and "STUDIO_LEVO2_WEIGHTS" in verdict.reason
