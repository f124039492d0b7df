"""A tiny random ACE-Step 1.5 pipeline in the real diffusers folder layout.

Tests, benchmarks and the soak run build it into a temporary folder and load it through the same
code path as the real ``ACE-Step/acestep-v15-xl-turbo-diffusers`` weights. It keeps the real audio
geometry (48 kHz stereo, 1920x VAE downsampling = 25 latent frames/s) and shrinks every width
and depth, so a song-length render takes well under a second on a CPU. The audio is noise.
"""

from __future__ import annotations

from pathlib import Path

ACOUSTIC_DIM = 8
HIDDEN = 32
TEXT_HIDDEN = 32
VOCAB_SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")


def _tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    # Byte-level BPE with the 256 byte symbols and no merges: every string tokenizes, offline.
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {ch: i for i, ch in enumerate(sorted(alphabet))}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(list(VOCAB_SPECIALS))
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|endoftext|>", padding_side="right"
    )


def build_tiny_pipeline(seed: int = 0, layers: int = 2):
    """A random AceStepPipeline with the real component classes (returned in memory)."""
    import torch
    from diffusers import AceStepPipeline, AutoencoderOobleck, FlowMatchEulerDiscreteScheduler
    from diffusers.models.transformers.ace_step_transformer import AceStepTransformer1DModel
    from diffusers.pipelines.ace_step import (
        AceStepAudioTokenDetokenizer,
        AceStepAudioTokenizer,
        AceStepConditionEncoder,
    )
    from transformers import Qwen3Config, Qwen3Model

    tokenizer = _tokenizer()
    heads = dict(
        num_attention_heads=4, num_key_value_heads=2, head_dim=8, rope_theta=10000.0, sliding_window=16
    )
    torch.manual_seed(seed)
    transformer = AceStepTransformer1DModel(
        hidden_size=HIDDEN,
        intermediate_size=64,
        num_hidden_layers=layers,
        in_channels=3 * ACOUSTIC_DIM,  # noisy latents + source latents + chunk mask
        audio_acoustic_hidden_dim=ACOUSTIC_DIM,
        patch_size=2,
        is_turbo=True,
        model_version="turbo",
        **heads,
    )
    text_encoder = Qwen3Model(
        Qwen3Config(
            hidden_size=TEXT_HIDDEN,
            intermediate_size=64,
            num_hidden_layers=layers,
            num_attention_heads=4,
            num_key_value_heads=2,
            head_dim=8,
            vocab_size=len(tokenizer),
            max_position_embeddings=4096,
        )
    )
    condition_encoder = AceStepConditionEncoder(
        hidden_size=HIDDEN,
        intermediate_size=64,
        text_hidden_dim=TEXT_HIDDEN,
        timbre_hidden_dim=ACOUSTIC_DIM,
        num_lyric_encoder_hidden_layers=layers,
        num_timbre_encoder_hidden_layers=layers,
        **heads,
    )
    with torch.no_grad():
        # The real checkpoint ships VAE-encoded silence here; zeros would be out of distribution.
        condition_encoder.silence_latent.normal_(0.0, 0.1)
    vae = AutoencoderOobleck(
        # The encoder emits mean and scale, so twice the latent width (the real VAE: 128 -> 64);
        # cover, repaint and extract encode the source audio through it.
        encoder_hidden_size=2 * ACOUSTIC_DIM,
        downsampling_ratios=[2, 4, 4, 6, 10],  # 1920: the real VAE's hop
        channel_multiples=[1, 1, 1, 1, 1],
        decoder_channels=2,
        decoder_input_channels=ACOUSTIC_DIM,
        audio_channels=2,
        sampling_rate=48_000,
    )
    # The 5 Hz audio-code path (planner codes, cover): the real FSQ levels, so codes 0-63999 exist.
    pooler = dict(hidden_size=HIDDEN, intermediate_size=64, audio_acoustic_hidden_dim=ACOUSTIC_DIM,
                  pool_window_size=5, num_attention_pooler_hidden_layers=1, **heads)
    audio_tokenizer = AceStepAudioTokenizer(fsq_dim=HIDDEN, fsq_input_levels=[8, 8, 8, 5, 5, 5], **pooler)
    audio_token_detokenizer = AceStepAudioTokenDetokenizer(**pooler)
    scheduler = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1, shift=1.0)
    return AceStepPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        transformer=transformer,
        condition_encoder=condition_encoder,
        scheduler=scheduler,
        audio_tokenizer=audio_tokenizer,
        audio_token_detokenizer=audio_token_detokenizer,
    )


def save_tiny_pipeline(folder: str | Path, seed: int = 0, layers: int = 2, code_pair: bool = True) -> Path:
    """Write the tiny pipeline with ``save_pretrained`` (model_index.json + one folder per part).

    ``code_pair=False`` leaves out the audio tokenizer pair the way the published
    ``ACE-Step/acestep-v15-xl-turbo-diffusers`` does: no folders, no model_index.json entries."""
    import json
    import shutil

    folder = Path(folder)
    build_tiny_pipeline(seed=seed, layers=layers).save_pretrained(folder, safe_serialization=True)
    if not code_pair:
        index = json.loads((folder / "model_index.json").read_text())
        for name in ("audio_tokenizer", "audio_token_detokenizer"):
            shutil.rmtree(folder / name)
            index.pop(name, None)
        (folder / "model_index.json").write_text(json.dumps(index, indent=2))
    return folder


# diffusers attention names -> ACE-Step 1.5's own (the inverse of the converter's renames in diffusers'
# scripts/convert_ace_step_to_diffusers.py); the DiT's proj_in/proj_out convs sit at index 1 of a Sequential.
_NATIVE_NAMES = (
    (".to_q.", ".q_proj."), (".to_k.", ".k_proj."), (".to_v.", ".v_proj."), (".to_out.0.", ".o_proj."),
    (".norm_q.", ".q_norm."), (".norm_k.", ".k_norm."),
    ("proj_in_conv.", "proj_in.1."), ("proj_out_conv.", "proj_out.1."),
)


def _native_key(prefix: str, key: str) -> str:
    key = f"{prefix}.{key}"
    for ours, theirs in _NATIVE_NAMES:
        key = key.replace(ours, theirs)
    return key


def save_tiny_native_checkpoint(folder: str | Path, seed: int = 0, layers: int = 2, shards: int = 1) -> Path:
    """The same tiny model as :func:`save_tiny_pipeline` (same seed, same weights) in ACE-Step 1.5's native
    layout: one ``config.json`` and ``model.safetensors`` (or ``shards`` files and an index) holding
    ``decoder.*`` (DiT), ``encoder.*`` (condition encoder), ``tokenizer.*`` and ``detokenizer.*``."""
    import json

    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    pipe = build_tiny_pipeline(seed=seed, layers=layers)
    state = {}
    for prefix, module in (("decoder", pipe.transformer), ("encoder", pipe.condition_encoder),
                           ("tokenizer", pipe.audio_tokenizer), ("detokenizer", pipe.audio_token_detokenizer)):
        for key, value in module.state_dict().items():
            state[_native_key(prefix, key)] = value.detach().clone().contiguous()
    dit, tok = pipe.transformer.config, pipe.audio_tokenizer.config
    config = {
        "architectures": ["AceStepConditionGenerationModel"],
        **{k: dit[k] for k in ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                               "num_key_value_heads", "head_dim", "in_channels", "audio_acoustic_hidden_dim",
                               "patch_size", "rope_theta", "attention_bias", "attention_dropout", "rms_norm_eps",
                               "sliding_window")},
        "layer_types": ["sliding_attention" if (i + 1) % 2 else "full_attention" for i in range(layers)],
        "text_hidden_dim": TEXT_HIDDEN,
        "timbre_hidden_dim": ACOUSTIC_DIM,
        "num_lyric_encoder_hidden_layers": layers,
        "num_timbre_encoder_hidden_layers": layers,
        "pool_window_size": tok["pool_window_size"],
        "fsq_dim": tok["fsq_dim"],
        "fsq_input_levels": list(tok["fsq_input_levels"]),
        "fsq_input_num_quantizers": tok["fsq_input_num_quantizers"],
        "num_attention_pooler_hidden_layers": tok["num_attention_pooler_hidden_layers"],
        "is_turbo": True,
        "model_version": "turbo",
    }
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    keys = sorted(state)
    if shards == 1:
        save_file(state, folder / "model.safetensors")
        return folder
    weight_map = {}
    for i in range(shards):
        name = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        part = keys[i::shards]
        save_file({k: state[k] for k in part}, folder / name)
        weight_map.update(dict.fromkeys(part, name))
    index = {"metadata": {"total_size": sum(v.numel() * v.element_size() for v in state.values())},
             "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))
    return folder


if __name__ == "__main__":  # pragma: no cover - convenience for maintainers
    import sys

    target = save_tiny_pipeline(sys.argv[1] if len(sys.argv) > 1 else "tiny-acestep")
    print(target)
