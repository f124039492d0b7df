"""A tiny random Whisper saved in the layout of openai/whisper-large-v3-turbo (config.json,
generation_config.json, model.safetensors, tokenizer files, preprocessor_config.json), built
offline: the tokenizer is a byte-level BPE with no merges plus Whisper's special tokens in
Whisper's order, so every id the generation code looks up exists where it expects it.

Facts used (transformers ``models/whisper``): the special tokens follow ``<|endoftext|>`` as
``<|startoftranscript|>``, one ``<|xx|>`` per language of ``LANGUAGES``, ``<|translate|>``,
``<|transcribe|>``, ``<|startoflm|>``, ``<|startofprev|>``, ``<|nospeech|>``, ``<|notimestamps|>``;
timestamp tokens ``<|0.00|>`` .. ``<|30.00|>`` come right after the last special id
(``_decode_with_timestamps`` computes ``timestamp_begin = all_special_ids[-1] + 1``); word
timestamps need ``generation_config.alignment_heads`` (decoder layer, head pairs).
"""

from __future__ import annotations

import json
from pathlib import Path


def build(folder: Path, *, seed: int = 0) -> Path:
    import torch
    from tokenizers import AddedToken
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import (
        GenerationConfig,
        WhisperConfig,
        WhisperFeatureExtractor,
        WhisperForConditionalGeneration,
        WhisperProcessor,
        WhisperTokenizer,
    )
    from transformers.models.whisper.tokenization_whisper import LANGUAGES

    folder.mkdir(parents=True, exist_ok=True)
    vocab = {ch: i for i, ch in enumerate(sorted(ByteLevel.alphabet()))}
    tokenizer = WhisperTokenizer(vocab=vocab, merges=[])
    specials = ["<|endoftext|>", "<|startoftranscript|>", *[f"<|{code}|>" for code in LANGUAGES],
                "<|translate|>", "<|transcribe|>", "<|startoflm|>", "<|startofprev|>", "<|nospeech|>",
                "<|notimestamps|>"]
    tokenizer.add_special_tokens({"additional_special_tokens": [AddedToken(t, special=True) for t in specials[1:]]})
    tokenizer.add_tokens([AddedToken(f"<|{i * 0.02:.2f}|>", special=False) for i in range(1501)])
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in specials}
    eot, sot = ids["<|endoftext|>"], ids["<|startoftranscript|>"]

    feature_extractor = WhisperFeatureExtractor(feature_size=80)
    WhisperProcessor(feature_extractor=feature_extractor, tokenizer=tokenizer).save_pretrained(folder)
    feature_extractor.save_pretrained(folder)  # preprocessor_config.json, as in the published repos

    config = WhisperConfig(
        vocab_size=len(tokenizer), num_mel_bins=80, d_model=16, encoder_layers=1, decoder_layers=1,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32,
        max_source_positions=1500, max_target_positions=64, decoder_start_token_id=sot,
        bos_token_id=eot, eos_token_id=eot, pad_token_id=eot, begin_suppress_tokens=[220, eot],
        suppress_tokens=[],
    )
    torch.manual_seed(seed)
    model = WhisperForConditionalGeneration(config).eval()
    model.generation_config = GenerationConfig(
        decoder_start_token_id=sot, bos_token_id=eot, eos_token_id=eot, pad_token_id=eot,
        max_length=24, is_multilingual=True, alignment_heads=[[0, 0], [0, 1]],
        lang_to_id={f"<|{code}|>": ids[f"<|{code}|>"] for code in LANGUAGES},
        task_to_id={"transcribe": ids["<|transcribe|>"], "translate": ids["<|translate|>"]},
        no_timestamps_token_id=ids["<|notimestamps|>"], max_initial_timestamp_index=50,
        begin_suppress_tokens=[220, eot], suppress_tokens=[],
    )
    model.save_pretrained(folder)
    (folder / "TINY_RANDOM.json").write_text(json.dumps({"seed": seed, "note": "random weights for tests"}))
    return folder
