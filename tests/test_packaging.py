"""The wheel: it carries every data file the code reads, and it installs and runs from a fresh venv.

Slow (builds a wheel, creates a virtual environment and installs the dependencies from PyPI), so it is
marked ``slow``. The source tree is copied first so the build leaves no ``build/`` or ``*.egg-info`` behind
in the working copy other people are editing.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("graphfraud", "loaders", "webui", "cypher")
# data files the code reads at run time: (folder, glob) in the source tree
DATA_GLOBS = (
    ("graphfraud", "default_rules.toml"),
    ("graphfraud", "py.typed"),
    ("loaders/mappings", "*.toml"),
    ("webui/templates", "**/*"),
    ("webui/static", "**/*"),
    ("cypher", "*.cypher"),
)


def run(cmd: list[str], cwd: Path, timeout: float, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n" \
                                 f"{proc.stderr[-3000:]}"
    return proc


def source_data_files() -> list[str]:
    found = []
    for folder, pattern in DATA_GLOBS:
        base = ROOT / folder
        if base.is_dir():
            found += [p.relative_to(ROOT).as_posix() for p in base.glob(pattern)
                      if p.is_file() and "__pycache__" not in p.parts]
    return sorted(found)


def copy_source(src: Path) -> None:
    # the working copy's compiled modules are left out: the wheel's build compiles its own (setup.py)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist", "*.so", "*.c",
                                    "_compiled.json")
    for pkg in PACKAGES:
        shutil.copytree(ROOT / pkg, src / pkg, ignore=ignore)
    for f in ("pyproject.toml", "setup.py", "README.md", "LICENSE", "MANIFEST.in", "setup.cfg"):
        if (ROOT / f).exists():
            shutil.copy2(ROOT / f, src / f)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("src")
    copy_source(src)
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(src)], cwd=src, timeout=600)
    wheels = list(out.glob("graphfraud-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def fresh_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    env_dir = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=True, system_site_packages=False, clear=True).create(env_dir)
    py = env_dir / "bin" / "python"
    # dependencies come from PyPI (or pip's cache); the package itself only from the wheel
    run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)], cwd=env_dir,
        timeout=900)
    return env_dir


def test_wheel_contains_every_data_file(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = source_data_files()
    assert "graphfraud/default_rules.toml" in expected  # the scan itself works
    assert any(f.startswith("loaders/mappings/") for f in expected)
    missing = [f for f in expected if f not in names]
    assert not missing, f"data files missing from the wheel: {missing}"


def test_wheel_contains_every_package(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for pkg in PACKAGES:
        for py in (ROOT / pkg).rglob("*.py"):
            rel = py.relative_to(ROOT).as_posix()
            if "__pycache__" not in rel:
                assert rel in names, f"{rel} is not in the wheel (is its package listed in pyproject?)"


def test_installed_cli_runs_help_and_a_small_load(fresh_venv: Path, tmp_path: Path) -> None:
    gf = fresh_venv / "bin" / "graphfraud"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRAPHFRAUD_", "PYTHONPATH", "VIRTUAL_ENV"))}
    env["PATH"] = f"{fresh_venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    work = tmp_path / "work"
    work.mkdir()

    help_out = run([str(gf), "--help"], cwd=work, timeout=120, env=env).stdout
    assert "load" in help_out and "info" in help_out

    # the installed copy, not the working tree, is what runs
    where = run([str(fresh_venv / "bin" / "python"), "-c", "import graphfraud, loaders; print(graphfraud.__file__);"
                 "print(loaders.__file__)"], cwd=work, timeout=120, env=env).stdout
    assert str(ROOT) not in where and "site-packages" in where

    # on this machine (a C compiler, Python's headers) the engine's hot modules were compiled into the wheel
    # and run compiled from it; CI=true makes a build that could not compile them fail here
    ran = run([str(fresh_venv / "bin" / "python"), "-c", "import graphfraud.graph as g; print(','.join(g.compiled()))"],
              cwd=work, timeout=120, env=env).stdout.strip()
    if os.environ.get("CI") == "true" or ran:
        from graphfraud.graph import COMPILED
        assert ran == ",".join(COMPILED)

    # (below 100 users synth.generate loops forever: 4 rings of >= 3 never fit in 12 % of the users)
    run([str(gf), "generate", "small.csv", "--users", "150", "--seed", "3", "--days", "10"], cwd=work, timeout=300,
        env=env)
    n_rows = len((work / "small.csv").read_text(encoding="utf-8").splitlines()) - 1
    assert n_rows > 0
    run([str(gf), "load", "small.csv", "--store", "s.db"], cwd=work, timeout=300, env=env)
    info = json.loads(run([str(gf), "info", "--json", "--store", "s.db"], cwd=work, timeout=120, env=env).stdout)
    assert 0 < info["transactions"] <= n_rows
    assert info["entities"]["user"] > 0 and info["links"] > 0

    # a shipped mapping is found from the installed package (read through importlib.resources)
    bad = subprocess.run([str(gf), "load", "small.csv", "--store", "s.db", "--mapping", "no_such_mapping"],
                         cwd=work, capture_output=True, text=True, timeout=120, env=env)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr


def test_a_machine_without_a_c_compiler_builds_the_package_in_python(tmp_path: Path) -> None:
    """setup.py's compiled modules are optional: with no working compiler the wheel builds all the same,
    without them (the modules then run as Python)."""
    src = tmp_path / "src"
    src.mkdir()
    copy_source(src)
    out = tmp_path / "dist"
    env = {**os.environ, "CC": "false", "CXX": "false", "LDSHARED": "false"}
    run([sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(src)], cwd=src, timeout=600, env=env)
    (built,) = list(out.glob("graphfraud-*.whl"))
    names = zipfile.ZipFile(built).namelist()
    assert "graphfraud/graph/engine.py" in names
    assert not [n for n in names if n.endswith(".so")]
    assert json.loads(zipfile.ZipFile(built).read("graphfraud/graph/_compiled.json")) == {}
