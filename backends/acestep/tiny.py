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


def save_tiny_pipeline(folder: str | Path, seed: int = 0, layers: int = 2) -> Path:
    """Write the tiny pipeline with ``save_pretrained`` (model_index.json + one folder per part)."""
    folder = Path(folder)
    build_tiny_pipeline(seed=seed, layers=layers).save_pretrained(folder, safe_serialization=True)
    return folder


if __name__ == "__main__":  # pragma: no cover - convenience for maintainers
    import sys

    target = save_tiny_pipeline(sys.argv[1] if len(sys.argv) > 1 else "tiny-acestep")
    print(target)
