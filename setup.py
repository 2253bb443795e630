"""The engine's hot modules compiled with Cython where a C compiler is at hand (pure Python otherwise).

The compiled modules are the same source files: ``graphfraud/graph/{features,engine,activity,flows,components}.py``
compiled as they are (no Cython-only syntax, type annotations not used as C types), so each line means what it
means in Python; on the 591,259-row mules world the feature rows took 0.73-0.81x the time and the whole replay
0.76-0.83x (docs/features.md). A build that cannot compile them (no compiler, no Python headers) installs the package without them.
The build records each compiled source's SHA-256 in ``graphfraud/graph/_compiled.json``; a source edited
since is imported as Python, not as its stale compiled form (``graphfraud/graph/__init__.py``).
"""
from __future__ import annotations

import hashlib
import json
import os

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

COMPILED = ("features", "engine", "activity", "flows", "components")


class BuildAndRecord(build_ext):
    """Build the optional extensions, then record which sources were compiled (their hashes)."""

    def run(self) -> None:
        if not self.extensions:
            super().run()
            return
        # what an earlier build left in place goes first: a module this build fails to compile must not keep
        # an older compiled form recorded as the compiled form of its current source
        record = os.path.join(os.path.dirname(self.get_ext_fullpath(self.extensions[0].name)), "_compiled.json")
        for path in [record] + [self.get_ext_fullpath(ext.name) for ext in self.extensions]:
            if os.path.exists(path):
                os.remove(path)
        super().run()
        built = {}
        for ext in self.extensions:
            name = ext.name.rsplit(".", 1)[1]
            if os.path.exists(self.get_ext_fullpath(ext.name)):
                with open(os.path.join("graphfraud", "graph", f"{name}.py"), "rb") as fh:
                    built[name] = hashlib.sha256(fh.read()).hexdigest()
        with open(record, "w") as fh:
            json.dump(built, fh, indent=1, sort_keys=True)


def extensions() -> list[Extension]:
    if os.environ.get("GRAPHFRAUD_PURE_PYTHON") == "1":
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        return []
    sources = [f"graphfraud/graph/{name}.py" for name in COMPILED]
    exts = [Extension(f"graphfraud.graph.{name}", [src], optional=True)
            for name, src in zip(COMPILED, sources)]
    built = cythonize(exts, language_level=3, quiet=True,
                      compiler_directives={"annotation_typing": False, "binding": True})
    for ext in built:  # cythonize makes new Extensions without the flag; a module that fails to compile runs as Python
        ext.optional = True
    return built


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildAndRecord})
