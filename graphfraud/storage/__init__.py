"""Stores: where transactions, labels, decisions, models, rings and cases live durably.

:func:`open_store` picks the backend from the location: a ``neo4j://`` or ``bolt://`` URL selects Neo4j,
anything else is the path of an embedded store file (SQLite in WAL mode; see ``docs/storage.md`` for why).
Both backends implement :class:`~graphfraud.storage.roles.GraphStore`: every role
(:mod:`graphfraud.storage.roles`) at once.
"""
from __future__ import annotations

import os
from typing import Any

from .base import Event, WriteResult
from .roles import GraphStore

__all__ = ["open_store", "GraphStore", "WriteResult", "Event", "is_neo4j_url"]


_NEO4J_SCHEMES = ("bolt://", "neo4j://", "neo4j+s://", "neo4j+ssc://", "bolt+s://", "bolt+ssc://")


def is_neo4j_url(location: str) -> bool:
    return str(location).lower().startswith(_NEO4J_SCHEMES)


def is_store_file(location: str) -> bool:
    """Whether ``location`` (as an open store reports it) is an embedded store's file, so the files that go
    with the store (engine snapshot, ring-detection lock) are kept beside it; else they are kept per location
    in a folder of the user's."""
    loc = str(location)
    return os.path.isabs(loc) and "://" not in loc


def open_store(location: str | None = None, *, create: bool = True, **options: Any) -> GraphStore:
    """Open (creating when needed) the store at ``location``; default from ``GRAPHFRAUD_STORE``. Without
    ``create`` an embedded store must exist already (:class:`~graphfraud.errors.NotFound` otherwise: a mistyped
    path is an error, not a new empty store).

    >>> import tempfile, os
    >>> store = open_store(os.path.join(tempfile.mkdtemp(), "gf.db"))
    >>> store.info()["transactions"]
    0
    >>> store.close()
    """
    from .. import settings

    loc = str(location if location is not None else settings.get("store"))
    scheme, sep, rest = loc.partition("://")
    if is_neo4j_url(loc):
        from .neo4j import Neo4jStore

        try:
            return Neo4jStore(scheme.lower() + sep + rest, **options)
        except ValueError as e:  # the URL's own parse (a port that is not a number, ...)
            from ..errors import ConfigError

            raise ConfigError(f"The store address {loc} is not a usable Neo4j URL: {e}.") from None
    if sep and scheme.isalpha():  # http://, file://: an address this product does not speak, not a file name
        from ..errors import ConfigError

        raise ConfigError(f"The store address {loc} is neither a file path nor a Neo4j URL "
                          f"({', '.join(_NEO4J_SCHEMES[:2])}, ...).")
    if not create and not os.path.exists(loc):
        from ..errors import NotFound

        raise NotFound(f"No store at {loc}: `graphfraud load FILE --store {loc}` makes one (the store is --store, "
                       "or GRAPHFRAUD_STORE).")
    from .embedded import EmbeddedStore

    return EmbeddedStore(loc, **options)
