"""The in-memory identifier graph: link policy, the point-in-time engine (built in ``build``, the only writer
of its state: components, hubs, windows, labels), its features, and whole-graph snapshots (read only).

The engine's hot modules (:data:`COMPILED`) may be installed compiled by Cython as well as in source
(``setup.py``). A compiled module is used only while its source is the one it was compiled from (the build
records each source's SHA-256 in ``_compiled.json``): a source edited since is imported as Python, so no
stale compiled code ever runs. ``GRAPHFRAUD_PURE_PYTHON=1`` imports them all as Python (for profilers that
see only Python frames). :func:`compiled` says which run compiled.
"""
from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

#: The modules setup.py compiles (when it can).
COMPILED = ("features", "engine", "activity", "flows", "components")
_HERE = Path(__file__).parent


def _as_source(built: dict[str, str], pure: bool) -> dict[str, str]:
    """Module name -> source path, for the modules to import from source: all of them when ``pure``, else those
    whose source differs from the one compiled (or that were not compiled)."""
    out = {}
    for name in COMPILED:
        src = _HERE / f"{name}.py"
        try:
            digest = hashlib.sha256(src.read_bytes()).hexdigest()
        except OSError:  # installed without sources: only the compiled form exists
            continue
        if pure or built.get(name) != digest:
            out[f"{__name__}.{name}"] = str(src)
    return out


class _FromSource(importlib.abc.MetaPathFinder):
    """Finds the listed modules in their source files, ahead of a compiled form beside them."""

    def __init__(self, sources: dict[str, str]):
        self.sources = sources

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
                  ) -> importlib.machinery.ModuleSpec | None:
        src = self.sources.get(fullname)
        return importlib.util.spec_from_file_location(fullname, src) if src is not None else None


def _install() -> None:
    try:
        built: Any = json.loads((_HERE / "_compiled.json").read_text())
    except (OSError, ValueError):
        built = {}
    if not isinstance(built, dict):  # not what a build writes: nothing counts as compiled
        built = {}
    sources = _as_source(built, os.environ.get("GRAPHFRAUD_PURE_PYTHON") == "1")
    if sources:
        sys.meta_path.insert(0, _FromSource(sources))


def compiled() -> list[str]:
    """The modules of :data:`COMPILED` that run compiled in this process (imported on the way)."""
    out = []
    for name in COMPILED:
        mod = importlib.import_module(f"{__name__}.{name}")
        if not str(getattr(mod, "__file__", "")).endswith(".py"):
            out.append(name)
    return out


_install()

from .policy import LinkPolicy  # noqa: E402 - after the finder, so every import of the package sees it

__all__ = ["COMPILED", "LinkPolicy", "compiled"]
