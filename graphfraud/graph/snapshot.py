"""Whole-graph signals on a schedule: PageRank, fraud proximity and a clean component rebuild.

A snapshot is taken whenever event time crosses a multiple of the engine's ``snapshot_interval`` (the
same rule in training, backtests and serving). It sees every event before that moment and nothing after.

* **PageRank** over the user–identifier graph (linking types, hubs left out), by power iteration on a
  ``scipy.sparse`` matrix; values are scaled by the number of nodes so that 1.0 is average.
* **Fraud proximity**: personalised PageRank restarting at the users known as fraud at that moment.
* **Component rebuild**: unions made through an identifier before it became a hub are dropped, so a
  carrier IP glues users together at most until the next snapshot.

networkx is the reference in the tests (``networkx.pagerank`` agrees within 1e-6).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .engine import GraphEngine


@dataclass
class Snapshot:
    n_nodes: int
    pagerank: Any  # np.ndarray per union-find node, scaled (mean 1.0)
    proximity: Any  # personalised PageRank from known fraud, scaled the same way
    n_seeds: int
    version: int = 0


def edges(engine: "GraphEngine") -> tuple[Any, Any]:
    """User node -> identifier node pairs over linking, non-hub identifiers."""
    a = np.frombuffer(engine.edge_u, dtype=np.int32) if len(engine.edge_u) else np.zeros(0, np.int32)
    b = np.frombuffer(engine.edge_e, dtype=np.int32) if len(engine.edge_e) else np.zeros(0, np.int32)
    hub = np.frombuffer(engine.node_hub, dtype=np.int8).astype(bool) if len(engine.node_hub) else np.zeros(0, bool)
    if len(b):
        keep = ~hub[b]
        a, b = a[keep], b[keep]
    return a, b


def pagerank(n: int, src: Any, dst: Any, personalization: Any = None, alpha: float = 0.85,
             tol: float = 1e-8, max_iter: int = 100) -> Any:
    """PageRank of an undirected graph given as edge arrays, as networkx defines it (dangling nodes
    spread their rank like the personalisation vector). Returns probabilities summing to 1.

    >>> import numpy as np
    >>> r = pagerank(3, np.array([0, 1]), np.array([1, 2]))
    >>> round(float(r.sum()), 6)
    1.0
    """
    from scipy import sparse

    if n == 0:
        return np.zeros(0)
    rows = np.concatenate([src, dst])
    cols = np.concatenate([dst, src])
    w = np.ones(len(rows))
    m = sparse.csr_matrix((w, (rows, cols)), shape=(n, n))
    deg = np.asarray(m.sum(axis=1)).ravel()
    inv = np.where(deg > 0, 1.0 / np.where(deg > 0, deg, 1), 0.0)
    mt = (sparse.diags(inv) @ m).T.tocsr()
    if personalization is None:
        p = np.full(n, 1.0 / n)
    else:
        p = np.asarray(personalization, dtype=float)
        s = p.sum()
        if s <= 0:
            return np.zeros(n)
        p = p / s
    dangling = deg == 0
    x = p.copy()
    for _ in range(max_iter):
        prev = x
        x = alpha * (mt @ prev + prev[dangling].sum() * p) + (1 - alpha) * p
        if np.abs(x - prev).sum() < n * tol:
            break
    return x


def build_snapshot(engine: "GraphEngine") -> Snapshot:
    """Rebuild components without hubs, then compute PageRank and fraud proximity."""
    if engine.hubs_since_rebuild:
        rebuild_components(engine)
    n = len(engine.parent)
    a, b = edges(engine)
    pr = pagerank(n, a, b) * n if n else np.zeros(0)
    seeds = np.zeros(n)
    fraud_nodes = [engine.u_node[u] for u, f in enumerate(engine.u_fraud) if f]
    if fraud_nodes:
        seeds[fraud_nodes] = 1.0
        prox = pagerank(n, a, b, personalization=seeds) * n
    else:
        prox = np.zeros(n)
    return Snapshot(n, pr, prox, len(fraud_nodes), engine.snapshot_version + 1)


def rebuild_components(engine: "GraphEngine") -> None:
    """Recompute the union-find from the edges that still link (hubs dropped) and the totals at roots."""
    from scipy import sparse
    from scipy.sparse.csgraph import connected_components

    from .engine import Comp

    n = len(engine.parent)
    a, b = edges(engine)
    g = sparse.csr_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    _, labels = connected_components(g, directed=False)
    # the representative of each component: its first node
    order = np.argsort(labels, kind="stable")
    first = np.full(labels.max() + 1 if n else 0, -1, dtype=np.int64)
    first[labels[order[::-1]]] = order[::-1]
    rep = first[labels]
    engine.parent[:] = rep.tolist()
    comps: list[Comp | None] = [None] * n
    for r in np.unique(rep).tolist():
        comps[r] = Comp()
    for node in range(n):
        c = comps[rep[node]]
        assert c is not None
        u = engine.node_user[node]
        if u < 0:
            c.idents += 1
            continue
        c.users += 1
        c.fraud_users += engine.u_fraud[u]
        c.fraud_tx += engine.u_fraud_tx[u]
        c.tx += engine.u_ntx[u]
        c.amount += engine.u_amount[u]
        f = engine.u_first[u]
        c.first_min = min(c.first_min, f)
        c.first_max = max(c.first_max, f)
        c.last = max(c.last, engine.u_last[u])
        c.oldest = min(c.oldest, (f, engine.u_name[u]))
    engine.comp = comps
    engine.hubs_since_rebuild = False


def value_at(arr: Any, node: int) -> float:
    """A snapshot value for a node, NaN for nodes born after the snapshot."""
    if arr is None or node < 0 or node >= len(arr):
        return math.nan
    return float(arr[node])
