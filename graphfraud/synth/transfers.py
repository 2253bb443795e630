"""Ordinary money in the mule world (:mod:`.mules`): who the bank's customers pay and are paid by.

A :class:`MoneyWorld` holds the typology worlds' population (:class:`.population.People`: card purchases,
households, offices, shared and default devices, carrier NAT, ...), accounts outside the bank and the one
place rows are added (:meth:`MoneyWorld.emit`). :func:`add_ordinary_money` then plants the money that looks
like mule money and is not: payroll (one account paying dozens the same day), rent to landlords and letting
agencies (who pass it on minus a fee), mortgages, bills, family allowances and loans repaid in instalments,
savings circles (money going round), friends splitting a bill, marketplace sales (bursts of strangers
paying one account), platform payouts, shops paid by their customers, savings and remittances sent on
within hours of payday, crypto exchanges, cash at ATMs, and dormant accounts that wake up for a house
purchase. Many payers and payees bank elsewhere (ids ``X...``).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .base import DAY, DIURNAL, HOUR, Plan, Pool, zipf
from .population import People

# what a row is (never written): legitimate, a victim's payment, fraud proceeds from outside, a mule's own
# transfer or cash-out, a legitimate payment its payer disputed as fraud (a false report)
LEGIT, VICTIM, PROCEEDS, LAYER, DISPUTED = 0, 1, 2, 3, 4
_ROUND = np.array([20, 40, 50, 60, 80, 100, 120, 140, 150, 160, 200, 250, 300, 400, 500])
_ROUND_P = np.array([6, 8, 8, 6, 6, 12, 4, 3, 4, 3, 10, 4, 5, 2, 3], dtype=float)
_ROUND_P /= _ROUND_P.sum()
_RESTAURANT, _ENTERTAIN = 1, 8


class MoneyWorld:
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
        self.dow = np.asarray(dates.day_of_week)
        self.no_legit = np.zeros(n, dtype=bool)  # mule accounts opened for the job: no ordinary money
        self.n_atm = max(10, n // 250)
        self.atms = len(self.plan.mcat) + np.arange(self.n_atm)  # merchant handles, added at the end
        self.atm_p = zipf(self.n_atm, 0.8, rng)
        self.home_atm = rng.choice(self.atms, size=(n, 2), p=self.atm_p)
        self.exchanges = self.external(int(rng.integers(3, 6)))  # crypto exchanges' deposit accounts
        self.exchange_p = zipf(len(self.exchanges), 1.2, rng)
        # ordinary customers dirty money is taken from, in turn (set once the ordinary money is planted)
        self.victim_pool = np.zeros(0, dtype=np.int64)
        self.victim_at = 0
        self.ato_pool = np.zeros(0, dtype=np.int64)
        self.ato_at = 0

    def external(self, k: int = 1) -> np.ndarray:
        """``k`` new accounts outside the bank (handles from ``n`` up)."""
        return self.n + self.ext.new(k)

    def active(self, h: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Whether account ``h`` (outside accounts always) leads its ordinary life at time ``t``."""
        p = self.p
        hh = np.clip(h, 0, self.n - 1)
        inside = (h >= 0) & (h < self.n)
        return np.asarray(~inside | ((p.join[hh] <= t) & (t < p.end[hh]) & ~self.no_legit[hh]))

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
        return np.asarray(keep)

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


def logn(rng: np.random.Generator, median: float, sigma: float, k: int) -> np.ndarray:
    return rng.lognormal(np.log(median), sigma, k)


# ================================================================ who is who
class Roles:
    """Business accounts among the customers, and the individuals."""

    def __init__(self, w: MoneyWorld) -> None:
        rng, n, p = w.rng, w.n, w.p
        order = rng.permutation(n)
        cut = np.cumsum([max(3, int(0.01 * n)), max(2, int(0.004 * n)), max(1, n // 2500), max(1, n // 5000)])
        self.shops, self.employers, self.agencies, self.platforms = np.split(order[:cut[-1]], cut[:-1])
        at = int(cut[-1])
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


def _biz_channel(roles: Roles, b: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    return np.full(k, roles.biz_dev[b]), np.full(k, roles.biz_ip[b])


# ================================================================ ordinary money
def _salaries(w: MoneyWorld, r: Roles) -> dict[str, Any]:
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
    salary = np.round(logn(rng, 3200, 0.45, len(employed)), 0)
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


def _after_payday(w: MoneyWorld, r: Roles, pays: tuple[np.ndarray, np.ndarray, np.ndarray]) -> dict[str, Any]:
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
    t = pay_t[s] + logn(rng, 6 * HOUR, 1.0, int(s.sum())) + 60
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
    t = pay_t[s] + logn(rng, 20 * HOUR, 0.8, k) + 300
    dev, ip = w.channel(pay_u[s], t)
    w.emit(t, pay_u[s], to, pay_a[s] * rshare[pay_u[s]], dev=dev, ip=ip)
    # crypto: the same exchanges mules use
    crypto = r.indiv[rng.random(len(r.indiv)) < 0.05]
    k_each = rng.poisson(1.5 * w.horizon / (30 * DAY), len(crypto))
    u = np.repeat(crypto, k_each)
    t = w.daytime(rng.random(len(u)) * w.horizon, u)
    dev, ip = w.channel(u, t)
    ex = rng.choice(w.exchanges, size=len(u), p=w.exchange_p)
    w.emit(t, u, ex, logn(rng, 200, 1.0, len(u)), dev=dev, ip=ip)
    back = rng.random(len(u)) < 0.3  # and withdrawals back from the exchange
    tb = t[back] + rng.uniform(2, 20, int(back.sum())) * DAY
    w.emit(tb, ex[back], u[back], logn(rng, 250, 1.1, int(back.sum())))
    return {"savers": savers, "remitters": remitters, "crypto_users": crypto}


def _bills(w: MoneyWorld, r: Roles) -> None:
    """Utilities, phone, insurance and loans paid by transfer to a few outside billers, monthly."""
    rng = w.rng
    billers = w.external(max(10, w.n // 500))
    bp = zipf(len(billers), 0.9, rng)
    payers = r.indiv[rng.random(len(r.indiv)) < 0.6]
    n_b = rng.integers(1, 4, len(payers))
    u = np.repeat(payers, n_b)
    to = rng.choice(billers, size=len(u), p=bp)
    day = rng.integers(1, 29, len(u))
    amt = logn(rng, 80, 0.6, len(u))
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


def _rent(w: MoneyWorld, r: Roles) -> dict[str, Any]:
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
    rent = np.round(logn(rng, 1100, 0.35, len(renters)), 0)
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
        due = float(income.get(ll, 0.0)) * rng.uniform(0.5, 0.9) or float(logn(rng, 900, 0.4, 1)[0])
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


def _family(w: MoneyWorld, r: Roles, households: list[dict[str, Any]]) -> dict[str, Any]:
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
        k: Any = rng.poisson(logn(rng, 1.0, 0.7, len(pair)) * months)
        u, to = np.repeat(pair[:, 0], k), np.repeat(pair[:, 1], k)
        t = w.daytime(rng.random(len(u)) * w.horizon, u)
        dev, ip = w.channel(u, t)
        w.emit(t, u, to, logn(rng, 60, 1.0, len(u)), dev=dev, ip=ip)
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
        w.emit(tt, uu, np.repeat(kids[sel], len(days)), np.repeat(logn(rng, 200, 0.6, len(sel)), len(days)),
               dev=dev, ip=ip)
    back = rng.poisson(0.3 * months, len(kids))
    u, to = np.repeat(kids, back), np.repeat(parents, back)
    t = w.daytime(rng.random(len(u)) * w.horizon, u)
    dev, ip = w.channel(u, t)
    w.emit(t, u, to, logn(rng, 50, 0.9, len(u)), dev=dev, ip=ip)
    # loans: a lump, repaid in 2-4 instalments a few weeks apart
    lenders = rng.choice(r.indiv, size=max(2, int(0.01 * w.n)), replace=False)
    borrowers = rng.choice(r.indiv, size=len(lenders))
    for lender, borrower in zip(lenders, borrowers):
        if lender == borrower:
            continue
        lump = round(float(logn(rng, 1500, 0.6, 1)[0]), 0)
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
    for members in (np.split(pool[:sizes.sum()], np.cumsum(sizes)[:-1]) if len(sizes) else []):
        k = len(members)
        contrib = round(float(logn(rng, 150, 0.5, 1)[0]), 0)
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


def _friends(w: MoneyWorld, r: Roles) -> dict[str, Any]:
    """Friends splitting a bill: one pays the restaurant by card, the others (some banking elsewhere) send
    their share within hours."""
    rng, plan, p = w.rng, w.plan, w.p
    pool = rng.permutation(r.indiv)[: int(0.12 * len(r.indiv))]
    sizes = rng.integers(3, 9, size=max(1, len(pool) // 5))
    sizes = sizes[np.cumsum(sizes) <= len(pool)]
    groups = np.split(pool[:sizes.sum()], np.cumsum(sizes)[:-1]) if len(sizes) else []
    venues = np.flatnonzero(np.isin(plan.mcat, (_RESTAURANT, _ENTERTAIN)))
    vp = plan.pop[venues] / plan.pop[venues].sum()
    payers: list[Any] = []
    sharers: list[Any] = []
    event_of: list[Any] = []
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
    head = np.round(logn(rng, 30, 0.5, k), 2)
    n_came = np.bincount(np.concatenate(event_of), minlength=k) + 1
    dev, ip = w.channel(payer, te)
    w.emit(te, payer, -1, head * n_came, card=p.card[payer, 0], dev=dev, ip=ip, merch=rng.choice(venues, size=k, p=vp))
    ev, u = np.concatenate(event_of), np.concatenate(sharers)
    t = te[ev] + logn(rng, 2 * HOUR, 1.2, len(u)) + 60
    inside = u < w.n
    dev, ip, card = np.full(len(u), -1), np.full(len(u), -1), np.full(len(u), -1)
    dev[inside], ip[inside] = w.channel(u[inside], t[inside])
    card[inside] = np.where(rng.random(int(inside.sum())) < 0.1, p.card[u[inside], 0], -1)
    w.emit(t, u, payer[ev], np.round(head[ev] * rng.uniform(0.9, 1.1, len(u)), 0), dev=dev, ip=ip, card=card)
    return {"friend_groups": groups}


def _marketplace(w: MoneyWorld, r: Roles) -> dict[str, Any]:
    """Selling second-hand things to strangers (a clear-out: a burst of unrelated buyers), power sellers,
    and platforms paying gig workers and sellers weekly. A few buyers dispute a payment as fraud."""
    rng, n = w.rng, w.n
    weights = w.p.rate[r.indiv] / w.p.rate[r.indiv].sum()
    sellers = r.indiv[rng.random(len(r.indiv)) < 0.06]
    power = r.indiv[rng.random(len(r.indiv)) < 0.004]
    ts: list[Any] = []
    us: list[Any] = []
    tos: list[Any] = []
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
        amt = np.round(logn(rng, 40, 0.9, len(u)), 0)
        outside = rng.random(len(u)) < 0.25  # buyers who bank elsewhere: one-off senders from outside
        u = np.where(outside, w.external(len(u)), u)
        dev, ip, card = np.where(outside, -1, dev), np.where(outside, -1, ip), np.where(outside, -1, card)
        disputed = (rng.random(len(u)) < 0.01) & ~outside
        w.emit(t[~disputed], u[~disputed], to[~disputed], amt[~disputed], dev=dev[~disputed], ip=ip[~disputed],
               card=card[~disputed])
        w.emit(t[disputed], u[disputed], to[disputed], amt[disputed], dev=dev[disputed], ip=ip[disputed],
               card=card[disputed], role=DISPUTED)
    # buying from sellers who bank elsewhere: one-off payments to accounts outside
    n_outside = rng.poisson(0.4 * w.horizon / (30 * DAY), len(r.indiv))
    u = np.repeat(r.indiv, n_outside)
    t = w.daytime(rng.random(len(u)) * w.horizon, u)
    dev, ip = w.channel(u, t)
    w.emit(t, u, w.external(len(u)), np.round(logn(rng, 40, 0.9, len(u)), 0), dev=dev, ip=ip)
    workers_all = []
    for pf in r.platforms:
        workers = rng.choice(r.indiv, size=max(3, int(0.02 * n)), replace=False)
        payday = int(rng.integers(0, 5))
        days = w.days_where(w.dow == payday)
        uu = np.tile(workers, len(days))
        tt = np.repeat(days + 3 * HOUR, len(workers)) + rng.uniform(0, 600, len(uu))
        paid = rng.random(len(uu)) < 0.7
        amt = logn(rng, 180, 0.7, len(uu))
        dev, ip = _biz_channel(r, int(pf), int(paid.sum()))
        w.emit(tt[paid], pf, uu[paid], amt[paid], dev=dev, ip=ip)
        processor = w.external(1)[0]
        daily = amt[paid].sum() / max(1, w.n_days)
        t_in = np.arange(w.n_days) * DAY + 1 * HOUR
        w.emit(t_in, processor, pf, daily * rng.uniform(0.7, 1.3, w.n_days))
        workers_all.append(workers)
    return {"sellers": sellers, "power_sellers": power, "platforms": r.platforms,
            "platform_workers": np.concatenate(workers_all) if workers_all else np.zeros(0, dtype=np.int64)}


def _shops(w: MoneyWorld, r: Roles) -> dict[str, Any]:
    """Small shops paid by transfer: regulars and walk-ins (many senders that never paid them before), a
    weekly payment to suppliers and a monthly one to the owner."""
    rng = w.rng
    owners = rng.choice(r.indiv, size=len(r.shops))
    for s, owner in zip(r.shops, owners):
        k_reg = int(rng.integers(30, 200))
        regulars = np.where(rng.random(k_reg) < 0.25, w.external(k_reg), rng.choice(r.indiv, size=k_reg))
        per_day = min(30.0, float(logn(rng, 3.0, 0.7, 1)[0]))
        k = int(rng.poisson(per_day * w.horizon / DAY))
        walk_in = np.where(rng.random(k) < 0.3, w.external(k), rng.choice(r.indiv, size=k))
        u = np.where(rng.random(k) < 0.7, rng.choice(regulars, size=k), walk_in)
        t = np.floor(rng.random(k) * w.n_days) * DAY + rng.uniform(8, 20, k) * HOUR - w.p.tz[s] * HOUR
        ok = u != s
        u, t = u[ok], t[ok]
        inside = u < w.n
        dev, ip = np.full(len(u), -1), np.full(len(u), -1)
        dev[inside], ip[inside] = w.channel(u[inside], t[inside])
        amt = logn(rng, 20, 0.7, len(u))
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


def _atm_cash(w: MoneyWorld, r: Roles) -> None:
    """Cash at the ATMs near home, in round amounts."""
    rng, p = w.rng, w.p
    users = r.indiv[rng.random(len(r.indiv)) < 0.45]
    k = rng.poisson(2.5 * w.horizon / (30 * DAY), len(users))
    u = np.repeat(users, k)
    t = w.daytime(rng.random(len(u)) * w.horizon, u)
    atm = w.home_atm[u, (rng.random(len(u)) < 0.3).astype(np.int64)]
    card = np.where(t >= p.renew_t[u], p.new_card[u], p.card[u, 0])
    w.emit(t, u, -1, rng.choice(_ROUND, size=len(u), p=_ROUND_P).astype(float), card=card, merch=atm)


def _wakers(w: MoneyWorld, users: np.ndarray, r: Roles) -> list[dict[str, Any]]:
    """Accounts quiet for weeks that wake up for a big event: money in (a sale, an inheritance, family
    chipping in), then most of it out to one outside account (a deposit on a house) within days."""
    rng, out = w.rng, []
    for u in users:
        wake = float(w.p.end[u]) + rng.uniform(25, 50) * DAY
        if wake >= w.horizon - 2 * DAY:
            wake = w.horizon - rng.uniform(2, 6) * DAY
        if rng.random() < 0.5:
            src = w.external(1)
            amt = logn(rng, 15000, 0.8, 1)
        else:
            src = rng.choice(r.indiv, size=int(rng.integers(2, 5)))
            amt = logn(rng, 3000, 0.7, len(src))
        t_in = wake + np.sort(rng.random(len(src))) * 2 * DAY
        w.emit(t_in, src, u, amt, force=True)
        k = int(rng.integers(1, 4))
        t_out = t_in.max() + np.sort(rng.uniform(1, 10, k)) * DAY
        dev = w.plan.devices.new(1)[0] if rng.random() < 0.5 else w.p.dev[u, 0]
        w.emit(t_out, u, w.external(1)[0], np.full(k, amt.sum() * rng.uniform(0.8, 1.0) / k), dev=dev,
               ip=w.p.home_ip[u], force=True)
        out.append({"user": int(u), "wake": wake})
    return out


def add_ordinary_money(w: MoneyWorld, roles: Roles, households: list[dict[str, Any]], wakers: np.ndarray
                       ) -> dict[str, Any]:
    """Plant all the ordinary money; return who plays which part (handles), for ``truth.json``'s decoys."""
    pay = _salaries(w, roles)
    after = _after_payday(w, roles, pay["pays"])
    _bills(w, roles)
    rent = _rent(w, roles)
    family = _family(w, roles, households)
    friends = _friends(w, roles)
    market = _marketplace(w, roles)
    shops = _shops(w, roles)
    _atm_cash(w, roles)
    woke = _wakers(w, wakers, roles)
    return {"employers": pay["employers"], "landlords": rent["landlords"], "letting_agencies": rent["agencies"],
            "agency_owners": rent["agency_owners"], "shops": shops["shops"], "platforms": market["platforms"],
            "marketplace_sellers": market["sellers"], "power_sellers": market["power_sellers"],
            "savers": after["savers"], "remitters": after["remitters"], "crypto_users": after["crypto_users"],
            "savings_circles": family["savings_circles"], "friend_groups": friends["friend_groups"],
            "woke_up": woke}
