"""Totals of one connected component of the identifier graph, kept at its union-find root.

Its own module so that the engine (which merges totals on union) and the snapshot (which rebuilds
components) both use it without importing each other.
"""
from __future__ import annotations

import math


class Comp:
    """Totals of one connected component, kept at its union-find root."""

    __slots__ = ("users", "idents", "fraud_users", "fraud_tx", "tx", "amount", "first_min", "first_max",
                 "last", "oldest")

    def __init__(self) -> None:
        self.users = 0
        self.idents = 0
        self.fraud_users = 0
        self.fraud_tx = 0
        self.tx = 0
        self.amount = 0.0
        self.first_min = math.inf
        self.first_max = -math.inf
        self.last = -math.inf
        self.oldest: tuple[float, str] = (math.inf, "")

    def absorb(self, o: "Comp") -> None:
        self.users += o.users
        self.idents += o.idents
        self.fraud_users += o.fraud_users
        self.fraud_tx += o.fraud_tx
        self.tx += o.tx
        self.amount += o.amount
        self.first_min = min(self.first_min, o.first_min)
        self.first_max = max(self.first_max, o.first_max)
        self.last = max(self.last, o.last)
        self.oldest = min(self.oldest, o.oldest)
