"""The take checks over the API: /generate ranks its takes, the library keeps their checks, and
/check measures any uploaded song."""

from __future__ import annotations

import numpy as np
import soundfile as sf
from gradio_client import Client, handle_file

from studio.quality.align import check_lyrics
from studio.quality.report import TakeChecks, Word
from studio.quality.store import save_checks
from tests.quality import synth


def test_generate_ranks_takes_library_keeps_checks_and_check_measures_uploads(studio_app, tmp_path) -> None:
    song = tmp_path / "upload.wav"
    y = synth.fade_out(synth.song(12, 96, "D major"), 2)
    sf.write(song, np.stack([y, y]).T, synth.SR)
    with studio_app() as url:
        client = Client(url, verbose=False)
        _, _, info = client.predict(lyrics="[Verse]\nneon lights", style="synth pop", duration=10, seed=7, takes=2,
                                    options='{"steps": 1}', api_name="/generate")
        assert sorted(info["best_first"]) == [0, 1]
        listed = {s["id"]: s for s in client.predict(api_name="/library")}
        kept = listed[info["songs"][0]["id"]]["checks"]
        assert kept["duration"] == 10 and {m["name"] for m in kept["measures"]} >= {"tempo", "key", "ending"}
        assert kept["summary"].count("·") >= 1  # the glance line, as the card shows it

        checked = client.predict(handle_file(str(song)), "", 96, "d", 12, "", api_name="/check")
        got = {m["name"]: m for m in checked["measures"]}
        assert got["tempo"]["ok"] is True and got["key"]["summary"] == "key D major" and got["key"]["ok"] is True
        assert got["duration"]["ok"] is True and checked["lyrics"] is None
        # A lyric check that did not hear line 2 (given transcript), then /sing_again on that line.
        first = info["songs"][0]
        audio_path = next((tmp_path / "library").rglob(f"{first['id']}.wav"))
        words = [Word(text="neon", start=0.5, end=0.9), Word(text="lights", start=1.0, end=1.4)]
        lyrics = "[Verse]\nneon lights\nblue hour city"
        save_checks(audio_path, TakeChecks(duration=10, measures=[], lyrics=check_lyrics(lyrics, words, duration=10)))
        again = client.predict(first["id"], 2, "", api_name="/sing_again")
        (new,) = again["songs"]
        assert new["request"]["task"] == "repaint" and new["request"]["lyrics"] == "[Verse]\nblue hour city"
        assert (new["request"]["start"], new["request"]["end"]) == (0.9, 10.0)
        assert new["checks"] is not None and new["checks"]["duration"] == 10
        try:
            client.predict(handle_file(str(song)), "", 0, "H major", 0, "", api_name="/check")
        except Exception as exc:
            assert "`key` must look like 'C major'" in str(exc)
        else:
            raise AssertionError("a malformed key was accepted")
