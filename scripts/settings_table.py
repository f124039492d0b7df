"""Write README's settings table from studio/settings.py, the one place the settings are declared.

    python scripts/settings_table.py          # rewrite the table in README.md
    python scripts/settings_table.py --check  # exit 1 when README.md and studio/settings.py disagree
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from studio import settings  # noqa: E402 (the checkout is on sys.path only now)

README = REPO / "README.md"
START = "<!-- settings table: written by scripts/settings_table.py from studio/settings.py -->"
END = "<!-- end of settings table -->"


def table() -> str:
    rows = ["| setting | value | default | what it sets |", "|---|---|---|---|"]
    group = ""
    for setting in settings.TABLE.values():
        if setting.group != group:
            group = setting.group
            rows.append(f"| **{group}** | | | |")
        rows.append(f"| `{setting.name}` | {setting.kind} | {setting.default_text} | {setting.doc} |")
    return "\n".join(rows)


def with_table(readme: str) -> str:
    """``readme`` with the text between the markers replaced by the current table."""
    head, start, rest = readme.partition(START)
    _, end, tail = rest.partition(END)
    if not start or not end:
        raise SystemExit(f"README.md lacks the markers {START!r} ... {END!r}; put them where the table goes.")
    return f"{head}{START}\n{table()}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only say whether README.md is current")
    args = parser.parse_args(argv)
    current = README.read_text(encoding="utf-8")
    wanted = with_table(current)
    if args.check:
        if current != wanted:
            print("README.md's settings table is out of date; run python scripts/settings_table.py", file=sys.stderr)
            return 1
        return 0
    README.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
