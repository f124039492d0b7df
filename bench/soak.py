"""Soak: many visitors making songs at once for minutes; nothing fails, nothing is lost, memory stays flat.

    python bench/soak.py [--clients 20] [--seconds 300] [--rate-limit off]

Starts the studio in its own process with a tiny random ACE-Step checkpoint (backends/acestep/tiny.py)
on the CPU, as a shared studio (each client is its own visitor with its own key), warms it up with one
song, then runs N gradio_client clients for S seconds: /generate mostly, plus /library and
/format_lyrics. It ends with one line

    requests=R errors=E lost=L rss_growth=G%

``lost``: completed /generate calls whose song has no library row or no audio file afterwards.
``rss_growth``: the server's resident memory at the end against right after warm-up.
``--sample S`` prints the RSS every S seconds (a plateau is warm-up, a climb a leak); ``--diagnose``
traces Python allocations in the server (slow) and prints what grew (bench/soak_diagnose.py).

Measured on a 2-core CPU machine (tiny ACE-Step, 1 step, 10 s songs, OMP_NUM_THREADS=1, 2026-11-21):
  before glibc_heap (no arena cap, no trim), 4 clients x 240 s:
      requests=518 errors=0 lost=0 rss_growth=22.1%
      (idle RSS 726 MiB after warm-up, 865 MiB by 30 s, then flat at 865-887 MiB with renders
      peaking at 948 MiB: fragmentation across arenas that levels off, not a leak)
  after (arenas capped at 2, malloc_trim after each render), same run:
      requests=532 errors=0 lost=0 rss_growth=2.4%    (607 MiB after warm-up, 622 MiB at the end)
  after, 20 clients x 240 s:
      requests=526 errors=0 lost=0 rss_growth=-0.3%   (idle RSS 628 MiB from 45 s to the end)
``--diagnose``: traced Python memory stays at ~132 MiB; what grows is gradio's per-session state
(~0.5 MB per new client), bounded by STUDIO_SESSION_CAPACITY.

``--hostile N`` adds N attacking clients (bench/hostile.py: an upload announcing 7 GB of samples, a
1 MB lyric, keyless /generate calls with a spoofed X-Forwarded-For, floods of instant calls) and a line

    hostile=H refused=R answered=A hostile_errors=X normal_p95=Ps peak_rss=MMiB

``hostile_errors``: attacks the server failed (HTTP 5xx, "Something went wrong", a dropped connection,
a bomb accepted); ``normal_p95``: the normal visitors' 95th-percentile call time. Each visitor sends
its own address as the Space's proxy would (``STUDIO_TRUSTED_PROXY_HOPS=1``).
Measured on the shared 2-core machine, 3 clients + 2 hostile x 40 s (2026-12-06):
  hostile=64 refused=4 answered=60 hostile_errors=0 normal_p95=23.5s peak_rss=765MiB
  requests=6 errors=0 lost=0 rss_growth=7.4%
(the spoofed /generate calls that fit the per-address queue cap are rendered: with
``STUDIO_RATE_LIMIT_PER_ADDRESS`` off, its default, one address keeps up to 6 jobs queued, which is what
slows the normal visitors here.)

The per-visitor GPU rate limit is off for the soak (``STUDIO_RATE_LIMIT=off``, change it with
``--rate-limit 10/600``); with a limit on, throttled calls are counted apart as ``throttled``, not errors.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from bench.hostile import HostileTally, header_bomb, hostile_worker  # noqa: E402 (needs the repo on sys.path)
from bench.studio_server import running_studio  # noqa: E402

# Lets --diagnose trace Python allocations inside the server.
DIAGNOSE = """
import os, threading
if os.environ.get("SOAK_DIAGNOSE"):
    from bench.soak_diagnose import watch
    threading.Thread(target=watch, args=(os.environ["SOAK_DIAGNOSE"],), daemon=True).start()
"""
LYRICS = "[Verse]\nNeon rivers in the night\nWe were running out of light\n\n[Chorus]\nHold on, hold on\n"
# What a visitor mostly does; the rest are the instant endpoints around it.
MIX = (("/generate", 0.7), ("/library", 0.15), ("/format_lyrics", 0.15))


@dataclass
class Tally:
    requests: int = 0
    errors: int = 0
    throttled: int = 0
    made: list[tuple[str, str]] = field(default_factory=list)  # (visitor key, song id)
    seconds: list[float] = field(default_factory=list)  # each normal call's latency
    messages: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def rss_kb(pid: int, field_name: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field_name} for the server process")


def peak_rss_kb(pid: int) -> int:
    """The server's peak resident memory since it started (the kernel's high-water mark)."""
    return rss_kb(pid, "VmHWM")


def generate(client, key: str, seed: int) -> dict:
    _, _, info = client.predict(
        lyrics=LYRICS, style="synth pop", duration=10, seed=seed, options='{"steps": 1}', visitor_key=key,
        api_name="/generate",
    )
    return info


def worker(url: str, deadline: float, tally: Tally, index: int) -> None:
    from gradio_client import Client

    # Each visitor at an address of its own, as the Space's proxy would record it (see --hostile).
    client = Client(url, verbose=False, headers={"X-Forwarded-For": f"198.51.{index // 250}.{index % 250 + 1}"})
    rng = random.Random(index)
    key = ""
    while time.monotonic() < deadline:
        name = rng.choices([n for n, _ in MIX], weights=[w for _, w in MIX])[0]
        if name != "/generate" and not key:
            name = "/generate"  # a visitor's first call makes their key
        began = time.monotonic()
        try:
            if name == "/generate":
                info = generate(client, key, rng.randrange(2**31))
                key = key or info["visitor_key"]
                with tally.lock:
                    tally.made += [(key, s["id"]) for s in info["songs"]]
            elif name == "/library":
                client.predict(visitor_key=key, api_name="/library")
            else:
                client.predict(lyrics=LYRICS, style="synth pop", api_name="/format_lyrics")
            with tally.lock:
                tally.requests += 1
                tally.seconds.append(time.monotonic() - began)
        except Exception as exc:  # counted, the soak goes on
            text = f"{name}: {type(exc).__name__}: {exc}"[:300]
            with tally.lock:
                if "faster than this studio allows" in text:
                    tally.throttled += 1
                else:
                    tally.requests += 1
                    tally.errors += 1
                    tally.messages.append(text)


def count_lost(library_dir: Path, made: list[tuple[str, str]]) -> int:
    from studio.ui.visitor import owner_for

    os.environ["STUDIO_MULTI_USER"] = "1"
    db = sqlite3.connect(library_dir / "library.sqlite3")
    lost = 0
    for key, song_id in made:
        row = db.execute("SELECT audio FROM songs WHERE id = ? AND owner = ?", (song_id, owner_for(key))).fetchone()
        if row is None or not (library_dir / "audio" / row[0]).is_file():
            lost += 1
    db.close()
    return lost


def sample_rss(
    pid: int, rss_start: int, tally: Tally, threads: list[threading.Thread], every_s: float, diagnosis: Path | None
) -> None:
    """Print the server's RSS every ``every_s`` seconds while the clients run: a plateau is warm-up,
    a steady climb is a leak."""
    began = time.monotonic()
    while any(t.is_alive() for t in threads):
        time.sleep(every_s)
        rss = rss_kb(pid)
        python = diagnosis.read_text().strip() if diagnosis is not None and diagnosis.is_file() else ""
        print(
            f"t={time.monotonic() - began:5.0f}s rss={rss / 1024:7.1f} MiB "
            f"({100.0 * (rss - rss_start) / rss_start:+5.1f}%) requests={tally.requests} songs={len(tally.made)} "
            f"{python}",
            file=sys.stderr, flush=True,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--rate-limit", default="off", help="STUDIO_RATE_LIMIT for the server (default off)")
    parser.add_argument(
        "--hostile", type=int, default=0, metavar="N",
        help="also run N attacking clients (bench/hostile.py: bombs, huge text, spoofed headers, floods)",
    )
    parser.add_argument(
        "--sample", type=float, default=0.0, metavar="S",
        help="also print the server's RSS every S seconds (to stderr), to tell warm-up from a leak",
    )
    parser.add_argument(
        "--diagnose", action="store_true",
        help="trace Python allocations in the server (slow) and print what grew during the soak",
    )
    args = parser.parse_args()

    from gradio_client import Client

    from backends.acestep.tiny import save_tiny_pipeline

    with tempfile.TemporaryDirectory() as tmp:
        weights = save_tiny_pipeline(Path(tmp) / "tiny-acestep")
        library_dir = Path(tmp) / "library"
        env = {
            "STUDIO_LIBRARY_DIR": str(library_dir),
            "STUDIO_ACESTEP_WEIGHTS": str(weights), "STUDIO_DEVICE": "cpu", "STUDIO_MULTI_USER": "1",
            "STUDIO_RATE_LIMIT": args.rate_limit, "STUDIO_STATE_DIR": str(Path(tmp) / "state"),
            # Clients say their address the way a Space's proxy does (the last X-Forwarded-For entry).
            "STUDIO_TRUSTED_PROXY_HOPS": "1",
        }
        diagnosis = Path(tmp) / "diagnosis"
        if args.diagnose:
            env["SOAK_DIAGNOSE"] = str(diagnosis)
        with running_studio(env, before_launch=DIAGNOSE) as (url, server):
            warm = Client(url, verbose=False)
            for seed in (1, 2):  # load the model and touch every code path once
                generate(warm, "", seed)
                warm.predict(lyrics=LYRICS, api_name="/format_lyrics")
            rss_start = rss_kb(server.pid)
            if args.diagnose:
                diagnosis.with_suffix(".start").touch()
            tally = Tally()
            deadline = time.monotonic() + args.seconds
            threads = [threading.Thread(target=worker, args=(url, deadline, tally, i)) for i in range(args.clients)]
            hostile = HostileTally()
            if args.hostile:
                bomb = header_bomb(Path(tmp))
                threads += [threading.Thread(target=hostile_worker, args=(url, deadline, hostile, i, bomb))
                            for i in range(args.hostile)]
            for thread in threads:
                thread.start()
            if args.sample > 0:
                sample_rss(
                    server.pid, rss_start, tally, threads, args.sample, diagnosis if args.diagnose else None
                )
            for thread in threads:
                thread.join()
            rss_end = rss_kb(server.pid)
            peak = peak_rss_kb(server.pid)
            if args.diagnose:
                diagnosis.with_suffix(".end").touch()
                report = diagnosis.with_suffix(".txt")
                for _ in range(600):
                    if report.is_file():
                        break
                    time.sleep(0.1)
                print(report.read_text() if report.is_file() else "no diagnosis came back", file=sys.stderr)
        lost = count_lost(library_dir, tally.made)

    for message in sorted(set(tally.messages))[:5]:
        print(f"error: {message}", file=sys.stderr)
    songs = len(tally.made)
    extra = f" throttled={tally.throttled}" if tally.throttled else ""
    print(f"{args.clients} clients for {args.seconds:.0f} s: {songs} songs made", file=sys.stderr)
    growth = 100.0 * (rss_end - rss_start) / rss_start
    if args.hostile:
        for message in sorted(set(hostile.messages))[:5]:
            print(f"hostile error: {message}", file=sys.stderr)
        p95 = sorted(tally.seconds)[int(0.95 * (len(tally.seconds) - 1))] if tally.seconds else float("nan")
        print(f"hostile={hostile.calls} refused={hostile.refused} answered={hostile.answered} "
              f"hostile_errors={hostile.errors} normal_p95={p95:.1f}s peak_rss={peak / 1024:.0f}MiB")
    print(f"requests={tally.requests} errors={tally.errors} lost={lost} rss_growth={growth:.1f}%{extra}")
    return 0 if tally.errors == 0 and lost == 0 and hostile.errors == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
