"""What grows inside the soak's server (``bench/soak.py --diagnose``): traced Python memory, live
objects by type, and at the end the allocation sites that grew most since warm-up.

Runs as a thread in the server. It talks to the bench through files beside ``path``: it keeps a one-line
summary in ``path``, starts counting when ``path.start`` appears (after warm-up) and writes its report
to ``path.txt`` when ``path.end`` appears.
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections import Counter
from pathlib import Path


def _types() -> Counter[str]:
    return Counter(type(o).__name__ for o in gc.get_objects())


def watch(path: str, every_s: float = 5.0) -> None:
    summary = Path(path)
    tracemalloc.start(8)
    while not summary.with_suffix(".start").exists():
        time.sleep(0.2)
    gc.collect()
    before, types_before = tracemalloc.take_snapshot(), _types()
    while not summary.with_suffix(".end").exists():
        current, _ = tracemalloc.get_traced_memory()
        summary.write_text(f"python={current / 2**20:.1f} MiB objects={len(gc.get_objects())}")
        time.sleep(every_s)
    gc.collect()
    after, types_after = tracemalloc.take_snapshot(), _types()
    lines = ["allocation sites that grew most since warm-up:"]
    for stat in after.compare_to(before, "traceback")[:8]:
        lines.append(f"  {stat.size_diff / 2**10:+9.0f} KiB {stat.count_diff:+7d} blocks")
        lines += [f"      {frame}" for frame in stat.traceback.format()[-6:]]
    grown = types_after - types_before
    lines.append("live objects that grew most: " + ", ".join(f"{n} +{c}" for n, c in grown.most_common(12)))
    summary.with_suffix(".txt").write_text("\n".join(lines) + "\n")
