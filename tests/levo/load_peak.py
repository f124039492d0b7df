"""Run as a script: load a LeVo 2 LM folder and print the peak host memory the load added (JSON).

A process of its own, so the peak belongs to this load alone: /proc/self/clear_refs ("5") resets the
kernel's high-water mark (VmHWM) to the current resident size just before loading.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def main(model_dir: str, runtime_dir: str, dtype_name: str) -> None:
    import torch

    from backends.levo.config import LmConfig
    from backends.levo.loading import load_lm
    from backends.levo.text import LevoTokenizers

    dtype = getattr(torch, dtype_name)
    cfg = LmConfig.from_yaml(Path(model_dir) / "config.yaml")
    LevoTokenizers(Path(runtime_dir) / cfg.tokenizer_path)  # its one-off set-up belongs to the baseline
    Path("/proc/self/clear_refs").write_text("5")
    before = status_kb("VmRSS")
    lm, _, _ = load_lm(Path(model_dir), Path(runtime_dir), dtype=dtype)
    peak = status_kb("VmHWM")
    weights = sum(t.numel() * t.element_size() for t in lm.state_dict().values())
    dtypes = sorted({str(t.dtype) for t in lm.state_dict().values() if t.is_floating_point()})
    print(json.dumps({"added_bytes": (peak - before) * 1024, "weights_bytes": weights, "dtypes": dtypes}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
