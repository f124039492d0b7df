"""`python -m studio backends [--json]`: what each backend can do and whether it runs here."""

from __future__ import annotations

import argparse
import json

from studio import registry, weights


def describe() -> list[dict]:
    rows = []
    for spec in registry.all_specs():
        caps = spec.capabilities
        state = registry.availability(spec)
        row = caps.model_dump(mode="json", exclude={"cost"})
        row["inputs"] = sorted(row["inputs"])
        row["available"] = state.ok
        row["reason"] = state.reason
        row["options"] = spec.options.model_json_schema().get("properties", {})
        row["weights_status"] = weights.status(spec).as_json()
        row["weights_parts"] = [
            {"what": p.what, "repo": p.repo, "env": p.env, "download_gb": p.download_gb, "size_source": p.size_source}
            for p in spec.weights
        ]
        rows.append(row)
    return rows


def run(args: argparse.Namespace) -> int:
    rows = describe()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        found = row["weights_status"]
        status = found["label"] + (f": {found['detail']}" if found["state"] != "ready" else "")
        print(f"{row['name']:<10} {row['display_name']} — {status}")
        print(
            f"{'':<10} {row['min_duration_s']:g}–{row['max_duration_s']:g} s, {row['sample_rate']} Hz, "
            f"{row['channels']} ch, lyrics: {row['lyric_dialect']}, licence: {row['licence']}"
        )
        if row["licence_note"]:
            print(f"{'':<10} note: {row['licence_note']}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("backends", help="list backends, their capabilities and availability")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.set_defaults(handler=run)
