"""`python -m studio batch REQUESTS.jsonl --out DIR`: many songs, one manifest.

Each line is a JSON object with the fields of `generate` (a SongRequest) plus an optional `id`
and `formats`. A bad line is reported in the manifest and the rest go on; a rerun skips what is
already done. Under `accelerate launch -m studio batch ...` every process takes a disjoint share
(line i goes to process i mod N) on its own device, writes `manifest.part-<rank>.jsonl`, and the
main process merges the parts into `manifest.jsonl` once all are finished.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.errors import validate
from studio.ground.errors import StudioError
from studio.song import SongRequest

MANIFEST = "manifest.jsonl"
EXTRA_FIELDS = ("id", "formats")
# An id names the request's folder under --out: a plain name, never a path ("../x", "/etc", "a/b").
ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")


@dataclass(frozen=True)
class Line:
    number: int
    text: str

    @property
    def id(self) -> str:
        """The line's own `id`, else one stable across reruns: the same request text keeps the same
        folder and manifest entry."""
        try:
            data = json.loads(self.text)
        except json.JSONDecodeError:
            data = None
        if isinstance(data, dict) and "id" in data:
            return str(data["id"])
        return "req-" + hashlib.sha1(self.text.strip().encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Workers:
    rank: int
    count: int
    device: str | None
    barrier: Any = None

    def wait(self) -> None:
        if self.barrier is not None:
            self.barrier()


def workers() -> Workers:
    """This process's share when started by `accelerate launch` / torchrun (which set RANK,
    WORLD_SIZE and LOCAL_RANK), else the whole file. A gloo process group gives the barrier on
    CPUs and GPUs alike; each process renders on its own GPU when there are several."""
    import os

    count = int(os.environ.get("WORLD_SIZE", "1"))
    if count <= 1:
        return Workers(0, 1, None)
    from datetime import timedelta

    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        # A batch can run for hours before the last process reaches the merge.
        dist.init_process_group(backend="gloo", timeout=timedelta(hours=24))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = f"cuda:{local % torch.cuda.device_count()}" if torch.cuda.is_available() else "cpu"
    return Workers(dist.get_rank(), dist.get_world_size(), device, dist.barrier)


def read_lines(path: Path) -> list[Line]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise StudioError(f"cannot read {path} ({getattr(exc, 'strerror', None) or 'not UTF-8'}).") from None
    return [Line(i + 1, t) for i, t in enumerate(text.splitlines()) if t.strip() and not t.lstrip().startswith("#")]


def done_ids(out: Path) -> set[str]:
    """Requests whose files are all still there, from the merged manifest and any parts."""
    done: set[str] = set()
    for manifest in [out / MANIFEST, *out.glob("manifest.part-*.jsonl")]:
        if not manifest.is_file():
            continue
        for row in manifest.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(row)
            except json.JSONDecodeError:
                continue
            if entry.get("status") == "ok" and all(Path(p).is_file() for p in entry.get("paths", [])):
                done.add(entry["id"])
    return done


def id_problems(lines: list[Line]) -> dict[int, str]:
    """Line number -> why its `id` cannot name a folder: not a plain name, or another line's id too
    (the second would overwrite the first's songs and manifest entry)."""
    problems: dict[int, str] = {}
    first: dict[str, int] = {}
    for line in lines:
        name = line.id
        if not ID_RE.fullmatch(name) or set(name) == {"."}:
            problems[line.number] = (
                f"line {line.number}: `id` {name[:80]!r} must be a plain name (letters, digits, '.', '_', '-', "
                "at most 80, no folders); it names the request's folder."
            )
        elif name in first:
            problems[line.number] = (
                f"line {line.number}: `id` {name!r} is already line {first[name]}'s; give each line its own id."
            )
        else:
            first[name] = line.number
    return problems


def run_line(studio: Any, line: Line, out: Path, args: argparse.Namespace, device: Any, problem: str = "") -> dict:
    entry: dict[str, Any] = {"line": line.number, "id": line.id[:80]}
    started = time.perf_counter()
    try:
        if problem:
            raise StudioError(problem)
        try:
            data = json.loads(line.text)
        except json.JSONDecodeError as exc:
            raise StudioError(f"line {line.number} is not JSON ({exc.msg} at column {exc.colno}).") from None
        if not isinstance(data, dict):
            raise StudioError(f"line {line.number} must be a JSON object with the fields of `generate`.")
        data.pop("id", None)
        formats = data.pop("formats", [])
        request = validate(SongRequest, data)
        result = studio.generate(request, out=out / entry["id"], weights=args.weights, device=device,
                                 formats=formats)
        entry.update(status="ok", paths=[str(p) for t in result.takes for p in t.files.values()],
                     seeds=result.seeds, backend=result.backend, best_first=result.best_first,
                     checks=[t.checks.model_dump(mode="json") if t.checks else None for t in result.takes])
    except StudioError as exc:
        entry.update(status="error", error=str(exc))
    entry["seconds"] = round(time.perf_counter() - started, 3)
    return entry


def merge(out: Path, parts: int) -> Path:
    """One manifest: the latest entry per request (id and line: a duplicate id's refusal must not
    replace the first line's entry), in line order."""
    latest: dict[tuple[str, int], dict] = {}
    sources = [out / MANIFEST] + [out / f"manifest.part-{r}.jsonl" for r in range(parts)]
    for source in sources:
        if source.is_file():
            for row in source.read_text(encoding="utf-8").splitlines():
                if row.strip():
                    entry = json.loads(row)
                    latest[(entry["id"], entry["line"])] = entry
    merged = out / MANIFEST
    tmp = merged.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(e) + "\n" for e in sorted(latest.values(), key=lambda e: e["line"])),
                   encoding="utf-8")
    tmp.replace(merged)
    for r in range(parts):
        (out / f"manifest.part-{r}.jsonl").unlink(missing_ok=True)
    return merged


def run(args: argparse.Namespace) -> int:
    from studio import devices
    from studio.rendering import Studio

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    team = workers()
    lines = read_lines(Path(args.requests))
    skip = done_ids(out)
    problems = id_problems(lines)
    device = devices.detect(team.device) if team.device else None
    studio = Studio()
    part = out / f"manifest.part-{team.rank}.jsonl"
    failures = 0
    with part.open("a", encoding="utf-8") as manifest:
        for line in lines[team.rank :: team.count]:
            if line.id in skip and line.number not in problems:
                continue
            entry = run_line(studio, line, out, args, device, problems.get(line.number, ""))
            entry["rank"] = team.rank
            failures += entry["status"] != "ok"
            manifest.write(json.dumps(entry) + "\n")
            manifest.flush()
            status = entry["status"] if entry["status"] == "ok" else f"error: {entry['error']}"
            print(f"[{team.rank}] line {line.number} ({entry['id']}): {status}", file=sys.stderr, flush=True)
    team.wait()
    if team.rank == 0:
        merged = merge(out, team.count)
        rows = [json.loads(r) for r in merged.read_text(encoding="utf-8").splitlines()]
        bad = sum(r["status"] != "ok" for r in rows)
        print(f"{len(rows) - bad} done, {bad} failed; manifest {merged}")
        return 1 if bad else 0
    return 1 if failures else 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("batch", help="generate every request of a JSONL file (resumable, multi-GPU)")
    p.add_argument("requests", help="JSONL file: one generate request per line")
    p.add_argument("--out", required=True, help="output folder (one sub-folder per request + manifest.jsonl)")
    p.add_argument("--weights", help="weights for the backend(s) used (Hub id or folder)")
    p.set_defaults(handler=run)
