"""Erasing a user (the right to be forgotten): the store pseudonymises, and the engine snapshot goes.

The store replaces the user's personal data where it keeps it (:mod:`graphfraud.storage.erase`) and records
an ``erase`` event, on which serving processes rebuild their engine. The engine snapshot on disk
(:mod:`graphfraud.graph.persist`) still holds the old identifiers; it belongs to the graph layer, so it is
removed here, not by the store. Callers erase through :func:`erase_user`.
"""
from __future__ import annotations

from typing import Any

from .graph.persist import forget_engine
from .storage.roles import GraphStore

__all__ = ["erase_user"]


def erase_user(store: GraphStore, user_id: str, actor: str) -> dict[str, Any]:
    """Erase ``user_id``'s personal data from ``store`` and remove the engine snapshot that holds it.

    Returns the store's summary (``pseudonym``, ``transactions``, ``user_labels``, ``rings``,
    ``identifiers_pseudonymised``); raises :class:`~graphfraud.errors.NotFound` when the store has no such
    user (the snapshot is then left alone).
    """
    summary = store.erase_user(user_id, actor)
    forget_engine(store)
    return summary
