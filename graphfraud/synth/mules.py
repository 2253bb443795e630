"""The mule world behind ``graphfraud generate --profile mules``: money mules hidden in ordinary money.

A bank's customers (``n_users``) live the typology worlds' lives (:mod:`.population`: card purchases,
households, offices, shared and default devices, carrier NAT, ...) and move money to each other and to
accounts outside the bank (ids ``X...``), as :mod:`.transfers` plants it: payroll, rent, landlords and
letting agencies, bills, family, savings circles, friends, marketplaces, shops, savings and remittances
sent on right after payday, crypto exchanges, cash, and dormant accounts that wake up.

Among them, mule groups launder the money of scams, account takeovers and fraud elsewhere
(:data:`MULE_SHAPES`): chains passing it on minus a commission, fan-ins, fan-outs, cycles, scatter-gather,
dormant accounts that wake up, cash-out to outside sinks, one device controlling many accounts, and bursts of
unrelated senders (scam victims). Only part of it is ever known: victims report some payments
(``is_fraud=1``), some groups are investigated, and the mules found are written to ``labels.csv``
(``user_id,user_label`` = ``mule``). ``truth.json`` knows everything.

One ``np.random.default_rng(seed)`` drives the world and a second one the labels: the same seed and knobs
give byte-identical files, and the label knobs never change the world. See docs/synth.md, "Mule worlds".
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ValidationError
from .base import (COUNTRY, CURRENCY, DAY, GIFT, HOUR, Table, assemble, check_args, digit_ids, iso, save, stamps,
                   stamps_or_blank, transaction_ids)
from .labels import KNOB_RANGES, check_knobs
from .population import add_bursts, add_ordinary, plant_decoys
from .transfers import (DISPUTED, LAYER, PROCEEDS, VICTIM, MoneyWorld, Roles, add_ordinary_money, logn)

#: Mule typologies, the ``shape`` of a mule group and the kind of each of its members in ``truth.json``.
MULE_SHAPES = ("chain", "fan_in", "fan_out", "cycle", "scatter_gather", "dormant", "cash_out", "device_farm",
               "scam_collector")
#: Columns of a mule world's transactions file (then ``labelled_at`` with ``label_delay_days``).
MULE_COLUMNS = ("transaction_id", "timestamp", "user_id", "amount", "currency", "card_id", "device_id", "ip",
                "merchant_id", "counterparty_id", "country", "is_fraud")
DEFAULT_FRAUD_RATE = 0.004
DEFAULT_LABELLED_SHARE = 0.5
MIN_USERS = 300
# fraud rows a group of each shape makes per member, on average (measured), to plan a fraud budget
_ROWS_PER_MEMBER = {"chain": 15.0, "fan_in": 5.0, "fan_out": 4.0, "cycle": 5.0, "scatter_gather": 3.0,
                    "dormant": 8.0, "cash_out": 25.0, "device_farm": 4.5, "scam_collector": 35.0}


# ================================================================ mule groups
class _Group:
    """One mule group: its members, how they reach the bank, where the money leaves, and its rows' case."""

    def __init__(self, w: MoneyWorld, shape: str, users: np.ndarray, accounts: list[str], start: float,
                 case: int) -> None:
        rng = w.rng
        self.w, self.shape, self.users, self.accounts, self.start, self.case = w, shape, users, accounts, start, case
        self.source = str(rng.choice(["scam", "takeover", "proceeds"], p=[0.5, 0.25, 0.25]))
        if shape in ("device_farm", "scam_collector"):
            self.source = "scam"
        elif shape in ("fan_out", "cycle", "scatter_gather") and self.source == "scam":
            self.source = "proceeds"  # big sums from one place, not a crowd of victims
        elif shape == "cash_out" and self.source == "scam":
            self.source = "takeover"
        # how members reach the bank: their own phones (complicit), the controller's device and proxies, or
        # a fresh device per account (handed over)
        self.mode = str(rng.choice(["own", "controller", "fresh"], p=[0.4, 0.35, 0.25]))
        if shape == "device_farm":
            self.mode = "controller"
        elif shape == "dormant":
            self.mode = "fresh" if rng.random() < 0.7 else "controller"
        r = rng.random()
        self.ips = (rng.choice(w.p.datacenter, size=int(rng.integers(1, 4))) if r < 0.4 else
                    w.plan.ips.new(int(rng.integers(2, 6))) if r < 0.7 else
                    rng.choice(w.p.carrier, size=2, p=w.p.carrier_p))
        self.ctrl_dev = int(rng.integers(0, 2)) if rng.random() < 0.1 else int(w.plan.devices.new(1)[0])
        self.fresh = {int(u): int(w.plan.devices.new(1)[0]) for u in users} if self.mode == "fresh" else {}
        self.atms = rng.choice(w.atms, size=int(rng.integers(1, 4)), p=w.atm_p)
        self.abroad = w.external(int(rng.integers(1, 4)))
        self.exchange = int(rng.choice(w.exchanges, p=w.exchange_p))
        self.styles: dict[int, str] = {}
        self.commission = {int(u): float(rng.uniform(0.02, 0.1)) for u in users}
        self.victims: list[int] = []
        self.n_external_victims = 0
        self.takeovers: list[int] = []
        self.sinks: set[int] = set()
        self.planned = users  # members as planned; ``users`` keeps those the money reached, ``idle`` the rest
        self.idle = np.zeros(0, dtype=np.int64)

    def channel(self, u: int, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w, rng, k = self.w, self.w.rng, len(t)
        own_dev, own_ip = w.channel(np.full(k, u), t)
        if self.mode == "own":
            return own_dev, own_ip
        dev = np.full(k, self.fresh.get(u, self.ctrl_dev))
        ip = rng.choice(self.ips, size=k)
        if self.mode == "controller" and self.accounts[list(self.users).index(u)] == "existing":
            mixed = rng.random(k) < 0.4  # a recruited customer still logs in from their own phone now and then
            dev, ip = np.where(mixed, own_dev, dev), np.where(mixed, own_ip, ip)
        return dev, ip

    # ------------------------------------------------------------ money in
    def inflow(self, entry: int, t_lo: float, span: float, n_pay: int, source: str | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """Dirty money arriving at ``entry``: scam victims' payments, a taken-over account drained, or
        fraud proceeds from outside. Returns the receipts (times, amounts)."""
        w, rng, source = self.w, self.w.rng, source or self.source
        ts, amts = [], []
        if source == "scam":
            left = n_pay
            while left > 0:
                k = min(left, 1 + int(rng.poisson(0.6)))  # a victim pays more, in growing amounts
                t = t_lo + np.sort(rng.random(k)) * span
                a = logn(rng, 600, 0.9, 1) * np.cumprod(np.r_[1.0, rng.uniform(1.1, 2.0, k - 1)])
                a = np.round(np.clip(a, 20, 25000), 0 if rng.random() < 0.5 else 2)
                if rng.random() < 0.75 and len(w.victim_pool):
                    v = int(w.victim_pool[w.victim_at % len(w.victim_pool)])
                    w.victim_at += 1
                    t = w.daytime(t, np.full(k, v))
                    dev, ip = w.channel(np.full(k, v), t)
                    kept = w.emit(t, v, entry, a, dev=dev, ip=ip, role=VICTIM, case=self.case)
                    if kept.any():
                        self.victims.append(v)
                else:
                    t = w.daytime(t, np.zeros(k, dtype=np.int64) + w.n)
                    kept = w.emit(t, w.external(1)[0], entry, a, role=VICTIM, case=self.case)
                    self.n_external_victims += int(kept.any())
                ts.append(t[kept])
                amts.append(a[kept])
                left -= k
        elif source == "takeover" and len(w.ato_pool):
            for _ in range(max(1, n_pay // 2)):
                v = int(w.ato_pool[w.ato_at % len(w.ato_pool)])
                w.ato_at += 1
                k = int(rng.integers(1, 4))
                t = t_lo + rng.random() * span + np.sort(rng.random(k)) * HOUR
                a = np.round(logn(rng, 1800, 0.7, k), 0)
                dev = np.full(k, self.ctrl_dev if rng.random() < 0.3 else w.plan.devices.new(1)[0])
                ip = rng.choice(np.concatenate([self.ips, w.p.datacenter]), size=k)
                kept = w.emit(t, v, entry, a, dev=dev, ip=ip, role=VICTIM, case=self.case)
                if kept.any():
                    self.takeovers.append(v)
                ts.append(t[kept])
                amts.append(a[kept])
        else:
            k = max(1, n_pay // 2)
            t = t_lo + np.sort(rng.random(k)) * span
            a = np.round(logn(rng, 3000, 0.8, k), 2)
            src = w.external(k) if rng.random() < 0.6 else np.full(k, w.external(1)[0])
            kept = w.emit(t, src, entry, a, role=PROCEEDS, case=self.case)
            ts.append(t[kept])
            amts.append(a[kept])
        t, a = np.concatenate(ts), np.concatenate(amts)
        o = np.argsort(t, kind="stable")
        return t[o], a[o]

    # ------------------------------------------------------------ money on
    def forward(self, src: int, dst: int, t: np.ndarray, a: np.ndarray, delay_h: float = 4.0,
                merge: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``src`` passes what it received on to ``dst`` minus its commission, after a delay; receipts a
        day apart or less are sometimes sent on together; big sums go in parts. Returns ``dst``'s receipts."""
        w, rng = self.w, self.w.rng
        if not len(t):
            return t, a
        t, a = _merge(t, a, merge if merge is not None else (DAY if rng.random() < 0.4 else 0.0))
        k = len(t)
        t_out = t + np.maximum(120.0, logn(rng, delay_h * HOUR, 0.9, k))
        if self.mode == "own":  # a recruited customer passes it on when awake; a controller at any hour
            awake = w.daytime(t_out, np.full(k, src))
            t_out = np.where(awake > t + 120.0, awake, t_out)
        amt = a * (1 - self.commission[int(src)]) * rng.uniform(0.98, 1.0, k)
        if rng.random() < 0.4:
            amt = np.floor(amt / 10) * 10
        split = (amt > 1000) & (rng.random(k) < 0.5)  # in parts under a round threshold
        parts = np.where(split, rng.integers(2, 4, k), 1)
        t_out = np.repeat(t_out, parts) + np.concatenate([np.arange(p_) for p_ in parts]) * rng.uniform(60, 900)
        amt = np.repeat(amt / parts, parts)
        dev, ip = self.channel(int(src), t_out)
        kept = w.emit(t_out, src, dst, np.round(amt, 2), dev=dev, ip=ip, role=LAYER, case=self.case)
        return t_out[kept], np.round(amt[kept], 2)

    def cash_out(self, u: int, t: np.ndarray, a: np.ndarray, style: str | None = None) -> None:
        """Money leaving for good: cash at the group's ATMs (up to a daily limit, day after day), a crypto
        exchange, accounts abroad, or gift cards."""
        w, rng = self.w, self.w.rng
        if not len(t):
            return
        style = style or str(rng.choice(["atm", "crypto", "abroad", "gift_cards"], p=[0.35, 0.3, 0.3, 0.05]))
        self.styles[int(u)] = style
        total = float(a.sum()) * (1 - self.commission[int(u)])
        start = float(t.min()) + max(300.0, float(logn(rng, 5 * HOUR, 0.8, 1)[0]))
        p = w.p
        if style in ("atm", "gift_cards"):
            limit = float(rng.choice([300, 500, 800, 1000]))
            k = max(1, min(40, int(round(total / (limit if style == "atm" else 150)))))
            if style == "atm":  # the daily limit day after day, the rest on the last day
                amt = np.full(k, limit)
                amt[-1] = float(np.clip(np.floor((total - limit * (k - 1)) / 20) * 20, 20, limit))
                t_out = start + np.arange(k) * DAY * rng.uniform(0.6, 1.2) + rng.uniform(0, 3 * HOUR, k)
                merch = rng.choice(self.atms, size=k)
            else:
                amt = np.round(rng.choice([50, 100, 200], size=k).astype(float), 0)
                t_out = start + np.sort(rng.random(k)) * 2 * DAY
                gift = np.flatnonzero(w.plan.mcat == GIFT)
                merch = rng.choice(gift, size=k)
            dev = -1 if style == "atm" else self.channel(int(u), t_out)[0]
            w.emit(t_out, u, -1, amt, card=p.card[u, 0], merch=merch, dev=dev, role=LAYER, case=self.case)
            return
        t_arr, a_arr = _merge(t, a, DAY)
        t_out = t_arr + np.maximum(300.0, logn(rng, 5 * HOUR, 0.8, len(t_arr)))
        to = (np.full(len(t_out), self.exchange) if style == "crypto" else rng.choice(self.abroad, size=len(t_out)))
        self.sinks.update(int(x) for x in to)
        dev, ip = self.channel(int(u), t_out)
        w.emit(t_out, u, to, a_arr * (1 - self.commission[int(u)]), dev=dev, ip=ip, role=LAYER, case=self.case)


def _merge(t: np.ndarray, a: np.ndarray, window: float) -> tuple[np.ndarray, np.ndarray]:
    """Receipts within ``window`` of the first of a run become one (at the last one's time)."""
    if window <= 0 or len(t) < 2:
        return t, a
    group = np.floor((t - t[0]) / window).astype(np.int64)
    _, idx, inv = np.unique(group, return_index=True, return_inverse=True)
    sums = np.bincount(inv, weights=a)
    last = np.zeros(len(idx))
    np.maximum.at(last, inv, t)
    return last, sums


def _run_group(g: _Group) -> None:
    """Plant the group's money flows by shape."""
    w, rng, m, s = g.w, g.w.rng, [int(x) for x in g.users], g.shape
    t0 = g.start
    span = min(float(rng.uniform(5, 30)) * DAY, max(DAY, 0.93 * w.horizon - t0))  # started before the end
    if s == "chain":  # waves of money down a line, each hop keeping a cut
        for _ in range(int(rng.integers(2, 7))):
            tw = t0 + rng.random() * span
            t, a = g.inflow(m[0], tw, 2 * DAY, int(rng.integers(1, 5)))
            for x, y in zip(m[:-1], m[1:]):
                t, a = g.forward(x, y, t, a, delay_h=float(rng.uniform(1, 24)))
            g.cash_out(m[-1], t, a)
    elif s == "fan_in":  # many receive, one collects
        col, feeders = m[-1], m[:-1]
        ts, as_ = [], []
        for f in feeders:
            t, a = g.inflow(f, t0 + rng.random() * span * 0.7, span * 0.3, int(rng.integers(1, 6)))
            t, a = g.forward(f, col, t, a, delay_h=float(rng.uniform(1, 30)))
            ts.append(t)
            as_.append(a)
        t, a = np.concatenate(ts), np.concatenate(as_)
        o = np.argsort(t, kind="stable")
        g.cash_out(col, *_merge(t[o], a[o], 3 * DAY), style=str(rng.choice(["crypto", "abroad"])))
    elif s == "fan_out":  # one receives big sums and spreads them thin
        dist, recv = m[0], np.array(m[1:])
        for lump in range(int(rng.integers(1, 4))):
            t, a = g.inflow(dist, t0 + (rng.random() * span if lump else 0.0), DAY, int(rng.integers(2, 5)),
                            source=g.source)
            if not len(t):
                continue
            total = a.sum() * (1 - g.commission[dist])
            # everyone gets a share of the first sum; later ones go to some of them
            who = recv if not lump else recv[rng.permutation(len(recv))[: max(min(3, len(recv)),
                                                                                int(rng.uniform(0.6, 1.0) * len(recv)))]]
            part = total / len(who)
            cap = float(rng.choice([990, 2900, 4900, 9500]))
            n_parts = np.maximum(1, np.ceil(part / cap)).astype(np.int64)
            tt = t.max() + max(600.0, float(logn(rng, 3 * HOUR, 0.8, 1)[0])) + np.arange(len(who)) * \
                rng.uniform(60, 1200)
            for i, rcv in enumerate(who):
                tk = tt[i] + np.arange(int(n_parts)) * rng.uniform(300, 3600)
                ak = np.full(int(n_parts), np.round(part / n_parts * rng.uniform(0.97, 1.0), 0))
                dev, ip = g.channel(dist, tk)
                kept = w.emit(tk, dist, rcv, ak, dev=dev, ip=ip, role=LAYER, case=g.case)
                g.cash_out(int(rcv), tk[kept], ak[kept], style="atm" if rng.random() < 0.6 else None)
    elif s == "cycle":  # around and around, back to where it started, then out
        t, a = g.inflow(m[0], t0, span * 0.2, int(rng.integers(2, 5)),
                        source=g.source)
        for c in m:
            g.commission[c] = float(rng.uniform(0.0, 0.03))
        for _ in range(int(rng.integers(1, 4))):
            for x, y in zip(m, m[1:] + m[:1]):
                t, a = g.forward(x, y, t, a, delay_h=float(rng.uniform(6, 48)), merge=DAY * 2)
        g.cash_out(m[0], t, a)
    elif s == "scatter_gather":  # one source, many intermediates, one sink
        src, mid, sink = m[0], m[1:-1], m[-1]
        t, a = g.inflow(src, t0, span * 0.3, int(rng.integers(2, 5)),
                        source=g.source)
        if len(t):
            total = a.sum() * (1 - g.commission[src])
            shares = rng.dirichlet(np.full(len(mid), 3.0)) * total
            ts, as_ = [], []
            for i, x in enumerate(mid):
                tk = np.array([t.max() + float(logn(rng, 4 * HOUR, 0.8, 1)[0]) + 120])
                dev, ip = g.channel(src, tk)
                kept = w.emit(tk, src, x, np.round(shares[i:i + 1], 0), dev=dev, ip=ip, role=LAYER, case=g.case)
                tt, aa = g.forward(x, sink, tk[kept], np.round(shares[i:i + 1], 0)[kept],
                                   delay_h=float(rng.uniform(12, 72)))
                ts.append(tt)
                as_.append(aa)
            t, a = np.concatenate(ts), np.concatenate(as_)
            o = np.argsort(t, kind="stable")
            g.cash_out(sink, t[o], a[o])
    elif s == "dormant":  # bought accounts wake up together
        hub = m[0]
        for x in m:
            t, a = g.inflow(x, t0 + rng.random() * 2 * DAY, 3 * DAY, int(rng.integers(1, 5)))
            if x != hub and rng.random() < 0.5:
                t, a = g.forward(x, hub, t, a, delay_h=float(rng.uniform(0.5, 12)))
                g.cash_out(hub, t, a, style=str(rng.choice(["crypto", "abroad"])))
            else:
                g.cash_out(x, t, a)
    elif s == "cash_out":  # money in from outside or a takeover, straight out in cash
        for x in m:
            for _ in range(int(rng.integers(1, 4))):
                t, a = g.inflow(x, t0 + rng.random() * span, DAY, int(rng.integers(1, 4)),
                                source=g.source)
                g.cash_out(x, t, a, style="atm" if rng.random() < 0.75 else "gift_cards")
    elif s == "device_farm":  # a dozen new accounts run from one phone
        for x in m:
            t, a = g.inflow(x, t0 + rng.random() * span, span * 0.3, int(rng.integers(1, 5)))
            g.cash_out(x, t, a, style=str(rng.choice(["crypto", "abroad"], p=[0.6, 0.4])))
    elif s == "scam_collector":  # a burst of strangers paying one account
        for x in m:
            burst = float(rng.uniform(1, 10)) * DAY
            t, a = g.inflow(x, t0 + rng.random() * DAY, burst, int(rng.integers(16, 70)))  # 10-45 victims
            g.cash_out(x, t, a, style=str(rng.choice(["crypto", "abroad"])))


_SIZES = {"chain": (3, 7), "fan_in": (5, 16), "fan_out": (5, 14), "cycle": (3, 8), "scatter_gather": (5, 11),
          "dormant": (2, 7), "cash_out": (1, 4), "device_farm": (5, 21), "scam_collector": (1, 3)}


def _plan_groups(rng: np.random.Generator, budget: float) -> list[tuple[str, int]]:
    """Groups (shape, size) until ``budget`` fraud rows are planned. Every shape appears at least once; when
    the budget is tight, groups shrink towards their smallest size so low fraud rates stay low."""
    required = [str(s) for s in rng.permutation(list(MULE_SHAPES))]
    out: list[tuple[str, int]] = []
    used = 0.0
    while required or used < budget:
        s = required.pop() if required else str(rng.choice(list(MULE_SHAPES)))
        lo, hi = _SIZES[s]
        reserve = sum(_ROWS_PER_MEMBER[r] * _SIZES[r][0] for r in required)
        room = (budget - used - reserve) / _ROWS_PER_MEMBER[s]
        k = int(max(lo, min(int(rng.integers(lo, hi)), room)))
        out.append((s, k))
        used += _ROWS_PER_MEMBER[s] * k
    return out


def _recruit(w: MoneyWorld, roles: Roles, planned: list[tuple[str, int]]) -> tuple[list[_Group], np.ndarray]:
    """Choose each group's start and members, and prepare their accounts: opened for the job a few days
    before (``new``), customers recruited with their own history (``existing``), or bought accounts that
    went quiet weeks ago (``dormant``). Returns the groups (flows not planted yet) and the customers left."""
    rng, p, h = w.rng, w.p, w.horizon
    free = np.ones(w.n, dtype=bool)
    free[roles.business] = False
    groups = []
    for case, (shape, size) in enumerate(planned):
        if shape == "dormant":
            start = rng.uniform(0.55, 0.85) * h
        elif shape == "cycle":  # a few rounds take weeks
            start = rng.uniform(0.15, 0.55) * h
        else:
            start = rng.uniform(0.15, 0.8) * h
        kinds = []
        for _ in range(size):
            if shape == "device_farm":
                kinds.append("new")
            elif shape == "dormant":
                kinds.append("dormant")
            else:
                kinds.append("new" if rng.random() < 0.45 else "existing")
        users = np.full(size, -1, dtype=np.int64)
        for i, kind in enumerate(kinds):
            if kind == "existing":  # somebody with weeks of history by then
                cand = np.flatnonzero(free & (p.join < start - 14 * DAY) & (p.end >= h))
            else:
                cand = np.flatnonzero(free & (p.end >= h))
            if not len(cand):
                cand = np.flatnonzero(free)
            users[i] = int(rng.choice(cand))
            free[users[i]] = False
        for u, kind in zip(users, kinds):
            if kind == "new":
                p.established[u] = False
                p.join[u] = max(0.0, start - rng.uniform(2, 25) * DAY)
                p.count[u] = int(rng.integers(0, 6))
                w.no_legit[u] = True
            elif kind == "dormant":
                p.established[u] = True
                p.join[u] = 0.0
                p.end[u] = start * rng.uniform(0.15, 0.45)
                p.count[u] = max(3, int(rng.poisson(p.rate[u] * p.end[u] / DAY)))  # a history, then silence
        if shape == "device_farm":  # opened from one phone within a few days, mostly from one place
            g = _Group(w, shape, users, kinds, start, case)
            opened = start - rng.uniform(1, 12) * DAY
            p.join[users] = np.maximum(0.0, opened + rng.random(size) * 3 * DAY)
            p.dev[users] = -1
            p.dev[users, 0] = g.ctrl_dev
            here = users[rng.random(size) < 0.6]
            p.home_ip[here] = g.ips[0]
            p.mobile[users] = -1
        else:
            g = _Group(w, shape, users, kinds, start, case)
        groups.append(g)
    return groups, np.flatnonzero(free)


# ================================================================ the world
def generate_mules(n_users: int, seed: int = 0, start: str = "2026-01-01", days: int = 90, **knobs: Any
                   ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Generate a mule world: transactions, the known mules (labels) and its truth.

    Parameters
    ----------
    n_users : int
        Customers of the bank (at least 300); accounts outside it come on top.
    seed : int, default 0
        Seed of the world; the same seed and knobs give the same data.
    start : str, default "2026-01-01"
        First day (UTC).
    days : int, default 90
        Length of the period in days (at least 7; dormant accounts sleep for weeks, so 60 or more is best).
    **knobs
        ``fraud_rate`` (0.001-0.05, default 0.004): share of transactions that move dirty money (it sets the
        number of mule groups); ``labelled_share`` (0-1, default 0.5): how much is ever reported (victims
        report that share of their payments; groups are investigated about as often when reported, a third
        as often when not); ``label_delay_days`` (0-60): mean days to a report, written as ``labelled_at``
        (investigations take about twice as long).

    Returns
    -------
    transactions : pandas.DataFrame
        :data:`MULE_COLUMNS` (``is_fraud`` 1 for reported fraud and disputed payments, else 0), then
        ``labelled_at`` with ``label_delay_days``; in time order.
    labels : pandas.DataFrame
        The known mules: ``user_id``, ``user_label`` (``mule``), then ``labelled_at`` with ``label_delay_days``.
    truth : dict
        ``mules``, ``typologies`` (user -> shape), ``rings`` (mule groups: ``shape``, ``users``, ...),
        ``known_mules``, ``victims``, ``takeover_users``, ``false_reports``, ``decoys``, ``params``,
        ``profile``, ``knobs``, ``n_fraud``, ``fraud_rate``, ``fraud_transactions``.

    Examples
    --------
    >>> tx, labels, truth = generate_mules(600, seed=1, days=60)
    >>> sorted({g["shape"] for g in truth["rings"].values()}) == sorted(MULE_SHAPES)
    True
    >>> set(labels["user_id"]) <= set(truth["mules"])
    True
    """
    rows, labels, truth = _mules(n_users, seed, start, days, knobs)
    return rows.frame(), labels, truth


def _mules(n_users: int, seed: int, start: str, days: int,
           knobs: dict[str, Any]) -> tuple[Table, pd.DataFrame, dict[str, Any]]:
    """:func:`generate_mules` with the transactions as a :class:`.base.Table` (strings made a block at a time)."""
    t0 = check_args(n_users, days, start)
    if int(n_users) < MIN_USERS:
        raise ValidationError(f"n_users must be at least {MIN_USERS} for the mules profile, not {n_users}: every "
                              "mule typology needs its members and their victims; ask for more users.",
                              [f"n_users: at least {MIN_USERS} for mules"])
    k = check_knobs("mules", knobs, tuple(KNOB_RANGES))
    rate = k.get("fraud_rate", DEFAULT_FRAUD_RATE)
    delay, share = k.get("label_delay_days"), k.get("labelled_share", DEFAULT_LABELLED_SHARE)
    n, horizon = int(n_users), float(days) * DAY
    rng = np.random.default_rng(seed)
    w = MoneyWorld(rng, n, horizon, t0)
    roles = Roles(w)
    # the fraud budget, from the rows this population is expected to make (about 16 transfers a customer
    # over 90 days besides card purchases)
    expected = float(np.sum(w.p.rate * (w.p.end - w.p.join) / DAY)) + 16.0 * n * horizon / (90 * DAY)
    groups, free = _recruit(w, roles, _plan_groups(rng, rate / (1 - rate) * expected))
    mules = np.concatenate([g.users for g in groups])  # planned; some may never be reached (idle)
    # legitimate dormant accounts: some wake up for a big event, the others stay asleep
    quiet = rng.choice(free[np.isin(free, roles.indiv)], size=max(2, int(0.01 * n)), replace=False)
    w.p.end[quiet] = rng.uniform(0.1, 0.45, len(quiet)) * horizon
    wakers = quiet[: len(quiet) // 2]
    kinds = np.array([kind for g in groups for kind in g.accounts])
    decoy_pool = np.setdiff1d(roles.indiv, mules[kinds != "existing"])  # households may hold a recruited mule
    decoys = plant_decoys(w.plan, w.p, decoy_pool)
    add_ordinary(w.plan, w.p)
    add_bursts(w.plan, w.p, np.setdiff1d(decoy_pool, mules))
    money = add_ordinary_money(w, roles, decoys["households"], wakers)
    # dirty money: victims are ordinary customers with a history, unrelated to each other
    clean = np.setdiff1d(roles.indiv, np.concatenate([mules, quiet]))
    clean = clean[(w.p.join[clean] < 0.3 * horizon) & (w.p.end[clean] >= horizon)]
    w.victim_pool = rng.permutation(clean)
    w.victim_at = 0
    w.ato_pool = rng.permutation(clean[w.p.established[clean]])[::-1]
    w.ato_at = 0
    for g in groups:
        _run_group(g)

    # the final table
    for ch in w.plan.chunks:  # card purchases carry no counterparty
        kk = len(ch["t"])
        ch.setdefault("cp", np.full(kk, -1, dtype=np.int64))
        ch.setdefault("role", np.zeros(kk, dtype=np.int64))
    n_m0 = len(w.plan.mcat)
    w.plan.mcat = np.concatenate([w.plan.mcat, np.full(w.n_atm, 9)])  # ATMs (never priced as merchants)
    cols, ids = assemble(w.plan, n)
    # a mule is an account that moved dirty money in the period: members the money never reached before
    # the end (the last hops of a late chain) are listed as idle, not as mules
    dirty = cols["fraud"] == 1
    moved = np.zeros(n + w.ext.n + 1, dtype=bool)
    moved[cols["u"][dirty]] = True
    moved[cols["cp"][dirty]] = True
    for g in groups:
        used = moved[g.users]
        g.planned, g.idle = g.users, g.users[~used]
        g.users, g.accounts = g.users[used], [kd for kd, ok in zip(g.accounts, used) if ok]
    ext_ids = digit_ids(rng, "X", max(1, w.ext.n), 10)[: w.ext.n]
    account = np.concatenate([ids["user"], ext_ids, np.array([""], dtype=object)])
    merchant = np.append(ids["merchant"], "")
    fraud = cols["fraud"].astype(np.int64)
    is_fraud, labelled_at, known, known_at, investigated = _labels(seed, cols, groups, share, delay)
    columns = {"transaction_id": transaction_ids, "timestamp": lambda r: stamps(t0, cols["t"][r]),
               "user_id": lambda r: account[cols["u"][r]], "amount": lambda r: cols["amount"][r].astype(float),
               "currency": lambda r: CURRENCY[cols["country"][r]].astype(object),
               "card_id": lambda r: ids["card"][cols["card"][r]], "device_id": lambda r: ids["device"][cols["dev"][r]],
               "ip": lambda r: ids["ip"][cols["ip"][r]], "merchant_id": lambda r: merchant[cols["merch"][r]],
               "counterparty_id": lambda r: account[cols["cp"][r]],
               "country": lambda r: COUNTRY[cols["country"][r]].astype(object), "is_fraud": lambda r: is_fraud[r]}
    if labelled_at is not None:
        columns["labelled_at"] = stamps_or_blank(t0, labelled_at)
    rows = Table(len(fraud), columns)
    user = ids["user"]
    labels = pd.DataFrame({"user_id": user[known], "user_label": "mule"})
    if delay is not None:
        labels["labelled_at"] = stamps(t0, known_at)
    labels = labels.sort_values("user_id", kind="stable", ignore_index=True)

    def users(h: Any) -> list[str]:
        h = np.asarray(h, dtype=np.int64)
        return sorted(account[h[h < n]].tolist())

    rings = {}
    known_set = set(known.tolist())
    for i, g in enumerate(groups):
        ring: dict[str, Any] = {
            "shape": g.shape, "users": users(g.users), "size": int(len(g.users)), "start": iso(t0, g.start),
            "accounts": dict(sorted((account[u], kind) for u, kind in zip(g.users, g.accounts))),
            "source": g.source, "mode": g.mode,
            "cash_out": dict(sorted((account[u], s) for u, s in g.styles.items())),
            "sinks": sorted(account[np.array(sorted(g.sinks), dtype=np.int64)].tolist()) if g.sinks else [],
            "victims": users(sorted(set(g.victims))), "n_external_victims": g.n_external_victims,
            "takeover_victims": users(sorted(set(g.takeovers))),
            "investigated": bool(investigated[i]), "known": users([u for u in g.users if int(u) in known_set]),
            "idle": users(g.idle)}
        if g.shape in ("chain", "cycle"):
            ring["order"] = account[g.users].tolist()  # the planned order, members reached
        if g.shape in ("fan_in", "scatter_gather"):
            ring["collector"] = account[g.planned[-1]]
        if g.shape in ("fan_out", "scatter_gather"):
            ring["distributor"] = account[g.planned[0]]
        if g.mode == "controller":
            ring["device"] = ids["device"][g.ctrl_dev]
        rings[f"mule-{i + 1:04d}"] = ring
    typ = {account[u]: g.shape for g in groups for u in g.users}
    false_reports = transaction_ids(np.flatnonzero(cols["role"] == DISPUTED)).tolist()
    truth: dict[str, Any] = {
        "mules": sorted(typ), "typologies": dict(sorted(typ.items())), "rings": rings,
        "known_mules": users(known),
        "victims": users(sorted({v for g in groups for v in g.victims})),
        "takeover_users": users(sorted({v for g in groups for v in g.takeovers})),
        "false_reports": false_reports,
        "decoys": {
            **{k: users(money[k]) for k in ("employers", "landlords", "letting_agencies", "agency_owners", "shops",
                                            "platforms", "marketplace_sellers", "power_sellers", "savers",
                                            "remitters", "crypto_users")},
            "savings_circles": [users(c) for c in money["savings_circles"]],
            "friend_groups": len(money["friend_groups"]),
            "households": [users(hh["users"]) for hh in decoys["households"]],
            "accountant_devices": [{"device": ids["device"][d], "users": users(c)}
                                   for d, c in zip(roles.accountant_devices, roles.accountant_clients) if len(c)],
            "dormant_accounts": users(quiet),
            "woke_up": [{"user": account[x["user"]], "wake": iso(t0, x["wake"])} for x in money["woke_up"]],
            "crypto_exchanges": account[w.exchanges].tolist(),
            "atms": merchant[n_m0:n_m0 + w.n_atm].tolist()},
        "params": {"n_users": n, "seed": int(seed), "start": t0.strftime("%Y-%m-%dT%H:%M:%SZ"), "days": int(days)},
        "profile": "mules", "knobs": {"fraud_rate": rate, "label_delay_days": delay, "labelled_share": share},
        "n_fraud": int(fraud.sum()), "fraud_rate": round(float(fraud.mean()), 6) if len(fraud) else 0.0,
        "fraud_transactions": transaction_ids(np.flatnonzero(fraud == 1)).tolist()}
    return rows, labels, truth


def _labels(seed: int, cols: dict[str, np.ndarray], groups: list[_Group], share: float,
            delay: float | None) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray, np.ndarray]:
    """What gets known, from its own generator: victims report ``share`` of their payments (outside
    proceeds half as often), groups are investigated (likelier when something was reported), and an
    investigation finds most of its members and labels their dirty transfers. Disputed payments are
    reported too, wrongly. Returns ``is_fraud``, ``labelled_at`` (seconds from the start), the known mules, when
    each became known, and which groups were investigated."""
    rng = np.random.default_rng([int(seed), 0x1ABE1])
    role, case, t, u, cp = cols["role"], cols["case"], cols["t"], cols["u"], cols["cp"]
    k = len(t)
    scale = (delay or 0.0) / 2.0
    report_lag = rng.gamma(2.0, scale, k) * DAY if scale > 0 else np.zeros(k)
    reported = ((role == VICTIM) & (rng.random(k) < share)) | ((role == PROCEEDS) & (rng.random(k) < share / 2))
    is_fraud = (reported | (role == DISPUTED)).astype(np.int64)
    at = t + report_lag
    known_u, known_t = [], []
    investigated = np.zeros(len(groups), dtype=bool)
    for i, g in enumerate(groups):
        rows = np.flatnonzero(case == g.case)
        if not len(rows):
            continue
        hit = reported[rows]
        p_inv = min(1.0, 1.2 * share) if hit.any() else share / 3
        if rng.random() >= p_inv:
            continue
        investigated[i] = True
        first = float(t[rows[hit]].min() + report_lag[rows[hit]].min()) if hit.any() else float(t[rows].max())
        closed = first + (rng.gamma(2.0, 2 * scale) * DAY if scale > 0 else 0.0)
        found = g.users[rng.random(len(g.users)) < 0.85]
        if not len(found):
            continue
        known_u.append(found)
        known_t.append(np.full(len(found), closed))
        mine = rows[np.isin(u[rows], found) | np.isin(cp[rows], found)]
        is_fraud[mine] = 1
        at[mine] = np.where(reported[mine], np.minimum(at[mine], np.maximum(closed, t[mine] + HOUR)),
                            np.maximum(closed, t[mine] + HOUR))
    known = np.concatenate(known_u) if known_u else np.zeros(0, dtype=np.int64)
    known_at = np.concatenate(known_t) if known_t else np.zeros(0)
    labelled_at = None
    if delay is not None:
        labelled_at = np.maximum(at, t + (HOUR if scale > 0 else 0.0))
    return is_fraud, labelled_at, known, known_at, investigated


def write_mules(out_csv: str | os.PathLike[str], n_users: int, seed: int = 0, start: str = "2026-01-01",
                days: int = 90, **kw: Any) -> dict[str, Any]:
    """``--profile mules``: write the transactions as ``out_csv``, and ``labels.csv`` (the known mules) and
    ``truth.json`` beside it. See :func:`generate_mules`; the id and time strings are made a block of rows at
    a time.

    Returns
    -------
    dict
        ``profile``, ``n_transactions``, ``n_users``, ``n_rings`` (mule groups), ``n_mules``,
        ``n_known_mules``, ``n_fraud`` (true), ``n_fraud_labelled``, ``fraud_rate``, ``path``, ``labels``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> write_mules(folder / "tx.csv", 300, seed=0, days=45)["n_mules"] > 0
    True
    """
    path = Path(out_csv)
    rows, labels, truth = _mules(n_users, seed, start, days, kw)
    save(path, rows, truth)
    labels_path = path.parent / "labels.csv"
    labels.to_csv(labels_path, index=False, lineterminator="\n")
    return {"profile": "mules", "n_transactions": int(len(rows)), "n_users": int(n_users),
            "n_rings": len(truth["rings"]), "n_mules": len(truth["mules"]), "n_known_mules": int(len(labels)),
            "n_fraud": truth["n_fraud"], "n_fraud_labelled": int(rows.columns["is_fraud"](slice(0, len(rows))).sum()),
            "fraud_rate": truth["fraud_rate"], "path": str(path), "labels": str(labels_path)}
