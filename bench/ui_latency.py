"""Latency of the instant endpoints under load, and the app's cold start.

    python bench/ui_latency.py [--clients 20] [--seconds 30] [--client gradio|http|direct|all]

Launches the studio locally (no weights are loaded: /format_lyrics and /plan never touch a model),
runs N concurrent clients calling /format_lyrics and /plan for the given time, and prints p50/p95
latency per endpoint and the error count (target: p95 < 100 ms, no errors). Client kinds:

- ``gradio``: ``gradio_client.Client.predict``, as a user of the README would call it. It joins
  gradio's queue (POST /gradio_api/queue/join, a fresh connection per call) and reads the answer
  from the client's event stream.
- ``http``: gradio's documented two-step HTTP API over one keep-alive httpx connection per client:
  POST /gradio_api/call/<name> (an event id), then GET /gradio_api/call/<name>/<id> (the answer
  as server-sent events). Same queue as ``gradio``, without gradio_client's per-call overhead.
- ``direct``: one POST /gradio_api/run/<name> answered with JSON at once, bypassing the queue (the
  route gradio's own page uses for events that are not queued; our instant endpoints are not).

The raw clients send a session hash of their own, as gradio_client and the browser do: without
one gradio builds a fresh session (the config of every component on the page, ~16 ms of CPU for
this app) on every call.

Alongside the client-observed latency, the server reports how long its side took: ``http`` is the
time from request to the last response byte for each POST (for ``gradio``/``http`` that is only
the queue join; the answer comes later on the stream), ``process`` is gradio's own processing of
one call (input checks, our handler, output) wherever the call ran. The CPU seconds the server and
the clients used show who was busy: on a small machine the clients compete with the server for
the same cores, so read client-side latency with that in mind.

Then it times, in fresh interpreters, `import gradio` and the app's import + build, and prints
the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.studio_server import running_studio  # noqa: E402 (needs the repo on sys.path)

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

LYRICS = "[Verse]\nNeon rivers in the night\nWe were running out of light\n\n[Chorus]\nHold on, hold on\n"
CALLS = {
    "/format_lyrics": {"lyrics": LYRICS, "style": "synth pop", "duration": 60},
    "/plan": {"lyrics": LYRICS, "style": "synth pop", "duration": 60},
}
# Positional order of the same arguments for the raw HTTP routes (the rest keep their defaults).
ORDER = {
    "/format_lyrics": ["lyrics", "style", "backend", "duration", "instrumental"],
    "/plan": ["lyrics", "style", "backend", "duration", "instrumental", "takes", "steps", "tier"],
}
DEFAULTS = {"backend": "acestep", "instrumental": False, "takes": 1, "steps": None, "tier": ""}
STATS_PATH = "/__bench_stats"
KINDS = ("gradio", "http", "direct")

# The server measures itself: an ASGI middleware times each POST to the last byte, and gradio's
# call_process_api (used by the queue and the direct route alike) is timed per endpoint. Both are
# added in the bench's server process only; the app is built and launched as in app.py.
TIMING = """
import json, threading, time
from collections import defaultdict
import gradio.route_utils as route_utils
from gradio.routes import App

TIMES = defaultdict(list)
STATS = "__STATS__"

class Timing:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if scope["path"] == STATS:
            body = json.dumps({"times": TIMES, "cpu_s": time.process_time()}).encode()
            TIMES.clear()
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json")]})
            return await send({"type": "http.response.body", "body": body})
        if scope["method"] != "POST":
            return await self.app(scope, receive, send)
        t0 = time.perf_counter()

        async def timed_send(message):
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                TIMES["http " + scope["path"]].append(time.perf_counter() - t0)

        return await self.app(scope, receive, timed_send)

create_app = App.create_app
def timed_create_app(*args, **kwargs):
    app = create_app(*args, **kwargs)
    app.add_middleware(Timing)
    return app
App.create_app = staticmethod(timed_create_app)

call_process_api = route_utils.call_process_api
async def timed_call_process_api(*args, **kwargs):
    t0 = time.perf_counter()
    try:
        return await call_process_api(*args, **kwargs)
    finally:
        TIMES["process /" + str(kwargs["fn"].api_name)].append(time.perf_counter() - t0)
route_utils.call_process_api = timed_call_process_api

""".replace("__STATS__", STATS_PATH)

Results = dict[str, tuple[list[float], list[str]]]


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _positional(name: str) -> list:
    return [CALLS[name].get(arg, DEFAULTS.get(arg)) for arg in ORDER[name]]


def _gradio_caller(url: str) -> Callable[[str], object]:
    from gradio_client import Client

    client = Client(url, verbose=False)
    return lambda name: client.predict(**CALLS[name], api_name=name)


def _http_caller(url: str) -> Callable[[str], object]:
    import httpx

    session, session_hash = httpx.Client(base_url=url, timeout=30), uuid.uuid4().hex

    def call(name: str) -> object:
        body = {"data": _positional(name), "session_hash": session_hash}
        posted = session.post(f"/gradio_api/call{name}", json=body)
        posted.raise_for_status()
        event_id = posted.json()["event_id"]
        event = ""
        with session.stream("GET", f"/gradio_api/call{name}/{event_id}") as answer:
            answer.raise_for_status()
            for line in answer.iter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event in ("complete", "error"):
                    if event == "error":
                        raise RuntimeError(f"server error: {line[6:]}")
                    return json.loads(line[6:])
        raise RuntimeError("the event stream ended without an answer")

    return call


def _direct_caller(url: str) -> Callable[[str], object]:
    import httpx

    session, session_hash = httpx.Client(base_url=url, timeout=30), uuid.uuid4().hex

    def call(name: str) -> object:
        answer = session.post(f"/gradio_api/run{name}", json={"data": _positional(name), "session_hash": session_hash})
        if answer.status_code != 200:
            raise RuntimeError(f"HTTP {answer.status_code}: {answer.text[:150]}")
        return answer.json()["data"]

    return call


CALLERS = {"gradio": _gradio_caller, "http": _http_caller, "direct": _direct_caller}


def load(url: str, kind: str, clients: int, seconds: float, server_pid: int) -> tuple[Results, dict[str, float]]:
    results: Results = {name: ([], []) for name in CALLS}
    lock = threading.Lock()
    ready = threading.Barrier(clients + 1)
    deadline = [0.0]

    def worker(index: int) -> None:
        call = CALLERS[kind](url)  # connecting (and gradio_client's /info fetch) is not timed
        ready.wait()
        names = list(CALLS)
        i = index
        while time.perf_counter() < deadline[0]:
            name = names[i % len(names)]
            i += 1
            t0 = time.perf_counter()
            error = ""
            try:
                call(name)
            except Exception as exc:  # counted and printed, the run goes on
                error = f"{type(exc).__name__}: {exc}"[:200]
            elapsed = time.perf_counter() - t0
            with lock:
                (results[name][1] if error else results[name][0]).append(error or elapsed)  # type: ignore[arg-type]

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    deadline[0] = time.perf_counter() + seconds
    ready.wait()
    server_cpu, client_cpu = _server_cpu(server_pid), time.process_time()
    for t in threads:
        t.join()
    cpu = {"server": _server_cpu(server_pid) - server_cpu, "clients": time.process_time() - client_cpu}
    return results, cpu


def _server_stats(url: str) -> dict:
    import httpx

    return httpx.get(url + STATS_PATH, timeout=30).json()


def _line(label: str, seconds: list[float], extra: str = "") -> str:
    ms = [t * 1000 for t in seconds]
    mean = statistics.fmean(ms) if ms else float("nan")
    return (
        f"  {label:28s} n {len(ms):6d}  p50 {_percentile(ms, 0.5):7.1f} ms  "
        f"p95 {_percentile(ms, 0.95):7.1f} ms  mean {mean:7.1f} ms{extra}"
    )


def report(kind: str, results: Results, server: dict, cpu: dict[str, float], seconds: float) -> int:
    calls = sum(len(t) + len(e) for t, e in results.values())
    print(f"\n[{kind}] {calls} calls in {seconds:.0f} s ({calls / seconds:.0f}/s)")
    print(" seen by the clients:")
    failed = 0
    for name, (times, errors) in results.items():
        failed += len(errors)
        print(_line(name, times, f"  errors {len(errors)}"))
        for message in sorted(set(errors))[:3]:
            print(f"    error: {message}")
    print(" inside the server:")
    for label, times in sorted(server["times"].items()):
        print(_line(label, times))
    per_call = {who: 1000 * s / max(calls, 1) for who, s in cpu.items()}
    print(
        f" CPU: server {cpu['server']:.1f} s ({per_call['server']:.1f} ms/call), "
        f"clients {cpu['clients']:.1f} s ({per_call['clients']:.1f} ms/call), "
        f"{os.cpu_count()} cores for both"
    )
    return failed


def _time_python(code: str, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", code],
            check=True,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        best = min(best, time.perf_counter() - t0)
    return best


def cold_start() -> tuple[float, float]:
    gradio_s = _time_python("import gradio")
    app_s = _time_python("import studio.gpu; from studio.ui import build_app; build_app()")
    return gradio_s, app_s


def _server_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--client", choices=[*KINDS, "all"], default="all")
    parser.add_argument("--no-cold-start", action="store_true", help="skip the cold-start timing")
    args = parser.parse_args()
    kinds = KINDS if args.client == "all" else (args.client,)

    print(
        f"{args.clients} clients x {args.seconds:.0f} s per client kind; the app and the clients share "
        f"this machine's {os.cpu_count()} cores, so client CPU competes with the server's"
    )
    failed = 0
    # The app runs in its own process so the clients do not share its interpreter lock.
    with tempfile.TemporaryDirectory() as tmp:
        env = {"STUDIO_LIBRARY_DIR": str(Path(tmp) / "library")}
        with running_studio(env, prelude=TIMING, stop_s=30) as (url, server):
            for kind in kinds:
                _server_stats(url)  # resets the server's timings
                results, cpu = load(url, kind, args.clients, args.seconds, server.pid)
                failed += report(kind, results, _server_stats(url), cpu, args.seconds)

    if not args.no_cold_start:
        gradio_s, app_s = cold_start()
        print(
            f"\ncold start: import gradio {gradio_s:.2f} s; import + build the studio {app_s:.2f} s "
            f"(ratio {app_s / gradio_s:.2f})"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
