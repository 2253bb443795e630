"""The engine's components: totals kept at each union-find root (:class:`Comp`), and the re-split of
components glued by identifiers that became hubs (:func:`split`, :func:`rebuild`).

Only :class:`~graphfraud.graph.engine.GraphEngine` calls :func:`split` and :func:`rebuild` (before each
snapshot, :meth:`~graphfraud.graph.engine.GraphEngine.take_snapshot`): they are its union-find's upkeep,
kept here to hold the engine module small. Everything else reads components through the engine.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .engine import GraphEngine


#: How fast recent activity fades (:func:`decay`): e-folding time, in ms. A strike together by linked accounts
#: takes hours, so what happened six hours ago counts about a third as much as what happens now.
ACTIVITY_TAU_MS = 6 * 3_600_000


def decay(dt: float) -> float:
    """The weight now of activity ``dt`` ms ago (1 for now or a time not yet past: nothing is made up).

    >>> decay(0), round(decay(ACTIVITY_TAU_MS), 3), decay(-5)
    (1.0, 0.368, 1.0)
    """
    return math.exp(-dt / ACTIVITY_TAU_MS) if dt > 0 else 1.0


def fold(tx: float, users: float, last: float, add_tx: float, add_users: float, t: float) -> tuple[float, float]:
    """Recent totals ``(tx, users)`` kept as of ``last``, plus ``(add_tx, add_users)`` as of ``t``: the sum as
    of the later of the two times (what is earlier has faded by then). The one way every running total of
    recent activity grows: a user's, a component's, a device's accounts'.

    >>> fold(1.0, 1.0, 0, 1.0, 0.5, ACTIVITY_TAU_MS) == (decay(ACTIVITY_TAU_MS) + 1.0, decay(ACTIVITY_TAU_MS) + 0.5)
    True
    """
    if t >= last:
        w = decay(t - last)
        return tx * w + add_tx, users * w + add_users
    w = decay(last - t)
    return tx + add_tx * w, users + add_users * w


class Comp:
    """Totals of one connected component, kept at its union-find root.

    ``recent_tx`` and ``recent_users`` are the members' recent activity as of ``last`` (each transaction
    fading by :func:`decay`; a transaction counts toward ``recent_users`` by how long its user had been idle
    before it, so a user's run of purchases counts about once): :attr:`GraphEngine.u_recent_tx` and ``u_recent_users`` per user.
    """

    __slots__ = ("users", "idents", "fraud_users", "fraud_tx", "tx", "amount", "first_min", "first_max",
                 "last", "oldest", "recent_tx", "recent_users")

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
        self.recent_tx = 0.0
        self.recent_users = 0.0

    def absorb(self, o: "Comp") -> None:
        self.users += o.users
        self.idents += o.idents
        self.fraud_users += o.fraud_users
        self.fraud_tx += o.fraud_tx
        self.tx += o.tx
        self.amount += o.amount
        self.first_min = min(self.first_min, o.first_min)
        self.first_max = max(self.first_max, o.first_max)
        self.recent_tx, self.recent_users = fold(self.recent_tx, self.recent_users, self.last, o.recent_tx,
                                                 o.recent_users, o.last)
        self.last = max(self.last, o.last)
        self.oldest = min(self.oldest, o.oldest)

    def add_recent(self, ts: float, users: float) -> None:
        """One transaction at ``ts`` (``users``: how much it counts toward recent users)."""
        self.recent_tx, self.recent_users = fold(self.recent_tx, self.recent_users, self.last, 1.0, users, ts)
        if ts > self.last:
            self.last = ts

    def recent_at(self, ts: float) -> tuple[float, float]:
        """``(recent_tx, recent_users)`` as of ``ts``."""
        if not self.recent_tx:
            return 0.0, 0.0
        w = decay(ts - self.last)
        return self.recent_tx * w, self.recent_users * w


def edges(engine: "GraphEngine") -> tuple[Any, Any]:
    """User node -> identifier node pairs over linking, non-hub identifiers."""
    a = np.frombuffer(engine.edge_u, dtype=np.int32) if len(engine.edge_u) else np.zeros(0, np.int32)
    b = np.frombuffer(engine.edge_e, dtype=np.int32) if len(engine.edge_e) else np.zeros(0, np.int32)
    hub = np.frombuffer(engine.node_hub, dtype=np.int8).astype(bool) if len(engine.node_hub) else np.zeros(0, bool)
    if len(b):
        keep = ~hub[b]
        a, b = a[keep], b[keep]
    return a, b


def rebuild(engine: "GraphEngine") -> None:
    """Recompute the whole union-find from the edges that still link (hubs dropped) and the totals at roots.

    The reference for :func:`split`, and the way for an engine that did not track its new hubs.
    """
    from scipy import sparse
    from scipy.sparse.csgraph import connected_components

    n = len(engine.parent)
    if n == 0:
        return
    a, b = edges(engine)
    g = sparse.csr_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    k, labels = connected_components(g, directed=False)
    engine.comp = [None] * n
    _set_components(engine, np.arange(n), labels, k)
    engine.hubs_since_rebuild = False
    engine.new_hubs = []


def split(engine: "GraphEngine", hub_nodes: list[int]) -> None:
    """Re-split only the components that hold an identifier which became a hub since the last rebuild.

    Equivalent to :func:`rebuild`: unions are made only through identifiers that were not hubs
    at the time, and an identifier never stops being a hub, so a component without a new hub is already
    what a rebuild would make of it. The components with one are rebuilt from their own edges (the edges
    of their users all stay inside them). Cost: O(nodes) in numpy plus O(nodes of those components).
    """
    from scipy import sparse
    from scipy.sparse.csgraph import connected_components

    n = len(engine.parent)
    root = np.array(engine.parent, dtype=np.int64)
    while True:  # pointer jumping: every node's root in a few vectorised steps
        up = root[root]
        if np.array_equal(up, root):
            break
        root = up
    inside = np.isin(root, np.unique(root[np.asarray(hub_nodes, dtype=np.int64)]))
    nodes = np.flatnonzero(inside)
    a, b = edges(engine)
    keep = inside[a]
    local = np.full(n, -1, dtype=np.int64)
    local[nodes] = np.arange(len(nodes))
    m = len(nodes)
    g = sparse.csr_matrix((np.ones(int(keep.sum()), dtype=np.int8), (local[a[keep]], local[b[keep]])), shape=(m, m))
    k, labels = connected_components(g, directed=False)
    comps = engine.comp
    for x in nodes.tolist():
        comps[x] = None
    _set_components(engine, nodes, labels, k)
    engine.hubs_since_rebuild = False
    engine.new_hubs = []


def _gather(values: "Sequence[Any]", idx: Any) -> Any:
    """``values[idx]`` as floats, converting only what is needed when ``idx`` is small."""
    if len(idx) * 4 >= len(values):
        return np.asarray(values, dtype=float)[idx]
    return np.array([values[i] for i in idx.tolist()], dtype=float)


def _set_components(engine: "GraphEngine", nodes: Any, labels: Any, k: int) -> None:
    """Make ``nodes`` (sorted) into ``k`` components by ``labels``: parents, and totals at the roots."""
    m = len(nodes)
    # the representative of each component: its lowest node
    rep_local = np.full(k, m, dtype=np.int64)
    np.minimum.at(rep_local, labels, np.arange(m))
    rep_of = nodes[rep_local]
    parent = engine.parent
    for x, r in zip(nodes.tolist(), rep_of[labels].tolist()):
        parent[x] = r
    node_user = _gather(engine.node_user, nodes).astype(np.int64)
    is_user = node_user >= 0
    uidx = node_user[is_user]
    lab_u = labels[is_user]

    def total(values: Any) -> Any:
        return np.bincount(lab_u, weights=_gather(values, uidx), minlength=k)

    users = np.bincount(lab_u, minlength=k)
    idents = np.bincount(labels[~is_user], minlength=k)
    fraud_users = total(engine.u_fraud)
    fraud_tx = total(engine.u_fraud_tx)
    ntx = total(engine.u_ntx)
    amount = total(engine.u_amount)
    first = _gather(engine.u_first, uidx)
    last = _gather(engine.u_last, uidx)
    fmin = np.full(k, np.inf)
    np.minimum.at(fmin, lab_u, first)
    fmax = np.full(k, -np.inf)
    np.maximum.at(fmax, lab_u, first)
    lmax = np.full(k, -np.inf)
    np.maximum.at(lmax, lab_u, last)
    # each member's recent activity (as of its last transaction) brought to the component's last time
    fade = np.exp(-np.maximum(lmax[lab_u] - last, 0.0) / ACTIVITY_TAU_MS)
    rtx = np.bincount(lab_u, weights=_gather(engine.u_recent_tx, uidx) * fade, minlength=k)
    rus = np.bincount(lab_u, weights=_gather(engine.u_recent_users, uidx) * fade, minlength=k)
    # the earliest member of each component with users (first seen, then lowest user index)
    order = np.lexsort((uidx, first, lab_u))
    labs_sorted = lab_u[order]
    starts = np.flatnonzero(np.r_[True, labs_sorted[1:] != labs_sorted[:-1]]) if len(order) else np.zeros(0, int)
    oldest_user = np.full(k, -1, dtype=np.int64)
    oldest_user[labs_sorted[starts]] = uidx[order[starts]]
    comps = engine.comp
    names = engine.u_name
    rows = zip(rep_of.tolist(), users.tolist(), idents.tolist(), fraud_users.tolist(), fraud_tx.tolist(),
               ntx.tolist(), amount.tolist(), fmin.tolist(), fmax.tolist(), lmax.tolist(), oldest_user.tolist(),
               rtx.tolist(), rus.tolist())
    for r, nu, ni, fu, ft, nt, am, f0, f1, la, ou, rt, ru in rows:
        c = Comp()
        c.users, c.idents, c.fraud_users, c.fraud_tx, c.tx = nu, ni, int(fu), int(ft), int(nt)
        c.amount, c.first_min, c.first_max, c.last = am, f0, f1, la
        c.recent_tx, c.recent_users = rt, ru
        if ou >= 0:
            c.oldest = (f0, names[ou])
        comps[r] = c
