"""Accounts that bust out together: the link a sleeper ring shows only when it strikes.

A sleeper ring's accounts live ordinary lives for weeks, each on its own card, device and home address, and
share nothing until the day they are cashed out, all within hours, at the same few merchants. What links them
is that day itself: each account suddenly does far more than its own history explains (a *bust-out*), and
the bust-outs of the ring's accounts fall in the same hours at the same merchants. Customers have busy days
too (a holiday, a move), but two customers' busy days seldom meet at two merchants within the same hours,
and a flash sale that brings dozens of customers to one merchant at once is a crowd, not a ring. Some crews
spread their strike over two or three days, a few large purchases a day (a *surge*, :func:`surges`): what
links them then is meeting on the same days at the same *rare* merchants, where customers' sprees seldom go.

:func:`bustout_edges` turns the transactions of a store's accounts into two-user links between accounts
whose bust-outs or surges met (:func:`bustouts` and :func:`surges` find them, :func:`struck_together` links
them). The links are *thin*
(:func:`graphfraud.ringlinks.cluster_codes`): they attach accounts to a ring and make a ring of accounts that
share nothing else, but never merge two rings. Every constant is a product default (docs/rings.md explains each).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from .ringlinks import EDGE_COLUMNS, pairs_within_runs, poisson_sf

__all__ = ["bustout_edges", "bustouts", "read_bustout_edges", "struck_together", "surges"]

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
SURGE_DAYS = 3.0  # an account's costliest 3 days (from one of its transactions), with MIN_BUSTOUT_TX or more ...
SURGE_SPEND_SHARE = 0.5  # ... that hold at least this share of all its spending ...
SURGE_RATIO = 10.0  # ... and this many times what its own rate of spending puts in 3 days, are a surge
MIN_HISTORY_TX = 3  # ... of an account with at least this many transactions besides (a history to compare with)
RARE_BUCKET_MS = DAY_MS  # surges and bust-outs meet at a merchant when they buy there on the same (UTC) day ...
MIN_RARITY = 8.0  # ... at 2 or more merchants whose rarity (-log of their share of all accounts) sums to this


class _Accounts(NamedTuple):
    """Each account's transactions in order (one sort, shared by bust-outs and surges)."""

    order: np.ndarray  # rows of ``tx`` sorted by account, then time
    u: np.ndarray  # account codes (sorted order), per sorted row
    ts: np.ndarray
    amount: np.ndarray  # amounts (missing as 0)
    csum: np.ndarray  # running spending (amounts above 0: refunds count as nothing), from 0
    starts: np.ndarray  # per account: its first sorted row, ...
    n_tx: np.ndarray  # ... its transactions, ...
    total: np.ndarray  # ... all it spent ...
    life: np.ndarray  # ... and days from its first transaction to its last (at least MIN_OBSERVED_DAYS)


def _accounts(tx: pd.DataFrame) -> _Accounts:
    # accounts coded in sorted order and a stable sort on (account, time): the order a stable sort of the
    # frame by user_id and ts gives, without comparing strings
    u, _ = pd.factorize(tx["user_id"], sort=True)
    ts_in = pd.to_numeric(tx["ts"]).to_numpy(np.int64)
    order = np.lexsort((ts_in, u))
    u, ts = u[order], ts_in[order]
    amount = pd.to_numeric(tx["amount"], errors="coerce").fillna(0.0).to_numpy(float)[order]
    spent = np.maximum(amount, 0.0)
    starts = np.flatnonzero(np.r_[True, u[1:] != u[:-1]])  # one run per account: codes 0, 1, ... in order
    ends = np.r_[starts[1:], len(u)] - 1
    return _Accounts(order, u, ts, amount, np.r_[0.0, np.cumsum(spent)], starts, ends - starts + 1,
                     np.add.reduceat(spent, starts), np.maximum((ts[ends] - ts[starts]) / DAY_MS, MIN_OBSERVED_DAYS))


def _window(a: _Accounts, days: float) -> tuple[np.ndarray, np.ndarray]:
    """Per sorted row: the transactions in the window of ``days`` it opens, and their spending."""
    win = int(days * DAY_MS)
    t0 = int(a.ts.min())
    key = a.u.astype(float) * (2 * (float(a.ts.max() - t0) + win)) + (a.ts - t0)
    end = np.searchsorted(key, key + win, side="left")
    return end - np.arange(len(key)), a.csum[end] - a.csum[:-1]


def _best(a: _Accounts, by: np.ndarray) -> np.ndarray:
    """Per account, the sorted row opening its window with the most ``by`` (the first of equals)."""
    top = np.flatnonzero(by == np.repeat(np.maximum.reduceat(by, a.starts), a.n_tx))
    return top[np.r_[True, a.u[top][1:] != a.u[top][:-1]]]


def _rows_of(tx: pd.DataFrame, a: _Accounts, starts: np.ndarray, sizes: np.ndarray) -> pd.DataFrame:
    rows = np.repeat(starts, sizes) + (np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes))
    out = tx.iloc[a.order[rows]].reset_index(drop=True)
    return out.assign(ts=a.ts[rows], amount=a.amount[rows])


def _bustouts(tx: pd.DataFrame, a: _Accounts) -> pd.DataFrame:
    n_in, spend = _window(a, BUSTOUT_WINDOW_DAYS)
    best = _best(a, n_in)
    n_b = n_in[best]
    lam = (a.n_tx - n_b + 1) / a.life * BUSTOUT_WINDOW_DAYS
    ok = ((n_b >= MIN_BUSTOUT_TX) & (poisson_sf(n_b - 1, lam) < BUSTOUT_P)
          & (spend[best] >= BUSTOUT_SPEND_SHARE * a.total))
    return _rows_of(tx, a, best[ok], n_b[ok])


def _surges(tx: pd.DataFrame, a: _Accounts) -> pd.DataFrame:
    n_in, spend = _window(a, SURGE_DAYS)
    best = _best(a, spend)
    n_s, spent = n_in[best], spend[best]
    expected = (a.total - spent + 1.0) / a.life * SURGE_DAYS
    ok = ((n_s >= MIN_BUSTOUT_TX) & (spent >= SURGE_SPEND_SHARE * a.total) & (spent >= SURGE_RATIO * expected)
          & (a.n_tx - n_s >= MIN_HISTORY_TX))
    return _rows_of(tx, a, best[ok], n_s[ok])


def _none(tx: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in tx.columns})


def _strikes(tx: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`bustouts`, and the :func:`surges` of the other accounts, from one sort of ``tx``."""
    if not len(tx):
        return _none(tx), _none(tx)
    a = _accounts(tx)
    b, sg = _bustouts(tx, a), _surges(tx, a)
    return b, sg[~sg["user_id"].isin(b["user_id"]).to_numpy()]


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
    return _bustouts(tx, _accounts(tx)) if len(tx) else _none(tx)


def surges(tx: pd.DataFrame) -> pd.DataFrame:
    """The transactions of each account's spending surge, if it has one: a bust-out spread over days.

    An account's costliest window of ``SURGE_DAYS`` (opened by one of its transactions) is a surge when it
    holds ``MIN_BUSTOUT_TX`` transactions or more, ``SURGE_SPEND_SHARE`` of all the account's spending or
    more, and ``SURGE_RATIO`` times what the account's other spending (plus one unit of money) puts in that
    many days, over its lifetime of at least ``MIN_OBSERVED_DAYS``; and when the account has
    ``MIN_HISTORY_TX`` transactions besides. Same columns in and out as :func:`bustouts`.

    Examples
    --------
    >>> day = 86_400_000
    >>> quiet = [("a", i * 4 * day, "M1", 40.0) for i in range(8)]
    >>> strike = [("a", 40 * day + k * 16 * 3_600_000, "M2", 900.0) for k in range(3)]  # over 32 hours
    >>> tx = pd.DataFrame(quiet + strike, columns=["user_id", "ts", "merchant_id", "amount"])
    >>> len(bustouts(tx)), surges(tx)["amount"].tolist()
    (0, [900.0, 900.0, 900.0])
    """
    return _surges(tx, _accounts(tx)) if len(tx) else _none(tx)


def bustout_edges(tx: pd.DataFrame, first_code: int) -> pd.DataFrame:
    """Two-user links between accounts that struck together (:func:`struck_together`), from ``tx``, the
    ``user_id, ts, merchant_id, amount`` of every account (the merchants' shares of them are counted there).
    Edges have the columns of :func:`graphfraud.ringlinks.coactivity_edges` (type ``bustout``, named after
    the merchant where the two met first, ``ent`` codes from ``first_code``), thin: they attach accounts,
    never merge rings.

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
    b, sg = _strikes(tx)
    m = tx[tx["merchant_id"].notna().to_numpy()]
    share = m.groupby("merchant_id")["user_id"].nunique() / max(tx["user_id"].nunique(), 1)
    return struck_together(b, sg, share, first_code)


def _meetings(rows: pd.DataFrame, bucket_ms: int) -> pd.DataFrame:
    """Pairs ``a < b`` of accounts that bought at merchant ``m`` in the same bucket of ``bucket_ms`` (crowds of
    more than ``MAX_BUSTOUT_GROUP`` accounts left out), ``t`` the earlier of their first purchases there."""
    b = rows[rows["merchant_id"].notna().to_numpy()]
    b = b.assign(bucket=b["ts"].to_numpy(np.int64) // bucket_ms)
    meet = b.groupby(["merchant_id", "bucket", "user_id"], sort=True)["ts"].min().reset_index()
    g = pd.factorize(pd.MultiIndex.from_arrays([meet["merchant_id"].to_numpy(), meet["bucket"].to_numpy()]))[0]
    size = np.bincount(g)[g] if len(g) else np.zeros(0, np.int64)
    meet = meet[(size >= 2) & (size <= MAX_BUSTOUT_GROUP)].reset_index(drop=True)
    g = pd.factorize(pd.MultiIndex.from_arrays([meet["merchant_id"].to_numpy(), meet["bucket"].to_numpy()]))[0]
    ia, ib = pairs_within_runs(g)
    users = meet["user_id"].to_numpy(dtype=object)
    ts = meet["ts"].to_numpy(np.int64)
    lo = users[ia] < users[ib]
    return pd.DataFrame({"a": np.where(lo, users[ia], users[ib]), "b": np.where(lo, users[ib], users[ia]),
                         "m": meet["merchant_id"].to_numpy(dtype=object)[ia], "t": np.minimum(ts[ia], ts[ib])})


def _pairs_with(pairs: pd.DataFrame, ok: np.ndarray) -> pd.DataFrame:
    """The rows of ``pairs`` whose pair ``(a, b)`` is one of ``ok``'s (a boolean per distinct pair, sorted)."""
    keys = pd.MultiIndex.from_arrays([pairs["a"].to_numpy(), pairs["b"].to_numpy()])
    return pairs[keys.isin(keys.unique().sort_values()[ok])]


def struck_together(bust: pd.DataFrame, surged: pd.DataFrame, share: pd.Series, first_code: int) -> pd.DataFrame:
    """Links between accounts that struck together, from the rows of their bust-outs (:func:`bustouts`) and of
    the surges of other accounts (:func:`surges`), with their ``merchant_id`` (``user_id, ts, merchant_id``);
    ``share`` is each merchant's share of all accounts (those it sold to over all accounts).

    Two bust-outs struck together when they bought at ``MIN_BUSTOUT_MERCHANTS`` or more of the same merchants
    within the same ``BUSTOUT_BUCKET_MS``; a surge (a strike spread over days) and another surge or a bust-out
    when they bought at ``MIN_BUSTOUT_MERCHANTS`` or more of the same merchants on the same day
    (``RARE_BUCKET_MS``) and those merchants are rare: the sum of ``-log(share)`` over them reaches
    ``MIN_RARITY``. Crowds of more than ``MAX_BUSTOUT_GROUP`` at one merchant in a bucket are left out. The
    edges of :func:`bustout_edges`.
    """
    bust = bust[bust["merchant_id"].notna().to_numpy()]
    near = _meetings(bust, BUSTOUT_BUCKET_MS)
    k = near.groupby(["a", "b"], sort=True)["m"].nunique().to_numpy()
    # the merchants each bust-out bought at: two strikes of one ring go to the same few merchants, two rings
    # striking the same evening share one or two of theirs
    n_m = bust.groupby("user_id")["merchant_id"].nunique()
    ab = near[["a", "b"]].drop_duplicates().sort_values(["a", "b"])
    union = ab["a"].map(n_m).to_numpy() + ab["b"].map(n_m).to_numpy() - k
    near = _pairs_with(near, (k >= MIN_BUSTOUT_MERCHANTS) & (k >= MIN_BUSTOUT_JACCARD * union))
    # a surge meets a surge or a bust-out (two bust-outs have the sharper rule above)
    day = _meetings(pd.concat([bust, surged[surged["merchant_id"].notna().to_numpy()]], ignore_index=True),
                    RARE_BUCKET_MS)
    day = day[day["a"].isin(surged["user_id"]).to_numpy() | day["b"].isin(surged["user_id"]).to_numpy()]
    each = day.drop_duplicates(["a", "b", "m"])
    # (a merchant missing from ``share`` counts as common: rarity 0)
    rarity = each.assign(r=-np.log(np.clip(each["m"].map(share).fillna(1.0).to_numpy(float), 1e-12, 1.0))).groupby(
        ["a", "b"], sort=True)["r"].agg(["sum", "size"])
    day = _pairs_with(day, (rarity["sum"].to_numpy() >= MIN_RARITY)
                      & (rarity["size"].to_numpy() >= MIN_BUSTOUT_MERCHANTS))
    pairs = pd.concat([near, day], ignore_index=True)
    if not len(pairs):
        return pd.DataFrame(columns=EDGE_COLUMNS)
    agg = pairs.sort_values(["a", "b", "t", "m"], kind="stable").groupby(["a", "b"], sort=True).agg(
        m=("m", "first"), f=("t", "min"), l_=("t", "max"), n=("t", "size")).reset_index()
    code = np.arange(first_code, first_code + len(agg))

    def two(c: str) -> np.ndarray:
        return np.asarray(np.r_[agg[c].to_numpy(), agg[c].to_numpy()])

    return pd.DataFrame({"type": "bustout", "entity_id": two("m"),
                         "user_id": np.r_[agg["a"].to_numpy(), agg["b"].to_numpy()],
                         "first_seen": two("f"), "last_seen": two("l_"), "n": two("n"), "ent": np.r_[code, code],
                         "n_users": 2, "strong": True, "links": True, "arrived": False, "thin": True,
                         "coactivity": True})


def read_bustout_edges(transactions_of_users: Callable[[Sequence[str] | None, Sequence[str]], pd.DataFrame],
                       customers: Callable[[Sequence[str]], np.ndarray], first_code: int) -> pd.DataFrame:
    """:func:`bustout_edges` over every account of a store, read through its ``transactions_of_users``;
    ``customers(merchant_ids)`` gives the number of accounts each of those merchants sold to.

    Bust-outs and surges are found from every transaction (nearly every account has the few they need, and
    one scan is cheaper than looking them up) but without merchants, which only their rows need: a string per
    row is much of what a scan costs. Their merchants are read for their accounts only, and the customers of
    those merchants counted.
    """
    every = transactions_of_users(None, ["seq", "user_id", "ts", "amount"])
    b, sg = _strikes(every)
    if not len(b) and not len(sg):
        return pd.DataFrame(columns=EDGE_COLUMNS)
    m = transactions_of_users(pd.unique(pd.concat([b["user_id"], sg["user_id"]])).tolist(), ["seq", "merchant_id"])
    at = pd.Series(m["merchant_id"].to_numpy(dtype=object), index=m["seq"].to_numpy(np.int64))
    b = b.assign(merchant_id=at.reindex(b["seq"].to_numpy(np.int64)).to_numpy())
    sg = sg.assign(merchant_id=at.reindex(sg["seq"].to_numpy(np.int64)).to_numpy())
    both = pd.concat([b[["merchant_id", "user_id"]], sg[["merchant_id", "user_id"]]]).dropna()
    seen = both.groupby("merchant_id")["user_id"].nunique()
    ms = seen.index.tolist()
    # a merchant has at least the customers seen here (a store's counts may lag its transactions: a read-only
    # handle beside a writer does not fold new links)
    n = np.maximum(np.asarray(customers(ms), float), seen.to_numpy(float))
    share = pd.Series(n / max(every["user_id"].nunique(), 1), index=ms, dtype=float)
    return struck_together(b, sg, share, first_code)
