"""Graph algorithms on a Neo4j store: inside Neo4j with Graph Data Science when the server has it,
otherwise in Python from the streamed links.

The graph is the identifier graph the rest of graphfraud links users through: ``User``-``USED``-identifier
links of the linking types (the ``link_types`` setting), identifiers shared by more users than their hub
limit (``hub_limits``) left out, undirected. Each function returns ``{(type, id): value}`` for every node
of that graph:

- :func:`components`: connected components (``gds.wcc`` or :func:`scipy.sparse.csgraph.connected_components`),
  as a component number; compare partitions, not numbers.
- :func:`pagerank`: PageRank, damping 0.85, normalised to sum to 1 (``gds.pageRank`` scores are not; the
  Python side is :func:`graphfraud.pagerank.pagerank`, the engine's own). The two agree within 1e-4 relative on
  graphs with no isolated nodes (none here: every node has a link).
- :func:`communities`: Louvain communities (``gds.louvain`` or :func:`networkx.community.louvain_communities`);
  Louvain is randomised, so compare with the adjusted Rand index rather than exactly.

This module does not import :mod:`neo4j`; it runs its queries through the store.
"""
from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import settings
from ..pagerank import pagerank as _pagerank

if TYPE_CHECKING:
    from .neo4j import Neo4jStore

Node = tuple[str, str]


def _selection(types: list[str] | None, limits: dict[str, int] | None) -> dict[str, Any]:
    if types is None:
        types = [t.strip() for t in str(settings.get("link_types")).split(",") if t.strip()]
    if limits is None:
        limits = {k: int(v) for k, v in settings.parse_pairs(str(settings.get("hub_limits"))).items()}
    default = int(limits.get("default", 20))
    return {"types": list(types), "limits": {k: int(v) for k, v in limits.items() if k != "default"},
            "default_limit": default}


def gds_available(store: Neo4jStore) -> bool:
    """Whether the store's server answers ``gds.version()``."""
    try:
        store._read("get_gds_version")
    except Exception:  # noqa: BLE001 - any failure means: compute in Python
        return False
    return True


def link_graph(store: Neo4jStore, types: list[str] | None = None, limits: dict[str, int] | None = None
               ) -> tuple[list[Node], np.ndarray, np.ndarray]:
    """The algorithms' graph streamed out: nodes ``(type, id)`` and edge arrays (user index, identifier index)."""
    index: dict[Node, int] = {}
    src: list[int] = []
    dst: list[int] = []
    for user_id, typ, entity_id in store._stream("stream_link_graph", **_selection(types, limits)):
        u = index.setdefault(("user", user_id), len(index))
        e = index.setdefault((typ, entity_id), len(index))
        src.append(u)
        dst.append(e)
    return list(index), np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64)


def _gds(store: Neo4jStore, algo: str, config: dict[str, Any], types: list[str] | None,
         limits: dict[str, int] | None) -> dict[Node, Any]:
    name = f"graphfraud-{uuid.uuid4().hex}"
    sel = _selection(types, limits)
    store._read("project_link_graph", graph_name=name, **sel)
    try:
        return {(t, i): v for t, i, v in store._stream(f"stream_{algo}", graph_name=name, config=config)}
    finally:
        store._read("drop_graph", graph_name=name)


def components(store: Neo4jStore, *, use_gds: bool | None = None, types: list[str] | None = None,
               limits: dict[str, int] | None = None) -> dict[Node, int]:
    """Connected components: ``{(type, id): component number}``."""
    if use_gds if use_gds is not None else gds_available(store):
        return {k: int(v) for k, v in _gds(store, "wcc", {}, types, limits).items()}
    from scipy import sparse
    from scipy.sparse.csgraph import connected_components

    nodes, src, dst = link_graph(store, types, limits)
    n = len(nodes)
    m = sparse.csr_matrix((np.ones(len(src)), (src, dst)), shape=(n, n))
    _, labels = connected_components(m, directed=False)
    return {node: int(c) for node, c in zip(nodes, labels)}


def pagerank(store: Neo4jStore, *, use_gds: bool | None = None, types: list[str] | None = None,
             limits: dict[str, int] | None = None) -> dict[Node, float]:
    """PageRank (damping 0.85), normalised to sum to 1: ``{(type, id): score}``."""
    if use_gds if use_gds is not None else gds_available(store):
        raw = _gds(store, "pagerank", {"dampingFactor": 0.85, "maxIterations": 200, "tolerance": 1e-10},
                   types, limits)
        total = sum(raw.values()) or 1.0
        return {k: float(v) / total for k, v in raw.items()}
    nodes, src, dst = link_graph(store, types, limits)
    scores = _pagerank(len(nodes), src, dst, tol=1e-12, max_iter=200)
    return {node: float(s) for node, s in zip(nodes, scores)}


def communities(store: Neo4jStore, *, use_gds: bool | None = None, types: list[str] | None = None,
                limits: dict[str, int] | None = None, seed: int = 0) -> dict[Node, int]:
    """Louvain communities: ``{(type, id): community number}``."""
    if use_gds if use_gds is not None else gds_available(store):
        return {k: int(v) for k, v in _gds(store, "louvain", {}, types, limits).items()}
    import networkx as nx

    nodes, src, dst = link_graph(store, types, limits)
    g = nx.Graph()
    g.add_nodes_from(range(len(nodes)))
    g.add_edges_from(zip(src.tolist(), dst.tolist()))
    out: dict[Node, int] = {}
    for c, members in enumerate(nx.community.louvain_communities(g, seed=seed)):
        for i in members:
            out[nodes[i]] = c
    return out
