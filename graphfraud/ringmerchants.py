"""Regulars of a crew's merchant: the link a ring that launders through a merchant shows.

A crew that pushes money through a merchant it controls (or colludes with) may share nothing else: each
member pays with their own card, from their own phone and home. What links them is the merchant: a small
one, whose regular customers are mostly the crew, and where the charges of those regulars that have been
labelled are mostly confirmed fraud, or where several regulars each paid with three cards or more (stolen cards
charged through it, before anyone labels them). A neighbourhood shop has regulars too, but their charges are not
fraud, and each pays with their own card or two;
a digital-goods site where card testers try stolen cards has fraud from crews that are already linked by
their networks and devices, and the links here are *thin*
(:func:`graphfraud.ringlinks.components`): they gather accounts that stand alone into a ring, or attach them
to one, but never merge two rings.

:func:`merchant_edges` turns a store's small merchants and the labels known into those links;
:func:`join_crews` joins the pieces of one crew they link once the families its members sat in are cut.
Every constant is a product default (docs/rings.md explains each).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from .ringlinks import EDGE_COLUMNS

__all__ = ["join_crews", "merchant_edges"]

MAX_MERCHANT_CUSTOMERS = 80  # a merchant with more customers than this is not one crew's
MIN_REGULAR_TX = 2  # a customer who paid a merchant this many times is one of its regulars
MIN_REGULARS = 3  # ... and a crew's merchant has this many regulars or more ...
MIN_FRAUD_SHARE = 0.5  # ... whose labelled charges there are at least this share confirmed fraud ...
MIN_FRAUD_REGULARS = 2  # ... on the charges of at least this many of them
MIN_CREW_SHARE = 0.8  # after the lifetime cut, groups of which this share or more are one crew's regulars join
CYCLED_CARDS = 3  # a regular who paid a merchant with this many cards or more is cycling (stolen) cards through it
MAX_ONCE_CARDS = 0.5  # ... unless more than this share of the cards its regulars paid with were used once (tokens)


def merchant_edges(links: pd.DataFrame, charges: Callable[[Sequence[str]], pd.DataFrame],
                   first_code: int) -> pd.DataFrame:
    """Links between the regulars of each merchant that looks like a crew's.

    ``links``: the store's user-merchant links of merchants with ``MIN_REGULARS`` to
    ``MAX_MERCHANT_CUSTOMERS`` customers (``entity_id, user_id, first_seen, last_seen, n``). ``charges(users)``
    returns those users' transactions as ``user_id, merchant_id, card_id, fraud, labelled`` (the label known now,
    and whether any is). A merchant links its regulars (``MIN_REGULAR_TX`` payments there or more) when they are
    ``MIN_REGULARS`` or more, when ``MIN_FRAUD_SHARE`` or more of their labelled payments there are known
    fraud, and when ``MIN_FRAUD_REGULARS`` of them made such payments; and, labelled or not, its regulars who each
    paid it with ``CYCLED_CARDS`` cards or more that paid no other merchant, when ``MIN_REGULARS`` of them or more
    did (a crew charging stolen cards through a merchant it colludes with, before anyone labels them), unless more
    than ``MAX_ONCE_CARDS`` of the cards its regulars paid it with were used once (its card ids name payments, not
    cards); never the regulars whose labelled payments there are all legitimate. Edges have the columns of
    :func:`graphfraud.ringlinks.coactivity_edges` (type ``crew_merchant``, ``ent`` codes from ``first_code``), thin.

    Examples
    --------
    >>> rows = [("M1", u, 5) for u in "abcd"] + [("M1", "e", 1)] + [("M2", u, 4) for u in "xyz"]
    >>> links = pd.DataFrame(rows, columns=["entity_id", "user_id", "n"]).assign(first_seen=0, last_seen=1)
    >>> def charges(users, cards=1):  # each user's cards, each used twice
    ...     who = np.repeat(users, 2 * cards)
    ...     return pd.DataFrame({"user_id": who, "merchant_id": ["M2" if u in "xyz" else "M1" for u in who],
    ...                          "card_id": np.tile(np.repeat(np.arange(cards), 2), len(users)),
    ...                          "fraud": [u in "abc" for u in who], "labelled": [u not in "dxyz" for u in who]})
    >>> e = merchant_edges(links, charges, 7)  # d's payments are not labelled; e paid once; M2 saw no fraud
    >>> sorted(e["user_id"]), set(e["entity_id"]), set(e["ent"])
    (['a', 'b', 'c', 'd'], {'M1'}, {7})
    >>> e = merchant_edges(links, lambda users: charges(users, cards=3), 7)  # M2's regulars each paid with 3 cards
    >>> sorted(e["user_id"]), sorted(set(e["entity_id"]))
    (['a', 'b', 'c', 'd', 'x', 'y', 'z'], ['M1', 'M2'])
    """
    if not len(links):
        return pd.DataFrame(columns=EDGE_COLUMNS)
    reg = links[pd.to_numeric(links["n"]).to_numpy() >= MIN_REGULAR_TX]
    k = reg.groupby("entity_id")["user_id"].transform("size").to_numpy()
    reg = reg[k >= MIN_REGULARS]
    if not len(reg):
        return pd.DataFrame(columns=EDGE_COLUMNS)
    tx = charges(pd.unique(reg["user_id"]).tolist())
    pairs = pd.MultiIndex.from_arrays([reg["entity_id"].to_numpy(), reg["user_id"].to_numpy()])
    at = pd.MultiIndex.from_arrays([tx["merchant_id"].to_numpy(), tx["user_id"].to_numpy()]).isin(pairs)
    there = pd.DataFrame({"m": tx["merchant_id"].to_numpy()[at], "u": tx["user_id"].to_numpy()[at],
                          "c": tx["card_id"].to_numpy()[at], "f": tx["fraud"].to_numpy(dtype=bool)[at],
                          "l": tx["labelled"].to_numpy(dtype=bool)[at]})
    # each card's uses by its user anywhere, and at how many merchants: a crew's stolen card pays its shop alone; a
    # customer's cards (and wallet tokens of one card) pay other shops too
    known_card = pd.notna(tx["card_id"]).to_numpy()
    uc = tx.loc[known_card, ["user_id", "card_id", "merchant_id"]].groupby(["user_id", "card_id"])
    use = pd.DataFrame({"n": uc.size(), "shops": uc["merchant_id"].nunique()})
    card = use.reindex(pd.MultiIndex.from_arrays([there["u"].to_numpy(), there["c"].to_numpy()]))
    there = there.assign(only=(card["shops"].to_numpy() == 1), once=(card["n"].to_numpy() == 1))
    there["c_only"] = there["c"].where(there["only"].to_numpy())
    per_user = there.groupby(["m", "u"]).agg(f=("f", "sum"), l_=("l", "sum"), nc=("c_only", "nunique")).reset_index()
    per_m = per_user.assign(fu=per_user["f"].to_numpy() > 0).groupby("m")[["f", "l_", "fu"]].sum()
    crew = per_m.index[(per_m["f"].to_numpy() >= MIN_FRAUD_SHARE * np.maximum(per_m["l_"].to_numpy(), 1))
                       & (per_m["fu"].to_numpy() >= MIN_FRAUD_REGULARS)]
    # (a regular whose own labelled payments there are all legitimate is a customer, not one of the crew)
    ok = ~((per_user["f"].to_numpy() == 0) & (per_user["l_"].to_numpy() > 0))
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
    out = out.sort_values(["entity_id", "user_id"], kind="stable")
    if not len(out):
        return pd.DataFrame(columns=EDGE_COLUMNS)
    ent = pd.factorize(out["entity_id"])[0] + first_code
    return pd.DataFrame({"type": "crew_merchant", "entity_id": out["entity_id"].to_numpy(),
                         "user_id": out["user_id"].to_numpy(), "first_seen": out["first_seen"].to_numpy(),
                         "last_seen": out["last_seen"].to_numpy(), "n": out["n"].to_numpy(), "ent": ent,
                         "n_users": np.bincount(ent - first_code)[ent - first_code], "strong": True, "links": True,
                         "arrived": False, "thin": True, "coactivity": True})


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
    reach = per.groupby("e")["l_"].cummax().to_numpy()
    e, f = per["e"].to_numpy(), per["f"].to_numpy()
    new_run = np.r_[True, (e[1:] != e[:-1]) | (f[1:] > reach[:-1])]
    first = per["c"].to_numpy()[np.flatnonzero(new_run)][np.cumsum(new_run) - 1]
    n = len(size)
    graph = sparse.coo_matrix((np.ones(len(per), np.int8), (first, per["c"].to_numpy())), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    new = comp[lab]
    order = np.argsort(new, kind="stable")
    return [g for g in np.split(order, np.flatnonzero(np.diff(new[order])) + 1) if len(g) >= 2]
