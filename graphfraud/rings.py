"""Fraud rings: clusters of users linked through shared identifiers, ranked, and kept in a registry.

Detection builds the bipartite graph of users and the linking identifiers they used (cards, devices,
IPs, emails, ... as :class:`~graphfraud.graph.policy.LinkPolicy` says; hubs such as carrier NAT IPs or
default device ids are left out, so they cannot glue unrelated people together), takes its connected
components, and splits components too large to be one ring into denser communities (Louvain, fixed
seed). Each cluster is described by the plain numbers of :class:`~graphfraud.ringscore.ClusterStats`
and scored by :func:`~graphfraud.ringscore.score_cluster`, the same function the live engine calls.

:func:`sync_rings` then matches the clusters to the rings already in the store so that a ring keeps its
``ring_id`` while its membership mostly stays, records merges (the older id survives) and splits.

Examples
--------
>>> import os, tempfile
>>> from graphfraud.storage import open_store
>>> from graphfraud.testing import make_transactions
>>> from graphfraud.schema import validate_frame
>>> df, truth = make_transactions(seed=3)
>>> store = open_store(os.path.join(tempfile.mkdtemp(), "gf.db"))
>>> good, _ = validate_frame(df.astype(str).replace("", None))
>>> store.write_transactions(good).inserted == len(df)
True
>>> rings = sync_rings(store, detect_rings(store))
>>> rings[0].ring_id.startswith("R-") and rings[0].size >= 3
True
>>> store.get_ring(rings[0].ring_id)["size"] == rings[0].size
True
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from . import settings
from .graph.policy import LinkPolicy
from .ringscore import ClusterStats, score_cluster
from .schema import LABEL_SOURCES, parse_ts

__all__ = ["Ring", "detect_rings", "find_clusters", "sync_rings", "ring_id_for", "format_rings", "ClusterStats", "score_cluster"]

MAX_COMPONENT_USERS = 20  # components with more users are split into communities
BURST_WINDOW_DAYS = 3.0
LOUVAIN_RESOLUTION = 2.0  # above 1 so small dense groups inside a big component stay apart
COACTIVITY_BUCKET_MS = 86_400_000  # same hub, same merchant, same day
MIN_COACTIVITY = 2  # distinct (merchant, day) meetings before two users of a hub are linked
MIN_LINK_SHARE = 0.2  # a single use links a user only when it is at least this share of their activity
DAY_MS = 86_400_000
_SOURCE_RANK = {s: i for i, s in enumerate(LABEL_SOURCES)}
_PERSONAL = ("card", "email", "phone", "bank_account", "account")


@dataclass
class Ring:
    """One cluster of linked users, scored. ``members`` lists users and the identifiers that link them."""

    ring_id: str
    score: float
    size: int
    members: list[dict[str, str]]
    users: list[str]
    known_fraud_users: list[str]
    known_fraud_transactions: list[str]
    shared_identifiers: list[dict[str, Any]]
    first_activity: int  # epoch ms
    last_activity: int
    total_amount: float
    reasons: list[str]
    stats: ClusterStats | None = None
    status: str = "active"
    merged_into: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the shape ``graphfraud rings --format json`` prints)."""
        return {"ring_id": self.ring_id, "score": round(float(self.score), 6), "size": self.size,
                "members": self.members, "users": self.users, "known_fraud_users": self.known_fraud_users,
                "known_fraud_transactions": self.known_fraud_transactions,
                "shared_identifiers": self.shared_identifiers, "first_activity": self.first_activity,
                "last_activity": self.last_activity, "total_amount": round(float(self.total_amount), 2),
                "reasons": self.reasons, "status": self.status, "merged_into": self.merged_into,
                "stats": self.stats.to_dict() if self.stats is not None else None}


def ring_id_for(first_user: str, taken: Iterable[str] = ()) -> str:
    """The content id of a new ring: ``R-`` + 10 hex of SHA-1 of its earliest-active user's id.

    Two processes that see the same cluster agree on it. ``taken`` ids are skipped deterministically.

    >>> ring_id_for("U1")
    'R-24b302f5a7'
    """
    taken = set(taken)
    salt = ""
    k = 0
    while True:
        rid = "R-" + hashlib.sha1((first_user + salt).encode("utf-8")).hexdigest()[:10]
        if rid not in taken:
            return rid
        k += 1
        salt = f"#{k}"


# ---------------------------------------------------------------------------------------------- clusters
def _linking_edges(links: pd.DataFrame, policy: LinkPolicy) -> pd.DataFrame:
    """Links of linking types, hubs left out, with ``n_users`` per identifier (distinct users, all time)."""
    lk = links[links["type"].map(policy.links).astype(bool)] if len(links) else links
    lk = lk.reset_index(drop=True)
    key = lk["type"].astype(str) + "\x1f" + lk["entity_id"].astype(str)
    ent, ent_keys = pd.factorize(key)
    n_users = np.bincount(ent, minlength=len(ent_keys)) if len(ent_keys) else np.zeros(0, np.int64)
    limits = lk["type"].map({t: policy.hub_limit(t) for t in lk["type"].unique()}).to_numpy()
    n_of_edge = n_users[ent]
    out = lk.assign(ent=ent, n_users=n_of_edge)
    if "n" in links.columns and len(links):
        # a user's activity: the most transactions seen under any one type (every tx has a user, most
        # have a card or a merchant)
        per_type = links.groupby(["user_id", "type"], sort=False)["n"].sum()
        total = per_type.groupby(level=0).max()
        n_tx = out["n"].to_numpy(dtype=float)
        share = n_tx / out["user_id"].map(total).to_numpy(dtype=float)
        # incidental contact (one use, a small part of the user's activity: a VPN exit once, a friend's
        # laptop once) does not make a link; it still counts in the cluster's description
        out = out.assign(strong=(n_tx >= 2) | (share >= MIN_LINK_SHARE))
    else:
        out = out.assign(strong=True)
    return out[n_of_edge <= limits].reset_index(drop=True)


def find_clusters(links: pd.DataFrame, policy: LinkPolicy | None = None, *, min_size: int = 2,
                  max_component: int = MAX_COMPONENT_USERS, seed: int = 0) -> list[list[str]]:
    """Clusters of users linked by shared non-hub identifiers; large components split into communities.

    Parameters
    ----------
    links : pandas.DataFrame
        Columns ``type``, ``entity_id``, ``user_id`` (one row per user-identifier pair), as returned by
        ``store.links_frame()``.
    policy : LinkPolicy, optional
        Linking types and hub limits; default :meth:`LinkPolicy.from_settings`.
    min_size : int, default 2
        Fewest users in a returned cluster.
    max_component : int, default 20
        Components with more users are split with Louvain community detection (seeded by ``seed``).

    Returns
    -------
    list of list of str
        User ids per cluster, each sorted; clusters are disjoint.

    Notes
    -----
    Connected components run on the sparse bipartite user-identifier graph with
    :func:`scipy.sparse.csgraph.connected_components` in O(users + identifiers + links); Louvain runs only
    on the components above ``max_component``.

    Examples
    --------
    >>> links = pd.DataFrame({"type": ["device", "device", "card", "card", "ip"],
    ...                       "entity_id": ["D1", "D1", "C1", "C1", "I9"],
    ...                       "user_id": ["a", "b", "b", "c", "d"]})
    >>> find_clusters(links)
    [['a', 'b', 'c']]
    """
    policy = policy or LinkPolicy.from_settings()
    edges = _linking_edges(links, policy)
    users, ents = _cluster_codes(_linking(edges), max_component, seed)
    return [sorted(users[c].tolist()) for c in ents if len(c) >= min_size]


def _coactivity_edges(tx: pd.DataFrame, links: pd.DataFrame, policy: LinkPolicy, first_code: int) -> pd.DataFrame:
    """Links through hubs that only synchronised use reveals.

    A hub (a carrier NAT address, a default device id) links nobody by itself. But two accounts that pass
    through the same hub *at the same merchant on the same day*, on two or more different occasions, act
    together; strangers behind a busy NAT almost never do. Each such pair becomes a two-user link named
    after the hub.
    """
    cols = [c for c, t in (("ip", "ip"), ("device_id", "device"), ("card_id", "card")) if policy.links(t)]
    if not len(tx) or not cols or not len(links):
        return pd.DataFrame(columns=["type", "entity_id", "user_id", "first_seen", "last_seen", "n", "ent",
                                     "n_users", "strong"])
    lk = links[links["type"].map(policy.links).astype(bool)]
    n_users = lk.groupby(["type", "entity_id"], sort=False).size()
    hubs = {t: set(ids) for t, ids in
            n_users[[policy.is_hub(t, int(k)) for (t, _), k in n_users.items()]].reset_index()
            .groupby("type")["entity_id"]}
    parts = []
    for col in cols:
        typ = {"ip": "ip", "device_id": "device", "card_id": "card"}[col]
        h = hubs.get(typ)
        if not h:
            continue
        m = tx[col].isin(h) & tx["merchant_id"].notna()
        if not m.any():
            continue
        parts.append(pd.DataFrame({"type": typ, "hub": tx.loc[m, col].to_numpy(), "user": tx.loc[m, "user_id"].to_numpy(),
                                   "m": tx.loc[m, "merchant_id"].to_numpy(),
                                   "b": tx.loc[m, "ts"].to_numpy(np.int64) // COACTIVITY_BUCKET_MS,
                                   "ts": tx.loc[m, "ts"].to_numpy(np.int64)}))
    if not parts:
        return _coactivity_edges(tx.iloc[:0], links, policy, first_code)
    d = pd.concat(parts, ignore_index=True)
    first = d.groupby(["type", "hub", "user"], sort=False)["ts"].agg(["min", "max", "size"])
    d = d.drop_duplicates(["type", "hub", "m", "b", "user"])
    k = d.groupby(["type", "hub", "m", "b"], sort=False)["user"].transform("size").to_numpy()
    d = d[(k >= 2) & (k <= 6)]  # a crowd at a popular shop says nothing
    pairs = d.merge(d[["type", "hub", "m", "b", "user"]], on=["type", "hub", "m", "b"], suffixes=("", "2"))
    pairs = pairs[pairs["user"] < pairs["user2"]]
    meet = pairs.groupby(["type", "hub", "user", "user2"], sort=False).size()
    meet = meet[meet >= MIN_COACTIVITY].reset_index()[["type", "hub", "user", "user2"]]
    if not len(meet):
        return _coactivity_edges(tx.iloc[:0], links, policy, first_code)
    code = np.arange(first_code, first_code + len(meet))
    rows = pd.DataFrame({"type": np.concatenate([meet["type"], meet["type"]]),
                         "entity_id": np.concatenate([meet["hub"], meet["hub"]]),
                         "user_id": np.concatenate([meet["user"], meet["user2"]]), "ent": np.concatenate([code, code])})
    f = first.loc[list(zip(rows["type"], rows["entity_id"], rows["user_id"]))]
    hub_users = n_users.loc[list(zip(rows["type"], rows["entity_id"]))].to_numpy()
    return rows.assign(first_seen=f["min"].to_numpy(), last_seen=f["max"].to_numpy(), n=f["size"].to_numpy(),
                       n_users=hub_users, strong=True)


def _linking(edges: pd.DataFrame) -> pd.DataFrame:
    """The edges that join users: strong links to identifiers that two or more users linked to strongly."""
    e = edges[edges["strong"].to_numpy(dtype=bool)]
    k = e.groupby("ent")["user_id"].transform("size")
    return e[k.to_numpy() >= 2]


def _cluster_codes(edges: pd.DataFrame, max_component: int, seed: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """(user id array, list of arrays of user codes per cluster) over linking edges (n_users >= 2)."""
    ucode, uniq_users = pd.factorize(edges["user_id"])
    ecode, _ = pd.factorize(edges["ent"])
    n_u, n_e = len(uniq_users), int(ecode.max()) + 1 if len(ecode) else 0
    if n_u == 0:
        return np.asarray(uniq_users, dtype=object), []
    g = sparse.coo_matrix((np.ones(len(ucode), np.int8), (ucode, n_u + ecode)), shape=(n_u + n_e, n_u + n_e))
    _, lab = connected_components(g, directed=False)
    ulab = lab[:n_u]
    order = np.argsort(ulab, kind="stable")
    cuts = np.flatnonzero(np.diff(ulab[order])) + 1
    groups = np.split(order, cuts)
    out: list[np.ndarray] = []
    big = [grp for grp in groups if len(grp) > max_component]
    out.extend(grp for grp in groups if 2 <= len(grp) <= max_component)
    if big:
        # network addresses are shared by strangers (NAT, proxies, cafes) more than cards or devices are
        etype_w = np.where(edges["type"].to_numpy() == "ip", 0.5, 1.0)
        out.extend(_split_communities(big, ucode, ecode, etype_w, n_u, max_component, seed))
    return np.asarray(uniq_users, dtype=object), out


def _split_communities(big: list[np.ndarray], ucode: np.ndarray, ecode: np.ndarray, etype_w: np.ndarray,
                       n_u: int, max_component: int, seed: int) -> list[np.ndarray]:
    """Louvain communities of each large component, on the user graph projected from the identifiers.

    Two users sharing an identifier used by k users get ``w / (k - 1)`` (``w`` by type), summed over
    the identifiers they share: a device two people share binds them far more than an address twelve
    people passed through. Projecting (rather than running on the bipartite graph) keeps a busy
    identifier from pulling all its users into its own community.
    """
    import networkx as nx

    comp = np.full(n_u, -1, dtype=np.int64)
    for i, grp in enumerate(big):
        comp[grp] = i
    sel = comp[ucode] >= 0
    e = pd.DataFrame({"u": ucode[sel], "e": ecode[sel], "w": etype_w[sel]})
    k = e.groupby("e")["u"].transform("size").to_numpy()
    e["w"] = e["w"].to_numpy() / np.maximum(1, k - 1)
    pairs = e.merge(e[["u", "e"]], on="e", suffixes=("", "2"))
    pairs = pairs[pairs["u"] < pairs["u2"]]
    pw = pairs.groupby(["u", "u2"], sort=False)["w"].sum().reset_index()
    pw["c"] = comp[pw["u"].to_numpy()]
    out: list[np.ndarray] = []
    for _, part in pw.groupby("c", sort=True):
        g = nx.Graph()
        g.add_weighted_edges_from(zip(part["u"].tolist(), part["u2"].tolist(), part["w"].tolist()))
        for community in nx.community.louvain_communities(g, weight="weight", resolution=LOUVAIN_RESOLUTION, seed=seed):
            if len(community) >= 2:
                out.append(np.sort(np.fromiter(community, dtype=np.int64)))
    return out


# ---------------------------------------------------------------------------------------------- data
def _as_ms(as_of: Any) -> int | None:
    if as_of is None:
        return None
    if isinstance(as_of, (int, np.integer)):
        return int(as_of)
    if isinstance(as_of, pd.Timestamp):
        return int(as_of.value // 1_000_000)
    return parse_ts(str(as_of), "as_of")


def _read_transactions(store: Any) -> pd.DataFrame:
    cols = ["seq", "transaction_id", "ts", "user_id", "amount", "card_id", "device_id", "ip", "merchant_id",
            "currency", "is_fraud", "labelled_at"]
    frames = [f[cols] for f in store.iter_transaction_frames()]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def _known_fraud(tx: pd.DataFrame, labels: Sequence[tuple[int, Any]], as_of: int | None,
                 delay_ms: int) -> tuple[np.ndarray, set[str], set[str]]:
    """(known-fraud flag per transaction, fraudster users, victim users) from labels known at ``as_of``.

    Precedence: investigator > chargeback > file, then the later label. A label without its own time
    becomes known ``label_delay`` after its transaction.
    """
    ts = tx["ts"].to_numpy(dtype=np.int64)
    raw = pd.to_numeric(tx["is_fraud"], errors="coerce").to_numpy(dtype=float)
    lab_at = pd.to_numeric(tx["labelled_at"], errors="coerce").to_numpy(dtype=float)
    known_at = np.where(np.isnan(lab_at), ts + delay_ms, lab_at)
    visible = ~np.isnan(raw) if as_of is None else (~np.isnan(raw)) & (known_at <= as_of)
    value = np.where(visible, raw, np.nan)
    rank = np.where(visible, 0, -1).astype(np.int64)
    seqs = tx["seq"].to_numpy(dtype=np.int64)
    tx_events = [(s, lb) for s, lb in labels if lb.subject == "transaction"]
    if tx_events:
        idx = pd.Index(tx["transaction_id"]).get_indexer([lb.subject_id for _, lb in tx_events])
        for (s, lb), i in zip(tx_events, idx):
            if i < 0:
                continue
            k = lb.known_at if lb.known_at is not None else int(ts[i]) + delay_ms
            if as_of is not None and k > as_of:
                continue
            r = _SOURCE_RANK.get(lb.source, 0)
            if (r, s) > (rank[i], seqs[i] if rank[i] == 0 else -1):
                rank[i], value[i] = r, float(lb.value == "1")
                seqs[i] = s
    user_label: dict[str, tuple[int, int, str]] = {}
    for s, lb in labels:
        if lb.subject != "user" or (as_of is not None and lb.known_at is not None and lb.known_at > as_of):
            continue
        key = (_SOURCE_RANK.get(lb.source, 0), s)
        if lb.subject_id not in user_label or key > user_label[lb.subject_id][:2]:
            user_label[lb.subject_id] = (key[0], key[1], lb.value)
    fraudsters = {u for u, v in user_label.items() if v[2] == "fraudster"}
    victims = {u for u, v in user_label.items() if v[2] in ("victim", "legitimate")}
    return value == 1, fraudsters, victims


# ---------------------------------------------------------------------------------------------- detection
def detect_rings(store: Any, *, policy: LinkPolicy | None = None, min_size: int | None = None,
                 as_of: Any = None, max_component: int = MAX_COMPONENT_USERS, seed: int = 0) -> list[Ring]:
    """Find clusters of users linked through shared identifiers and rank them, best first.

    Parameters
    ----------
    store : GraphStore
        Where the transactions, links and labels are read from.
    policy : LinkPolicy, optional
        Which identifier types link users and their hub limits (default: from the settings).
    min_size : int, optional
        Fewest users in a ring (default: the ``ring_min_size`` setting, 3).
    as_of : int or str, optional
        Count only labels known at this time (epoch ms or ISO 8601); default: every stored label.
    max_component : int, default 20
        Components with more users are split into Louvain communities.
    seed : int, default 0
        Seed of the community split, so runs agree.

    Returns
    -------
    list of Ring
        Sorted by score, highest first. ``ring_id`` is the content id (:func:`ring_id_for`);
        :func:`sync_rings` replaces it with the registry's id.

    Notes
    -----
    Linear in links and transactions apart from the community split of large components. Known fraud
    follows the label rules: a user labelled fraudster, or one with a confirmed fraud transaction who is
    not labelled victim (or legitimate).

    Examples
    --------
    >>> import os, tempfile
    >>> from graphfraud.storage import open_store
    >>> from graphfraud.schema import validate_frame
    >>> from graphfraud.testing import make_transactions
    >>> df, truth = make_transactions(seed=1)
    >>> store = open_store(os.path.join(tempfile.mkdtemp(), "gf.db"))
    >>> _ = store.write_transactions(validate_frame(df.astype(str).replace("", None))[0])
    >>> rings = detect_rings(store)
    >>> [r.score for r in rings] == sorted((r.score for r in rings), reverse=True)
    True
    """
    policy = policy or LinkPolicy.from_settings()
    min_size = int(settings.get("ring_min_size") if min_size is None else min_size)
    as_ms = _as_ms(as_of)
    links = store.links_frame()
    tx = _read_transactions(store)
    edges = _linking_edges(links, policy)
    edges = pd.concat([edges, _coactivity_edges(tx, links, policy, int(edges["ent"].max()) + 1 if len(edges) else 0)],
                      ignore_index=True)
    uids, groups = _cluster_codes(_linking(edges), max_component, seed)
    groups = [g for g in groups if len(g) >= min_size]
    if not groups:
        return []
    delay_ms = int(float(settings.get("label_delay")) * 1000)  # the setting is in seconds
    fraud_tx, fraudsters, victims = _known_fraud(tx, store.labels(), as_ms, delay_ms)
    return _describe(groups, uids, edges, tx, fraud_tx, fraudsters, victims)


def _describe(groups: list[np.ndarray], uids: np.ndarray, edges: pd.DataFrame, tx: pd.DataFrame,
              fraud_tx: np.ndarray, fraudsters: set[str], victims: set[str]) -> list[Ring]:
    n_c = len(groups)
    cluster_of_user = pd.Series(np.repeat(np.arange(n_c), [len(g) for g in groups]),
                                index=uids[np.concatenate(groups)])
    # ---- per transaction: cluster, amount ratio vs the same merchant (or currency), fraud
    t_cl = tx["user_id"].map(cluster_of_user).to_numpy(dtype=float)
    amount = tx["amount"].to_numpy(dtype=float)
    merch = tx["merchant_id"].fillna("").astype(str)
    cur = tx["currency"].fillna("").astype(str)
    med_m = pd.Series(amount).groupby(merch.to_numpy()).transform("median").to_numpy()
    cnt_m = merch.map(merch.value_counts()).to_numpy()
    med_c = pd.Series(amount).groupby(cur.to_numpy()).transform("median").to_numpy()
    base = np.where((merch.to_numpy() != "") & (cnt_m >= 10), med_m, med_c)
    log_ratio = np.clip(np.log(np.maximum(amount, 0.01) / np.maximum(base, 0.01)), -3, 3)
    pop_share = (cnt_m / max(1, len(tx))) * (merch.to_numpy() != "")
    sel = ~np.isnan(t_cl)
    ctx = pd.DataFrame({"c": t_cl[sel].astype(np.int64), "ts": tx["ts"].to_numpy(np.int64)[sel],
                        "user": tx["user_id"].to_numpy()[sel], "amount": amount[sel], "lr": log_ratio[sel],
                        "m": merch.to_numpy()[sel], "ms": pop_share[sel], "fraud": fraud_tx[sel],
                        "tid": tx["transaction_id"].to_numpy()[sel]})
    data_start = int(tx["ts"].min())
    # ---- per user
    pu = ctx.groupby("user").agg(c=("c", "first"), first=("ts", "min"), last=("ts", "max"),
                                 nf=("fraud", "sum"))
    pu["kf"] = [(u in fraudsters) or (nf > 0 and u not in victims) for u, nf in zip(pu.index, pu["nf"])]
    pu["age"] = (pu["last"] - pu["first"]) / DAY_MS
    pu["start_off"] = (pu["first"] - data_start) / DAY_MS
    pc = pu.groupby("c").agg(first=("first", "min"), last=("last", "max"), fmax=("first", "max"),
                             age=("age", "median"), kf=("kf", "sum"), start_off=("start_off", "median"))
    # ---- per cluster transactions
    ctx = ctx.sort_values(["c", "ts"], kind="stable").reset_index(drop=True)
    cl = ctx["c"].to_numpy()
    tts = ctx["ts"].to_numpy()
    tc = ctx.groupby("c").agg(n=("ts", "size"), amt=("amount", "sum"), lr=("lr", "mean"), nf=("fraud", "sum"))
    starts = np.searchsorted(cl, np.arange(n_c))
    ends = np.searchsorted(cl, np.arange(n_c), side="right")
    span = int(tts.max() - tts.min()) + 1 if len(tts) else 1
    key = cl.astype(np.int64) * (span + BURST_WINDOW_DAYS * DAY_MS * 2) + (tts - (tts.min() if len(tts) else 0))
    in_win = np.searchsorted(key, key + BURST_WINDOW_DAYS * DAY_MS, side="left") - np.arange(len(key))
    user_arr = ctx["user"].to_numpy()
    mc = ctx.groupby(["c", "m"]).agg(k=("ts", "size"), share=("ms", "first"), nu=("user", "nunique"))
    mc = mc.reset_index()
    mc = mc[mc["m"] != ""].sort_values(["c", "k"], ascending=[True, False], kind="stable")
    top3 = mc.groupby("c").head(3).groupby("c").agg(k=("k", "sum"), share=("share", "sum"))
    top1 = mc.groupby("c").head(1).set_index("c")
    # ---- identifiers per cluster (hubs already out)
    e_cl = edges["user_id"].map(cluster_of_user).to_numpy(dtype=float)
    ce = edges[~np.isnan(e_cl)].assign(c=e_cl[~np.isnan(e_cl)].astype(np.int64))
    ce = ce.assign(kf=ce["user_id"].map(pu["kf"]).fillna(False).astype(bool))
    # by (type, id): the two-user links found through one hub (co-activity) are one identifier here
    ce = ce.drop_duplicates(["c", "type", "entity_id", "user_id"])
    ent = ce.groupby(["c", "type", "entity_id"]).agg(k=("user_id", "size"), n_users=("n_users", "first"),
                                                     kf=("kf", "sum"), f0=("first_seen", "min"),
                                                     f1=("first_seen", "max")).reset_index()
    ent = ent.rename(columns={"entity_id": "eid"})
    ent["personal"] = ent["type"].isin(_PERSONAL)
    n_ident = ent.groupby("c").size()
    n_cards = ent[ent["type"] == "card"].groupby("c").size()
    shared = ent[ent["k"] >= 2].sort_values(["c", "k", "kf", "personal", "type", "eid"],
                                            ascending=[True, False, False, False, True, True], kind="stable")
    shared = shared.assign(arr=(shared["f1"] - shared["f0"]) / DAY_MS)
    arrival = shared.groupby("c")["arr"].median()
    shared_by_c = {c: g for c, g in shared.groupby("c", sort=False)}
    user_by_c = {c: g for c, g in pu.groupby("c", sort=False)}
    fraud_tids = ctx.loc[ctx["fraud"], ["c", "tid"]].groupby("c")["tid"].apply(list)

    rings: list[Ring] = []
    for c in range(n_c):
        ug = user_by_c.get(c)
        if ug is None:  # users with links but no transactions (cannot happen with a consistent store)
            continue
        n = len(ug)
        a, b = starts[c], ends[c]
        j = a + int(np.argmax(in_win[a:b])) if b > a else a
        burst_n = int(in_win[j]) if b > a else 0
        burst_users = len(set(user_arr[j:j + burst_n].tolist())) if burst_n else 0
        sh = shared_by_c.get(c)
        top = sh.iloc[0] if sh is not None and len(sh) else None
        t3 = top3.loc[c] if c in top3.index else None
        t1 = top1.loc[c] if c in top1.index else None
        n_tx = int(tc.at[c, "n"])
        p = pc.loc[c]
        stats = ClusterStats(
            n_users=n, n_identifiers=int(n_ident.get(c, 0)), n_shared_identifiers=0 if sh is None else len(sh),
            n_known_fraud_users=int(p["kf"]), n_fraud_tx=int(tc.at[c, "nf"]), n_tx=n_tx,
            total_amount=float(tc.at[c, "amt"]), median_account_age_days=float(p["age"]),
            first_activity_span_days=float(p["fmax"] - p["first"]) / DAY_MS,
            active_span_days=float(p["last"] - p["first"]) / DAY_MS,
            burst_tx_share=burst_n / max(1, n_tx), burst_user_share=burst_users / n,
            max_users_per_identifier=0 if top is None else int(top["k"]),
            cards_per_user=float(n_cards.get(c, 0)) / n,
            identifier_arrival_span_days=float(arrival.get(c, 365.0)),
            mean_amount_ratio=float(np.exp(tc.at[c, "lr"])),
            merchant_concentration=0.0 if t3 is None else float(t3["k"] / n_tx - t3["share"]),
            top_merchant_users=0 if t1 is None else int(t1["nu"]),
            censored_start=bool(p["start_off"] < 2.0),
            top_identifier_type="" if top is None else str(top["type"]),
            top_identifier_id="" if top is None else str(top["eid"]),
            top_identifier_fraud_users=0 if top is None else int(top["kf"]),
            top_merchant_id="" if t1 is None else str(t1["m"]))
        score, reasons = score_cluster(stats)
        ug = ug.sort_values(["first"], kind="stable")
        users = sorted(ug.index.tolist())
        first_user = min(zip(ug["first"].tolist(), ug.index.tolist()))[1]
        shared_ids = [] if sh is None else [{"type": str(t), "id": str(e), "n_users": int(k)}
                                            for t, e, k in zip(sh["type"], sh["eid"], sh["n_users"])]
        members = [{"type": "user", "id": u} for u in users] + [{"type": s["type"], "id": s["id"]}
                                                                for s in shared_ids]
        rings.append(Ring(ring_id=ring_id_for(first_user), score=score, size=n, members=members, users=users,
                          known_fraud_users=sorted(ug.index[ug["kf"].to_numpy(dtype=bool)].tolist()),
                          known_fraud_transactions=list(fraud_tids.get(c, [])), shared_identifiers=shared_ids,
                          first_activity=int(p["first"]), last_activity=int(p["last"]),
                          total_amount=float(tc.at[c, "amt"]), reasons=reasons, stats=stats))
    rings.sort(key=lambda r: (-r.score, -r.size, r.ring_id))
    return rings


# ---------------------------------------------------------------------------------------------- registry
def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def sync_rings(store: Any, rings: list[Ring], *, min_jaccard: float = 0.5) -> list[Ring]:
    """Give detected rings their registry ids and record what changed; returns the rings, renamed.

    A detected cluster keeps the id of the active registry ring whose users it matches with Jaccard
    similarity >= ``min_jaccard`` (best matches first, one cluster per ring). A cluster that holds most
    (at least half) of the users of several active rings is their merge: the oldest id survives and the
    others are marked ``merged`` with ``merged_into``. An old ring whose users went to several clusters
    has split: the best-matching cluster keeps the id, the others are new rings that record
    ``split_from``. Rings no cluster matches are marked ``dissolved``. History rows: ``formed``,
    ``grew``, ``shrank``, ``merged``, ``split``, ``dissolved``.

    Parameters
    ----------
    store : GraphStore
        The registry (``list_rings`` / ``save_rings``).
    rings : list of Ring
        From :func:`detect_rings`, with content ids.

    Returns
    -------
    list of Ring
        The same rings, in the same order, carrying their registry ids.

    Examples
    --------
    >>> import os, tempfile
    >>> from graphfraud.storage import open_store
    >>> store = open_store(os.path.join(tempfile.mkdtemp(), "gf.db"))
    >>> r = Ring("R-x", 0.9, 3, [], ["a", "b", "c"], [], [], [], 0, 1, 10.0, [])
    >>> first = sync_rings(store, [r])[0].ring_id
    >>> r2 = Ring("R-y", 0.9, 4, [], ["a", "b", "c", "d"], [], [], [], 0, 1, 12.0, [])
    >>> sync_rings(store, [r2])[0].ring_id == first
    True
    """
    prev = store.list_rings(status="active", limit=10**9)
    old_users = {p["ring_id"]: set(p.get("users", [])) for p in prev}
    created = {p["ring_id"]: (p.get("created_at") or 0, p["ring_id"]) for p in prev}
    ring_of: dict[str, str] = {u: rid for rid, us in old_users.items() for u in us}
    new_users = [set(r.users) for r in rings]
    overlaps: list[dict[str, int]] = []
    for us in new_users:
        cnt: dict[str, int] = defaultdict(int)
        for u in us:
            if u in ring_of:
                cnt[ring_of[u]] += 1
        overlaps.append(cnt)
    history: list[dict[str, Any]] = []
    assigned: dict[int, str] = {}
    claimed: dict[str, int] = {}
    merged_into: dict[str, str] = {}
    # merges first: a cluster holding most of several old rings
    for i, cnt in enumerate(overlaps):
        covered = sorted((rid for rid, k in cnt.items() if k * 2 >= len(old_users[rid])), key=lambda x: created[x])
        if len(covered) >= 2:
            keep = covered[0]
            assigned[i], claimed[keep] = keep, i
            for rid in covered[1:]:
                merged_into[rid] = keep
                claimed[rid] = i
                history.append({"ring_id": rid, "change": "merged", "detail": {"into": keep}})
            history.append({"ring_id": keep, "change": "merged",
                            "detail": {"absorbed": covered[1:], "size": len(new_users[i])}})
    # then one-to-one matches, best Jaccard first
    cand = sorted(((_jaccard(new_users[i], old_users[rid]), i, rid) for i, cnt in enumerate(overlaps)
                   if i not in assigned for rid in cnt), key=lambda t: (-t[0], t[1], t[2]))
    for j, i, rid in cand:
        if j < min_jaccard or i in assigned or rid in claimed:
            continue
        assigned[i], claimed[rid] = rid, i
        before, after = len(old_users[rid]), len(new_users[i])
        if after != before or new_users[i] != old_users[rid]:
            change = "grew" if after > before else "shrank" if after < before else "changed"
            history.append({"ring_id": rid, "change": change, "detail": {
                "size": after, "joined": sorted(new_users[i] - old_users[rid])[:50],
                "left": sorted(old_users[rid] - new_users[i])[:50]}})
    taken = set(old_users) | set(claimed)
    try:
        taken |= {p["ring_id"] for p in store.list_rings(status=None, limit=10**9)}
    except Exception:  # a registry that cannot list every status still works with the active ones
        pass
    out_dicts: list[dict[str, Any]] = []
    splits: dict[str, list[str]] = defaultdict(list)
    for i, r in enumerate(rings):
        if i in assigned:
            r.ring_id = assigned[i]
        else:
            parents = sorted(rid for rid in overlaps[i] if rid in claimed and rid not in merged_into)
            if r.ring_id in taken:  # an old ring had this content id; salt it, deterministically
                r.ring_id = ring_id_for(r.ring_id, taken)
            taken.add(r.ring_id)
            history.append({"ring_id": r.ring_id, "change": "formed",
                            "detail": {"size": r.size, **({"split_from": parents} if parents else {})}})
            for p in parents:
                splits[p].append(r.ring_id)
        r.status, r.merged_into = "active", None
        d = r.to_dict()
        if r.ring_id in created:
            d["created_at"] = created[r.ring_id][0]
        out_dicts.append(d)
    for p, kids in splits.items():
        history.append({"ring_id": p, "change": "split", "detail": {"into": sorted(kids)}})
    for rid in old_users:
        if rid in merged_into:
            out_dicts.append({**_old_body(prev, rid), "status": "merged", "merged_into": merged_into[rid]})
        elif rid not in claimed:
            out_dicts.append({**_old_body(prev, rid), "status": "dissolved", "merged_into": None})
            history.append({"ring_id": rid, "change": "dissolved", "detail": {}})
    store.save_rings(out_dicts, history)
    return rings


def _old_body(prev: list[dict[str, Any]], rid: str) -> dict[str, Any]:
    for p in prev:
        if p["ring_id"] == rid:
            return {k: v for k, v in p.items() if k not in ("updated_at",)}
    raise KeyError(rid)


def format_rings(rings: Sequence[Ring], fmt: str = "table") -> str:
    """Rings as ``json`` (a list of ring dicts), ``csv`` (one line per ring) or a ``table`` for people.

    >>> r = Ring("R-1", 0.9, 3, [{"type": "user", "id": "a"}], ["a", "b", "c"], [], [], [], 0, 1, 10.0, ["x"])
    >>> format_rings([r], "csv").splitlines()[1]
    'R-1,0.900000,3,0,0,a b c,,1970-01-01T00:00:00Z,1970-01-01T00:00:00.001Z,10.00,x'
    """
    import csv
    import io
    import json

    from .schema import format_ts

    if fmt == "json":
        return json.dumps([r.to_dict() for r in rings], default=str) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["ring_id", "score", "size", "known_fraud_users", "known_fraud_transactions", "users",
                    "shared_identifiers", "first_activity", "last_activity", "total_amount", "reasons"])
        for r in rings:
            w.writerow([r.ring_id, f"{r.score:.6f}", r.size, len(r.known_fraud_users), len(r.known_fraud_transactions),
                        " ".join(r.users), " ".join(f"{s['type']}:{s['id']}" for s in r.shared_identifiers),
                        format_ts(r.first_activity), format_ts(r.last_activity), f"{r.total_amount:.2f}",
                        "; ".join(r.reasons)])
        return buf.getvalue()
    lines = [f"{'ring_id':<14} {'score':>5} {'size':>4} {'fraud':>5}  reasons"]
    for r in rings:
        lines.append(f"{r.ring_id:<14} {r.score:5.2f} {r.size:4d} {len(r.known_fraud_users):5d}  "
                     f"{'; '.join(r.reasons[:3])}")
    return "\n".join(lines) + "\n"
