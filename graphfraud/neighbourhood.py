"""A node's neighbourhood in the stored graph: who and what is linked to a user or an identifier, and the
money between users, walked breadth first with a node budget. What the API's entity view returns; the
investigator pages draw theirs through the same traversal (:func:`walk`) and helpers (:func:`in_window`,
:func:`other_party`), folding hubs and masking on top.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .errors import NotFound
from .schema import PII_TYPES, redact
from .storage.roles import GraphStore


def in_window(link: dict[str, Any], since: int | None, until: int | None) -> bool:
    """Whether a link or transfer row (``first_seen``, ``last_seen``, epoch ms) was active between ``since``
    and ``until`` (either may be ``None``: open).

    >>> in_window({"first_seen": 5, "last_seen": 9}, since=10, until=None)
    False
    """
    if since is not None and (link.get("last_seen") or 0) < since:
        return False
    if until is not None and (link.get("first_seen") or 0) > until:
        return False
    return True


def other_party(transfer: dict[str, Any], user_id: str) -> str:
    """The user at the other end of a transfer row (:meth:`~graphfraud.storage.roles.LinkStore.transfers_of`)
    from ``user_id``: the payee of what the user paid, the payer of what the user received.

    >>> other_party({"payer": "a", "payee": "b"}, "b")
    'a'
    """
    return str(transfer["payee"] if transfer["payer"] == user_id else transfer["payer"])


Node = tuple[str, str]  # (type, id): "user" or an identifier type


def walk(start: Node, hops: int, expand: Callable[[str, str, int], Iterable[Node]],
         opens: Callable[[str, str, int], bool] = lambda t, k, hop: True) -> None:
    """The one breadth-first traversal of the stored graph, ``hops`` deep from ``start``.

    ``expand(type, id, hop)`` adds what the caller draws of one node's links and transfers (the API: plain
    nodes and edges; the investigator pages: hubs folded, a time window, masked labels) and returns the
    neighbours it added; ``opens(type, id, hop)`` may keep a node reached on the way closed (a hub). The
    caller keeps its own node budget.

    >>> seen = []
    >>> graph = {("user", "a"): [("card", "c")], ("card", "c"): [("user", "b")], ("user", "b"): []}
    >>> walk(("user", "a"), 2, lambda t, k, hop: seen.append((hop, k)) or graph[(t, k)])
    >>> seen
    [(1, 'a'), (2, 'c')]
    """
    frontier = [start]
    for hop in range(1, hops + 1):
        nxt: list[Node] = []
        for t, k in frontier:
            if opens(t, k, hop):
                nxt.extend(expand(t, k, hop))
        if not nxt:
            return
        frontier = nxt


def neighbourhood(store: GraphStore, node_type: str, node_id: str, hops: int, limit: int) -> dict[str, Any]:
    """Nodes and edges within ``hops`` of a node, at most ``limit`` nodes (breadth first): user-identifier
    links (``kind`` link) and, between users, transfers (``kind`` transfer, directed from payer to payee);
    users in a ring carry its ``ring_id``. Raises :class:`~graphfraud.errors.NotFound` when the node has no
    link (a user without transactions, an identifier never seen)."""
    start = f"{node_type}:{node_id}"
    nodes: dict[str, dict[str, Any]] = {start: {"id": start, "type": node_type, "key": node_id, "hop": 0}}
    edges: dict[tuple[str, ...], dict[str, Any]] = {}
    truncated = False

    def expand(t: str, k: str, hop: int) -> list[Node]:
        nonlocal truncated
        nxt: list[Node] = []
        room = limit - len(nodes)
        if room <= 0:
            truncated = True
            return nxt
        rows = store.neighbours(t, k, room + 1)
        for r in rows:
            u, e = f"user:{r['user_id']}", f"{r['type']}:{r['entity_id']}"
            other_type, other = ("user", r["user_id"]) if t != "user" else (r["type"], r["entity_id"])
            oid = f"{other_type}:{other}"
            if oid not in nodes:
                if len(nodes) >= limit:
                    truncated = True
                    continue
                nodes[oid] = {"id": oid, "type": other_type, "key": other, "hop": hop}
                nxt.append((other_type, other))
            edges.setdefault((u, e), {"source": u, "target": e, "kind": "link", "n": r.get("n"),
                                      "first_seen": r.get("first_seen"), "last_seen": r.get("last_seen")})
        if t != "user":
            return nxt
        # money between users: one directed edge per payer and payee (source pays target)
        for r in store.transfers_of(k, max(limit - len(nodes), 0) + 1):
            other = other_party(r, k)
            oid = f"user:{other}"
            if oid not in nodes:
                if len(nodes) >= limit:
                    truncated = True
                    continue
                nodes[oid] = {"id": oid, "type": "user", "key": other, "hop": hop}
                nxt.append(("user", other))
            src, dst = f"user:{r['payer']}", f"user:{r['payee']}"
            edges.setdefault(("transfer", src, dst), {
                "source": src, "target": dst, "kind": "transfer", "n": r.get("n"), "amount": r.get("amount"),
                "first_seen": r.get("first_seen"), "last_seen": r.get("last_seen")})
        return nxt

    walk((node_type, node_id), hops, expand)
    if len(nodes) == 1:
        if node_type != "user" or not store.transactions_of("user_id", node_id, 1):
            # personal identifiers are never echoed whole (messages end up in logs and tickets)
            shown = redact(node_id) if node_type in PII_TYPES or node_type == "card" else repr(node_id[:80])
            raise NotFound(f"There is no {node_type} {shown} in the graph.",
                           [f"{node_type}: {shown} not found"], code="entity_not_found")
    users = [n["key"] for n in nodes.values() if n["type"] == "user"]
    for u, rid in store.ring_of_users(users).items():
        nodes[f"user:{u}"]["ring_id"] = rid
    return {"entity": {"type": node_type, "id": node_id}, "hops": hops, "truncated": truncated,
            "nodes": list(nodes.values()), "edges": list(edges.values())}


__all__ = ["neighbourhood", "walk", "in_window", "other_party"]
