"""The legitimate population of the typology worlds, with the sharing that looks like a ring.

People first: home country and time zone, accounts opened through the period, heavy-tailed activity in
sessions, 1-2 cards, 1-3 devices, a home IP and one or two carrier NAT IPs. Then, among the people outside
the rings, the look-alikes:

- households of 2-6 sharing the home IP, often a device (the family tablet), sometimes a card (a parent's
  card used by the others, now and then a grandparent's card used in a second household too), some opening
  their accounts together and shopping at the same places;
- offices of dozens on one IP; campuses of hundreds on one IP, half of them opening accounts within a few
  days of the start of term, eating and shopping at the same campus merchants;
- carrier NAT IPs shared by thousands; public wifi; cafe and hotel wifi shared by dozens; VPN users on
  datacenter IPs also used by fraud;
- default device ids (``00000000``, ``unknown-device``) and missing ones (in-store purchases, web-only users);
- library and internet-cafe machines, travellers, phone changes (some to a second-hand phone, whose
  device id another customer used before), replaced cards, big spenders;
- flash sales: hundreds of unrelated people buying at one merchant within hours.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .base import CATS, COUNTRY, DAY, DEFAULT_DEVICE_IDS, HOME_P, HOUR, TZ, Plan, amounts, cashout, diurnal, zipf

_RESTAURANT, _RETAIL_CAT, _ENTERTAIN = CATS.index("restaurant"), CATS.index("retail"), CATS.index("entertainment")


class People:
    """Per-user tables (handles into the plan's pools; ``-1`` where a user has none)."""

    def __init__(self, plan: Plan) -> None:
        rng, n, horizon = plan.rng, plan.n, plan.horizon
        self.n = n
        self.home = rng.choice(len(COUNTRY), size=n, p=HOME_P)
        self.tz = TZ[self.home] - np.where(self.home == 0, rng.integers(0, 4, n), 0)  # US spans four zones
        self.established = rng.random(n) < 0.5
        self.join = np.where(self.established, 0.0, rng.random(n) * horizon * 0.95)
        self.end = np.full(n, horizon)
        self.rate = np.minimum(rng.lognormal(np.log(0.125), 1.0, n), 6.0)  # per day, heavy-tailed
        self.session_p = rng.uniform(0.1, 0.5, n)  # share of purchases made in a session with another
        self.card = np.full((n, 2), -1, dtype=np.int64)
        self.card[:, 0] = plan.cards.new(n)
        two = rng.random(n) < 0.3
        self.card[two, 1] = plan.cards.new(int(two.sum()))
        self.card2_p = np.full(n, 0.35)  # share of purchases on the second card
        n_dev = rng.choice([1, 2, 3], size=n, p=[.5, .35, .15])
        self.dev = np.full((n, 3), -1, dtype=np.int64)
        for s in range(3):
            has = n_dev > s
            self.dev[has, s] = plan.devices.new(int(has.sum()))
        self.home_ip = plan.ips.new(n)
        # Carrier-grade NAT: a few gateway IPs carry most mobile traffic, the biggest thousands of users.
        n_car = max(4, n // 250)
        self.carrier = plan.ips.new(n_car)
        self.carrier_p = zipf(n_car, 1.2, rng)
        self.mobile = np.full((n, 2), -1, dtype=np.int64)
        on_mobile = rng.random(n) < 0.8
        self.mobile[on_mobile, 0] = rng.choice(self.carrier, size=int(on_mobile.sum()), p=self.carrier_p)
        roams = on_mobile & (rng.random(n) < 0.4)
        self.mobile[roams, 1] = rng.choice(self.carrier, size=int(roams.sum()), p=self.carrier_p)
        self.office = np.full(n, -1, dtype=np.int64)  # office or campus IP
        self.office_p = np.zeros(n)
        self.wifi = plan.ips.new(max(3, n // 1000))
        self.venues = plan.ips.new(max(3, n // 150))  # cafes and hotels: dozens of regulars each
        self.venue = np.where(rng.random(n) < 0.35, rng.choice(self.venues, size=n), -1)
        self.datacenter = plan.ips.new(max(10, n // 300))
        self.vpn = np.full(n, -1, dtype=np.int64)
        self.kiosk = np.full(n, -1, dtype=np.int64)
        self.fav = rng.choice(len(plan.mcat), size=(n, 3), p=plan.pop)
        self.group_merch = np.full((n, 2), -1, dtype=np.int64)  # a household's or campus's usual places
        self.count = np.full(n, -1, dtype=np.int64)  # a fixed number of ordinary purchases, or -1 (drawn)
        self.switch_t = np.full(n, np.inf)  # when the main device is replaced by new_dev
        self.new_dev = np.full(n, -1, dtype=np.int64)
        self.renew_t = np.full(n, np.inf)  # when the main card is replaced by new_card
        self.new_card = np.full(n, -1, dtype=np.int64)
        self.trip = np.full((n, 3), np.inf)  # start, end, country of a trip abroad
        self.trip_ip = np.full(n, -1, dtype=np.int64)
        self.in_ring = np.zeros(n, dtype=bool)
        self.case = np.full(n, -1, dtype=np.int64)  # a ring's case number, for the ordinary rows of its members


def plant_decoys(plan: Plan, people: People, others: np.ndarray) -> dict[str, Any]:
    """Households, offices, campuses, default and missing devices and the rest, among ``others``.

    Returns the decoys as handles (``households``, ``offices``, ``campuses``, ...), for truth.json.
    """
    rng, n, horizon, p = plan.rng, plan.n, plan.horizon, people
    rest = rng.permutation(others)
    # --- households of 2-6 ------------------------------------------------------------------------
    sizes = rng.integers(2, 7, size=max(2, int(0.1 * n / 3.8)))
    sizes = sizes[np.cumsum(sizes) <= len(rest) // 3]
    groups = np.split(rest[:sizes.sum()], np.cumsum(sizes)[:-1])
    rest = rest[sizes.sum():]
    households = []
    shops = np.flatnonzero(np.isin(plan.mcat, (0, 1, 3)))  # grocery, restaurant, retail
    for i, members in enumerate(groups):
        head = members[0]
        p.home_ip[members], p.home[members], p.tz[members] = p.home_ip[head], p.home[head], p.tz[head]
        p.mobile[members, 0] = np.where(p.mobile[members, 0] >= 0, p.mobile[head, 0], -1)  # one family plan
        shared_dev = i == 0 or rng.random() < 0.6
        if shared_dev:  # the family tablet is everyone's main device
            p.dev[members, 0] = p.dev[head, 0]
        family_card = rng.random() < 0.35
        if family_card:  # a parent's card, used by the others too
            p.card[members[1:], 1] = p.card[head, 0]
            p.card2_p[members[1:]] = rng.uniform(0.2, 0.7)
        together = rng.random() < 0.25
        if together:  # accounts opened on the same evening, often right before a big purchase
            base = p.join[head]
            p.established[members] = p.established[head]
            p.join[members] = np.minimum(base + rng.random(len(members)) * DAY, horizon * 0.95)
        p.group_merch[members] = rng.choice(shops, size=2, p=plan.pop[shops] / plan.pop[shops].sum())
        households.append({"users": members, "device": p.dev[head, 0] if shared_dev else -1,
                           "card": p.card[head, 0] if family_card else -1, "ip": p.home_ip[head],
                           "joined_together": bool(together)})
    for h in households:  # a grandparent's card, used in two households
        if rng.random() < 0.1 and len(households) > 1:
            other = households[int(rng.integers(0, len(households)))]
            if other is not h:
                user = int(rng.choice(other["users"]))
                p.card[user, 1] = p.card[h["users"][0], 0]
                p.card2_p[user] = rng.uniform(0.1, 0.4)
                h.setdefault("card_shared_with", []).append(user)
    # --- offices (dozens on one IP) and campuses (hundreds, many joining at the start of term) -------
    offices = []
    pool = rng.permutation(others)  # household members go to work too
    n_office_users = int(0.22 * len(pool))
    used = 0
    while n_office_users - used >= 12:
        k = min(int(rng.integers(12, 81)), n_office_users - used)
        members = pool[used:used + k]
        used += k
        ip = plan.ips.new(1)[0]
        p.office[members], p.office_p[members] = ip, rng.uniform(0.12, 0.3)
        offices.append({"ip": ip, "users": members})
    campuses = []
    free = np.setdiff1d(pool[used:], np.concatenate(groups), assume_unique=True)
    free = rng.permutation(free)
    for _ in range(max(1, int(round(n / 6000)))):
        k = int(min(len(free) // 3, max(15, rng.uniform(0.015, 0.03) * n)))
        members, free = free[:k], free[k:]
        ip = plan.ips.new(1)[0]
        p.office[members], p.office_p[members] = ip, rng.uniform(0.25, 0.45)
        term = rng.uniform(0.0, 0.4) * horizon
        fresh = members[rng.random(k) < 0.5]
        p.established[fresh] = False
        p.join[fresh] = term + rng.random(len(fresh)) * 4 * DAY
        cafes = np.flatnonzero(np.isin(plan.mcat, (_RESTAURANT, _RETAIL_CAT)))
        p.group_merch[members] = rng.choice(cafes, size=2, replace=False)
        campuses.append({"ip": ip, "users": members, "term_start": term})
    # --- devices: default ids, web-only users, kiosks, phone changes ------------------------------
    eligible = np.zeros(n, dtype=bool)
    eligible[others] = True
    fam_dev = np.zeros(n, dtype=bool)
    for h in households:
        if h["device"] >= 0:
            fam_dev[h["users"]] = True
    default = eligible & ~fam_dev & (rng.random(n) < 0.08)
    p.dev[default, 0] = rng.choice(2, size=int(default.sum()), p=[.65, .35])
    web_only = eligible & ~fam_dev & ~default & (rng.random(n) < 0.05)  # a channel with no device id
    p.dev[web_only] = -1
    kiosk_ids = plan.devices.new(max(2, n // 2000))  # library and internet-cafe machines
    at_kiosk = eligible & ~web_only & (rng.random(n) < 0.03)
    p.kiosk[at_kiosk] = rng.choice(kiosk_ids, size=int(at_kiosk.sum()))
    phone = eligible & ~fam_dev & ~web_only & (rng.random(n) < 0.1)
    p.switch_t[phone] = p.join[phone] + rng.random(int(phone.sum())) * (p.end[phone] - p.join[phone])
    p.new_dev[phone] = plan.devices.new(int(phone.sum()))
    second_hand = []
    sellers = np.flatnonzero(phone & (p.dev[:, 0] >= len(DEFAULT_DEVICE_IDS)))
    sellers = sellers[np.argsort(p.switch_t[sellers], kind="stable")]
    for buyer in np.flatnonzero(phone & (rng.random(n) < 0.2)):  # a phone someone here sold or handed down
        before = sellers[:np.searchsorted(p.switch_t[sellers], p.switch_t[buyer])]
        before = before[before != buyer]
        if len(before):
            seller = int(rng.choice(before))
            p.new_dev[buyer] = p.dev[seller, 0]
            second_hand.append((seller, int(buyer), int(p.dev[seller, 0])))
    renew = eligible & (rng.random(n) < 0.12)  # a card reissued, replaced after a loss, or a new bank
    p.renew_t[renew] = p.join[renew] + rng.random(int(renew.sum())) * (p.end[renew] - p.join[renew])
    p.new_card[renew] = plan.cards.new(int(renew.sum()))
    # --- IPs and travel ---------------------------------------------------------------------------
    vpn = eligible & (rng.random(n) < 0.03)
    p.vpn[vpn] = rng.choice(p.datacenter, size=int(vpn.sum()))
    trav = eligible & (rng.random(n) < 0.05)
    k = int(trav.sum())
    p.trip[trav, 0] = rng.random(k) * max(horizon - 10 * DAY, DAY)
    p.trip[trav, 1] = p.trip[trav, 0] + rng.uniform(3, 12, k) * DAY
    p.trip[trav, 2] = (p.home[trav] + rng.integers(1, len(COUNTRY), k)) % len(COUNTRY)
    p.trip_ip[trav] = plan.ips.new(k)
    return {"households": households, "offices": offices, "campuses": campuses, "kiosk_devices": kiosk_ids,
            "web_only_users": np.flatnonzero(web_only), "default_device_users": np.flatnonzero(default),
            "travellers": np.flatnonzero(trav), "second_hand_devices": second_hand}


def add_ordinary(plan: Plan, people: People) -> np.ndarray:
    """Every user's ordinary purchases (not fraud), vectorised; returns the number per user."""
    rng, p = plan.rng, people
    n, n_m = p.n, len(plan.mcat)
    counts = rng.poisson(p.rate * np.maximum(p.end - p.join, 0.0) / DAY)
    counts = np.where(p.count >= 0, p.count, counts)
    u = np.repeat(np.arange(n), counts)
    k = len(u)
    t = diurnal(rng, p.join[u] + rng.random(k) * (p.end[u] - p.join[u]), p.tz[u], p.join[u], p.end[u])
    # Purchases come in sessions (an afternoon at the mall, a night of online shopping): some follow
    # another of the same user's by minutes to hours, so bursts of purchases are ordinary too.
    first = np.repeat(np.cumsum(counts) - counts, counts)
    parent = first + (rng.random(k) * counts[u]).astype(np.int64)
    follow = (rng.random(k) < p.session_p[u]) & (parent != np.arange(k))
    later = t[parent] + rng.exponential(HOUR, k) + 120.0
    t = np.where(follow & (later < p.end[u]), later, t)
    r = rng.random(k)
    gm = p.group_merch[u, rng.integers(0, 2, k)]
    merch = np.where(r < 0.42, p.fav[u, rng.integers(0, 3, k)], rng.choice(n_m, size=k, p=plan.pop))
    merch = np.where((r >= 0.42) & (r < 0.62) & (gm >= 0), gm, merch)
    amount = amounts(rng, plan.mcat[merch])
    slot = ((rng.random(k) < p.card2_p[u]) & (p.card[u, 1] >= 0)).astype(np.int64)
    c = p.card[u, slot]
    c = np.where((slot == 0) & (t >= p.renew_t[u]), p.new_card[u], c)
    n_dev = np.maximum((p.dev >= 0).sum(axis=1), 1)
    dslot = np.minimum((rng.random(k) ** 1.8 * n_dev[u]).astype(np.int64), n_dev[u] - 1)
    d = p.dev[u, dslot]
    d = np.where((dslot == 0) & (t >= p.switch_t[u]), p.new_dev[u], d)
    kiosk = (p.kiosk[u] >= 0) & (rng.random(k) < 0.2)
    d = np.where(kiosk, p.kiosk[u], d)
    # Where from: home, a carrier NAT, the office or campus, public wifi, a VPN.
    r = np.where(kiosk, 0.999, rng.random(k))
    mob = p.mobile[u, (rng.random(k) < 0.5).astype(np.int64)]
    mob = np.where(mob >= 0, mob, p.mobile[u, 0])
    off = p.office_p[u]
    ip = p.home_ip[u].copy()
    ip = np.where((r >= .55 - off) & (r < .55) & (p.office[u] >= 0), p.office[u], ip)
    ip = np.where((r >= .55) & (r < .9) & (mob >= 0), mob, ip)
    ip = np.where((r >= .9) & (r < .93) & (p.vpn[u] >= 0), p.vpn[u], ip)
    ip = np.where((r >= .93) & (r < .97) & (p.venue[u] >= 0), p.venue[u], ip)
    ip = np.where(r >= .975, rng.choice(p.wifi, size=k), ip)
    trip = (t >= p.trip[u, 0]) & (t < p.trip[u, 1])
    country = np.where(trip, p.trip[u, 2], p.home[u]).astype(np.int64)
    ip = np.where(trip & (rng.random(k) < 0.7), p.trip_ip[u], ip)
    in_store = rng.random(k) < 0.03
    d = np.where(in_store | (rng.random(k) < 0.015), -1, d)
    ip = np.where(in_store | (rng.random(k) < 0.01), -1, ip)
    plan.add(t, u, amount, country, c, d, ip, merch, 0, case=p.case[u])
    return counts


def add_bursts(plan: Plan, people: People, legit: np.ndarray) -> dict[str, Any]:
    """Legitimate coordination: big spenders (a day of big-ticket purchases) and flash sales (many
    unrelated people at one merchant within hours)."""
    rng, p, horizon = plan.rng, people, plan.horizon
    big = rng.choice(legit, size=max(1, int(0.015 * p.n)), replace=False)
    for b in big:
        kb = int(rng.integers(1, 5))
        tb = p.join[b] + rng.random() * max(0.0, p.end[b] - p.join[b] - HOUR * 8)
        m, a = cashout(plan, kb, rng.choice(plan.big_ticket, size=2, p=plan.big_ticket_p), boost=1.2)
        plan.add(tb + np.sort(rng.random(kb)) * 8 * HOUR, b, a, p.home[b], np.full(kb, p.card[b, 0]),
                 np.full(kb, p.dev[b, 0]), np.full(kb, p.home_ip[b]), m, 0, case=-1)
    sales = []
    venues = np.flatnonzero(np.isin(plan.mcat, (_ENTERTAIN, CATS.index("electronics"), CATS.index("travel"))))
    for _ in range(max(1, int(round(horizon / (30 * DAY))))):
        m = rng.choice(venues)
        t_s = rng.uniform(0.05, 0.95) * horizon
        width = rng.uniform(2, 10) * HOUR
        buyers = rng.choice(legit, size=max(3, int(rng.uniform(0.003, 0.01) * p.n)), replace=False)
        buyers = buyers[(p.join[buyers] < t_s) & (p.end[buyers] > t_s)]
        for b in buyers:
            kb = 1 + int(rng.random() < 0.25)
            ip = p.mobile[b, 0] if p.mobile[b, 0] >= 0 and rng.random() < 0.5 else p.home_ip[b]
            plan.add(t_s + np.sort(rng.random(kb)) * width, b, amounts(rng, np.full(kb, plan.mcat[m]), 0.8),
                     p.home[b], np.full(kb, p.card[b, 0]), np.full(kb, p.dev[b, 0]), np.full(kb, ip),
                     np.full(kb, m), 0, case=-1)
        sales.append({"merchant": m, "start": t_s, "users": buyers})
    return {"big_spenders": big, "flash_sales": sales}
