"""What the source must never do, checked over the tree's syntax (not its text, so comments don't count):
run remote code, unpickle untrusted files, or hand anything to a shell."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CODE_ROOTS = ("studio", "backends", "app.py", "scripts", "bench")
SERVING_ROOTS = ("studio", "backends", "app.py")  # what runs inside the app


def _files(roots: tuple[str, ...]) -> Iterator[Path]:
    for root in roots:
        path = REPO / root
        yield from [path] if path.is_file() else sorted(path.rglob("*.py"))


def _trees(roots: tuple[str, ...]) -> Iterator[tuple[Path, ast.AST]]:
    for path in _files(roots):
        yield path.relative_to(REPO), ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _calls(tree: ast.AST) -> Iterator[ast.Call]:
    yield from (node for node in ast.walk(tree) if isinstance(node, ast.Call))


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _is_const(node: ast.AST | None, value: object) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


def _where(path: Path, node: ast.AST) -> str:
    return f"{path}:{getattr(node, 'lineno', '?')}"


def test_the_audit_sees_the_whole_tree() -> None:
    files = list(_files(CODE_ROOTS))
    assert len(files) > 100 and any(f.name == "library.py" for f in files)


def test_no_trust_remote_code_anywhere() -> None:
    bad = []
    for path, tree in _trees(CODE_ROOTS):
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "trust_remote_code" and not _is_const(node.value, False):
                bad.append(_where(path, node.value))
            if isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if isinstance(key, ast.Constant) and key.value == "trust_remote_code" and not _is_const(
                        value, False
                    ):
                        bad.append(_where(path, key))
    # Configs and presets must not ask for it either.
    for path in REPO.rglob("*"):
        if path.suffix in (".json", ".yaml", ".yml", ".toml", ".cfg") and ".venv" not in path.parts and (
            "trust_remote_code" in path.read_text(encoding="utf-8", errors="ignore")
        ):
            bad.append(str(path.relative_to(REPO)))
    assert bad == [], f"trust_remote_code outside `=False`: {bad}"


def test_every_torch_load_is_weights_only() -> None:
    seen, bad = 0, []
    for path, tree in _trees(CODE_ROOTS):
        aliases = {"torch.load"}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module in ("torch", "torch.serialization"):
                aliases |= {a.asname or a.name for a in node.names if a.name == "load"}
        for call in _calls(tree):
            name = _dotted(call.func)
            if name in aliases or name == "torch.serialization.load":
                seen += 1
                flag = next((k.value for k in call.keywords if k.arg == "weights_only"), None)
                if not _is_const(flag, True):
                    bad.append(_where(path, call))
    assert bad == [], f"torch.load without weights_only=True: {bad}"
    assert seen >= 1  # the audit does find the checkpoint loader it guards


def test_nothing_unpickles_or_evaluates() -> None:
    forbidden = {"pickle.load", "pickle.loads", "cPickle.load", "dill.load", "joblib.load", "eval", "exec",
                 "marshal.loads", "yaml.load", "yaml.unsafe_load", "torch.jit.load"}
    bad = []
    for path, tree in _trees(SERVING_ROOTS):
        for call in _calls(tree):
            name = _dotted(call.func)
            if name in forbidden:
                bad.append(f"{_where(path, call)} {name}")
            if name.endswith("np.load") or name == "numpy.load":
                pickle = next((k.value for k in call.keywords if k.arg == "allow_pickle"), None)
                if pickle is not None and not _is_const(pickle, False):
                    bad.append(f"{_where(path, call)} np.load(allow_pickle=...)")
    assert bad == [], bad


SHELLS = {"os.system", "os.popen", "os.spawnl", "os.spawnlp", "os.spawnv", "os.spawnvp", "os.execl", "os.execlp",
          "os.execv", "os.execvp", "os.execvpe", "commands.getoutput", "subprocess.getoutput",
          "subprocess.getstatusoutput", "pty.spawn"}
SUBPROCESS = {"subprocess.run", "subprocess.Popen", "subprocess.call", "subprocess.check_call",
              "subprocess.check_output", "asyncio.create_subprocess_exec", "asyncio.create_subprocess_shell"}
# Names a fixed command line may use besides literals: the interpreter itself.
STATIC_NAMES = {"sys.executable"}


def _static(node: ast.AST) -> bool:
    """A command made only of literals (and the interpreter's path): no request text can be in it."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.List | ast.Tuple):
        return all(_static(e) for e in node.elts)
    return _dotted(node) in STATIC_NAMES


def test_no_shell_and_no_request_text_in_a_command_line() -> None:
    bad = []
    for path, tree in _trees(SERVING_ROOTS):
        for call in _calls(tree):
            name = _dotted(call.func)
            if name in SHELLS or name == "asyncio.create_subprocess_shell":
                bad.append(f"{_where(path, call)} {name}")
            if any(k.arg == "shell" and not _is_const(k.value, False) for k in call.keywords):
                bad.append(f"{_where(path, call)} shell=")
            if name in SUBPROCESS and not (call.args and _static(call.args[0])):
                bad.append(f"{_where(path, call)} {name} with a computed command line")
    assert bad == [], bad
