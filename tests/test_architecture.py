"""Imports flow one way, and modules stay small: an ``ast`` walk over every package's source.

Rules (CONVENTIONS.md, "Imports flow one way"): ``graphfraud`` never imports flask, ``webui`` or ``loaders``
(``graphfraud/cli.py``, the entry point, may import them inside its commands); ``webui`` and ``loaders``
don't import each other; only ``graphfraud/storage/neo4j.py`` imports ``neo4j``; no module is over 1,000 lines;
the modules of ``graphfraud``, ``webui`` and ``loaders`` import each other without a cycle (see
:func:`module_graph` for what counts as an import); storage never touches the graph layer or its files.
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


def _type_checking_only(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (getattr(test, "id", None) == "TYPE_CHECKING" or
                                         getattr(test, "attr", None) == "TYPE_CHECKING")


def module_graph() -> dict[str, dict[str, int]]:
    """``{module: {module it imports: line}}`` over the project's own modules, at import time.

    What counts is what runs when the module is imported: top-level imports, and those in class bodies
    or ``if``/``try`` blocks at top level. ``from package import name`` names the submodule when ``name``
    is one, else the package. Not counted: imports inside functions (lazy: they run when the function
    is called, after every module has loaded; allowed, though moving code to the right module is
    better) and imports under ``if TYPE_CHECKING:`` (annotations only; they never run).
    """
    modules = {module_name(p): p for p in sources()}

    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, dict[str, int]] = {}
    for mod, path in modules.items():
        here = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
        out: dict[str, int] = {}

        def visit(node: ast.AST) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                    continue
                if _type_checking_only(child):
                    for stmt in child.orelse:
                        visit(ast.Module(body=[stmt], type_ignores=[]))
                    continue
                targets: list[str | None] = []
                if isinstance(child, ast.Import):
                    targets = [known(a.name) for a in child.names]
                elif isinstance(child, ast.ImportFrom):
                    base = here[:len(here) - (child.level - 1)] if child.level > 1 else here
                    parent = ".".join((base if child.level else []) + (child.module.split(".") if child.module
                                                                        else []))
                    targets = [f"{parent}.{a.name}" if f"{parent}.{a.name}" in modules else known(parent)
                               for a in child.names]
                for t in targets:
                    if t is not None and t != mod:
                        out.setdefault(t, child.lineno)
                visit(child)

        visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        graph[mod] = out
    return graph


def find_cycle(graph: dict[str, dict[str, int]]) -> list[str]:
    """One import cycle as ``[a, b, ..., a]``, or ``[]`` when the graph has none (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def walk(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, {})):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = walk(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return []

    for start in sorted(graph):
        if start not in state:
            found = walk(start)
            if found:
                return found
    return []


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


#: What only the graph layer knows about its files on disk (graphfraud/graph/persist.py): their names and helpers.
SNAPSHOT_FILE_WORDS = (".engine", "snapshot_path", "forget_engine", "save_engine", "load_engine", "persist")


def storage_violations(path: Path) -> list[str]:
    """A storage module importing the graph layer (lazily too) or naming the engine snapshot's file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    bad = []
    for node in ast.walk(tree):
        names: list[str] = []
        words: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - (node.level - 1)] if node.level > 1 else package
            parent = ".".join((base if node.level else []) + (node.module.split(".") if node.module else []))
            names = [parent] + [f"{parent}.{a.name}" for a in node.names]
            words = [a.name for a in node.names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            words = [node.value]
        elif isinstance(node, (ast.Name, ast.Attribute)):
            words = [node.id if isinstance(node, ast.Name) else node.attr]
        if any(n == "graphfraud.graph" or n.startswith("graphfraud.graph.") for n in names):
            bad.append(f"{rel(path)}:{node.lineno} imports the graph layer (storage never does)")
        bad.extend(f"{rel(path)}:{getattr(node, 'lineno', '?')} names {w!r} (the engine snapshot's file is the "
                   f"graph layer's)" for w in words if any(k in w for k in SNAPSHOT_FILE_WORDS))
    return bad


@pytest.mark.parametrize("path", [p for p in sources() if rel(p).startswith("graphfraud/storage/")], ids=rel)
def test_storage_never_touches_the_graph_layer_or_its_files(path: Path) -> None:
    assert storage_violations(path) == []


@pytest.mark.parametrize(("code", "expected"), [
    ("from ..graph.persist import snapshot_path\n", 2),  # the import, and the helper's name
    ("def f():\n    from ..graph import snapshot\n", 1),
    ("def f():\n    from .. import graph\n", 1),
    ("import graphfraud.graph.engine\n", 1),
    ("import os\nos.unlink(location + '.engine')\n", 1),
    ("from .. import settings\nfrom ..schema import Transaction\nfrom ..pagerank import pagerank\n", 0),
], ids=["persist", "lazy-snapshot", "lazy-package", "absolute", "file-name", "allowed"])
def test_the_storage_checker_catches_violations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: str,
                                                expected: int) -> None:
    path = tmp_path / "graphfraud" / "storage" / "embedded.py"
    path.parent.mkdir(parents=True)
    path.write_text(code, encoding="utf-8")
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    assert len(storage_violations(path)) == expected


@pytest.mark.parametrize("path", sources(), ids=rel)
def test_imports_flow_one_way(path: Path) -> None:
    assert violations(path) == []


def test_no_import_cycles() -> None:
    graph = module_graph()
    assert len(graph) > 10 and sum(map(len, graph.values())) > 10  # the walk sees the imports
    cycle = find_cycle(graph)
    assert cycle == [], "import cycle: " + " -> ".join(
        f"{a} (line {graph[a][b]})" for a, b in zip(cycle, cycle[1:])) + f" -> {cycle[-1]}"


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


@pytest.mark.parametrize(("files", "expected"), [
    ({"graphfraud/a.py": "from . import b\n", "graphfraud/b.py": "from .a import x\n"},
     ["graphfraud.a", "graphfraud.b", "graphfraud.a"]),
    ({"graphfraud/a.py": "import graphfraud.b\n", "graphfraud/b.py": "from graphfraud.c import y\n",
      "graphfraud/c.py": "class K:\n    from graphfraud import a\n"},
     ["graphfraud.a", "graphfraud.b", "graphfraud.c", "graphfraud.a"]),
    ({"graphfraud/a.py": "from . import b\n", "graphfraud/b.py": "def f():\n    from .a import x\n"}, []),
    ({"graphfraud/a.py": "from .b import y\n",
      "graphfraud/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import x\n"}, []),
    ({"graphfraud/a.py": "from .b import y\n",
      "graphfraud/b.py": "import typing\nif typing.TYPE_CHECKING:\n    pass\nelse:\n    from .a import x\n"},
     ["graphfraud.a", "graphfraud.b", "graphfraud.a"]),
    ({"graphfraud/__init__.py": "from .a import x\n", "graphfraud/a.py": "from . import b\n",
      "graphfraud/b.py": "x = 1\n"}, []),
], ids=["mutual", "three-through-class-body", "lazy-ok", "type-checking-ok", "type-checking-else", "no-cycle"])
def test_the_cycle_finder_catches_cycles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str],
                                         expected: list[str]) -> None:
    """Planted cycles are found (through ``from . import module`` and class bodies); lazy and type-only are not."""
    for name, code in {**{f"{p}/__init__.py": "" for p in PACKAGES}, **{f"{p}/m{i}.py": "" for p in PACKAGES
                                                                     for i in range(4)}, **files}.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(code, encoding="utf-8")
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    assert find_cycle(module_graph()) == expected
