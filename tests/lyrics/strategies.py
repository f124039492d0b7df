"""Hypothesis strategies: lyric-ish texts built from the pieces people actually paste."""

from __future__ import annotations

from hypothesis import strategies as st

TAGS = [
    "[Verse]", "[Verse 1]", "[Verse 2: whispered]", "[Chorus]", "[Chorus - anthemic]", "[Chorus x2]",
    "[Pre-Chorus]", "[Hook]", "[Drop]", "[Break]", "[Bridge]", "[Intro]", "[Outro]", "[Instrumental]",
    "[intro-short]", "[inst-medium]", "[outro-long]", "[silence]", "[End]", "[Guitar Solo]",
    "[Final Chorus]", "[Female Vocals]", "【副歌】", "[]", "Chorus:", "(Verse 2)", "Bridge", "# Chorus",
    "**[Verse]**", "## My Song", "---", "```",
]
WORDS = [
    "love", "night", "I", "can't", "stop", "the", "rain", "Corazón", "mañana", "夜色", "慢慢", "落下",
    "桜の花が", "舞い散る", "사랑해", "Звезды", "(ooh)", "(yeah)", "2026", "ROCK", "rock'n'roll",
    "-", "'", ",", ".", "!", "?", ";", "…", "。", "，", "、", "“hi”", "[x]", "]", "[", "**", "_", ":",
    "\t", "\u200b", "ＡＢＣ", "《书》", "é", "ñ", "&", "#", ">",
]

lyric_line = st.lists(st.sampled_from(WORDS), min_size=1, max_size=8).map(" ".join)
inline_tag_line = st.tuples(st.sampled_from(TAGS[:20]), lyric_line).map(lambda t: f"{t[0]} {t[1]}")
line = st.one_of(st.sampled_from(TAGS), lyric_line, lyric_line, lyric_line, st.just(""), inline_tag_line)
songish = st.lists(line, max_size=25).map("\n".join)
levoish = st.lists(
    st.tuples(st.sampled_from(TAGS[:20]), st.lists(lyric_line, max_size=4).map(". ".join)),
    min_size=1,
    max_size=6,
).map(lambda parts: " ; ".join(f"{t} {b}".strip() for t, b in parts))
any_text = st.one_of(songish, songish, levoish, st.text(max_size=200))
