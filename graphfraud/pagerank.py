"""PageRank given as edge arrays, the one implementation: of the undirected user-identifier graph
(:func:`pagerank`) and of the directed, amount-weighted transfer graph (:func:`directed_pagerank`), both by
one power iteration as networkx defines it.

The engine's snapshots (:mod:`graphfraud.graph.snapshot`), the money flows (:mod:`graphfraud.graph.flows`)
and the Neo4j backend's Python fallback (:mod:`graphfraud.storage.neo4j_algos`) rank with it, so they agree
by construction; it is a leaf module (numpy and scipy only) so that storage need not import the graph layer.
"""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["pagerank", "directed_pagerank"]


def pagerank(n: int, src: Any, dst: Any, personalization: Any = None, alpha: float = 0.85,
             tol: float = 1e-8, max_iter: int = 100, start: Any = None) -> Any:
    """PageRank of an undirected graph given as edge arrays, as networkx defines it (dangling nodes
    spread their rank like the personalisation vector). Returns probabilities summing to 1.

    ``start`` warm-starts the power iteration (the previous snapshot's vector, padded for new nodes):
    the graph changes little between snapshots, so few iterations are needed. Convergence is the same
    L1 criterion as networkx (``n * tol``).

    >>> import numpy as np
    >>> r = pagerank(3, np.array([0, 1]), np.array([1, 2]))
    >>> round(float(r.sum()), 6)
    1.0
    """
    from scipy import sparse

    if n == 0:
        return np.zeros(0)
    deg = np.bincount(src, minlength=n) + np.bincount(dst, minlength=n)
    inv = np.where(deg > 0, 1.0 / np.maximum(deg, 1), 0.0)
    # column-stochastic transition: x_new[j] = sum over neighbours i of x[i] / deg[i]
    rows = np.concatenate([dst, src])
    cols = np.concatenate([src, dst])
    mt = sparse.csr_matrix((inv[cols], (rows, cols)), shape=(n, n))
    if personalization is None:
        p = np.full(n, 1.0 / n)
    else:
        p = np.asarray(personalization, dtype=float)
        s = p.sum()
        if s <= 0:
            return np.zeros(n)
        p = p / s
    if start is not None and len(start) and float(np.sum(start)) > 0:
        x = np.zeros(n)
        m = min(n, len(start))
        x[:m] = start[:m]
        x[m:] = p[m:] if m < n else 0.0
        x /= x.sum()
    else:
        x = p.copy()
    return _iterate(mt, p, deg == 0, x, alpha, tol, max_iter)


def _iterate(mt: Any, p: Any, dangling: Any, x: Any, alpha: float, tol: float, max_iter: int) -> Any:
    """The power iteration: ``mt`` column-stochastic over nodes that have edges, ``dangling`` nodes spread
    their rank like ``p``; stops when the L1 change is below ``n * tol`` (networkx's criterion)."""
    n = len(p)
    for _ in range(max_iter):
        prev = x
        x = alpha * (mt @ prev + prev[dangling].sum() * p) + (1 - alpha) * p
        if np.abs(x - prev).sum() < n * tol:
            break
    return x


def directed_pagerank(n: int, src: Any, dst: Any, weight: Any, personalization: Any = None, alpha: float = 0.85,
                      tol: float = 1e-6, max_iter: int = 100) -> Any:
    """PageRank of a directed graph with edge weights (parallel edges add up), as networkx defines it:
    rank flows along money, in proportion to the amounts; accounts that send nothing spread theirs like the
    personalisation vector. Returns probabilities summing to 1.

    >>> import numpy as np
    >>> r = directed_pagerank(3, np.array([0, 1]), np.array([1, 2]), np.array([1.0, 1.0]))
    >>> bool(r[2] > r[1] > r[0])
    True
    """
    from scipy import sparse

    if n == 0:
        return np.zeros(0)
    out_w = np.bincount(src, weights=weight, minlength=n)
    inv = np.where(out_w > 0, 1.0 / np.maximum(out_w, 1e-300), 0.0)
    mt = sparse.csr_matrix((weight * inv[src], (dst, src)), shape=(n, n))
    if personalization is None:
        p = np.full(n, 1.0 / n)
    else:
        p = np.asarray(personalization, dtype=float)
        p = p / p.sum()
    return _iterate(mt, p, out_w == 0, p.copy(), alpha, tol, max_iter)
