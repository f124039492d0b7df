"""A tiny random ACE-Step planner in the real on-disk layout, and a scripted fake LM.

The tokenizer is a byte-level BPE with Qwen's pre-tokenisation (digits split one by one, a space
kept apart from a following digit), trained in-process on the fixture texts, plus the planner's
special tokens and all 65,535 ``<|audio_code_N|>`` tokens (only 0-63999 are valid codes).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from backends.acestep.planner.metadata import KEYSCALES, LANGUAGES

QWEN_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]
AUDIO_CODE_TOKENS = 65535  # the real vocabulary holds <|audio_code_0|> ... <|audio_code_65534|>


def _corpus(fixtures_dir: Path) -> list[str]:
    folder = fixtures_dir / "acestep_planner"
    texts: list[str] = []

    def walk(node) -> None:
        if isinstance(node, str):
            texts.append(node)
        elif isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads((folder / "cases.json").read_text(encoding="utf-8")))
    walk(json.loads((folder / "fsm_traces.json").read_text(encoding="utf-8")))
    texts += [f"keyscale: {k}\n" for k in KEYSCALES] + [f"language: {lang}\n" for lang in LANGUAGES]
    texts += [f"bpm: {b}\nduration: {b}\ntimesignature: {t}\n" for b in range(10, 601) for t in "2346"]
    return texts


def build_tokenizer(fixtures_dir: Path, vocab_size: int = 1500):
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN_SPLIT), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tok.train_from_iterator(_corpus(fixtures_dir), trainer)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS])
    tok.add_tokens([AddedToken(f"<|audio_code_{i}|>", normalized=False) for i in range(AUDIO_CODE_TOKENS)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    fast.chat_template = (fixtures_dir / "acestep_planner" / "chatml_minimal.jinja").read_text(
        encoding="utf-8"
    )
    return fast


def save_tiny_planner(folder: Path, fixtures_dir: Path, seed: int = 0) -> Path:
    """Write config.json + model.safetensors + tokenizer files into ``folder``, like a real LM folder."""
    from transformers import Qwen3Config, Qwen3ForCausalLM

    tokenizer = build_tokenizer(fixtures_dir)
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=8,
        max_position_embeddings=8192,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = Qwen3ForCausalLM(config)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


class _Out:
    def __init__(self, logits: torch.Tensor, past: list[list[int]]) -> None:
        self.logits = logits
        self.past_key_values = past


class ScriptedLM(torch.nn.Module):
    """A fake causal LM that "wants" to write ``script`` (a CoT block, maybe followed by free text),
    and in the codes phase wants code ``(37 * n) % 64`` for the n-th code.

    It re-aligns with the script line by line when constrained decoding forced something else
    (an injected value, a coerced number, a skipped field); within a line it cannot follow, it
    wants to end the line. Wished token: logit 10; EOS: 1; everything else 0.
    """

    def __init__(self, tokenizer, script: str) -> None:
        super().__init__()
        self._anchor = torch.nn.Parameter(torch.zeros(1))
        self.tok = tokenizer
        self.script_lines = script.split("\n")
        self.vocab_size = len(tokenizer)
        self.eos = tokenizer.eos_token_id
        self.newline = tokenizer.encode("\n", add_special_tokens=False)[-1]
        self._prompt_len: list[int] = []

    def forward(self, input_ids, attention_mask=None, past_key_values=None, use_cache=True):
        if past_key_values is None:
            rows = [ids[mask.bool()].tolist() for ids, mask in zip(input_ids, attention_mask, strict=True)]
            self._prompt_len = [len(r) for r in rows]
        else:
            rows = [[*r, int(t)] for r, t in zip(past_key_values, input_ids[:, -1].tolist(), strict=True)]
        logits = torch.zeros(len(rows), 1, self.vocab_size)
        for b, row in enumerate(rows):
            prompt = self.tok.decode(row[: self._prompt_len[b]], skip_special_tokens=False)
            written = self.tok.decode(row[self._prompt_len[b] :], skip_special_tokens=False)
            logits[b, 0, self.eos] = 1.0
            logits[b, 0, self._wish(prompt, written)] = 10.0
        return _Out(logits, rows)

    def _wish(self, prompt: str, written: str) -> int:
        if prompt.endswith("</think>\n\n"):
            n = written.count("<|audio_code_")
            return self.tok.convert_tokens_to_ids(f"<|audio_code_{(37 * n) % 64}|>")
        rest = self._remainder(written)
        if rest is None:
            return self.newline
        if not rest:
            return self.eos
        return self.tok.encode(rest, add_special_tokens=False)[0]

    def _remainder(self, written: str) -> str | None:
        script = self.script_lines
        lines = written.split("\n")
        done, partial = lines[:-1], lines[-1]
        keyed = [i for i, line in enumerate(done) if ":" in line and line[:1].strip()]
        if keyed:
            g = keyed[-1]
            key = done[g].split(":", 1)[0]
            s = next((i for i, line in enumerate(script) if line.startswith(key + ":")), None)
            if s is None:
                return None
            start = s + 1 + (len(done) - 1 - g)
        else:
            start = len(done)
        rest = "\n".join(script[start:])
        if rest.startswith(partial):
            return rest[len(partial) :]
        if ":" in partial:
            key = partial.split(":", 1)[0]
            for i, line in enumerate(script):
                if line.startswith(key + ":") and line.startswith(partial):
                    return "\n".join(script[i:])[len(partial) :]
        return None
