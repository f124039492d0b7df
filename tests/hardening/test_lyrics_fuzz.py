"""Any lyrics, in any script or shape, get either a clean render or one sentence about the lyrics.

Driven through the real request path for every backend's dialect: the formatter, ``checks.check_request``
(what the UI, CLI and API run before any GPU time) and the API's own /format_lyrics and /plan handlers.
"""

from __future__ import annotations

import gradio as gr
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio import registry
from studio.errors import validate
from studio.ground.errors import StudioError
from studio.lyrics import format_lyrics
from studio.lyrics import validate as check_dialect
from studio.request import checks
from studio.song import SongRequest

SCRIPTS = [
    "Hello world, we sing tonight", "Привет, мир", "مرحبا بالعالم", "שלום עולם", "नमस्ते दुनिया",
    "สวัสดีชาวโลก", "你好世界，我们唱歌", "こんにちは世界", "안녕하세요 세계", "Γειά σου Κόσμε", "გამარჯობა",
    "ሰላም ልዑል", "ᚠᚢᚦᚨᚱᚲ", "𝄞𝄢 music", "🎵🔥👩‍👩‍👧‍👦🏳️‍🌈", "\u202eevil\u202c", "a\u0301\u0302\u0303\u0304",
    "\x00\x07\x1b[31mred\x1b[0m", "\ufeff\u200b\u200d\u2028\u2029", "Ｆｕｌｌｗｉｄｔｈ", "ﷺ ﷽",
]
TAGS = [
    "[Verse]", "[Chorus]", "[verse 2]", "[Intro-short]", "[Outro]", "[Bridge]", "[Pre-Chorus]", "[",
    "]", "[[Chorus]]", "[Chorus", "Verse]", "[]", "[ ]", "[Verse [Chorus]]", "((oh oh))", "(", "{x}",
    "<b>bold</b>", "[Instrumental]", "[inst]", "##", "---", "[intro-medium]", "[end]", "[Chorus x2]",
]
odd_chars = st.text(alphabet=st.characters(categories=["Cc", "Cf", "Zl", "Zp", "Mn", "Co"]), max_size=20)
line = st.one_of(st.text(max_size=60), st.sampled_from(SCRIPTS), st.sampled_from(TAGS), odd_chars)
LYRICS = st.one_of(
    st.lists(line, max_size=24).map("\n".join),
    st.lists(st.sampled_from(TAGS), min_size=1, max_size=12).map("\n".join),  # only tags
    st.lists(st.sampled_from(["[", "]", "[[", "]]", "(", ")", "[Verse", "Chorus]"]), max_size=40).map("".join),
)
STYLE = st.one_of(st.just("synth pop, female vocals"), st.text(max_size=80), st.sampled_from(SCRIPTS))
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _available(name: str) -> bool:
    return registry.get_spec(name).availability().ok


def _about_the_text(message: str) -> bool:
    lowered = message.lower()
    return any(word in lowered for word in ("lyrics", "style", "line", "tag", "section"))


def check_one(backend: str, lyrics: str, style: str) -> None:
    caps = registry.get_spec(backend).capabilities
    formatted = format_lyrics(lyrics, caps.lyric_dialect, style=style, duration_s=60)
    assert all(str(problem).strip() for problem in formatted.errors)
    if not _available(backend):
        return
    try:
        # As every surface builds it: through the request model's checks, which bound the text first.
        request = validate(SongRequest, {"backend": backend, "lyrics": lyrics, "style": style, "duration": 60})
        prepared = checks.check_request(request)
    except StudioError as exc:
        assert _about_the_text(str(exc)), f"{backend}: {exc}"
        return
    # What reaches the model always passes that model's own strict validator.
    job = prepared.job
    assert check_dialect(caps.lyric_dialect, job.lyrics, job.style, instrumental=job.instrumental) == []


@FUZZ
@given(lyrics=LYRICS, style=STYLE)
def test_any_lyrics_render_cleanly_or_get_a_sentence_for_every_backend(lyrics: str, style: str) -> None:
    for backend in registry.names():
        check_one(backend, lyrics, style)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lyrics=LYRICS, style=STYLE, backend=st.sampled_from(registry.names()))
def test_the_api_handlers_answer_any_lyrics_with_data_or_a_sentence(app_fns, lyrics, style, backend) -> None:
    for endpoint, kwargs in (
        ("format_lyrics", {"duration": 60}),
        ("plan", {"duration": 60}),
    ):
        try:
            answer = app_fns(endpoint)(lyrics=lyrics, style=style, backend=backend, **kwargs)
        except gr.Error as exc:
            message = str(exc.message)
            assert "went wrong on our side" not in message, f"/{endpoint} crashed on {lyrics!r}: {message}"
            assert _about_the_text(message) or "cannot run here" in message, message
        else:
            assert isinstance(answer, dict)


KINDS = {
    "latin": "la la la la\n",
    "rtl": "مرحبا بالعالم\n",
    "emoji": "🎵🔥👩‍👩‍👧‍👦\n",
    "control": "\x00\x1b\x07\u202e\n",
    "tags": "[Verse]\n",
    "brackets": "[[[",
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_hundred_thousand_characters_get_a_sentence_not_a_crash(kind: str) -> None:
    text = (KINDS[kind] * (100_000 // len(KINDS[kind]) + 1))[:100_000]
    for backend in registry.names():
        check_one(backend, text, "pop")
