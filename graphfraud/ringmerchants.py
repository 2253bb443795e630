"""Regulars of a crew's merchant: the link a ring that launders through a merchant shows.

A crew that pushes money through a merchant it controls (or colludes with) may share nothing else: each
member pays with their own card, from their own phone and home. What links them is the merchant: a small
one, whose regular customers are mostly the crew, and where the charges of those regulars that have been
labelled are mostly confirmed fraud, or where several regulars each paid with three cards or more (stolen cards
charged through it, before anyone labels them). A neighbourhood shop has regulars too, but their charges are not
fraud, and each pays with their own card or two. At a larger merchant (a marketplace where a triangulation crew
buys with stolen cards, a site where card testers try them), the accounts cycling cards through it are linked too,
each group of them there over the same weeks, when they are few among its customers. The links here are *thin*
(:func:`graphfraud.ringlinks.components`): they gather accounts that stand alone into a ring, or attach them to
one, but never merge two rings (crews of card testers at one digital-goods site, each already linked by its
networks and devices, stay apart).

:func:`merchant_edges` turns a store's merchants, the labels known and the cards paid with into those links;
:func:`join_crews` joins the pieces of one crew they link once the families its members sat in are cut.
Every constant is a product default (docs/rings.md explains each).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from .ringlinks import DAY_MS, EDGE_COLUMNS, EPISODE_DAYS, OWNER_USES

__all__ = ["join_crews", "merchant_edges"]

MAX_MERCHANT_CUSTOMERS = 80  # a merchant with more customers than this is not one crew's
MIN_REGULAR_TX = 2  # a customer who paid a merchant this many times is one of its regulars
MIN_REGULARS = 3  # ... and a crew's merchant has this many regulars or more ...
MIN_FRAUD_SHARE = 0.5  # ... whose labelled charges there are at least this share confirmed fraud ...
MIN_FRAUD_REGULARS = 2  # ... on the charges of at least this many of them
MIN_CREW_SHARE = 0.8  # after the lifetime cut, groups of which this share or more are one crew's regulars join
CYCLED_CARDS = 3  # a regular who paid a merchant with this many cards or more is cycling (stolen) cards through it
MAX_ONCE_CARDS = 0.5  # ... unless more than this share of the cards its regulars paid with were used once (tokens)
MAX_CYCLER_SHARE = 0.25  # at a larger merchant, cyclers are a crew's when they are at most this share of its customers


def merchant_edges(links: pd.DataFrame, charges: Callable[[Sequence[str]], pd.DataFrame], first_code: int,
                   candidates: Sequence[str] = (), customers: Callable[[Sequence[str]], np.ndarray] | None = None
                   ) -> pd.DataFrame:
    """Links between the regulars of each merchant that looks like a crew's.

    ``links``: the store's user-merchant links of merchants with ``MIN_REGULARS`` to
    ``MAX_MERCHANT_CUSTOMERS`` customers (``entity_id, user_id, first_seen, last_seen, n``). ``charges(users)``
    returns those users' transactions as ``user_id, merchant_id, card_id, ts, fraud, labelled`` (the label known now,
    and whether any is). A merchant links its regulars (``MIN_REGULAR_TX`` payments there or more) when they are
    ``MIN_REGULARS`` or more, when ``MIN_FRAUD_SHARE`` or more of their labelled payments there are known
    fraud, and when ``MIN_FRAUD_REGULARS`` of them made such payments; and, labelled or not, its regulars who each
    paid it with ``CYCLED_CARDS`` cards or more that paid no other merchant, when ``MIN_REGULARS`` of them or more
    did (a crew charging stolen cards through a merchant it colludes with, before anyone labels them), unless more
    than ``MAX_ONCE_CARDS`` of the cards its regulars paid it with were used once (its card ids name payments, not
    cards); never the regulars whose labelled payments there are all legitimate. At the larger merchants (not in
    ``links``), the same cyclers among ``candidates`` (the accounts that used ``CYCLED_CARDS`` cards or more), of
    cards each used within ``EPISODE_DAYS``, and with no card used ``OWNER_USES`` times or more (their own), when
    they are at most ``MAX_CYCLER_SHARE`` of its ``customers(merchant_ids)`` (more: its card ids name payments),
    each group of them that cycled cards there over the same weeks (their spans overlap) linked apart: two crews
    that came to one big shop at different times stay two. Edges have the columns of
    :func:`graphfraud.ringlinks.coactivity_edges` (type ``crew_merchant``, ``ent`` codes from ``first_code``, one
    per merchant and group), thin.

    Examples
    --------
    >>> rows = [("M1", u, 5) for u in "abcd"] + [("M1", "e", 1)] + [("M2", u, 4) for u in "xyz"]
    >>> links = pd.DataFrame(rows, columns=["entity_id", "user_id", "n"]).assign(first_seen=0, last_seen=1)
    >>> def charges(users, cards=1):  # each user's cards, each used twice
    ...     who = np.repeat(users, 2 * cards)
    ...     return pd.DataFrame({"user_id": who, "merchant_id": ["M2" if u in "xyz" else "M1" for u in who],
    ...                          "card_id": np.tile(np.repeat(np.arange(cards), 2), len(users)), "ts": 0,
    ...                          "fraud": [u in "abc" for u in who], "labelled": [u not in "dxyz" for u in who]})
    >>> e = merchant_edges(links, charges, 7)  # d's payments are not labelled; e paid once; M2 saw no fraud
    >>> sorted(e["user_id"]), set(e["entity_id"]), set(e["ent"])
    (['a', 'b', 'c', 'd'], {'M1'}, {7})
    >>> e = merchant_edges(links, lambda users: charges(users, cards=3), 7)  # M2's regulars each paid with 3 cards
    >>> sorted(e["user_id"]), sorted(set(e["entity_id"]))
    (['a', 'b', 'c', 'd', 'x', 'y', 'z'], ['M1', 'M2'])
    """
    reg = links[pd.to_numeric(links["n"]).to_numpy() >= MIN_REGULAR_TX] if len(links) else links
    k = reg.groupby("entity_id")["user_id"].transform("size").to_numpy() if len(reg) else np.zeros(0, np.int64)
    reg = reg[k >= MIN_REGULARS]
    if not len(reg) and not len(candidates):
        return pd.DataFrame(columns=EDGE_COLUMNS)
    tx = charges(pd.unique(np.r_[reg["user_id"].to_numpy(dtype=object), np.asarray(candidates, dtype=object)]).tolist())
    # each card's uses by its user anywhere, and at how many merchants: a crew's stolen card pays its shop alone; a
    # customer's cards (and wallet tokens of one card) pay other shops too
    known_card = pd.notna(tx["card_id"]).to_numpy()
    uc = tx.loc[known_card, ["user_id", "card_id", "merchant_id", "ts"]].groupby(["user_id", "card_id"])
    use = pd.DataFrame({"n": uc.size(), "shops": uc["merchant_id"].nunique(),
                        "span": uc["ts"].max() - uc["ts"].min()})
    card = use.reindex(pd.MultiIndex.from_arrays([tx["user_id"].to_numpy(), tx["card_id"].to_numpy()]))
    tx = tx.assign(only=(card["shops"].to_numpy() == 1), once=(card["n"].to_numpy() == 1),
                   brief=card["span"].to_numpy(dtype=float) <= EPISODE_DAYS * DAY_MS)
    parts = []
    if len(reg):
        parts.append(_regulars(reg, tx).assign(run=0))
    if len(candidates) and customers is not None:
        # (a stolen card is charged and dropped within days; an account with a card of its own is a customer)
        small = set(links["entity_id"].tolist()) if len(links) else set()
        own = use.index.get_level_values(0)[use["n"].to_numpy() >= OWNER_USES]
        large = tx[~tx["merchant_id"].isin(small).to_numpy() & tx["user_id"].isin(candidates).to_numpy()
                   & ~tx["user_id"].isin(own).to_numpy()]
        parts.append(_large(large.assign(only=large["only"].to_numpy() & large["brief"].to_numpy()), customers))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if not len(out):
        return pd.DataFrame(columns=EDGE_COLUMNS)
    out = out.sort_values(["entity_id", "run", "user_id"], kind="stable")
    ent = out.groupby(["entity_id", "run"], sort=False).ngroup().to_numpy() + first_code
    return pd.DataFrame({"type": "crew_merchant", "entity_id": out["entity_id"].to_numpy(),
                         "user_id": out["user_id"].to_numpy(), "first_seen": out["first_seen"].to_numpy(),
                         "last_seen": out["last_seen"].to_numpy(), "n": out["n"].to_numpy(), "ent": ent,
                         "n_users": np.bincount(ent - first_code)[ent - first_code], "strong": True, "links": True,
                         "arrived": False, "thin": True, "coactivity": True})


def _per_user(there: pd.DataFrame) -> pd.DataFrame:
    """Per merchant and account (``m, u``) of payments ``there``: fraud and labelled payments (``f, l_``), cards
    that paid no other merchant (``nc``), and whether it is one of the crew by its labels (``ok``: not every one of
    its labelled payments there legitimate)."""
    there = there.assign(c_only=there["c"].where(there["only"].to_numpy()))
    pu = there.groupby(["m", "u"]).agg(f=("f", "sum"), l_=("l", "sum"), nc=("c_only", "nunique"), n=("f", "size"),
                                        first_seen=("t", "min"), last_seen=("t", "max")).reset_index()
    return pu.assign(ok=~((pu["f"].to_numpy() == 0) & (pu["l_"].to_numpy() > 0)))


def _payments(tx: pd.DataFrame, at: np.ndarray) -> pd.DataFrame:
    cols = {"m": "merchant_id", "u": "user_id", "c": "card_id", "only": "only", "once": "once"}
    out = pd.DataFrame({k: tx[c].to_numpy()[at] for k, c in cols.items()})
    return out.assign(f=tx["fraud"].to_numpy(dtype=bool)[at], l=tx["labelled"].to_numpy(dtype=bool)[at],
                      t=tx["ts"].to_numpy()[at])


def _regulars(reg: pd.DataFrame, tx: pd.DataFrame) -> pd.DataFrame:
    """The links of the small merchants' regulars (``reg``, links with ``MIN_REGULARS`` or more regulars each):
    by their labels, and by the cards they cycle."""
    pairs = pd.MultiIndex.from_arrays([reg["entity_id"].to_numpy(), reg["user_id"].to_numpy()])
    there = _payments(tx, pd.MultiIndex.from_arrays([tx["merchant_id"].to_numpy(), tx["user_id"].to_numpy()])
                      .isin(pairs))
    per_user = _per_user(there)
    per_m = per_user.assign(fu=per_user["f"].to_numpy() > 0).groupby("m")[["f", "l_", "fu"]].sum()
    crew = per_m.index[(per_m["f"].to_numpy() >= MIN_FRAUD_SHARE * np.maximum(per_m["l_"].to_numpy(), 1))
                       & (per_m["fu"].to_numpy() >= MIN_FRAUD_REGULARS)]
    # (a regular whose own labelled payments there are all legitimate is a customer, not one of the crew)
    ok = per_user["ok"].to_numpy()
    cleared = per_user.loc[~ok, ["m", "u"]]
    # regulars cycling cards through it, labelled or not: a crew charging stolen cards; not where its card ids name
    # payments (most of its regulars' cards there used once: a token per payment)
    tokens = there.drop_duplicates(["m", "u", "c"]).groupby("m")["once"].mean()
    named = ~per_user["m"].map(tokens).gt(MAX_ONCE_CARDS).to_numpy()
    cyc = per_user.loc[ok & (per_user["nc"].to_numpy() >= CYCLED_CARDS) & named, ["m", "u"]]
    cyc = cyc[cyc.groupby("m")["u"].transform("size").to_numpy() >= MIN_REGULARS]
    out = reg[(reg["entity_id"].isin(crew).to_numpy()
               | pairs.isin(pd.MultiIndex.from_arrays([cyc["m"].to_numpy(), cyc["u"].to_numpy()])))
              & ~pairs.isin(pd.MultiIndex.from_arrays([cleared["m"].to_numpy(), cleared["u"].to_numpy()]))]
    return out[["entity_id", "user_id", "first_seen", "last_seen", "n"]]


def _large(tx: pd.DataFrame, customers: Callable[[Sequence[str]], np.ndarray]) -> pd.DataFrame:
    """The links of the cyclers among the accounts of ``tx`` at larger merchants, each group of them whose spans
    there overlap apart (``run``), where they are at most ``MAX_CYCLER_SHARE`` of the merchant's customers."""
    per_user = _per_user(_payments(tx, np.ones(len(tx), bool)))
    cyc = per_user[per_user["ok"].to_numpy() & (per_user["nc"].to_numpy() >= CYCLED_CARDS)
                   & (per_user["n"].to_numpy() >= MIN_REGULAR_TX)]
    cyc = cyc[cyc.groupby("m")["u"].transform("size").to_numpy() >= MIN_REGULARS]
    if not len(cyc):
        return pd.DataFrame(columns=["entity_id", "user_id", "first_seen", "last_seen", "n", "run"])
    ms = pd.unique(cyc["m"])
    k = cyc.groupby("m")["u"].size().reindex(ms).to_numpy()
    fit = ms[k <= MAX_CYCLER_SHARE * np.asarray(customers(ms.tolist()), float)]
    cyc = cyc[cyc["m"].isin(fit).to_numpy()].sort_values(["m", "first_seen", "u"], kind="stable")
    # a crew cycles cards through it over the same weeks: runs of overlapping spans, in order of first payment
    cyc = cyc.assign(run=np.cumsum(_run_starts(cyc["m"].to_numpy(), cyc["first_seen"].to_numpy(),
                                               cyc["last_seen"].to_numpy())))
    cyc = cyc[cyc.groupby("run")["u"].transform("size").to_numpy() >= MIN_REGULARS]
    return pd.DataFrame({"entity_id": cyc["m"].to_numpy(), "user_id": cyc["u"].to_numpy(),
                         "first_seen": cyc["first_seen"].to_numpy(), "last_seen": cyc["last_seen"].to_numpy(),
                         "n": cyc["n"].to_numpy(), "run": cyc["run"].to_numpy()})


def _run_starts(key: np.ndarray, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Over rows sorted by ``key``, then ``first``: where a run of overlapping spans (``first`` to ``last``) starts,
    at a new key or at a span that begins after every earlier one of its key has ended.

    >>> _run_starts(np.array([1, 1, 1, 2]), np.array([0, 5, 20, 21]), np.array([10, 8, 30, 40])).tolist()
    [True, False, True, True]
    """
    reach = pd.Series(last).groupby(key).cummax().to_numpy()
    return np.r_[True, (key[1:] != key[:-1]) | (first[1:] > reach[:-1])] if len(key) else np.zeros(0, bool)


def join_crews(groups: list[np.ndarray], uids: np.ndarray, linking: pd.DataFrame) -> list[np.ndarray]:
    """``groups`` (arrays of codes into ``uids``, after the lifetime cut) with the fragments of each crew's merchant
    joined: the groups and the lone accounts its ``crew_merchant`` links reach, where its regulars are at least
    ``MIN_CREW_SHARE`` of the group's users, become one group (with the accounts of no group the links reach).

    A crew recruited among established customers is held together by nothing but the merchant: its members sit in
    their families' clusters when the thin link is used (:func:`graphfraud.ringlinks.components`), and come out
    in pieces once the families are cut, each piece held by a few members' own cards or devices. A group where
    the merchant's regulars are fewer than ``MIN_CREW_SHARE`` (a family, another crew that also shopped there)
    stays apart, and so do groups that paid it in different weeks (two crews). Only the accounts of ``linking``
    take part: a caller passes the links of the accounts it has read (the groups' before the cut).

    >>> uids = np.array(list("abcdefghij"), dtype=object)
    >>> groups = [np.array([0, 1, 2]), np.array([3, 4, 5]), np.array([6, 7, 8])]
    >>> link = pd.DataFrame({"type": "crew_merchant", "ent": 9, "user_id": list("abcdefgj"), "first_seen": 0,
    ...                      "last_seen": 10})
    >>> [g.tolist() for g in join_crews(groups, uids, link)]  # j alone; in the family g-h-i only g is a regular
    [[0, 1, 2, 3, 4, 5, 9], [6, 7, 8]]
    """
    cm = linking[linking["type"].to_numpy() == "crew_merchant"]
    code = pd.Index(uids).get_indexer(cm["user_id"])
    if not (code >= 0).any():
        return groups
    lab = np.full(len(uids), -1, dtype=np.int64)
    for i, g in enumerate(groups):
        lab[g] = i
    alone = lab < 0
    lab[alone] = np.arange(len(groups), len(groups) + int(alone.sum()))
    size = np.bincount(lab)
    ok = code >= 0
    d = pd.DataFrame({"e": cm["ent"].to_numpy()[ok], "u": code[ok], "f": cm["first_seen"].to_numpy(np.int64)[ok],
                      "l": cm["last_seen"].to_numpy(np.int64)[ok]}).groupby(["e", "u"], sort=True).agg(
        f=("f", "min"), l=("l", "max")).reset_index()
    per = d.assign(c=lab[d["u"].to_numpy()]).groupby(["e", "c"], sort=True).agg(
        k=("u", "size"), f=("f", "min"), l_=("l", "max")).reset_index()
    per = per[per["k"].to_numpy() >= MIN_CREW_SHARE * size[per["c"].to_numpy()]]
    if not len(per):
        return groups
    # pieces of one crew paid the merchant over the same weeks: per merchant, the groups whose spans there overlap
    # (a run of them, in order of their first payment) join; two crews that came at different times stay two
    per = per.sort_values(["e", "f", "c"], kind="stable")
    new_run = _run_starts(per["e"].to_numpy(), per["f"].to_numpy(), per["l_"].to_numpy())
    first = per["c"].to_numpy()[np.flatnonzero(new_run)][np.cumsum(new_run) - 1]
    n = len(size)
    graph = sparse.coo_matrix((np.ones(len(per), np.int8), (first, per["c"].to_numpy())), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    new = comp[lab]
    order = np.argsort(new, kind="stable")
    return [g for g in np.split(order, np.flatnonzero(np.diff(new[order])) + 1) if len(g) >= 2]
