"""ACE-Step LoRAs: references, header checks (never a pickle), load/stack/unload on the tiny transformer."""

from __future__ import annotations

import json
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backends.acestep import lora
from backends.acestep.declaration import AceStepOptions
from backends.acestep.lora import LoraError, LoraRef, LoraSet, check_lora_file, parse_lora_arg
from backends.base import RenderJob
from studio.errors import validate
from studio.ground.errors import StudioError
from tests.acestep.lora_files import make_lora_weights, save_acestep_trainer_lora, save_diffusers_lora

# --------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("loras")
    out = {
        "attn": save_diffusers_lora(root / "attn", rank=4, alpha=8.0, seed=1),
        "mlp": save_diffusers_lora(root / "mlp", rank=2, alpha=2.0, seed=2, targets=("gate_proj", "up_proj",
                                                                                       "down_proj")),
        "wide": save_diffusers_lora(root / "wide", rank=4, alpha=4.0, seed=3, hidden=64),
        "deep": save_diffusers_lora(root / "deep", rank=4, alpha=4.0, seed=4, layers=3),
    }
    weights, _ = make_lora_weights(rank=4, alpha=8.0, seed=1)
    out["trainer"] = save_acestep_trainer_lora(root / "trainer" / "adapter", weights, rank=4, alpha=8.0)
    return out


@pytest.fixture
def transformer():
    from backends.acestep.tiny import build_tiny_pipeline

    return build_tiny_pipeline(seed=0).transformer


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def assert_identical(module: torch.nn.Module, before: dict[str, torch.Tensor]) -> None:
    after = module.state_dict()
    assert list(after) == list(before)
    for key, value in before.items():
        assert torch.equal(after[key], value), key
    assert not any("lora" in name for name, _ in module.named_modules())


def one_sentence(message: str) -> bool:
    return "\n" not in message and message.endswith(".") and len(message) < 400


# --------------------------------------------------------------------------------------------- references


@pytest.mark.parametrize(
    ("text", "source", "scale"),
    [
        ("owner/name", "owner/name", 1.0),
        ("owner/name:0.8", "owner/name", 0.8),
        ("owner/name/sub/style.safetensors:.5", "owner/name/sub/style.safetensors", 0.5),
        ("./style.safetensors:2", "./style.safetensors", 2.0),
        ("C:\\loras\\style.safetensors", "C:\\loras\\style.safetensors", 1.0),
        ("C:\\loras\\style.safetensors:0.25", "C:\\loras\\style.safetensors", 0.25),
        ("/data/my:lora.safetensors", "/data/my:lora.safetensors", 1.0),
        ("  owner/name:1e-1 ", "owner/name", 0.1),
    ],
)
def test_parse_lora_arg_takes_scale_after_last_colon_only_when_numeric(text, source, scale) -> None:
    ref = parse_lora_arg(text)
    assert (ref.source, ref.scale) == (source, pytest.approx(scale))
    assert parse_lora_arg(lora.format_lora_arg(ref)) == ref


@pytest.mark.parametrize("text", ["owner/name:3", "owner/name:-1", ":0.5", ""])
def test_parse_lora_arg_refuses_bad_scale_or_empty_source(text) -> None:
    with pytest.raises(LoraError) as err:
        parse_lora_arg(text)
    assert one_sentence(str(err.value))


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=1100) | st.from_regex(r"[\w/.\\:]{0,30}:[-+.\deE]{0,8}", fullmatch=True))
def test_parse_lora_arg_never_fails_otherwise(text: str) -> None:
    try:
        ref = parse_lora_arg(text)
    except LoraError as exc:
        assert one_sentence(str(exc))
        return
    assert ref.source and 0.0 <= ref.scale <= 2.0


def test_options_accept_strings_and_items_and_say_what_is_wrong() -> None:
    opts = AceStepOptions(loras=["a/b:0.5", {"source": "c/d"}])
    assert opts.loras == [LoraRef(source="a/b", scale=0.5), LoraRef(source="c/d", scale=1.0)]
    assert AceStepOptions().loras == []
    cases = {
        "at most 4 LoRAs": {"loras": [f"o/n{i}" for i in range(5)]},
        "listed twice": {"loras": ["o/n:0.5", "o/n:1"]},
        "must be <= 2.0": {"loras": [{"source": "o/n", "scale": 3}]},
        "scale must be between": {"loras": ["o/n:7"]},
        "needs a source": {"loras": [{"source": "  "}]},
    }
    for expected, data in cases.items():
        with pytest.raises(StudioError, match=expected) as err:
            validate(AceStepOptions, data, owner="ACE-Step")
        assert one_sentence(str(err.value)), str(err.value)


# --------------------------------------------------------------------------------------------- header check


def test_check_reads_rank_targets_and_alpha_from_a_diffusers_save(files) -> None:
    info = check_lora_file(files["attn"])
    assert (info.rank, info.n_keys, info.n_modules, info.n_layers) == (4, 32, 16, 2)
    assert info.targets == (
        "cross_attn.to_k", "cross_attn.to_out.0", "cross_attn.to_q", "cross_attn.to_v",
        "self_attn.to_k", "self_attn.to_out.0", "self_attn.to_q", "self_attn.to_v",
    )
    assert info.alpha == 8.0 and info.layout == "diffusers"
    assert info.size_bytes == files["attn"].stat().st_size
    assert "rank 4" in info.describe()
    # A folder finds its weights; the trainer's layout reads alpha from adapter_config.json.
    assert check_lora_file(files["attn"].parent).path == files["attn"]
    trainer = lora.check_lora(str(files["trainer"].parent))
    assert (trainer.rank, trainer.alpha, trainer.n_modules, trainer.layout) == (4, 8.0, 16, "ACE-Step (PEFT)")
    assert "self_attn.to_out.0" in trainer.targets


def test_header_is_checked_without_reading_tensors(files, monkeypatch) -> None:
    import safetensors
    import safetensors.torch

    def refuse(*_a, **_k):
        raise AssertionError("tensors were loaded")

    monkeypatch.setattr(safetensors, "safe_open", refuse)
    monkeypatch.setattr(safetensors.torch, "load_file", refuse)
    assert check_lora_file(files["mlp"]).targets == ("mlp.down_proj", "mlp.gate_proj", "mlp.up_proj")


def _write_safetensors(path: Path, tensors: dict[str, torch.Tensor]) -> Path:
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path))
    return path


class TestRefusals:
    """Issue #10: wrong files never crash; each gets one sentence saying what to change."""

    def refuse(self, path: Path, expected: str) -> str:
        with pytest.raises(LoraError, match=expected) as err:
            check_lora_file(path)
        assert one_sentence(str(err.value)), str(err.value)
        return str(err.value)

    def test_pickle(self, tmp_path) -> None:
        path = tmp_path / "style.safetensors"
        path.write_bytes(pickle.dumps({"layers.0.self_attn.to_q.lora_A.weight": [1.0]}))
        assert "never loads pickles" in self.refuse(path, "is a Python pickle")

    def test_torch_save_zip(self, tmp_path) -> None:
        path = tmp_path / "style.pt"
        torch.save({"w": torch.zeros(2)}, path)
        self.refuse(path, "zip archive")

    def test_not_safetensors_at_all(self, tmp_path) -> None:
        text = tmp_path / "notes.safetensors"
        text.write_text("hello, I am a text file pretending to be a LoRA")
        self.refuse(text, "not a complete safetensors file|not safetensors")
        empty = tmp_path / "empty.safetensors"
        empty.write_bytes(b"")
        self.refuse(empty, "too short")

    def test_truncated(self, files, tmp_path) -> None:
        data = files["attn"].read_bytes()
        path = tmp_path / "cut.safetensors"
        path.write_bytes(data[: len(data) // 2])
        self.refuse(path, "damaged|not a complete")

    def test_oversized(self, tmp_path, monkeypatch) -> None:
        path = _write_safetensors(tmp_path / "big.safetensors", {
            "transformer.layers.0.self_attn.to_q.lora_A.weight": torch.zeros(4, 32),
            "transformer.layers.0.self_attn.to_q.lora_B.weight": torch.zeros(32 * 1024 * 9, 4),
        })
        monkeypatch.setenv(lora.MAX_MB_ENV, "1")
        assert lora.MAX_MB_ENV in self.refuse(path, "over the 1 MB limit")
        monkeypatch.setenv(lora.MAX_MB_ENV, "lots")
        self.refuse(path, "must be a whole number")

    def test_rank_over_cap(self, files, monkeypatch) -> None:
        monkeypatch.setenv(lora.MAX_RANK_ENV, "2")
        assert lora.MAX_RANK_ENV in self.refuse(files["attn"], "rank 4 .* over the limit of 2")

    def test_full_checkpoint_instead_of_lora(self, transformer, tmp_path) -> None:
        path = _write_safetensors(tmp_path / "full.safetensors", dict(transformer.state_dict()))
        self.refuse(path, "not LoRA weights")

    def test_lora_for_another_model(self, tmp_path) -> None:
        path = _write_safetensors(tmp_path / "sdxl.safetensors", {
            "unet.down_blocks.0.attentions.0.to_q.lora_A.weight": torch.zeros(4, 32),
            "unet.down_blocks.0.attentions.0.to_q.lora_B.weight": torch.zeros(32, 4),
        })
        assert "layers.N.self_attn.to_q" in self.refuse(path, "not a layer of the ACE-Step 1.5 DiT")

    def test_half_a_pair_and_mismatched_ranks(self, tmp_path) -> None:
        key = "transformer.layers.0.self_attn.to_q"
        half = _write_safetensors(tmp_path / "half.safetensors", {f"{key}.lora_A.weight": torch.zeros(4, 32)})
        self.refuse(half, "lacks the lora_B")
        odd = _write_safetensors(tmp_path / "odd.safetensors", {
            f"{key}.lora_A.weight": torch.zeros(4, 32), f"{key}.lora_B.weight": torch.zeros(32, 3),
        })
        self.refuse(odd, "rank 4 in lora_A but 3")
        ints = _write_safetensors(tmp_path / "ints.safetensors", {
            f"{key}.lora_A.weight": torch.zeros(4, 32, dtype=torch.int32),
            f"{key}.lora_B.weight": torch.zeros(32, 4),
        })
        self.refuse(ints, "not a 2-D float matrix")

    def test_folder_with_only_pickles(self, tmp_path) -> None:
        (tmp_path / "adapter_model.bin").write_bytes(pickle.dumps({}))
        with pytest.raises(LoraError, match="never loads pickles") as err:
            lora.check_lora(str(tmp_path))
        assert one_sentence(str(err.value))

    def test_missing_file_and_nonsense_source(self, tmp_path) -> None:
        for source in (str(tmp_path / "nope.safetensors"), "style.safetensors", "not a hub id/with spaces/x"):
            with pytest.raises(LoraError) as err:
                lora.check_lora(source)
            assert one_sentence(str(err.value)), str(err.value)


# Random bytes and cut-off files must always be refused with a LoraError, never another exception.
_scratch_settings = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "fuzz.safetensors"


@_scratch_settings
@given(data=st.binary(max_size=4096))
def test_random_bytes_are_always_refused(scratch: Path, data: bytes) -> None:
    scratch.write_bytes(data)
    with pytest.raises(LoraError):
        check_lora_file(scratch)


@_scratch_settings
@given(cut=st.integers(min_value=0, max_value=10**6), flip=st.integers(min_value=0, max_value=10**6))
def test_truncated_or_corrupted_headers_are_refused(files, scratch: Path, cut: int, flip: int) -> None:
    data = files["mlp"].read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    # Cut anywhere inside the header or data, or flip one byte of the length prefix or header.
    scratch.write_bytes(data[: cut % len(data)])
    with pytest.raises(LoraError):
        check_lora_file(scratch)
    pos = flip % (8 + length)
    corrupted = bytearray(data)
    corrupted[pos] ^= 0xFF
    scratch.write_bytes(bytes(corrupted))
    try:
        info = check_lora_file(scratch)
    except LoraError:
        return
    # A flip inside a JSON string can leave a valid header; then it must still describe a real LoRA.
    assert info.rank >= 1 and info.n_modules >= 1


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
_entry = st.fixed_dictionaries({"dtype": st.sampled_from(["F32", "BF16", "I8", "X"]) | _json,
                                "shape": st.lists(st.integers(-2, 2**40), max_size=3) | _json,
                                "data_offsets": st.lists(st.integers(-2, 2**40), max_size=3) | _json})


@_scratch_settings
@given(header=st.dictionaries(
    st.sampled_from(["__metadata__", "layers.0.self_attn.to_q.lora_A.weight", "layers.0.self_attn.to_q.lora_B.weight",
                     "x.lora_A.weight"]) | st.text(max_size=20),
    _entry | _json, max_size=4,
), tail=st.binary(max_size=64))
def test_hostile_headers_are_refused(scratch: Path, header: dict, tail: bytes) -> None:
    raw = json.dumps(header).encode()
    scratch.write_bytes(struct.pack("<Q", len(raw)) + raw + tail)
    with pytest.raises(LoraError):
        check_lora_file(scratch)


# --------------------------------------------------------------------------------------------- applying


def _expected_linear(weights, module: str, base_weight: torch.Tensor, parts: list[tuple[float, float, int]]):
    """W + sum(scale * alpha / r * B @ A) for the given (scale, alpha, rank) per stacked LoRA."""
    out = base_weight.clone()
    for (scale, alpha, rank), w in zip(parts, weights, strict=True):
        out += scale * alpha / rank * (w[f"{module}.lora_B.weight"] @ w[f"{module}.lora_A.weight"])
    return out


def test_load_stack_and_unload_restore_the_base_weights_bit_for_bit(transformer, files) -> None:
    before = snapshot(transformer)
    attn, _ = make_lora_weights(rank=4, alpha=8.0, seed=1)
    mlp, _ = make_lora_weights(rank=2, alpha=2.0, seed=2, targets=("gate_proj", "up_proj", "down_proj"))
    loras = LoraSet(transformer)
    x = torch.randn(5, 32)

    loras.sync([LoraRef(source=str(files["attn"]), scale=0.5)])
    q = transformer.layers[1].self_attn.to_q
    want = _expected_linear([attn], "layers.1.self_attn.to_q", before["layers.1.self_attn.to_q.weight"],
                            [(0.5, 8.0, 4)])
    torch.testing.assert_close(q(x), x @ want.T, rtol=1e-5, atol=1e-5)

    # Stack a second LoRA and change the first one's scale.
    loras.sync([LoraRef(source=str(files["attn"]), scale=1.5), LoraRef(source=str(files["mlp"].parent), scale=0.7)])
    assert len(transformer.peft_config) == 2 and [a.ref.scale for a in loras.active] == [1.5, 0.7]
    torch.testing.assert_close(
        transformer.layers[1].self_attn.to_q(x),
        x @ _expected_linear([attn], "layers.1.self_attn.to_q", before["layers.1.self_attn.to_q.weight"],
                             [(1.5, 8.0, 4)]).T, rtol=1e-5, atol=1e-5)
    up = transformer.layers[0].mlp.up_proj
    torch.testing.assert_close(
        up(x), x @ _expected_linear([mlp], "layers.0.mlp.up_proj", before["layers.0.mlp.up_proj.weight"],
                                    [(0.7, 2.0, 2)]).T, rtol=1e-5, atol=1e-5)

    # Dropping one unloads only it; dropping all gives back the original modules.
    loras.sync([LoraRef(source=str(files["mlp"]), scale=1.0)])
    assert len(transformer.peft_config) == 1
    torch.testing.assert_close(transformer.layers[1].self_attn.to_q(x), x @ before["layers.1.self_attn.to_q.weight"].T)
    loras.sync([])
    assert_identical(transformer, before)


def test_two_loras_on_the_same_layer_add_up(transformer, tmp_path) -> None:
    before = snapshot(transformer)
    a = save_diffusers_lora(tmp_path / "a", rank=4, alpha=8.0, seed=1)
    b = save_diffusers_lora(tmp_path / "b", rank=2, alpha=4.0, seed=9)
    wa, _ = make_lora_weights(rank=4, alpha=8.0, seed=1)
    wb, _ = make_lora_weights(rank=2, alpha=4.0, seed=9)
    LoraSet(transformer).sync([LoraRef(source=str(a), scale=0.3), LoraRef(source=str(b), scale=1.2)])
    x = torch.randn(3, 32)
    want = _expected_linear([wa, wb], "layers.0.cross_attn.to_out.0", before["layers.0.cross_attn.to_out.0.weight"],
                            [(0.3, 8.0, 4), (1.2, 4.0, 2)])
    torch.testing.assert_close(transformer.layers[0].cross_attn.to_out[0](x), x @ want.T, rtol=1e-5, atol=1e-5)


def test_scale_change_reuses_the_loaded_adapter(transformer, files, monkeypatch) -> None:
    loras = LoraSet(transformer)
    loras.sync([LoraRef(source=str(files["attn"]), scale=1.0)])
    calls = []
    real = transformer.load_lora_adapter
    monkeypatch.setattr(transformer, "load_lora_adapter", lambda *a, **k: calls.append(1) or real(*a, **k))
    loras.sync([LoraRef(source=str(files["attn"]), scale=0.0)])
    assert calls == []
    x = torch.randn(2, 32)
    base = transformer.layers[0].self_attn.to_q.base_layer
    torch.testing.assert_close(transformer.layers[0].self_attn.to_q(x), base(x))  # scale 0 = off


def test_acestep_trainer_layout_matches_diffusers_layout(transformer, files) -> None:
    x = torch.randn(4, 32)
    loras = LoraSet(transformer)
    loras.sync([LoraRef(source=str(files["attn"]), scale=1.0)])
    ours = transformer.layers[0].cross_attn.to_out[0](x).detach()
    loras.sync([LoraRef(source=str(files["trainer"].parent), scale=1.0)])  # folder with adapter/ inside
    assert len(transformer.peft_config) == 1
    torch.testing.assert_close(transformer.layers[0].cross_attn.to_out[0](x), ours)
    loras.clear()


def test_lora_for_another_model_size_is_refused_and_changes_nothing(transformer, files) -> None:
    before = snapshot(transformer)
    loras = LoraSet(transformer)
    for name, expected in (("wide", "made for another ACE-Step model: .* is 32->16 here but 64->32 in the LoRA"),
                           ("deep", "which this ACE-Step model lacks \\(it has 2 layers\\)")):
        with pytest.raises(LoraError, match=expected) as err:
            loras.sync([LoraRef(source=str(files["attn"])), LoraRef(source=str(files[name]))])
        assert one_sentence(str(err.value))
        assert loras.loaded == {}
        assert_identical(transformer, before)


# --------------------------------------------------------------------------------------------- the backend


def _job(loras=()) -> RenderJob:
    return RenderJob(style="lofi", lyrics="[Verse]\nhello", instrumental=False, duration_s=10.0, seeds=[3],
                     options=AceStepOptions(steps=2, loras=list(loras)))


def test_backend_follows_each_requests_lora_set(tiny_acestep, files) -> None:
    transformer = tiny_acestep.pipe.transformer
    before = snapshot(transformer)
    try:
        base = tiny_acestep.render(_job())[0].audio
        styled = tiny_acestep.render(_job([f"{files['attn']}:1.5"]))[0].audio
        assert not np.array_equal(base, styled)
        stacked = tiny_acestep.render(_job([f"{files['attn']}:1.5", f"{files['mlp']}:1"]))[0].audio
        assert not np.array_equal(stacked, styled)
        again = tiny_acestep.render(_job())[0].audio  # no LoRAs after LoRAs: the base model
        np.testing.assert_array_equal(again, base)
        assert_identical(transformer, before)
        with pytest.raises(StudioError, match="made for another ACE-Step model"):
            tiny_acestep.render(_job([str(files["wide"])]))
        np.testing.assert_array_equal(tiny_acestep.render(_job())[0].audio, base)
    finally:
        tiny_acestep.loras.clear()


def test_backend_unload_removes_loras(tiny_acestep_dir, files) -> None:
    from backends.acestep.backend import AceStepBackend
    from studio.devices import detect

    backend = AceStepBackend.load(str(tiny_acestep_dir), device=detect("cpu"))
    transformer = backend.pipe.transformer
    before = snapshot(transformer)
    backend.loras.sync([LoraRef(source=str(files["attn"]))])
    backend.unload()
    assert_identical(transformer, before)


# --------------------------------------------------------------------------------------------- Hub ids (no network)


class FakeHub:
    def __init__(self, monkeypatch, files: dict[str, int], folder: Path) -> None:
        import huggingface_hub

        self.downloads: list[list[str]] = []
        siblings = [type("S", (), {"rfilename": n, "size": s}) for n, s in files.items()]

        class Api:
            def model_info(self_, repo, files_metadata=False):
                return type("I", (), {"siblings": siblings})

        def snapshot_download(repo, allow_patterns=None):
            self.downloads.append(allow_patterns)
            return str(folder)

        monkeypatch.setattr(huggingface_hub, "HfApi", Api)
        monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)


def test_hub_id_fetches_only_the_lora_file(monkeypatch, files) -> None:
    hub = FakeHub(monkeypatch, {"pytorch_lora_weights.safetensors": 1000, "README.md": 10, "model.bin": 5},
                  files["attn"].parent)
    info = lora.check_lora("someone/tiny-lora")
    assert info.path == files["attn"] and info.rank == 4
    assert hub.downloads == [["pytorch_lora_weights.safetensors", "adapter_config.json"]]


def test_hub_id_refuses_oversized_and_pickle_only_repos_before_downloading(monkeypatch, tmp_path) -> None:
    hub = FakeHub(monkeypatch, {"pytorch_lora_weights.safetensors": 600 * 2**20}, tmp_path)
    with pytest.raises(LoraError, match="over the 512 MB limit"):
        lora.check_lora("someone/huge")
    hub = FakeHub(monkeypatch, {"pytorch_lora_weights.bin": 1000}, tmp_path)
    with pytest.raises(LoraError, match="a pickle the studio never loads"):
        lora.check_lora("someone/old")
    hub = FakeHub(monkeypatch, {"a.safetensors": 10, "b.safetensors": 10}, tmp_path)
    with pytest.raises(LoraError, match=r"name one: someone/two/a\.safetensors"):
        lora.check_lora("someone/two")
    assert hub.downloads == []


# --------------------------------------------------------------------------------------------- command line


def test_cli_lora_flag_becomes_checked_absolute_options(files, monkeypatch) -> None:
    from studio.cli import build_parser
    from studio.commands.generate import request_from_args

    monkeypatch.chdir(files["attn"].parent)
    args = build_parser().parse_args([
        "generate", "--style", "x", "--out", "o.wav", "--lora", "pytorch_lora_weights.safetensors:0.6",
        "--lora", "someone/style",
    ])
    request = request_from_args(args)
    assert request.options["loras"] == [
        {"source": str(files["attn"]), "scale": 0.6}, {"source": "someone/style", "scale": 1.0},
    ]
    bad = build_parser().parse_args(["generate", "--style", "x", "--out", "o.wav", "--lora", "missing.safetensors"])
    with pytest.raises(StudioError, match="does not exist"):
        request_from_args(bad)


@pytest.mark.slow
def test_generate_command_applies_lora_and_records_it_in_the_song_card(tiny_acestep_dir, files, tmp_path) -> None:
    import os
    import subprocess
    import sys

    from studio.audio import read_card
    from tests.conftest import REPO

    def generate(out: Path, *extra: str) -> np.ndarray:
        proc = subprocess.run(
            [sys.executable, "-m", "studio", "generate", "--weights", str(tiny_acestep_dir), "--style", "lofi",
             "--instrumental", "--duration", "10", "--seed", "4", "--steps", "2", "--no-master", "--out", str(out),
             *extra],
            capture_output=True, text=True, cwd=REPO, env={**os.environ, "STUDIO_DEVICE": "cpu"}, timeout=300,
        )
        assert proc.returncode == 0, proc.stderr
        import soundfile as sf

        return sf.read(str(out))[0]

    styled = generate(tmp_path / "styled.wav", "--lora", f"{files['attn']}:0.8")
    plain = generate(tmp_path / "plain.wav")
    assert not np.allclose(styled, plain)
    card = read_card(tmp_path / "styled.wav")
    assert card.params["options"]["loras"] == [{"source": str(files["attn"]), "scale": 0.8}]


@pytest.mark.gpu
def test_lora_round_trip_on_the_accelerator_in_bfloat16(files) -> None:
    from backends.acestep.tiny import build_tiny_pipeline

    device = "cuda" if torch.cuda.is_available() else "mps"
    transformer = build_tiny_pipeline(seed=0).transformer.to(device, torch.bfloat16)
    before = snapshot(transformer)
    loras = LoraSet(transformer)
    x = torch.randn(3, 32, device=device, dtype=torch.bfloat16)
    base = transformer.layers[0].self_attn.to_q(x)
    loras.sync([LoraRef(source=str(files["attn"]), scale=1.0), LoraRef(source=str(files["mlp"]), scale=0.5)])
    assert not torch.equal(transformer.layers[0].self_attn.to_q(x), base)
    assert transformer.layers[0].self_attn.to_q.lora_A[loras.active[0].adapter].weight.device.type == device
    loras.sync([])
    assert_identical(transformer, before)
    assert torch.equal(transformer.layers[0].self_attn.to_q(x), base)
