"""Tags that carry the recipe: ID3 (MP3, and an ``id3 `` chunk in WAV) and Vorbis comments (FLAC).

Each file gets the human-readable fields players show (title, artist, lyrics, style as genre and
comment, date, encoder) plus the recipe fields (model id, weights revision, seed, parameters as
JSON) and the whole song card as JSON under ``SONG_STUDIO_CARD``, which is what
:func:`read_card` reads back.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from mutagen import MutagenError
from mutagen.flac import FLAC
from mutagen.id3 import COMM, ID3, TCON, TDRC, TIT2, TPE1, TSSE, TXXX, USLT, ID3NoHeaderError
from mutagen.wave import WAVE

from studio.audio.card import CARD_SUFFIX, STUDIO_NAME, SongCard, sidecar_path
from studio.ground.errors import StudioError

CARD_KEY = "SONG_STUDIO_CARD"
# Recipe fields written next to the card, for tools that only read plain tags.
_RECIPE_KEYS = ("MODEL_ID", "WEIGHTS_REVISION", "BACKEND", "SEED", "STYLE", "PARAMS")
# ID3 v2.3 is what most players and Windows read; mutagen stores its text as UTF-16 there.
_ID3_VERSION = 3
# ISO 639-2 "undetermined": the lyrics may be in any language.
_LYRICS_LANGUAGE = "und"


def _recipe(card: SongCard) -> dict[str, str]:
    return {
        "MODEL_ID": card.model_id,
        "WEIGHTS_REVISION": card.weights_revision or "",
        "BACKEND": card.backend,
        "SEED": str(card.seed),
        "STYLE": card.style,
        "PARAMS": json.dumps(card.params, ensure_ascii=False, sort_keys=True),
    }


def _encoder(card: SongCard) -> str:
    return f"{STUDIO_NAME} {card.studio_version}"


def _fill_id3(tags: ID3, card: SongCard) -> None:
    tags.delall("TXXX")
    tags.add(TIT2(encoding=3, text=[card.title]))
    tags.add(TPE1(encoding=3, text=[card.artist]))
    tags.add(TDRC(encoding=3, text=[card.created_at.strftime("%Y-%m-%d")]))
    tags.add(TSSE(encoding=3, text=[_encoder(card)]))
    if card.style:
        tags.add(TCON(encoding=3, text=[card.style]))
        tags.add(COMM(encoding=3, lang=_LYRICS_LANGUAGE, desc="", text=[card.style]))
    if card.lyrics:
        tags.add(USLT(encoding=3, lang=_LYRICS_LANGUAGE, desc="", text=card.lyrics))
    for key, value in _recipe(card).items():
        if value:
            tags.add(TXXX(encoding=3, desc=key, text=[value]))
    tags.add(TXXX(encoding=3, desc=CARD_KEY, text=[card.to_json()]))


def write_mp3_tags(path: Path, card: SongCard) -> None:
    try:
        tags = ID3(path)
    except ID3NoHeaderError:
        tags = ID3()
    _fill_id3(tags, card)
    tags.save(path, v2_version=_ID3_VERSION)


def write_wav_tags(path: Path, card: SongCard) -> None:
    audio = WAVE(path)
    if audio.tags is None:
        audio.add_tags()
    _fill_id3(audio.tags, card)
    audio.save(v2_version=_ID3_VERSION)


def write_flac_tags(path: Path, card: SongCard) -> None:
    audio = FLAC(path)
    if audio.tags is None:
        audio.add_tags()
    fields = {
        "TITLE": card.title,
        "ARTIST": card.artist,
        "DATE": card.created_at.strftime("%Y-%m-%d"),
        "ENCODER": _encoder(card),
        "GENRE": card.style,
        "DESCRIPTION": card.style,
        "LYRICS": card.lyrics,
        **_recipe(card),
        CARD_KEY: card.to_json(),
    }
    for key, value in fields.items():
        if value:
            audio[key] = [value]
        elif key in audio:
            del audio[key]
    audio.save()


def _id3_of(path: Path) -> ID3 | None:
    if path.suffix.lower() == ".wav":
        return WAVE(path).tags
    try:
        return ID3(path)
    except ID3NoHeaderError:
        return None


def read_tags(path: str | Path) -> dict[str, str]:
    """The plain fields back, under Vorbis-style names (TITLE, ARTIST, LYRICS, GENRE, SEED, ...)."""
    source = Path(path)
    try:
        if source.suffix.lower() == ".flac":
            comments = FLAC(source).tags
            return (
                {}
                if comments is None
                else {key.upper(): values[0] for key, values in comments.as_dict().items()}
            )
        tags = _id3_of(source)
    except (MutagenError, OSError, ValueError):
        return {}
    if tags is None:
        return {}
    found: dict[str, str] = {}
    for frame_id, name in (("TIT2", "TITLE"), ("TPE1", "ARTIST"), ("TCON", "GENRE"), ("TSSE", "ENCODER")):
        frame = tags.get(frame_id)
        if frame is not None and frame.text:
            found[name] = str(frame.text[0])
    date = tags.get("TDRC")
    if date is not None and date.text:
        found["DATE"] = str(date.text[0])
    lyrics = tags.getall("USLT")
    if lyrics:
        found["LYRICS"] = lyrics[0].text
    for frame in tags.getall("TXXX"):
        found[frame.desc.upper()] = str(frame.text[0]) if frame.text else ""
    return found


def read_embedded_card(path: Path) -> str | None:
    """The card JSON embedded in ``path``'s tags, or ``None`` if it has none (or is no audio)."""
    return read_tags(path).get(CARD_KEY) or None


def read_card(path: str | os.PathLike[str]) -> SongCard:
    """The song card of a file the studio made: from its embedded tag, else from its sidecar.

    Also accepts the ``.song.json`` sidecar itself. Raises :class:`StudioError` saying what to
    do when the file was not made by Song Studio.
    """
    source = Path(path)
    if not source.is_file():
        raise StudioError(f"No file at `{source}`; check the path and try again.")
    if source.name.endswith(CARD_SUFFIX) or source.suffix.lower() == ".json":
        return SongCard.from_json(source.read_bytes(), source=f"`{source.name}`")
    embedded = read_embedded_card(source)
    if embedded is not None:
        return SongCard.from_json(embedded, source=f"the card in `{source.name}`'s tags")
    sidecar = sidecar_path(source)
    if sidecar.is_file():
        return SongCard.from_json(sidecar.read_bytes(), source=f"`{sidecar.name}`")
    raise StudioError(
        f"`{source.name}` was not made by Song Studio: it has no song card in its tags and no "
        f"`{sidecar.name}` beside it. Drop a WAV, FLAC or MP3 exported by the studio, or its "
        f"`{CARD_SUFFIX}` card."
    )
