"""How ring detection links users: which shared identifiers join them, and how linked users form clusters.

:func:`linking_edges` decides, per user-identifier pair, whether the identifier may join its users (hub
limits, homes' and crews' addresses, arrivals together, a card's holder) and whether the user's link to it is
more than incidental; :func:`coactivity_edges` adds the links only synchronised use reveals (meeting through
a shared address or hub at one merchant within the hour); :func:`components` turns the joining edges into
clusters (solid components, thin links that attach stragglers); :func:`split_lifetimes` cuts long-standing
customers (a stolen card's owner, a home whose address a crew used) off the clusters of short-lived accounts;
:func:`split_loose` splits large loose clusters into Louvain communities. :mod:`graphfraud.rings` reads the
store, calls these and describes the clusters. Every constant below is a product default, the same for every world
(docs/rings.md explains each).
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from .graph.policy import LinkPolicy

MAX_COMPONENT_USERS = 60  # components with more users are split into communities (rings reach 30 and drag in
# a few of the people whose cards they stole)
BURST_WINDOW_DAYS = 3.0
LOUVAIN_RESOLUTION = 1.0  # only loosely connected components are split, so the standard modularity
FULL_USES = 10  # in the community split, a card, email, phone or address two users share binds them by the fewer
# uses of the two, up to this many: a stolen card charged once binds its thief to its owner a tenth as much as a card
# a family uses every week
COACTIVITY_BUCKET_MS = 3_600_000  # same address or hub, same merchant, same hour
MIN_COACTIVITY = 2  # distinct (merchant, day) meetings before two users of a hub are linked
MIN_LINK_SHARE = 0.1  # a single use links a user only when it is at least this share of their activity
ARRIVAL_WINDOW_DAYS = 3.0  # an identifier whose users all first used it within this window was adopted together
MAX_MEETING_USERS = 12  # a merchant-day meeting with more users than this is a crowd, not a ring
BURST_HUB_FACTOR = 5  # identifiers adopted together still link up to this many times their hub limit
PLACE_TYPES = ("ip", "address")  # where people live: a home's network or postal address
FEW_IP_USERS = 6  # an address used by at most this many users at overlapping times is a home or a flat
IP_OVERLAP_DAYS = 7.0  # ... "overlapping": every user's use of it within this many days of the others'
HOLDER_LEAD_DAYS = 14.0  # a card or device used this long by one user before anyone else is that user's
ARRIVAL_P = 0.01  # significance of a burst of arrivals on one identifier (divided by its number of users)
LIFETIME_RATIO = 4.0  # a customer seen this many times longer than the accounts they share with ...
LIFETIME_GAP_DAYS = 30.0  # ... and this many days longer, is not joined to them (a victim, a bystander)
EPISODE_DAYS = 2.0  # a customer's use of an identifier within this many days, mid-life, is an episode (a takeover)
TOOK_UP_DAYS = 7.0  # ... unless they took it up with them, within this many days, and went quiet (a bust-out)
TAKER_HOLDERS = 3  # an account that took cards over from this many earlier holders is trying stolen cards
TAKEOVER_VISITS = 3  # this many customers' episodes on one identifier, weeks apart, are a crew's takeovers in turn
OWNER_USES = 3  # a card used this many times over LIFETIME_GAP_DAYS is its owner's, against a single charge by another
THIEF_CARDS = 3  # an account that used this many cards once each ...
THIEF_ONCE_SHARE = 0.9  # ... and this share of its cards or more, burns stolen cards
BRIEF_IP_DAYS = 30.0  # an address 3+ users (up to its hub limit) shared only this long is a crew's proxy
OPENED_SHARE = 0.5  # a hub on which at least this share of its users opened their account and did nothing else
COACTIVITY_WINDOW_DAYS = 3.0  # the meetings of two users through a shared hub must fall within one such window
DAY_MS = 86_400_000
PERSONAL_TYPES = ("card", "email", "phone", "bank_account", "account")
HELD_TYPES = (*PERSONAL_TYPES, "address")  # what a person holds: a crew that uses it once is not their ring
# the columns of every user-identifier edge (linking_edges, and the links made from transfers, bust-outs and a
# crew's merchant)
EDGE_COLUMNS = ["type", "entity_id", "user_id", "first_seen", "last_seen", "n", "ent", "n_users", "strong", "links",
                "arrived", "thin", "coactivity"]




def linking_edges(links: pd.DataFrame, policy: LinkPolicy, totals: pd.Series | None = None,
                   first_tx: pd.Series | None = None) -> pd.DataFrame:
    """Links of linking types with ``n_users`` per identifier and two flags per user-identifier pair.

    ``strong``: the link is not incidental: two or more uses, at least ``MIN_LINK_SHARE`` of the user's
    activity, the account's very first transaction (accounts *opened* from one device), or a payment
    credential or contact detail (a card, email, phone, bank account: one use of someone else's card is
    how a stolen card is tested). ``links``: the identifier may join its users.

    * Cards, devices, emails and phones join their users up to the type's hub limit.
    * A network address is weak evidence (NAT, proxies, cafes, offices and VPN exits are shared by
      strangers). It joins its users when it is a home's (at most ``FEW_IP_USERS`` users, all using it
      within ``IP_OVERLAP_DAYS`` of one another: a dynamic address that changed hands does not), a crew's
      proxy exit (three users or more, up to the hub limit, and nobody before or after ``BRIEF_IP_DAYS``:
      it joins the users who used it at the same time, :func:`_copresent`; thin where the data does not reach
      ``BRIEF_IP_DAYS`` beyond its use), or when they arrived on it together (below). A burst of arrivals on
      a home's address that someone had used ``HOLDER_LEAD_DAYS`` before is joined only with itself there (a
      crew passing through residential proxies).
    * **Arriving together.** On any identifier (an address, or a device or card above its hub limit, up to
      ``BURST_HUB_FACTOR`` times it), users whose *first* use falls in a window of ``ARRIVAL_WINDOW_DAYS``
      with far more arrivals than the identifier's own rate explains (Poisson upper tail below
      ``ARRIVAL_P / n_users``, three or more users) are joined with each other, not with the rest of its
      users: a device farm's 30 new accounts, or a ring's members starting on a proxy that VPN customers
      use all year; never a default device id that strangers adopt every day. Arrivals in the first
      window of the data are left out (those users were already there).
    * **Opened together.** On a device or card above its hub limit (up to ``BURST_HUB_FACTOR`` times it),
      when ``OPENED_SHARE`` of its users or more (three or more) made their account's first purchase there
      and nothing else, those accounts are joined with each other, however far apart they were opened: the
      accounts of a sleeper ring created on one device. Customers use a default device id or a shop's
      terminal again.

    Synchronised use of a busy address or hub is found separately by :func:`coactivity_edges`.
    """
    lk = links[links["type"].map(policy.links).astype(bool)] if len(links) else links
    lk = lk.reset_index(drop=True)
    tcode, tnames = pd.factorize(lk["type"])
    ecode, _ = pd.factorize(pd.MultiIndex.from_arrays([tcode, lk["entity_id"].to_numpy()])) if len(lk) else (
        np.zeros(0, np.int64), None)
    ent = np.asarray(ecode, dtype=np.int64)
    n_ent = int(ent.max()) + 1 if len(ent) else 0
    n_users = np.bincount(ent, minlength=n_ent)
    lim_t = np.array([policy.hub_limit(t) for t in tnames], dtype=np.int64)
    limits = lim_t[tcode] if len(tcode) else np.zeros(0, np.int64)
    n_of_edge = n_users[ent]
    first = _num(lk, "first_seen")
    last = _num(lk, "last_seen")
    is_ip = np.asarray(lk["type"].to_numpy() == "ip", dtype=bool)
    # a few users on one address at the same time: a home, a flat (an address that changed hands, as
    # dynamic residential IPs do, is used at different times and joins nobody)
    f_max = np.full(n_ent, -np.inf)
    l_min = np.full(n_ent, np.inf)
    known, k_last = ~np.isnan(first), ~np.isnan(last)
    np.maximum.at(f_max, ent[known], first[known])
    np.minimum.at(l_min, ent[k_last], last[k_last])
    with np.errstate(invalid="ignore"):
        overlap = ((f_max - l_min) <= IP_OVERLAP_DAYS * DAY_MS)[ent] if n_ent else np.zeros(0, bool)
    home = is_ip & overlap & (n_of_edge <= FEW_IP_USERS)
    # an address a group used for a few weeks and nobody before or after: a crew's proxy exit, not an
    # office or a cafe (those serve their regulars all year)
    f_min = np.full(n_ent, np.inf)
    l_max = np.full(n_ent, -np.inf)
    np.minimum.at(f_min, ent[known], first[known])
    np.maximum.at(l_max, ent[k_last], last[k_last])
    with np.errstate(invalid="ignore"):
        brief = ((l_max - f_min) <= BRIEF_IP_DAYS * DAY_MS)[ent] if n_ent else np.zeros(0, bool)
    brief &= is_ip & (n_of_edge >= 3) & (n_of_edge <= limits) & ~home
    direct = np.where(is_ip, home | brief, n_of_edge <= limits)
    # the holder of a card or device that others only began to use weeks later (a stolen card, a
    # second-hand phone, a parent's card) is evidence about those others, not one of them
    direct &= ~(_holders(ent, first, last) & (lk["type"].to_numpy() == "card"))
    group = _arrival_groups(ent, first, last, n_of_edge)
    # a burst of arrivals on a home's address that someone had used for weeks before: a crew passing through
    # a family's address (a residential proxy) is joined with itself there, not with the family
    in_group = group >= 0
    g_start = np.full(n_ent, np.inf)
    np.minimum.at(g_start, ent[in_group], first[in_group])
    settled = np.zeros(n_ent, dtype=bool)
    with np.errstate(invalid="ignore"):
        before = ~in_group & (first <= g_start[ent] - HOLDER_LEAD_DAYS * DAY_MS)
    settled[ent[before]] = True
    direct &= ~(home & in_group & settled[ent])
    arrived = in_group & (n_of_edge <= BURST_HUB_FACTOR * limits) & ~direct
    keep = (n_of_edge <= limits) | arrived
    # users who arrived together are joined by their own (identifier, arrival) node, and a crew's proxy joins
    # those who used it at the same time by theirs: a proxy exit two crews used weeks apart joins neither to
    # the other
    code = np.where(arrived, n_ent + group, ent)
    # (only where the data reaches BRIEF_IP_DAYS beyond its use, before or after: in a month of data every
    # carrier's address is "brief", and stays thin)
    with np.errstate(invalid="ignore"):
        seen = np.nanmax(np.r_[last, first, -np.inf]) - np.nanmin(np.r_[first, np.inf])
        proxy = brief & (seen - (l_max - f_min)[ent] >= BRIEF_IP_DAYS * DAY_MS) if n_ent else brief
    at_proxy = np.flatnonzero(proxy)
    code[at_proxy] = n_ent + (int(group.max()) + 1 if len(group) else 0) + _copresent(ent[at_proxy], first[at_proxy],
                                                                                          last[at_proxy])
    # thin evidence: addresses that strangers could share by chance (see components)
    thin = is_ip & (arrived | (brief & ~proxy))
    out = lk.assign(ent=code, n_users=n_of_edge, links=direct | arrived, arrived=arrived, thin=thin, coactivity=False,
                    opened_here=False)
    if "n" in links.columns and len(links):
        if totals is None:
            # a user's activity: the most transactions seen under any one type (every tx has a user, most
            # have a card or a merchant)
            per_type = links.groupby(["user_id", "type"], sort=False)["n"].sum()
            totals = per_type.groupby(level=0).max()
        n_tx = out["n"].to_numpy(dtype=float)
        # users with a single-use link are the only ones whose totals matter; others may be missing
        share = n_tx / out["user_id"].map(totals).to_numpy(dtype=float)
        opened = np.zeros(len(out), dtype=bool)
        if first_tx is not None and len(first_tx):
            with np.errstate(invalid="ignore"):
                opened = first == out["user_id"].map(first_tx).to_numpy(dtype=float)
        personal = out["type"].isin(PERSONAL_TYPES).to_numpy()
        # incidental contact (one use, a small part of the user's activity: a VPN exit once, a friend's
        # laptop once) does not make a link; it still counts in the cluster's description
        # an identifier only two accounts ever used is no public terminal: one use of it says they know
        # each other (or are one person)
        pair = out["n_users"].to_numpy() == 2
        # an account factory: a device (or card) above its hub limit on which most of its users made their
        # account's first purchase and nothing else; those accounts were opened there, whenever that was,
        # and are joined with each other (a default device id or a shop's terminal is used again)
        only = opened & (n_tx == 1) & ~is_ip & (n_of_edge > limits)
        k_only = np.bincount(ent[only], minlength=n_ent) if n_ent else np.zeros(0, np.int64)
        factory = only & (k_only[ent] >= 3) & (k_only[ent] >= OPENED_SHARE * n_of_edge)
        factory &= n_of_edge <= BURST_HUB_FACTOR * limits
        if factory.any():
            code = np.where(factory, n_ent + (int(group.max()) + 1 if len(group) else 0) + ent, code)
            out = out.assign(ent=code, links=out["links"].to_numpy(dtype=bool) | factory, opened_here=factory)
            keep = keep | factory
        out = out.assign(strong=(n_tx >= 2) | (share >= MIN_LINK_SHARE) | personal | opened | arrived | pair)
    else:
        out = out.assign(strong=True)
    return out[keep].reset_index(drop=True)


def _copresent(ent: np.ndarray, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Per link, a number shared by the links of one identifier whose spans of use (``first`` to ``last``)
    overlap, directly or through others, with ``ARRIVAL_WINDOW_DAYS`` of slack: the times it was in use.

    >>> d = DAY_MS
    >>> _copresent(np.array([0, 0, 0, 1]), np.array([0, 2 * d, 20 * d, 0]), np.array([d, 3 * d, 21 * d, d])).tolist()
    [0, 0, 1, 2]
    """
    out = np.zeros(len(ent), dtype=np.int64)
    if not len(ent):
        return out
    end = np.where(np.isnan(last), first, last)
    order = np.lexsort((first, ent))
    e, f = ent[order], first[order]
    reach = pd.Series(end[order]).groupby(e).cummax().to_numpy()
    new = np.r_[True, (e[1:] != e[:-1]) | (f[1:] > reach[:-1] + ARRIVAL_WINDOW_DAYS * DAY_MS)]
    out[order] = np.cumsum(new) - 1
    return out


def poisson_sf(k: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """``P(X > k)`` for ``X ~ Poisson(mu)``, element-wise; 1 where ``k < 0``.

    The same numbers as ``scipy.stats.poisson.sf(k, mu)`` for ``mu >= 0`` (both are ``scipy.special.pdtrc``)
    without importing ``scipy.stats``: the import alone costs half a second of CPU in every process that
    detects rings.

    >>> poisson_sf(np.array([-1, 0, 2]), np.array([1.0, 1.0, 1.0])).round(4).tolist()
    [1.0, 0.6321, 0.0803]
    """
    from scipy.special import pdtrc

    k, mu = np.broadcast_arrays(np.asarray(k), np.asarray(mu, dtype=float))
    out = np.ones(k.shape)
    ok = k >= 0
    out[ok] = np.clip(pdtrc(np.floor(k[ok]), mu[ok]), 0.0, 1.0)
    return out


def _num(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    return np.asarray(pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float))


def _holders(ent: np.ndarray, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Per edge: whether its user is the identifier's holder: the one who used it ``HOLDER_LEAD_DAYS`` or
    more before any other user did, and still uses it after they started (a victim's own card; not a
    member of a ring who passed a card on)."""
    out = np.zeros(len(ent), dtype=bool)
    ok = np.flatnonzero(~np.isnan(first))
    if not len(ok):
        return out
    o = ok[np.lexsort((first[ok], ent[ok]))]
    e, f, l_ = ent[o], first[o], last[o]
    head = np.r_[True, e[1:] != e[:-1]]
    nxt_same = np.r_[e[1:] == e[:-1], False]
    nxt_first = np.r_[f[1:], np.inf]
    gap = nxt_first - f
    with np.errstate(invalid="ignore"):
        holder = head & nxt_same & (gap >= HOLDER_LEAD_DAYS * DAY_MS) & (l_ >= nxt_first)
    out[o[holder]] = True
    return out


def _arrival_groups(ent: np.ndarray, first: np.ndarray, last: np.ndarray, n_users: np.ndarray) -> np.ndarray:
    """Per edge, the id of the burst of arrivals it belongs to on its identifier, or -1.

    A window ``[f, f + ARRIVAL_WINDOW_DAYS)`` opened by one user's first use holds ``c`` first uses; the
    identifier's other users would put ``(n - 1) * window / span`` there by chance (``span``: the data's
    length). The window is a burst when ``c >= 3`` and ``P(Poisson >= c - 1)`` is below ``ARRIVAL_P / n``
    (one test per user of the identifier). Overlapping burst windows of one identifier are one group.
    Vectorised: one sort, one ``searchsorted``.
    """
    out = np.full(len(ent), -1, dtype=np.int64)
    ok = ~np.isnan(first) & (n_users >= 3)
    if not ok.any():
        return out
    start = np.nanmin(first)
    end = max(float(np.nanmax(last)) if (~np.isnan(last)).any() else float(np.nanmax(first)), float(np.nanmax(first)))
    win = ARRIVAL_WINDOW_DAYS * DAY_MS
    span = max(end - start, win)
    idx = np.flatnonzero(ok)
    e, f = ent[idx], first[idx]
    order = np.lexsort((f, e))
    idx, e, f = idx[order], e[order], f[order]
    # a composite key keeps each identifier's first uses apart from the next identifier's
    key = e.astype(float) * (4 * span + 4 * win) + (f - start)
    count = np.searchsorted(key, key + win, side="left") - np.arange(len(key))
    lam = (n_users[idx] - 1) * win / span
    p = poisson_sf(count - 2, lam)  # P(X >= count - 1): the others in the window, beyond the one opening it
    burst = (count >= 3) & (p < ARRIVAL_P / n_users[idx]) & (f >= start + win)
    if not burst.any():
        return out
    # cover each burst window's edges; runs of covered edges (within one identifier) are groups
    cover = np.zeros(len(key) + 1, dtype=np.int64)
    b = np.flatnonzero(burst)
    np.add.at(cover, b, 1)
    np.add.at(cover, b + count[b], -1)
    covered = np.cumsum(cover[:-1]) > 0
    # (bursts of one identifier with no other arrival between them are one group)
    new_run = covered & ~np.r_[False, covered[:-1] & (e[1:] == e[:-1])]
    gid = np.cumsum(new_run) - 1
    out[idx[covered]] = gid[covered]
    return out


def pairs_within_runs(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every pair ``(i, j)``, ``i < j``, of positions in the same run of equal values of ``g`` (sorted by
    group), as two index arrays; runs are expected small (each of size k gives k(k-1)/2 pairs).

    >>> [a.tolist() for a in pairs_within_runs(np.array([5, 5, 5, 7, 9, 9]))]
    [[4, 0, 0, 1], [5, 1, 2, 2]]
    """
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]]) if len(g) else np.zeros(0, np.int64)
    size = np.diff(np.r_[starts, len(g)])
    pa, pb = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for sz in np.unique(size[size >= 2]):
        st = starts[size == sz]
        for i in range(sz):
            for j in range(i + 1, sz):
                pa.append(st + i)
                pb.append(st + j)
    return np.concatenate(pa), np.concatenate(pb)


def coactivity_edges(meet: pd.DataFrame, first_code: int) -> pd.DataFrame:
    """Links that only synchronised use reveals: through any shared network address, and through hubs.

    Sharing an address says little (NAT, proxies, offices), and a hub (a carrier NAT, a default device
    id) links nobody by itself. But two accounts that pass through the same address or hub *at the same
    merchant on the same day*, on ``MIN_COACTIVITY`` or more different occasions (counted over all the
    addresses they share: a ring rotates over a few proxies), act together; strangers almost never do.
    Crowds of more than ``MAX_MEETING_USERS`` at one merchant-day are left out by the reader. Each such
    pair becomes a two-user link named after the identifier where they met most.

    ``meet`` has one row per (identifier, merchant, day, user): columns ``type, entity_id, merchant_id,
    bucket, user_id, first_ts``. Vectorised: integer codes, one sort, pairs generated per group size.
    """
    empty = pd.DataFrame(columns=["type", "entity_id", "user_id", "first_seen", "last_seen", "n", "ent",
                                  "n_users", "strong", "links", "coactivity"])
    if not len(meet):
        return empty
    hcode, hub_keys = pd.factorize(pd.MultiIndex.from_arrays([meet["type"].to_numpy(),
                                                              meet["entity_id"].to_numpy()]))
    ucode, user_keys = pd.factorize(meet["user_id"])
    gcode, _ = pd.factorize(pd.MultiIndex.from_arrays([hcode, meet["merchant_id"].to_numpy(),
                                                       meet["bucket"].to_numpy()]))
    order = np.lexsort((ucode, gcode))
    g, u, hg = gcode[order], ucode[order], hcode[order]
    # pairs within each meeting (groups are small: at most MAX_MEETING_USERS users)
    ia, ib = pairs_within_runs(g)
    if not len(ia):
        return empty
    a_, b_ = np.minimum(u[ia], u[ib]), np.maximum(u[ia], u[ib])
    # a meeting's time is its first transaction (whether a store reports it per user or per meeting)
    m_ts = pd.Series(meet["first_ts"].to_numpy(np.int64)).groupby(gcode).transform("min").to_numpy()
    t_ = m_ts[order][ia].astype(float)
    # meetings of one pair add up across addresses (a ring rotates over a few proxies), but only those in
    # one burst window count, and they must be most of the pair's meetings: colleagues who lunch at the
    # same place through the office address all year meet by habit; a ring meets when it strikes
    pk, _ = pd.factorize(pd.MultiIndex.from_arrays([a_, b_]))
    # one occasion (merchant, time bucket) met through two identifiers (an address and a default device
    # id) is one meeting
    mb = pd.factorize(pd.MultiIndex.from_arrays([meet["merchant_id"].to_numpy(), meet["bucket"].to_numpy()]))[0]
    first_of = ~pd.DataFrame({"p": pk, "m": mb[order][ia]}).duplicated().to_numpy()
    o = np.lexsort((t_, pk))
    o = o[first_of[o]]
    pk_s, t_s = pk[o], t_[o]
    span = float(t_s.max() - t_s.min()) + 1.0
    win = COACTIVITY_WINDOW_DAYS * DAY_MS
    key = pk_s * (span + 2 * win) + (t_s - t_s.min())
    in_win = np.searchsorted(key, key + win, side="left") - np.arange(len(key))
    best = np.zeros(int(pk.max()) + 1, dtype=np.int64)
    np.maximum.at(best, pk_s, in_win)
    total = np.bincount(pk[first_of], minlength=len(best))
    ok = (best >= MIN_COACTIVITY) & (2 * best >= total)
    pair = pd.DataFrame({"a": a_, "b": b_, "h": hg[ia]})[ok[pk]]
    # the link is named after the identifier where they met most
    per = pair.groupby(["a", "b", "h"], sort=False).size().rename("k").reset_index()
    per = per.sort_values(["a", "b", "k", "h"], ascending=[True, True, False, True])
    cnt = per.drop_duplicates(["a", "b"])
    if not len(cnt):
        return empty
    h, a, b = cnt["h"].to_numpy(), cnt["a"].to_numpy(), cnt["b"].to_numpy()
    code = np.arange(first_code, first_code + len(cnt))
    hh, uu = np.concatenate([h, h]), np.concatenate([a, b])
    # each user's synchronised use of that identifier: first, last, number of meetings
    fu = pd.DataFrame({"h": hcode, "u": ucode, "ts": m_ts}).groupby(["h", "u"])["ts"].agg(["min", "max", "size"])
    f = fu.reindex(pd.MultiIndex.from_arrays([hh, uu]))
    types = hub_keys.get_level_values(0).to_numpy()[hh]
    eids = hub_keys.get_level_values(1).to_numpy()[hh]
    return pd.DataFrame({"type": types, "entity_id": eids, "user_id": user_keys.to_numpy()[uu],
                         "first_seen": f["min"].to_numpy(), "last_seen": f["max"].to_numpy(),
                         "n": f["size"].to_numpy(), "ent": np.concatenate([code, code]), "n_users": 0,
                         "strong": True, "links": True, "arrived": False, "thin": True,
                         "coactivity": True})


def joining(edges: pd.DataFrame) -> pd.DataFrame:
    """The edges that join users: strong links to joining identifiers that two or more users linked to strongly."""
    e = edges[edges["strong"].to_numpy(dtype=bool) & edges["links"].to_numpy(dtype=bool)]
    k = e.groupby("ent")["user_id"].transform("size")
    return e[k.to_numpy() >= 2]


def cluster_codes(edges: pd.DataFrame, max_component: int, seed: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """(user id array, list of arrays of user codes per cluster) over linking edges (n_users >= 2):
    :func:`components`, then :func:`split_loose` of those above ``max_component`` users."""
    uids, groups = components(edges)
    return uids, split_loose(groups, uids, edges, max_component, seed)


def components(edges: pd.DataFrame) -> tuple[np.ndarray, list[np.ndarray]]:
    """(user id array, list of arrays of user codes per component) over linking edges (n_users >= 2).

    Components of the user-identifier graph, in two steps. *Solid* links (cards, devices, homes' and crews'
    addresses, accounts opened on one device, arrival bursts on a card or device) make components. *Thin* links
    (arriving together on a busy address, meeting through a shared address or hub) then join them, smaller
    first, but never two that stand as rings on their own (three users or more): they attach stragglers to
    a ring, or make a new one, and two crews that arrived on one busy proxy the same week stay two rings.
    """
    ucode, uniq_users = pd.factorize(edges["user_id"])
    ecode, _ = pd.factorize(edges["ent"])
    n_u, n_e = len(uniq_users), int(ecode.max()) + 1 if len(ecode) else 0
    if n_u == 0:
        return np.asarray(uniq_users, dtype=object), []
    thin, _ = _thin_and_weak(edges)
    solid = ~thin
    g0 = sparse.coo_matrix((np.ones(int(solid.sum()), np.int8), (ucode[solid], n_u + ecode[solid])),
                           shape=(n_u + n_e, n_u + n_e))
    _, lab0 = connected_components(g0, directed=False)
    # bust-outs (graphfraud.ringburst) and a crew's merchant (graphfraud.ringmerchants) share no identifier at
    # all: the weakest thin links, used last
    last = np.isin(edges["type"].to_numpy(), ["bustout", "crew_merchant"])
    ulab = _join_thin(lab0[:n_u], ucode[thin], ecode[thin], last[thin])
    order = np.argsort(ulab, kind="stable")
    groups = np.split(order, np.flatnonzero(np.diff(ulab[order])) + 1)
    return np.asarray(uniq_users, dtype=object), [g for g in groups if len(g) >= 2]


def _thin_and_weak(edges: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per linking edge: ``thin`` (it may attach stragglers, never join two rings: flagged so, or a meeting)
    and ``weak`` (strangers share it: an address or a meeting; it neither holds a group together nor binds
    a pair fully in the community split)."""
    n = len(edges)
    co = edges["coactivity"].to_numpy(dtype=bool) if "coactivity" in edges.columns else np.zeros(n, bool)
    thin = (edges["thin"].fillna(False).to_numpy(dtype=bool) if "thin" in edges.columns else np.zeros(n, bool)) | co
    return thin, (edges["type"].to_numpy() == "ip") | co


def split_loose(groups: list[np.ndarray], uids: np.ndarray, edges: pd.DataFrame, max_component: int,
                seed: int) -> list[np.ndarray]:
    """``groups`` (arrays of codes into ``uids``) with each one above ``max_component`` users that is loosely
    connected split into Louvain communities (:func:`_split_communities`) over the linking ``edges``.

    A component held together by one identifier (a device farm, a card pool) is one ring however big: only
    loosely connected large groups, where no card or device reaches half the users, are split (an address,
    or two crews arriving on one proxy the same week, does not hold a group together). :mod:`graphfraud.rings`
    splits after :func:`split_lifetimes`, so the families whose homes' addresses a crew passed through (and
    whose links tie them to one member each, more tightly than the crew's shared devices tie its members) have
    left the group before its communities are drawn.
    """
    sizes = np.array([len(g) for g in groups], dtype=np.int64)
    if not (sizes > max_component).any():
        return list(groups)
    n_u = len(uids)
    lab = np.full(n_u, -1, dtype=np.int64)
    for i, grp in enumerate(groups):
        lab[grp] = i
    ucode = pd.Index(uids).get_indexer(edges["user_id"])
    member = ucode >= 0
    member[member] = lab[ucode[member]] >= 0
    e = edges[member]
    ucode = ucode[member]
    ecode, _ = pd.factorize(e["ent"])
    n_e = int(ecode.max()) + 1 if len(ecode) else 0
    thin, weak = _thin_and_weak(e)
    strong_e = ~weak
    per = pd.DataFrame({"g": lab[ucode[strong_e]], "e": ecode[strong_e]}).groupby(["g", "e"]).size()
    top = per.groupby(level=0).max() if len(per) else pd.Series(dtype=float)
    top_n = top.reindex(np.arange(len(groups))).fillna(0).to_numpy()
    split = (sizes > max_component) & (top_n < 0.5 * sizes)
    out = [grp for grp, sp in zip(groups, split) if not sp]
    if split.any():
        # edges inside each group only (a thin link refused between two rings stays out)
        inside = (lab[ucode] == _entity_group(lab, ucode, ecode, n_e)[ecode]) | ~thin
        etype_w = np.where(weak, 0.5, 1.0)  # addresses are shared by strangers more than cards or devices
        uses = (pd.to_numeric(e["n"], errors="coerce").fillna(1).to_numpy(dtype=float) if "n" in e.columns
                else np.full(len(e), float(FULL_USES)))
        # what a person holds is weighed by its uses; a crew's devices and networks are used by each member a
        # few times, and bind it whatever their number
        uses = np.where(np.isin(e["type"].to_numpy(), HELD_TYPES), np.minimum(uses, FULL_USES), FULL_USES)
        big = [grp for grp, sp in zip(groups, split) if sp]
        out.extend(_split_communities(big, ucode[inside], ecode[inside], etype_w[inside], uses[inside], n_u, seed))
    return out


def _entity_group(ulab: np.ndarray, ucode: np.ndarray, ecode: np.ndarray, n_e: int) -> np.ndarray:
    """Per identifier: the group most of its users ended in (ties: the lowest group id)."""
    d = pd.DataFrame({"e": ecode, "g": ulab[ucode]}).value_counts().reset_index(name="k")
    d = d.sort_values(["e", "k", "g"], ascending=[True, False, True]).drop_duplicates("e")
    out = np.full(n_e, -1, dtype=np.int64)
    out[d["e"].to_numpy()] = d["g"].to_numpy()
    return out


def _join_thin(lab: np.ndarray, u: np.ndarray, e: np.ndarray, last: np.ndarray | None = None) -> np.ndarray:
    """Group labels per user after joining solid components ``lab`` through thin links ``(u, e)``.

    Identifiers with fewer users first (the most specific evidence). On one identifier, the groups that hold
    a solid component of three users or more ("rings") are never joined to each other; the users it links
    who belong to no such group ("stragglers") join the ring with most users on it, unless they are three or more and at least as many
    as that ring has there: then they are a group of their own (a second crew on the same proxy).
    A union-find over the components the thin links touch (a few thousand at most).

    Links flagged ``last`` (accounts that only struck together, or are regulars of one crew's merchant) come
    after all the others, and for them every group of three users or more counts as a ring, however it was
    formed: a ring found through a shared proxy is not absorbed by another ring that struck the same evening.
    """
    if not len(u):
        return lab
    size = np.bincount(lab)
    parent = np.arange(len(size))
    anchored = size >= 3  # holds a solid component of three users or more

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: int, b: int) -> int:
        a, b = find(a), find(b)
        if a == b:
            return a
        if (size[b], -b) > (size[a], -a):
            a, b = b, a
        parent[b] = a
        size[a] += size[b]
        anchored[a] |= anchored[b]
        return a

    flag = np.zeros(len(e), dtype=bool) if last is None else np.asarray(last, dtype=bool)
    d = pd.DataFrame({"e": e, "c": lab[u], "last": flag}).value_counts(sort=False).rename("k").reset_index()
    d["n"] = d.groupby("e")["k"].transform("sum")
    d = d.sort_values(["last", "n", "e", "c"], kind="stable")
    ents, comps, ks, lasts = d["e"].to_numpy(), d["c"].to_numpy(), d["k"].to_numpy(), d["last"].to_numpy()
    bounds = np.flatnonzero(np.r_[True, ents[1:] != ents[:-1], True])
    for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        on: dict[int, int] = {}
        for c, k in zip(comps[a:b].tolist(), ks[a:b].tolist()):
            r = find(c)
            on[r] = on.get(r, 0) + k
        held = (lambda r: size[r] >= 3) if lasts[a] else (lambda r: bool(anchored[r]))
        rings = sorted((r for r in on if held(r)), key=lambda r: (-on[r], r))
        loose = sorted(r for r in on if not held(r))
        n_loose = sum(on[r] for r in loose)
        if not loose:
            continue
        if rings and not (n_loose >= 3 and n_loose >= on[rings[0]]):
            target = rings[0]
        else:
            target = loose[0]
        for r in loose:
            target = union(target, r)
    roots = np.array([find(x) for x in range(len(parent))])
    return np.asarray(roots[lab])


def _split_communities(big: list[np.ndarray], ucode: np.ndarray, ecode: np.ndarray, etype_w: np.ndarray,
                       uses: np.ndarray, n_u: int, seed: int) -> list[np.ndarray]:
    """Louvain communities of each large component, on the user graph projected from the identifiers.

    Two users sharing an identifier used by k users get ``w / (k - 1)`` (``w`` by type: 0.5 for addresses
    and co-activity, 1 otherwise), summed over the identifiers they share: a device two people share binds
    them far more than an address twelve people passed through. Projecting (rather than running on the
    bipartite graph) keeps a busy identifier from pulling all its users into its own community.

    ``uses`` (per link: ``FULL_USES`` for devices and networks, the user's uses, at most ``FULL_USES``, for
    cards, emails, phones and addresses) scales a pair by the fewer of its two users' uses over ``FULL_USES``:
    a shop charging a stolen card once, shipping once to a buyer's home, is no tie to its owner, where the
    shop's members all work from its devices.
    """
    import networkx as nx

    comp = np.full(n_u, -1, dtype=np.int64)
    for i, grp in enumerate(big):
        comp[grp] = i
    sel = comp[ucode] >= 0
    e = pd.DataFrame({"u": ucode[sel], "e": ecode[sel], "w": etype_w[sel], "n": uses[sel]})
    k = e.groupby("e")["u"].transform("size").to_numpy()
    e["w"] = e["w"].to_numpy() / np.maximum(1, k - 1)
    pairs = e.merge(e[["u", "e", "n"]], on="e", suffixes=("", "2"))
    pairs = pairs[(pairs["u"] < pairs["u2"]) & (comp[pairs["u"].to_numpy()] == comp[pairs["u2"].to_numpy()])]
    pairs["w"] = pairs["w"].to_numpy() * np.minimum(pairs["n"].to_numpy(), pairs["n2"].to_numpy()) / FULL_USES
    pw = pairs.groupby(["u", "u2"], sort=True)["w"].sum().reset_index()
    pw["c"] = comp[pw["u"].to_numpy()]
    out: list[np.ndarray] = []
    for _, part in pw.groupby("c", sort=True):
        g = nx.Graph()
        g.add_weighted_edges_from(zip(part["u"].tolist(), part["u2"].tolist(), part["w"].tolist()))
        for community in nx.community.louvain_communities(g, weight="weight", resolution=LOUVAIN_RESOLUTION, seed=seed):
            if len(community) >= 2:
                out.append(np.sort(np.fromiter(community, dtype=np.int64)))
    return out


def _taken_cards(key: np.ndarray, rk: np.ndarray, users: np.ndarray, pair_card: np.ndarray, first: np.ndarray,
                 last: np.ndarray, nxt: np.ndarray, life: np.ndarray) -> np.ndarray:
    """Per (user, cluster, identifier) row: the card's former holder, whose card a taker took over.

    ``key`` numbers a cluster's identifier, ``rk`` ranks its users by first use (1: the first), ``pair_card``:
    a card two users of the cluster share; ``first``/``last``: the row's first and last use, ``nxt``: the
    second user's first use, ``life``: the row's user's days from first to last transaction. The first user is a
    former holder when they were seen ``HOLDER_LEAD_DAYS`` or more, and the second began that long or more after
    the first's first use and after their last, and the second (the taker) took cards over that way from
    ``TAKER_HOLDERS`` former holders or more. A missing time decides nothing (no card is taken).

    ``t`` took the cards of ``v0``-``v2``; ``v3`` still used hers after ``t`` began; ``s`` took one card; ``u``
    took three cards of one holder, ``w``; ``x`` took the cards of three accounts seen five days each:

    >>> d = DAY_MS
    >>> users = np.array("v0 t v1 t v2 t v3 t v4 s w u w u w u y0 x y1 x y2 x".split())
    >>> key, rk = np.repeat(np.arange(len(users) // 2), 2), np.tile([1, 2], len(users) // 2)
    >>> first = np.array([0, 30, 0, 31, 0, 32, 0, 33, 0, 20, 0, 30, 1, 30, 2, 30, 0, 30, 0, 30, 0, 30]) * d
    >>> last = first + np.where(users == "v3", 40, 1) * d
    >>> nxt, life = np.repeat(first[1::2], 2), np.where(np.char.startswith(users, "y"), 5.0, 20.0)
    >>> users[_taken_cards(key, rk, users, np.ones(len(users), bool), first, last, nxt, life)].tolist()
    ['v0', 'v1', 'v2']
    """
    with np.errstate(invalid="ignore"):
        handed = (pair_card & (rk == 1) & (life >= HOLDER_LEAD_DAYS) & (nxt - first >= HOLDER_LEAD_DAYS * DAY_MS)
                  & (last < nxt))
    second = rk == 2
    taker = pd.Series(users[second], index=key[second])
    taker = taker[~taker.index.duplicated()].reindex(key).to_numpy()
    # former holders per taker, each counted once
    taken = pd.DataFrame({"t": taker[handed], "h": users[handed]}).drop_duplicates().groupby("t").size()
    return np.asarray(handed & (pd.Series(taker).map(taken).fillna(0).to_numpy() >= TAKER_HOLDERS), dtype=bool)


def _thieves(tx: pd.DataFrame) -> pd.Index:
    """The accounts of ``tx`` (``user_id, card_id``) that burn stolen cards: ``THIEF_CARDS`` cards or more each used
    once, and ``THIEF_ONCE_SHARE`` of their cards or more (a customer's own card, used again and again, and a crew's
    pool of cards, shared and reused, are not burnt). Where every payment has a card id of its own (a token), every
    active account is one, but no token is anyone else's card: :func:`_stolen` cuts nothing there.

    >>> tx = pd.DataFrame({"user_id": list("tttccccccoo"), "card_id": list("abcaddd" "efgh")})
    >>> _thieves(tx).tolist()  # c charged a, e and f once, but d is its own; o used two cards only
    ['t']
    """
    uses = tx.loc[pd.notna(tx["card_id"]).to_numpy(), ["user_id", "card_id"]].value_counts()
    n = uses.to_numpy()
    per = pd.DataFrame({"once": n == 1, "cards": 1}, index=uses.index.get_level_values(0)).groupby(level=0).sum()
    once = per["once"].to_numpy()
    return per.index[(once >= THIEF_CARDS) & (once >= THIEF_ONCE_SHARE * per["cards"].to_numpy())]


def _stolen(key: np.ndarray, users: np.ndarray, first: np.ndarray, last: np.ndarray, uses: np.ndarray,
            once: np.ndarray, thief: np.ndarray) -> np.ndarray:
    """Rows of ``once`` (a thief's one use of a card, ``key``: -1 on rows of no card, at ``first``) whose card other
    users hold, none of
    them the thief's crew: another thief (``thief``), an accomplice who shares two cards or more with this thief (a
    crew's pool of cards) rather than one (the card it charged, the owner's), or a spender who took the card up after
    the thief's use, used it more than once, and was done with it within ``HOLDER_LEAD_DAYS`` of it (a tester hands
    a card it tried on; an owner had it before, or goes on with it for weeks). A missing time decides nothing (no
    cut).

    ``t`` charged ``a``'s card once, and two cards ``b`` used too (an accomplice's), one of them also ``c``'s;
    ``s`` spent for three days the card ``t`` tried; ``t`` and ``x`` (a thief) charged one card; ``m``'s time
    is missing:

    >>> key, users = np.array([0, 0, 1, 1, 2, 2, 2, 3, 3, 4, 4, 5, 5]), np.array(list("tatbtbc" "ts" "tx" "tm"))
    >>> first = np.array([9, 0, 9, 0, 9, 0, 0, 9, 10, 9, 0, 9, np.nan]) * DAY_MS
    >>> last, uses, once = first + 3 * DAY_MS, np.where(users == "t", 1, 3), users == "t"
    >>> _stolen(key, users, first, last, uses, once, once | (users == "x")).tolist()
    [True, False, False, False, False, False, False, False, False, False, False, False, False]
    """
    out = np.zeros(len(key), dtype=bool)
    if not once.any():
        return out
    rows = pd.DataFrame({"k": key, "u": users, "f": first, "l": last, "n": uses, "th": thief})
    th = rows[once].reset_index().rename(columns={"u": "t", "f": "tf"})[["index", "k", "t", "tf"]]
    on = th.merge(rows, on="k")
    on = on[on["u"].to_numpy() != on["t"].to_numpy()]
    card = key >= 0
    tc = rows.loc[card & np.isin(users, th["t"].unique()), ["k", "u"]].rename(columns={"u": "t"})
    n = tc.merge(rows.loc[card, ["k", "u"]], on="k").drop_duplicates(["k", "t", "u"]).groupby(["t", "u"]).size()
    shared = n.reindex(pd.MultiIndex.from_arrays([on["t"], on["u"]])).fillna(0).to_numpy()
    lead = HOLDER_LEAD_DAYS * DAY_MS
    after = on["f"].to_numpy(float) - on["tf"].to_numpy(float)
    with np.errstate(invalid="ignore"):
        spender = (((after >= 0) & (on["n"].to_numpy(float) >= 2)
                    & (on["l"].to_numpy(float) - on["tf"].to_numpy(float) <= lead)) | np.isnan(after))
    crew = pd.Series(on["th"].to_numpy(dtype=bool) | (shared >= 2) | spender).groupby(on["index"].to_numpy()).max()
    out[crew.index[~crew.to_numpy()]] = True
    return out


def split_lifetimes(groups: list[np.ndarray], uids: np.ndarray, linking: pd.DataFrame,
                     tx: pd.DataFrame, known: Iterable[str] = (), victims: pd.DataFrame | None = None
                     ) -> list[np.ndarray]:
    """Clusters without the links of long-standing customers to short-lived accounts.

    A customer seen ``LIFETIME_RATIO`` times longer (and ``LIFETIME_GAP_DAYS`` more) than the one other user
    of a card, device or address they share in the cluster (or than its shortest-lived user, on an address at
    most ``FEW_IP_USERS`` users of the cluster share), or seen ``LIFETIME_GAP_DAYS`` or more and using it that long before anyone else in the cluster
    (an aged account bought with its history uses a stolen card), is more likely those accounts' victim (a
    stolen card, a compromised device) or a bystander (a cafe's regular arriving the same week) than their
    accomplice, and that link would drag the customer's family into the ring. Such links are dropped and the
    cluster split into what stays connected, unless the customer took the identifier up late in their history,
    within ``TOOK_UP_DAYS`` of the other account, and went quiet within as many days of taking it up or of the
    other account's last transaction (of several others, the last one's): an aged account's bust-out, which
    stops with its crew, not a victim (whose card was theirs before, and who goes on after). Lifetimes: each
    user's first to last transaction.

    The episode rule: a customer who used the identifier within ``EPISODE_DAYS`` only, ``HOLDER_LEAD_DAYS`` or
    more into a life that went on ``HOLDER_LEAD_DAYS`` or more after it (``LIFETIME_GAP_DAYS`` when the account
    is younger than that), while the cluster used it over ``HOLDER_LEAD_DAYS`` or more, is a visitor of its
    other users: an account taken over by a crew (whose devices, phones and drop addresses are on it for a
    day), not a member of it. The account's opening purchase alone is no episode (a sleeper ring's accounts
    opened on one device weeks apart), nor is a card's use (a crew passes a stolen card around). Nor need the
    customer go on for weeks after it when ``TAKEOVER_VISITS`` customers or more, not known as fraud and seen after
    it (or within ``HOLDER_LEAD_DAYS`` of the data's end), each had such an episode on an identifier someone else in
    the cluster used too, the first ``HOLDER_LEAD_DAYS`` or more before the last (a crew's device that took
    customers over in turn, up to the data's last days). A customer so taken over loses every link of the episode
    (the crew's card, its proxy's address), but not money, meetings or striking together.

    The holder rule: the users of a card, email, phone or postal address (``HELD_TYPES``) who had it before
    everyone else in the cluster used it in one episode each are its owners, and the others' victims, when one of
    them, seen ``LIFETIME_GAP_DAYS`` or more, went on after the last of those uses (a crew testing or spending
    stolen cards, a shop shipping to its buyers' homes; a family's card charged once).

    The taker rule: the first user of a card, seen ``HOLDER_LEAD_DAYS`` or more, that one other account began to
    use that long or more after them, once they had stopped using it, is that card's former holder, and that
    account's victim, when the account took cards over that way from ``TAKER_HOLDERS`` former holders or more (a
    card tester goes through many people's card numbers; a crew member handing cards on to the next, as in a
    chain, is one holder, and a crew's accounts burned in a week are no holders).

    The owner rule: of a card two users of the cluster share, the one who used it ``OWNER_USES`` times or more over
    ``LIFETIME_GAP_DAYS`` or more is its owner, and the other's victim, when the other charged it once, whenever
    that was (a triangulation crew buying with a stolen card, whose owner the data saw only after, or before),
    unless they charged such a card of another member's once themselves.

    The thief rule: an account that burns stolen cards (``THIEF_CARDS`` or more used once each, nine in ten of its
    cards: :func:`_thieves`) loses its link to each card it used once that others of the
    cluster used too, none of them its crew (:func:`_stolen`: another thief, an accomplice sharing two cards with it,
    a spender it handed a tried card to): the card's owner and the owner's family (a triangulation crew buying with a
    stolen card a purchase, whose owners the data saw use them once or twice, when no rule of holders applies). Not a
    device or an address it used once: a crew's laptop or proxy looks no different there from a victim's home.

    The leaf rule: a user tied to the cluster by one identifier alone, which they and one other member each used
    once (an address a crew shipped to once, a card tried once), is no member.

    The session rule: ``victims`` (index user, ``first`` and ``last`` epoch ms: the known victims' confirmed
    fraud, see :func:`graphfraud.ringflows.victim_sessions`, or the session in which an unlabelled customer paid
    the cluster, :func:`graphfraud.ringflows.paid_sessions`) lose the links they used only within it, even when
    they took them up together as a bust-out's accounts do; the victims of a session found by its payments
    (``victims["paid"]``) lose the money links of the session too. Known fraud whose one evening of confirmed
    fraud is the session (``victims["evening"]``, an account a crew took over on its own devices) loses only the
    links the cluster used over ``HOLDER_LEAD_DAYS`` or more (the crew's weeks on its devices).

    The address rule: a crew of accounts that live a few days paid through homes' addresses (residential
    proxies), and the families there, who used them for months, joined the ring. Postal addresses are homes
    too (``PLACE_TYPES``): goods sent to real customers' homes.

    A customer in ``known`` (users known as fraud) keeps their links: confirmed fraud of their own says they
    are not the victim.
    """
    if not len(linking) or not len(tx):
        return groups
    ts = tx["ts"].to_numpy(np.int64)
    span = pd.Series(ts).groupby(tx["user_id"].to_numpy()).agg(["min", "max"])
    life_of = (span["max"] - span["min"]) / DAY_MS
    gid = pd.Series(np.repeat(np.arange(len(groups)), [len(g) for g in groups]), index=uids[np.concatenate(groups)])
    g_of = linking["user_id"].map(gid).to_numpy(dtype=float)
    inside = ~np.isnan(g_of)
    first = (pd.to_numeric(linking["first_seen"], errors="coerce").to_numpy(dtype=float)[inside]
             if "first_seen" in linking.columns else np.full(int(inside.sum()), np.nan))
    typ = linking["type"].to_numpy()[inside]
    last_use = (pd.to_numeric(linking["last_seen"], errors="coerce").to_numpy(dtype=float)[inside]
                if "last_seen" in linking.columns else np.full(int(inside.sum()), np.nan))
    uses = (pd.to_numeric(linking["n"], errors="coerce").fillna(1).to_numpy(dtype=float)[inside]
            if "n" in linking.columns else np.ones(int(inside.sum())))
    co = (linking["coactivity"].fillna(False).to_numpy(dtype=bool)[inside] if "coactivity" in linking.columns
          else np.zeros(int(inside.sum()), bool))
    e = pd.DataFrame({"u": linking["user_id"].to_numpy()[inside], "g": g_of[inside].astype(np.int64),
                      "e": linking["ent"].to_numpy()[inside], "first": first, "last_use": last_use, "uses": uses,
                      "t": typ, "co": co})
    e = e.groupby(["u", "g", "e", "t"], sort=False, as_index=False).agg(
        first=("first", "min"), last_use=("last_use", "max"), uses=("uses", "max"), co=("co", "max"))
    t = e["t"].to_numpy()
    is_money, is_place, is_card = t == "transfer", np.isin(t, PLACE_TYPES), t == "card"
    e["life"] = e["u"].map(life_of).fillna(0.0).to_numpy(dtype=float)
    key = pd.factorize(pd.MultiIndex.from_arrays([e["g"].to_numpy(), e["e"].to_numpy()]))[0]
    grp = e["life"].groupby(key)
    k = grp.transform("size").to_numpy()
    life = e["life"].to_numpy()
    # a pair: against the other; a home-sized address: against its shortest-lived user (a crew passing through
    # a home's address, a proxy); otherwise no lifetime comparison
    home = is_place & (k <= FEW_IP_USERS)
    ref = np.where(k == 2, grp.transform("sum").to_numpy() - life, grp.transform("min").to_numpy())
    # (money between suspects is no shared card: the rule is for identifiers)
    odd = (life >= LIFETIME_RATIO * np.maximum(ref, 1.0)) & (life - ref >= LIFETIME_GAP_DAYS) & ((k == 2) | home)
    # or, as old, had the identifier LIFETIME_GAP_DAYS before anyone else in the cluster used it
    fg, f = e["first"].groupby(key), e["first"].to_numpy(dtype=float)
    rk = fg.rank(method="first").to_numpy()
    nxt = pd.Series(f[rk == 2], index=key[rk == 2]).reindex(key).to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        odd |= (rk == 1) & (nxt - f >= LIFETIME_GAP_DAYS * DAY_MS) & (life >= LIFETIME_GAP_DAYS)
    # or used it in one short episode (``EPISODE_DAYS``) and went on without it for weeks, while the cluster used
    # it for weeks: an account taken over from a crew's device, phone or address (its owner goes on as before;
    # the crew's weeks on it may hold the episode), a friend's network for a day. Not the account's opening, one
    # purchase on a device that others opened theirs on weeks apart (a sleeper ring's registration device); nor a
    # card: a card passed around a crew is used by each for a day (a stolen card pool).
    u_first = e["u"].map(span["min"]).to_numpy(dtype=float)
    u_last = e["u"].map(span["max"]).to_numpy(dtype=float)
    lu = e["last_use"].to_numpy(dtype=float)
    lead, gap = HOLDER_LEAD_DAYS * DAY_MS, LIFETIME_GAP_DAYS * DAY_MS
    k_first = fg.transform("min").to_numpy(dtype=float)
    k_last = e["last_use"].groupby(key).transform("max").to_numpy(dtype=float)
    # (the session of each victim in ``victims``; known fraud by one evening of confirmed fraud: ``evening``)
    vic = victims if victims is not None else pd.DataFrame({"first": [], "last": []})
    v_from = e["u"].map(vic["first"]).to_numpy(dtype=float)
    v_to = e["u"].map(vic["last"]).to_numpy(dtype=float)
    evening = (e["u"].isin(vic.index[vic["evening"].eq(True).to_numpy()]).to_numpy() if "evening" in vic.columns
               else np.zeros(len(e), dtype=bool))
    with np.errstate(invalid="ignore"):
        brief = ((lu - f <= EPISODE_DAYS * DAY_MS) & ~((f <= u_first) & (e["uses"].to_numpy() <= 1)) & ~is_card)
        customer = (f - u_first >= lead) | (u_last - lu >= gap)
        episode = brief & (u_last - lu >= lead) & customer & (k_last - k_first >= lead)
    # or used it in such an episode, without weeks after it (the data ends days later), as one of TAKEOVER_VISITS
    # customers or more who each did, the first HOLDER_LEAD_DAYS or more before the last, on an identifier someone
    # else in the cluster used too: a crew's device that took customers over in turn. Each such customer came back
    # after it (unless the data ends within HOLDER_LEAD_DAYS of it: an account burned and never seen again is the
    # crew's) and is not known as fraud, but for known fraud by that one evening (``evening``; the session rule
    # below decides its own links). Accounts striking together in the same days are a bust-out's; a ring's aged
    # accounts each burned once on a device no one else used are no one's victims.
    kn = e["u"].isin(set(known)).to_numpy()
    with np.errstate(invalid="ignore"):
        back = (u_last > lu) | (float(ts.max()) - lu < lead)
        visit = brief & ((customer & back & ~kn) | (evening & (f >= v_from) & (lu <= v_to)))
    visits = pd.Series(np.where(visit, f, np.nan)).groupby(key)
    n_visits = visits.transform("count").to_numpy()
    in_turn = (visit & (n_visits >= TAKEOVER_VISITS) & (n_visits < k)
               & (visits.transform("max").to_numpy() - visits.transform("min").to_numpy() >= lead))
    episode |= in_turn
    odd |= episode
    # or held a card, email, phone or home address (``HELD_TYPES``) that others in the cluster each used in one
    # short episode after every holder had started: the holders are its owners (a family, a customer the data
    # sees rarely) and the others a crew that tried or spent it (card testing, a collusive merchant charging stolen
    # cards, triangulation shipping to real customers' homes under their emails). Their links to it go when one
    # of them, seen LIFETIME_GAP_DAYS or more, went on after the crew's last use; the crew's stay (a stolen card
    # passed round the crew still joins it). A crew's own card handed on by its first user is kept: their
    # accounts are young, or quiet once the crew is done (a sleeper ring's bust-out).
    with np.errstate(invalid="ignore"):
        visit = (rk > 1) & (lu - f <= EPISODE_DAYS * DAY_MS)
        owned = np.isin(t, HELD_TYPES) & ~visit
        v_first = pd.Series(np.where(visit, f, np.inf)).groupby(key).transform("min").to_numpy()
        v_last = pd.Series(np.where(visit, lu, -np.inf)).groupby(key).transform("max").to_numpy()
        late = pd.Series(owned & ~(f < v_first)).groupby(key).transform("sum").to_numpy()
        stays = pd.Series(owned & (life >= LIFETIME_GAP_DAYS) & (u_last >= v_last)).groupby(key).transform("sum")
        odd |= owned & np.isfinite(v_first) & (late == 0) & (stays.to_numpy() > 0)
    # or is tied to the cluster by one identifier alone, which they and one other member each used once (a
    # shop's operator shipping stolen goods to a buyer's address, a card tried once): too little to call them a
    # member. Not money, meetings or striking together, which are their own evidence.
    once = pd.Series(e["uses"].to_numpy()).groupby(key).transform("max").to_numpy() <= 1
    ties = e.groupby(["u", "g"], sort=False)["e"].transform("size").to_numpy()
    odd |= (k == 2) & once & (ties == 1) & ~is_money & (t != "bustout") & ~e["co"].to_numpy(dtype=bool)
    # or held a card that one other account took over weeks after they had stopped using it, an account that
    # took cards over that way from TAKER_HOLDERS holders or more (a card tester; each victim seen two weeks or more)
    odd |= _taken_cards(key, rk, e["u"].to_numpy(), is_card & (k == 2) & ~e["co"].to_numpy(dtype=bool), f, lu, nxt,
                        life)
    # or used a card over weeks that one other account of the cluster charged once, before, during or after them
    # (a thief's charge on a card whose owner the data sees; not a meeting), when they charged no such card of
    # another member's themselves (a crew whose members each test-charged the next one's card is no one's victim)
    n_uses = e["uses"].to_numpy(dtype=float)
    other = pd.Series(n_uses).groupby(key).transform("sum").to_numpy() - n_uses
    pair = is_card & (k == 2) & ~e["co"].to_numpy(dtype=bool)
    ug = pd.factorize(pd.MultiIndex.from_arrays([e["u"].to_numpy(), e["g"].to_numpy()]))[0]
    charger = pd.Series(pair & (n_uses <= 1) & (other >= OWNER_USES)).groupby(ug).transform("max").to_numpy()
    with np.errstate(invalid="ignore"):
        odd |= pair & (n_uses >= OWNER_USES) & (lu - f >= gap) & (other <= 1) & ~charger
    # a customer known as fraud (``known``: a fraudster, or mostly confirmed fraud) is no one's victim: a
    # ring whose members come and go over months, each pair sharing one identifier
    odd &= ~is_money & ~kn
    # unless the customer changed with the other account: took the identifier up late in their history, in
    # the same days as the other account, and went quiet within days of it (an aged account's bust-out).
    # A victim's card, a regular's cafe, were the customer's from the start, or long before the other
    # account used them, and the customer went on after it.
    held = TOOK_UP_DAYS * DAY_MS
    took_up = f - u_first
    # (the other accounts' latest last transaction: of two, the other's)
    top = pd.Series(u_last).groupby(key).transform("max").to_numpy()
    is_top = u_last == top
    n_top = pd.Series(is_top).groupby(key).transform("sum").to_numpy()
    second = pd.Series(np.where(is_top, -np.inf, u_last)).groupby(key).transform("max").to_numpy()
    other_last = np.where(is_top & (n_top == 1), second, top)
    with np.errstate(invalid="ignore"):
        together = (fg.transform("max") - k_first).to_numpy(dtype=float) < held
        quiet = (u_last - f < held) | (u_last - other_last < held)
        odd &= ~(together & (took_up >= held) & quiet)
    # a customer taken over in an episode above loses every link of it: the crew's card, its proxy's address (not
    # money, meetings or striking together, which are their own evidence)
    taken = episode & odd
    t_from = pd.Series(np.where(taken, f, np.inf)).groupby(ug).transform("min").to_numpy()
    t_to = pd.Series(np.where(taken, lu, -np.inf)).groupby(ug).transform("max").to_numpy()
    with np.errstate(invalid="ignore"):
        odd |= ((f >= t_from) & (lu <= t_to) & (t_to - t_from <= EPISODE_DAYS * DAY_MS) & ~is_money & ~kn
                & (t != "bustout") & ~e["co"].to_numpy(dtype=bool))
    # or is a victim whose every use of it fell within one session of a takeover (``victims``), in which a
    # crew's device, phone and email paid its drops: the crew's, not the victim's, though the crew's victims
    # took it up together late in their lives, as a bust-out's accounts do
    if len(vic):
        # (known fraud by one evening's confirmed fraud, ``evening``: only what the cluster used for weeks around it,
        # a crew's devices; a bust-out's members, who went on after it, shared theirs for a day)
        with np.errstate(invalid="ignore"):
            session = (f >= v_from) & (lu <= v_to) & (~kn | (evening & (k_last - k_first >= lead)))
        # (the money of a session found by its payments alone, :func:`graphfraud.ringflows.paid_sessions`: a
        # labelled victim's fraudulent transfer may be a mule's forwarding, and the mule's money is its ring's)
        paid = (e["u"].isin(vic.index[vic["paid"].to_numpy(dtype=bool)]).to_numpy() if "paid" in vic.columns
                else np.zeros(len(e), dtype=bool))
        odd |= session & (~is_money | paid)
    # or is one of the accounts left on a home's address whose residents were cut off above, which did not come
    # to it within ARRIVAL_WINDOW_DAYS of the others there: two crews' members who each went out once through a
    # residential proxy's exit (a family's address) are not one ring through it
    cut_home = pd.Series(odd & home).groupby(key).transform("max").to_numpy(dtype=bool)
    spread = (fg.transform("max") - fg.transform("min")).to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        odd |= cut_home & home & (spread > ARRIVAL_WINDOW_DAYS * DAY_MS) & ~kn
    # or is a thief (known as fraud or not) that charged once a card others of the cluster use, its victims', none of
    # them its crew (another thief, an accomplice, a spender of a card it tried); not a device or an address: a
    # crew's laptop or proxy the thief used once looks no different from a victim's home
    card = is_card & ~e["co"].to_numpy(dtype=bool)
    thief = e["u"].isin(_thieves(tx)).to_numpy()
    odd |= _stolen(np.where(card, key, -1), e["u"].to_numpy(), f, lu, n_uses, card & thief & (n_uses <= 1), thief)
    hit = np.unique(e["g"].to_numpy()[odd])
    if not len(hit):
        return groups
    out = [g for i, g in enumerate(groups) if i not in set(hit.tolist())]
    keep = ~odd & np.isin(e["g"].to_numpy(), hit)
    # what stays connected inside each affected cluster
    uc, ukeys = pd.factorize(e["u"].to_numpy()[keep])
    kc = key[keep]
    kc2 = pd.factorize(kc)[0]
    n_u, n_k = len(ukeys), int(kc2.max()) + 1 if len(kc2) else 0
    g = sparse.coo_matrix((np.ones(len(uc), np.int8), (uc, n_u + kc2)), shape=(n_u + n_k, n_u + n_k))
    _, lab = connected_components(g, directed=False)
    lab_u = lab[:n_u]
    order = np.argsort(lab_u, kind="stable")
    at = pd.Index(uids).get_indexer(ukeys)[order]
    out += [np.sort(part).astype(np.int64) for part in np.split(at, np.flatnonzero(np.diff(lab_u[order])) + 1)]
    return out
