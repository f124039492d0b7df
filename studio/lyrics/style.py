"""Style text per dialect.

* ACE-Step takes a free caption (fewer than 512 characters): kept as typed, spaces tidied.
* LeVo 2 wants comma-separated keywords, never sentences: gender, timbre, genre, emotion,
  instruments (any order), then ``the bpm is N`` — lower case, ending with a period, e.g.
  ``female, bright, pop, uplifting, piano, drum kit, the bpm is 120.``
* HeartMuLa wants comma-separated tags without spaces after the commas, e.g.
  ``pop,female,happy,piano`` (it lower-cases them itself; we do too).

A free description is turned into keywords with ``VOCABULARY`` (category -> canonical keyword ->
other spellings). The text is split at commas, semicolons, slashes, line breaks and full stops;
in each piece the longest known phrases are taken. A piece with no known phrase, at most two
words and no filler word (``FILLER``) is kept as an open keyword (both models accept open
vocabulary, e.g. ``nyckelharpa``); every other word that is not filler is dropped and listed in
``dropped_words``. A tempo in the text (``120 bpm``, ``bpm: 120``, ``tempo 120``) or the request's
``bpm`` becomes ``the bpm is N`` for LeVo; HeartMuLa has no tempo control, so for it a tempo in
the text is dropped (and listed).

Keywords keep the order they were written in. Which categories each dialect keeps is
``LEVO2_CATEGORIES`` and ``HEARTMULA_CATEGORIES``; keywords of other categories are dropped (and listed).
Which function serves which model is the dialect table (``studio.lyrics.dialects``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from studio.lyrics import budgets
from studio.lyrics.report import Fix, Problem
from studio.lyrics.tokens import estimate_tokens

# category -> canonical keyword -> other spellings (matched case-insensitively, as whole words)
VOCABULARY: dict[str, dict[str, tuple[str, ...]]] = {
    "gender": {
        "female": ("female vocals", "female vocal", "female voice", "female singer", "woman", "women",
                   "girl", "she", "diva"),
        "male": ("male vocals", "male vocal", "male voice", "male singer", "man", "men", "boy", "guy"),
        "mixed": ("duet", "mixed vocals", "male and female vocals", "female and male vocals"),
    },
    "timbre": {
        "bright": (), "dark": (), "soft": (), "warm": (), "husky": ("raspy", "gravelly"),
        "powerful": ("strong vocals", "belting"), "breathy": ("airy",), "deep": ("low voice",),
        "sweet": (), "clear": ("crisp",),
    },
    "genre": {
        "pop": (), "rock": (), "jazz": (), "blues": (), "folk": (), "country": (), "soul": (),
        "funk": (), "disco": (), "reggae": (), "metal": ("heavy metal",), "punk": ("punk rock",),
        "r&b": ("rnb", "r and b", "rhythm and blues"), "hip-hop": ("hip hop", "hiphop"),
        "rap": (), "trap": (), "edm": (), "electronic": ("electronica",), "house": ("deep house",),
        "techno": (), "trance": (), "dubstep": (), "drum and bass": ("dnb", "drum & bass", "drum n bass"),
        "ambient": (), "lo-fi": ("lofi", "lo fi", "lo-fi hip hop", "lofi hip hop"),
        "synth-pop": ("synthpop", "synth pop", "synthwave", "retrowave"), "indie": (),
        "indie pop": (), "indie rock": (), "alternative rock": ("alt rock", "alternative"),
        "hard rock": (), "pop rock": (), "soft rock": (), "ballad": ("power ballad", "pop ballad"),
        "dance-pop": ("dance pop", "dance"), "gospel": (), "classical": (), "orchestral": (),
        "cinematic": ("soundtrack", "film score", "epic orchestral"), "latin": ("latin pop",),
        "reggaeton": (), "salsa": (), "bossa nova": (), "flamenco": ("flamenco-pop",), "tango": (),
        "k-pop": ("kpop",), "j-pop": ("jpop",), "j-rock": (), "c-pop": ("cpop", "mandopop"),
        "chinese traditional": ("guofeng", "chinese style"), "city pop": (), "anime": (),
        "acoustic": (), "singer-songwriter": (), "country rock": (), "bluegrass": (),
        "shoegaze": (), "dream pop": (), "grunge": (), "emo": (), "pop punk": (),
        "afrobeat": ("afrobeats",), "dancehall": (), "swing": (), "big band": (), "musette": (),
        "waltz": (), "chiptune": ("8-bit", "8 bit"), "trip-hop": ("trip hop",), "neo-soul": ("neo soul",),
        "world music": ("world",), "boom bap": (), "drill": (), "phonk": (), "new wave": (),
        "post-rock": ("post rock",), "metalcore": (), "ska": (), "opera": (), "nursery rhyme": ("lullaby",),
    },
    "emotion": {
        "happy": ("joyful", "cheerful"), "sad": ("sorrowful",), "melancholic": ("melancholy",),
        "romantic": ("love",), "energetic": ("high energy", "high-energy"), "uplifting": ("inspiring",),
        "calm": ("peaceful", "serene", "tranquil"),
        "relaxed": ("relaxing", "laid-back", "laid back", "chill"),
        "dreamy": (), "nostalgic": ("retro", "80s", "90s", "vintage"), "epic": ("anthemic",),
        "dramatic": (), "aggressive": ("angry", "fierce"), "hopeful": (), "emotional": ("heartfelt",),
        "heartbroken": ("heartbreak", "breakup"), "intense": (), "playful": ("fun", "quirky"),
        "dark": ("gloomy", "ominous"), "mysterious": (), "upbeat": (), "groovy": ("funky",),
        "passionate": (), "bittersweet": (), "intimate": (), "tender": ("gentle",), "lonely": (),
        "confident": (), "rebellious": (), "festive": ("celebratory",), "spiritual": (),
        "haunting": ("eerie",), "sensual": (), "triumphant": (), "wistful": (), "longing": ("yearning",),
    },
    "instrument": {
        "piano": ("grand piano",), "electric piano": ("rhodes", "wurlitzer"), "acoustic guitar": (),
        "electric guitar": ("distorted guitar", "distorted guitars", "electric guitars"),
        "guitar": ("guitars",), "bass guitar": (), "bass": ("bassline", "bass line"),
        "synth bass": ("reese bass",), "808 bass": ("808", "808s"), "drums": ("drum", "percussion"),
        "drum kit": (), "drum machine": ("beat machine",), "synthesizer": ("synth", "synths", "synthesizers"),
        "synth pad": ("pads", "synth pads"), "strings": ("string section", "string", "orchestral strings"),
        "violin": ("fiddle",), "cello": (), "viola": (), "double bass": ("upright bass",), "harp": (),
        "flute": (), "clarinet": (), "saxophone": ("sax",), "trumpet": (), "trombone": (),
        "brass": ("brass section", "horns", "horn section"), "french horn": (), "organ": ("hammond",),
        "accordion": (), "harmonica": (), "banjo": (), "mandolin": (), "ukulele": ("uke",),
        "choir": ("choral",), "backing vocals": ("harmonies", "vocal harmonies"), "guzheng": (),
        "erhu": (), "pipa": (), "dizi": ("chinese flute",), "shamisen": (), "koto": (), "sitar": (),
        "tabla": (), "bells": ("chimes",), "glockenspiel": (), "marimba": (), "vibraphone": (),
        "hand claps": ("claps", "handclaps"), "orchestra": (), "timpani": (), "congas": (), "bongos": (),
        "steel guitar": ("pedal steel",), "slide guitar": (), "vinyl crackle": (), "nyckelharpa": (),
    },
    "tempo": {
        "fast": ("fast tempo", "uptempo", "up-tempo"), "slow": ("slow tempo", "downtempo"),
        "mid-tempo": ("midtempo", "medium tempo"),
    },
    "scene": {
        "wedding": (), "party": ("club",), "workout": ("gym",), "study": ("focus",), "sleep": (),
        "travel": ("road trip",), "night": ("late night", "midnight"), "summer": (), "christmas": (),
        "meditation": (), "game": ("video game",),
    },
}

LEVO2_CATEGORIES = ("gender", "timbre", "genre", "emotion", "instrument")
HEARTMULA_CATEGORIES = ("genre", "gender", "emotion", "timbre", "instrument", "tempo", "scene")

# Words that carry no style on their own; dropped without being reported.
_FILLER_WORDS = (
    "a an the with and or of for in on at to by from into over some very really quite more less "
    "song songs music track tracks tune style styled sound sounds sounding like feel feeling vibe "
    "vibes type kind sort that this these those is are be it its it's featuring feat ft plus but "
    "lots lot bit please make generate create write i want me my we our you your vocals vocal voice "
    "singing sung singer sings instrumentation instruments beat beats production produced mix "
    "mixed-by tempo bpm genre genres mood moods emotion artist using used tags tag feels sounds"
)
FILLER: frozenset[str] = frozenset(_FILLER_WORDS.split())

_SPLIT = re.compile(r"[,;/\n|]+|\.(?:\s+|$)|，|、|。|；")
_WORD = re.compile(r"[\w&'+\-]+", re.UNICODE)
_BPM = re.compile(
    r"(?:\b(\d{2,3})\s*-?\s*bpm\b|\bbpm\s*(?:of|is|=|:|at)?\s*(\d{2,3})\b|\btempo\s*(?:of|is|=|:|at)?\s*"
    r"(\d{2,3})\b|\bthe bpm is (\d{2,3})\b)",
    re.IGNORECASE,
)

# phrase (tuple of lower-case words) -> (category, canonical keyword)
_PHRASES: dict[tuple[str, ...], tuple[str, str]] = {}
for _category, _entries in VOCABULARY.items():
    for _canonical, _aliases in _entries.items():
        for _spelling in (_canonical, *_aliases):
            _PHRASES.setdefault(tuple(_WORD.findall(_spelling.lower())), (_category, _canonical))
_LONGEST = max(len(k) for k in _PHRASES)


@dataclass
class StyleResult:
    text: str
    dropped_words: list[str] = field(default_factory=list)
    fixes: list[Fix] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)


def _tidy(text: str) -> str:
    text = text.translate(str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"'}))
    return re.sub(r"\s+", " ", text).strip()


def _match(words: list[str]) -> tuple[list[tuple[str, str]], list[str]]:
    found: list[tuple[str, str]] = []
    left: list[str] = []
    i = 0
    while i < len(words):
        for n in range(min(_LONGEST, len(words) - i), 0, -1):
            hit = _PHRASES.get(tuple(words[i : i + n]))
            if hit:
                found.append(hit)
                i += n
                break
        else:
            left.append(words[i])
            i += 1
    return found, left


def keywords(style: str) -> tuple[list[tuple[str, str]], list[str], int | None]:
    """((category, keyword) in the order written, open keywords with category "open", dropped
    words, tempo found in the text)."""
    text = _tidy(style).lower()
    tempo = None
    bpm_match = _BPM.search(text)
    if bpm_match:
        tempo = int(next(g for g in bpm_match.groups() if g))
        text = text[: bpm_match.start()] + " , " + text[bpm_match.end() :]
    ordered: list[tuple[str, str]] = []
    dropped: list[str] = []
    for piece in _SPLIT.split(text):
        words = _WORD.findall(piece)
        if not words:
            continue
        found, left = _match(words)
        meaningful = [w for w in left if w.strip("'-") and w not in FILLER]
        if not found and meaningful and len(words) <= 2 and len(meaningful) == len(words):
            found = [("open", " ".join(words))]
        else:
            dropped.extend(meaningful)
        ordered.extend(hit for hit in found if hit[1] not in {k for _, k in ordered})
    return ordered, dropped, tempo


def style_acestep(style: str, *, bpm: int | None = None) -> StyleResult:
    """ACE-Step's caption is free text; its bpm travels as a request field, not in the caption."""
    caption = _tidy(style)
    result = StyleResult(text=caption)
    if len(caption) >= budgets.ACESTEP.style_chars:
        result.errors.append(Problem(code="style_too_long", message=(
            f"the style caption has {len(caption)} characters and ACE-Step takes fewer than "
            f"{budgets.ACESTEP.style_chars}; shorten it by at least "
            f"{len(caption) - budgets.ACESTEP.style_chars + 1} characters")))
    return result


def _kept(style: str, categories: tuple[str, ...]) -> tuple[list[str], list[str], int | None]:
    found, dropped, tempo = keywords(style)
    kept = (*categories, "open")
    ordered = [k for c, k in found if c in kept]
    return ordered, [k for c, k in found if c not in kept] + dropped, tempo


def _report_dropped(result: StyleResult, dropped: list[str], name: str) -> StyleResult:
    result.dropped_words = dropped
    if dropped:
        result.fixes.append(Fix(code="style_dropped", message=(
            f"the style became keywords for {name}; these words were left out: "
            + ", ".join(f"`{w}`" for w in dropped))))
    return result


def style_levo2(style: str, *, bpm: int | None = None) -> StyleResult:
    ordered, dropped, tempo = _kept(style, LEVO2_CATEGORIES)
    tempo = bpm if bpm is not None else tempo
    if tempo is not None:
        ordered.append(f"the bpm is {tempo}")
    result = StyleResult(text=", ".join(ordered) + "." if ordered else "")
    used = estimate_tokens(result.text) + budgets.LEVO2.style_prefix_tokens
    if used > budgets.LEVO2.style_tokens:
        result.errors.append(Problem(code="style_too_long", message=(
            f"the style has too many keywords for LeVo 2 (about {used} of its {budgets.LEVO2.style_tokens} "
            "tokens); keep the few that matter most (gender, genre, mood, two or three instruments)")))
    return _report_dropped(result, dropped, "LeVo 2")


def style_heartmula(style: str, *, bpm: int | None = None) -> StyleResult:
    ordered, dropped, tempo = _kept(style, HEARTMULA_CATEGORIES)
    if tempo is not None:  # HeartMuLa has no tempo control; the request's bpm is not sent either
        dropped.append(f"{tempo} bpm")
    return _report_dropped(StyleResult(text=",".join(ordered)), dropped, "HeartMuLa")
