"""HeartMuLa's limits up front (issue 15.6).

Prompt tokens and song frames share the backbone's 8192 positions (the ``llama-3B`` flavor's
``max_seq_len`` in heartlib's FLAVORS table; fixtures/heartmula/README.md). Long CJK lyrics (about a
token per character with the Llama 3.2 tokenizer, fixtures/heartmula/ckpt/tokenizer.json) plus a long
song used to overflow the KV cache after minutes of generation; now the request is refused while it is
prepared, with the seconds or characters to cut.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from backends.heartmula import limits
from studio.ground.errors import StudioError
from studio.song import SongRequest

# A Chinese verse line; repeated, it makes lyrics of a few thousand characters.
LINE = "夜空中最亮的星请照亮我前行"  # 13 characters


def long_cjk_lyrics(lines: int) -> str:
    verses = []
    for v in range(0, lines, 8):
        verses.append("[verse]\n" + "\n".join(LINE for _ in range(min(8, lines - v))))
    return "\n\n".join(verses)


@pytest.fixture
def heartmula_here(hm_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The fixture checkpoint folder (real tokenizer.json) as the studio's HeartMuLa weights."""
    monkeypatch.setenv("STUDIO_HEARTMULA_WEIGHTS", str(hm_dir / "ckpt"))
    return hm_dir / "ckpt"


def test_counts_match_the_prompt_the_lm_reads(heartmula_here: Path) -> None:
    from backends.heartmula.prompt import PromptBuilder

    lyrics = long_cjk_lyrics(16)
    builder = PromptBuilder.from_files(heartmula_here / "tokenizer.json", heartmula_here / "gen_config.json")
    prompt = builder.build(limits.style_to_tags("pop, piano"), lyrics)
    total, lyric = limits.prompt_counts(
        heartmula_here / "tokenizer.json", heartmula_here / "gen_config.json", "pop, piano", lyrics
    )
    assert total == prompt.length and lyric == len(builder.lyric_ids(lyrics))
    # generate_frames sizes its state for prompt.length + loop frames (+1 spare): the same count.
    assert limits.positions_needed(total, 240.0) == prompt.length + 240_000 // 80


def test_long_cjk_lyrics_are_refused_while_preparing(heartmula_here: Path) -> None:
    from studio.request.checks import check_request as prepare

    lyrics = long_cjk_lyrics(390)  # 390 lines x 13 characters: ~5,900 characters, under max_lyrics_chars
    request = SongRequest(backend="heartmula", style="pop", lyrics=lyrics, duration=240, verbatim=True)
    with pytest.raises(StudioError) as err:
        prepare(request)
    text = str(err.value)
    assert "8192 positions" in text and "too many" in text
    cut_chars = int(re.search(r"cut about (\d+) characters", text).group(1))
    assert 0 < cut_chars < len(lyrics)
    # Following the advice makes the request fit.
    shorter = request.model_copy(update={"lyrics": lyrics[: len(lyrics) - cut_chars - 20]})
    assert prepare(shorter).job.duration_s == 240


def test_a_shorter_song_is_offered_when_it_would_fit(heartmula_here: Path) -> None:
    from studio.request.checks import check_request as prepare

    lyrics = long_cjk_lyrics(380)
    request = SongRequest(backend="heartmula", style="pop", lyrics=lyrics, duration=240, verbatim=True)
    with pytest.raises(StudioError) as err:
        prepare(request)
    longest = int(re.search(r"a song of at most (\d+) s", str(err.value)).group(1))
    assert 10 <= longest < 240
    assert prepare(request.model_copy(update={"duration": longest})).job.duration_s == longest


def test_the_loaded_backend_refuses_before_loading_the_lm(heartmula_here: Path) -> None:
    """Without the tokenizer on disk at prepare time (first use), the render checks before generating."""
    from backends.base import RenderJob
    from backends.heartmula.backend import load
    from backends.heartmula.declaration import HeartMuLaOptions

    backend = load(str(heartmula_here), device="cpu")
    job = RenderJob(style="pop", lyrics=long_cjk_lyrics(400), instrumental=False, duration_s=240.0, seeds=[1],
                    options=HeartMuLaOptions())
    with pytest.raises(StudioError, match="8192 positions"):
        backend.render(job)
    assert backend.pipeline.lm_loads == 0


def test_short_lyrics_pass(heartmula_here: Path) -> None:
    from studio.request.checks import check_request as prepare

    request = SongRequest(backend="heartmula", style="pop", lyrics=long_cjk_lyrics(8), duration=240, verbatim=True)
    assert prepare(request).job.duration_s == 240


# --- strict key loading against the published key lists


def collapse(names: set[str]) -> set[str]:
    return {re.sub(r"\.\d+\.", ".N.", n) for n in names}


def test_meta_models_match_the_published_key_lists(hm_dir: Path) -> None:
    """``ckpt_manifest.json`` lists every tensor of both checkpoints as upstream's module tree names them
    (fixtures/heartmula/README.md §1). Our meta models must hold exactly those names, except the codec
    tensors inference never reads (its encoder, the VQ's training statistics)."""
    import torch

    from backends.heartmula.codec.model import UNUSED_CODEC_TENSORS, _meta_codec
    from backends.heartmula.flavors import KNOWN_FLAVORS
    from backends.heartmula.lm import HeartMuLaLM, LMConfig, _meta_lm

    manifest = json.loads((hm_dir / "ckpt_manifest.json").read_text())
    lm_names = set(manifest["HeartMuLa-oss-3B"])
    assert set(_meta_lm(hm_dir / "ckpt" / "HeartMuLa-oss-3B").state_dict()) == lm_names

    codec_names = set(manifest["HeartCodec-oss"])
    ours = set(_meta_codec(hm_dir / "ckpt" / "HeartCodec-oss").state_dict())
    assert ours <= codec_names
    extras = codec_names - ours
    assert extras and all(any(re.match(p, k) for p in UNUSED_CODEC_TENSORS) for k in extras)

    # The real flavors (28 + 3 layers) name the same tensors per layer as the tiny ones.
    real = LMConfig(backbone=KNOWN_FLAVORS["llama-3B"], decoder=KNOWN_FLAVORS["llama-300M"])
    with torch.device("meta"):
        model = HeartMuLaLM(real)
    names = set(model.state_dict())
    assert collapse(names) == collapse(lm_names)
    assert len({n for n in names if n.startswith("backbone.layers.") and n.endswith("attn.q_proj.weight")}) == 28
    params = sum(p.numel() for p in model.parameters())
    assert 3.5e9 < params < 4.2e9  # ~3.9 B, the figure the spec's download size is estimated from
