"""Fixtures and factories for the loader tests: a real embedded store and small file writers."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from graphfraud.storage import open_store



@pytest.fixture
def store(tmp_path: Path) -> Iterator[Any]:
    s = open_store(str(tmp_path / "gf.db"))
    yield s
    s.close()


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Default rejects files land in the current directory: keep them in the test's folder."""
    monkeypatch.chdir(tmp_path)
