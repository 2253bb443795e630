"""The engine's hot modules run compiled when built so, and never as stale compiled code.

``setup.py`` compiles ``graphfraud/graph/{features,engine,activity,flows,components}.py`` with Cython where it
can, and records each source's hash; ``graphfraud/graph/__init__.py`` imports a module from its source when the
source differs from the one compiled, and every one of them from source under ``GRAPHFRAUD_PURE_PYTHON=1``.
That the compiled forms compute the same feature rows as the frozen reference engine is
``tests/test_compact_engine.py`` (it runs on whatever this checkout imports: compiled here).
"""
from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import graphfraud.graph as graph
from graphfraud.graph import COMPILED, _as_source

ROOT = Path(__file__).resolve().parents[1]
BUILT = ROOT / "graphfraud" / "graph" / "_compiled.json"


def digest(name: str) -> str:
    return hashlib.sha256((ROOT / "graphfraud" / "graph" / f"{name}.py").read_bytes()).hexdigest()


def test_a_module_is_imported_from_source_unless_its_source_is_the_one_compiled() -> None:
    fresh = {name: digest(name) for name in COMPILED}
    assert _as_source(fresh, pure=False) == {}
    stale = dict(fresh, engine="0" * 64)
    del stale["flows"]  # not compiled (the compiler failed on it, say)
    assert set(_as_source(stale, pure=False)) == {"graphfraud.graph.engine", "graphfraud.graph.flows"}
    assert _as_source(stale, pure=False)["graphfraud.graph.engine"].endswith("engine.py")
    assert set(_as_source(fresh, pure=True)) == {f"graphfraud.graph.{n}" for n in COMPILED}


def test_the_build_and_the_makefile_name_the_modules_the_package_checks() -> None:
    """One list, three readers: setup.py compiles, the Makefile rebuilds on edits, graph/__init__ checks."""
    tree = ast.parse((ROOT / "setup.py").read_text())
    (listed,) = [ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
                 and any(isinstance(t, ast.Name) and t.id == "COMPILED" for t in node.targets)]
    assert tuple(listed) == COMPILED
    make = re.search(r"^COMPILED_SOURCES := \$\(addprefix graphfraud/graph/,(.*)\)$",
                     (ROOT / "Makefile").read_text(), re.M)
    assert make is not None and make.group(1).split() == [f"{name}.py" for name in COMPILED]


def test_this_checkout_runs_what_its_build_compiled() -> None:
    """Under CI=true the build must have compiled every module (``make venv`` on this machine can)."""
    built = json.loads(BUILT.read_text()) if BUILT.exists() else {}
    if os.environ.get("CI") == "true":
        assert sorted(built) == sorted(COMPILED), "setup.py compiled no or only some engine modules"
    expected = [n for n in COMPILED if built.get(n) == digest(n)]
    if os.environ.get("GRAPHFRAUD_PURE_PYTHON") == "1":
        expected = []
    assert graph.compiled() == expected


def run_python(code: str, path: Path, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k != "GRAPHFRAUD_PURE_PYTHON"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=path, capture_output=True, text=True, timeout=120,
                          env={**clean, "PYTHONPATH": str(path), **env})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


@pytest.mark.skipif(not BUILT.exists(), reason="this checkout was installed without compiled modules")
def test_an_edited_source_runs_as_python_and_the_others_stay_compiled(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "graphfraud", tmp_path / "graphfraud", ignore=shutil.ignore_patterns("__pycache__"))
    show = "import graphfraud.graph as g, graphfraud.graph.engine as e; print(','.join(g.compiled()), e.EDITED)"
    engine = tmp_path / "graphfraud" / "graph" / "engine.py"
    engine.write_text(engine.read_text() + "\nEDITED = True\n")  # not in the compiled form: it must not run
    assert run_python(show, tmp_path) == ",".join(n for n in COMPILED if n != "engine") + " True"
    assert run_python(show, tmp_path, GRAPHFRAUD_PURE_PYTHON="1") == "True"
