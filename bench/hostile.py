"""The hostile side of bench/soak.py (``--hostile N``): clients that attack the studio while the normal
visitors use it. Each attack expects one sentence back; an HTTP 5xx, "Something went wrong" or a
dropped connection is a hostile *error* (the server failed), a refusal is what should happen.

Attacks: an upload whose header announces 7 GB of samples (a decompression bomb), a 1 MB lyric,
keyless /generate calls with a spoofed X-Forwarded-For (the proxy's own entry stays the same, so
the per-address queue cap must hold), a flood of instant calls (each /call join opens a fresh gradio
session, so it is also the session flood that STUDIO_SESSIONS_PER_ADDRESS bounds: the normal visitors'
sessions must survive it), and a loop of small uploads from one address (STUDIO_UPLOADS_PER_VISITOR
must answer 429 with a sentence once the window is full).
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import soundfile as sf

HUGE_LYRICS = "[Verse]\n" + "la la la la la la la\n" * 50_000
ATTACKS = ("bomb", "text", "spoof", "flood", "uploads")
UPLOADER = "203.0.113.88"  # the upload loop's address, as the Space's proxy would append it


@dataclass
class HostileTally:
    calls: int = 0
    refused: int = 0
    answered: int = 0  # a flood call answered normally
    errors: int = 0
    messages: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, kind: str, message: str = "") -> None:
        with self.lock:
            self.calls += 1
            if kind == "refused":
                self.refused += 1
            elif kind == "answered":
                self.answered += 1
            else:
                self.errors += 1
                self.messages.append(message[:300])


def header_bomb(folder: Path) -> Path:
    """A real one-second FLAC whose STREAMINFO announces 10 minutes of 8 channels at 384 kHz."""
    path = folder / "bomb.flac"
    sf.write(str(path), np.full((384_000, 8), 0.25, np.float32), 384_000, subtype="PCM_16")
    raw = bytearray(path.read_bytes())
    at = 18  # "fLaC" + block header + 10 bytes of block/frame sizes: rate, channels, bits, total samples
    packed = int.from_bytes(raw[at : at + 8], "big")
    raw[at : at + 8] = ((packed & ~((1 << 36) - 1)) | 599 * 384_000).to_bytes(8, "big")
    path.write_bytes(bytes(raw))
    return path


def _outcome(response: httpx.Response, url: str, endpoint: str) -> tuple[str, str]:
    """("refused" | "answered" | "error", text) for one /call/<endpoint> join and its event stream."""
    if response.status_code >= 500:
        return "error", f"{endpoint}: HTTP {response.status_code} {response.text[:200]}"
    if response.status_code != 200:
        return "refused", response.text
    stream = httpx.get(f"{url}/gradio_api/call/{endpoint}/{response.json()['event_id']}", timeout=300).text
    if "Something went wrong" in stream:
        return "error", f"{endpoint}: {stream[:300]}"
    return ("refused" if "event: error" in stream else "answered"), stream


def _call(url: str, endpoint: str, data: list, headers: dict | None = None) -> tuple[str, str]:
    joined = httpx.post(f"{url}/gradio_api/call/{endpoint}", json={"data": data}, headers=headers or {}, timeout=120)
    return _outcome(joined, url, endpoint)


def attack(url: str, name: str, bomb: Path, rng: random.Random, tally: HostileTally) -> None:
    try:
        if name == "bomb":
            with bomb.open("rb") as f:
                uploaded = httpx.post(f"{url}/gradio_api/upload", files={"files": (bomb.name, f)}, timeout=60)
            source = {"path": uploaded.json()[0], "meta": {"_type": "gradio.FileData"}}
            kind, text = _call(url, "edit", [source, "repaint", 1, 5, None, "", None, "pop", "", 1, 1, "{}", "",
                                             "acestep", "", False])
            tally.note(kind if kind != "answered" else "error", text)  # a bomb must never be accepted
        elif name == "text":
            kind, text = _call(url, "format_lyrics", [HUGE_LYRICS, "pop", "acestep", None, False])
            tally.note(kind if kind != "answered" else "error", text)
        elif name == "spoof":
            spoofed = f"{rng.randrange(1, 255)}.{rng.randrange(255)}.{rng.randrange(255)}.{rng.randrange(255)}"
            headers = {"X-Forwarded-For": f"{spoofed}, 203.0.113.66"}  # what the proxy appends stays the same
            data = ["[Verse]\nla", "pop", "acestep", 10, False, 1, 1, "", 0, "", "", "", '{"steps": 1}', "", False,
                    False]
            tally.note(*_call(url, "generate", data, headers))
        elif name == "uploads":
            for _ in range(10):
                with bomb.open("rb") as f:
                    sent = httpx.post(f"{url}/gradio_api/upload", files={"files": ("song.flac", f)},
                                      headers={"X-Forwarded-For": UPLOADER}, timeout=60)
                if sent.status_code == 429 and "upload" in sent.text:
                    tally.note("refused", sent.text)
                elif sent.status_code == 200:
                    tally.note("answered", "")
                else:
                    tally.note("error", f"uploads: HTTP {sent.status_code} {sent.text[:200]}")
        else:
            for _ in range(20):
                tally.note(*_call(url, "backends", []))
    except httpx.HTTPError as exc:  # a dropped connection is the server failing
        tally.note("error", f"{name}: {type(exc).__name__}: {exc}")


def hostile_worker(url: str, deadline: float, tally: HostileTally, index: int, bomb: Path) -> None:
    rng = random.Random(1000 + index)
    while time.monotonic() < deadline:
        attack(url, rng.choice(ATTACKS), bomb, rng, tally)
