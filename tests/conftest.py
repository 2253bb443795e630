"""Shared fixtures."""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.neo4j_process import Neo4jProcess, free_port

ROOT = Path(__file__).resolve().parents[1]
NEO4J_START_TIMEOUT = 240.0  # seconds; start-up is CPU-bound and the cores are often shared


def _neo4j_unavailable(reason: str) -> None:
    """Under CI a Neo4j that cannot start fails the run; locally the Neo4j tests are skipped."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"Neo4j could not start: {reason}", pytrace=False)
    pytest.skip(f"Neo4j could not start: {reason}")


@pytest.fixture(scope="session")
def neo4j_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Neo4j (``scripts/neo4j-server``) on a free port with a fresh data folder, once per session.

    Yields the bolt URL. Set ``GRAPHFRAUD_TEST_NEO4J_URL`` to use a running server instead (its database
    is cleared by the tests).
    """
    given = os.environ.get("GRAPHFRAUD_TEST_NEO4J_URL")
    if given:
        yield given
        return
    script = ROOT / "scripts" / "neo4j-server"
    if not script.exists() or shutil.which("java") is None:
        _neo4j_unavailable("scripts/neo4j-server or java is missing")
    data = tmp_path_factory.mktemp("neo4j")
    log = open(data / "server.err", "w")
    server = Neo4jProcess(data / "db", free_port(), stderr=log)
    if not server.wait_ready(NEO4J_START_TIMEOUT):
        server.stop(kill=True)
        log.close()
        tail = (data / "server.err").read_text(errors="replace").strip().splitlines()[-1:]
        _neo4j_unavailable(f"no ready line from scripts/neo4j-server ({' '.join(tail) or 'no output'})")
    try:
        yield server.url
    finally:
        server.stop()
        log.close()


def clear_neo4j(url: str) -> None:
    """Empty the database (every node and relationship) and re-create the sequence counter."""
    from graphfraud.storage.neo4j import Neo4jStore

    store = Neo4jStore(url)
    store.clear()


@pytest.fixture
def neo4j_url(neo4j_server: str) -> str:
    """The bolt URL of an empty database (cleared before each test)."""
    clear_neo4j(neo4j_server)
    return neo4j_server


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """An expected failure whose reason names an embedded-store file (``storage/embedded.py``,
    ``storage/registry.py``) describes that backend's bug: it does not apply to the Neo4j parameter."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is None or callspec.params.get("store") != "neo4j":
            continue
        marks = [m for m in item.own_markers if m.name == "xfail"
                 and any(f in str(m.kwargs.get("reason", "")) for f in ("storage/embedded.py", "storage/registry.py"))]
        for m in marks:
            item.own_markers.remove(m)
