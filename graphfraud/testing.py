"""Factories for tests: small synthetic worlds with planted fraud whose answers are known exactly.

Tests state expectations from the returned truth rather than from a stored blob, so a change to the
generator cannot silently invalidate them.
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from .synth import generate


def make_transactions(n_users: int = 300, seed: int = 0, **kw: Any) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A small, fast synthetic transaction set with known rings and takeovers.

    The same generator as :func:`graphfraud.synth.generate` with test-sized defaults (300 users over
    30 days, about 1,500 rows, well under a second). Small worlds are denser in fraud than real ones:
    at least four rings (one of each shape) are always planted.

    Parameters
    ----------
    n_users : int, default 300
        Number of accounts, at least 50.
    seed : int, default 0
        Random seed; the same seed returns the same frame and truth.
    **kw
        ``start`` and ``days`` (default 30), passed to :func:`graphfraud.synth.generate`.

    Returns
    -------
    transactions : pandas.DataFrame
        Columns :data:`graphfraud.synth.COLUMNS`, in time order.
    truth : dict
        ``rings`` (ring id -> ``shape``, ``users``, ``cards``, ``devices``, ...), ``takeover_users``,
        ``decoys`` and ``params``.

    Examples
    --------
    >>> df, truth = make_transactions(seed=1)
    >>> ring_users = {u for ring in truth["rings"].values() for u in ring["users"]}
    >>> ring_users <= set(df["user_id"])
    True
    """
    kw.setdefault("days", 30)
    return generate(n_users, seed=seed, **kw)


def ring_of_user(truth: dict[str, Any]) -> dict[str, str]:
    """Map each ring member's user id to its ring id.

    Examples
    --------
    >>> _, truth = make_transactions(seed=2)
    >>> sorted(set(ring_of_user(truth).values())) == sorted(truth["rings"])
    True
    """
    return {user: ring_id for ring_id, ring in truth["rings"].items() for user in ring["users"]}
