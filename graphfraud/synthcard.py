"""Synthetic card payments whose fraud labels mark victims: the ``card`` profile of ``graphfraud generate``.

In the spirit of the Fraud Detection Handbook's simulator (customers and terminals on a map, each customer
paying at terminals around home, with their own amounts and daily rhythm), with more of what makes card
data hard. The world is a 100 x 100 map cut into five home countries, with towns where people and shops
cluster. Customers have a spending scale, a pace (heavy-tailed), favourite shops, an online share, one or
two cards, devices and IP addresses for online payments, a daily and weekly rhythm (paydays, weekends).

Legitimate look-alikes: occasional big purchases and big spenders; merchants whose amounts vary a lot;
micro-payments (transport, app stores) several times a day; monthly subscriptions charged at night;
travel (paying abroad, in another currency, or in a far town); declines for insufficient funds, a wrong
PIN or CVV (often retried); new customers joining during the period; cards replaced (expiry, loss, and
after a fraud is detected: a new ``card_id`` for the same user).

Fraud scenarios (all ``third_party``: the labelled cardholder is the victim)
------------------------------------------------------------------------------
``compromised_terminal``
    Each day a terminal or two is compromised for one to six weeks; every card payment there in the window
    is fraud.
``common_point_of_purchase``
    Card details skimmed at one merchant (a shop or a breached web shop) during a window, sold, then spent
    at *other* merchants days to weeks later: mostly online high-value shops, or cloned cards far from home.
``stolen_details``
    A card makes extra, unusually large payments for one to three weeks (some "low and slow"), mixed with the
    holder's own payments, until the holder notices.
``high_amount``
    One to three large payments at big-ticket merchants within hours.
``card_testing``
    A campaign tests a batch of cards (sometimes one issuer's BIN) with small payments at a few web shops,
    many declined; cards that pass are then charged a large amount shortly after.

Identifiers are drawn after the plan, so they carry no order or information; one
``np.random.default_rng(seed)`` drives everything, and the same seed gives byte-identical files.
"""
from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from .errors import ValidationError
from .synth.base import DIURNAL, Table, digit_ids, digit_numbers, digit_strings, ip_ids, save, zipf

COLUMNS = ("transaction_id", "timestamp", "user_id", "card_id", "merchant_id", "amount", "currency", "country",
           "device_id", "ip", "auth_result", "decline_reason", "is_fraud", "fraud_type")
SCENARIOS = ("compromised_terminal", "common_point_of_purchase", "stolen_details", "high_amount", "card_testing")
_SHARE = np.array([.24, .26, .25, .12, .13])  # of the fraud budget, per scenario
DAY, HOUR, MINUTE = 86400.0, 3600.0, 60.0

_HOME = ("GB", "FR", "BE", "NL", "DE")
_HOME_X = np.array([45.0, 70.0, 78.0, 88.0])  # borders between the home countries along the map's x axis
_ABROAD_P = np.array([.25, .18, .12, .15, .08, .08, .07, .07])
_COUNTRY = np.array(_HOME + ("ES", "IT", "PT", "US", "CH", "TR", "TH", "AE", "IE"))
_CURRENCY = np.array(["GBP", "EUR", "EUR", "EUR", "EUR", "EUR", "EUR", "EUR", "USD", "CHF", "TRY", "THB", "AED",
                      "EUR"])
_FX = np.array([.86, 1, 1, 1, 1, 1, 1, 1, 1.08, .95, 35, 38, 4, 1])  # per EUR: amounts are in local currency
_TZ = np.array([0, 1, 1, 1, 1, 1, 1, 0, -5, 1, 3, 7, 4, 0])
_ABROAD = np.arange(5, 13)
_IE = 13
_DECLINE = np.array(["", "insufficient_funds", "do_not_honor", "incorrect_pin", "invalid_cvv", "exceeds_limit",
                     "expired_card", "suspected_fraud", "invalid_expiry"], dtype=object)
_OK, _FUNDS, _DNH, _PIN, _CVV, _LIMIT, _EXPIRED, _SUSPECT, _EXPIRY = range(9)

# name, online, share among merchants of its kind, median amount (EUR), log-sd, weight of a visit near home
_CATS = (
    ("grocery", 0, .22, 32, .70, 1.0), ("restaurant", 0, .18, 26, .60, 1.0), ("cafe", 0, .09, 6.5, .50, 1.0),
    ("fuel", 0, .07, 55, .35, 1.0), ("fashion_store", 0, .12, 48, .80, .8), ("pharmacy", 0, .06, 17, .70, .8),
    ("transport", 0, .06, 3.2, .45, .8), ("electronics_store", 0, .04, 110, .90, .35),
    ("home_store", 0, .05, 75, .85, .45), ("entertainment", 0, .06, 28, .60, .8),
    ("jewellery", 0, .01, 170, .80, .25), ("hotel", 0, .04, 140, .60, .1),
    ("marketplace", 1, .18, 35, .85, 1), ("streaming", 1, .09, 11, .30, 1), ("food_delivery", 1, .12, 27, .40, 1),
    ("app_store", 1, .11, 4, .90, 1), ("fashion_online", 1, .12, 55, .70, 1),
    ("electronics_online", 1, .07, 130, .90, 1), ("travel_booking", 1, .06, 210, .75, 1),
    ("gift_cards", 1, .04, 50, .60, 1), ("gaming", 1, .06, 12, .90, 1), ("donations", 1, .04, 14, .80, 1),
    ("telecom", 1, .11, 42, .35, 1),
)
_CNAME = [c[0] for c in _CATS]
_CONLINE = np.array([c[1] for c in _CATS], dtype=bool)
_CSHARE = np.array([c[2] for c in _CATS])
_CMED = np.array([c[3] for c in _CATS], dtype=float)
_CSIG = np.array([c[4] for c in _CATS])
_CVISIT = np.array([c[5] for c in _CATS])


def _cat(*names: str) -> np.ndarray:
    return np.array([_CNAME.index(x) for x in names])


_BIG_PHYS = _cat("electronics_store", "home_store", "jewellery", "fashion_store")
_CASH_ONLINE = _cat("marketplace", "electronics_online", "travel_booking", "gift_cards", "gaming", "fashion_online")
_TESTING = _cat("app_store", "gaming", "donations")
_RECURRING = _cat("streaming", "telecom")
_GIFT = _CNAME.index("gift_cards")
_ABROAD_CATS, _ABROAD_CAT_P = _cat("grocery", "restaurant", "cafe", "fashion_store", "transport", "hotel",
                                   "entertainment"), np.array([.15, .3, .15, .1, .1, .12, .08])


_Rows = dict[str, np.ndarray]  # one array per field of the plan's rows (time, user, card slot, merchant, ...)


class _World:
    """The map, merchants, customers and their cards; counters for ids that fraud adds (devices, IPs)."""

    def __init__(self, rng: np.random.Generator, n: int, days: int, t0: pd.Timestamp) -> None:
        self.rng, self.n, self.days, self.horizon = rng, n, days, days * DAY
        dates = pd.DatetimeIndex(t0 + pd.to_timedelta(np.arange(days), unit="D"))
        self.dom, self.dow = np.asarray(dates.day), np.asarray(dates.day_of_week)
        n_towns = max(6, n // 250)
        self.town_xy = rng.uniform(4, 96, (n_towns, 2))
        self.town_p = zipf(n_towns, 0.9, rng)
        self.town_sd = rng.uniform(1.5, 5.0, n_towns)
        # merchants: home-country terminals on the map, web shops, shops abroad (travel)
        n_t, n_o, n_f = 3 * n // 2, max(40, n // 25), max(40, n // 15)
        phys, onl = np.flatnonzero(~_CONLINE), np.flatnonzero(_CONLINE)
        cat_t = rng.choice(phys, n_t, p=_CSHARE[phys] / _CSHARE[phys].sum())
        cat_o = rng.choice(onl, n_o, p=_CSHARE[onl] / _CSHARE[onl].sum())
        cat_t[:len(phys)], cat_o[:len(onl)] = phys, onl  # small worlds still have every kind
        xy_t = self.place(n_t)
        c_o = np.where(rng.random(n_o) < 0.72, self.country_of(rng.uniform(0, 100, n_o)),
                       rng.choice([_IE, 8, 6], n_o, p=[.5, .35, .15]))
        c_f = np.concatenate([np.repeat(_ABROAD, 3), rng.choice(_ABROAD, n_f - 3 * len(_ABROAD), p=_ABROAD_P)])
        cat_f = rng.choice(_ABROAD_CATS, n_f, p=_ABROAD_CAT_P)
        self.mcat = np.concatenate([cat_t, cat_o, cat_f])
        self.kind = np.repeat([0, 1, 2], [n_t, n_o, n_f])  # 0 terminal at home, 1 web shop, 2 abroad
        self.mcountry = np.concatenate([self.country_of(xy_t[:, 0]), c_o, c_f])
        self.n_m = len(self.mcat)
        self.med = _CMED[self.mcat] * rng.lognormal(0, .35, self.n_m)
        self.sig = np.minimum(_CSIG[self.mcat] * rng.lognormal(0, .2, self.n_m), 1.1)  # some sell anything
        pop = rng.lognormal(0, .9, self.n_m)
        pop[n_t:n_t + n_o] = zipf(n_o, 1.0, rng) * n_o
        self.pop = pop
        self.online = np.arange(n_t, n_t + n_o)
        self.abroad = np.arange(n_t + n_o, self.n_m)
        self.abroad_by_c = {c: self.abroad[c_f == c] for c in _ABROAD}
        self.lure = np.where(rng.random(n_o) < .15, 5.0, 1.0)  # web shops with weak checks
        self.trees: dict[str, tuple[cKDTree, np.ndarray, np.ndarray]] = {}
        for name, cats in (("all", phys), ("big", _BIG_PHYS), ("transport", _cat("transport"))):
            idx = np.flatnonzero(np.isin(cat_t, cats))
            self.trees[name] = (cKDTree(xy_t[idx]), idx, pop[idx] * _CVISIT[cat_t[idx]])
        # customers
        self.xy = self.place(n)
        self.home = self.country_of(self.xy[:, 0])
        self.join = np.where(rng.random(n) < 0.82, 0, rng.integers(1, max(2, days - 3), n))
        leave = rng.random(n) < 0.03
        self.end = np.where(leave, np.minimum(days, self.join + 3 + rng.integers(0, days, n)), days)
        self.rate = np.minimum(rng.gamma(1.6, 1.0, n), 9.0)  # payments a day
        self.p_online = rng.beta(2, 6, n)
        self.scale = rng.lognormal(0, .45, n) * np.where(rng.random(n) < 0.03, np.e, 1.0)
        self.radius = rng.uniform(1.5, 6.0, n)
        self.shift = rng.normal(0, 1.1, n)
        self.weekend = rng.lognormal(0, .25, n)
        self.fav = self.snap("all", np.repeat(self.xy, 6, 0) + rng.normal(0, 1, (6 * n, 2))
                             * np.repeat(self.radius, 6)[:, None]).reshape(n, 6)
        self.fav_cum = rng.dirichlet(np.full(6, 0.6), n).cumsum(1)
        self.p_fav = rng.beta(5, 4, n)
        self.po = pop[self.online] / pop[self.online].sum()
        self.ofav = rng.choice(self.online, (n, 4), p=self.po)
        self.second = rng.random(n) < 0.22
        self.p_second = np.where(self.second, rng.uniform(.1, .5, n), 0.0)
        self.issuer = rng.choice(12, 2 * n, p=zipf(12, 1.1, rng))  # per card slot (2 per user)
        self.n_dev = rng.choice([1, 2, 3], n, p=[.5, .35, .15])
        self.n_devices = 0
        self.dev = np.where(np.arange(3) < self.n_dev[:, None], self.new_devices(3 * n).reshape(n, 3), -1)
        self.new_phone = np.where(rng.random(n) < 0.1, rng.uniform(0, days, n), np.inf)
        self.phone2 = self.new_devices(n)
        self.n_ips = 0
        self.home_ip = self.new_ips(n)
        self.carrier = self.new_ips(max(3, n // 400))
        self.mobile = rng.choice(self.carrier, n, p=zipf(len(self.carrier), .6, rng))
        self.wifi = self.new_ips(max(3, n // 800))
        self.datacenter = self.new_ips(max(10, n // 200))
        self.vpn = np.where(rng.random(n) < 0.03, rng.choice(self.datacenter, n), -1)
        self.decline = np.where(rng.random(n) < 0.06, rng.uniform(.03, .12, n), rng.uniform(.001, .008, n))
        self.micro = np.where(rng.random(n) < 0.12, rng.lognormal(np.log(1.2), .5, n), 0.0)
        trip = rng.random(n) < 0.09
        self.trip_s = np.where(trip, rng.integers(0, days, n), days + 1)
        self.trip_e = self.trip_s + rng.integers(3, 15, n)
        self.trip_abroad = rng.random(n) < 0.6
        self.trip_c = rng.choice(_ABROAD, n, p=_ABROAD_P)
        self.trip_town = rng.choice(n_towns, n, p=self.town_p)
        self.trip_ip = self.new_ips(n)
        self.n_ep = 0

    def place(self, k: int) -> np.ndarray:
        rng = self.rng
        town = rng.choice(len(self.town_xy), k, p=self.town_p)
        xy = self.town_xy[town] + rng.normal(0, 1, (k, 2)) * self.town_sd[town, None]
        rural = rng.random(k) < 0.25
        xy[rural] = rng.uniform(0, 100, (int(rural.sum()), 2))
        return np.clip(xy, 0, 100)

    @staticmethod
    def country_of(x: np.ndarray) -> np.ndarray:
        return np.searchsorted(_HOME_X, x, side="right")

    def snap(self, tree: str, pts: np.ndarray) -> np.ndarray:
        """A terminal near each point: one of the 4 nearest of the kind, by popularity."""
        kd, idx, weight = self.trees[tree]
        k = min(4, len(idx))
        _, near = kd.query(np.clip(pts, 0, 100), k=k)
        near = near.reshape(len(pts), k)
        cum = weight[near].cumsum(1)
        j = (cum < self.rng.random(len(pts))[:, None] * cum[:, -1:]).sum(1)
        return np.asarray(idx[near[np.arange(len(pts)), j]])

    def far_terminal(self, k: int, tree: str = "all") -> np.ndarray:
        """Terminals around random towns (a cloned card used far from home), 20 % of them abroad."""
        rng = self.rng
        town = rng.choice(len(self.town_xy), k, p=self.town_p)
        m = self.snap(tree, self.town_xy[town] + rng.normal(0, 3, (k, 2)))
        return np.where(rng.random(k) < 0.2, rng.choice(self.abroad, k), m)

    def web_shop(self, k: int, cats: np.ndarray | None = None, fraud: bool = False) -> np.ndarray:
        """Web shops by popularity; fraudsters favour goods that resell and shops with weak checks."""
        w = self.pop[self.online]
        if fraud:
            w = w ** .4 * self.lure * np.where(np.isin(self.mcat[self.online], _CASH_ONLINE), 2.0, 1.0)
        if cats is not None:
            w = w * np.isin(self.mcat[self.online], cats)
        return self.rng.choice(self.online, k, p=w / w.sum())

    def new_devices(self, k: int) -> np.ndarray:
        self.n_devices += k
        return np.arange(self.n_devices - k, self.n_devices)

    def new_ips(self, k: int) -> np.ndarray:
        self.n_ips += k
        return np.arange(self.n_ips - k, self.n_ips)

    def new_episodes(self, k: int) -> np.ndarray:
        self.n_ep += k
        return np.arange(self.n_ep - k, self.n_ep)

    def local_times(self, day: np.ndarray, tz: np.ndarray, shift: np.ndarray | float = 0.0) -> np.ndarray:
        """Times on the given days at a local hour drawn from the daily rhythm, in seconds from the start."""
        rng = self.rng
        hour = (rng.choice(24, len(day), p=DIURNAL) + rng.random(len(day)) + shift) % 24
        t = (day * 24 + hour - tz) * HOUR
        t = np.where(t < 0, t + DAY, np.where(t >= self.horizon, t - DAY, t))  # the first and last nights
        return np.asarray(np.clip(t, 0, self.horizon - 1))

    def fraud_times(self, lo: np.ndarray, hi: np.ndarray, tz: np.ndarray) -> np.ndarray:
        """Uniform in [lo, hi); most moved to a daytime hour of the same day, the rest left round the clock."""
        t = lo + self.rng.random(len(lo)) * (hi - lo)
        day = np.floor((t + tz * HOUR) / DAY)
        moved = self.local_times(day, tz)
        keep = (self.rng.random(len(t)) < 0.65) & (moved >= lo) & (moved < hi)
        return np.where(keep, moved, t)

    def victims(self, k: int, times: np.ndarray | None = None, issuer: int | None = None,
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``k`` cards active at ``times`` (drawn when None): user, card slot, time."""
        rng, n = self.rng, self.n
        u = np.full(k, -1)
        t = np.full(k, np.nan) if times is None else np.asarray(times, dtype=float)
        p = np.sqrt(self.rate) / np.sqrt(self.rate).sum()  # busier cards are exposed more
        for _ in range(50):
            todo = np.flatnonzero(u < 0)
            if not len(todo):
                break
            cand = rng.choice(n, len(todo), p=p)
            slot = 2 * cand + ((rng.random(len(todo)) < 0.35) & self.second[cand])
            if times is None:
                t[todo] = (self.join[cand] + 3 + rng.random(len(todo)) * (self.end[cand] - self.join[cand] - 4)) * DAY
            day = t[todo] // DAY
            ok = (self.join[cand] + 1 <= day) & (day < self.end[cand]) & (t[todo] < self.horizon)
            if issuer is not None:
                ok &= self.issuer[slot] == issuer
            u[todo[ok]] = slot[ok]
        found = u >= 0
        return u[found] // 2, u[found], t[found]


def _rows(w: _World, t: np.ndarray, u: np.ndarray, slot: np.ndarray, merch: np.ndarray, base: np.ndarray,
          **kw: Any) -> _Rows:
    k = len(t)
    out = {"t": t, "tref": kw.get("tref", t), "u": u, "slot": slot, "merch": merch, "base": base,
           "dev": kw.get("dev", -1), "ip": kw.get("ip", -1), "decl": kw.get("decl", 0), "scen": kw.get("scen", 0),
           "ep": kw.get("ep", -1)}
    types = {"t": float, "tref": float, "base": float, "decl": np.int8, "scen": np.int8}
    return {key: np.array(np.broadcast_to(v, k), dtype=types.get(key, np.int64)) for key, v in out.items()}


def _concat(chunks: list[_Rows]) -> _Rows:
    return {key: np.concatenate([c[key] for c in chunks]) for key in chunks[0]}


def _amount(w: _World, merch: np.ndarray, u: np.ndarray, mult: np.ndarray | float = 1.0) -> np.ndarray:
    """Amounts in EUR: the merchant's typical basket, scaled by the customer's spending, log-normal noise."""
    a = w.med[merch] * w.scale[u] ** 0.6 * mult * w.rng.lognormal(0, w.sig[merch])
    over = a > 12000.0
    a[over] = w.rng.uniform(3000, 12000, int(over.sum()))
    return np.asarray(a)


def _online_identity(w: _World, u: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A customer's own device and IP for a web payment (home, mobile, public wifi, VPN, hotel abroad)."""
    rng, k = w.rng, len(u)
    slot = np.minimum((rng.random(k) ** 1.8 * w.n_dev[u]).astype(np.int64), w.n_dev[u] - 1)
    dev = w.dev[u, slot]
    dev = np.where((slot == 0) & (t >= w.new_phone[u] * DAY), w.phone2[u], dev)
    r = rng.random(k)
    ip = np.where(r < .55, w.home_ip[u], np.where(r < .9, w.mobile[u], rng.choice(w.wifi, k)))
    ip = np.where((r > .97) & (w.vpn[u] >= 0), w.vpn[u], ip)
    day = t // DAY
    travel = (day >= w.trip_s[u]) & (day < w.trip_e[u]) & (rng.random(k) < .7)
    return dev, np.where(travel, w.trip_ip[u], ip)


def _fraud_identity(w: _World, k: int, devs: np.ndarray, ips: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The fraudster's side of a web payment: a few devices (some fresh), proxies and datacenter IPs."""
    rng = w.rng
    dev = np.where(rng.random(k) < 0.3, w.new_devices(k), rng.choice(devs, k))
    r = rng.random(k)
    ip = np.where(r < .4, rng.choice(ips, k), np.where(r < .8, w.new_ips(k), rng.choice(w.carrier, k)))
    return dev, ip


def _legit(w: _World) -> _Rows:
    """Everyday payments, big purchases, micro-payments, subscriptions, declines and retries."""
    rng, n, days = w.rng, w.n, w.days
    d, dom = np.arange(days), w.dom
    season = (1 + .12 * ((dom >= 25) | (dom <= 2)) - .06 * ((dom >= 14) & (dom < 22))  # paydays, mid-month
              + .05 * np.sin(2 * np.pi * d / days)) * np.where(rng.random(days) < 0.05, 1.3, 1.0)  # sale days
    parts = []
    for a in range(0, n, 20000):  # payments per customer and day, a block of customers at a time
        b = slice(a, min(n, a + 20000))
        lam = (w.rate[b, None] * season * np.where(w.dow >= 5, w.weekend[b, None], 1.0)
               * ((d >= w.join[b, None]) & (d < w.end[b, None]))
               * np.where((d >= w.trip_s[b, None]) & (d < w.trip_e[b, None]), 1.2, 1.0))
        parts.append(np.repeat(np.arange(a * days, b.stop * days), rng.poisson(lam).ravel()))
    flat = np.concatenate(parts)
    u, day = flat // days, flat % days
    k = len(u)
    trip = (day >= w.trip_s[u]) & (day < w.trip_e[u])
    abroad = trip & w.trip_abroad[u]
    online = rng.random(k) < w.p_online[u] * np.where(abroad, .5, 1.0)
    tz = np.where(abroad, _TZ[w.trip_c[u]], _TZ[w.home[u]])
    t = w.local_times(day, tz, w.shift[u])
    # where: a favourite shop, a terminal near home (or near the town visited), a shop abroad, a web shop
    fav = w.fav[u, (w.fav_cum[u] < rng.random(k)[:, None]).sum(1).clip(0, 5)]
    centre = np.where(trip[:, None] & ~abroad[:, None], w.town_xy[w.trip_town[u]], w.xy[u])
    near = w.snap("all", centre + rng.normal(0, 1, (k, 2)) * np.where(trip, 3.0, w.radius[u])[:, None])
    merch = np.where(~trip & (rng.random(k) < w.p_fav[u]), fav, near)
    for c, shops in w.abroad_by_c.items():
        here = abroad & (w.trip_c[u] == c)
        merch[here] = rng.choice(shops, int(here.sum()))
    web = np.where(rng.random(k) < .5, w.ofav[u, rng.integers(0, 4, k)], rng.choice(w.online, k, p=w.po))
    merch = np.where(online, web, merch)
    base = _amount(w, merch, u, np.where(trip, 1.2, 1.0))
    chunks = [(t, u, merch, base)]
    # occasional big purchases (about one in 100 days, more for some), at big-ticket shops or web shops
    nb = rng.poisson((w.end - w.join) / 100 * rng.lognormal(0, .7, n))
    ub = np.repeat(np.arange(n), nb)
    db = w.join[ub] + (rng.random(len(ub)) * (w.end[ub] - w.join[ub])).astype(np.int64)
    mb = np.where(rng.random(len(ub)) < .55,
                  w.snap("big", w.xy[ub] + rng.normal(0, 1, (len(ub), 2)) * 2 * w.radius[ub, None]),
                  w.web_shop(len(ub), _cat("electronics_online", "travel_booking", "marketplace", "fashion_online")))
    bb = np.minimum(rng.lognormal(np.log(220), .8, len(ub)) * w.scale[ub] ** .5, 15000)
    chunks.append((w.local_times(db, _TZ[w.home[ub]], w.shift[ub]), ub, mb, bb))
    # micro-payments: transport and app stores, several a day for some
    nm = rng.poisson(w.micro * (w.end - w.join))
    um = np.repeat(np.arange(n), nm)
    dm = w.join[um] + (rng.random(len(um)) * (w.end[um] - w.join[um])).astype(np.int64)
    mm = np.where(rng.random(len(um)) < .6, w.snap("transport", w.xy[um] + rng.normal(0, 2, (len(um), 2))),
                  w.web_shop(len(um), _cat("app_store", "gaming")))
    chunks.append((w.local_times(dm, _TZ[w.home[um]], w.shift[um]), um, mm, _amount(w, mm, um, .8)))
    # subscriptions: a fixed amount each month, charged by the merchant at night (no device, no IP)
    ns = rng.poisson(1.3, n)
    us = np.repeat(np.arange(n), ns)
    ms = w.web_shop(len(us), _RECURRING)
    fixed = w.med[ms] * rng.lognormal(0, .2, len(us))
    first = w.join[us] + rng.uniform(0, 30, len(us))
    nmon = np.maximum(0, np.ceil((w.end[us] - first) / 30.44)).astype(np.int64)
    own = np.repeat(np.arange(len(us)), nmon)
    step = np.arange(len(own)) - np.repeat(np.cumsum(nmon) - nmon, nmon)
    ts = (np.floor(first[own] + step * 30.44) + rng.uniform(1, 5, len(own)) / 24) * DAY
    chunks.append((np.clip(ts, 0, w.horizon - 1), us[own], ms[own], fixed[own]))
    t, u, merch, base = (np.concatenate(x) for x in zip(*chunks))
    recurring = np.arange(len(t)) >= len(t) - len(own)
    k = len(t)
    slot = 2 * u + ((rng.random(k) < w.p_second[u]) & ~recurring)
    dev, ip = _online_identity(w, u, t)
    web = w.kind[merch] == 1
    dev, ip = np.where(web & ~recurring, dev, -1), np.where(web & ~recurring, ip, -1)
    # declines: stretched customers, big amounts, the end of the month before payday
    dom_t = dom[np.minimum(t // DAY, days - 1).astype(np.int64)]
    p = w.decline[u] * np.where(base > 150, 2.5, 1.0) * np.where((dom_t >= 18) & (dom_t < 25), 1.6, 1.0)
    decl = np.zeros(k, dtype=np.int8)
    hit = rng.random(k) < p
    present = [_FUNDS, _DNH, _PIN, _LIMIT, _SUSPECT, _EXPIRED]
    cnp = [_FUNDS, _DNH, _CVV, _LIMIT, _SUSPECT, _EXPIRY, _EXPIRED]
    decl[hit & ~web] = rng.choice(present, int((hit & ~web).sum()), p=[.6, .1, .15, .1, .03, .02])
    decl[hit & web] = rng.choice(cnp, int((hit & web).sum()), p=[.5, .1, .15, .08, .07, .05, .05])
    # about half of the declined retry minutes later: the other card, a smaller amount, the right PIN
    r = np.flatnonzero(np.isin(decl, [_FUNDS, _LIMIT, _PIN, _CVV]) & (rng.random(k) < .55))
    other = np.isin(decl[r], [_FUNDS, _LIMIT]) & w.second[u[r]] & (rng.random(len(r)) < .5)
    smaller = np.isin(decl[r], [_FUNDS, _LIMIT]) & ~other
    retry = _rows(w, np.minimum(t[r] + rng.uniform(.5, 15, len(r)) * MINUTE, w.horizon - 1), u[r],
                  np.where(other, slot[r] ^ 1, slot[r]), merch[r],
                  base[r] * np.where(smaller, rng.uniform(.3, .8, len(r)), 1.0), dev=dev[r], ip=ip[r],
                  decl=np.where(rng.random(len(r)) < .15, decl[r], _OK))
    return _concat([_rows(w, t, u, slot, merch, base, dev=dev, ip=ip, decl=decl), retry])


def _by_merchant(rows: _Rows) -> tuple[np.ndarray, np.ndarray]:
    key = (rows["merch"] << 32) | rows["t"].astype(np.int64)
    order = np.argsort(key, kind="stable")
    return order, key[order]


def _window(order: np.ndarray, skey: np.ndarray, m: int, s: float, e: float) -> np.ndarray:
    lo, hi = np.searchsorted(skey, [(m << 32) | int(s), (m << 32) | int(e)])
    return order[lo:hi]


def _compromised_terminals(w: _World, rows: _Rows, budget: float, events: list[Any],
                           out: list[Any]) -> None:
    """Terminals compromised for one to six weeks: every card payment there in the window becomes fraud."""
    rng = w.rng
    order, skey = _by_merchant(rows)
    terms = np.flatnonzero(w.kind == 0)
    total, taken = 0, set()
    for _ in range(100000):
        if total >= budget and out:
            break
        m = int(rng.choice(terms))
        s = float(int(max(0.0, rng.uniform(-5, w.days - 1) * DAY)))  # whole seconds, as in the file
        e = float(int(min(w.horizon, s + rng.uniform(7, 42) * DAY)))
        idx = _window(order, skey, m, s, e)
        if m in taken or not len(idx):
            continue
        if len(idx) > max(3, 1.5 * (budget - total)):  # a small world is not swamped by one busy terminal
            idx = idx[:max(3, int(budget - total))]
            e = float(np.floor(rows["t"][idx[-1]])) + 1
        taken.add(m)
        rows["scen"][idx] = 1
        slots, first = np.unique(rows["slot"][idx], return_inverse=True)
        rows["ep"][idx] = w.new_episodes(len(slots))[first]
        # the issuer learns of the compromise days after it ends and reissues most of the cards used there
        found = e + rng.exponential(4) * DAY
        again = rng.random(len(slots)) < .6
        events.append((slots[again], found + rng.uniform(0, 3, int(again.sum())) * DAY))
        out.append((m, s, e))
        total += len(idx)


def _common_points(w: _World, rows: _Rows, budget: float, events: list[Any], taken: set[Any],
                   out: list[Any]) -> list[_Rows]:
    """Card details skimmed at one merchant during a window, spent at other merchants days later."""
    rng = w.rng
    order, skey = _by_merchant(rows)
    taken = set(taken)
    traffic = np.bincount(rows["merch"], minlength=w.n_m).astype(float)
    traffic[list(taken)] = 0
    traffic[np.isin(w.mcat, _RECURRING) | (w.kind == 2)] = 0
    p_t = np.where(w.kind == 0, traffic, 0)
    p_o = np.where(w.kind == 1, traffic, 0)
    chunks: list[_Rows] = []
    total = 0
    for _ in range(100000):
        if total >= budget and chunks:
            break
        shop = rng.random() < .7
        p = p_t if shop else p_o
        m = int(rng.choice(w.n_m, p=p / p.sum()))
        s = float(int(max(0.0, rng.uniform(-10, w.days - 4)) * DAY))
        e = float(int(min(w.horizon, s + rng.uniform(2, 14) * DAY)))
        idx = _window(order, skey, m, s, e)
        idx = idx[(rows["decl"][idx] == _OK) & (rows["scen"][idx] == 0)]
        if not len(idx) or m in taken:
            continue
        slots, first = np.unique(rows["slot"][idx], return_index=True)
        visit = rows["t"][idx][first]
        keep = np.flatnonzero(rng.random(len(slots)) < rng.uniform(.1, .45))
        keep = keep[:max(1, min(12, int(np.ceil((budget - total) / 2.4))))]  # no one breach swamps a world
        slots, visit = slots[keep], visit[keep]
        if not len(slots):
            continue
        u = slots // 2
        start = np.maximum(e + rng.uniform(1, 20) * DAY + rng.exponential(3, len(slots)) * DAY, visit + DAY)
        own, t = _sessions(w, start, start + rng.uniform(1, 4, len(slots)) * DAY, 1 + (rng.random(len(slots)) < .35),
                           np.full(len(slots), 1.6), _TZ[w.home[u]])
        by_card = np.lexsort((t, own))
        own, t = own[by_card], t[by_card]
        found = start + (HOUR * 2 + rng.exponential(3.5, len(slots)) * DAY)
        first_try = np.arange(len(own)) == np.searchsorted(own, own)  # happens whenever the holder notices
        live = ((t <= found[own]) | first_try) & (t < w.horizon)
        own, t = own[live], t[live]
        if not len(own):
            continue
        k = len(own)
        gang = np.concatenate([w.web_shop(int(rng.integers(3, 9)), _CASH_ONLINE, True),
                               w.far_terminal(int(rng.integers(1, 4)), "big") if shop else []]).astype(np.int64)
        fresh = np.where(rng.random(k) < (.3 if shop else 0), w.far_terminal(k, "big"),
                         w.web_shop(k, _CASH_ONLINE, True))
        merch = np.where(rng.random(k) < .65, rng.choice(gang, k), fresh)
        merch = np.where(merch == m, fresh, merch)
        merch = np.where(merch == m, w.online[0] if w.online[0] != m else w.online[1], merch)
        base = np.minimum(rng.lognormal(np.log(230), .8, k) * w.scale[u[own]] ** .3, 9000)
        dev, ip = _fraud_identity(w, k, w.new_devices(int(rng.integers(1, 4))), rng.choice(w.datacenter, 4))
        web = w.kind[merch] == 1
        decl = np.where(rng.random(k) < .08, _SUSPECT, np.where(rng.random(k) < .03, _FUNDS, _OK))
        ep = w.new_episodes(len(slots))
        chunks.append(_rows(w, t, u[own], slots[own], merch, base, tref=visit[own], dev=np.where(web, dev, -1),
                            ip=np.where(web, ip, -1), decl=decl, scen=2, ep=ep[own]))
        events.append((slots, found))
        out.append((m, s, e, ep))
        taken.add(m)
        total += k
    return chunks


def _stolen_details(w: _World, budget: float, events: list[Any]) -> list[_Rows]:
    """Extra payments, larger than the holder's, for one to three weeks until the holder notices."""
    rng = w.rng
    chunks: list[_Rows] = []
    total = 0
    while total < budget or not chunks:
        u, slot, tc = w.victims(max(1, int((budget - total) / 10) + 1))
        v = len(u)
        found = tc + (1 + rng.exponential(9, v)) * DAY
        stop = np.minimum(np.minimum(tc + rng.uniform(7, 21, v) * DAY, found), w.horizon)
        slow = rng.random(v) < .25  # low and slow: single payments a little above the holder's
        n_sess = 1 + rng.poisson(np.where(slow, .6, .3) * (stop - tc) / DAY)
        own, t = _sessions(w, tc, stop, n_sess, np.where(slow, 0, rng.uniform(1.5, 4, v)), _TZ[w.home[u]])
        k = len(t)
        r = rng.random(k)
        near = w.snap("all", w.xy[u[own]] + rng.normal(0, 1, (k, 2)) * w.radius[u[own], None])
        web = np.where(rng.random(k) < .7, w.web_shop(k, _CASH_ONLINE, True), w.web_shop(k, None, True))
        shop = np.where(rng.random(k) < .5, w.far_terminal(k, "big"), w.far_terminal(k))
        merch = np.where(r < .6, web, np.where(r < .75, near, shop))
        # goods that resell, several times what the holder usually pays (low and slow: a little more)
        mult = np.where(slow, rng.uniform(1.2, 2, v), rng.uniform(3, 8, v))[own]
        base = np.minimum(30 * w.scale[u[own]] ** .6 * mult * rng.lognormal(0, .45, k), 9000)
        devs = w.new_devices(v)
        dev, ip = _fraud_identity(w, k, devs, rng.choice(w.datacenter, 6))
        dev = np.where(rng.random(k) < .6, devs[own], dev)
        web = w.kind[merch] == 1
        decl = np.where(rng.random(k) < .06, _SUSPECT, np.where(rng.random(k) < .03, _FUNDS, _OK))
        chunks.append(_rows(w, t, u[own], slot[own], merch, base, tref=tc[own], dev=np.where(web, dev, -1),
                            ip=np.where(web, ip, -1), decl=decl, scen=3, ep=w.new_episodes(v)[own]))
        events.append((slot, found))
        total += k
    return chunks


def _high_amounts(w: _World, budget: float, events: list[Any]) -> list[_Rows]:
    """One to three large payments at big-ticket merchants within hours."""
    rng = w.rng
    chunks: list[_Rows] = []
    total = 0
    while total < budget or not chunks:
        u, slot, tc = w.victims(max(1, int((budget - total) / 1.7) + 1))
        v = len(u)
        nf = rng.choice([1, 2, 3], v, p=[.5, .3, .2])
        own = np.repeat(np.arange(v), nf)
        t = w.fraud_times(tc[own], np.minimum(tc + rng.uniform(.2, 12, v) * HOUR, w.horizon)[own],
                          _TZ[w.home[u[own]]])
        k = len(t)
        shop = np.where(rng.random(k) < .4, w.snap("big", w.xy[u[own]] + rng.normal(0, 4, (k, 2))),
                        w.far_terminal(k, "big"))
        web = rng.random(k) < .6
        merch = np.where(web, w.web_shop(k, _cat("electronics_online", "travel_booking", "gift_cards",
                                                  "marketplace"), True), shop)
        base = np.clip(rng.lognormal(np.log(1500), .5, k), 400, 9000)
        dev, ip = _fraud_identity(w, k, w.new_devices(max(1, v // 5)), rng.choice(w.datacenter, 6))
        decl = np.where(rng.random(k) < .15, _SUSPECT, _OK)
        chunks.append(_rows(w, t, u[own], slot[own], merch, base, tref=tc[own], dev=np.where(web, dev, -1),
                            ip=np.where(web, ip, -1), decl=decl, scen=4, ep=w.new_episodes(v)[own]))
        events.append((slot, tc + (2 * HOUR + rng.exponential(2, v) * DAY)))
        total += k
    return chunks


def _card_testing(w: _World, budget: float, events: list[Any], out: list[Any]) -> list[_Rows]:
    """Campaigns: small test payments at a few web shops (many declined), then a large one on cards that pass."""
    rng = w.rng
    chunks: list[_Rows] = []
    total = 0
    while total < budget or not chunks:
        t0 = rng.uniform(0, w.horizon - 3 * DAY)
        size = int(min(20, rng.geometric(1 / 3), max(1, (budget - total) // 4)))
        times = t0 + rng.random(size) * rng.uniform(1, 48) * HOUR
        issuer = int(rng.choice(w.issuer)) if rng.random() < .5 else None  # a BIN attack
        u, slot, tc = w.victims(size, times, issuer)
        v = len(u)
        if not v:
            continue
        shops = w.web_shop(int(rng.integers(1, 4)), _TESTING, True)
        n_test = np.minimum(1 + rng.geometric(.3, v), 15)
        own = np.repeat(np.arange(v), n_test)
        gaps = rng.exponential(70, len(own)) + 2
        t = np.minimum(tc[own] + _group_cumsum(gaps, n_test), w.horizon - 1)
        r = rng.random(len(own))
        amount = np.where(r < .55, rng.uniform(.5, 3, len(own)),
                          np.where(r < .8, rng.choice([.5, 1, 1, 2], len(own)), rng.uniform(3, 9, len(own))))
        merch = np.where(rng.random(len(own)) < .75, shops[rng.integers(0, len(shops), v)][own],
                         rng.choice(shops, len(own)))
        base = np.round(amount, 2) / _FX[w.mcountry[merch]]
        p_decl = rng.uniform(.3, .75)
        decl = np.where(rng.random(len(own)) < p_decl,
                        rng.choice([_CVV, _EXPIRY, _DNH, _FUNDS], len(own), p=[.4, .25, .2, .15]), _OK)
        valid = rng.random(v) < .7
        last = np.cumsum(n_test) - 1
        decl[last[valid]] = _OK  # the card works: the fraudster goes on to use it
        devs, ips = w.new_devices(int(rng.integers(1, 3))), rng.choice(w.datacenter, int(rng.integers(2, 7)))
        dev, ip = rng.choice(devs, len(own)), rng.choice(ips, len(own))
        ep = w.new_episodes(v)
        chunks.append(_rows(w, t, u[own], slot[own], merch, base, tref=tc[own], dev=dev, ip=ip, decl=decl,
                            scen=5, ep=ep[own]))
        # the cash-out: one to three large payments minutes to a day and a half after the last test
        cv = np.flatnonzero(valid)
        nb = 1 + (rng.random(len(cv)) < .35) + (rng.random(len(cv)) < .1)
        ob = np.repeat(cv, nb)
        tb = t[last][ob] + (5 * MINUTE + rng.exponential(5, len(ob)) * HOUR)
        ob, tb = ob[tb < w.horizon], tb[tb < w.horizon]
        mb = w.web_shop(len(ob), np.setdiff1d(_CASH_ONLINE, _TESTING), True)
        db, ib = _fraud_identity(w, len(ob), devs, ips)
        chunks.append(_rows(w, tb, u[ob], slot[ob], mb, np.clip(rng.lognormal(np.log(380), .7, len(ob)), 60, 5000),
                            tref=tc[ob], dev=db, ip=ib, decl=np.where(rng.random(len(ob)) < .15, _SUSPECT, _OK),
                            scen=5, ep=ep[ob]))
        end = t[last].copy()
        np.maximum.at(end, ob, tb)
        noticed = valid | (rng.random(v) < .3)
        events.append((slot[noticed], end[noticed] + (HOUR + rng.exponential(2.5, int(noticed.sum())) * DAY)))
        out.append((shops, t0, ep))
        total += len(own) + len(ob)
    return chunks


def _sessions(w: _World, lo: np.ndarray, hi: np.ndarray, n_sess: np.ndarray, per: np.ndarray,
              tz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fraudsters' sessions: each starts in [lo, hi) and has 1 + Poisson(per) payments minutes apart."""
    so = np.repeat(np.arange(len(lo)), n_sess)
    start = w.fraud_times(lo[so], hi[so], tz[so])
    k = 1 + w.rng.poisson(per[so])
    gaps = w.rng.exponential(25 * MINUTE, int(k.sum())) + MINUTE
    gaps[np.cumsum(k) - k] = 0
    t = np.repeat(start, k) + _group_cumsum(gaps, k)
    return np.repeat(so, k)[t < w.horizon], t[t < w.horizon]


def _group_cumsum(x: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Cumulative sums restarting at each group of consecutive ``sizes``."""
    c = np.cumsum(x)
    starts = np.cumsum(sizes) - sizes
    return np.asarray(c - np.repeat(c[starts] - x[starts], sizes))


def _pans(rng: np.random.Generator, issuer: np.ndarray) -> np.ndarray:
    """16-digit card numbers with a valid Luhn digit; the first six (the BIN) are shared by an issuer's cards."""
    bins = rng.choice(np.arange(400000, 560000), 12, replace=False)
    body = bins[issuer] * 10**9 + rng.choice(10**9, len(issuer), replace=False)
    digits = (body[:, None] // 10 ** np.arange(15)) % 10  # right to left
    doubled = np.where(np.arange(15) % 2 == 0, digits * 2 - 9 * (digits >= 5), digits)
    check = (10 - doubled.sum(1) % 10) % 10
    return np.asarray((pd.Series(body).astype(str) + pd.Series(check).astype(str)).to_numpy(dtype=object))


def _iso(t0: int, t: np.ndarray) -> np.ndarray:
    secs = t0 + np.floor(t).astype(np.int64)
    return np.asarray(np.datetime_as_string(secs.astype("datetime64[s]"), unit="s", timezone="UTC").astype(object))


def _check(n_users: int, days: int, fraud_rate: float, label_delay_days: float | None, labelled_share: float,
           start: str, card_numbers: str) -> pd.Timestamp:
    delay = 0.0 if label_delay_days is None else float(label_delay_days)
    problems = [text for ok, text in (
        (int(n_users) >= 50, f"n_users must be at least 50, not {n_users}"),
        (int(days) >= 14, f"days must be at least 14, not {days}"),
        (0 < float(fraud_rate) <= 0.2, f"fraud_rate must be above 0 and at most 0.2, not {fraud_rate}"),
        (0 <= delay <= 365, f"label_delay_days must be between 0 and 365, not {label_delay_days}"),
        (0 <= float(labelled_share) <= 1, f"labelled_share must be between 0 and 1, not {labelled_share}"),
        (card_numbers in ("ids", "pan"), f"card_numbers must be 'ids' or 'pan', not {card_numbers!r}")) if not ok]
    try:
        t0 = pd.Timestamp(start)
    except ValueError:
        problems.append(f"start {start!r} is not a date (YYYY-MM-DD)")
    if problems:
        raise ValidationError(f"Cannot generate the card world: {problems[0]}; change that knob.", problems)
    return t0.tz_localize("UTC") if t0.tzinfo is None else t0.tz_convert("UTC")


def generate_card(n_users: int, seed: int = 0, *, days: int = 120, fraud_rate: float = 0.01,
                  label_delay_days: float | None = None, labelled_share: float = 1.0, start: str = "2026-01-05",
                  card_numbers: str = "ids") -> tuple[pd.DataFrame, dict[str, Any]]:
    """Generate card payments with victims' fraud of five kinds among legitimate look-alikes.

    Parameters
    ----------
    n_users : int
        Number of cardholders (at least 50); merchants scale with it (two terminals per cardholder).
    seed : int, default 0
        Seed of the one ``np.random.default_rng``; the same seed gives the same data.
    days : int, default 120
        Length of the period (at least 14).
    fraud_rate : float, default 0.01
        Target share of fraudulent transactions (the realised share is within about 15 % of it).
    label_delay_days : float, optional
        When given, a ``labelled_at`` column on every labelled row: each victim's fraud is reported together,
        on average this many days (exponentially distributed) after its first fraudulent payment (payments
        after the report are labelled as they happen); a legitimate row's label is known as long after it.
    labelled_share : float, default 1.0
        Share of labels written: whole victims' fraud and single legitimate rows go unlabelled at this rate,
        with ``is_fraud`` (and ``fraud_type``, ``labelled_at``) blank, so a blank does not mark fraud.
        ``truth.json`` lists every fraud transaction either way.
    start : str, default "2026-01-05"
        First day of the period (UTC).
    card_numbers : {"ids", "pan"}, default "ids"
        ``ids`` gives readable card ids (``C`` and 12 digits); ``pan`` gives 16-digit numbers with a valid
        Luhn digit whose first six digits (the BIN) are shared by an issuer's cards.

    Returns
    -------
    transactions : pandas.DataFrame
        Columns :data:`COLUMNS` (and ``labelled_at`` when asked), in time order. Ids, timestamps and codes
        are strings, ``""`` when absent; ``amount`` is in ``currency`` with 2 decimals; ``is_fraud`` is 0/1
        (nullable ``Int64`` with blanks when ``labelled_share < 1``).
    truth : dict
        ``profile``, ``scenarios`` (fraud transactions per scenario), ``fraud_transactions``
        (transaction id -> scenario), ``compromised_cards``, ``compromised_merchants``, the windows of
        ``compromised_terminals`` and ``common_points_of_purchase``, ``card_testing`` campaigns, ``params``,
        and empty ``rings`` and ``takeover_users`` for tools that read them.

    Notes
    -----
    About 1.7 payments a day per active cardholder (5,000 cardholders over 120 days make about 1.03 million
    rows). The work is vectorised numpy, O(rows), plus a Python loop per compromise window, breach and
    card-testing campaign (a few hundred at the default rate). Every scenario happens at least once, so a
    tiny world (a few thousand rows) has more fraud than ``fraud_rate`` asks for.

    Examples
    --------
    >>> df, truth = generate_card(300, seed=1, days=30)
    >>> list(df.columns)[:5]
    ['transaction_id', 'timestamp', 'user_id', 'card_id', 'merchant_id']
    >>> sorted(truth["scenarios"]) == sorted(SCENARIOS)
    True
    >>> int(df["is_fraud"].sum()) == len(truth["fraud_transactions"])
    True
    """
    rows, truth = _card(n_users, seed, days, fraud_rate, label_delay_days, labelled_share, start, card_numbers)
    return rows.frame(), truth


def _card(n_users: int, seed: int, days: int, fraud_rate: float, label_delay_days: float | None,
          labelled_share: float, start: str, card_numbers: str) -> tuple[Table, dict[str, Any]]:
    """:func:`generate_card` with the transactions as a :class:`.synth.base.Table` (strings made a block of rows
    at a time)."""
    t0 = _check(n_users, days, fraud_rate, label_delay_days, labelled_share, start, card_numbers)
    n, days = int(n_users), int(days)
    rng = np.random.default_rng(seed)
    w = _World(rng, n, days, t0)
    legit = _legit(w)
    budget = float(fraud_rate) / (1 - float(fraud_rate)) * len(legit["t"]) * _SHARE
    events: list[tuple[np.ndarray, np.ndarray]] = []
    held = np.column_stack([np.ones(n, dtype=bool), w.second]).ravel()  # card slots 2u and 2u + 1
    lost = np.flatnonzero(held & (rng.random(2 * n) < .03))  # expired, lost or stolen: a new card
    events.append((lost, (w.join[lost // 2] + rng.random(len(lost)) * (w.end - w.join)[lost // 2]) * DAY))
    terminals: list[tuple[int, float, float]] = []
    _compromised_terminals(w, legit, budget[0], events, terminals)
    points: list[Any] = []
    chunks = [legit] + _common_points(w, legit, budget[1], events, {m_ for m_, _, _ in terminals}, points)
    chunks += _stolen_details(w, budget[2], events) + _high_amounts(w, budget[3], events)
    campaigns: list[Any] = []
    chunks += _card_testing(w, budget[4], events, campaigns)
    cols = _concat(chunks)

    # cards: a slot's card is replaced at each event; fraud on a card after it was closed never happens
    ev_slot = np.concatenate([e[0] for e in events]).astype(np.int64)
    ev_t = np.concatenate([e[1] for e in events])
    ev = np.sort((ev_slot[ev_t < w.horizon] << 32) | ev_t[ev_t < w.horizon].astype(np.int64))
    key = (cols["slot"] << 32) | cols["tref"].astype(np.int64)
    hi = np.searchsorted(ev, key, side="right")
    gen = hi - np.searchsorted(ev, cols["slot"] << 32)
    nxt = ev[np.minimum(hi, len(ev) - 1)] if len(ev) else np.zeros(len(key), dtype=np.int64)
    closed = (hi < len(ev)) & ((nxt >> 32) == cols["slot"]) & (cols["t"] >= (nxt & 0xFFFFFFFF))
    cols = {k_: v[~closed] for k_, v in cols.items()}
    cards, card = np.unique((cols["slot"] << 8) | np.minimum(gen[~closed], 255), return_inverse=True)

    perm = rng.permutation(len(cols["t"]))  # ties in time do not reveal which part of the plan wrote a row
    perm = perm[np.argsort(np.floor(cols["t"][perm]), kind="stable")]
    cols = {k_: v[perm] for k_, v in cols.items()}
    card = card[perm]
    user_ids = digit_ids(rng, "U", n, 8)
    card_ids = digit_ids(rng, "C", len(cards), 12)
    merch_ids = digit_ids(rng, "M", w.n_m, 7)
    dev_ids = np.append(digit_ids(rng, "D", w.n_devices, 10), "")
    ip_addrs = np.append(ip_ids(rng, w.n_ips), "")
    tx_nums = digit_numbers(rng, len(card), 12)
    m, scen = cols["merch"], cols["scen"]
    local = cols["base"] * _FX[w.mcountry[m]]
    gift = (w.mcat[m] == _GIFT) & (scen != 5)
    amount = np.maximum(np.round(np.where(gift, np.maximum(10, np.round(local / 5) * 5), local), 2), 0.01)
    fraud = scen > 0
    _, ep = np.unique(np.where(fraud, cols["ep"], -1), return_inverse=True)  # 0 is legitimate
    n_ep = int(ep.max()) + 1
    labelled = np.ones(len(fraud), dtype=bool)
    if labelled_share < 1:  # a victim's report goes missing as a whole, other rows one by one, at one rate
        labelled = np.where(fraud, (rng.random(n_ep) < labelled_share)[ep], rng.random(len(fraud)) < labelled_share)
    epoch = int(t0.value // 10**9)
    is_fraud = (fraud.astype(np.int64) if labelled.all()
                else pd.arrays.IntegerArray(fraud.astype(np.int64), ~labelled))
    columns = {
        "transaction_id": lambda r: digit_strings("T", tx_nums[r]),
        "timestamp": lambda r: _iso(epoch, cols["t"][r]),
        "user_id": lambda r: user_ids[cols["u"][r]],
        "card_id": lambda r: card_ids[card[r]],  # card_ids as it ends below (PANs when asked)
        "merchant_id": lambda r: merch_ids[m[r]],
        "amount": lambda r: amount[r],
        "currency": lambda r: _CURRENCY[w.mcountry[m[r]]].astype(object),
        "country": lambda r: _COUNTRY[w.mcountry[m[r]]].astype(object),
        "device_id": lambda r: dev_ids[cols["dev"][r]],
        "ip": lambda r: ip_addrs[cols["ip"][r]],
        "auth_result": lambda r: np.where(cols["decl"][r] > 0, "declined", "approved").astype(object),
        "decline_reason": lambda r: _DECLINE[cols["decl"][r]],
        "is_fraud": lambda r: is_fraud[r],
        "fraud_type": lambda r: np.where(fraud[r] & labelled[r], "third_party", "").astype(object),
    }
    if label_delay_days is not None:
        first = np.full(n_ep, np.inf)
        np.minimum.at(first, ep, cols["t"])
        report = first + rng.exponential(float(label_delay_days), n_ep) * DAY
        known_good = cols["t"] + rng.exponential(float(label_delay_days), len(fraud)) * DAY
        at = np.where(fraud, np.maximum(cols["t"], report[ep]), known_good)
        columns["labelled_at"] = lambda r: np.where(labelled[r], _iso(epoch, at[r]), "").astype(object)
    if card_numbers == "pan":  # drawn last, so the rest of the world is the same either way
        card_ids = _pans(rng, w.issuer[cards >> 8])

    name = np.array(("",) + SCENARIOS, dtype=object)
    def iso1(x: Any) -> str:
        return str(_iso(epoch, np.array([x]))[0])

    def cards_of(eps: Any) -> list[Any]:
        return sorted(set(card_ids[card[np.isin(cols["ep"], eps) & fraud]].tolist()))
    truth: dict[str, Any] = {
        "profile": "card",
        "scenarios": {s: int((scen == i + 1).sum()) for i, s in enumerate(SCENARIOS)},
        "fraud_transactions": dict(zip(digit_strings("T", tx_nums[fraud]).tolist(), name[scen[fraud]].tolist())),
        "compromised_cards": sorted(set(card_ids[card[fraud]].tolist())),
        "compromised_merchants": sorted(set(merch_ids[[p[0] for p in terminals + points]].tolist())),
        "rings": {},
        "takeover_users": [],
        "compromised_terminals": [{"merchant_id": merch_ids[m_], "start": iso1(s_), "end": iso1(e_)}
                                  for m_, s_, e_ in terminals],
        "common_points_of_purchase": [{"merchant_id": merch_ids[m_], "start": iso1(s_), "end": iso1(e_),
                                       "cards": cards_of(eps)} for m_, s_, e_, eps in points],
        "card_testing": [{"merchants": sorted(merch_ids[shops].tolist()), "start": iso1(t_),
                          "cards": cards_of(eps)} for shops, t_, eps in campaigns],
        "params": {"n_users": n, "seed": int(seed), "start": t0.strftime("%Y-%m-%dT%H:%M:%SZ"), "days": days,
                   "fraud_rate": float(fraud_rate), "label_delay_days": label_delay_days,
                   "labelled_share": float(labelled_share), "card_numbers": card_numbers},
    }
    return Table(len(fraud), columns), truth


_KNOBS = tuple(p for p in inspect.signature(generate_card).parameters if p not in ("n_users", "seed"))


def write_card_dataset(out_csv: str | os.PathLike[str], n_users: int, seed: int = 0,
                       **knobs: Any) -> dict[str, Any]:
    """Generate a card world and write it as ``out_csv`` with ``truth.json`` in the same folder.

    Parameters
    ----------
    out_csv : str or os.PathLike
        Path of the CSV to write; missing folders are created.
    n_users : int
        Number of cardholders, see :func:`generate_card`.
    seed : int, default 0
        Random seed; the same seed writes byte-identical files.
    **knobs
        ``days``, ``fraud_rate``, ``label_delay_days``, ``labelled_share``, ``start``, ``card_numbers``,
        passed to :func:`generate_card`; any other name is refused.

    Returns
    -------
    dict
        ``n_transactions``, ``n_users``, ``n_fraud``, ``n_labelled_fraud``, ``fraud_rate``, ``scenarios``
        and ``path`` (the CSV).

    Raises
    ------
    ValidationError
        For a knob the card profile does not have, or a value out of range.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> summary = write_card_dataset(folder / "tx.csv", 300, seed=0, days=30)
    >>> (folder / "truth.json").exists(), 0.004 < summary["fraud_rate"] < 0.012
    (True, True)
    """
    unknown = sorted(set(knobs) - set(_KNOBS))
    if unknown:
        raise ValidationError(f"The card profile has no knob {unknown[0]!r}; it takes {', '.join(_KNOBS)}.",
                              [f"{k}: not a knob of the card profile" for k in unknown])
    path = Path(out_csv)
    args = inspect.signature(generate_card).bind(n_users, seed, **knobs)
    args.apply_defaults()
    rows, truth = _card(**args.arguments)
    save(path, rows, truth)
    n_fraud = len(truth["fraud_transactions"])
    labelled = pd.Series(rows.columns["is_fraud"](slice(0, len(rows))))
    return {"n_transactions": int(len(rows)), "n_users": int(n_users), "n_fraud": n_fraud,
            "n_labelled_fraud": int((labelled == 1).sum()), "fraud_rate": round(n_fraud / len(rows), 5),
            "scenarios": truth["scenarios"], "path": str(path)}
