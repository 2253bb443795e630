"""Money between users: transfers as directed, timed, amount-weighted edges, and what they say about accounts.

A transaction with a ``counterparty_id`` is a transfer from its user to that counterparty (another user or
account). The engine keeps a :class:`FlowGraph` once it has seen one (data without transfers pays nothing):
per account, the times and cumulative amounts of money in and out and the partners on each side; per pair
of accounts, the total and the last transfer; and how much reached it from accounts known as fraud (directly, and through one
account in between). Known fraud follows :mod:`graphfraud.labels`; when an account becomes (or stops being)
known fraud, the amounts it sent and received are moved in its partners' totals at once, so every figure
is as known at that moment, in replays and live alike.

The snapshot (:func:`flow_snapshot`) adds amount-weighted PageRank over the transfer graph, and the same
restarted at the accounts known as fraud ("fraud proximity over money").

Examples
--------
>>> g = FlowGraph()
>>> g.transfer(0, 1, 100.0, 10)
>>> g.transfer(1, 2, 90.0, 20)
>>> g.accounts[1].fan_in(), g.accounts[1].fan_out()
(1, 1)
>>> g.set_fraud(0, True)
>>> g.accounts[1].fraud_in, g.accounts[2].hop2_in
(100.0, 90.0)
"""
from __future__ import annotations

from array import array
from bisect import bisect_left
from typing import Any

import numpy as np

from ..pagerank import directed_pagerank
from .activity import KEEP_MS

_TRIM_AT = 64


class Side:
    """One direction of an account's money: times (sorted) and cumulative amounts of the last 30 days at
    least, its distinct partners (in the order first paid or paid by; their totals and last times are the
    :class:`FlowGraph`'s per pair), and over all time the count, sum, sum of squares, smallest and largest
    amount and the first and last time.

    ``cum[i]`` is the running sum of every amount up to ``times[i]``, those trimmed away included; ``base``
    is the running sum before ``times[0]`` (what was trimmed), so a window starting at or before the first
    kept time subtracts it rather than nothing.
    """

    __slots__ = ("times", "cum", "base", "partners", "n", "amount", "amount_sq", "smallest", "largest",
                 "first_ts", "last_ts")

    def __init__(self) -> None:
        self.times = array("q")
        self.cum = array("d")
        self.base = 0.0
        self.partners = array("i")
        self.n = 0
        self.amount = 0.0
        self.amount_sq = 0.0
        self.smallest = float("inf")
        self.largest = 0.0
        self.first_ts = -1
        self.last_ts = -1

    def add(self, amount: float, ts: int, now: int) -> None:
        self.n += 1
        self.amount += amount
        self.amount_sq += amount * amount
        if amount < self.smallest:
            self.smallest = amount
        if amount > self.largest:
            self.largest = amount
        if self.first_ts < 0 or ts < self.first_ts:
            self.first_ts = ts
        if ts > self.last_ts:
            self.last_ts = ts
        times, cum = self.times, self.cum
        if not times or ts >= times[-1]:
            times.append(ts)
            cum.append((cum[-1] if cum else self.base) + amount)
        else:  # out of order (live traffic)
            i = bisect_left(times, ts)
            times.insert(i, ts)
            cum.insert(i, (cum[i - 1] if i else self.base) + amount)
            for k in range(i + 1, len(cum)):
                cum[k] += amount
        if len(times) > _TRIM_AT and times[0] < now - KEEP_MS:
            cut = bisect_left(times, now - KEEP_MS)
            self.base = cum[cut - 1]
            del times[:cut], cum[:cut]

    def windows(self, lo1: int, lo7: int, lo30: int) -> tuple[int, int, float, float]:
        """(transfers since ``lo1``, transfers since ``lo7``, amount since ``lo7``, amount since ``lo30``), for
        ``lo30 <= lo7 <= lo1``: the feature row's windows of one side in one call.

        >>> s = Side()
        >>> for t, a in ((1, 5.0), (5, 2.0), (9, 1.0)):
        ...     s.add(a, t, now=t)
        >>> s.windows(9, 5, 0), s.windows(10, 6, 2)
        ((1, 2, 3.0, 8.0), (0, 1, 1.0, 3.0))
        """
        times = self.times
        n = len(times)
        if not n or times[-1] < lo30:
            return 0, 0, 0.0, 0.0
        cum = self.cum
        top = cum[-1]
        i30 = bisect_left(times, lo30)
        i7 = bisect_left(times, lo7, i30)
        if i7 == n:
            return 0, 0, 0.0, top - (cum[i30 - 1] if i30 else self.base)
        return (n - bisect_left(times, lo1, i7), n - i7, top - (cum[i7 - 1] if i7 else self.base),
                top - (cum[i30 - 1] if i30 else self.base))


_UNUSED = Side()  # read only: see Account


class Account:
    """An account's transfers in and out, and its exposure to known fraud (amounts as known now).

    The amounts are running sums, moved as labels come and go; amounts added and taken away in different
    orders leave a rounding residue (1e-13), so whether an account is exposed is read from the counts of
    partners (exact integers), and an amount whose count falls to zero is set to exactly zero.

    A direction the account has not used yet is :data:`_UNUSED`, one empty side shared by every account
    (most accounts only send or only receive: about 330 bytes each saved); :meth:`FlowGraph.transfer` gives
    the account a side of its own before its first transfer that way. Any side without a transfer is
    replaced, not written to, so the shared one stays empty after a pickle round trip too (where it is no
    longer this module's object).
    """

    __slots__ = ("out", "inn", "fraud_in", "fraud_senders", "hop2_in", "hop2_senders", "fraud_out",
                 "fraud_recipients")

    def __init__(self) -> None:
        self.out = _UNUSED
        self.inn = _UNUSED
        self.fraud_in = 0.0  # received from accounts known as fraud
        self.fraud_senders = 0  # how many of its senders are known fraud
        self.hop2_in = 0.0  # received from accounts that received from known fraud
        self.hop2_senders = 0  # how many of its senders received from known fraud
        self.fraud_out = 0.0  # sent to accounts known as fraud
        self.fraud_recipients = 0  # how many of its recipients are known fraud

    def fan_in(self) -> int:
        return len(self.inn.partners)

    def fan_out(self) -> int:
        return len(self.out.partners)

    def exposed(self) -> bool:
        """Whether it received money from an account known as fraud."""
        return self.fraud_senders > 0


def pair_key(u: int, v: int) -> int:
    """The key of the money from account ``u`` to account ``v`` (user indices) in :attr:`FlowGraph.pair`."""
    return (u << 32) | v


class FlowGraph:
    """Every transfer between accounts (user indices of the engine), with per-account state.

    Each ordered pair of accounts that traded keeps its total and last time once, in two columns indexed
    through :attr:`pair` (no dictionary per account and side: those had cost about 500 bytes a transfer).
    """

    def __init__(self) -> None:
        self.accounts: dict[int, Account] = {}
        self.fraud: set[int] = set()  # accounts known as fraud (kept in step by the engine)
        self.src = array("i")
        self.dst = array("i")
        self.amount = array("d")
        self.ts = array("q")
        self.pair: dict[int, int] = {}  # pair_key(u, v) -> row of pair_total and pair_last
        self.pair_total = array("d")  # money from u to v, over all time
        self.pair_last = array("q")  # the time of u's last transfer to v

    def account(self, u: int) -> Account:
        a = self.accounts.get(u)
        if a is None:
            a = self.accounts[u] = Account()
        return a

    def total(self, u: int, v: int) -> float:
        """Money from ``u`` to ``v`` over all time (0.0 when none)."""
        k = self.pair.get(pair_key(u, v))
        return 0.0 if k is None else self.pair_total[k]

    def last(self, u: int, v: int) -> int:
        """The time of ``u``'s last transfer to ``v`` (-1 when none)."""
        k = self.pair.get(pair_key(u, v))
        return -1 if k is None else self.pair_last[k]

    def paid(self, u: int, v: int) -> bool:
        """Whether ``u`` ever sent money to ``v``."""
        return pair_key(u, v) in self.pair

    def transfer(self, u: int, v: int, amount: float, ts: int, now: int | None = None) -> None:
        """Money from account ``u`` to account ``v``."""
        now = ts if now is None else now
        pay, rec = self.account(u), self.account(v)
        if not pay.out.n:  # the first transfer out: a side of its own (Account)
            pay.out = Side()
        if not rec.inn.n:
            rec.inn = Side()
        key = pair_key(u, v)
        k = self.pair.get(key)
        new_pair = k is None
        if k is None:
            k = self.pair[key] = len(self.pair_total)
            self.pair_total.append(amount)
            self.pair_last.append(ts)
            pay.out.partners.append(v)
            rec.inn.partners.append(u)
        else:
            self.pair_total[k] += amount
            if ts > self.pair_last[k]:
                self.pair_last[k] = ts
        pay.out.add(amount, ts, now)
        rec.inn.add(amount, ts, now)
        self.src.append(u)
        self.dst.append(v)
        self.amount.append(amount)
        self.ts.append(ts)
        # before the receiver's exposure moves: a self-transfer of a known fraud account exposes its own
        # sender, and _fraud_in then counts this transfer among its recipients' (it is in its out partners)
        if pay.exposed():
            rec.hop2_in += amount
            rec.hop2_senders += 1 if new_pair else 0
        if u in self.fraud:
            self._fraud_in(v, amount, 1 if new_pair else 0)
        if v in self.fraud:
            pay.fraud_out += amount
            pay.fraud_recipients += 1 if new_pair else 0

    def _fraud_in(self, v: int, amount: float, senders: int) -> None:
        rec = self.accounts[v]
        was = rec.exposed()
        rec.fraud_senders += senders
        rec.fraud_in = max(rec.fraud_in + amount, 0.0) if rec.fraud_senders else 0.0
        now = rec.exposed()
        if was != now:  # v's own recipients received from an exposed account, or no longer
            sign, step = (1.0, 1) if now else (-1.0, -1)
            pair, totals = self.pair, self.pair_total
            for w in rec.out.partners:
                amt = totals[pair[pair_key(v, w)]]
                acc = self.accounts[w]
                acc.hop2_senders += step
                acc.hop2_in = max(acc.hop2_in + sign * amt, 0.0) if acc.hop2_senders else 0.0

    def set_fraud(self, u: int, is_fraud: bool) -> None:
        """Account ``u`` became known fraud (or stopped being): move its amounts in its partners' totals."""
        if is_fraud == (u in self.fraud):
            return
        if is_fraud:
            self.fraud.add(u)
        else:
            self.fraud.discard(u)
        acc = self.accounts.get(u)
        if acc is None:
            return
        sign = 1.0 if is_fraud else -1.0
        pair, totals = self.pair, self.pair_total
        for v in acc.out.partners:
            self._fraud_in(v, sign * totals[pair[pair_key(u, v)]], 1 if is_fraud else -1)
        for s in acc.inn.partners:
            sender = self.accounts[s]
            sender.fraud_recipients += 1 if is_fraud else -1
            amt = totals[pair[pair_key(s, u)]]
            sender.fraud_out = max(sender.fraud_out + sign * amt, 0.0) if sender.fraud_recipients else 0.0

    def cycle(self, u: int, v: int, lo: int) -> tuple[float, float]:
        """Whether money from ``u`` to ``v`` would close a cycle within the window since ``lo``: ``v`` paid
        ``u`` (two hops), or ``v`` paid someone who paid ``u`` (three hops). (1.0/0.0 each.)"""
        rec = self.accounts.get(v)
        pay = self.accounts.get(u)
        if rec is None or pay is None:
            return 0.0, 0.0
        two = 1.0 if self.last(v, u) >= lo else 0.0
        # w with v -> w and w -> u, both since lo: walk the shorter partner list (keys as pair_key makes them)
        pair, last = self.pair, self.pair_last
        outs, ins = rec.out.partners, pay.inn.partners
        from_v = v << 32
        if len(outs) <= len(ins):
            for w in outs:
                k = pair.get((w << 32) | u)
                if k is not None and w != u and last[k] >= lo and last[pair[from_v | w]] >= lo:
                    return two, 1.0
        else:
            for w in ins:
                k = pair.get(from_v | w)
                if k is not None and w != u and last[k] >= lo and last[pair[(w << 32) | u]] >= lo:
                    return two, 1.0
        return two, 0.0


def flow_snapshot(flows: FlowGraph | None, n_users: int, fraud_users: Any) -> tuple[Any, Any]:
    """Amount-weighted PageRank over the transfer graph per user index (scaled so 1.0 is average over the
    accounts that transfer), and the same restarted at the known-fraud users (zeros without any)."""
    if flows is None or not len(flows.src):
        return None, None
    src = np.frombuffer(flows.src, dtype=np.int32)
    dst = np.frombuffer(flows.dst, dtype=np.int32)
    w = np.frombuffer(flows.amount, dtype=np.float64)
    n = n_users
    active = np.zeros(n, dtype=bool)
    active[src] = True
    active[dst] = True
    scale = max(int(active.sum()), 1)
    pr = directed_pagerank(n, src, dst, w) * scale
    seeds = np.zeros(n)
    fraud = np.asarray(list(fraud_users), dtype=np.int64)
    if len(fraud):
        seeds[fraud] = 1.0
        prox = directed_pagerank(n, src, dst, w, personalization=seeds) * scale
    else:
        prox = np.zeros(n)
    return pr, prox
