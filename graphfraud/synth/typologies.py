"""Fraud ring typologies planted into the typology worlds, and lone account takeovers.

Shapes
------
``star``
    Every member uses one shared identifier (the hub: a device, a card, sometimes a real customer's stolen
    card, or an IP), each also with cards, devices and IPs of its own.
``chain``
    Members in a line; each consecutive pair shares one identifier, and the type changes from one pair to
    the next (card, then device, then IP, ...). Members are recruited one after the other.
``bipartite``
    Many users x many cards: throwaway accounts, each used for a few purchases within a day, on 2-3 cards
    of a pool; each card is used by 2-3 accounts; a quarter of the pool are real customers' cards; each
    card's first use is a small card test.
``sleeper``
    Accounts opened 3-8 weeks before the attack live ordinary lives (their own card, device, home and
    carrier IPs, everyday merchants), then bust out together within hours at a few merchants, mostly on
    their own card, device and IPs; some were opened from one device, some burst from a shared device or
    IP; a few share nothing but the timing and the merchants.
``many_merchants``
    Members linked in a loose tree (devices, cards, IPs), spending a little at many ordinary merchants over
    weeks: no shared merchants, no burst.

Every ring has 3-30 members; its accounts are mostly new (opened days before, a few quiet purchases),
else aged accounts handed over to the ring. How it reaches the internet varies by ring (carrier NAT shared
with thousands, datacenter proxies shared with VPN users, rotating residential proxies, its own home IPs);
some rings spoof default device ids or send none; some cash out at big-ticket merchants, others spend
like anyone.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .base import COUNTRY, DAY, ELEC, GIFT, HOME_P, HOUR, ONLINE, TZ, Plan, amounts, cashout, diurnal
from .population import People

TYPOLOGY_SHAPES = ("star", "chain", "bipartite", "sleeper", "many_merchants")
#: Mean fraud transactions per member, used to turn a fraud budget into rings.
MEAN_FRAUD = {"star": 7.0, "chain": 8.0, "bipartite": 4.0, "sleeper": 5.0, "many_merchants": 9.0}
MEAN_TAKEOVER = 6.5
_KINDS = ("card", "device", "ip")


def ring_size(rng: np.random.Generator) -> int:
    """3-30 members: mostly small rings (3 + geometric), a quarter between 10 and 30."""
    if rng.random() < 0.75:
        return int(min(30, 2 + rng.geometric(0.2)))
    return int(rng.integers(10, 31))


def fraud_counts(rng: np.random.Generator, shape: str, m: int) -> np.ndarray:
    """Fraud transactions per member for a ring of ``m``."""
    base = {"star": 2, "chain": 2, "bipartite": 2, "sleeper": 2, "many_merchants": 3}[shape]
    return base + rng.poisson(MEAN_FRAUD[shape] - base, m)


def plan_rings(rng: np.random.Generator, shapes: tuple[str, ...], n: int, budget: float,
               loss: float = 0.0) -> list[tuple[str, np.ndarray]]:
    """Rings (shape, fraud transactions per member) until ``budget`` fraud transactions are planned.

    ``loss`` is what each member takes off the budget (a ring account no longer makes its ordinary
    purchases, so the same rate needs less fraud). Every shape of ``shapes`` appears at least once; when
    the budget is tight the sizes shrink (to 3) so low fraud rates stay low; ring members stay under 15 %
    of the users unless a shape is still missing.
    """
    required = [str(s) for s in rng.permutation(list(shapes))]
    out: list[tuple[str, np.ndarray]] = []
    used, n_members = 0.0, 0
    while required or (used < budget - loss * n_members and n_members < 0.15 * n):
        shape = required.pop() if required else str(rng.choice(list(shapes)))
        reserve = sum(3 * (MEAN_FRAUD[s] + loss) for s in required)
        room = (budget - loss * n_members - used - reserve) / (MEAN_FRAUD[shape] + loss)
        size = int(max(3, min(ring_size(rng), room, 0.15 * n - n_members)))
        counts = fraud_counts(rng, shape, size)
        out.append((shape, counts))
        used += float(counts.sum())
        n_members += size
    return out


class _Ips:
    """Where a ring's members reach the internet from."""

    MODES = ("carrier", "datacenter", "residential_proxy", "own")

    def __init__(self, plan: Plan, people: People, mode: str, m: int) -> None:
        rng = plan.rng
        self.plan, self.mode, self.rng = plan, mode, rng
        if mode == "carrier":
            self.pool = rng.choice(people.carrier, size=int(rng.integers(1, 4)), p=people.carrier_p)
        elif mode == "datacenter":
            self.pool = rng.choice(people.datacenter, size=int(rng.integers(1, 5)), replace=False)
        elif mode == "residential_proxy":
            self.pool = plan.ips.new(int(rng.integers(2, 7)))
        else:
            self.pool = rng.choice(people.carrier, size=2, p=people.carrier_p)
        self.own = plan.ips.new(m) if mode == "own" else np.empty(0, dtype=np.int64)

    def home(self, i: int) -> int:
        if self.mode == "own":
            return int(self.own[i])
        if self.mode == "residential_proxy":
            return int(self.plan.ips.new(1)[0])
        return int(self.rng.choice(self.pool))

    def draw(self, i: int, k: int) -> np.ndarray:
        rng = self.rng
        out = rng.choice(self.pool, size=k)
        if self.mode == "residential_proxy":  # rotating exits: most requests come from an unseen address
            fresh = rng.random(k) < 0.7
            out[fresh] = self.plan.ips.new(int(fresh.sum()))
        elif self.mode == "own":
            out = np.where(rng.random(k) < 0.8, self.own[i], out)
        return out


def _choose(rng: np.random.Generator, own: np.ndarray, links: list[int],
            p_link: float) -> tuple[np.ndarray, np.ndarray]:
    """Per transaction: a shared (link) identifier with probability ``p_link``, else ``own``'s; every link
    is used at least once. Returns the identifiers and which are links."""
    k = len(own)
    out, forced = own.copy(), np.zeros(k, dtype=bool)
    if links:
        arr = np.asarray(links, dtype=np.int64)
        forced = rng.random(k) < p_link
        out = np.where(forced, rng.choice(arr, size=k), out)
        pos = rng.choice(k, size=len(arr), replace=False)
        out[pos] = rng.permutation(arr)
        forced[pos] = True
    return out, forced


class _Member:
    def __init__(self) -> None:
        self.cards: list[int] = []
        self.devices: list[int] = []
        self.links: dict[str, list[int]] = {k: [] for k in _KINDS}


def _link(members: list[_Member], i: int, j: int, kind: str, handle: int, info: dict[str, Any],
          users: np.ndarray) -> None:
    for x in (i, j):
        if handle not in members[x].links[kind]:
            members[x].links[kind].append(handle)
    info.setdefault("links", []).append({"type": kind, "id": int(handle), "users": [int(users[i]), int(users[j])]})


def _new_id(plan: Plan, kind: str) -> int:
    pool = {"card": plan.cards, "device": plan.devices, "ip": plan.ips}[kind]
    return int(pool.new(1)[0])


def plant_ring(plan: Plan, people: People, shape: str, users: np.ndarray, counts: np.ndarray, case: int,
               bystanders: np.ndarray) -> dict[str, Any]:
    """Set up one ring's accounts in ``people`` and add its fraud to ``plan``; return its truth (handles).

    ``bystanders`` are legitimate users whose cards a ring may have stolen.
    """
    rng, horizon, m, p = plan.rng, plan.horizon, len(users), people
    p.in_ring[users], p.case[users] = True, case
    country = int(rng.choice(len(COUNTRY), p=HOME_P))
    p.home[users] = country
    p.tz[users] = TZ[country] - (int(rng.integers(0, 4)) if country == 0 else 0)
    if shape == "sleeper":  # they go online from where they always do
        return _sleeper(plan, p, users, counts, case, {"shape": shape, "users": users, "ip_mode": "usual",
                                                       "cards": []})
    modes = ("carrier", "residential_proxy", "own") if shape == "chain" else _Ips.MODES
    weights = np.array([.3, .25, .25, .2][:len(modes)] if shape != "chain" else [.4, .3, .3])
    mode = str(rng.choice(modes, p=weights / weights.sum()))
    ips = _Ips(plan, p, mode, m)
    info: dict[str, Any] = {"shape": shape, "users": users, "ip_mode": mode, "cards": [], "devices": [], "ips": []}
    style = "spread" if shape == "many_merchants" else "cashout" if rng.random() < 0.7 else "ordinary"
    info["style"] = style
    new = rng.random() < (0.8 if shape == "many_merchants" else 0.7)
    info["accounts"] = "new" if new else "aged"
    t_s = rng.uniform(0.05, 0.8) * horizon
    ms = [_Member() for _ in range(m)]
    p_link = rng.uniform(0.3, 0.7)
    victims: list[int] = []
    for x in ms:
        x.devices = [_new_id(plan, "device")]
        x.cards = [_new_id(plan, "card") for _ in range(1 + int(rng.random() < 0.4))]
        if rng.random() < 0.15 and len(bystanders):  # the number of a real customer's card
            victims.append(int(rng.choice(bystanders)))
            x.cards[0] = int(p.card[victims[-1], 0])
    if shape == "star":
        kind = str(rng.choice(_KINDS, p=[.3, .45, .25]))
        if kind == "card" and rng.random() < 0.3 and len(bystanders):
            victims.append(int(rng.choice(bystanders)))
            hub = int(p.card[victims[-1], 0])
        elif kind == "ip" and rng.random() < 0.3:
            hub = int(rng.choice(p.datacenter))
        else:
            hub = _new_id(plan, kind)
        for x in ms:
            x.links[kind].append(hub)
        info["hub"] = {"type": kind, "id": hub}
        p_link = rng.uniform(0.4, 0.9)
        a = t_s + rng.random(m) * rng.uniform(0.5, 10) * DAY
        b = a + rng.uniform(1, 12, m) * DAY
    elif shape == "chain":
        kinds = [str(k_) for k_ in rng.permutation(list(_KINDS))]
        for j in range(m - 1):
            _link(ms, j, j + 1, kinds[j % 3], _new_id(plan, kinds[j % 3]), info, users)
        info["order"] = users.copy()
        gap = min(rng.uniform(0.3, 2.5), max(0.05, (0.92 * horizon - t_s) / DAY / m))
        a = t_s + (np.arange(m) * gap + rng.random(m)) * DAY
        b = a + rng.uniform(2, 12, m) * DAY
    elif shape == "bipartite":
        pool = plan.cards.new(max(3, int(round(m * rng.uniform(0.5, 1.0)))))
        stolen = (rng.random(len(pool)) < 0.25) & (len(bystanders) > 0)
        if stolen.any():
            taken = rng.choice(bystanders, size=int(stolen.sum()), replace=False)
            pool[stolen] = p.card[taken, 0]
            victims += taken.tolist()
        for c in pool:
            for i in rng.choice(m, size=min(m, int(rng.integers(2, 4))), replace=False):
                ms[i].links["card"].append(int(c))
        for x in ms:
            while len(x.links["card"]) < 2:
                c = int(rng.choice(pool))
                if c not in x.links["card"]:
                    x.links["card"].append(c)
            x.cards = []
        victims = [v for v in victims if int(p.card[v, 0]) in pool]
        for i in range(0, m - 1, 2):
            if rng.random() < 0.25:  # two accounts run from one laptop
                ms[i + 1].devices = ms[i].devices
        p_link = 1.0
        info["card_pool"] = pool.tolist()
        a = t_s + rng.random(m) * rng.uniform(2, 14) * DAY  # throwaway accounts, one after another,
        b = a + rng.uniform(1, 24, m) * HOUR  # each used for a few purchases within a day
    else:  # many_merchants
        for i in range(1, m):
            kind = str(rng.choice(_KINDS, p=[.25, .5, .25]))
            _link(ms, int(rng.integers(0, i)), i, kind, _new_id(plan, kind), info, users)
        for _ in range(m // 5):
            i, j = rng.choice(m, size=2, replace=False)
            kind = str(rng.choice(_KINDS, p=[.25, .5, .25]))
            _link(ms, int(i), int(j), kind, _new_id(plan, kind), info, users)
        a = t_s + rng.random(m) * rng.uniform(0, 10) * DAY
        b = a + rng.uniform(14, 35, m) * DAY
    a = np.minimum(a, horizon - 6 * HOUR)
    b = np.clip(b, a + HOUR, horizon)
    if victims:
        info["card_victims"] = sorted(set(victims))
    _accounts(plan, p, users, ms, ips, a, new, bystanders, info)
    _emit(plan, p, users, ms, counts, ips, a, b, p_link, style, case, info)
    info["t"] = float(a.min())
    return info


def _accounts(plan: Plan, p: People, users: np.ndarray, ms: list[_Member], ips: _Ips, a: np.ndarray,
              new: bool, bystanders: np.ndarray, info: dict[str, Any]) -> None:
    """New accounts open shortly before their first fraud; aged ones stop living their own life then
    (some of them lived with family: their home IP and often a device are shared with 1-2 customers)."""
    rng, m = plan.rng, len(users)
    if new:
        p.established[users] = False
        p.join[users] = np.maximum(0.0, a - rng.uniform(0, 3, m) * DAY)
        p.count[users] = rng.integers(0, 4, m)  # a few quiet purchases first
        p.mobile[users], p.office[users], p.card2_p[users] = -1, -1, 0.0
        p.dev[users] = -1
        p.card[users, 1] = -1
        for i, (u, x) in enumerate(zip(users, ms)):
            p.card[u, 0] = x.cards[0] if x.cards else x.links["card"][0]
            p.dev[u, 0] = x.devices[0]
            p.home_ip[u] = ips.home(i)
    else:
        p.join[users] = np.minimum(p.join[users], np.maximum(0.0, a - rng.uniform(14, 40, m) * DAY))
        family: list[int] = []
        for u in users[rng.random(m) < 0.3]:
            kin = rng.choice(bystanders, size=int(rng.integers(1, 3)), replace=False)
            p.home_ip[kin] = p.home_ip[u]
            if rng.random() < 0.5:
                p.dev[kin[0], 0] = p.dev[u, 0]
            family += kin.tolist()
        if family:
            info["family"] = family
    p.end[users] = a


def _targets(plan: Plan, style: str) -> tuple[np.ndarray, float]:
    rng, mcat, pop = plan.rng, plan.mcat, plan.pop
    if style == "cashout":
        hv = np.flatnonzero(np.isin(mcat, (ELEC, GIFT, ONLINE)))
        return rng.choice(hv, size=min(len(hv), int(rng.integers(2, 7))), replace=False,
                          p=pop[hv] / pop[hv].sum()), 0.9
    return rng.choice(len(mcat), size=int(rng.integers(3, 9)), replace=False, p=pop), 0.3


def _emit(plan: Plan, p: People, users: np.ndarray, ms: list[_Member], counts: np.ndarray, ips: _Ips,
          a: np.ndarray, b: np.ndarray, p_link: float, style: str, case: int, info: dict[str, Any]) -> None:
    """Each member's fraud transactions, using its own and its shared identifiers."""
    rng = plan.rng
    targets, boost = _targets(plan, style) if style != "spread" else (np.empty(0, dtype=np.int64), 0.25)
    spoof = rng.uniform(0.3, 0.7) if rng.random() < 0.15 else 0.0  # sends a default device id
    p_blank = rng.uniform(0.01, 0.12)  # some send no device fingerprint at all
    timed = rng.random() < 0.5
    venue = int(rng.choice(p.venues)) if rng.random() < 0.3 else -1  # a cafe the ring works from
    rows: list[dict[str, np.ndarray]] = []
    for i, (u, x) in enumerate(zip(users, ms)):
        n_links = sum(len(v) for v in x.links.values())
        k = int(max(counts[i], n_links, 2))
        t = np.sort(a[i] + rng.random(k) * (b[i] - a[i]))
        if timed or style == "spread":
            t = np.sort(diurnal(rng, t, np.full(k, p.tz[u]), np.full(k, a[i]), np.full(k, b[i])))
        own_c = rng.choice(x.cards, size=k) if x.cards else np.full(k, -1, dtype=np.int64)
        c, _ = _choose(rng, own_c, x.links["card"], 1.0 if not x.cards else p_link)
        d, d_link = _choose(rng, rng.choice(x.devices, size=k), x.links["device"], p_link)
        d = np.where(~d_link & (rng.random(k) < spoof), rng.choice(2, size=k, p=[.65, .35]), d)
        d = np.where(~d_link & (rng.random(k) < p_blank), -1, d)
        ip, ip_link = _choose(rng, ips.draw(i, k), x.links["ip"], p_link)
        if venue >= 0:
            ip = np.where(~ip_link & (rng.random(k) < 0.08), venue, ip)
        ip = np.where(~ip_link & (rng.random(k) < 0.02), -1, ip)
        if style == "spread":
            hv = rng.random(k) < 0.15
            merch = np.where(hv, rng.choice(plan.big_ticket, size=k, p=plan.big_ticket_p),
                             rng.choice(len(plan.mcat), size=k, p=plan.pop))
            amount = amounts(rng, plan.mcat[merch], boost=boost)
        else:
            merch, amount = cashout(plan, k, targets, boost)
        rows.append({"t": t, "u": np.full(k, u), "amount": amount, "card": c, "dev": d, "ip": ip, "merch": merch})
        info["cards"] += list(x.cards) + x.links["card"]
        info["devices"] += list(x.devices) + x.links["device"]
        info["ips"] += x.links["ip"]
    cols = {key: np.concatenate([r[key] for r in rows]) for key in rows[0]}
    if info["shape"] == "bipartite":  # each card's first use by the ring is a small test at an online shop
        online = np.flatnonzero(plan.mcat == ONLINE)
        shop = int(rng.choice(online)) if len(online) else int(plan.big_ticket[0])
        order = np.argsort(cols["t"], kind="stable")
        _, first = np.unique(cols["card"][order], return_index=True)
        test = order[first]
        cols["merch"][test] = shop
        cols["amount"][test] = np.round(rng.uniform(0.5, 5.0, len(test)), 2)
    plan.add(cols["t"], cols["u"], cols["amount"], int(p.home[users[0]]), cols["card"], cols["dev"], cols["ip"],
             cols["merch"], 1, case=case)


def _sleeper(plan: Plan, p: People, users: np.ndarray, counts: np.ndarray, case: int,
             info: dict[str, Any]) -> dict[str, Any]:
    """Weeks of ordinary life (through the population's generator), then one burst together."""
    rng, horizon, m = plan.rng, plan.horizon, len(users)
    lo, hi = (21.0, 56.0) if horizon >= 35 * DAY else (0.5 * horizon / DAY, 0.7 * horizon / DAY)
    t_b = rng.uniform(max(0.45 * horizon, lo * DAY + DAY), 0.95 * horizon)
    sleep_max = min(hi, t_b / DAY)
    together = rng.random() < 0.35
    if together:  # opened in one sitting
        join = t_b - rng.uniform(lo, sleep_max) * DAY + rng.random(m) * 2 * DAY
    else:
        join = t_b - rng.uniform(lo, sleep_max, m) * DAY
    join = np.clip(join, 0.0, t_b - lo * DAY)
    p.established[users] = False
    p.join[users], p.end[users] = join, t_b
    p.rate[users] = np.maximum(p.rate[users], rng.uniform(0.15, 0.35, m))
    p.count[users] = np.maximum(3, rng.poisson(p.rate[users] * (t_b - join) / DAY))  # after the first one
    info.update({"accounts": "sleeper", "burst_start": t_b, "joined_together": bool(together)})
    origin = _new_id(plan, "device") if rng.random() < 0.6 else -1
    shared_dev = _new_id(plan, "device") if rng.random() < 0.3 else -1
    shared_ip = -1
    if rng.random() < 0.4 or (origin < 0 and shared_dev < 0 and rng.random() < 0.9):
        shared_ip = _new_id(plan, "ip") if rng.random() < 0.6 else int(rng.choice(p.datacenter))
    if origin >= 0:  # every account was opened from one device: its first purchase shows it
        info["registration_device"] = origin
    m_ = rng.choice(len(plan.mcat), size=m, p=plan.pop)
    for i, u in enumerate(users):  # the first purchase, within an hour of opening the account
        d0 = origin if origin >= 0 else p.dev[u, 0]
        plan.add(np.array([join[i] + rng.uniform(60, 3600)]), u, amounts(rng, plan.mcat[m_[i:i + 1]]),
                 p.home[u], p.card[u, :1], np.array([d0]), p.home_ip[u:u + 1], m_[i:i + 1], 0, case=case)
    # The bust-out: mostly on the account's own card, device and usual IPs, so each account alone looks
    # like a customer on a spending day; the ring shows in the timing, the merchants and what is shared.
    width = rng.uniform(2, 48) * HOUR
    a = t_b + rng.random(m) * width * 0.5
    b = a + rng.uniform(0.2, 0.5, m) * width
    style = "cashout" if rng.random() < 0.6 else "ordinary"
    targets, _ = _targets(plan, style)
    boost = rng.uniform(0.3, 1.0)
    info["style"] = style
    for i, u in enumerate(users):
        k = int(counts[i])
        t = np.sort(a[i] + rng.random(k) * (b[i] - a[i]))
        own = [int(p.card[u, 0])] if rng.random() < 0.7 else []
        added = [_new_id(plan, "card")] if not own or rng.random() < 0.2 else []
        c = rng.choice(own + added, size=k)
        d = np.full(k, p.dev[u, 0])
        if shared_dev >= 0:
            d = np.where(rng.random(k) < 0.7, shared_dev, d)
            d[0] = shared_dev
        usual = p.mobile[u, 0] if p.mobile[u, 0] >= 0 else p.home_ip[u]
        ip = np.where(rng.random(k) < 0.6, p.home_ip[u], usual)
        if shared_ip >= 0:
            ip = np.where(rng.random(k) < 0.7, shared_ip, ip)
            ip[-1] = shared_ip
        merch, amount = cashout(plan, k, targets, boost)
        plan.add(t, u, amount, p.home[u], c, d, ip, merch, 1, case=case)
        info["cards"] += own + added
    info["devices"] = [x for x in (origin, shared_dev) if x >= 0]
    info["ips"] = [shared_ip] if shared_ip >= 0 else []
    info["t"] = float(a.min())
    return info


def plant_takeovers(plan: Plan, p: People, eligible: np.ndarray, budget: float, case0: int) -> np.ndarray:
    """Lone account takeovers among ``eligible`` users: a new device and IP, then a burst of cash-out or a
    few days of quieter spending on the victim's own cards. Returns the victims."""
    rng, horizon = plan.rng, plan.horizon
    n_v = min(len(eligible), max(1, int(round(budget / MEAN_TAKEOVER))))
    victims = rng.choice(eligible, size=n_v, replace=False)
    hv = np.flatnonzero(np.isin(plan.mcat, (ELEC, GIFT)))
    for j, v in enumerate(victims):
        quiet = rng.random() < 0.25
        kv = 3 + int(rng.poisson(3.5)) if quiet else 2 + int(rng.poisson(4.5))
        ta = rng.uniform(0.3, 0.95) * horizon
        span = rng.uniform(2, 7) * DAY if quiet else rng.uniform(0.5, 24) * HOUR
        tt = ta + np.sort(rng.random(kv)) * span
        r = rng.random()
        dev = _new_id(plan, "device") if r < 0.75 else int(rng.integers(0, 2)) if r < 0.85 else -1
        r = rng.random()
        vip = (int(rng.choice(p.datacenter)) if r < 0.4 else
               int(rng.choice(p.carrier, p=p.carrier_p)) if r < 0.7 else _new_id(plan, "ip"))
        vc = p.home[v] if rng.random() < 0.7 else rng.choice(np.flatnonzero(COUNTRY != COUNTRY[p.home[v]]))
        if quiet:
            merch = rng.choice(len(plan.mcat), size=kv, p=plan.pop)
            amount = amounts(rng, plan.mcat[merch], boost=0.4)
        else:
            targets = rng.choice(hv, size=min(3, len(hv)), replace=False, p=plan.pop[hv] / plan.pop[hv].sum())
            merch, amount = cashout(plan, kv, targets, boost=0.9)
        cv = p.card[v, ((rng.random(kv) < 0.4) & (p.card[v, 1] >= 0)).astype(np.int64)]
        plan.add(tt, v, amount, vc, cv, np.full(kv, dev), np.full(kv, vip), merch, 1, case=case0 + j)
    return victims
