"""Point-in-time features: one function, read before the transaction joins the graph.

:func:`compute_features` is the only implementation of every feature. Training replays history through
the engine and calls it for each transaction; a backtest keeps replaying; the API calls it for each
request. Nothing it reads happened after the transaction (labels count only once known).

Feature names are stable; ``NaN`` means "not known" (an absent identifier, a user with no history, a node
born after the last snapshot). :data:`TABULAR` names the features that use only the transaction and its
own user's history (no other user): the baseline model of a backtest uses those alone.
"""
from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from typing import TYPE_CHECKING

from ..schema import Transaction
from .snapshot import value_at

if TYPE_CHECKING:
    from .engine import GraphEngine

NAN = math.nan
DAY = 86_400_000.0
HOUR = 3_600_000
WINDOWS = (("1h", HOUR), ("1d", 24 * HOUR), ("7d", 7 * 24 * HOUR), ("30d", 30 * 24 * HOUR))
ENTITY_FEATURES = ("users", "fraud_users", "age_days", "new_for_user", "hub")
USER_FEATURES = (
    "amount", "log_amount", "amount_ratio_user_mean", "amount_z_user", "amount_ratio_user_max",
    "account_age_days", "is_new_user", "user_n_tx", "secs_since_last_tx",
    *(f"tx_{w}" for w, _ in WINDOWS), *(f"amount_{w}" for w, _ in WINDOWS),
    "user_n_card", "user_n_device", "user_n_ip", "user_n_merchant", "n_new_identifiers",
    "country_differs_user", "country_differs_card", "hour_of_day",
)
GRAPH_FEATURES = (
    "user_known_fraud", "user_victim", "comp_users", "comp_identifiers", "comp_fraud_users", "comp_fraud_tx",
    "comp_tx", "comp_age_days", "comp_first_span_days", "fraud_users_2hop", "n_hub_identifiers",
    "pagerank", "fraud_proximity", "fraud_proximity_max_identifier",
)


_KEYS: dict[str, tuple[str, str, str, str, str]] = {}
_WKEYS = tuple((w, f"tx_{w[0]}", f"amount_{w[0]}") for w in WINDOWS)


def _keys(typ: str) -> tuple[str, str, str, str, str]:
    k = _KEYS.get(typ)
    if k is None:
        k = _KEYS[typ] = tuple(f"{typ}_{x}" for x in ENTITY_FEATURES)  # type: ignore[assignment]
    return k  # type: ignore[return-value]


def feature_names(entity_types: tuple[str, ...]) -> list[str]:
    """All feature names, in the order models see them."""
    names = list(USER_FEATURES) + list(GRAPH_FEATURES)
    for t in entity_types:
        names += [f"{t}_{f}" for f in ENTITY_FEATURES]
    return names


def tabular_names(entity_types: tuple[str, ...]) -> list[str]:
    """Features that use no other user: the transaction and its own user's history only."""
    names = list(USER_FEATURES)
    for t in entity_types:
        names.append(f"{t}_new_for_user")
    return names


def compute_features(engine: "GraphEngine", tx: Transaction) -> dict[str, float]:
    """The features of ``tx`` as of its own time, before it is applied.

    The caller must have called ``engine.advance(tx.ts)`` (labels and snapshots due by then);
    :meth:`graphfraud.scoring.Scorer.score` and the replay loop do.

    Complexity: O(identifiers of the transaction + the user's transactions in the last 30 days +
    known-fraud users on the user's identifiers).
    """
    ts = tx.ts
    f: dict[str, float] = {}
    u = engine.user_ix.get(tx.user_id)
    grp = engine.group_of(tx.currency)
    amt = engine.base_amount(tx.amount, tx.currency)
    f["amount"] = amt
    f["log_amount"] = math.log1p(amt)
    f["hour_of_day"] = (ts // HOUR) % 24
    policy = engine.policy
    snap = engine.snapshot
    # ---- identifiers of this transaction
    roots: set[int] = set()
    neighbours_fraud: set[int] = set()
    n_new = n_hub = 0
    prox_max = NAN
    ents = engine.u_ents[u] if u is not None else None
    seen_types = set()
    ent_ix, e_users, e_fraud, e_first, e_node, e_hub = (engine.ent_ix, engine.e_users, engine.e_fraud,
                                                         engine.e_first, engine.e_node, engine.e_hub)
    find = engine.find
    prox = snap.proximity if snap is not None else None
    n_prox = len(prox) if prox is not None else 0
    for typ, name in tx.entities():
        keys = _KEYS.get(typ) or _keys(typ)
        seen_types.add(typ)
        e = ent_ix.get((typ, name))
        if e is None:
            f[keys[0]] = 0.0
            f[keys[1]] = 0.0
            f[keys[2]] = 0.0
            f[keys[3]] = 1.0
            f[keys[4]] = 0.0
            n_new += 1
            continue
        users = e_users[e]
        mine = ents is not None and e in ents
        fr = e_fraud[e]
        f[keys[0]] = len(users) - (1 if mine else 0)
        f[keys[1]] = (len(fr) - (1 if u is not None and u in fr else 0)) if fr else 0
        f[keys[2]] = (ts - e_first[e]) / DAY
        f[keys[3]] = 0.0 if mine else 1.0
        if not mine:
            n_new += 1
        node = e_node[e]
        if node < 0:
            f[keys[4]] = 0.0
            continue
        if e_hub[e] or (not mine and policy.is_hub(typ, len(users) + 1)):
            f[keys[4]] = 1.0
            n_hub += 1
            continue
        f[keys[4]] = 0.0
        roots.add(find(node))
        if fr:
            neighbours_fraud |= fr
        if node < n_prox:
            p = float(prox[node])  # type: ignore[index]
            if math.isnan(prox_max) or p > prox_max:
                prox_max = p
    for typ in engine.entity_types:
        if typ not in seen_types:
            for k in _keys(typ):
                f[k] = NAN
    f["n_new_identifiers"] = float(n_new)
    f["n_hub_identifiers"] = float(n_hub)
    f["fraud_proximity_max_identifier"] = prox_max
    # ---- the user's own history
    if u is None:
        f.update(account_age_days=0.0, is_new_user=1.0, user_n_tx=0.0, secs_since_last_tx=NAN,
                 amount_ratio_user_mean=NAN, amount_z_user=NAN, amount_ratio_user_max=NAN,
                 user_n_card=0.0, user_n_device=0.0, user_n_ip=0.0, user_n_merchant=0.0,
                 country_differs_user=NAN, user_known_fraud=0.0, user_victim=0.0, pagerank=NAN,
                 fraud_proximity=NAN)
        for w, _ in WINDOWS:
            f[f"tx_{w}"] = 0.0
            f[f"amount_{w}"] = 0.0
    else:
        f["account_age_days"] = max(ts - engine.u_first[u], 0) / DAY
        f["is_new_user"] = 0.0
        f["user_n_tx"] = float(engine.u_ntx[u])
        times = engine.u_times[u]
        # windows end at this transaction's time: live traffic may carry earlier times than stored ones
        n_t = bisect_right(times, ts)
        f["secs_since_last_tx"] = (ts - times[n_t - 1]) / 1000.0 if n_t else NAN
        gt = engine.u_gtimes[u].get(grp)
        if gt is not None:
            gtimes, gcum = gt
            g_hi = bisect_right(gtimes, ts)
            g_top = gcum[g_hi - 1] if g_hi else 0.0
        for (w, span), kc, ka in _WKEYS:
            f[kc] = float(n_t - bisect_left(times, ts - span, 0, n_t))
            if gt is None:
                f[ka] = 0.0
            else:
                i = bisect_left(gtimes, ts - span, 0, g_hi)
                f[ka] = g_top - (gcum[i - 1] if i else 0.0)
        st = engine.u_amt[u].get(grp)
        if st is not None and st[0] > 0:
            mean = st[1] / st[0]
            var = max(st[2] / st[0] - mean * mean, 0.0)
            f["amount_ratio_user_mean"] = amt / mean if mean > 0 else NAN
            f["amount_z_user"] = (amt - mean) / math.sqrt(var) if var > 1e-9 else NAN
            f["amount_ratio_user_max"] = amt / st[3] if st[3] > 0 else NAN
        else:
            f["amount_ratio_user_mean"] = f["amount_z_user"] = f["amount_ratio_user_max"] = NAN
        nt = engine.u_ntype[u]
        f["user_n_card"] = float(nt.get("card", 0))
        f["user_n_device"] = float(nt.get("device", 0))
        f["user_n_ip"] = float(nt.get("ip", 0))
        f["user_n_merchant"] = float(nt.get("merchant", 0))
        e_fraud, e_hub = engine.e_fraud, engine.e_hub
        for e in engine.u_links[u]:
            fr = e_fraud[e]
            if fr and not e_hub[e]:
                neighbours_fraud |= fr
        uc = engine.u_country[u]
        if tx.country is not None and uc:
            f["country_differs_user"] = 0.0 if max(uc, key=uc.__getitem__) == tx.country else 1.0
        else:
            f["country_differs_user"] = NAN
        f["user_known_fraud"] = 1.0 if engine.u_fraud[u] else 0.0
        f["user_victim"] = 1.0 if engine.u_victim[u] else 0.0
        unode = engine.u_node[u]
        roots.add(engine.find(unode))
        f["pagerank"] = value_at(snap.pagerank, unode) if snap is not None else NAN
        f["fraud_proximity"] = value_at(snap.proximity, unode) if snap is not None else NAN
    # card country
    f["country_differs_card"] = NAN
    if tx.card_id is not None and tx.country is not None:
        e = engine.ent_ix.get(("card", tx.card_id))
        cc = engine.e_country[e] if e is not None else None
        if cc:
            f["country_differs_card"] = 0.0 if max(cc, key=cc.__getitem__) == tx.country else 1.0
    # ---- the component this transaction belongs to (merged over what it touches)
    cu = ci = cfu = cft = ctx = 0
    first_min, first_max = math.inf, -math.inf
    for r in roots:
        c = engine.comp[r]
        if c is None:
            continue
        cu += c.users
        ci += c.idents
        cfu += c.fraud_users
        cft += c.fraud_tx
        ctx += c.tx
        first_min = min(first_min, c.first_min)
        first_max = max(first_max, c.first_max)
    if u is None:
        cu += 1
        first_min, first_max = min(first_min, ts), max(first_max, ts)
    f["comp_users"] = float(cu)
    f["comp_identifiers"] = float(ci)
    f["comp_fraud_users"] = float(cfu)
    f["comp_fraud_tx"] = float(cft)
    f["comp_tx"] = float(ctx)
    f["comp_age_days"] = (ts - first_min) / DAY if first_min != math.inf else 0.0
    f["comp_first_span_days"] = (first_max - first_min) / DAY if first_min != math.inf else 0.0
    if u is not None:
        neighbours_fraud.discard(u)
    f["fraud_users_2hop"] = float(len(neighbours_fraud))
    return f
