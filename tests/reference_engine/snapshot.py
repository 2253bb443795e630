"""Whole-graph signals on a schedule: PageRank, fraud proximity and a clean component rebuild.

A snapshot is taken whenever event time crosses a multiple of the engine's ``snapshot_interval`` (the
same rule in training, backtests and serving). It sees every event before that moment and nothing after.

* **PageRank** over the user–identifier graph (linking types, hubs left out), by power iteration on a
  ``scipy.sparse`` matrix; values are scaled by the number of nodes so that 1.0 is average.
* **Fraud proximity**: personalised PageRank restarting at the users known as fraud at that moment.
* **Component rebuild**: unions made through an identifier before it became a hub are dropped, so a
  carrier IP glues users together at most until the next snapshot. Only the components holding an
  identifier that became a hub since the last snapshot are re-split (:func:`split_components`).

networkx is the reference in the tests (``networkx.pagerank`` agrees within 1e-6).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from graphfraud.pagerank import pagerank
from .components import Comp
from .flows import flow_snapshot

if TYPE_CHECKING:
    from .engine import GraphEngine


# Snapshot features are read as numbers around 1.0 (scaled by the node count): an L1 change below
# n * 1e-6 between iterations moves none of them by more than about 1e-4, which no model or rule sees.
SNAPSHOT_TOL = 1e-6


@dataclass
class Snapshot:
    n_nodes: int
    pagerank: Any  # np.ndarray per union-find node, scaled (mean 1.0)
    proximity: Any  # personalised PageRank from known fraud, scaled the same way
    n_seeds: int
    version: int = 0
    flow_pagerank: Any = None  # amount-weighted PageRank over transfers, per user index (graph.flows)
    flow_proximity: Any = None  # the same restarted at known-fraud users


def edges(engine: "GraphEngine") -> tuple[Any, Any]:
    """User node -> identifier node pairs over linking, non-hub identifiers."""
    a = np.frombuffer(engine.edge_u, dtype=np.int32) if len(engine.edge_u) else np.zeros(0, np.int32)
    b = np.frombuffer(engine.edge_e, dtype=np.int32) if len(engine.edge_e) else np.zeros(0, np.int32)
    hub = np.frombuffer(engine.node_hub, dtype=np.int8).astype(bool) if len(engine.node_hub) else np.zeros(0, bool)
    if len(b):
        keep = ~hub[b]
        a, b = a[keep], b[keep]
    return a, b


def build_snapshot(engine: "GraphEngine") -> Snapshot:
    """Re-split components glued by new hubs, then compute PageRank and fraud proximity."""
    if engine.hubs_since_rebuild:
        hubs = engine.__dict__.get("new_hubs")
        if hubs:
            split_components(engine, hubs)
        else:  # an engine saved before new hubs were tracked
            rebuild_components(engine)
    n = len(engine.parent)
    a, b = edges(engine)
    prev = engine.snapshot
    pr = pagerank(n, a, b, tol=SNAPSHOT_TOL, start=None if prev is None else prev.pagerank / max(prev.n_nodes, 1)) * n \
        if n \
        else np.zeros(0)
    seeds = np.zeros(n)
    fraud_nodes = [engine.u_node[u] for u, f in enumerate(engine.u_fraud) if f]
    if fraud_nodes:
        seeds[fraud_nodes] = 1.0
        start = None if prev is None or not prev.n_seeds else prev.proximity / max(prev.n_nodes, 1)
        prox = pagerank(n, a, b, personalization=seeds, start=start, tol=SNAPSHOT_TOL) * n
    else:
        prox = np.zeros(n)
    fpr, fprox = flow_snapshot(engine.flows, len(engine.u_name),
                               engine.flows.fraud if engine.flows is not None else ())
    return Snapshot(n, pr, prox, len(fraud_nodes), engine.snapshot_version + 1, fpr, fprox)


def rebuild_components(engine: "GraphEngine") -> None:
    """Recompute the whole union-find from the edges that still link (hubs dropped) and the totals at roots.

    The reference for :func:`split_components`, and the way for an engine that did not track its new hubs.
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


def split_components(engine: "GraphEngine", hub_nodes: list[int]) -> None:
    """Re-split only the components that hold an identifier which became a hub since the last rebuild.

    Equivalent to :func:`rebuild_components`: unions are made only through identifiers that were not hubs
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


def _gather(values: list[Any], idx: Any) -> Any:
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
    # the earliest member of each component with users (first seen, then lowest user index)
    order = np.lexsort((uidx, first, lab_u))
    labs_sorted = lab_u[order]
    starts = np.flatnonzero(np.r_[True, labs_sorted[1:] != labs_sorted[:-1]]) if len(order) else np.zeros(0, int)
    oldest_user = np.full(k, -1, dtype=np.int64)
    oldest_user[labs_sorted[starts]] = uidx[order[starts]]
    comps = engine.comp
    names = engine.u_name
    rows = zip(rep_of.tolist(), users.tolist(), idents.tolist(), fraud_users.tolist(), fraud_tx.tolist(),
               ntx.tolist(), amount.tolist(), fmin.tolist(), fmax.tolist(), lmax.tolist(), oldest_user.tolist())
    for r, nu, ni, fu, ft, nt, am, f0, f1, la, ou in rows:
        c = Comp()
        c.users, c.idents, c.fraud_users, c.fraud_tx, c.tx = nu, ni, int(fu), int(ft), int(nt)
        c.amount, c.first_min, c.first_max, c.last = am, f0, f1, la
        if ou >= 0:
            c.oldest = (f0, names[ou])
        comps[r] = c


def value_at(arr: Any, node: int) -> float:
    """A snapshot value for a node, NaN for nodes born after the snapshot."""
    if arr is None or node < 0 or node >= len(arr):
        return math.nan
    return float(arr[node])
