"""The Cypher the Neo4j backend runs: the text of ``cypher/<name>.cypher``, read once per process.

Its own module so that the Neo4j store and its registry both read queries from here rather than from
each other (the architecture test forbids import cycles). It does not import :mod:`neo4j`.
"""
from __future__ import annotations

from importlib import resources

_QUERIES: dict[str, str] = {}


def query(name: str) -> str:
    """The text of ``cypher/<name>.cypher`` (read once, with :mod:`importlib.resources`)."""
    q = _QUERIES.get(name)
    if q is None:
        q = resources.files("cypher").joinpath(f"{name}.cypher").read_text(encoding="utf-8")
        _QUERIES[name] = q
    return q
