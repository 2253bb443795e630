"""Whole-graph signals on a schedule: PageRank, fraud proximity and a clean component rebuild.

A snapshot is taken whenever event time crosses a multiple of the engine's ``snapshot_interval`` (the
same rule in training, backtests and serving). It sees every event before that moment and nothing after.

* **PageRank** over the user–identifier graph (linking types, hubs left out), by power iteration on a
  ``scipy.sparse`` matrix; values are scaled by the number of nodes so that 1.0 is average.
* **Fraud proximity**: personalised PageRank restarting at the users known as fraud at that moment.
* Before each snapshot the engine re-splits its components (:mod:`graphfraud.graph.components`): unions made
  through an identifier before it became a hub are dropped, so a carrier IP glues users together at most
  until the next snapshot.

networkx is the reference in the tests (``networkx.pagerank`` agrees within 1e-6).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..pagerank import pagerank
from .components import edges
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


def build_snapshot(engine: "GraphEngine") -> Snapshot:
    """PageRank and fraud proximity over the engine's graph as it is (read only: the engine re-splits its
    components itself before it asks, :meth:`~graphfraud.graph.engine.GraphEngine.take_snapshot`)."""
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


def value_at(arr: Any, node: int) -> float:
    """A snapshot value for a node, NaN for nodes born after the snapshot."""
    if arr is None or node < 0 or node >= len(arr):
        return math.nan
    return float(arr[node])
