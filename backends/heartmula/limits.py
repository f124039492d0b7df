"""The backbone's position budget, checked before any model work.

Prompt tokens (tags + the reference-audio slot + lyrics) and the song's frames share the backbone's
positions: one position per prompt token, then one per 80 ms frame. The published 3B backbone is the
``llama-3B`` flavor with ``max_seq_len`` 8192 (heartlib's FLAVORS table; see
fixtures/heartmula/README.md). Past it the KV cache overflows after minutes of generation, so long
lyrics (CJK text takes about one token per character) are refused up front with what to cut.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

from backends.base import RenderJob
from studio import settings
from studio.ground.errors import StudioError

BACKBONE_POSITIONS = 8192
FRAME_MS = 80  # 12.5 frames per second (backends/heartmula/generate.py)
GEN_REPO = "HeartMuLa/HeartMuLaGen"
TOKENIZER_FILE = "tokenizer.json"
GEN_CONFIG_FILE = "gen_config.json"


def style_to_tags(style: str) -> str:
    """Comma-separated tags, trimmed and without empties (the LM was trained on ``a,b,c``)."""
    return ",".join(t.strip() for t in style.split(",") if t.strip())


def positions_needed(prompt_tokens: int, duration_s: float) -> int:
    """The prompt, then one position per loop frame (``generate.generate_frames`` feeds one per frame)."""
    return prompt_tokens + int(duration_s * 1000) // FRAME_MS


def check_fits(prompt_tokens: int, lyric_tokens: int, lyric_chars: int, duration_s: float,
               limit: int = BACKBONE_POSITIONS, min_duration_s: float = 10.0) -> None:
    """Raise a sentence saying how many seconds or lyric characters to cut when the song cannot fit."""
    need = positions_needed(prompt_tokens, duration_s)
    if need <= limit:
        return
    over = need - limit
    longest_s = math.floor((limit - prompt_tokens) * FRAME_MS / 1000)
    chars_per_token = lyric_chars / lyric_tokens if lyric_tokens else 1.0
    cut_chars = math.ceil(over * chars_per_token)
    song_room = f"a song of at most {longest_s} s, or " if longest_s >= min_duration_s else ""
    raise StudioError(
        f"HeartMuLa's backbone holds {limit} positions shared by prompt and song: these lyrics and tags take "
        f"{prompt_tokens} tokens and {duration_s:g} s of song takes {need - prompt_tokens} frames, {over} too many; "
        f"ask for {song_room}cut about {cut_chars} characters of lyrics (or pick ACE-Step for long lyrics)."
    )


def prompt_counts(tokenizer_json: Path, gen_config_json: Path, style: str, lyrics: str) -> tuple[int, int]:
    """(prompt tokens, lyric tokens) exactly as the prompt builder makes them."""
    builder = _builder(str(tokenizer_json), str(gen_config_json))
    tags = builder.tag_ids(style_to_tags(style))
    lyric = builder.lyric_ids(lyrics)
    return len(tags) + 1 + len(lyric), len(lyric)


@lru_cache(maxsize=2)
def _builder(tokenizer_json: str, gen_config_json: str):
    from backends.heartmula.prompt import PromptBuilder

    return PromptBuilder.from_files(Path(tokenizer_json), Path(gen_config_json))


def local_text_files() -> tuple[Path, Path] | None:
    """tokenizer.json and gen_config.json if already on this machine (a folder or the HF cache); no network."""
    folder = settings.HEARTMULA_WEIGHTS.get()
    if folder and Path(folder).expanduser().is_dir():
        files = Path(folder).expanduser() / TOKENIZER_FILE, Path(folder).expanduser() / GEN_CONFIG_FILE
        return files if all(f.is_file() for f in files) else None
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover
        return None
    from studio.weights import hub_cache_dir

    hits = [try_to_load_from_cache(GEN_REPO, n, cache_dir=hub_cache_dir()) for n in (TOKENIZER_FILE, GEN_CONFIG_FILE)]
    if all(isinstance(h, str) for h in hits):
        return Path(hits[0]), Path(hits[1])
    return None


def check_job(job: RenderJob) -> None:
    """The request check the studio runs before any model work (``BackendSpec.check_job``). Without the
    tokenizer on this machine yet, the loaded backend runs the same check before generating."""
    files = local_text_files()
    if files is None:
        return
    lyrics = "" if job.instrumental else job.lyrics
    prompt, lyric = prompt_counts(*files, job.style, lyrics)
    check_fits(prompt, lyric, len(lyrics), job.duration_s)
