"""Regulars of a crew's merchant: the link a ring that launders through a merchant shows.

A crew that pushes money through a merchant it controls (or colludes with) may share nothing else: each
member pays with their own card, from their own phone and home. What links them is the merchant: a small
one, whose regular customers are mostly the crew, and where the charges of those regulars that have been
labelled are mostly confirmed fraud. A neighbourhood shop has regulars too, but their charges are not fraud;
a digital-goods site where card testers try stolen cards has fraud from crews that are already linked by
their networks and devices, and the links here are *thin*
(:func:`graphfraud.ringlinks.components`): they gather accounts that stand alone into a ring, or attach them
to one, but never merge two rings.

:func:`merchant_edges` turns a store's small merchants and the labels known into those links. Every constant
is a product default (docs/rings.md explains each).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from .ringlinks import EDGE_COLUMNS

__all__ = ["merchant_edges"]

MAX_MERCHANT_CUSTOMERS = 80  # a merchant with more customers than this is not one crew's
MIN_REGULAR_TX = 2  # a customer who paid a merchant this many times is one of its regulars
MIN_REGULARS = 3  # ... and a crew's merchant has this many regulars or more ...
MIN_FRAUD_SHARE = 0.5  # ... whose labelled charges there are at least this share confirmed fraud ...
MIN_FRAUD_REGULARS = 2  # ... on the charges of at least this many of them


def merchant_edges(links: pd.DataFrame, charges: Callable[[Sequence[str]], pd.DataFrame],
                   first_code: int) -> pd.DataFrame:
    """Links between the regulars of each merchant that looks like a crew's.

    ``links``: the store's user-merchant links of merchants with ``MIN_REGULARS`` to
    ``MAX_MERCHANT_CUSTOMERS`` customers (``entity_id, user_id, first_seen, last_seen, n``). ``charges(users)``
    returns those users' transactions as ``user_id, merchant_id, fraud, labelled`` (the label known now, and
    whether any is). A merchant links its regulars (``MIN_REGULAR_TX`` payments there or more) when they are
    ``MIN_REGULARS`` or more, when ``MIN_FRAUD_SHARE`` or more of their labelled payments there are known
    fraud, and when ``MIN_FRAUD_REGULARS`` of them made such payments; not the regulars whose labelled payments
    there are all legitimate. Edges have the columns of :func:`graphfraud.ringlinks.coactivity_edges` (type
    ``crew_merchant``, ``ent`` codes from ``first_code``), thin.

    Examples
    --------
    >>> rows = [("M1", u, 5) for u in "abcd"] + [("M1", "e", 1)] + [("M2", u, 4) for u in "xyz"]
    >>> links = pd.DataFrame(rows, columns=["entity_id", "user_id", "n"]).assign(first_seen=0, last_seen=1)
    >>> def charges(users):
    ...     return pd.DataFrame({"user_id": users, "merchant_id": ["M2" if u in "xyz" else "M1" for u in users],
    ...                          "fraud": [u in "abc" for u in users], "labelled": [u != "d" for u in users]})
    >>> e = merchant_edges(links, charges, 7)  # d's payments are not labelled; e paid once; M2 saw no fraud
    >>> sorted(e["user_id"]), set(e["entity_id"]), set(e["ent"])
    (['a', 'b', 'c', 'd'], {'M1'}, {7})
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
                          "f": tx["fraud"].to_numpy(dtype=bool)[at], "l": tx["labelled"].to_numpy(dtype=bool)[at]})
    per_user = there.groupby(["m", "u"]).agg(f=("f", "sum"), l_=("l", "sum")).reset_index()
    per_m = per_user.assign(fu=per_user["f"].to_numpy() > 0).groupby("m")[["f", "l_", "fu"]].sum()
    crew = per_m.index[(per_m["f"].to_numpy() >= MIN_FRAUD_SHARE * np.maximum(per_m["l_"].to_numpy(), 1))
                       & (per_m["fu"].to_numpy() >= MIN_FRAUD_REGULARS)]
    # (a regular whose own labelled payments there are all legitimate is a customer, not one of the crew)
    cleared = per_user.loc[(per_user["f"].to_numpy() == 0) & (per_user["l_"].to_numpy() > 0), ["m", "u"]]
    out = reg[reg["entity_id"].isin(crew).to_numpy()
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
