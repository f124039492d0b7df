"""The settings table (studio/settings.py) is the one place a STUDIO_* setting is read, and README's
settings table is written from it."""

from __future__ import annotations

import ast
import importlib.util
import re
import tokenize
from pathlib import Path

import pytest

from studio import settings
from studio.budget.tiers import DEFAULTS, HARD_CAP_S, Tier, tier_limits
from studio.ground.errors import StudioError

REPO = Path(__file__).resolve().parents[1]
# Where the studio's own code lives; tests set variables (monkeypatch.setenv), they do not read settings.
CODE = [REPO / "studio", REPO / "backends", REPO / "scripts", REPO / "bench", REPO / "app.py"]
SETTINGS_FILE = REPO / "studio" / "settings.py"
# Not after "{": f"{STUDIO_NAME}" in a message is a Python name, not a setting.
NAME = re.compile(r"(?<![A-Za-z0-9_{])STUDIO_[A-Z0-9_]*[A-Z0-9]")
_READS = {"get", "getenv"}
FSTRING_MIDDLE = getattr(tokenize, "FSTRING_MIDDLE", tokenize.STRING)  # Python 3.12 splits f-strings


def _python_files() -> list[Path]:
    files: list[Path] = []
    for place in CODE:
        files += [place] if place.suffix == ".py" else sorted(place.rglob("*.py"))
    return [f for f in files if f != SETTINGS_FILE and ".venv" not in f.parts]


def _studio_key(node: ast.AST) -> str | None:
    """The STUDIO_ name a literal key spells, if it spells one."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("STUDIO_"):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values:
        head = node.values[0]
        if isinstance(head, ast.Constant) and str(head.value).startswith("STUDIO_"):
            return str(head.value) + "..."
    return None


def _is_environ(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
        isinstance(node, ast.Name) and node.id in ("environ", "env")
    )


def _reads(path: Path, root: Path = REPO) -> list[str]:
    """Where ``path`` reads a studio setting from the environment itself."""
    found = []
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        where = f"{path.relative_to(root)}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in _READS and (key := _studio_key(node.args[0])):
                found.append(f"{where} reads {key}")
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and _is_environ(node.value):
            if key := _studio_key(node.slice):
                found.append(f"{where} reads {key}")
        elif (
            isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str) and NAME.fullmatch(node.value.value)
        ):
            # A name for a setting spelled out here instead of taken from the table (X_ENV = "STUDIO_X").
            found.append(f"{where} spells the setting name {node.value.value}")
    return found


def test_nothing_outside_the_settings_module_reads_a_studio_setting() -> None:
    found = [read for path in _python_files() for read in _reads(path)]
    assert not found, "read these through studio.settings:\n" + "\n".join(found)


def test_the_scan_sees_the_reads_it_forbids(tmp_path) -> None:
    # The scan above passing means nothing unless it can fail: each way of reading a setting directly
    # that the tree used before the table must be caught.
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import os\n"
        'a = os.environ.get("STUDIO_DEVICE")\n'
        'b = os.getenv("STUDIO_TIER")\n'
        'c = os.environ["STUDIO_LIBRARY_DIR"]\n'
        'd = env.get(f"STUDIO_ZEROGPU_CAP_{suffix}")\n'
        'E_ENV = "STUDIO_QUEUE_SIZE"\n'
        'os.environ["STUDIO_MULTI_USER"] = "1"\n',  # setting a variable (bench/soak.py) is not reading it
        encoding="utf-8",
    )
    found = _reads(sample, root=tmp_path)
    assert sorted(int(f.split(":")[1].split(" ")[0]) for f in found) == [2, 3, 4, 5, 6], found


def _prose(path: Path) -> str:
    """The strings and comments of a Python file (its identifiers may say STUDIO_NAME), or a text file."""
    if path.suffix != ".py":
        return path.read_text(encoding="utf-8")
    with path.open("rb") as handle:
        tokens = tokenize.tokenize(handle.readline)
        return "\n".join(t.string for t in tokens if t.type in (tokenize.STRING, tokenize.COMMENT, FSTRING_MIDDLE))


def test_every_setting_named_anywhere_is_declared() -> None:
    # A variable the docs or messages name but the table does not declare is one nobody reads. This
    # file names undeclared ones on purpose.
    paths = [*_python_files(), REPO / "README.md", *sorted((REPO / "tests").rglob("*.py"))]
    unknown = set()
    for path in paths:
        if path == Path(__file__).resolve():
            continue
        text = _prose(path)
        for match in NAME.finditer(text):
            # README's "STUDIO_ZEROGPU_CAP_<TIER>" stands for the declared per-tier settings.
            family = text[match.end():].startswith("_<") and any(n.startswith(match[0]) for n in settings.TABLE)
            if match[0] not in settings.TABLE and not family:
                unknown.add(f"{path.relative_to(REPO)}: {match[0]}")
    assert not unknown, sorted(unknown)


def _script():
    spec = importlib.util.spec_from_file_location("settings_table", REPO / "scripts" / "settings_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_table_is_the_one_the_settings_module_writes() -> None:
    script = _script()
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert script.with_table(readme) == readme, "run: python scripts/settings_table.py"
    for setting in settings.TABLE.values():
        assert f"| `{setting.name}` |" in readme


def test_the_readme_check_fails_on_a_stale_table(tmp_path, monkeypatch) -> None:
    script = _script()
    stale = (REPO / "README.md").read_text(encoding="utf-8").replace("| `STUDIO_MCP` |", "| `STUDIO_MCP_OLD` |")
    monkeypatch.setattr(script, "README", tmp_path / "README.md")
    script.README.write_text(stale, encoding="utf-8")
    assert script.main(["--check"]) == 1
    assert script.main([]) == 0 and script.main(["--check"]) == 0


def test_a_setting_is_read_when_asked_not_when_imported(monkeypatch) -> None:
    monkeypatch.delenv("STUDIO_SESSION_CAPACITY", raising=False)
    assert settings.SESSION_CAPACITY.get() == 1000
    monkeypatch.setenv("STUDIO_SESSION_CAPACITY", "12")
    assert settings.SESSION_CAPACITY.get() == 12
    assert settings.SESSION_CAPACITY.get({"STUDIO_SESSION_CAPACITY": "7"}) == 7


@pytest.mark.parametrize(
    ("setting", "bad", "sentence"),
    [
        (settings.MCP, "maybe", r"STUDIO_MCP must be on or off \(1/0, true/false, yes/no\), got 'maybe'"),
        (settings.GPU_CONCURRENCY, "four", r"STUDIO_GPU_CONCURRENCY must be a whole number of generations >= 1"),
        (settings.DECODE_SLOTS, "0", r"STUDIO_DECODE_SLOTS must be a whole number of uploads >= 1"),
        (settings.TIER, "gold", r"STUDIO_TIER must be one of anonymous, free, pro, local, got 'gold'"),
        (settings.ZEROGPU_SLICE_FACTOR, "-1", r"STUDIO_ZEROGPU_SLICE_FACTOR must be a number like 1\.5"),
        (settings.QUOTA_TOTAL, "lots", r"STUDIO_QUOTA_TOTAL must look like '1gb' or '500mb' \(or 'off'\)"),
        (settings.MAX_LORA_RANK, "-3", r"STUDIO_MAX_LORA_RANK must be a whole number of ranks >= 1"),
    ],
)
def test_a_bad_value_gets_a_sentence_naming_the_setting(setting, bad, sentence) -> None:
    with pytest.raises(StudioError, match=sentence):
        setting.get({setting.name: bad})


def test_blank_is_unset_except_where_blank_means_off() -> None:
    assert settings.QUEUE_SIZE.get({"STUDIO_QUEUE_SIZE": " "}) is None  # the caller's default applies
    assert settings.RATE_LIMIT.is_set({"STUDIO_RATE_LIMIT": ""})  # explicitly off, not the Space default
    assert settings.RATE_LIMIT.get({"STUDIO_RATE_LIMIT": ""}) is None
    assert tier_limits("free", env={"STUDIO_ZEROGPU_CAP_FREE": ""}).per_call_s is None


def test_an_undeclared_studio_name_is_a_mistake_but_a_plugin_may_have_its_own() -> None:
    with pytest.raises(StudioError, match="STUDIO_NOPE is not a studio setting"):
        settings.lookup("STUDIO_NOPE")
    assert settings.lookup("TEST_WEIGHTS").get({"TEST_WEIGHTS": " org/w "}) == "org/w"


def test_the_tier_setting_and_the_tier_table_agree() -> None:
    for tier in Tier:
        assert settings.TIER.get({"STUDIO_TIER": tier.value}) == tier.value
    for name, cap in settings.ZEROGPU_CAP.items():
        assert DEFAULTS[Tier(name)].per_call_s == cap.default
        assert DEFAULTS[Tier(name)].daily_s == settings.ZEROGPU_QUOTA[name].default
    assert HARD_CAP_S == settings.ZEROGPU_HARD_CAP.default == 300


def test_shared_studio_follows_the_space_unless_told() -> None:
    assert settings.shared_studio({"SPACE_ID": "me/studio"})
    assert not settings.shared_studio({"SPACE_ID": "me/studio", "STUDIO_MULTI_USER": "off"})
    assert settings.shared_studio({"STUDIO_MULTI_USER": "1"})
    assert not settings.shared_studio({})


def test_the_documented_context_defaults_are_the_ones_the_callers_use() -> None:
    # These defaults depend on where the studio runs, so their callers hold them; README's table
    # states them from the declarations, which must not drift from the code.
    from studio import quotas, ratelimit
    from studio.ui import app

    assert settings.QUEUE_SIZE.default_doc == (
        f"{app.DEFAULT_ZEROGPU_QUEUE_SIZE} on ZeroGPU, {app.DEFAULT_QUEUE_SIZE} elsewhere"
    )
    assert settings.RATE_LIMIT.default_doc.startswith(f"`{ratelimit.SPACE_DEFAULT}` on a shared studio")
    assert settings.QUEUED_PER_VISITOR.default_doc.startswith(f"{ratelimit.SHARED_QUEUED_PER_VISITOR} on a shared")
    assert settings.QUEUED_PER_ADDRESS.default_doc.startswith(f"{ratelimit.SHARED_QUEUED_PER_ADDRESS} on a shared")
    assert settings.QUOTA_PER_VISITOR.default_doc.startswith(f"`{quotas.SHARED_PER_VISITOR}` on a shared")
    assert settings.QUOTA_TOTAL.default_doc.startswith(f"`{quotas.SHARED_TOTAL}` on a shared")
    with_env = {"SPACES_ZERO_GPU": "1"}
    assert app.queue_size(with_env) == app.DEFAULT_ZEROGPU_QUEUE_SIZE and app.queue_size({}) == app.DEFAULT_QUEUE_SIZE
