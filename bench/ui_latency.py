"""Latency of the instant endpoints under load, and the app's cold start.

    python bench/ui_latency.py [--clients 20] [--seconds 30]

Launches the studio locally (no weights are loaded: /format_lyrics and /plan never touch a model),
runs N concurrent gradio_client clients calling /format_lyrics and /plan for the given time, and
prints p50/p95 latency per endpoint and the error count (target: p95 < 100 ms, no errors). Then it
times, in fresh interpreters, `import gradio` and the app's import + build, and prints the ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

LYRICS = "[Verse]\nNeon rivers in the night\nWe were running out of light\n\n[Chorus]\nHold on, hold on\n"
CALLS = {
    "/format_lyrics": {"lyrics": LYRICS, "style": "synth pop", "duration": 60},
    "/plan": {"lyrics": LYRICS, "style": "synth pop", "duration": 60},
}


SERVER = """
import studio.gpu
from studio.ui import build_app, launch_options
demo = build_app()
options = launch_options(demo)
options.update(quiet=True)
demo.queue()
import threading, time
def announce():
    while not getattr(demo, "local_url", None):
        time.sleep(0.05)
    print("URL", demo.local_url, flush=True)
threading.Thread(target=announce, daemon=True).start()
demo.launch(**options)
"""


def _read_url(server: subprocess.Popen) -> str:
    assert server.stdout is not None
    for line in server.stdout:
        if line.startswith("URL "):
            return line.split()[1]
    raise RuntimeError("the studio exited before it served a page")


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def load(url: str, clients: int, seconds: float) -> dict[str, tuple[list[float], list[str]]]:
    from gradio_client import Client

    results: dict[str, tuple[list[float], list[str]]] = {name: ([], []) for name in CALLS}
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker(index: int) -> None:
        client = Client(url, verbose=False)
        names = list(CALLS)
        i = index
        while time.perf_counter() < deadline:
            name = names[i % len(names)]
            i += 1
            t0 = time.perf_counter()
            error = ""
            try:
                client.predict(**CALLS[name], api_name=name)
            except Exception as exc:  # counted and printed, the run goes on
                error = f"{type(exc).__name__}: {exc}"[:200]
            elapsed = time.perf_counter() - t0
            with lock:
                (results[name][1] if error else results[name][0]).append(error or elapsed)  # type: ignore[arg-type]

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


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


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()

    # The app runs in its own process so the clients do not share its interpreter lock.
    with tempfile.TemporaryDirectory() as tmp:
        server = subprocess.Popen(
            [sys.executable, "-c", SERVER], cwd=REPO, stdout=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONPATH": str(REPO), "STUDIO_LIBRARY_DIR": str(Path(tmp) / "library")},
        )  # fmt: skip
        try:
            url = _read_url(server)
            results = load(url, args.clients, args.seconds)
        finally:
            server.terminate()
            server.wait(timeout=30)

    print(f"{args.clients} clients for {args.seconds:.0f} s")
    failed = 0
    for name, (times, errors) in results.items():
        ms = [t * 1000 for t in times]
        failed += len(errors)
        print(
            f"{name:15s} calls {len(ms):6d}  p50 {_percentile(ms, 0.5):7.1f} ms  "
            f"p95 {_percentile(ms, 0.95):7.1f} ms"
            f"  mean {statistics.fmean(ms) if ms else float('nan'):7.1f} ms  errors {len(errors)}"
        )
        for message in sorted(set(errors))[:3]:
            print(f"    error: {message}")
    gradio_s, app_s = cold_start()
    print(
        f"cold start: import gradio {gradio_s:.2f} s; import + build the studio {app_s:.2f} s "
        f"(ratio {app_s / gradio_s:.2f})"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
