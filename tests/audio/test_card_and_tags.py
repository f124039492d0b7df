"""Tags carry the recipe in all three formats, and the song card comes back from tags or sidecar."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import numpy as np
import pytest
from mutagen.flac import FLAC
from mutagen.id3 import ID3
from mutagen.wave import WAVE

from studio.audio.card import SongCard, sidecar_path, studio_artist
from studio.audio.export import export
from studio.audio.tags import CARD_KEY, read_card, read_tags
from studio.ground.errors import StudioError
from tests.audio.signals import band_noise

LYRICS = "[verse]\nÇa commence ici, 日本語も\n[chorus]\nla la la"


def make_card(**overrides) -> SongCard:
    fields = {
        "title": "Night Drive — été",
        "artist": studio_artist("ACE-Step 1.5 XL turbo"),
        "lyrics": LYRICS,
        "style": "synthwave, female vocals, 110 bpm",
        "backend": "acestep",
        "model_id": "ACE-Step/acestep-v15-xl-turbo-diffusers",
        "weights_revision": "0123456789abcdef0123456789abcdef01234567",
        "seed": 424242,
        "params": {
            "duration": 30.0,
            "steps": np.int64(8),
            "guidance": np.float32(7.5),
            "bpm": None,
            "tags": ("a", "b"),
            "nested": {"lm": {"temperature": 0.85}},
        },
        "sample_rate": 48000,
        "duration_s": 0.5,
        "created_at": datetime(2025, 6, 1, 12, 30, tzinfo=timezone.utc),
    }
    fields.update(overrides)
    return SongCard(**fields)


@pytest.fixture(params=["wav", "flac", "mp3"])
def exported(request, tmp_path):
    card = make_card()
    path = export(
        band_noise(0.5, 0.1).astype(np.float32), 48000, tmp_path / "night-drive", request.param, card
    )
    return path, card


def test_plain_tags_round_trip(exported):
    path, card = exported
    tags = read_tags(path)
    assert tags["TITLE"] == card.title
    assert tags["ARTIST"] == "Song Studio (ACE-Step 1.5 XL turbo)"
    assert tags["LYRICS"] == LYRICS
    assert tags["GENRE"] == card.style
    assert tags["MODEL_ID"] == card.model_id
    assert tags["WEIGHTS_REVISION"] == card.weights_revision
    assert tags["SEED"] == "424242"
    assert json.loads(tags["PARAMS"]) == card.params
    assert tags["DATE"] == "2025-06-01"


def test_card_round_trips_through_the_embedded_tag(exported):
    path, card = exported
    sidecar_path(path).unlink()  # only the tag is left
    assert read_card(path) == card


def test_card_round_trips_through_the_sidecar_when_tags_are_stripped(exported):
    path, card = exported
    if path.suffix == ".flac":
        FLAC(path).delete()
    elif path.suffix == ".mp3":
        ID3(path).delete()
    else:
        WAVE(path).delete()
    assert CARD_KEY not in read_tags(path)
    assert read_card(path) == card
    assert read_card(sidecar_path(path)) == card


def test_sidecar_sits_beside_the_file(exported):
    path, card = exported
    assert sidecar_path(path) == path.with_name("night-drive.song.json")
    assert json.loads(sidecar_path(path).read_text())["seed"] == card.seed


def test_params_become_plain_json():
    card = make_card()
    assert card.params == {
        "duration": 30.0,
        "steps": 8,
        "guidance": 7.5,
        "bpm": None,
        "tags": ["a", "b"],
        "nested": {"lm": {"temperature": 0.85}},
    }
    assert type(card.params["steps"]) is int


@pytest.mark.parametrize(("value", "message"), [(float("nan"), "finite"), (object(), "cannot store")])
def test_params_that_json_cannot_hold_are_refused(value, message):
    with pytest.raises(ValueError, match=message):
        make_card(params={"bad": value})


def test_card_refuses_unknown_fields():
    with pytest.raises(ValueError, match="extra"):
        SongCard.model_validate({**make_card().model_dump(), "colour": "red"})


def test_file_not_made_by_the_studio_is_explained(tmp_path):
    stranger = tmp_path / "holiday.wav"
    export(np.zeros((2, 480)), 48000, stranger)  # no card: like any other WAV
    with pytest.raises(StudioError, match=r"`holiday.wav` was not made by Song Studio.*holiday.song.json"):
        read_card(stranger)
    text = tmp_path / "notes.mp3"
    text.write_text("not audio at all")
    with pytest.raises(StudioError, match="was not made by Song Studio"):
        read_card(text)


def test_missing_file_and_broken_card_are_explained(tmp_path):
    with pytest.raises(StudioError, match="No file at"):
        read_card(tmp_path / "gone.mp3")
    broken = tmp_path / "x.song.json"
    broken.write_text('{"studio": "Song Studio", "seed": "many"}')
    with pytest.raises(StudioError, match=r"not a song card this studio can read \(.*seed"):
        read_card(broken)
