"""Imports flow one way, and modules stay small: an ``ast`` walk over every package's source.

Rules (CONVENTIONS.md, "Imports flow one way"): ``graphfraud`` never imports flask, ``webui`` or ``loaders``
(``graphfraud/cli.py``, the entry point, may import them inside its commands); ``webui`` and ``loaders``
don't import each other; only ``graphfraud/storage/neo4j.py`` imports ``neo4j``; no module is over 1,000 lines.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("graphfraud", "loaders", "webui")
MAX_LINES = 1000


def sources() -> list[Path]:
    files = sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py") if "__pycache__" not in p.parts)
    assert len(files) > 10  # the walk sees the code
    return files


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[str, int, bool]]:
    """``(top-level package imported, line, inside a function)`` for every import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = module_name(path).split(".")
    is_pkg = path.name == "__init__.py"
    out: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                out.extend((a.name.split(".")[0], child.lineno, in_function) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:  # relative: resolve against this module's package
                    base = here if is_pkg else here[:-1]
                    base = base[:len(base) - (child.level - 1)] if child.level > 1 else base
                    target = (base + (child.module.split(".") if child.module else []))[:1]
                    out.append((target[0] if target else "", child.lineno, in_function))
                else:
                    out.append(((child.module or "").split(".")[0], child.lineno, in_function))
            elif isinstance(child, ast.Call) and getattr(child.func, "id", None) == "__import__" and child.args and \
                    isinstance(child.args[0], ast.Constant):
                out.append((str(child.args[0].value).split(".")[0], child.lineno, in_function))
            elif isinstance(child, ast.Call) and getattr(child.func, "attr", None) == "import_module" and \
                    child.args and isinstance(child.args[0], ast.Constant):
                out.append((str(child.args[0].value).split(".")[0], child.lineno, in_function))
            visit(child, nested)

    visit(tree, False)
    return out


def violations(path: Path) -> list[str]:
    name = rel(path)
    pkg = name.split("/")[0]
    bad = []
    for target, line, in_function in imports(path):
        where = f"{name}:{line} imports {target}"
        if target == "neo4j" and name != "graphfraud/storage/neo4j.py":
            bad.append(where + " (only graphfraud/storage/neo4j.py may)")
        if pkg == "graphfraud":
            if target in ("flask", "werkzeug", "pyvis"):
                bad.append(where + " (the core never imports the web stack)")
            if target in ("webui", "loaders") and not (name == "graphfraud/cli.py" and in_function):
                bad.append(where + " (graphfraud imports neither; cli.py only inside a command)")
        if pkg == "webui" and target == "loaders":
            bad.append(where + " (webui and loaders don't import each other)")
        if pkg == "loaders" and target == "webui":
            bad.append(where + " (webui and loaders don't import each other)")
    return bad


@pytest.mark.parametrize("path", sources(), ids=rel)
def test_imports_flow_one_way(path: Path) -> None:
    assert violations(path) == []


@pytest.mark.parametrize("path", sources(), ids=rel)
def test_module_is_at_most_1000_lines(path: Path) -> None:
    n = len(path.read_text(encoding="utf-8").splitlines())
    assert n <= MAX_LINES, f"{rel(path)} has {n} lines; split it"


@pytest.mark.parametrize(("name", "code", "expected"), [
    ("graphfraud/rules.py", "import flask\n", 1),
    ("graphfraud/rules.py", "from webui.api import x\n", 1),
    ("graphfraud/graph/engine.py", "from ..storage import x\nfrom .. import settings\n", 0),
    ("graphfraud/cli.py", "def f():\n    from loaders import load_file\n", 0),
    ("graphfraud/cli.py", "from loaders import load_file\n", 1),
    ("graphfraud/scoring.py", "def f():\n    import neo4j\n", 1),
    ("graphfraud/storage/neo4j.py", "import neo4j\n", 0),
    ("webui/api.py", "from loaders.bulk import x\n", 1),
    ("loaders/bulk.py", "import importlib\nimportlib.import_module('webui')\n", 1),
    ("webui/api.py", "from graphfraud.storage import open_store\n", 0),
], ids=["core-flask", "core-webui", "relative-in-core", "cli-lazy-ok", "cli-top-level", "neo4j-elsewhere",
        "neo4j-in-backend", "webui-loaders", "loaders-webui-dynamic", "webui-core-ok"])
def test_the_checker_catches_violations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, code: str,
                                        expected: int) -> None:
    """The walk itself can fail: planted imports are reported, allowed ones are not."""
    fake_root = tmp_path
    path = fake_root / name
    path.parent.mkdir(parents=True)
    path.write_text(code, encoding="utf-8")
    monkeypatch.setitem(globals(), "ROOT", fake_root)
    assert len(violations(path)) == expected
