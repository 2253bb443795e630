"""Fraud rings: clusters of users linked through shared identifiers, ranked, and kept in a registry.

Detection builds the bipartite graph of users and the linking identifiers they used (cards, devices,
IPs, emails, ... as :class:`~graphfraud.graph.policy.LinkPolicy` says). Hubs (carrier NAT, default device
ids) link nobody; a network address links only a home's few users, a crew's short-lived proxy, or users
who arrived on it in a burst; accounts meeting through a busy address at the same merchant within the
hour, twice in a few days, are linked too. *Solid* links (cards, devices, homes) make components; *thin*
ones (busy addresses, meetings) attach stragglers to them but never merge two rings. A customer's link to
a short-lived account through a card or device only the two share (a stolen card) is dropped, and
components too large to be one ring are split into communities (Louvain, fixed seed). Each cluster is
described by the plain numbers of :class:`~graphfraud.ringscore.ClusterStats` and scored by
:func:`~graphfraud.ringscore.score_cluster`, the same function the live engine calls. See docs/rings.md.

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
>>> found = detect_rings(store)
>>> [r.score for r in found] == sorted((r.score for r in found), reverse=True)
True
>>> rings = sync_rings(store, found)
>>> rings[0].ring_id.startswith("R-") and rings[0].size >= 3
True
>>> store.get_ring(rings[0].ring_id)["size"] == rings[0].size
True
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from . import labels as semantics
from . import progress, settings
from .graph.policy import LinkPolicy
from . import ringburst as burst
from . import ringflows as flows
from . import ringmerchants
from .ringlinks import (BURST_HUB_FACTOR, BURST_WINDOW_DAYS, COACTIVITY_BUCKET_MS, DAY_MS, EPISODE_DAYS,
                        LIFETIME_GAP_DAYS, MAX_COMPONENT_USERS, MAX_MEETING_USERS, PERSONAL_TYPES, cluster_codes,
                        coactivity_edges, components, joining, linking_edges, split_lifetimes, split_loose)
from .ringlearn import learn_from_labels
from .ringscore import ClusterStats, score_cluster
from .schema import LABEL_SOURCES, Label, parse_ts
from .storage.roles import GraphStore, LinkReads

__all__ = ["Ring", "RingSource", "WholeReads", "detect_rings", "find_clusters", "sync_rings", "plan_registry",
           "ring_id_for", "format_rings", "ClusterStats", "score_cluster"]

BASELINE_SAMPLE_ROWS = 250_000  # typical amounts are estimated from about this many transactions
CARD_TEST_RATIO = 0.1  # a card first used for a tenth of the usual amount (or less) was being tested
_SOURCE_RANK = {s: i for i, s in enumerate(LABEL_SOURCES)}
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
    edges = linking_edges(links, policy)
    users, ents = cluster_codes(joining(edges), max_component, seed)
    return [sorted(users[c].tolist()) for c in ents if len(c) >= min_size]


# ---------------------------------------------------------------------------------------------- data
def _as_ms(as_of: Any) -> int | None:
    if as_of is None:
        return None
    if isinstance(as_of, (int, np.integer)):
        return int(as_of)
    if isinstance(as_of, pd.Timestamp):
        return int(as_of.value // 1_000_000)
    return parse_ts(str(as_of), "as_of")


class RingSource(LinkReads, Protocol):
    """What ring detection reads: a store's narrow reads (:class:`~graphfraud.storage.roles.LinkReads`),
    its labels and its sequence. Every store is one; :class:`WholeReads` makes one of any store's whole
    links and transactions."""

    def labels(self, after_seq: int = 0) -> list[tuple[int, Label]]: ...
    def last_seq(self) -> int: ...


class WholeSource(Protocol):
    """The whole reads :class:`WholeReads` computes the narrow ones from."""

    def links_frame(self) -> Any: ...
    def iter_transaction_frames(self, chunk_size: int = 200_000, after_seq: int = 0) -> Iterator[Any]: ...
    def labels(self, after_seq: int = 0) -> list[tuple[int, Label]]: ...
    def last_seq(self) -> int: ...


class _Source:
    """What detection reads from a store, shaped for it, asking for no more than it needs (each read is
    one query of the store)."""

    def __init__(self, store: RingSource) -> None:
        self.store = store

    def shared_links(self, types: Sequence[str], min_users: int, max_users: int) -> pd.DataFrame:
        return self.store.shared_links_frame(list(types), min_users, max_users)

    def user_activity(self, users: Sequence[str]) -> pd.DataFrame:
        """Per user (index): ``n_tx`` and ``first_ts``, the time of the account's first transaction."""
        f = self.store.user_activity_frame(list(users))
        return pd.DataFrame({"n_tx": f["n_tx"].to_numpy(), "first_ts": f["first_ts"].to_numpy()},
                            index=f["user_id"].to_numpy())

    def n_users(self, typ: str, entity_ids: Sequence[str]) -> np.ndarray:
        return np.array([self.store.count_links(typ, e) for e in entity_ids], dtype=np.int64)

    def meetings(self, column: str, bucket_ms: int, max_users: int,
                 entities: Sequence[str] | None = None) -> pd.DataFrame:
        return self.store.meetings_frame(column, bucket_ms, max_users, entities)

    def transactions_of_users(self, users: Sequence[str] | None, columns: Sequence[str]) -> pd.DataFrame:
        return self.store.transactions_of_users(None if users is None else list(users), list(columns))

    def amount_baseline(self) -> pd.DataFrame:
        """Typical amounts per (merchant, currency), from a 1-in-k systematic sample of large stores."""
        step = max(1, int(self.store.last_seq()) // BASELINE_SAMPLE_ROWS)
        return self.store.amount_baseline_frame(step)


class WholeReads:
    """The narrow reads of :class:`RingSource` computed from a source's whole links and transactions
    (read once each): the reference the stores' queries are tested against.

    >>> import os, tempfile
    >>> from graphfraud.storage import open_store
    >>> store = open_store(os.path.join(tempfile.mkdtemp(), "gf.db"))
    >>> detect_rings(WholeReads(store))
    []
    >>> store.close()
    """

    def __init__(self, store: WholeSource) -> None:
        self.store = store
        self._links: pd.DataFrame | None = None
        self._tx: pd.DataFrame | None = None

    def labels(self, after_seq: int = 0) -> list[tuple[int, Label]]:
        return self.store.labels(after_seq)

    def last_seq(self) -> int:
        return self.store.last_seq()

    def _all_links(self) -> pd.DataFrame:
        if self._links is None:
            self._links = self.store.links_frame()
        return self._links

    def _all_tx(self) -> pd.DataFrame:
        if self._tx is None:
            self._tx = _read_transactions(self.store)
        return self._tx

    def shared_links_frame(self, types: Sequence[str], min_users: int = 2, max_users: int | None = None
                           ) -> pd.DataFrame:
        lk = self._all_links()
        lk = lk[lk["type"].isin(list(types))]
        k = lk.groupby(["type", "entity_id"], sort=False)["user_id"].transform("size").to_numpy()
        keep = (k >= min_users) & (k <= (2**62 if max_users is None else max_users))
        return lk.assign(n_users=k)[keep].reset_index(drop=True)

    def user_activity_frame(self, user_ids: Sequence[str] | None = None) -> pd.DataFrame:
        tx = self._all_tx()
        t = tx if user_ids is None else tx[tx["user_id"].isin(list(user_ids))]
        return t.groupby("user_id").agg(n_tx=("ts", "size"), first_ts=("ts", "min")).reset_index()

    def users_with_links(self, node_type: str, min_links: int) -> list[str]:
        k = self._all_links().loc[lambda f: f["type"] == node_type].groupby("user_id").size()
        return [str(u) for u in k.index[k.to_numpy() >= min_links]]

    def count_links(self, node_type: str, node_id: str) -> int:
        lk = self._all_links()
        return int(((lk["type"] == node_type) & (lk["entity_id"] == node_id)).sum())

    def meetings_frame(self, column: str, bucket_ms: int, max_users: int,
                       entities: Sequence[str] | None = None) -> pd.DataFrame:
        tx = self._all_tx()
        if entities is None:
            lk = self._all_links()
            k = lk[lk["type"] == _COLUMN_TYPE[column]].groupby("entity_id").size()
            entities = k.index[k.to_numpy() >= 2]
        t = tx[tx[column].isin(list(entities)) & tx["merchant_id"].notna()]
        d = pd.DataFrame({"entity_id": t[column].to_numpy(), "merchant_id": t["merchant_id"].to_numpy(),
                          "bucket": t["ts"].to_numpy(np.int64) // bucket_ms, "user_id": t["user_id"].to_numpy(),
                          "first_ts": t["ts"].to_numpy(np.int64)})
        key = ["entity_id", "merchant_id", "bucket"]
        d["first_ts"] = d.groupby(key, sort=False)["first_ts"].transform("min")
        d = d.drop_duplicates(key + ["user_id"])
        k = d.groupby(key, sort=False)["user_id"].transform("size").to_numpy()
        return d[(k >= 2) & (k <= max_users)].reset_index(drop=True)

    def transactions_of_users(self, user_ids: Sequence[str] | None, columns: Sequence[str]) -> pd.DataFrame:
        tx = self._all_tx()
        if user_ids is None:
            return tx[list(columns)].reset_index(drop=True)
        return tx.loc[tx["user_id"].isin(list(user_ids)), list(columns)].reset_index(drop=True)

    def amount_baseline_frame(self, sample_every: int = 1) -> pd.DataFrame:
        tx = self._all_tx()
        tx = tx[tx["seq"].to_numpy(dtype=np.int64) % sample_every == 0]
        la = np.log(np.maximum(tx["amount"].to_numpy(dtype=float), 0.01))
        g = pd.DataFrame({"merchant_id": tx["merchant_id"].to_numpy(), "currency": tx["currency"].to_numpy(),
                          "la": la, "ts": tx["ts"].to_numpy(np.int64)})
        return g.groupby(["merchant_id", "currency"], dropna=False, sort=False).agg(
            n=("la", "size"), sum_log_amount=("la", "sum"), first_ts=("ts", "min")).reset_index()

    def transfer_totals(self) -> pd.DataFrame:
        return _transfer_totals(_transfers(self._all_tx()))


def _transfers(tx: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``tx`` that are transfers (a ``counterparty_id``), ``ts`` and ``amount`` as numbers."""
    t = tx[tx["counterparty_id"].notna().to_numpy()]
    return t.assign(ts=t["ts"].to_numpy(np.int64), amount=pd.to_numeric(t["amount"]).to_numpy(dtype=float))


def _transfer_totals(t: pd.DataFrame) -> pd.DataFrame:
    """Per (payer, receiver): the columns of a store's ``transfer_totals``."""
    out = t.groupby(["user_id", "counterparty_id"], sort=False).agg(
        n=("ts", "size"), amount=("amount", "sum"), first_ts=("ts", "min"), last_ts=("ts", "max")).reset_index()
    return out.rename(columns={"user_id": "src", "counterparty_id": "dst"})


_COLUMN_TYPE = {"ip": "ip", "device_id": "device", "card_id": "card"}


def _read_transactions(store: WholeSource) -> pd.DataFrame:
    cols = ["seq", "transaction_id", "ts", "user_id", "amount", "card_id", "device_id", "ip", "merchant_id",
            "currency", "is_fraud", "labelled_at", "fraud_type", "counterparty_id"]
    frames = [f[cols] for f in store.iter_transaction_frames()]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def _known_fraud(tx: pd.DataFrame, labels: Sequence[tuple[int, Any]], as_of: int | None,
                 delay_ms: int) -> tuple[np.ndarray, np.ndarray, dict[str, str], np.ndarray]:
    """(known-fraud flag per transaction, its fraud type, each labelled user's winning user label, whether
    the transaction's label, fraud or not, is known) from labels known at ``as_of``.

    Precedence: investigator > chargeback > file, then the later label. A label without its own time
    becomes known ``label_delay`` after its transaction.
    """
    ts = tx["ts"].to_numpy(dtype=np.int64)
    raw = pd.to_numeric(tx["is_fraud"], errors="coerce").to_numpy(dtype=float)
    lab_at = pd.to_numeric(tx["labelled_at"], errors="coerce").to_numpy(dtype=float)
    known_at = np.where(np.isnan(lab_at), ts + delay_ms, lab_at)
    visible = ~np.isnan(raw) if as_of is None else (~np.isnan(raw)) & (known_at <= as_of)
    value = np.where(visible, raw, np.nan)
    ftype = (tx["fraud_type"] if "fraud_type" in tx.columns else pd.Series([None] * len(tx))).to_numpy(
        dtype=object).copy()
    rank = np.where(visible, 0, -1).astype(np.int64)
    seqs = tx["seq"].to_numpy(dtype=np.int64, copy=True)  # written below (pandas may hand out a read-only view)
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
                ftype[i] = lb.fraud_type
                seqs[i] = s
    user_label: dict[str, tuple[int, int, str]] = {}
    for s, lb in labels:
        if lb.subject != "user" or (as_of is not None and lb.known_at is not None and lb.known_at > as_of):
            continue
        key = (_SOURCE_RANK.get(lb.source, 0), s)
        if lb.subject_id not in user_label or key > user_label[lb.subject_id][:2]:
            user_label[lb.subject_id] = (key[0], key[1], lb.value)
    fraud = value == 1
    return (fraud, np.asarray(np.where(fraud, ftype, None)), {u: v[2] for u, v in user_label.items()},
            ~np.isnan(value))


# ---------------------------------------------------------------------------------------------- detection
def detect_rings(store: RingSource, *, policy: LinkPolicy | None = None, min_size: int | None = None,
                 as_of: Any = None, max_component: int = MAX_COMPONENT_USERS, seed: int = 0) -> list[Ring]:
    """Find clusters of users linked through shared identifiers and rank them, best first.

    Parameters
    ----------
    store : RingSource
        Where the transactions, links and labels are read from: a store, or :class:`WholeReads` of one.
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
    follows the label semantics of :func:`graphfraud.labels.known_fraud_user` (a user labelled fraudster or
    mule, one with first-party fraud, or one whose transactions are mostly confirmed fraud). An embedded store
    reads its file through a memory map meanwhile (:func:`graphfraud.storage.txframe.mapped_reads`). The
    module's example runs it.
    """
    with getattr(store, "mapped_reads", nullcontext)():
        return _detect(store, policy or LinkPolicy.from_settings(), _as_ms(as_of), max_component, seed,
                       int(settings.get("ring_min_size") if min_size is None else min_size))


def _detect(store: RingSource, policy: LinkPolicy, as_ms: int | None, max_component: int, seed: int, min_size: int
            ) -> list[Ring]:
    src = _Source(store)
    with progress.phase("reading links"):
        edges = _detection_edges(src, policy)
    delay_ms = int(float(settings.get("label_delay")) * 1000)  # the setting is in seconds
    labels = store.labels()
    with progress.phase("following money flows"):
        facts = _flow_facts(store, src, labels, as_ms, delay_ms)
        passers: set[str] = set()  # accounts that pass money on: no one's victims
        if facts is not None:  # money between suspects, and users who paid each other and share a card
            cards = edges.loc[edges["type"].to_numpy() == "card", ["user_id", "entity_id"]].drop_duplicates()
            fan = flows.fan_in(facts.pairs, facts.forwarding["forwarded"], facts.hubs)
            sus = flows.suspects(facts.pairs, facts.known | fan, facts.forwarding["forwarded"], facts.hubs)
            sus |= facts.complicit  # (paid known fraud: linked to it, passing nothing on to others)
            edges = flows.leave_homes(edges, fan)
            fwd = facts.forwarding["forwarded"]
            passers = fan | set(fwd.index[fwd.to_numpy(dtype=float) >= flows.MULE_FORWARD_SHARE].tolist())
            device = ((edges["type"].to_numpy() == "device") & edges["strong"].to_numpy(dtype=bool)
                      & edges["links"].to_numpy(dtype=bool))
            near = flows.repeat_near(facts.pairs, edges.loc[device, ["user_id", "ent"]], int(EPISODE_DAYS * DAY_MS))
            fl = flows.transfer_edges(facts.pairs, sus, cards, int(edges["ent"].max()) + 1 if len(edges) else 0, near)
            if len(fl):
                edges = pd.concat([edges, fl], ignore_index=True)
    with progress.phase("finding merchants' crews"):
        edges = _with_merchant_edges(edges, src, labels, as_ms, delay_ms)
    with progress.phase(f"clustering {len(edges):,} links"):
        linking = joining(edges)
        uids, groups = components(linking)
        groups = [g for g in groups if len(g) >= min_size]
    if not groups:
        return []
    with progress.phase(f"reading the transactions of {len(groups):,} clusters"):
        users = uids[np.concatenate(groups)].tolist()
        tx = src.transactions_of_users(users, _TX_COLUMNS)
        tx = tx.sort_values("seq", kind="stable").reset_index(drop=True)
        fraud_tx, fraud_type, user_labels, labelled = _known_fraud(tx, labels, as_ms, delay_ms)
        ku = flows.known_users(tx, fraud_tx, fraud_type, user_labels, labelled=labelled)
        kf = ku["kf"]
        victims = flows.victim_sessions(tx, fraud_tx, ku, int(EPISODE_DAYS * DAY_MS))
        group_of = pd.Series(np.repeat(np.arange(len(groups)), [len(g) for g in groups]), index=users)
        paid = flows.paid_sessions(tx, group_of, int(EPISODE_DAYS * DAY_MS), int(LIFETIME_GAP_DAYS * DAY_MS), passers,
                                   None if facts is None else facts.receipts)
        victims = pd.concat([victims.assign(paid=False), paid[~paid.index.isin(victims.index)].assign(paid=True)])
        known = set(kf.index[kf.to_numpy(dtype=bool)].tolist())
        known -= flows.taken_over(tx, fraud_tx, paid, known, int(LIFETIME_GAP_DAYS * DAY_MS))
        # known fraud by untyped labels alone whose every confirmed fraud fell in one evening, and who went on for a
        # month after it: perhaps an account a crew took over on its own devices (no transfer to find it by); the
        # session rule decides by the crew's weeks on what they shared (split_lifetimes, ``evening``)
        own = (ku["nfp"].to_numpy() > 0) | (ku["nrx"].to_numpy() > 0)
        untyped = [u for u in ku.index[~own] if u in known and user_labels.get(u) is None]
        evening = flows.fraud_sessions(tx, fraud_tx, untyped, int(EPISODE_DAYS * DAY_MS))
        taken = flows.taken_over(tx, fraud_tx, evening, known, int(LIFETIME_GAP_DAYS * DAY_MS))
        evening = evening[evening.index.isin(list(taken)) & ~evening.index.isin(victims.index)]
        victims = pd.concat([victims.assign(evening=False), evening.assign(paid=False, evening=True)])
        groups = [g for g in split_lifetimes(groups, uids, linking, tx, known, victims) if len(g) >= min_size]
        # the pieces of a crew its merchant links are one ring once the families they sat in are cut
        read = linking[linking["user_id"].isin(users).to_numpy()]  # (the accounts whose transactions are in tx)
        groups = [g for g in ringmerchants.join_crews(groups, uids, read) if len(g) >= min_size]
        # large loose clusters are split into communities once the customers are off them (their links to the one
        # member who used their home's address or card would otherwise outweigh the crew's shared devices)
        groups = [g for g in split_loose(groups, uids, linking, max_component, seed) if len(g) >= min_size]
    if not groups:
        return []
    with progress.phase(f"describing {len(groups):,} rings"):
        # money is described by its own numbers, bust-outs by the members' buying together
        edges = edges[~np.isin(edges["type"].to_numpy(), ["transfer", "bustout", "crew_merchant"])]
        return _describe(groups, uids, edges, tx, src.amount_baseline(), fraud_tx, fraud_type, user_labels, facts,
                         labelled, known=kf)


def _with_merchant_edges(edges: pd.DataFrame, src: _Source, labels: Sequence[tuple[int, Any]], as_ms: int | None,
                        delay_ms: int) -> pd.DataFrame:
    """``edges`` and the links between the regulars of merchants that look like a crew's, and between the accounts
    cycling cards through larger ones (:func:`graphfraud.ringmerchants.merchant_edges`, from the labels known at
    ``as_ms``, the cards paid with, and the accounts that used enough cards to cycle them)."""
    links = src.shared_links(["merchant"], ringmerchants.MIN_REGULARS, ringmerchants.MAX_MERCHANT_CUSTOMERS)
    cyclers = src.store.users_with_links("card", ringmerchants.CYCLED_CARDS)
    # (a transaction's id only to find the labels given to it after it was stored)
    given = any(lb.subject == "transaction" for _, lb in labels)
    columns = [c for c in _LABEL_COLUMNS if given or c != "transaction_id"] + ["card_id"]

    def charges(users: Sequence[str]) -> pd.DataFrame:
        tx = src.transactions_of_users(users, columns)
        fraud, _, _, labelled = _known_fraud(tx, labels, as_ms, delay_ms)
        return tx[["user_id", "merchant_id", "card_id", "ts"]].assign(fraud=fraud, labelled=labelled)

    me = ringmerchants.merchant_edges(links, charges, int(edges["ent"].max()) + 1 if len(edges) else 0, cyclers,
                                      lambda ms: src.n_users("merchant", ms))
    return pd.concat([edges, me], ignore_index=True) if len(me) else edges


def _flow_facts(store: RingSource, src: _Source, labels: Sequence[tuple[int, Any]], as_ms: int | None,
                delay_ms: int) -> flows.FlowFacts | None:
    """The store's transfers (those made by ``as_ms``) and who among their users is known fraud then;
    ``None`` when the store holds no transfers."""
    pairs = store.transfer_totals()
    if not len(pairs):
        return None
    tusers = pd.unique(pd.concat([pairs["src"], pairs["dst"]], ignore_index=True)).tolist()
    # (in the store's order, whichever way it was read: sums over it come out the same)
    ttx = src.transactions_of_users(tusers, _FLOW_COLUMNS).sort_values("seq", kind="stable", ignore_index=True)
    if as_ms is not None:
        ttx = ttx[ttx["ts"].to_numpy(np.int64) <= as_ms].reset_index(drop=True)
    fraud_tx, fraud_type, user_labels, labelled = _known_fraud(ttx, labels, as_ms, delay_ms)
    received = flows.fraud_received(ttx, fraud_tx, fraud_type)
    ku = flows.known_users(ttx, fraud_tx, fraud_type, user_labels, received, labelled)
    known = set(ku.index[ku["kf"].to_numpy(dtype=bool)].tolist())
    # accounts that only receive: known by their user label, or by a fraudulent transfer they received
    known |= {u for u, v in user_labels.items() if v in semantics.FRAUD_USER_LABELS and u not in ku.index}
    known |= {u for u in received.index if u not in ku.index and user_labels.get(u) is None}
    t = _transfers(ttx)
    if as_ms is not None:  # the totals of the transfers made by then
        pairs = _transfer_totals(t)
    return flows.flow_facts(pairs, t, known, flows.repeat_payers(ttx, fraud_tx, known, int(EPISODE_DAYS * DAY_MS)))


_TX_COLUMNS = ["seq", "transaction_id", "ts", "user_id", "amount", "card_id", "merchant_id", "currency", "is_fraud",
               "labelled_at", "fraud_type", "counterparty_id"]
_LABEL_COLUMNS = ["seq", "transaction_id", "ts", "user_id", "merchant_id", "is_fraud", "labelled_at", "fraud_type"]
# (money needs no card, merchant or currency: three columns of text fewer to read for every account in a transfer)
_FLOW_COLUMNS = [c for c in _TX_COLUMNS if c not in ("card_id", "merchant_id", "currency")]


def _detection_edges(src: _Source, policy: LinkPolicy) -> pd.DataFrame:
    """Every user-identifier edge detection uses: shared identifiers (flagged) and co-activity links."""
    types = sorted(t for t in policy.link_types)
    max_users = max(policy.hub_limit(t) for t in types) * BURST_HUB_FACTOR
    # canonical order, so that codes, and with them the seeded community split, do not depend on how a
    # store returns its rows
    links = src.shared_links(types, 2, max_users).sort_values(["type", "entity_id", "user_id"], kind="stable")
    links = links.reset_index(drop=True)
    once = links.loc[pd.to_numeric(links["n"]).to_numpy() < 2, "user_id"].unique()
    act = src.user_activity(once.tolist()) if len(once) else pd.DataFrame({"n_tx": [], "first_ts": []})
    edges = linking_edges(links, policy, act["n_tx"], pd.to_numeric(act["first_ts"]))
    parts = []
    for col, typ in _COLUMN_TYPE.items():
        if not policy.links(typ):
            continue
        ents = None
        if typ != "ip":  # below their hub limit these link directly; only their hubs need meetings
            hubs = src.shared_links([typ], policy.hub_limit(typ) + 1, 2**62)
            if not len(hubs):
                continue
            ents = hubs["entity_id"].unique().tolist()
        m = src.meetings(col, COACTIVITY_BUCKET_MS, MAX_MEETING_USERS, ents)
        if len(m):
            parts.append(m.assign(type=typ).sort_values(["entity_id", "merchant_id", "bucket", "user_id"],
                                                        kind="stable"))
    co = coactivity_edges(pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(),
                           int(edges["ent"].max()) + 1 if len(edges) else 0)
    if len(co):
        known = dict(zip(zip(links["type"], links["entity_id"]), links["n_users"]))
        ids = co[["type", "entity_id"]].drop_duplicates()
        nu = {}
        for typ, grp in ids.groupby("type"):
            miss = [e for e in grp["entity_id"] if (typ, e) not in known]
            nu.update(dict(zip(((typ, e) for e in miss), src.n_users(typ, miss))))
        nu.update(known)
        co["n_users"] = [int(nu[k]) for k in zip(co["type"], co["entity_id"])]
    edges = pd.concat([edges, co], ignore_index=True) if len(co) else edges
    # accounts whose bust-outs met (sleepers that share nothing until they strike)
    bo = burst.read_bustout_edges(src.transactions_of_users, lambda ms: src.n_users("merchant", ms),
                                  int(edges["ent"].max()) + 1 if len(edges) else 0)
    return pd.concat([edges, bo], ignore_index=True) if len(bo) else edges


def _describe(groups: list[np.ndarray], uids: np.ndarray, edges: pd.DataFrame, tx: pd.DataFrame,
              base: pd.DataFrame, fraud_tx: np.ndarray, fraud_type: np.ndarray,
              user_labels: dict[str, str], facts: flows.FlowFacts | None = None,
              labelled: np.ndarray | None = None, *, known: pd.Series) -> list[Ring]:
    n_c = len(groups)
    cluster_of_user = pd.Series(np.repeat(np.arange(n_c), [len(g) for g in groups]),
                                index=uids[np.concatenate(groups)])
    # ---- per transaction: cluster, amount ratio vs the same merchant (or currency), fraud
    t_cl = tx["user_id"].map(cluster_of_user).to_numpy(dtype=float)
    amount = tx["amount"].to_numpy(dtype=float)
    merch = tx["merchant_id"].fillna("").astype(str)
    # typical amount: geometric mean at the same merchant (10+ transactions), else in the same currency,
    # from per-(merchant, currency) totals over every transaction
    b = pd.DataFrame({"m": base["merchant_id"].fillna("").astype(str).to_numpy(),
                      "c": base["currency"].fillna("").astype(str).to_numpy(),
                      "n": base["n"].to_numpy(dtype=float), "sl": base["sum_log_amount"].to_numpy(dtype=float)})
    bm = b.groupby("m")[["n", "sl"]].sum()
    bc = b.groupby("c")[["n", "sl"]].sum()
    n_all = max(1.0, float(b["n"].sum()))
    cnt_m = merch.map(bm["n"]).fillna(0).to_numpy(dtype=float)
    mu_m = merch.map(bm["sl"] / bm["n"]).to_numpy(dtype=float)
    mu_c = tx["currency"].fillna("").astype(str).map(bc["sl"] / bc["n"]).to_numpy(dtype=float)
    log_base = np.where((merch.to_numpy() != "") & (cnt_m >= 10), mu_m, mu_c)
    log_ratio = np.clip(np.nan_to_num(np.log(np.maximum(amount, 0.01)) - log_base), -3, 3)
    pop_share = (cnt_m / n_all) * (merch.to_numpy() != "")
    sel = ~np.isnan(t_cl)
    # clusters with a transaction whose label is known: the ones the ranking may learn from
    lab_c = np.bincount(t_cl[sel & labelled].astype(np.int64), minlength=n_c) if labelled is not None else \
        np.ones(n_c, dtype=np.int64)
    ctx = pd.DataFrame({"c": t_cl[sel].astype(np.int64), "ts": tx["ts"].to_numpy(np.int64)[sel],
                        "user": tx["user_id"].to_numpy()[sel], "amount": amount[sel], "lr": log_ratio[sel],
                        "m": merch.to_numpy()[sel], "ms": pop_share[sel], "fraud": fraud_tx[sel],
                        "fp": fraud_tx[sel] & np.isin(fraud_type[sel], semantics.USER_AT_FAULT),
                        "tid": tx["transaction_id"].to_numpy()[sel], "card": tx["card_id"].to_numpy()[sel]})
    data_start = int(pd.to_numeric(base["first_ts"]).min()) if len(base) else int(tx["ts"].min())
    data_start = min(data_start, int(tx["ts"].min()))  # a sampled baseline may miss the very first rows
    # ---- per user
    pu = ctx.groupby("user").agg(c=("c", "first"), first=("ts", "min"), last=("ts", "max"), n=("ts", "size"),
                                 nf=("fraud", "sum"), nfp=("fp", "sum"))
    # members that made no transaction of their own (accounts that only received transfers) are members too:
    # no age, idleness or count of their own
    absent = cluster_of_user.index[~cluster_of_user.index.isin(pu.index)]
    if len(absent):
        pu = pd.concat([pu, pd.DataFrame({"c": cluster_of_user[absent].to_numpy(), "n": 0, "nf": 0, "nfp": 0},
                                         index=absent)])
    # known fraud per user of ``tx``, by their labels (split_lifetimes took a paid session's victims off it)
    kf = known.reindex(pu.index).fillna(False)
    if facts is not None:  # known over all their transfers, received ones included
        kf |= pu.index.isin(list(facts.known))
    pu["kf"] = kf.astype(bool)
    pu["hasf"] = pu["nf"].to_numpy() > 0
    # an account seen once has no age to tell (a customer who bought once is not a new account)
    pu["age"] = ((pu["last"] - pu["first"]) / DAY_MS).where(pu["n"] >= 2)
    # days from each member's last transaction to the end of what the store holds: throwaway accounts go
    # quiet once used; customers keep buying
    data_end = int(tx["ts"].max())
    pu["idle"] = (data_end - pu["last"]) / DAY_MS
    pu["start_off"] = (pu["first"] - data_start) / DAY_MS
    pu["seen"] = (data_end - pu["first"]) / DAY_MS  # how long the data could watch the account
    pu["ntx"] = pu["n"].where(pu["n"] > 0)
    pc = pu.groupby("c").agg(first=("first", "min"), last=("last", "max"), fmax=("first", "max"),
                             age=("age", "median"), idle=("idle", "median"), ntx=("ntx", "median"), kf=("kf", "sum"),
                             fu=("hasf", "sum"),
                             start_off=("start_off", "median"), seen=("seen", "median"))
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
    # buying at the same merchant on the same day as another member: shopping together, or striking together
    day = ctx["ts"].to_numpy(np.int64) // DAY_MS
    sync_g = pd.DataFrame({"c": ctx["c"].to_numpy(), "m": ctx["m"].to_numpy(), "d": day, "u": user_arr})
    sync_g = sync_g[sync_g["m"] != ""]
    nu_md = sync_g.groupby(["c", "m", "d"])["u"].transform("nunique").to_numpy()
    together = sync_g[nu_md >= 2]
    tog_tx = together.groupby("c").size()
    tog_users = together.groupby("c")["u"].nunique()
    tog_m = together.groupby(["c", "m"])["u"].nunique().rename("k").reset_index()
    tog_m = tog_m.sort_values(["c", "k", "m"], ascending=[True, False, True], kind="stable").drop_duplicates("c")
    tog_m = tog_m.set_index("c")
    # ---- identifiers per cluster (hubs already out)
    e_cl = edges["user_id"].map(cluster_of_user).to_numpy(dtype=float)
    ce = edges[~np.isnan(e_cl)].assign(c=e_cl[~np.isnan(e_cl)].astype(np.int64))
    ce = ce.assign(kf=ce["user_id"].map(pu["kf"]).fillna(False).astype(bool))
    # by (type, id): the two-user links found through one hub (co-activity) are one identifier here
    ce = ce.drop_duplicates(["c", "type", "entity_id", "user_id"])
    opened = ce["opened_here"].eq(True) if "opened_here" in ce.columns else False
    ce = ce.assign(opened=opened)
    ent = ce.groupby(["c", "type", "entity_id"]).agg(k=("user_id", "size"), n_users=("n_users", "first"),
                                                     kf=("kf", "sum"), f0=("first_seen", "min"),
                                                     f1=("first_seen", "max"), op=("opened", "sum")).reset_index()
    ent = ent.rename(columns={"entity_id": "eid"})
    ent["personal"] = ent["type"].isin(PERSONAL_TYPES)
    # every card in the cluster's own transactions (shared or not), plus its other shared identifiers
    own = pd.DataFrame({"c": t_cl[sel].astype(np.int64), "id": tx["card_id"].to_numpy()[sel]}).dropna()
    n_cards = own.drop_duplicates().groupby("c").size()
    n_ident = n_cards.add(ent[ent["type"] != "card"].groupby("c").size(), fill_value=0)
    shared = ent[ent["k"] >= 2].sort_values(["c", "k", "kf", "personal", "type", "eid"],
                                            ascending=[True, False, False, False, True, True], kind="stable")
    shared = shared.assign(arr=(shared["f1"] - shared["f0"]) / DAY_MS)
    arrival = shared.groupby("c")["arr"].median()
    fraud_tids = ctx.loc[ctx["fraud"], ["c", "tid"]].groupby("c")["tid"].apply(list).to_dict()
    shared_cards, tested_cards = _card_tests(ctx)
    # plain per-cluster columns, so the loop below does no pandas indexing
    rng_c = np.arange(n_c)

    def col(frame: pd.DataFrame | pd.Series, name: str | None = None, fill: Any = 0) -> list[Any]:
        ser = frame if name is None else frame[name]
        return ser.reindex(rng_c).fillna(fill).tolist() if len(ser) else [fill] * n_c

    tc_n, tc_amt, tc_lr, tc_nf = col(tc, "n"), col(tc, "amt", 0.0), col(tc, "lr", 0.0), col(tc, "nf")
    pc_first, pc_last, pc_fmax = col(pc, "first"), col(pc, "last"), col(pc, "fmax")
    pc_age, pc_kf, pc_off = col(pc, "age", 365.0), col(pc, "kf"), col(pc, "start_off", 0.0)
    pc_fu = col(pc, "fu")
    pc_idle, pc_ntx, pc_seen = col(pc, "idle", 0.0), col(pc, "ntx", 0.0), col(pc, "seen", 365.0)
    t3_k, t3_share = col(top3, "k", np.nan), col(top3, "share", 0.0)
    tog_tx_l, tog_u_l = col(tog_tx), col(tog_users)
    tog_m_id, tog_m_k = col(tog_m, "m", ""), col(tog_m, "k", 0)
    t1_nu, t1_m = col(top1, "nu", 0), col(top1, "m", "")
    n_id_l, n_cards_l, arr_l = col(n_ident), col(n_cards), col(arrival, None, 365.0)
    sh_sorted = shared.reset_index(drop=True)
    sh_c = sh_sorted["c"].to_numpy()
    sh_a, sh_b = np.searchsorted(sh_c, rng_c), np.searchsorted(sh_c, rng_c, side="right")
    sh_type, sh_eid = sh_sorted["type"].astype(str).tolist(), sh_sorted["eid"].astype(str).tolist()
    sh_k, sh_kf = sh_sorted["k"].astype(int).tolist(), sh_sorted["kf"].astype(int).tolist()
    sh_op = sh_sorted["op"].astype(int).tolist()
    sh_nu = pd.to_numeric(sh_sorted["n_users"]).fillna(0).astype(int).tolist()
    pu_s = pu.sort_values(["c", "first"], kind="stable")
    pu_c = pu_s["c"].to_numpy()
    pu_a, pu_b = np.searchsorted(pu_c, rng_c), np.searchsorted(pu_c, rng_c, side="right")
    pu_users, pu_first = pu_s.index.tolist(), pu_s["first"].tolist()
    pu_kf = pu_s["kf"].to_numpy(dtype=bool).tolist()
    in_win_l = in_win

    money = flows.cluster_flows(cluster_of_user, n_c, facts)

    rings: list[Ring] = []
    ring_c: list[int] = []
    ring_stats: list[ClusterStats] = []
    for c in range(n_c):
        ua, ub = int(pu_a[c]), int(pu_b[c])
        n = ub - ua
        dated = [(f, u) for f, u in zip(pu_first[ua:ub], pu_users[ua:ub]) if f == f]  # (NaN: no transaction)
        if not dated:  # users with links but no transactions (cannot happen with a consistent store)
            continue
        a, b = starts[c], ends[c]
        j = a + int(np.argmax(in_win_l[a:b])) if b > a else a
        burst_n = int(in_win_l[j]) if b > a else 0
        burst_users = len(set(user_arr[j:j + burst_n].tolist())) if burst_n else 0
        sa, sb = int(sh_a[c]), int(sh_b[c])
        has_top = sb > sa
        has_t3 = not np.isnan(t3_k[c])
        n_tx = int(tc_n[c])
        stats = ClusterStats(
            n_users=n, n_identifiers=int(n_id_l[c]), n_shared_identifiers=sb - sa,
            n_known_fraud_users=int(pc_kf[c]), n_fraud_tx=int(tc_nf[c]), n_tx=n_tx,
            n_fraud_tx_users=int(pc_fu[c]),
            total_amount=float(tc_amt[c]), median_account_age_days=float(pc_age[c]),
            first_activity_span_days=float(pc_fmax[c] - pc_first[c]) / DAY_MS,
            active_span_days=float(pc_last[c] - pc_first[c]) / DAY_MS,
            burst_tx_share=burst_n / max(1, n_tx), burst_user_share=burst_users / n,
            max_users_per_identifier=sh_k[sa] if has_top else 0,
            cards_per_user=float(n_cards_l[c]) / n,
            identifier_arrival_span_days=float(arr_l[c]),
            mean_amount_ratio=float(np.exp(tc_lr[c])),
            merchant_concentration=float(t3_k[c] / n_tx - t3_share[c]) if has_t3 else 0.0,
            median_idle_days=float(pc_idle[c]), median_user_tx=float(pc_ntx[c]),
            together_tx_share=float(tog_tx_l[c]) / max(1, n_tx), together_user_share=float(tog_u_l[c]) / n,
            together_merchant_id=str(tog_m_id[c]), together_merchant_users=int(tog_m_k[c]),
            top_merchant_users=int(t1_nu[c]) if has_t3 else 0,
            censored_start=bool(pc_off[c] < 2.0), median_seen_days=float(pc_seen[c]),
            top_identifier_type=sh_type[sa] if has_top else "",
            top_identifier_id=sh_eid[sa] if has_top else "",
            top_identifier_fraud_users=sh_kf[sa] if has_top else 0,
            top_identifier_opened=sh_op[sa] if has_top else 0,
            top_merchant_id=str(t1_m[c]) if has_t3 else "",
            shared_cards=int(shared_cards.get(c, 0)), tested_cards=int(tested_cards.get(c, 0)),
            **money[c])  # type: ignore[arg-type]
        score, reasons = score_cluster(stats)
        us = pu_users[ua:ub]
        users = sorted(us)
        first_user = min(dated)[1]
        shared_ids = [{"type": sh_type[i], "id": sh_eid[i], "n_users": sh_nu[i]} for i in range(sa, sb)]
        members = [{"type": "user", "id": u} for u in users] + [{"type": x["type"], "id": x["id"]}
                                                                for x in shared_ids]
        rings.append(Ring(ring_id=ring_id_for(first_user), score=score, size=n, members=members, users=users,
                          known_fraud_users=sorted(u for u, k in zip(us, pu_kf[ua:ub]) if k),
                          known_fraud_transactions=list(fraud_tids.get(c, [])), shared_identifiers=shared_ids,
                          first_activity=int(pc_first[c]), last_activity=int(pc_last[c]),
                          total_amount=float(tc_amt[c]), reasons=reasons, stats=stats))
        ring_c.append(c)
        ring_stats.append(stats)
    learnt = learn_from_labels(ring_stats, [r.score for r in rings], [lab_c[c] > 0 for c in ring_c])
    if learnt is not None:
        for r, score, why in zip(rings, *learnt):
            r.score = score
            if why:
                r.reasons.insert(1, why)
    rings.sort(key=lambda r: (-r.score, -r.size, r.ring_id))
    return rings


def _card_tests(ctx: pd.DataFrame) -> tuple[dict[int, int], dict[int, int]]:
    """Per cluster: cards used by two or more members, and of them those *tested*: first used in the cluster
    for at most ``CARD_TEST_RATIO`` of the usual amount at that merchant, and later for the usual or more.
    ``ctx`` is sorted by cluster and time (columns ``c, card, user, lr``: log amount ratio)."""
    d = ctx[ctx["card"].notna().to_numpy()]
    g = d.groupby(["c", "card"], sort=False)
    per = pd.DataFrame({"nu": g["user"].nunique(), "lr0": g["lr"].first(), "lr1": g["lr"].max()})
    shared = per["nu"].to_numpy() >= 2
    tested = shared & (per["lr0"].to_numpy() <= np.log(CARD_TEST_RATIO)) & (per["lr1"].to_numpy() >= 0.0)
    cl = per.index.get_level_values(0).to_numpy()
    return (pd.Series(shared.astype(int)).groupby(cl).sum().to_dict(),
            pd.Series(tested.astype(int)).groupby(cl).sum().to_dict())


# ---------------------------------------------------------------------------------------------- registry
def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def sync_rings(store: GraphStore, rings: list[Ring], *, min_jaccard: float = 0.5) -> list[Ring]:
    """Give detected rings their registry ids and record what changed (:func:`plan_registry`, then the
    store's ``save_rings``); returns the rings, renamed."""
    store.save_rings(*plan_registry(store, rings, min_jaccard=min_jaccard))
    return rings


def plan_registry(store: GraphStore, rings: list[Ring], *, min_jaccard: float = 0.5
                  ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Give detected rings their registry ids; return what to save (``save_rings``'s rings and history).

    Reads the registry and writes nothing, so the server's refresher plans at idle priority and saves
    apart (:func:`graphfraud.ringrefresh.detect_when_idle`).

    A detected cluster keeps the id of the active registry ring whose users it matches with Jaccard
    similarity >= ``min_jaccard`` (best matches first, one cluster per ring), or else of an unmatched
    ring at least half of whose users it holds (the ring grew). A cluster that holds most
    (at least half) of the users of several active rings is their merge: the oldest id survives and the
    others are marked ``merged`` with ``merged_into``. An old ring whose users went to several clusters
    has split: the best-matching cluster keeps the id, the others are new rings that record
    ``split_from``. Rings no cluster matches are marked ``dissolved``. History rows: ``formed``,
    ``grew``, ``shrank``, ``merged``, ``split``, ``dissolved``.

    Parameters
    ----------
    store : GraphStore
        The registry (``list_rings``).
    rings : list of Ring
        From :func:`detect_rings`, with content ids; given their registry ids in place.

    Returns
    -------
    (rings, history)
        The ring rows to save (the detected ones, then the old ones merged or dissolved) and the history rows.

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

    def keep_id(i: int, rid: str) -> None:
        assigned[i], claimed[rid] = rid, i
        before, after = len(old_users[rid]), len(new_users[i])
        if after != before or new_users[i] != old_users[rid]:
            change = "grew" if after > before else "shrank" if after < before else "changed"
            history.append({"ring_id": rid, "change": change, "detail": {
                "size": after, "joined": sorted(new_users[i] - old_users[rid])[:50],
                "left": sorted(old_users[rid] - new_users[i])[:50]}})

    for j, i, rid in cand:
        if j < min_jaccard or i in assigned or rid in claimed:
            continue
        keep_id(i, rid)
    # then growth: a cluster still holding at least half of an unmatched ring's users is that ring grown
    # (a ring of 3 seen again with 9 keeps its id, though their Jaccard similarity is 1/3)
    grown = sorted(((cnt[rid] / len(old_users[rid]), i, rid) for i, cnt in enumerate(overlaps) if i not in assigned
                    for rid in cnt if rid not in claimed and cnt[rid] * 2 >= len(old_users[rid])),
                   key=lambda t: (-t[0], t[1], t[2]))
    for _, i, rid in grown:
        if i not in assigned and rid not in claimed:
            keep_id(i, rid)
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
    return out_dicts, history


def _old_body(prev: list[dict[str, Any]], rid: str) -> dict[str, Any]:
    for p in prev:
        if p["ring_id"] == rid:
            return {k: v for k, v in p.items() if k not in ("updated_at",)}
    raise KeyError(rid)


def format_rings(rings: Sequence[Ring], fmt: str = "table", raw: bool = False) -> str:
    """Rings as ``json`` (a list of ring dicts), ``csv`` (one line per ring) or a ``table`` for people.

    ``csv`` goes through :func:`graphfraud.output.csv_writer`: cells that a spreadsheet would run as a
    formula are neutralised unless ``raw``.

    >>> r = Ring("R-1", 0.9, 3, [{"type": "user", "id": "a"}], ["a", "b", "c"], [], [], [], 0, 1, 10.0, ["x"])
    >>> format_rings([r], "csv").splitlines()[1]
    'R-1,0.900000,3,0,0,a b c,,1970-01-01T00:00:00Z,1970-01-01T00:00:00.001Z,10.00,x'
    """
    import io
    import json

    from .output import csv_writer, visible
    from .schema import format_ts

    if fmt == "json":
        return json.dumps([r.to_dict() for r in rings], default=str) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        w = csv_writer(buf, raw=raw, lineterminator="\n")
        w.writerow(["ring_id", "score", "size", "known_fraud_users", "known_fraud_transactions", "users",
                    "shared_identifiers", "first_activity", "last_activity", "total_amount", "reasons"])
        for r in rings:
            w.writerow([r.ring_id, f"{r.score:.6f}", r.size, len(r.known_fraud_users), len(r.known_fraud_transactions),
                        " ".join(r.users), " ".join(f"{s['type']}:{s['id']}" for s in r.shared_identifiers),
                        format_ts(r.first_activity), format_ts(r.last_activity), f"{r.total_amount:.2f}",
                        "; ".join(r.reasons)])
        return buf.getvalue()
    lines = [f"{'ring_id':<14} {'score':>5} {'size':>4} {'fraud':>5}  reasons"]
    for r in rings:  # a table is read on a terminal: ids in the reasons cannot hide characters there
        lines.append(f"{r.ring_id:<14} {r.score:5.2f} {r.size:4d} {len(r.known_fraud_users):5d}  "
                     f"{visible('; '.join(r.reasons[:3]), terminal=True)}")
    return "\n".join(lines) + "\n"
