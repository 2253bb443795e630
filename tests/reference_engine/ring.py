"""The ring context as it read the reference engine (frozen with it, for the comparison test)."""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from graphfraud.schema import Transaction
from graphfraud.scoring import live_ring_score, ring_id_for

from .engine import GraphEngine


def ring_context(engine: GraphEngine, tx: Transaction, registry: Mapping[str, str] | None = None,
                 min_size: int = 3) -> dict[str, Any] | None:
    """The ring behind a transaction: the cluster its user joins with this transaction's identifiers.

    Read before the transaction is applied; merges (without changing anything) the user's component
    with the components of the transaction's linking, non-hub identifiers.
    """
    roots: set[int] = set()
    links: list[dict[str, Any]] = []
    u = engine.user_ix.get(tx.user_id)
    if u is not None:
        roots.add(engine.find(engine.u_node[u]))
    ents = engine.u_ents[u] if u is not None else {}
    for typ, name in tx.entities():
        e = engine.ent_ix.get((typ, name))
        if e is None or engine.e_node[e] < 0:
            continue
        users = engine.e_users[e]
        mine = e in ents
        if engine.e_hub[e] or (not mine and engine.policy.is_hub(typ, len(users) + 1)):
            continue
        roots.add(engine.find(engine.e_node[e]))
        others = len(users) - (1 if mine else 0)
        if others > 0:
            links.append({"type": typ, "id": name, "n_users": len(users) + (0 if mine else 1)})
    comps = [engine.comp[r] for r in roots]
    n_users = sum(c.users for c in comps if c) + (1 if u is None else 0)
    if n_users < min_size:
        return None
    oldest = min((c.oldest for c in comps if c), default=(math.inf, tx.user_id))
    if u is None:
        oldest = min(oldest, (tx.ts, tx.user_id))
    score, n_fraud = live_ring_score([c for c in comps if c], tx.ts, n_users)
    rid = (registry or {}).get(tx.user_id) or ring_id_for(oldest[1])
    return {"ring_id": rid, "size": n_users, "score": round(float(score), 4),
            "known_fraud_users": n_fraud, "linked_by": links}
