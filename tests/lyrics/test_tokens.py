"""LeVo token budget: the real tokenizer (from the fixture tarball) and the fallback estimate."""

from __future__ import annotations

import json
import tarfile

import pytest

from studio.lyrics import format_lyrics, tokens
from studio.lyrics.tokens import count_levo_lyric_tokens, estimate_tokens


@pytest.fixture(scope="module")
def qwen_dir(fixtures_dir, tmp_path_factory):
    tarball = fixtures_dir / "levo2/third_party/Qwen2-7B_tokenizer.tar.xz"
    if not tarball.is_file():
        pytest.skip("Qwen2 tokenizer tarball not in the fixtures")
    target = tmp_path_factory.mktemp("levo_runtime") / "third_party"
    with tarfile.open(tarball) as tar:
        tar.extractall(target, filter="data")
    return target / "Qwen2-7B"


@pytest.fixture()
def no_tokenizer(monkeypatch):
    monkeypatch.delenv(tokens.TOKENIZER_ENV, raising=False)
    monkeypatch.delenv(tokens.RUNTIME_ENV, raising=False)


SAMPLES = [
    "[verse] Bailando bajo la luna llena. Corazón que late sin cesar. ; [chorus] Ay ay ay mi amor.",
    "[verse] 桜の花が舞い散る.君の声が聞こえる ; [chorus] いつまでも一緒に",
    "[verse] Звезды над городом горят. Я иду домой один. ; [chorus] Ночь моя.",
    "[intro-short] ; [verse] Supercalifragilistic antidisestablishment. Rhythm's 1999 rock-n-roll. ; "
    "[outro-long]",
    "[verse] Ich liebe dich über alles. Größer als die Welt. ; [bridge] 나는 너를 사랑해.하늘이 파랗다",
]


def test_counts_match_the_model_inputs(fixtures_dir, qwen_dir):
    cases = json.loads((fixtures_dir / "levo2/conditioning/cases.json").read_text(encoding="utf-8"))["cases"]
    for name in ("case1_en", "case2_zh", "case4_en_no_description"):
        lyrics = cases[name]["lyrics_arg_to_CodecLM_generate"][0]
        count = count_levo_lyric_tokens(lyrics, qwen_dir)
        assert count == (len(cases[name]["lyric_tokens_cond"]), True), name


def test_estimate_never_counts_fewer_than_the_tokenizer(fixtures_dir, qwen_dir):
    cases = json.loads((fixtures_dir / "levo2/conditioning/cases.json").read_text(encoding="utf-8"))["cases"]
    texts = [*SAMPLES, *(cases[n]["lyrics_arg_to_CodecLM_generate"][0] for n in ("case1_en", "case2_zh"))]
    for text in texts:
        exact = count_levo_lyric_tokens(text, qwen_dir)
        assert exact.exact
        assert estimate_tokens(text) + 1 >= exact.tokens, text


def test_env_folder_and_runtime_folder_are_both_found(qwen_dir, monkeypatch, no_tokenizer):
    assert count_levo_lyric_tokens("[verse] hi.").exact is False
    monkeypatch.setenv(tokens.RUNTIME_ENV, str(qwen_dir.parent.parent))
    assert count_levo_lyric_tokens("[verse] hi.") == (4, True)
    monkeypatch.delenv(tokens.RUNTIME_ENV)
    monkeypatch.setenv(tokens.TOKENIZER_ENV, str(qwen_dir))
    assert count_levo_lyric_tokens("[verse] hi.") == (4, True)


def _long_song(lines: int) -> str:
    return "[Verse]\n" + "\n".join(f"walking down the empty road again number {i}" for i in range(lines))


def test_budget_error_with_and_without_the_tokenizer(qwen_dir, monkeypatch, no_tokenizer):
    fits, too_long = _long_song(40), _long_song(90)
    estimated = format_lyrics(too_long, "levo2")
    assert [e.code for e in estimated.errors] == ["too_many_tokens"]
    assert "these use about" in estimated.errors[0].message
    monkeypatch.setenv(tokens.TOKENIZER_ENV, str(qwen_dir))
    exact = format_lyrics(too_long, "levo2")
    assert [e.code for e in exact.errors] == ["too_many_tokens"]
    assert "these use about" not in exact.errors[0].message
    assert format_lyrics(fits, "levo2").ok
