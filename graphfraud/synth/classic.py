"""The ``rings`` world (the default profile): planted fraud rings, account takeovers and look-alikes.

Its output is fixed for a seed (other checks are calibrated on it): change it only on purpose.

The generator builds a legitimate population first (users joining through the period, heavy-tailed
activity, 1-2 cards, 1-3 devices, home/mobile/office IPs, a home country, diurnal timing, power-law
merchant popularity, log-normal amounts by merchant category), then adds decoys that look like rings but
are legitimate (households sharing a device or a family card, carrier NAT and office IPs shared by
hundreds, default device ids such as ``00000000``, public wifi, VPN users on datacenter IPs, travellers,
big spenders, phone changes), then fraud rings of four shapes and lone account takeovers.

Identifiers are drawn from one generator per kind after the plan is made, so ring accounts, decoys and
ordinary users are indistinguishable by id. Everything is driven by one ``np.random.default_rng(seed)``:
the same seed gives byte-identical files.

Shapes
------
``device_farm``
    Accounts created within a day or two, all transacting from one or two devices, each with stolen cards.
``chain``
    Accounts linked pair by pair (A-B share a card, B-C a device, ...), each also with its own card and device.
``card_pool``
    A dense group where each account uses several cards from a shared pool of stolen cards.
``sleeper``
    Accounts that behave normally for weeks, then burst together (high-value purchases at a few merchants
    within a day or two, from shared IPs and often a shared device).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .base import (COUNTRY, DAY, DEFAULT_DEVICE_IDS, ELEC, GIFT, HOME_P, HOUR, ONLINE, SHAPES, TZ, Plan, amounts,
                   assemble, cashout, check_args, diurnal, frame, iso, pick, save, table, zipf)
from .labels import apply_labels, check_knobs, truth_labels


def generate(n_users: int, seed: int = 0, start: str = "2026-01-01",
             days: int = 90) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Generate a synthetic transaction set with planted fraud rings, takeovers and decoys.

    Parameters
    ----------
    n_users : int
        Number of accounts (legitimate, ring and takeover victims together); at least 50.
    seed : int, default 0
        Seed of ``np.random.default_rng``; the same seed gives the same data.
    start : str, default "2026-01-01"
        First day of the period (UTC).
    days : int, default 90
        Length of the period in days.

    Returns
    -------
    transactions : pandas.DataFrame
        Columns :data:`COLUMNS`, sorted by time; ids and timestamps are strings, ``""`` when absent,
        ``amount`` a float with 2 decimals, ``is_fraud`` 0/1.
    truth : dict
        ``{"rings": {ring_id: {"shape", "users", ...}}, "takeover_users": [...], "decoys": {...},
        "params": {...}}``.

    Notes
    -----
    About 13-14 transactions per user over 90 days, 1-2 % of users in rings (one ring per ~350 users,
    at least four so every shape appears) and 0.3 % takeover victims; fraud is 1-3 % of transactions.
    Runs in O(transactions) numpy work plus a small Python loop per ring.

    Examples
    --------
    >>> df, truth = generate(500, seed=1, days=30)
    >>> list(df.columns)[:4]
    ['transaction_id', 'timestamp', 'user_id', 'amount']
    >>> sorted({r["shape"] for r in truth["rings"].values()})
    ['card_pool', 'chain', 'device_farm', 'sleeper']
    >>> bool(df["timestamp"].is_monotonic_increasing)
    True
    """
    cols, ids, t0, truth = _world(n_users, seed, start, days)
    return frame(cols, ids, t0), truth


def _world(n_users: int, seed: int, start: str,
           days: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], pd.Timestamp, dict[str, Any]]:
    """:func:`generate` before its frame: the plan's columns and id tables (see :func:`.base.assemble`), the
    start as a timestamp, and the truth."""
    t0 = check_args(n_users, days, start)
    n, horizon = int(n_users), float(days) * DAY
    rng = np.random.default_rng(seed)
    plan = Plan(rng, n, horizon)
    mcat, pop = plan.mcat, plan.pop
    n_m = len(mcat)

    # --- legitimate population -------------------------------------------------------------------
    home = rng.choice(len(COUNTRY), size=n, p=HOME_P)
    tz = TZ[home] - np.where(home == 0, rng.integers(0, 4, n), 0)  # US spans four time zones
    established = rng.random(n) < 0.5
    join = np.where(established, 0.0, rng.random(n) * horizon * 0.95)
    end = np.full(n, horizon)
    rate = np.minimum(rng.lognormal(np.log(0.125), 1.0, n), 6.0)  # per day, heavy-tailed across users
    card = np.full((n, 2), -1, dtype=np.int64)
    card[:, 0] = plan.cards.new(n)
    two = rng.random(n) < 0.3
    card[two, 1] = plan.cards.new(int(two.sum()))
    n_dev = rng.choice([1, 2, 3], size=n, p=[.5, .35, .15])
    dev = np.full((n, 3), -1, dtype=np.int64)
    for s in range(3):
        has = n_dev > s
        dev[has, s] = plan.devices.new(int(has.sum()))
    home_ip = plan.ips.new(n)
    n_car = max(3, n // 400)
    carrier = plan.ips.new(n_car)
    mobile = np.where(rng.random(n) < 0.8, rng.choice(carrier, size=n, p=zipf(n_car, 0.6, rng)), -1)
    n_off = max(2, n // 300)
    office_ips = plan.ips.new(n_off)
    office = np.where(rng.random(n) < 0.3, rng.choice(office_ips, size=n, p=zipf(n_off, 1.0, rng)), -1)
    wifi = plan.ips.new(max(3, n // 1000))
    datacenter = plan.ips.new(max(10, n // 300))
    fav = rng.choice(n_m, size=(n, 3), p=pop)

    # --- fraud rings (planned first so decoys and victims are drawn from the others) --------------
    n_rings = max(4, int(round(n / 350)))
    shapes = np.concatenate([rng.permutation(len(SHAPES)),
                             rng.choice(len(SHAPES), size=n_rings - len(SHAPES), p=[.3, .2, .25, .25])])
    large = rng.random(n_rings) < 0.08
    sizes = np.where(large, rng.integers(16, 41, n_rings), np.minimum(2 + rng.geometric(0.33, n_rings), 15))
    while sizes.sum() > 0.12 * n and (sizes > 3).any():  # tiny populations: keep rings a minority
        sizes = np.maximum(3, sizes - 1)
    order = rng.permutation(n)
    ring_members = np.split(order[:sizes.sum()], np.cumsum(sizes)[:-1])
    others = order[sizes.sum():]
    in_ring = np.zeros(n, dtype=bool)
    in_ring[order[:sizes.sum()]] = True
    warmup = np.full(n, -1)  # ring accounts other than sleepers: a few quiet purchases before cash-out
    truth_rings: dict[str, dict[str, Any]] = {}
    r: Any
    for r, (shape_i, members) in enumerate(zip(shapes, ring_members)):
        info = _plant_ring(plan, SHAPES[shape_i], members, home, tz, join, end, rate, card, dev,
                           home_ip, mobile, office, carrier, datacenter, warmup)
        info["start"] = iso(t0, info.pop("t"))
        truth_rings[f"ring-{r + 1:04d}"] = info
    n_dev = (dev >= 0).sum(axis=1)

    # --- decoys ----------------------------------------------------------------------------------
    rest = rng.permutation(others)
    sizes_h = rng.integers(2, 6, size=max(2, int(0.09 * n / 3.5)))
    sizes_h = sizes_h[np.cumsum(sizes_h) <= len(rest) // 3]
    hh_members = np.split(rest[:sizes_h.sum()], np.cumsum(sizes_h)[:-1])
    hh_dev = rng.random(len(sizes_h)) < 0.6
    hh_dev[0] = True
    hh_card = rng.random(len(sizes_h)) < 0.4
    households = []
    for members, sd, sc in zip(hh_members, hh_dev, hh_card):
        head = members[0]
        home_ip[members], home[members], tz[members] = home_ip[head], home[head], tz[head]
        if sd:  # the family tablet is everyone's main device
            dev[members, 0] = dev[head, 0]
        if sc:  # a parent's card used by the others
            card[members[1:], 1] = card[head, 0]
        households.append((members, dev[head, 0] if sd else -1, card[head, 0] if sc else -1))
    legit = rest[sizes_h.sum():]
    default = rng.random(n) < 0.08
    default &= ~in_ring
    for members, sd, _ in households:
        default[members] &= not sd  # keep the family device visible
    dev[default, 0] = rng.choice(2, size=int(default.sum()), p=[.65, .35])
    vpn = np.where((rng.random(n) < 0.03) & ~in_ring, rng.choice(datacenter, size=n), -1)
    new_phone = rng.random(n) < 0.1
    for members, sd, _ in households:
        new_phone[members] &= not sd
    kiosk_ids = plan.devices.new(max(2, n // 2000))  # library / internet-cafe machines
    kiosk = np.where((rng.random(n) < 0.03) & ~in_ring, rng.choice(kiosk_ids, size=n), -1)
    switch_t = np.where(new_phone & ~in_ring, join + rng.random(n) * (end - join), np.inf)
    new_dev = np.full(n, -1)
    new_dev[np.isfinite(switch_t)] = plan.devices.new(int(np.isfinite(switch_t).sum()))
    traveller = (rng.random(n) < 0.05) & ~in_ring
    trip_s = np.where(traveller, rng.random(n) * max(horizon - 10 * DAY, DAY), np.inf)
    trip_e = trip_s + rng.uniform(3, 12, n) * DAY
    trip_c = (home + rng.integers(1, len(COUNTRY), n)) % len(COUNTRY)
    trip_ip = np.full(n, -1)
    trip_ip[traveller] = plan.ips.new(int(traveller.sum()))

    counts = rng.poisson(rate * (end - join) / DAY)
    counts[in_ring] = np.where(warmup[in_ring] >= 0, warmup[in_ring], counts[in_ring])
    counts[in_ring] = np.maximum(counts[in_ring], np.where(warmup[in_ring] >= 0, 0, 3))  # sleepers look alive

    # --- legitimate transactions, vectorised ------------------------------------------------------
    u = np.repeat(np.arange(n), counts)
    k = len(u)
    t = diurnal(rng, join[u] + rng.random(k) * (end[u] - join[u]), tz[u], join[u], end[u])
    merch = np.where(rng.random(k) < 0.45, fav[u, rng.integers(0, 3, k)], rng.choice(n_m, size=k, p=pop))
    amount = amounts(rng, mcat[merch])
    slot = ((rng.random(k) < 0.35) & (card[u, 1] >= 0)).astype(np.int64)
    c = card[u, slot]
    del slot  # here and below: each row-sized temporary goes once used (a row-sized array is 80 MB at 10 M)
    dslot = np.minimum((rng.random(k) ** 1.8 * n_dev[u]).astype(np.int64), n_dev[u] - 1)
    d = dev[u, dslot]
    d = np.where((dslot == 0) & (t >= switch_t[u]), new_dev[u], d)
    del dslot
    at_kiosk = (kiosk[u] >= 0) & (rng.random(k) < 0.2)
    d = np.where(at_kiosk, kiosk[u], d)
    r = np.where(at_kiosk, 0.96, rng.random(k))  # kiosks sit behind public wifi
    del at_kiosk
    ip = home_ip[u].copy()
    ip = np.where((r >= .55) & (r < .85) & (mobile[u] >= 0), mobile[u], ip)
    ip = np.where((r >= .85) & (r < .95) & (office[u] >= 0), office[u], ip)
    ip = np.where((r >= .95) & (r < .975), rng.choice(wifi, size=k), ip)
    ip = np.where((r >= .975) & (vpn[u] >= 0), vpn[u], ip)
    del r
    trip = (t >= trip_s[u]) & (t < trip_e[u])
    country = np.where(trip, trip_c[u], home[u])
    ip = np.where(trip & (rng.random(k) < 0.7), trip_ip[u], ip)
    del trip
    in_store = rng.random(k) < 0.03
    d = np.where(in_store | (rng.random(k) < 0.015), -1, d)
    ip = np.where(in_store | (rng.random(k) < 0.01), -1, ip)
    plan.add(t, u, amount, country, c, d, ip, merch, 0)
    del t, u, amount, country, c, d, ip, merch, in_store  # the plan holds what it needs until assemble()

    # --- big spenders: a legitimate burst of big-ticket purchases on one day ----------------------
    big = rng.choice(legit, size=max(1, int(0.015 * n)), replace=False)
    for b in big:
        kb = int(rng.integers(1, 5))
        tb = join[b] + rng.random() * max(0.0, end[b] - join[b] - HOUR * 8)
        m, a = cashout(plan, kb, rng.choice(plan.big_ticket, size=2, p=plan.big_ticket_p), boost=1.2)
        plan.add(tb + np.sort(rng.random(kb)) * 8 * HOUR, b, a, home[b], np.full(kb, card[b, 0]),
                 np.full(kb, dev[b, 0]), np.full(kb, home_ip[b]), m, 0)

    # --- lone account takeovers -------------------------------------------------------------------
    eligible = others[established[others] & (counts[others] >= 4)]
    eligible = np.setdiff1d(eligible, big)
    victims = rng.choice(eligible, size=min(len(eligible), max(1, int(round(0.003 * n)))), replace=False)
    hv = np.flatnonzero(np.isin(mcat, (ELEC, GIFT)))
    for v in victims:
        kv = 2 + int(rng.poisson(4))
        ta = rng.uniform(0.3, 0.95) * horizon
        tt = ta + np.sort(rng.random(kv)) * rng.uniform(0.5, 24) * HOUR
        kind = rng.random()
        vip = (rng.choice(datacenter) if kind < 0.45 else rng.choice(carrier) if kind < 0.75
               else plan.ips.new(1)[0])
        vc = home[v] if rng.random() < 0.7 else rng.choice(np.flatnonzero(COUNTRY != COUNTRY[home[v]]))
        targets = rng.choice(hv, size=min(3, len(hv)), replace=False, p=pop[hv] / pop[hv].sum())
        m, a = cashout(plan, kv, targets, boost=0.9)
        cv = card[v, ((rng.random(kv) < 0.4) & (card[v, 1] >= 0)).astype(np.int64)]
        plan.add(tt, v, a, vc, cv, np.full(kv, plan.devices.new(1)[0]), np.full(kv, vip), m, 1)

    # --- ids and ordering ------------------------------------------------------------------------
    cols, ids = assemble(plan, n)
    user_ids, card_ids, dev_ids, ip_ids = ids["user"], ids["card"], ids["device"], ids["ip"]

    for info in truth_rings.values():
        info["users"] = sorted(user_ids[info["users"]].tolist())
        for key in ("devices", "cards"):
            handles = dev_ids if key == "devices" else card_ids
            info[key] = sorted(handles[info[key]].tolist())
    truth = {
        "rings": truth_rings,
        "takeover_users": sorted(user_ids[victims].tolist()),
        "decoys": {
            "households": [{"users": sorted(user_ids[m].tolist()),
                            "device": dev_ids[d_] if d_ >= 0 else None,
                            "card": card_ids[c_] if c_ >= 0 else None} for m, d_, c_ in households],
            "default_devices": list(DEFAULT_DEVICE_IDS),
            "carrier_ips": ip_ids[carrier].tolist(),
            "office_ips": ip_ids[office_ips].tolist(),
            "public_wifi_ips": ip_ids[wifi].tolist(),
            "kiosk_devices": dev_ids[kiosk_ids].tolist(),
            "datacenter_ips": ip_ids[datacenter].tolist(),
            "big_spenders": sorted(user_ids[big].tolist()),
            "travellers": sorted(user_ids[np.flatnonzero(traveller)].tolist()),
        },
        "params": {"n_users": n, "seed": int(seed), "start": t0.strftime("%Y-%m-%dT%H:%M:%SZ"),
                   "days": int(days)},
    }
    return cols, ids, t0, truth


def _plant_ring(plan: Plan, shape: str, members: np.ndarray, home: np.ndarray, tz: np.ndarray,
                join: np.ndarray, end: np.ndarray, rate: np.ndarray, card: np.ndarray, dev: np.ndarray,
                home_ip: np.ndarray, mobile: np.ndarray, office: np.ndarray, carrier: np.ndarray,
                datacenter: np.ndarray, warmup: np.ndarray) -> dict[str, Any]:
    """Set up one ring's accounts in the user tables and add its fraudulent transactions to ``plan``."""
    rng, horizon, m = plan.rng, plan.horizon, len(members)
    mcat, pop = plan.mcat, plan.pop
    country = rng.choice(len(COUNTRY), p=HOME_P)
    home[members] = country
    tz[members] = TZ[country] - (rng.integers(0, 4) if country == 0 else 0)
    mode = rng.choice(["carrier", "proxy", "residential"], p=[.4, .4, .2])
    if shape == "chain":
        mode = rng.choice(["carrier", "residential"], p=[.5, .5])
    pool_ip = (rng.choice(carrier, size=int(rng.integers(1, 4)), replace=False) if mode != "proxy"
               else rng.choice(datacenter, size=int(rng.integers(1, 5)), replace=False))
    own_ip = plan.ips.new(m)
    hv = np.flatnonzero(np.isin(mcat, (ELEC, GIFT, ONLINE)))
    targets = rng.choice(hv, size=min(len(hv), int(rng.integers(2, 6))), replace=False,
                         p=pop[hv] / pop[hv].sum())
    own_card, own_dev = plan.cards.new(m), plan.devices.new(m)
    cards_of: list[np.ndarray] = [own_card[i:i + 1] for i in range(m)]
    devs_of: list[np.ndarray] = [own_dev[i:i + 1] for i in range(m)]
    shared_dev = np.empty(0, dtype=np.int64)
    t_s = rng.uniform(0.05, 0.85) * horizon
    if shape == "device_farm":
        farm = plan.devices.new(int(rng.integers(1, 3)))
        devs_of = [farm] * m
        extra = rng.random(m) < 0.4
        cards_of = [np.append(c, plan.cards.new(1)) if e else c for c, e in zip(cards_of, extra)]
        j = t_s + rng.random(m) * rng.uniform(2, 36) * HOUR  # accounts opened in a short span
        a = j + rng.random(m) * DAY
        b = a + rng.uniform(1, 6, m) * DAY
    elif shape == "chain":
        kinds = (np.arange(m - 1) + rng.integers(0, 2)) % 2  # alternate card and device links
        for i, kind in enumerate(kinds):
            if kind == 0:
                link = plan.cards.new(1)
                cards_of[i], cards_of[i + 1] = np.append(cards_of[i], link), np.append(cards_of[i + 1], link)
            else:
                link = plan.devices.new(1)
                devs_of[i], devs_of[i + 1] = np.append(devs_of[i], link), np.append(devs_of[i + 1], link)
        j = t_s + rng.random(m) * 20 * DAY
        a = j + rng.uniform(1, 7, m) * DAY
        b = a + rng.uniform(3, 15, m) * DAY
    elif shape == "card_pool":
        pool = plan.cards.new(max(3, int(np.ceil(m * rng.uniform(0.6, 1.5)))))
        first = np.resize(rng.permutation(pool), m)  # every pool card is used by someone
        cards_of = [np.unique(np.append(f, rng.choice(pool, size=int(rng.integers(1, 4)), replace=False)))
                    for f in first]
        for i in range(0, m - 1, 2):
            if rng.random() < 0.25:  # some accounts share a laptop
                devs_of[i + 1] = devs_of[i]
        j = t_s + rng.random(m) * 10 * DAY
        a = j + rng.uniform(0, 3, m) * DAY
        b = a + rng.uniform(2, 12, m) * DAY
    else:  # sleeper: weeks of ordinary life through the legitimate generator, then one burst together
        t_s = rng.uniform(max(0.45 * horizon, min(25 * DAY, 0.7 * horizon)), 0.95 * horizon)
        j = np.maximum(0.0, t_s - rng.uniform(20, 50, m) * DAY)
        rate[members] = np.maximum(rate[members], rng.uniform(0.12, 0.3, m))
        cards_of = [np.append(card[u_, 0], plan.cards.new(1)) if rng.random() < 0.5 else card[u_, :1]
                    for u_ in members]
        devs_of = [dev[u_, :1] for u_ in members]
        if rng.random() < 0.5:
            shared_dev = plan.devices.new(1)
        width = rng.uniform(6, 48) * HOUR
        a = t_s + rng.random(m) * width * 0.5
        b = a + rng.uniform(0.2, 0.5, m) * width
        join[members], end[members] = j, np.minimum(t_s, horizon)
    a = np.minimum(a, horizon - 6 * HOUR)
    b = np.clip(b, a + HOUR, horizon)
    if shape != "sleeper":
        join[members], end[members] = np.minimum(j, a), a
        mobile[members], office[members] = -1, -1
        warmup[members] = rng.integers(0, 4, m)
        card[members, 0], card[members, 1] = [c[0] for c in cards_of], -1
        dev[members, 0] = [d_[0] for d_ in devs_of]
        dev[members, 1:] = -1
        home_ip[members] = own_ip if mode == "residential" else pool_ip[rng.integers(0, len(pool_ip), m)]
    for i, u_ in enumerate(members):
        k = max(3 + int(rng.poisson(10 if shape != "sleeper" else 7)), len(cards_of[i]), len(devs_of[i]))
        t = np.sort(a[i] + rng.random(k) * (b[i] - a[i]))
        if shape != "sleeper" and rng.random() < 0.5:
            t = diurnal(rng, t, np.full(k, tz[u_]), np.full(k, a[i]), np.full(k, b[i]))
        c = pick(rng, cards_of[i], k)
        d = pick(rng, devs_of[i], k)
        if len(shared_dev):
            d = np.where(rng.random(k) < 0.6, shared_dev[0], d)
        ip = rng.choice(pool_ip, size=k)
        if mode == "residential":
            ip = np.where(rng.random(k) < 0.8, own_ip[i], ip)
        blank = rng.random(k) < 0.02
        blank[:len(devs_of[i])] = False  # every planted device link stays visible
        d = np.where(blank, -1, d)
        ip = np.where(rng.random(k) < 0.02, -1, ip)
        merch, amount = cashout(plan, k, targets, boost=0.9)
        fraud = (rng.random(k) < 0.92).astype(np.int8)
        plan.add(t, u_, amount, country, c, d, ip, merch, fraud)
    return {"shape": shape, "users": members, "ip_mode": str(mode), "t": float(a.min()),
            "cards": np.unique(np.concatenate(cards_of)),
            "devices": np.unique(np.concatenate(devs_of + [shared_dev]))}


def write_dataset(out_csv: str | os.PathLike[str], n_users: int, seed: int = 0, start: str = "2026-01-01",
                  days: int = 90, **kw: Any) -> dict[str, Any]:
    """Generate a dataset and write it as ``out_csv`` with ``truth.json`` in the same folder.

    Parameters
    ----------
    out_csv : str or os.PathLike
        Path of the CSV to write; missing folders are created.
    n_users : int
        Number of accounts, see :func:`generate`.
    seed : int, default 0
        Random seed; the same seed writes byte-identical files.
    start, days
        See :func:`generate`.
    **kw
        The label knobs ``label_delay_days`` (writes
        ``labelled_at``) and ``labelled_share`` (blanks the other labels), applied to the same world (see
        :func:`graphfraud.synth.labels.apply_labels`), which also add ``profile``, ``knobs`` and
        ``fraud_transactions`` to truth.json. This world has its own fraud rate: ``fraud_rate`` is refused.

    Notes
    -----
    The same bytes as :func:`generate`'s frame written with :func:`.base.save`, but the id and time strings
    are made one block of rows at a time, so memory holds the integer-coded world and one block's strings.

    Returns
    -------
    dict
        ``n_transactions``, ``n_users``, ``n_rings``, ``n_fraud`` and ``path`` (the CSV).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> summary = write_dataset(folder / "tx.csv", 300, seed=0, days=30)
    >>> (folder / "truth.json").exists(), summary["n_rings"] >= 4
    (True, True)
    """
    path = Path(out_csv)
    knobs = check_knobs("rings", kw, ("label_delay_days", "labelled_share"))
    cols, ids, t0, truth = _world(n_users, seed, start, days)
    is_fraud, labelled_at = None, None
    if knobs:
        is_fraud, labelled_at = _relabel(cols, ids, t0, truth, seed, knobs)
    rows = table(cols, ids, t0, is_fraud=is_fraud, labelled_at=labelled_at)
    save(path, rows, truth)
    return {"n_transactions": int(len(rows)), "n_users": int(n_users), "n_rings": len(truth["rings"]),
            "n_fraud": int(cols["fraud"].sum()), "path": str(path)}


def _relabel(cols: dict[str, np.ndarray], ids: dict[str, np.ndarray], t0: pd.Timestamp, truth: dict[str, Any],
             seed: int, knobs: dict[str, float]) -> tuple[Any, np.ndarray | None]:
    """Blank or late labels for the same world (its ``fraud`` column is the truth): the ``is_fraud`` and
    ``labelled_at`` of :func:`.base.table`; adds the label keys to ``truth``."""
    # Times and labels count from the start as truth.json gives it (to the second), as a reader would.
    shift = float(pd.Timestamp(truth["params"]["start"]).value // 10**9 - t0.value // 10**9)
    t = np.floor(cols["t"]) - shift
    case_of = {u: i for i, ring in enumerate(truth["rings"].values()) for u in ring["users"]}
    case_of.update({u: len(truth["rings"]) + j for j, u in enumerate(truth["takeover_users"])})
    case = np.array([case_of.get(u, -1) for u in ids["user"].tolist()], dtype=np.int64)[cols["u"]]
    fraud = cols["fraud"].astype(np.int64)
    delay, share = knobs.get("label_delay_days"), knobs.get("labelled_share", 1.0)
    is_fraud, labelled_at = apply_labels(seed, fraud, t, case, delay, share)
    truth.update(truth_labels(fraud, "rings", {"fraud_rate": None, "label_delay_days": delay, "labelled_share": share},
                              partial_or_late=True))
    return is_fraud, None if labelled_at is None else labelled_at + shift
