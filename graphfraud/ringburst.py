"""Accounts that bust out together: the link a sleeper ring shows only when it strikes.

A sleeper ring's accounts live ordinary lives for weeks, each on its own card, device and home address, and
share nothing until the day they are cashed out, all within hours, at the same few merchants. What links them
is that day itself: each account suddenly does far more than its own history explains (a *bust-out*), and
the bust-outs of the ring's accounts fall in the same hours at the same merchants. Customers have busy days
too (a holiday, a move), but two customers' busy days seldom meet at two merchants within the same hours,
and a flash sale that brings dozens of customers to one merchant at once is a crowd, not a ring.

:func:`bustout_edges` turns the transactions of a store's accounts into two-user links between accounts
whose bust-outs met (:func:`bustouts` finds them, :func:`struck_together` links them). The links are *thin*
(:func:`graphfraud.ringlinks.cluster_codes`): they attach accounts to a ring and make a ring of accounts that
share nothing else, but never merge two rings. Every constant is a product default (docs/rings.md explains each).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from .ringlinks import EDGE_COLUMNS, pairs_within_runs, poisson_sf

__all__ = ["bustout_edges", "bustouts", "read_bustout_edges", "struck_together"]

DAY_MS = 86_400_000
BUSTOUT_WINDOW_DAYS = 1.0  # an account's busiest day (24 hours from one of its transactions) ...
MIN_BUSTOUT_TX = 3  # ... with at least this many transactions ...
BUSTOUT_P = 1e-4  # ... that its own rate makes this unlikely (Poisson upper tail) ...
BUSTOUT_SPEND_SHARE = 0.25  # ... and that holds at least this share of all its spending, is a bust-out
MIN_OBSERVED_DAYS = 7.0  # an account's own rate is measured over at least this many days
BUSTOUT_BUCKET_MS = 6 * 3_600_000  # two bust-outs meet at a merchant when they buy there in the same 6 hours
MIN_BUSTOUT_MERCHANTS = 2  # ... at this many different merchants
MIN_BUSTOUT_JACCARD = 0.0  # ... and at least this share of the merchants of the two bust-outs together
MAX_BUSTOUT_GROUP = 30  # more bust-outs than this at one merchant within 6 hours are a crowd (a sale)


def bustouts(tx: pd.DataFrame) -> pd.DataFrame:
    """The transactions of each account's bust-out, if it has one.

    An account's busiest window of ``BUSTOUT_WINDOW_DAYS`` (opened by one of its transactions) is a
    bust-out when it holds ``MIN_BUSTOUT_TX`` transactions or more, when the account's own rate (its other
    transactions, plus one, over its lifetime of at least ``MIN_OBSERVED_DAYS``) puts that many there with
    probability below ``BUSTOUT_P``, and when it holds ``BUSTOUT_SPEND_SHARE`` of its spending or more.

    ``tx`` has columns ``user_id, ts`` (epoch ms) and ``amount``, and any others (``merchant_id``, ``seq``);
    the result has the same columns, the rows of the bust-outs (by account, then time). Merchants play no
    part in finding them: a caller reading a large store can read them for the bust-outs' rows only.
    Vectorised: one sort of integer codes, one ``searchsorted``.

    Examples
    --------
    >>> day = 86_400_000
    >>> quiet = [("a", i * 9 * day, "M1", 20.0) for i in range(6)]
    >>> busy = [("a", 60 * day + h * 3_600_000, "M2", 300.0) for h in range(4)]
    >>> tx = pd.DataFrame(quiet + busy, columns=["user_id", "ts", "merchant_id", "amount"])
    >>> bustouts(tx)["merchant_id"].tolist()
    ['M2', 'M2', 'M2', 'M2']
    """
    if not len(tx):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in tx.columns})
    # accounts coded in sorted order and a stable sort on (account, time): the order a stable sort of the
    # frame by user_id and ts gives, without comparing strings
    u, _ = pd.factorize(tx["user_id"], sort=True)
    ts_in = pd.to_numeric(tx["ts"]).to_numpy(np.int64)
    order = np.lexsort((ts_in, u))
    u, ts = u[order], ts_in[order]
    amount = pd.to_numeric(tx["amount"], errors="coerce").fillna(0.0).to_numpy(float)[order]
    win = int(BUSTOUT_WINDOW_DAYS * DAY_MS)
    t0 = int(ts.min())
    span = float(ts.max() - t0) + win
    key = u.astype(float) * (2 * span) + (ts - t0)
    count = np.searchsorted(key, key + win, side="left") - np.arange(len(key))
    n_users = int(u.max()) + 1
    n_tx = np.bincount(u, minlength=n_users)
    first = np.full(n_users, np.iinfo(np.int64).max)
    last = np.full(n_users, np.iinfo(np.int64).min)
    np.minimum.at(first, u, ts)
    np.maximum.at(last, u, ts)
    # the first window with the most transactions, per account
    best_of = np.lexsort((np.arange(len(u)), -count, u))
    best = best_of[np.r_[True, u[best_of][1:] != u[best_of][:-1]]]
    n_b = count[best]
    life = np.maximum((last - first) / DAY_MS, MIN_OBSERVED_DAYS)
    lam = (n_tx - n_b + 1) / life * BUSTOUT_WINDOW_DAYS
    p = poisson_sf(n_b - 1, lam)
    amt = np.maximum(amount, 0.0)
    csum = np.r_[0.0, np.cumsum(amt)]
    spent = csum[best + n_b] - csum[best]
    total = np.bincount(u, weights=amt, minlength=n_users)
    ok = (n_b >= MIN_BUSTOUT_TX) & (p < BUSTOUT_P) & (spent >= BUSTOUT_SPEND_SHARE * total)
    starts, sizes = best[ok], n_b[ok]
    rows = np.repeat(starts, sizes) + (np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes))
    out = tx.iloc[order[rows]].reset_index(drop=True)
    return out.assign(ts=ts[rows], amount=amount[rows])


def bustout_edges(tx: pd.DataFrame, first_code: int) -> pd.DataFrame:
    """Two-user links between accounts whose bust-outs met: each bought at ``MIN_BUSTOUT_MERCHANTS`` or more
    of the same merchants within the same ``BUSTOUT_BUCKET_MS`` (crowds of more than ``MAX_BUSTOUT_GROUP``
    bust-outs at one merchant then are left out).

    ``tx``: ``user_id, ts, merchant_id, amount`` of the accounts to consider. Edges have the columns of
    :func:`graphfraud.ringlinks.coactivity_edges` (type ``bustout``, named after the merchant where the two
    met first, ``ent`` codes from ``first_code``), thin: they attach accounts, never merge rings.

    Examples
    --------
    >>> day, hour = 86_400_000, 3_600_000
    >>> rows = []
    >>> for u in ("a", "b", "c"):
    ...     rows += [(u, i * 9 * day, f"H{u}", 20.0) for i in range(6)]
    ...     rows += [(u, 60 * day + h * hour, m, 300.0) for h, m in enumerate(["E1", "E2", "E1", "E2"])]
    >>> e = bustout_edges(pd.DataFrame(rows, columns=["user_id", "ts", "merchant_id", "amount"]), 0)
    >>> sorted(set(zip(e["ent"], e["user_id"])))
    [(0, 'a'), (0, 'b'), (1, 'a'), (1, 'c'), (2, 'b'), (2, 'c')]
    """
    return struck_together(bustouts(tx), first_code)


def struck_together(bust: pd.DataFrame, first_code: int) -> pd.DataFrame:
    """The links of :func:`bustout_edges` from the bust-outs already found: ``bust`` holds the rows
    :func:`bustouts` returns, with their ``merchant_id`` (``user_id, ts, merchant_id``)."""
    b = bust[bust["merchant_id"].notna().to_numpy()]
    if not len(b):
        return pd.DataFrame(columns=EDGE_COLUMNS)
    b = b.assign(bucket=b["ts"].to_numpy(np.int64) // BUSTOUT_BUCKET_MS)
    meet = b.groupby(["merchant_id", "bucket", "user_id"], sort=True)["ts"].min().reset_index()
    g = pd.factorize(pd.MultiIndex.from_arrays([meet["merchant_id"].to_numpy(), meet["bucket"].to_numpy()]))[0]
    size = np.bincount(g)[g]
    meet = meet[(size >= 2) & (size <= MAX_BUSTOUT_GROUP)].reset_index(drop=True)
    if not len(meet):
        return pd.DataFrame(columns=EDGE_COLUMNS)
    g = pd.factorize(pd.MultiIndex.from_arrays([meet["merchant_id"].to_numpy(), meet["bucket"].to_numpy()]))[0]
    ia, ib = pairs_within_runs(g)
    users = meet["user_id"].to_numpy(dtype=object)
    ts = meet["ts"].to_numpy(np.int64)
    a = np.where(users[ia] < users[ib], users[ia], users[ib])
    bb = np.where(users[ia] < users[ib], users[ib], users[ia])
    pairs = pd.DataFrame({"a": a, "b": bb, "m": meet["merchant_id"].to_numpy(dtype=object)[ia],
                          "t": np.minimum(ts[ia], ts[ib])})
    agg = pairs.sort_values(["a", "b", "t", "m"], kind="stable").groupby(["a", "b"], sort=True).agg(
        k=("m", "nunique"), m=("m", "first"), f=("t", "min"), l_=("t", "max"), n=("t", "size")).reset_index()
    # the merchants each bust-out bought at: two strikes of one ring go to the same few merchants, two rings
    # striking the same evening share one or two of theirs
    n_m = b.groupby("user_id")["merchant_id"].nunique()
    union = agg["a"].map(n_m).to_numpy() + agg["b"].map(n_m).to_numpy() - agg["k"].to_numpy()
    agg = agg[(agg["k"].to_numpy() >= MIN_BUSTOUT_MERCHANTS)
              & (agg["k"].to_numpy() >= MIN_BUSTOUT_JACCARD * union)]
    if not len(agg):
        return pd.DataFrame(columns=EDGE_COLUMNS)
    code = np.arange(first_code, first_code + len(agg))

    def two(c: str) -> np.ndarray:
        return np.asarray(np.r_[agg[c].to_numpy(), agg[c].to_numpy()])

    return pd.DataFrame({"type": "bustout", "entity_id": two("m"),
                         "user_id": np.r_[agg["a"].to_numpy(), agg["b"].to_numpy()],
                         "first_seen": two("f"), "last_seen": two("l_"), "n": two("n"), "ent": np.r_[code, code],
                         "n_users": 2, "strong": True, "links": True, "arrived": False, "thin": True,
                         "coactivity": True})


def read_bustout_edges(transactions_of_users: Callable[[Sequence[str] | None, Sequence[str]], pd.DataFrame],
                       first_code: int) -> pd.DataFrame:
    """:func:`bustout_edges` over every account of a store, read through its ``transactions_of_users``.

    Bust-outs are found from every transaction (nearly every account has the few a bust-out needs, and one
    scan is cheaper than looking them up) but without merchants, which only the bust-outs' rows need: a
    string per row is much of what a scan costs. The bust-outs' merchants are read for their accounts only.
    """
    every = transactions_of_users(None, ["seq", "user_id", "ts", "amount"])
    b = bustouts(every)
    if not len(b):
        return pd.DataFrame(columns=EDGE_COLUMNS)
    m = transactions_of_users(pd.unique(b["user_id"]).tolist(), ["seq", "merchant_id"])
    at = pd.Series(m["merchant_id"].to_numpy(dtype=object), index=m["seq"].to_numpy(np.int64))
    return struck_together(b.assign(merchant_id=at.reindex(b["seq"].to_numpy(np.int64)).to_numpy()), first_code)
