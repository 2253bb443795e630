"""The mule world behind ``graphfraud generate --profile mules``: money mules hidden in ordinary money.

A bank's customers (``n_users``) live the typology worlds' lives (:mod:`.population`: card purchases,
households, offices, shared and default devices, carrier NAT, ...) and move money to each other and to
accounts outside the bank (ids ``X...``): salaries and payroll, rent to landlords and letting agencies
(who pass it on minus a fee), mortgages, bills, family transfers and loans, savings circles, friends
splitting bills, marketplace sales and platform payouts, shops paid by their customers, savings and
remittances sent on right after payday, crypto exchanges, cash at ATMs, and dormant accounts that wake
up for a house purchase.

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

from .base import (COUNTRY, CURRENCY, DAY, DIURNAL, GIFT, HOUR, Plan, Pool, assemble, check_args, digit_ids, iso,
                   save, stamps, zipf)
from .labels import KNOB_RANGES, check_knobs
from .population import People, add_bursts, add_ordinary, plant_decoys

#: Mule typologies, the ``shape`` of a mule group and the kind of each of its members in ``truth.json``.
MULE_SHAPES = ("chain", "fan_in", "fan_out", "cycle", "scatter_gather", "dormant", "cash_out", "device_farm",
               "scam_collector")
#: Columns of a mule world's transactions file (then ``labelled_at`` with ``label_delay_days``).
MULE_COLUMNS = ("transaction_id", "timestamp", "user_id", "amount", "currency", "card_id", "device_id", "ip",
                "merchant_id", "counterparty_id", "country", "is_fraud")
DEFAULT_FRAUD_RATE = 0.004
DEFAULT_LABELLED_SHARE = 0.5
# what a row is (never written): legitimate, a victim's payment, fraud proceeds from outside, a mule's own
# transfer or cash-out, a legitimate payment its payer disputed as fraud (a false report)
LEGIT, VICTIM, PROCEEDS, LAYER, DISPUTED = 0, 1, 2, 3, 4
# fraud rows a group of each shape makes per member, on average (measured), to plan a fraud budget
_ROWS_PER_MEMBER = {"chain": 15.0, "fan_in": 5.0, "fan_out": 4.0, "cycle": 5.0, "scatter_gather": 3.0,
                    "dormant": 8.0, "cash_out": 25.0, "device_farm": 4.5, "scam_collector": 35.0}
_ROUND = np.array([20, 40, 50, 60, 80, 100, 120, 140, 150, 160, 200, 250, 300, 400, 500])
_ROUND_P = np.array([6, 8, 8, 6, 6, 12, 4, 3, 4, 3, 10, 4, 5, 2, 3], dtype=float)
_ROUND_P /= _ROUND_P.sum()
_RESTAURANT, _ENTERTAIN = 1, 8


class _World:
    """The plan, the people, the calendar, outside accounts and the one place rows are added."""

    def __init__(self, rng: np.random.Generator, n: int, horizon: float, t0: pd.Timestamp) -> None:
        self.rng, self.n, self.horizon, self.t0 = rng, n, horizon, t0
        self.plan = Plan(rng, n, horizon)
        self.p = People(self.plan)
        self.p.rate *= 0.6  # card purchases: this world is about money moving between accounts
        self.ext = Pool()
        self.n_days = int(np.ceil(horizon / DAY))
        dates = pd.date_range(t0.normalize(), periods=self.n_days, freq="D")
        self.dom = np.asarray(dates.day)
        self.dow = np.asarray(dates.dayofweek)
        self.no_legit = np.zeros(n, dtype=bool)  # mule accounts opened for the job, and bought dormant ones
        self.n_atm = max(10, n // 250)
        self.atms = len(self.plan.mcat) + np.arange(self.n_atm)  # merchant handles, added at the end
        self.atm_p = zipf(self.n_atm, 0.8, rng)
        self.home_atm = rng.choice(self.atms, size=(n, 2), p=self.atm_p)
        self.exchanges = self.external(int(rng.integers(3, 6)))  # crypto exchanges' deposit accounts
        self.exchange_p = zipf(len(self.exchanges), 1.2, rng)
        self.n_rows = 0

    def external(self, k: int = 1) -> np.ndarray:
        """``k`` new accounts outside the bank (handles from ``n`` up)."""
        return self.n + self.ext.new(k)

    def active(self, h: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Whether account ``h`` (outside accounts always) leads its ordinary life at time ``t``."""
        p = self.p
        hh = np.clip(h, 0, self.n - 1)
        inside = (h >= 0) & (h < self.n)
        return ~inside | ((p.join[hh] <= t) & (t < p.end[hh]) & ~self.no_legit[hh])

    def emit(self, t: Any, u: Any, cp: Any, amount: Any, *, dev: Any = -1, ip: Any = -1, card: Any = -1,
             merch: Any = -1, role: int = LEGIT, case: Any = -1, force: bool = False) -> np.ndarray:
        """Add rows; ordinary ones only while both accounts lead their ordinary lives (unless ``force``), and
        nothing outside the period. Returns the mask of rows kept."""
        t = np.atleast_1d(np.asarray(t, dtype=float))
        k = len(t)
        if not k:
            return np.zeros(0, dtype=bool)

        def col(x: Any, dtype: Any = np.int64) -> np.ndarray:
            return np.array(np.broadcast_to(np.asarray(x, dtype=dtype), k))

        u, cp, dev, ip, card, merch, case = (col(x) for x in (u, cp, dev, ip, card, merch, case))
        amount = np.round(np.maximum(col(amount, float), 0.01), 2)
        keep = (t >= 0) & (t < self.horizon)
        if role in (LEGIT, DISPUTED) and not force:
            keep &= self.active(u, t) & self.active(cp, t)
        if keep.any():
            s = keep
            home = self.p.home
            sender_inside = u[s] < self.n
            country = np.where(sender_inside, home[np.clip(u[s], 0, self.n - 1)], home[np.clip(cp[s], 0, self.n - 1)])
            self.plan.add(t[s], u[s], amount[s], country, card[s], dev[s], ip[s], merch[s],
                          int(role in (VICTIM, PROCEEDS, LAYER)), cp=cp[s], role=role, case=case[s])
            self.n_rows += int(s.sum())
        return keep

    def channel(self, u: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Device and IP of an app or web payment by customers ``u`` at times ``t``."""
        p, rng = self.p, self.rng
        u = np.asarray(u, dtype=np.int64)
        k = len(u)
        n_dev = np.maximum((p.dev[u] >= 0).sum(axis=1), 1)
        slot = np.minimum((rng.random(k) ** 2 * n_dev).astype(np.int64), n_dev - 1)
        d = p.dev[u, slot]
        d = np.where((slot == 0) & (t >= p.switch_t[u]), p.new_dev[u], d)
        d = np.where(rng.random(k) < 0.02, -1, d)
        r = rng.random(k)
        mob = p.mobile[u, 0]
        ip = np.where((r < 0.45) & (mob >= 0), mob, p.home_ip[u])
        ip = np.where((r > 0.9) & (p.office[u] >= 0), p.office[u], ip)
        return d, ip

    def daytime(self, t: np.ndarray, u: np.ndarray) -> np.ndarray:
        """``t`` moved to a waking hour of the same local day of customer ``u`` (outside accounts: UTC)."""
        tz = np.where(u < self.n, self.p.tz[np.clip(u, 0, self.n - 1)], 0)
        return _diurnal(self.rng, t, tz)

    def days_where(self, mask: np.ndarray) -> np.ndarray:
        return np.flatnonzero(mask).astype(float) * DAY


def _diurnal(rng: np.random.Generator, t: np.ndarray, tz: np.ndarray) -> np.ndarray:
    off = tz * HOUR
    day = np.floor((t + off) / DAY)
    hour = rng.choice(24, size=len(t), p=DIURNAL)
    return day * DAY + hour * HOUR + rng.random(len(t)) * HOUR - off


def _logn(rng: np.random.Generator, median: float, sigma: float, k: int) -> np.ndarray:
    return rng.lognormal(np.log(median), sigma, k)


# ================================================================ who is who
class _Roles:
    """Business accounts among the customers, and the individuals."""

    def __init__(self, w: _World) -> None:
        rng, n, p = w.rng, w.n, w.p
        order = rng.permutation(n)
        sizes = {"shops": max(3, int(0.01 * n)), "employers": max(2, int(0.004 * n)),
                 "agencies": max(1, n // 2500), "platforms": max(1, n // 5000)}
        at = 0
        for name, k in sizes.items():
            setattr(self, name, order[at:at + k])
            at += k
        self.business = order[:at]
        self.indiv = np.sort(order[at:])
        p.established[self.business] = True
        p.join[self.business] = 0.0
        self.is_business = np.zeros(n, dtype=bool)
        self.is_business[self.business] = True
        # a business pays from its office: its own PC, or the accountant's that also runs a dozen others
        self.biz_dev = np.full(n, -1, dtype=np.int64)
        self.biz_ip = np.full(n, -1, dtype=np.int64)
        self.biz_dev[self.business] = w.plan.devices.new(len(self.business))
        self.biz_ip[self.business] = w.plan.ips.new(len(self.business))
        n_acc = max(1, len(self.business) // 12)
        self.accountant_devices = w.plan.devices.new(n_acc)
        self.accountant_ips = w.plan.ips.new(n_acc)
        kept = self.business[rng.random(len(self.business)) < 0.4]
        who = rng.integers(0, n_acc, len(kept))
        self.biz_dev[kept], self.biz_ip[kept] = self.accountant_devices[who], self.accountant_ips[who]
        self.accountant_clients = [kept[who == a] for a in range(n_acc)]


def _biz_channel(roles: _Roles, b: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    return np.full(k, roles.biz_dev[b]), np.full(k, roles.biz_ip[b])


# ================================================================ ordinary money
def _salaries(w: _World, r: _Roles) -> dict[str, Any]:
    """Payroll: every employer pays all its staff in one batch, monthly or every other Friday."""
    rng, n = w.rng, w.n
    employed = r.indiv[rng.random(len(r.indiv)) < 0.72]
    n_out = max(5, n // 150)
    employers = np.concatenate([r.employers, r.shops[rng.random(len(r.shops)) < 0.3], w.external(n_out)])
    e_of = rng.choice(len(employers), size=len(employed), p=zipf(len(employers), 1.1, rng))
    monthly = rng.random(len(employers)) < 0.6
    pay_dom = rng.integers(24, 29, len(employers))
    phase = rng.integers(0, 14, len(employers))
    hour = rng.uniform(0, 7, len(employers))
    salary = np.round(_logn(rng, 3200, 0.45, len(employed)), 0)
    pay_t, pay_u, pay_a = [], [], []
    for e, boss in enumerate(employers):
        staff = np.flatnonzero(e_of == e)
        if not len(staff):
            continue
        if monthly[e]:
            days = w.days_where(w.dom == pay_dom[e])
        else:  # every other Friday
            days = w.days_where((w.dow == 4) & ((np.arange(w.n_days) // 7 + phase[e]) % 2 == 0))
        k = len(days) * len(staff)
        if not k:
            continue
        t = np.repeat(days + hour[e] * HOUR, len(staff)) + rng.uniform(0, 90, k)
        to = np.tile(employed[staff], len(days))
        amt = np.tile(salary[staff] * (1.0 if monthly[e] else 0.46), len(days)) * (1 + rng.normal(0, 0.02, k))
        dev, ip = _biz_channel(r, boss, k) if boss < n else (-1, -1)
        kept = w.emit(t, boss, to, amt, dev=dev, ip=ip)
        pay_t.append(t[kept])
        pay_u.append(to[kept])
        pay_a.append(amt[kept])
    pays = (np.concatenate(pay_t), np.concatenate(pay_u), np.concatenate(pay_a)) if pay_t else \
        (np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(0))
    return {"employers": employers, "employed": employed, "pays": pays}


def _after_payday(w: _World, r: _Roles, pays: tuple[np.ndarray, np.ndarray, np.ndarray]) -> dict[str, Any]:
    """Money sent on soon after it arrives, legitimately: to one's own savings or main account elsewhere
    (a fifth of savers move nearly all of it within hours), to family abroad, to a crypto exchange."""
    rng, n = w.rng, w.n
    pay_t, pay_u, pay_a = pays
    share = np.zeros(n)
    savers = r.indiv[rng.random(len(r.indiv)) < 0.25]
    share[savers] = np.where(rng.random(len(savers)) < 0.2, rng.uniform(0.7, 0.95, len(savers)),
                             rng.uniform(0.1, 0.4, len(savers)))
    own = np.full(n, -1, dtype=np.int64)
    own[savers] = w.external(len(savers))
    s = share[pay_u] > 0
    t = pay_t[s] + _logn(rng, 6 * HOUR, 1.0, int(s.sum())) + 60
    dev, ip = w.channel(pay_u[s], t)
    w.emit(t, pay_u[s], own[pay_u[s]], pay_a[s] * share[pay_u[s]] * rng.uniform(0.95, 1.05, int(s.sum())),
           dev=dev, ip=ip)
    # remittances: a large part of each pay to family abroad, within a day or two
    remitters = r.indiv[rng.random(len(r.indiv)) < 0.04]
    fam = np.full((n, 2), -1, dtype=np.int64)
    fam[remitters, 0] = w.external(len(remitters))
    two = remitters[rng.random(len(remitters)) < 0.4]
    fam[two, 1] = w.external(len(two))
    rshare = np.zeros(n)
    rshare[remitters] = rng.uniform(0.3, 0.7, len(remitters))
    s = rshare[pay_u] > 0
    k = int(s.sum())
    to = fam[pay_u[s], (rng.random(k) < 0.5).astype(np.int64)]
    to = np.where(to >= 0, to, fam[pay_u[s], 0])
    t = pay_t[s] + _logn(rng, 20 * HOUR, 0.8, k) + 300
    dev, ip = w.channel(pay_u[s], t)
    w.emit(t, pay_u[s], to, pay_a[s] * rshare[pay_u[s]], dev=dev, ip=ip)
    # crypto: the same exchanges mules use
    crypto = r.indiv[rng.random(len(r.indiv)) < 0.05]
    k_each = rng.poisson(1.5 * w.horizon / (30 * DAY), len(crypto))
    u = np.repeat(crypto, k_each)
    t = w.daytime(rng.random(len(u)) * w.horizon, u)
    dev, ip = w.channel(u, t)
    ex = rng.choice(w.exchanges, size=len(u), p=w.exchange_p)
    w.emit(t, u, ex, _logn(rng, 200, 1.0, len(u)), dev=dev, ip=ip)
    back = rng.random(len(u)) < 0.3  # and withdrawals back from the exchange
    tb = t[back] + rng.uniform(2, 20, int(back.sum())) * DAY
    w.emit(tb, ex[back], u[back], _logn(rng, 250, 1.1, int(back.sum())))
    return {"savers": savers, "remitters": remitters, "crypto_users": crypto}


def _bills(w: _World, r: _Roles) -> None:
    """Utilities, phone, insurance and loans paid by transfer to a few outside billers, monthly."""
    rng = w.rng
    billers = w.external(max(10, w.n // 500))
    bp = zipf(len(billers), 0.9, rng)
    payers = r.indiv[rng.random(len(r.indiv)) < 0.6]
    n_b = rng.integers(1, 4, len(payers))
    u = np.repeat(payers, n_b)
    to = rng.choice(billers, size=len(u), p=bp)
    day = rng.integers(1, 29, len(u))
    amt = _logn(rng, 80, 0.6, len(u))
    for d in range(1, 29):
        days = w.days_where(w.dom == d)
        sel = np.flatnonzero(day == d)
        if not len(days) or not len(sel):
            continue
        uu, tt = np.repeat(u[sel], len(days)), np.tile(days, len(sel))
        tt = w.daytime(tt, uu)
        dev, ip = w.channel(uu, tt)
        w.emit(tt, uu, np.repeat(to[sel], len(days)), np.repeat(amt[sel], len(days)) * rng.uniform(0.9, 1.1, len(uu)),
               dev=dev, ip=ip)


def _rent(w: _World, r: _Roles) -> dict[str, Any]:
    """Rent on the first days of the month to landlords (who pay their mortgage from it a few days later)
    and letting agencies (who pass it on to the owners minus their fee)."""
    rng, n = w.rng, w.n
    renters = r.indiv[rng.random(len(r.indiv)) < 0.35]
    cand = np.setdiff1d(r.indiv, renters)
    landlords = rng.choice(cand, size=min(len(cand), max(3, int(0.008 * n))), replace=False)
    out_landlords = w.external(max(5, n // 60))
    kind = rng.choice(3, size=len(renters), p=[0.3, 0.25, 0.45])
    to = np.where(kind == 0, rng.choice(landlords, size=len(renters), p=zipf(len(landlords), 0.6, rng)),
                  np.where(kind == 1, rng.choice(r.agencies, size=len(renters)),
                           rng.choice(out_landlords, size=len(renters))))
    # tenants who bank elsewhere pay the bank's landlords and agencies too
    n_out_t = int(0.25 * np.sum(kind < 2))
    renters = np.concatenate([renters, w.external(n_out_t)])
    kind = np.concatenate([kind, np.where(rng.random(n_out_t) < 0.55, 0, 1)])
    to = np.concatenate([to, np.where(kind[-n_out_t:] == 0,
                                      rng.choice(landlords, size=n_out_t, p=zipf(len(landlords), 0.6, rng)),
                                      rng.choice(r.agencies, size=n_out_t))]) if n_out_t else to
    rent = np.round(_logn(rng, 1100, 0.35, len(renters)), 0)
    day = rng.integers(1, 6, len(renters))
    for d in range(1, 6):
        days = w.days_where(w.dom == d)
        sel = np.flatnonzero(day == d)
        uu = np.repeat(renters[sel], len(days))
        tt = w.daytime(np.tile(days, len(sel)), uu)
        inside = uu < n
        dev, ip = np.full(len(uu), -1), np.full(len(uu), -1)
        dev[inside], ip[inside] = w.channel(uu[inside], tt[inside])
        w.emit(tt, uu, np.repeat(to[sel], len(days)), np.repeat(rent[sel], len(days)), dev=dev, ip=ip)
    # landlords: the mortgage, from the rent, a few days later
    lenders = w.external(5)
    income = pd.Series(rent[kind == 0]).groupby(to[kind == 0]).sum()
    for ll in landlords:
        due = float(income.get(ll, 0.0)) * rng.uniform(0.5, 0.9) or float(_logn(rng, 900, 0.4, 1)[0])
        days = w.days_where(w.dom == int(rng.integers(6, 13)))
        tt = w.daytime(days, np.full(len(days), ll))
        dev, ip = w.channel(np.full(len(days), ll), tt)
        w.emit(tt, ll, rng.choice(lenders), np.full(len(days), round(due, 2)), dev=dev, ip=ip)
    # agencies: each owner gets their units' rent minus the fee, on the agency's payout day
    owners_all = []
    for a in r.agencies:
        tenants = np.flatnonzero((kind == 1) & (to == a))
        k_own = int(rng.integers(3, 16))
        owners = np.concatenate([rng.choice(r.indiv, size=k_own, replace=False), w.external(int(rng.integers(1, 4)))])
        owner_of = rng.choice(owners, size=len(tenants))
        fee = rng.uniform(0.08, 0.12)
        dues = pd.Series(rent[tenants]).groupby(owner_of).sum()
        days = w.days_where(w.dom == int(rng.integers(8, 13)))
        for o, due in dues.items():
            t = days + rng.uniform(9, 11, len(days)) * HOUR
            dev, ip = _biz_channel(r, int(a), len(days))
            w.emit(t, a, o, np.full(len(days), due * (1 - fee)), dev=dev, ip=ip)
        owners_all.append(owners[owners < n])
    return {"landlords": landlords, "agencies": r.agencies,
            "agency_owners": np.concatenate(owners_all) if owners_all else np.zeros(0, dtype=np.int64)}


def _family(w: _World, r: _Roles, households: list[dict[str, Any]]) -> dict[str, Any]:
    """Money within households and between parents and grown-up children: allowances, shared bills,
    loans repaid in instalments (money going round in circles), and savings circles (each month everyone
    pays the member whose turn it is)."""
    rng, months = w.rng, w.horizon / (30 * DAY)
    pairs = []
    for h in households:
        m = np.asarray(h["users"])
        a, b = np.meshgrid(m, m)
        pairs.append(np.stack([a.ravel(), b.ravel()], axis=1))
    if pairs:
        pair = np.concatenate(pairs)
        pair = pair[(pair[:, 0] != pair[:, 1]) & (rng.random(len(pair)) < 0.35)]
        k = rng.poisson(_logn(rng, 1.0, 0.7, len(pair)) * months)
        u, to = np.repeat(pair[:, 0], k), np.repeat(pair[:, 1], k)
        t = w.daytime(rng.random(len(u)) * w.horizon, u)
        dev, ip = w.channel(u, t)
        w.emit(t, u, to, _logn(rng, 60, 1.0, len(u)), dev=dev, ip=ip)
    parents = r.indiv[rng.random(len(r.indiv)) < 0.06]
    kids = rng.choice(r.indiv, size=len(parents))
    ok = kids != parents
    parents, kids = parents[ok], kids[ok]
    elsewhere = rng.random(len(parents)) < 0.3  # a parent at another bank
    parents = np.where(elsewhere, w.external(len(parents)), parents)
    allowance_day = rng.integers(1, 29, len(parents))
    for d in range(1, 29):
        sel = np.flatnonzero(allowance_day == d)
        days = w.days_where(w.dom == d)
        if not len(sel) or not len(days):
            continue
        uu = np.repeat(parents[sel], len(days))
        tt = w.daytime(np.tile(days, len(sel)), uu)
        inside = uu < w.n
        dev, ip = np.full(len(uu), -1), np.full(len(uu), -1)
        dev[inside], ip[inside] = w.channel(uu[inside], tt[inside])
        w.emit(tt, uu, np.repeat(kids[sel], len(days)), np.repeat(_logn(rng, 200, 0.6, len(sel)), len(days)),
               dev=dev, ip=ip)
    back = rng.poisson(0.3 * months, len(kids))
    u, to = np.repeat(kids, back), np.repeat(parents, back)
    t = w.daytime(rng.random(len(u)) * w.horizon, u)
    dev, ip = w.channel(u, t)
    w.emit(t, u, to, _logn(rng, 50, 0.9, len(u)), dev=dev, ip=ip)
    # loans: a lump, repaid in 2-4 instalments a few weeks apart
    lenders = rng.choice(r.indiv, size=max(2, int(0.01 * w.n)), replace=False)
    borrowers = rng.choice(r.indiv, size=len(lenders))
    for lender, borrower in zip(lenders, borrowers):
        if lender == borrower:
            continue
        lump = round(float(_logn(rng, 1500, 0.6, 1)[0]), 0)
        t0 = rng.random() * w.horizon * 0.7
        parts = int(rng.integers(2, 5))
        t = np.concatenate([[t0], t0 + np.cumsum(rng.uniform(10, 30, parts)) * DAY])
        u = np.array([lender] + [borrower] * parts)
        to = np.array([borrower] + [lender] * parts)
        t = w.daytime(t, u)
        dev, ip = w.channel(u, t)
        w.emit(t, u, to, np.concatenate([[lump], np.full(parts, round(lump / parts, 2))]), dev=dev, ip=ip)
    # savings circles
    circles = []
    pool = rng.permutation(r.indiv)[: max(4, int(0.012 * w.n))]
    sizes = rng.integers(4, 11, size=len(pool) // 4)
    sizes = sizes[np.cumsum(sizes) <= len(pool)]
    for members in np.split(pool[:sizes.sum()], np.cumsum(sizes)[:-1]):
        k = len(members)
        contrib = round(float(_logn(rng, 150, 0.5, 1)[0]), 0)
        days = w.days_where(w.dom == int(rng.integers(1, 29)))
        turn = int(rng.integers(0, k))
        for j, day in enumerate(days):
            taker = members[(turn + j) % k]
            payers = members[members != taker]
            t = w.daytime(np.full(len(payers), day), payers) + rng.uniform(0, 2 * DAY, len(payers))
            dev, ip = w.channel(payers, t)
            w.emit(t, payers, taker, np.full(len(payers), contrib), dev=dev, ip=ip)
        circles.append(members)
    return {"parents": parents[parents < w.n], "loans": lenders, "savings_circles": circles}


def _friends(w: _World, r: _Roles) -> dict[str, Any]:
    """Friends splitting a bill: one pays the restaurant by card, the others (some banking elsewhere) send
    their share within hours."""
    rng, plan, p = w.rng, w.plan, w.p
    pool = rng.permutation(r.indiv)[: int(0.12 * len(r.indiv))]
    sizes = rng.integers(3, 9, size=max(1, len(pool) // 5))
    sizes = sizes[np.cumsum(sizes) <= len(pool)]
    groups = np.split(pool[:sizes.sum()], np.cumsum(sizes)[:-1])
    venues = np.flatnonzero(np.isin(plan.mcat, (_RESTAURANT, _ENTERTAIN)))
    vp = plan.pop[venues] / plan.pop[venues].sum()
    payers, sharers, event_of = [], [], []
    for g in groups:
        outside = w.external(int(rng.integers(0, 3)))  # friends who bank elsewhere
        for _ in range(int(rng.poisson(1.5 * w.horizon / (30 * DAY)))):
            came = g[rng.random(len(g)) < 0.7]
            came = np.concatenate([came, outside[rng.random(len(outside)) < 0.4]])
            if len(came) < 2 or came[0] >= w.n:
                continue
            event_of.append(np.full(len(came) - 1, len(payers)))
            payers.append(came[0])
            sharers.append(came[1:])
    if not payers:
        return {"friend_groups": groups}
    payer = np.array(payers, dtype=np.int64)
    k = len(payer)
    te = w.daytime(rng.random(k) * w.horizon, payer)
    head = np.round(_logn(rng, 30, 0.5, k), 2)
    n_came = np.bincount(np.concatenate(event_of), minlength=k) + 1
    dev, ip = w.channel(payer, te)
    w.emit(te, payer, -1, head * n_came, card=p.card[payer, 0], dev=dev, ip=ip, merch=rng.choice(venues, size=k, p=vp))
    ev, u = np.concatenate(event_of), np.concatenate(sharers)
    t = te[ev] + _logn(rng, 2 * HOUR, 1.2, len(u)) + 60
    inside = u < w.n
    dev, ip, card = np.full(len(u), -1), np.full(len(u), -1), np.full(len(u), -1)
    dev[inside], ip[inside] = w.channel(u[inside], t[inside])
    card[inside] = np.where(rng.random(int(inside.sum())) < 0.1, p.card[u[inside], 0], -1)
    w.emit(t, u, payer[ev], np.round(head[ev] * rng.uniform(0.9, 1.1, len(u)), 0), dev=dev, ip=ip, card=card)
    return {"friend_groups": groups}


def _marketplace(w: _World, r: _Roles) -> dict[str, Any]:
    """Selling second-hand things to strangers (a clear-out: a burst of unrelated buyers), power sellers,
    and platforms paying gig workers and sellers weekly. A few buyers dispute a payment as fraud."""
    rng, n = w.rng, w.n
    weights = w.p.rate[r.indiv] / w.p.rate[r.indiv].sum()
    sellers = r.indiv[rng.random(len(r.indiv)) < 0.06]
    power = r.indiv[rng.random(len(r.indiv)) < 0.004]
    ts, us, tos = [], [], []
    for s in sellers:
        start = rng.random() * w.horizon
        k = int(rng.integers(2, 16))
        ts.append(start + np.sort(rng.random(k)) * rng.uniform(3, 21) * DAY)
        tos.append(np.full(k, s))
    for s in power:
        k = int(rng.poisson(rng.uniform(0.5, 2.0) * w.horizon / DAY))
        ts.append(rng.random(k) * w.horizon)
        tos.append(np.full(k, s))
    if ts:
        t, to = np.concatenate(ts), np.concatenate(tos)
        u = rng.choice(r.indiv, size=len(t), p=weights)
        ok = u != to
        t, u, to = w.daytime(t[ok], u[ok]), u[ok], to[ok]
        dev, ip = w.channel(u, t)
        card = np.where(rng.random(len(u)) < 0.2, w.p.card[u, 0], -1)
        amt = np.round(_logn(rng, 40, 0.9, len(u)), 0)
        outside = rng.random(len(u)) < 0.25  # buyers who bank elsewhere: one-off senders from outside
        u = np.where(outside, w.external(len(u)), u)
        dev, ip, card = np.where(outside, -1, dev), np.where(outside, -1, ip), np.where(outside, -1, card)
        disputed = (rng.random(len(u)) < 0.01) & ~outside
        w.emit(t[~disputed], u[~disputed], to[~disputed], amt[~disputed], dev=dev[~disputed], ip=ip[~disputed],
               card=card[~disputed])
        w.emit(t[disputed], u[disputed], to[disputed], amt[disputed], dev=dev[disputed], ip=ip[disputed],
               card=card[disputed], role=DISPUTED)
    # buying from sellers who bank elsewhere: one-off payments to accounts outside
    k = rng.poisson(0.4 * w.horizon / (30 * DAY), len(r.indiv))
    u = np.repeat(r.indiv, k)
    t = w.daytime(rng.random(len(u)) * w.horizon, u)
    dev, ip = w.channel(u, t)
    w.emit(t, u, w.external(len(u)), np.round(_logn(rng, 40, 0.9, len(u)), 0), dev=dev, ip=ip)
    workers_all = []
    for pf in r.platforms:
        workers = rng.choice(r.indiv, size=max(3, int(0.02 * n)), replace=False)
        payday = int(rng.integers(0, 5))
        days = w.days_where(w.dow == payday)
        uu = np.tile(workers, len(days))
        tt = np.repeat(days + 3 * HOUR, len(workers)) + rng.uniform(0, 600, len(uu))
        paid = rng.random(len(uu)) < 0.7
        amt = _logn(rng, 180, 0.7, len(uu))
        dev, ip = _biz_channel(r, int(pf), int(paid.sum()))
        w.emit(tt[paid], pf, uu[paid], amt[paid], dev=dev, ip=ip)
        processor = w.external(1)[0]
        daily = amt[paid].sum() / max(1, w.n_days)
        t_in = np.arange(w.n_days) * DAY + 1 * HOUR
        w.emit(t_in, processor, pf, daily * rng.uniform(0.7, 1.3, w.n_days))
        workers_all.append(workers)
    return {"sellers": sellers, "power_sellers": power, "platforms": r.platforms,
            "platform_workers": np.concatenate(workers_all) if workers_all else np.zeros(0, dtype=np.int64)}


def _shops(w: _World, r: _Roles) -> dict[str, Any]:
    """Small shops paid by transfer: regulars and walk-ins (many senders that never paid them before), a
    weekly payment to suppliers and a monthly one to the owner."""
    rng = w.rng
    owners = rng.choice(r.indiv, size=len(r.shops))
    for s, owner in zip(r.shops, owners):
        k_reg = int(rng.integers(30, 200))
        regulars = np.where(rng.random(k_reg) < 0.25, w.external(k_reg), rng.choice(r.indiv, size=k_reg))
        per_day = min(30.0, float(_logn(rng, 3.0, 0.7, 1)[0]))
        k = int(rng.poisson(per_day * w.horizon / DAY))
        walk_in = np.where(rng.random(k) < 0.3, w.external(k), rng.choice(r.indiv, size=k))
        u = np.where(rng.random(k) < 0.7, rng.choice(regulars, size=k), walk_in)
        t = np.floor(rng.random(k) * w.n_days) * DAY + rng.uniform(8, 20, k) * HOUR - w.p.tz[s] * HOUR
        ok = u != s
        u, t = u[ok], t[ok]
        inside = u < w.n
        dev, ip = np.full(len(u), -1), np.full(len(u), -1)
        dev[inside], ip[inside] = w.channel(u[inside], t[inside])
        amt = _logn(rng, 20, 0.7, len(u))
        w.emit(t, u, s, amt, dev=dev, ip=ip)
        weekly = amt.sum() / max(1.0, w.horizon / (7 * DAY))
        suppliers = w.external(int(rng.integers(1, 5)))
        days = w.days_where(w.dow == int(rng.integers(0, 5)))
        dev, ip = _biz_channel(r, int(s), len(days))
        w.emit(days + 10 * HOUR, s, rng.choice(suppliers, size=len(days)), weekly * rng.uniform(0.4, 0.7, len(days)),
               dev=dev, ip=ip)
        days = w.days_where(w.dom == 28)
        dev, ip = _biz_channel(r, int(s), len(days))
        w.emit(days + 18 * HOUR, s, owner, weekly * 4.3 * rng.uniform(0.15, 0.3, len(days)), dev=dev, ip=ip)
    return {"shops": r.shops, "shop_owners": owners}


def _atm_cash(w: _World, r: _Roles) -> None:
    """Cash at the ATMs near home, in round amounts."""
    rng, p = w.rng, w.p
    users = r.indiv[rng.random(len(r.indiv)) < 0.45]
    k = rng.poisson(2.5 * w.horizon / (30 * DAY), len(users))
    u = np.repeat(users, k)
    t = w.daytime(rng.random(len(u)) * w.horizon, u)
    atm = w.home_atm[u, (rng.random(len(u)) < 0.3).astype(np.int64)]
    card = np.where(t >= p.renew_t[u], p.new_card[u], p.card[u, 0])
    w.emit(t, u, -1, rng.choice(_ROUND, size=len(u), p=_ROUND_P).astype(float), card=card, merch=atm)


def _wakers(w: _World, users: np.ndarray, r: _Roles) -> list[dict[str, Any]]:
    """Accounts quiet for weeks that wake up for a big event: money in (a sale, an inheritance, family
    chipping in), then most of it out to one outside account (a deposit on a house) within days."""
    rng, out = w.rng, []
    for u in users:
        wake = float(w.p.end[u]) + rng.uniform(25, 50) * DAY
        if wake >= w.horizon - 2 * DAY:
            wake = w.horizon - rng.uniform(2, 6) * DAY
        if rng.random() < 0.5:
            src = w.external(1)
            amt = _logn(rng, 15000, 0.8, 1)
        else:
            src = rng.choice(r.indiv, size=int(rng.integers(2, 5)))
            amt = _logn(rng, 3000, 0.7, len(src))
        t_in = wake + np.sort(rng.random(len(src))) * 2 * DAY
        w.emit(t_in, src, u, amt, force=True)
        k = int(rng.integers(1, 4))
        t_out = t_in.max() + np.sort(rng.uniform(1, 10, k)) * DAY
        dev = w.plan.devices.new(1)[0] if rng.random() < 0.5 else w.p.dev[u, 0]
        w.emit(t_out, u, w.external(1)[0], np.full(k, amt.sum() * rng.uniform(0.8, 1.0) / k), dev=dev,
               ip=w.p.home_ip[u], force=True)
        out.append({"user": int(u), "wake": wake})
    return out


# ================================================================ mule groups
class _Group:
    """One mule group: its members, how they reach the bank, where the money leaves, and its rows' case."""

    def __init__(self, w: _World, shape: str, users: np.ndarray, accounts: list[str], start: float,
                 case: int) -> None:
        rng = w.rng
        self.w, self.shape, self.users, self.accounts, self.start, self.case = w, shape, users, accounts, start, case
        self.source = str(rng.choice(["scam", "takeover", "proceeds"], p=[0.5, 0.25, 0.25]))
        if shape in ("device_farm", "scam_collector"):
            self.source = "scam"
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
                a = _logn(rng, 600, 0.9, 1) * np.cumprod(np.r_[1.0, rng.uniform(1.1, 2.0, k - 1)])
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
                a = np.round(_logn(rng, 1800, 0.7, k), 0)
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
            a = np.round(_logn(rng, 3000, 0.8, k), 2)
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
        t_out = t + np.maximum(120.0, _logn(rng, delay_h * HOUR, 0.9, k))
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
        start = float(t.min()) + max(300.0, float(_logn(rng, 5 * HOUR, 0.8, 1)[0]))
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
        t_out = t_arr + np.maximum(300.0, _logn(rng, 5 * HOUR, 0.8, len(t_arr)))
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
    span = float(rng.uniform(5, 30)) * DAY
    t0 = g.start
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
        for _ in range(int(rng.integers(1, 4))):
            t, a = g.inflow(dist, t0 + rng.random() * span, DAY, int(rng.integers(2, 5)),
                            source=g.source if g.source != "scam" else "proceeds")
            if not len(t):
                continue
            total = a.sum() * (1 - g.commission[dist])
            who = recv[rng.random(len(recv)) < rng.uniform(0.6, 1.0)]
            if not len(who):
                who = recv
            part = total / len(who)
            cap = float(rng.choice([990, 2900, 4900, 9500]))
            n_parts = np.maximum(1, np.ceil(part / cap)).astype(np.int64)
            tt = t.max() + max(600.0, float(_logn(rng, 3 * HOUR, 0.8, 1)[0])) + np.arange(len(who)) * \
                rng.uniform(60, 1200)
            for i, rcv in enumerate(who):
                tk = tt[i] + np.arange(int(n_parts)) * rng.uniform(300, 3600)
                ak = np.full(int(n_parts), np.round(part / n_parts * rng.uniform(0.97, 1.0), 0))
                dev, ip = g.channel(dist, tk)
                kept = w.emit(tk, dist, rcv, ak, dev=dev, ip=ip, role=LAYER, case=g.case)
                g.cash_out(int(rcv), tk[kept], ak[kept], style="atm" if rng.random() < 0.6 else None)
    elif s == "cycle":  # around and around, back to where it started, then out
        t, a = g.inflow(m[0], t0, span * 0.2, int(rng.integers(2, 5)),
                        source=g.source if g.source != "scam" else "proceeds")
        for c in m:
            g.commission[c] = float(rng.uniform(0.0, 0.03))
        for _ in range(int(rng.integers(1, 4))):
            for x, y in zip(m, m[1:] + m[:1]):
                t, a = g.forward(x, y, t, a, delay_h=float(rng.uniform(6, 48)), merge=DAY * 2)
        g.cash_out(m[0], t, a)
    elif s == "scatter_gather":  # one source, many intermediates, one sink
        src, mid, sink = m[0], m[1:-1], m[-1]
        t, a = g.inflow(src, t0, span * 0.3, int(rng.integers(2, 5)),
                        source=g.source if g.source != "scam" else "proceeds")
        if len(t):
            total = a.sum() * (1 - g.commission[src])
            shares = rng.dirichlet(np.full(len(mid), 3.0)) * total
            ts, as_ = [], []
            for i, x in enumerate(mid):
                tk = np.array([t.max() + float(_logn(rng, 4 * HOUR, 0.8, 1)[0]) + 120])
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
                                source=g.source if g.source != "scam" else "takeover")
                g.cash_out(x, t, a, style="atm" if rng.random() < 0.75 else "gift_cards")
    elif s == "device_farm":  # a dozen new accounts run from one phone
        for x in m:
            t, a = g.inflow(x, t0 + rng.random() * span, span * 0.3, int(rng.integers(1, 5)))
            g.cash_out(x, t, a, style=str(rng.choice(["crypto", "abroad"], p=[0.6, 0.4])))
    elif s == "scam_collector":  # a burst of strangers paying one account
        for x in m:
            burst = float(rng.uniform(1, 10)) * DAY
            t, a = g.inflow(x, t0 + rng.random() * DAY, burst, int(rng.integers(10, 50)))
            g.cash_out(x, t, a, style=str(rng.choice(["crypto", "abroad"])))


_SIZES = {"chain": (3, 7), "fan_in": (5, 16), "fan_out": (5, 14), "cycle": (3, 8), "scatter_gather": (5, 11),
          "dormant": (2, 7), "cash_out": (1, 4), "device_farm": (5, 21), "scam_collector": (1, 3)}


def _plan_groups(rng: np.random.Generator, budget: float) -> list[tuple[str, int]]:
    """Groups (shape, size) until ``budget`` fraud rows are planned; every shape at least once."""
    out = [(str(s), int(rng.integers(*_SIZES[str(s)]))) for s in rng.permutation(list(MULE_SHAPES))]
    used = sum(_ROWS_PER_MEMBER[s] * k for s, k in out)
    while used < budget:
        s = str(rng.choice(list(MULE_SHAPES)))
        k = int(rng.integers(*_SIZES[s]))
        out.append((s, k))
        used += _ROWS_PER_MEMBER[s] * k
    return out


def _recruit(w: _World, roles: _Roles, planned: list[tuple[str, int]]) -> tuple[list[_Group], np.ndarray]:
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
                w.no_legit[u] = True
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
        Customers of the bank (at least 50); accounts outside it come on top.
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
    t0 = check_args(n_users, days, start)
    k = check_knobs("mules", knobs, tuple(KNOB_RANGES))
    rate = k.get("fraud_rate", DEFAULT_FRAUD_RATE)
    delay, share = k.get("label_delay_days"), k.get("labelled_share", DEFAULT_LABELLED_SHARE)
    n, horizon = int(n_users), float(days) * DAY
    rng = np.random.default_rng(seed)
    w = _World(rng, n, horizon, t0)
    roles = _Roles(w)
    # the fraud budget, from the rows this population is expected to make (about 16 transfers a customer
    # over 90 days besides card purchases)
    expected = float(np.sum(w.p.rate * (w.p.end - w.p.join) / DAY)) + 16.0 * n * horizon / (90 * DAY)
    groups, free = _recruit(w, roles, _plan_groups(rng, rate / (1 - rate) * expected))
    mules = np.concatenate([g.users for g in groups])
    # legitimate dormant accounts: some wake up for a big event, the others stay asleep
    quiet = rng.choice(free[np.isin(free, roles.indiv)], size=max(2, int(0.01 * n)), replace=False)
    w.p.end[quiet] = rng.uniform(0.1, 0.45, len(quiet)) * horizon
    wakers = quiet[: len(quiet) // 2]
    is_mule = np.zeros(n, dtype=bool)
    is_mule[mules] = True
    new_or_dormant = mules[w.no_legit[mules]]
    decoy_pool = np.setdiff1d(roles.indiv, new_or_dormant)
    decoys = plant_decoys(w.plan, w.p, decoy_pool)
    add_ordinary(w.plan, w.p)
    add_bursts(w.plan, w.p, np.setdiff1d(decoy_pool, mules))
    # ordinary money
    pay = _salaries(w, roles)
    after = _after_payday(w, roles, pay["pays"])
    _bills(w, roles)
    rent = _rent(w, roles)
    family = _family(w, roles, decoys["households"])
    friends = _friends(w, roles)
    market = _marketplace(w, roles)
    shops = _shops(w, roles)
    _atm_cash(w, roles)
    woke = _wakers(w, wakers, roles)
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
    ext_ids = digit_ids(rng, "X", max(1, w.ext.n), 10)[: w.ext.n]
    account = np.concatenate([ids["user"], ext_ids, np.array([""], dtype=object)])
    merchant = np.append(ids["merchant"], "")
    fraud = cols["fraud"].astype(np.int64)
    tx_ids = np.array([f"T{i:09d}" for i in range(1, len(fraud) + 1)], dtype=object)
    is_fraud, labelled_at, known, known_at, investigated = _labels(seed, cols, groups, share, delay, t0)
    data = {"transaction_id": tx_ids, "timestamp": stamps(t0, cols["t"]), "user_id": account[cols["u"]],
            "amount": cols["amount"].astype(float), "currency": CURRENCY[cols["country"]].astype(object),
            "card_id": ids["card"][cols["card"]], "device_id": ids["device"][cols["dev"]],
            "ip": ids["ip"][cols["ip"]], "merchant_id": merchant[cols["merch"]],
            "counterparty_id": account[cols["cp"]], "country": COUNTRY[cols["country"]].astype(object),
            "is_fraud": is_fraud}
    names = list(MULE_COLUMNS)
    if labelled_at is not None:
        data["labelled_at"] = labelled_at
        names.append("labelled_at")
    df = pd.DataFrame(data, columns=names)
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
            "accounts": {account[u]: kind for u, kind in zip(g.users, g.accounts)},
            "source": g.source, "mode": g.mode,
            "cash_out": {account[u]: s for u, s in sorted(g.styles.items())},
            "sinks": sorted(account[np.array(sorted(g.sinks), dtype=np.int64)].tolist()) if g.sinks else [],
            "victims": users(sorted(set(g.victims))), "n_external_victims": g.n_external_victims,
            "takeover_victims": users(sorted(set(g.takeovers))),
            "investigated": bool(investigated[i]), "known": users([u for u in g.users if int(u) in known_set])}
        if g.shape in ("chain", "cycle"):
            ring["order"] = account[g.users].tolist()
        if g.shape in ("fan_in", "scatter_gather"):
            ring["collector"] = account[g.users[-1]]
        if g.shape in ("fan_out", "scatter_gather"):
            ring["distributor"] = account[g.users[0]]
        if g.mode == "controller":
            ring["device"] = ids["device"][g.ctrl_dev]
        rings[f"mule-{i + 1:04d}"] = ring
    typ = {account[u]: g.shape for g in groups for u in g.users}
    false_reports = tx_ids[cols["role"] == DISPUTED].tolist()
    truth: dict[str, Any] = {
        "mules": sorted(typ), "typologies": dict(sorted(typ.items())), "rings": rings,
        "known_mules": users(known),
        "victims": users(sorted({v for g in groups for v in g.victims})),
        "takeover_users": users(sorted({v for g in groups for v in g.takeovers})),
        "false_reports": false_reports,
        "decoys": {
            "employers": users(pay["employers"]), "landlords": users(rent["landlords"]),
            "letting_agencies": users(rent["agencies"]), "agency_owners": users(rent["agency_owners"]),
            "shops": users(shops["shops"]), "platforms": users(market["platforms"]),
            "marketplace_sellers": users(market["sellers"]), "power_sellers": users(market["power_sellers"]),
            "savers": users(after["savers"]), "remitters": users(after["remitters"]),
            "crypto_users": users(after["crypto_users"]),
            "savings_circles": [users(c) for c in family["savings_circles"]],
            "friend_groups": len(friends["friend_groups"]),
            "households": [users(hh["users"]) for hh in decoys["households"]],
            "accountant_devices": [{"device": ids["device"][d], "users": users(c)}
                                   for d, c in zip(roles.accountant_devices, roles.accountant_clients) if len(c)],
            "dormant_accounts": users(quiet),
            "woke_up": [{"user": account[x["user"]], "wake": iso(t0, x["wake"])} for x in woke],
            "crypto_exchanges": account[w.exchanges].tolist(),
            "atms": merchant[n_m0:n_m0 + w.n_atm].tolist()},
        "params": {"n_users": n, "seed": int(seed), "start": t0.strftime("%Y-%m-%dT%H:%M:%SZ"), "days": int(days)},
        "profile": "mules", "knobs": {"fraud_rate": rate, "label_delay_days": delay, "labelled_share": share},
        "n_fraud": int(fraud.sum()), "fraud_rate": round(float(fraud.mean()), 6) if len(fraud) else 0.0,
        "fraud_transactions": tx_ids[fraud == 1].tolist()}
    return df, labels, truth


def _labels(seed: int, cols: dict[str, np.ndarray], groups: list[_Group], share: float, delay: float | None,
            t0: pd.Timestamp) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray, np.ndarray]:
    """What gets known, from its own generator: victims report ``share`` of their payments (outside
    proceeds half as often), groups are investigated (likelier when something was reported), and an
    investigation finds most of its members and labels their dirty transfers. Disputed payments are
    reported too, wrongly. Returns ``is_fraud``, ``labelled_at``, the known mules, when each became known,
    and which groups were investigated."""
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
        labelled_at = stamps(t0, np.maximum(at, t + (HOUR if scale > 0 else 0.0)))
    return is_fraud, labelled_at, known, known_at, investigated


def write_mules(out_csv: str | os.PathLike[str], n_users: int, seed: int = 0, **kw: Any) -> dict[str, Any]:
    """``--profile mules``: write the transactions as ``out_csv``, and ``labels.csv`` (the known mules) and
    ``truth.json`` beside it. See :func:`generate_mules`.

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
    df, labels, truth = generate_mules(n_users, seed=seed, **kw)
    save(path, df, truth)
    labels_path = path.parent / "labels.csv"
    labels.to_csv(labels_path, index=False, lineterminator="\n")
    return {"profile": "mules", "n_transactions": int(len(df)), "n_users": int(n_users),
            "n_rings": len(truth["rings"]), "n_mules": len(truth["mules"]), "n_known_mules": int(len(labels)),
            "n_fraud": truth["n_fraud"], "n_fraud_labelled": int(df["is_fraud"].sum()),
            "fraud_rate": truth["fraud_rate"], "path": str(path), "labels": str(labels_path)}
