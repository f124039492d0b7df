"""Prompt strings of the 5 Hz LM, byte for byte as the model was trained on them.

The chat layout is rendered here instead of through ``tokenizer.apply_chat_template``: for the
planner's only message shape (one system and one user message, generation prompt on) the Qwen3
template renders exactly ``_CHAT`` below, and rendering it ourselves keeps us safe from template
switches such as ``enable_thinking=False``, which would append an empty think block and break the
format. The tests check both renderings agree.
"""

from __future__ import annotations

NO_USER_INPUT = "NO USER INPUT"

TEXT2MUSIC_INSTRUCTION = "Generate audio semantic tokens based on the given conditions:"
INSPIRATION_INSTRUCTION = "Expand the user's input into a more detailed and specific musical description:"
REWRITE_INSTRUCTION = "Format the user's input into a more detailed and specific musical description:"
UNDERSTAND_INSTRUCTION = (
    "Understand the given musical conditions and describe the audio semantics accordingly:"
)

# The empty reasoning block, as the Qwen3 template renders an assistant turn without reasoning.
EMPTY_THINK = "<think>\n\n</think>"

_CHAT = "<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"


def system_content(instruction: str) -> str:
    # The two trailing newlines are part of the training format.
    return f"# Instruction\n{instruction}\n\n"


def chat(instruction: str, user: str) -> str:
    """System + user turn, assistant turn opened. Contents are inserted verbatim (never stripped)."""
    return _CHAT.format(system=system_content(instruction), user=user)


def _blank(text: str | None) -> bool:
    return not text or not text.strip()


def text2music_cot_prompt(caption: str, lyrics: str) -> str:
    """Phase 1: the model writes ``<think>`` and the metadata itself. An empty caption keeps its header."""
    return chat(TEXT2MUSIC_INSTRUCTION, f"# Caption\n{caption}\n\n# Lyric\n{lyrics}\n")


def text2music_codes_prompt(caption: str, lyrics: str, cot_text: str) -> str:
    """Phase 2: the CoT follows inside the still-open assistant turn (upstream's layout since
    2026-04-22; older ports close the turn with ``<|im_end|>``, which no longer matches training)."""
    return text2music_cot_prompt(caption, lyrics) + cot_text + "\n\n"


def codes_unconditional_prompt(negative_prompt: str | None = NO_USER_INPUT) -> str:
    """CFG's unconditional branch for phase 2: the bare negative prompt (no Caption/Lyric headers)
    followed by an empty think block."""
    negative = NO_USER_INPUT if _blank(negative_prompt) else negative_prompt
    return chat(TEXT2MUSIC_INSTRUCTION, negative) + EMPTY_THINK + "\n\n"


def create_sample_prompt(query: str, instrumental: bool) -> str:
    """Simple mode ("inspiration"): a description becomes caption, lyrics and metadata."""
    query = NO_USER_INPUT if _blank(query) else query
    return chat(INSPIRATION_INSTRUCTION, f"{query}\n\ninstrumental: {'true' if instrumental else 'false'}")


def format_sample_prompt(caption: str, lyrics: str) -> str:
    """The Format button ("rewrite"). Unlike text2music there is no trailing newline."""
    caption = NO_USER_INPUT if _blank(caption) else caption
    lyrics = "[Instrumental]" if _blank(lyrics) else lyrics
    return chat(REWRITE_INSTRUCTION, f"# Caption\n{caption}\n\n# Lyric\n{lyrics}")


def understand_prompt(audio_codes: str) -> str:
    """Codes -> metadata and lyrics."""
    return chat(UNDERSTAND_INSTRUCTION, audio_codes)
