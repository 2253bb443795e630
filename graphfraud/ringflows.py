"""Money between accounts in ring detection: who is known fraud, transfer links, and a cluster's flow.

Rings of fraudsters share identifiers; mule rings move money. Three things here feed
:func:`graphfraud.rings.detect_rings`:

* :func:`known_users`: which users count as known fraud from their transactions' labels and their user
  labels (:func:`graphfraud.labels.known_fraud_user`), with the transfer semantics: the fraud of a fraudulent
  transfer belongs to its receiver, whose payer is a victim, unless its label says the payer did it.
* :func:`fan_in`: mule networks no label has reached yet: collectors, paid by several funnels (accounts
  that pass on within a day what several payers sent them), and the accounts that pay them. They are
  suspects, and :func:`leave_homes` takes them out of their households.
* :func:`transfer_edges`: links between the two ends of a transfer.

  - **Peer to peer** (solid): users who paid each other (either way) *and* share a card (Neo4j's
    peer-to-peer example): one person behind two accounts, or accomplices.
  - **Between suspects** (thin: attaches accounts to a ring, never merges two): a transfer whose payer
    and receiver are both suspects: known fraud, a mule that is no money hub (received from known fraud
    and forwarded at least ``MULE_FORWARD_SHARE`` of it within ``FORWARD_WINDOW_MS``), or a customer of
    known fraud (:func:`repeat_payers`: paid it on separate days, and has confirmed fraud of its own). A
    scam victim who paid one mule is no suspect and joins nobody.
* :func:`cluster_flows`: a cluster's money: transfers between its members, whether money returns to where
  it started (a cycle), and its strongest pass-through account, for the ring score and its reasons.

Every constant is a product default, the same for every world.

Examples
--------
>>> pairs = pd.DataFrame({"src": ["a", "b"], "dst": ["b", "c"], "n": [2, 1], "amount": [100.0, 90.0],
...                       "first_ts": [0, 10], "last_ts": [5, 10]})
>>> sorted(suspects(pairs, {"a"}, pd.Series({"b": 0.9})))  # b passed on 90 % of what a sent within a day
['a', 'b']
"""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from . import labels as semantics
from .ringlinks import EDGE_COLUMNS

#: Receiving and sending within this long counts as passing money on (a day: data with day-resolution
#: times, as AMLSim's, shows a mule's same-day forwarding as time 0).
FORWARD_WINDOW_MS = 86_400_000
#: A mule forwards at least this share of what it received within the window.
MULE_FORWARD_SHARE = 0.5
#: A chain of mules is followed this many transfers from known fraud.
MULE_HOPS = 3
#: An account with more distinct counterparties than this is a money hub (a shop, an employer, an
#: exchange): mules pay it too, and it joins nobody unless it is known fraud itself.
MONEY_HUB_PARTNERS = 20
#: A funnel passes money on (``MULE_FORWARD_SHARE``) from at least this many payers that are no hub: a
#: mule collects from several victims; a salary swept on to savings has one payer.
FUNNEL_PAYERS = 2
#: A takeover session spans this long before and after the payments a crew made from the account.
SESSION_SLACK_MS = 86_400_000
#: A collector is paid by at least this many funnels: the cash-out end of a mule network.
COLLECTOR_FUNNELS = 3

__all__ = ["known_users", "victim_sessions", "fraud_sessions", "paid_sessions", "taken_over", "repeat_payers",
           "suspects", "money_hubs", "fan_in", "leave_homes", "transfer_edges", "FlowFacts", "flow_facts",
           "cluster_flows"]


def known_users(tx: pd.DataFrame, fraud_tx: np.ndarray, fraud_type: np.ndarray,
                user_labels: dict[str, str], received: pd.Series | None = None,
                labelled: np.ndarray | None = None) -> pd.DataFrame:
    """Per user (index) of ``tx``'s payers: ``n, nf, nfp, nvt, nrx`` and ``kf`` (known fraud).

    ``tx`` has ``user_id`` and, when transfers are stored, ``counterparty_id``; ``fraud_tx`` and
    ``fraud_type`` say which rows are known fraud now and of which type. ``nrx`` (fraudulent transfers
    received) comes from ``received`` when given (counted over every payer), else from ``tx``'s own rows.
    With ``labelled`` (whether each row's label is known, fraud or not; rows in time order), a user's
    transactions after their last labelled one are not counted against their confirmed fraud: their labels
    are still to come (a label delay, a file labelled up to a date), and a fraudster active since then is
    no less one. A user with no labelled row is counted over every transaction.
    """
    cp = tx["counterparty_id"].to_numpy(dtype=object) if "counterparty_id" in tx.columns else \
        np.full(len(tx), None, dtype=object)
    is_transfer = pd.notna(cp)
    rx_fault = is_transfer & fraud_tx & ~np.isin(fraud_type, semantics.USER_AT_FAULT)
    d = pd.DataFrame({"u": tx["user_id"].to_numpy(), "f": fraud_tx,
                      "fp": fraud_tx & np.isin(fraud_type, semantics.USER_AT_FAULT),
                      "vt": (fraud_tx & np.isin(fraud_type, semantics.USER_IS_VICTIM)) | rx_fault})
    pu = d.groupby("u").agg(n=("f", "size"), nf=("f", "sum"), nfp=("fp", "sum"), nvt=("vt", "sum"))
    if received is None:
        received = pd.Series(cp[rx_fault]).value_counts() if rx_fault.any() else pd.Series(dtype=float)
    pu["nrx"] = received.reindex(pu.index).fillna(0).astype(int).to_numpy()
    n_judged = pu["n"]
    if labelled is not None and len(d):
        if "seq" in tx.columns:  # each row's place in its user's history
            pos = pd.Series(tx["seq"].to_numpy()).groupby(d["u"].to_numpy()).rank(method="first") - 1
        else:
            pos = d.groupby("u", sort=False).cumcount()
        upto = (pos.where(np.asarray(labelled, dtype=bool)).groupby(d["u"]).max() + 1).reindex(pu.index)
        n_judged = upto.fillna(pu["n"]).astype(int)
    pu["kf"] = [semantics.known_fraud_user(user_labels.get(u), n_tx=n, n_fraud=nf, n_first_party=fp,
                                           n_victim=vt, n_received=rx)
                for u, n, nf, fp, vt, rx in zip(pu.index, n_judged, pu["nf"], pu["nfp"], pu["nvt"], pu["nrx"])]
    return pu


def victim_sessions(tx: pd.DataFrame, fraud_tx: np.ndarray, users: pd.DataFrame, max_ms: int) -> pd.DataFrame:
    """The known victims whose confirmed fraud fell within ``max_ms``: one session of a takeover (index user,
    ``first`` and ``last`` epoch ms).

    A known victim (:func:`known_users`' ``users``): confirmed fraud done to them (typed ``third_party`` or
    ``scam``, or a fraudulent transfer they paid, whose fraud is its receiver's) and not known fraud. Spread
    over days (a refund service's customer pays its fee weeks after the order), it is no session.

    >>> tx = pd.DataFrame({"user_id": ["v", "v", "v", "w", "w"], "ts": [0, 3_600_000, 9 * 86_400_000, 0, 1]})
    >>> users = pd.DataFrame({"nvt": [1, 0], "kf": [False, False]}, index=["v", "w"])
    >>> victim_sessions(tx, np.array([True, True, False, True, True]), users, 2 * 86_400_000)
       first     last
    v      0  3600000
    """
    vic = users.index[(users["nvt"].to_numpy() > 0) & ~users["kf"].to_numpy(dtype=bool)]
    return fraud_sessions(tx, fraud_tx, vic, max_ms)


def fraud_sessions(tx: pd.DataFrame, fraud_tx: np.ndarray, who: Collection[str], max_ms: int) -> pd.DataFrame:
    """The users in ``who`` whose confirmed fraud all fell within ``max_ms`` (index user, ``first`` and ``last``
    epoch ms of it). For known fraud, with :func:`taken_over`: an account a crew took over for an evening, whose
    owner went on after it (its confirmed fraud is the crew's, on the crew's devices).

    >>> tx = pd.DataFrame({"user_id": ["v", "v", "v", "f", "f"], "ts": [0, 3_600_000, 9 * 86_400_000, 0, 432_000_000]})
    >>> fraud_sessions(tx, np.array([True, True, False, True, True]), {"v", "f"}, 2 * 86_400_000)
       first     last
    v      0  3600000
    """
    mine = np.asarray(fraud_tx, dtype=bool) & tx["user_id"].isin(list(who)).to_numpy()
    span = pd.Series(tx["ts"].to_numpy(np.int64)[mine]).groupby(tx["user_id"].to_numpy()[mine]).agg(["min", "max"])
    span = span.rename(columns={"min": "first", "max": "last"}).rename_axis(None)
    return span[(span["last"] - span["first"]).to_numpy() <= max_ms]


def paid_sessions(tx: pd.DataFrame, group_of: pd.Series, max_ms: int, lived_ms: int,
                  passers: Collection[str] = (), receipts: pd.DataFrame | None = None) -> pd.DataFrame:
    """Takeovers no one has labelled yet: customers who paid members of their cluster in one session
    (``max_ms``) and have a life of ``lived_ms`` or more outside it (index user, ``first`` and ``last`` epoch
    ms of those payments, as :func:`victim_sessions`).

    A crew logs into its victims' accounts from its own device and phone and pays its drops; each victim
    does so once, and goes on as before. Not an account paid by the cluster (a drop, a mule), nor one in
    ``passers`` (accounts that pass money on: a mule pays its collector in a session too), nor one that
    received a transfer (``receipts``: ``user_id`` the receiver, ``ts``) within ``FORWARD_WINDOW_MS`` before
    the session's last payment: it paid the cluster with money passed to it, as a mule, not with its own.
    ``tx``: the clusters' transactions (``user_id``, ``ts``, ``counterparty_id``); ``group_of``: user -> cluster.

    >>> tx = pd.DataFrame({"user_id": ["v", "v", "v", "d", "d"], "ts": [0, 3_600_000, 90 * 86_400_000, 0, 1],
    ...                    "counterparty_id": [None, "d", None, "x", None]})
    >>> paid_sessions(tx, pd.Series({"v": 0, "d": 0}), 2 * 86_400_000, 30 * 86_400_000)
          first      last
    v -82800000  90000000
    """
    empty = pd.DataFrame({"first": pd.Series(dtype=np.int64), "last": pd.Series(dtype=np.int64)})
    if "counterparty_id" not in tx.columns or not len(tx):
        return empty
    u = tx["user_id"].to_numpy(dtype=object)
    cp = tx["counterparty_id"].to_numpy(dtype=object)
    ts = tx["ts"].to_numpy(np.int64)
    g_u = pd.Series(u).map(group_of).to_numpy(dtype=float)
    g_cp = pd.Series(cp).map(group_of).to_numpy(dtype=float)
    inner = pd.notna(cp) & (g_u == g_cp)  # (NaN never equals: both in the same cluster)
    if not inner.any():
        return empty
    paid = pd.Series(ts[inner]).groupby(u[inner]).agg(["min", "max"])
    life = pd.Series(ts).groupby(u).agg(["min", "max"]).reindex(paid.index)
    ok = (paid["max"] - paid["min"]).to_numpy() <= max_ms
    ok &= ((paid["min"] - life["min"]).to_numpy() >= lived_ms) | ((life["max"] - paid["max"]).to_numpy() >= lived_ms)
    ok &= ~paid.index.isin(pd.unique(cp[inner])) & ~paid.index.isin(list(passers))
    if receipts is not None and len(receipts):
        r = receipts[receipts["user_id"].isin(paid.index[ok]).to_numpy()]
        r_ts = r["ts"].to_numpy(np.int64)
        first = paid["min"].reindex(r["user_id"].to_numpy()).to_numpy(np.int64)
        last = paid["max"].reindex(r["user_id"].to_numpy()).to_numpy(np.int64)
        fed = (r_ts >= first - FORWARD_WINDOW_MS) & (r_ts <= last)
        ok &= ~paid.index.isin(pd.unique(r["user_id"].to_numpy()[fed]))
    out = paid[ok].rename(columns={"min": "first", "max": "last"}).rename_axis(None).astype(np.int64)
    # the session around the payments: the crew logs in, buys, pays, within hours of it
    return out + np.array([-SESSION_SLACK_MS, SESSION_SLACK_MS])


def repeat_payers(tx: pd.DataFrame, fraud_tx: np.ndarray, known: Collection[str], apart_ms: int) -> set[str]:
    """Customers who paid known fraud again and again and have confirmed fraud of their own: a refund
    service's customers paying its fee after each order, buyers of a shop's stolen goods.

    They paid known fraud accounts on days more than ``apart_ms`` apart (a takeover's crew drains its
    victim in one session), and a transaction of theirs that is no such payment is confirmed fraud (all
    that a scam's victim has confirmed is what it paid). ``tx``: ``user_id, ts, counterparty_id`` rows;
    ``fraud_tx``: whether each row is confirmed fraud.

    >>> tx = pd.DataFrame({"user_id": ["c", "c", "c", "v", "v", "v"],
    ...                    "ts": [0, 5 * 86_400_000, 9, 0, 9 * 86_400_000, 1],
    ...                    "counterparty_id": ["k", "k", None, "k", "k", None]})
    >>> sorted(repeat_payers(tx, np.array([False, False, True, True, True, False]), {"k"}, 2 * 86_400_000))
    ['c']
    """
    if "counterparty_id" not in tx.columns or not len(tx) or not known:
        return set()
    u = tx["user_id"].to_numpy(dtype=object)
    ts = tx["ts"].to_numpy(np.int64)
    kn = pd.Index(list(known))
    to_known = pd.Index(tx["counterparty_id"].to_numpy(dtype=object)).isin(kn) & ~pd.Index(u).isin(kn)
    if not to_known.any():
        return set()
    span = pd.Series(ts[to_known]).groupby(u[to_known]).agg(["min", "max"])
    apart = set(span.index[(span["max"] - span["min"]).to_numpy() > apart_ms].tolist())
    own = np.asarray(fraud_tx, dtype=bool) & ~to_known
    return apart & set(pd.unique(u[own]).tolist())


def taken_over(tx: pd.DataFrame, fraud_tx: np.ndarray, sessions: pd.DataFrame, known: Collection[str],
               lived_ms: int) -> set[str]:
    """The users in ``known`` whose every confirmed fraud fell within their session (``sessions``, as
    :func:`paid_sessions`) and who went on ``lived_ms`` or more after it: a takeover's victims, though most of
    what is labelled of theirs is the crew's fraud (the data sees them a few times). A fraudster known by label
    alone, or whose fraud falls outside the session, stays known; so does an account that went quiet after it
    (a bust-out's).

    >>> tx = pd.DataFrame({"user_id": ["v", "v", "f", "f"], "ts": [0, 40 * 86_400_000, 0, 1]})
    >>> sessions = pd.DataFrame({"first": [-1, -1], "last": [2, 2]}, index=["v", "f"])
    >>> sorted(taken_over(tx, np.array([True, False, True, True]), sessions, {"v", "f"}, 30 * 86_400_000))
    ['v']
    """
    cand = sessions.index[sessions.index.isin(list(known))]
    if not len(cand):
        return set()
    u, ts = tx["user_id"].to_numpy(dtype=object), tx["ts"].to_numpy(np.int64)
    mine = pd.Index(u).isin(cand)
    fr = mine & np.asarray(fraud_tx, dtype=bool)
    span = pd.Series(ts[fr]).groupby(u[fr]).agg(["min", "max"]).reindex(cand)
    last = pd.Series(ts[mine]).groupby(u[mine]).max().reindex(cand).to_numpy(dtype=float)
    s = sessions.loc[cand]
    with np.errstate(invalid="ignore"):
        ok = ((span["min"].to_numpy(dtype=float) >= s["first"].to_numpy()) & (span["max"].to_numpy(dtype=float)
              <= s["last"].to_numpy()) & (last - s["last"].to_numpy() >= lived_ms))
    return set(cand[ok].tolist())


def fraud_received(tx: pd.DataFrame, fraud_tx: np.ndarray, fraud_type: np.ndarray) -> pd.Series:
    """Fraudulent transfers each receiver is at fault for (``counterparty_id`` -> count)."""
    if "counterparty_id" not in tx.columns:
        return pd.Series(dtype=float)
    cp = tx["counterparty_id"].to_numpy(dtype=object)
    rx = pd.notna(cp) & fraud_tx & ~np.isin(fraud_type, semantics.USER_AT_FAULT)
    return pd.Series(cp[rx]).value_counts()


def forwarded_share(transfers: pd.DataFrame, window_ms: int = FORWARD_WINDOW_MS) -> pd.DataFrame:
    """Per account: ``received`` (amount), ``forwarded`` (share of it sent on within ``window_ms`` of a
    receipt, at most 1) and ``lag_ms`` (median time from a receipt to the next send; NaN without one).

    ``transfers``: one row per transfer, ``user_id`` (payer), ``counterparty_id``, ``amount``, ``ts``.
    A send counts as forwarding when a receipt came at most ``window_ms`` before it (same-time sends
    count: day-resolution data). One sort per side, one ``searchsorted``.
    """
    t = transfers
    inc = pd.DataFrame({"a": t["counterparty_id"].to_numpy(), "ts": t["ts"].to_numpy(np.int64),
                        "amt": t["amount"].to_numpy(dtype=float)})
    out = pd.DataFrame({"a": t["user_id"].to_numpy(), "ts": t["ts"].to_numpy(np.int64),
                        "amt": t["amount"].to_numpy(dtype=float)})
    codes, names = pd.factorize(pd.concat([inc["a"], out["a"]], ignore_index=True))
    ci, co = codes[:len(inc)], codes[len(inc):]
    if not len(names):
        return pd.DataFrame(columns=["received", "forwarded", "lag_ms"])
    span = int(max(inc["ts"].max(), out["ts"].max()) - min(inc["ts"].min(), out["ts"].min())) + 2 * window_ms + 1
    base = int(min(inc["ts"].min(), out["ts"].min()))
    ki = np.sort(ci.astype(np.int64) * span + (inc["ts"].to_numpy(np.int64) - base))
    ko = co.astype(np.int64) * span + (out["ts"].to_numpy(np.int64) - base)
    # the latest receipt at or before each send, of the same account
    j = np.searchsorted(ki, ko, side="right") - 1
    prev = np.where(j >= 0, ki[np.maximum(j, 0)], -1)
    same = (j >= 0) & (prev // span == co)
    lag = np.where(same, ko - prev, np.nan)
    fwd = same & (lag <= window_ms)
    n = len(names)
    received = np.bincount(ci, weights=inc["amt"].to_numpy(), minlength=n)
    sent_on = np.bincount(co[fwd], weights=out["amt"].to_numpy()[fwd], minlength=n)
    lag_s = pd.Series(lag[same]).groupby(co[same]).median().reindex(np.arange(n)).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(received > 0, np.minimum(1.0, sent_on / np.where(received > 0, received, 1.0)), 0.0)
    return pd.DataFrame({"received": received, "forwarded": share, "lag_ms": lag_s}, index=np.asarray(names))


def suspects(pairs: pd.DataFrame, known: set[str], forwarded: pd.Series, hubs: set[str] | None = None) -> set[str]:
    """Accounts whose transfers join rings: known fraud, and mules that are no money hub
    (``MONEY_HUB_PARTNERS``): paid by known fraud or by a mule, and ``forwarded`` at least
    ``MULE_FORWARD_SHARE`` of their receipts within the window, up to ``MULE_HOPS`` transfers from known
    fraud (a chain passing money on). Being paid by known fraud alone makes no suspect: mules pay shops,
    sellers and exchanges too, and those keep the money. ``hubs``: :func:`money_hubs` of ``pairs``, when known."""
    if not len(pairs):
        return set(known)
    src, dst = pairs["src"].to_numpy(dtype=object), pairs["dst"].to_numpy(dtype=object)
    hubs = money_hubs(pairs) if hubs is None else hubs
    passes = set(forwarded.index[forwarded.to_numpy(dtype=float) >= MULE_FORWARD_SHARE].tolist()) - hubs
    out, frontier = set(known), set(known)
    for _ in range(MULE_HOPS):
        paid = set(dst[pd.Index(src).isin(list(frontier))].tolist())  # (hashed: np.isin on objects compares pairwise)
        frontier = (paid & passes) - out
        if not frontier:
            break
        out |= frontier
    return out


def money_hubs(pairs: pd.DataFrame) -> set[str]:
    """Accounts with more than ``MONEY_HUB_PARTNERS`` distinct counterparties in the transfer ``pairs``."""
    src, dst = pairs["src"].to_numpy(dtype=object), pairs["dst"].to_numpy(dtype=object)
    ends = pd.DataFrame({"u": np.r_[src, dst], "v": np.r_[dst, src]}).drop_duplicates()
    partners = ends.groupby("u").size()
    return set(partners.index[partners.to_numpy() > MONEY_HUB_PARTNERS].tolist())


def fan_in(pairs: pd.DataFrame, forwarded: pd.Series, hubs: set[str] | None = None) -> set[str]:
    """Mule networks without a label: collectors and the accounts that pay them.

    A *funnel* passed on at least ``MULE_FORWARD_SHARE`` of its receipts within the window (``forwarded``)
    and was paid by ``FUNNEL_PAYERS`` or more accounts; a *collector* was paid by ``COLLECTOR_FUNNELS``
    funnels or more. Returned: the collectors, and every account that paid one and was itself paid by
    ``FUNNEL_PAYERS`` or more (a funnel that forwarded later than a day). Hubs (``MONEY_HUB_PARTNERS``) are
    none of these, and their payments count for nothing.

    >>> pairs = pd.DataFrame({"src": ["v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "m1", "m2", "m3", "m4", "s"],
    ...                       "dst": ["m1", "m1", "m2", "m2", "m3", "m3", "m4", "m4", "c", "c", "c", "c", "c"]})
    >>> sorted(fan_in(pairs, pd.Series({"m1": 0.9, "m2": 0.8, "m3": 1.0, "m4": 0.1, "s": 1.0})))
    ['c', 'm1', 'm2', 'm3', 'm4']
    """
    if not len(pairs):
        return set()
    src, dst = pairs["src"].to_numpy(dtype=object), pairs["dst"].to_numpy(dtype=object)
    hubs = money_hubs(pairs) if hubs is None else hubs
    pair = pd.DataFrame({"s": src, "d": dst})
    pair = pair[~pair["s"].isin(hubs) & ~pair["d"].isin(hubs)]
    payers = pair.groupby("d")["s"].nunique()
    paid_by_many = set(payers.index[payers.to_numpy() >= FUNNEL_PAYERS].tolist())
    funnels = paid_by_many & set(forwarded.index[forwarded.to_numpy(dtype=float) >= MULE_FORWARD_SHARE].tolist())
    fed = pair[pair["s"].isin(funnels)].groupby("d")["s"].nunique()
    collectors = set(fed.index[fed.to_numpy() >= COLLECTOR_FUNNELS].tolist())
    feeders = pair.loc[pair["d"].isin(collectors) & pair["s"].isin(paid_by_many), "s"]
    return collectors | set(feeders.tolist())


def leave_homes(edges: pd.DataFrame, fan: set[str]) -> pd.DataFrame:
    """``edges`` (user-identifier links) without the links of ``fan`` accounts (:func:`fan_in`) to
    identifiers that others use and no other of them does: a mule recruited from a family still lives there,
    but its money, not its home, says which ring it belongs to (a thin money link never pulls an account out
    of a household of three). Identifiers two of them share (a herder's device) stay.

    >>> e = pd.DataFrame({"user_id": ["m1", "mum", "m1", "m2"], "ent": [1, 1, 2, 2]})
    >>> leave_homes(e, {"m1", "m2"})["user_id"].tolist()
    ['mum', 'm1', 'm2']
    """
    if not fan or not len(edges):
        return edges
    mine = edges["user_id"].isin(fan).to_numpy()
    ent = edges["ent"].to_numpy()
    n_fan = pd.Series(mine).groupby(ent).transform("sum").to_numpy()
    others = np.isin(ent, edges.loc[~mine, "ent"].unique())
    return edges[~(mine & others & (n_fan < 2))]


def repeat_near(pairs: pd.DataFrame, near: pd.DataFrame, apart_ms: int) -> np.ndarray:
    """For each of the transfer ``pairs``: was it paid on days more than ``apart_ms`` apart, between two
    accounts that share an identifier (``near``: ``user_id, ent`` links)? A refund service's customer orders
    from the crew's device and pays its fee weeks later, again after the next order; a takeover's crew uses
    its device on its victim and drains the account that evening.

    >>> pairs = pd.DataFrame({"src": ["cust", "victim", "friend"], "dst": ["crew", "crew", "crew"],
    ...                       "first_ts": [0, 0, 0], "last_ts": [14 * 86_400_000, 3_600_000, 14 * 86_400_000]})
    >>> near = pd.DataFrame({"user_id": ["crew", "cust", "victim"], "ent": [7, 7, 7]})
    >>> repeat_near(pairs, near, 2 * 86_400_000).tolist()
    [True, False, False]
    """
    out = np.zeros(len(pairs), dtype=bool)
    if not len(pairs) or not len(near):
        return out
    cand = np.flatnonzero((pairs["last_ts"].to_numpy(np.int64) - pairs["first_ts"].to_numpy(np.int64)) > apart_ms)
    if not len(cand):
        return out
    c = pd.DataFrame({"i": cand, "src": pairs["src"].to_numpy(dtype=object)[cand],
                      "dst": pairs["dst"].to_numpy(dtype=object)[cand]})
    links = near[["user_id", "ent"]].drop_duplicates()
    payer = c.merge(links, left_on="src", right_on="user_id")[["i", "dst", "ent"]]
    both = payer.merge(links, left_on=["dst", "ent"], right_on=["user_id", "ent"])
    out[both["i"].unique()] = True
    return out


def transfer_edges(pairs: pd.DataFrame, suspect: set[str], cards: pd.DataFrame, first_code: int,
                   near: np.ndarray | None = None) -> pd.DataFrame:
    """Two-user links (the edge format of :func:`graphfraud.ringlinks.linking_edges`, type ``transfer``,
    ``entity_id`` ``payer>receiver``) for transfers between two suspects, between users who paid each
    other and share a card (``cards``: ``user_id, entity_id`` of shared cards), and for the pairs ``near``
    marks (:func:`repeat_near`). Peer-to-peer links are solid; the others are thin: they attach accounts to
    a ring, never merge two rings (known fraud accounts of different rings pay one another and the same
    cash-out accounts; tried as solid links on the mules worlds, they merged rings and decoys: ring recall
    33 % and 60 % against 50 % and 60 % thin, seeds 31 and 32)."""
    if not len(pairs):
        return pd.DataFrame(columns=EDGE_COLUMNS)
    src, dst = pairs["src"].to_numpy(dtype=object), pairs["dst"].to_numpy(dtype=object)
    a, b = np.where(src < dst, src, dst), np.where(src < dst, dst, src)
    both = pd.Index(src).isin(list(suspect)) & pd.Index(dst).isin(list(suspect))
    p2p = np.zeros(len(pairs), dtype=bool)
    if len(cards):
        card_pairs = cards.merge(cards, on="entity_id", suffixes=("_a", "_b"))
        card_pairs = card_pairs[card_pairs["user_id_a"] < card_pairs["user_id_b"]]
        shared = pd.MultiIndex.from_arrays([card_pairs["user_id_a"].to_numpy(), card_pairs["user_id_b"].to_numpy()])
        p2p = pd.MultiIndex.from_arrays([a, b]).isin(shared)
    keep = (both | p2p | (near if near is not None else False)) & (src != dst)
    if not keep.any():
        return pd.DataFrame(columns=EDGE_COLUMNS)
    p = pd.DataFrame({"a": a[keep], "b": b[keep], "src": src[keep], "dst": dst[keep],
                      "n": pairs["n"].to_numpy()[keep], "f": pairs["first_ts"].to_numpy()[keep],
                      "l": pairs["last_ts"].to_numpy()[keep], "solid": p2p[keep]})
    # one link per pair of users, whichever way the money went
    p = p.groupby(["a", "b"], sort=True).agg(src=("src", "first"), dst=("dst", "first"), n=("n", "sum"),
                                             f=("f", "min"), l=("l", "max"), solid=("solid", "max")).reset_index()
    code = np.arange(first_code, first_code + len(p))
    name = (p["src"].astype(str) + ">" + p["dst"].astype(str)).to_numpy()
    return pd.DataFrame({"type": "transfer", "entity_id": np.r_[name, name],
                         "user_id": np.r_[p["a"].to_numpy(), p["b"].to_numpy()],
                         "first_seen": np.r_[p["f"].to_numpy(), p["f"].to_numpy()],
                         "last_seen": np.r_[p["l"].to_numpy(), p["l"].to_numpy()],
                         "n": np.r_[p["n"].to_numpy(), p["n"].to_numpy()], "ent": np.r_[code, code], "n_users": 2,
                         "strong": True, "links": True, "arrived": False,
                         "thin": ~np.r_[p["solid"].to_numpy(), p["solid"].to_numpy()], "coactivity": False})


@dataclass
class FlowFacts:
    """What detection knows about money for the clusters: transfer pairs, known fraud accounts, and each
    account's receipts from known fraud and forwarding."""

    pairs: pd.DataFrame
    known: set[str]
    forwarding: pd.DataFrame  # per account: received, forwarded, lag_ms
    from_fraud: pd.DataFrame  # per account: n (transfers from known fraud), senders (distinct)
    hubs: set[str]  # money hubs (:func:`money_hubs`)
    receipts: pd.DataFrame  # one row per transfer received: user_id (the receiver), ts
    complicit: set[str]  # customers of known fraud (:func:`repeat_payers`), no money hub


def flow_facts(pairs: pd.DataFrame, transfers: pd.DataFrame, known: set[str],
               complicit: Collection[str] = ()) -> FlowFacts:
    """:class:`FlowFacts` from the transfer pairs, the transfer rows (``user_id, counterparty_id, amount,
    ts``), the known fraud accounts and their customers (``complicit``, :func:`repeat_payers`; money hubs
    are none)."""
    fwd = forwarded_share(transfers)
    ks = pairs["src"].isin(list(known)).to_numpy()
    ff = pairs[ks].groupby("dst").agg(n=("n", "sum"), senders=("src", "nunique"))
    receipts = pd.DataFrame({"user_id": transfers["counterparty_id"].to_numpy(dtype=object),
                             "ts": transfers["ts"].to_numpy(np.int64)})
    hubs = money_hubs(pairs)
    return FlowFacts(pairs, known, fwd, ff, hubs, receipts, set(complicit) - hubs)


def cluster_flows(cluster_of: pd.Series, n_clusters: int, facts: FlowFacts | None) -> list[dict[str, object]]:
    """Each cluster's money, for :class:`graphfraud.ringscore.ClusterStats` (``cluster_of``: user -> cluster
    number): ``flow_users`` (members in a transfer with another member), ``flow_transfers``,
    ``flow_amount``, ``flow_cycle`` (money returns to where it started, through members), the member paid
    by most other members: ``collector_id``, ``collector_payers``, ``collector_transfers``, and the member
    who received most transfers from known fraud: ``mule_id``, ``mule_fraud_transfers``,
    ``mule_fraud_senders``, ``mule_forwarded``, ``mule_lag_hours``."""
    out: list[dict[str, object]] = [
        {"flow_users": 0, "flow_transfers": 0, "flow_amount": 0.0, "flow_cycle": False, "collector_id": "",
         "collector_payers": 0, "collector_transfers": 0, "mule_id": "",
         "mule_fraud_transfers": 0, "mule_fraud_senders": 0, "mule_forwarded": 0.0, "mule_lag_hours": float("nan")}
        for _ in range(n_clusters)]
    if facts is None or not len(facts.pairs):
        return out
    p = facts.pairs
    cs = p["src"].map(cluster_of).to_numpy(dtype=float)
    cd = p["dst"].map(cluster_of).to_numpy(dtype=float)
    sel = (cs == cd) & (p["src"] != p["dst"]).to_numpy()  # (NaN: not in a cluster, never equal)
    if sel.any():
        inside = p[sel].assign(c=cs[sel].astype(np.int64))
        c = inside["c"].to_numpy()
        codes, names = pd.factorize(np.r_[inside["src"].to_numpy(dtype=object), inside["dst"].to_numpy(dtype=object)])
        s, d = codes[:len(inside)], codes[len(inside):]
        n = len(names)
        # one graph for every cluster: no transfer leaves a cluster here, so neither does a cycle
        _, scc = connected_components(sparse.coo_matrix((np.ones(len(s)), (s, d)), shape=(n, n)), directed=True,
                                      connection="strong")
        in_cycle = np.bincount(scc)[scc] > 1
        node_c = np.empty(n, dtype=np.int64)
        node_c[s], node_c[d] = c, c
        users = np.bincount(node_c, minlength=n_clusters)
        cycle = np.bincount(node_c, weights=in_cycle, minlength=n_clusters) > 0
        per = inside.groupby("c").agg(t=("n", "sum"), a=("amount", "sum"))
        paid = inside.groupby(["c", "dst"]).agg(k=("src", "nunique"), n=("n", "sum")).reset_index()
        top = paid.sort_values(["c", "k", "n", "dst"], ascending=[True, False, False, True],
                               kind="stable").drop_duplicates("c")
        per = per.join(top.set_index("c"))
        for ci, t, a, dst_id, k, nk in zip(per.index.tolist(), per["t"].tolist(), per["a"].tolist(),
                                          per["dst"].tolist(), per["k"].tolist(), per["n"].tolist()):
            out[ci].update(flow_users=int(users[ci]), flow_transfers=int(t), flow_amount=float(a),
                           flow_cycle=bool(cycle[ci]), collector_id=str(dst_id), collector_payers=int(k),
                           collector_transfers=int(nk))
    ff = facts.from_fraud.assign(c=facts.from_fraud.index.map(cluster_of)).dropna(subset=["c"])
    if len(ff):
        ff = ff.rename_axis("u").reset_index().sort_values(["c", "n", "senders", "u"],
                                                           ascending=[True, False, False, True], kind="stable")
        top = ff.drop_duplicates("c")
        fw = facts.forwarding.reindex(top["u"].to_numpy())
        for c, u, k, snd, f, lag in zip(top["c"], top["u"], top["n"], top["senders"], fw["forwarded"].fillna(0.0),
                                        fw["lag_ms"]):
            out[int(c)].update(mule_id=str(u), mule_fraud_transfers=int(k), mule_fraud_senders=int(snd),
                               mule_forwarded=float(f), mule_lag_hours=float(lag) / 3_600_000)
    return out
