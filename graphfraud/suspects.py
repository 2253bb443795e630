"""Suspect accounts: users ranked by risk as of the latest data, learnt from account labels.

Transactions are scored one by one as they happen (:mod:`graphfraud.scoring`); accounts are ranked as a
whole here, which is how mules and laundering accounts are found: an account that receives from many new
senders and passes most of it on within hours, or receives from accounts known as fraud, is suspect
whatever each single payment looks like.

What an account's score is made of
----------------------------------
:data:`ACCOUNT_FEATURES`, read from the serving engine's state (the same engine that scores transactions:
:mod:`graphfraud.graph.flows` for money between users, its components for shared identifiers): money out and
in (counts, totals, mean, spread, smallest and largest amounts), partners on each side and in both, how
balanced in and out are, when the account was active, and its exposure to accounts known as fraud (money
from them, from accounts they paid, to them, amount-weighted PageRank restarted at them, and the same over
the partner graph, one unweighted link per pair of accounts that traded). Every column is computed for all
accounts at once, vectorised over the engine's arrays.

How it learns
-------------
Accounts known as fraud (a user label ``fraudster`` or ``mule``, or fraud by :mod:`graphfraud.labels`) are
the positives; every other account is *unlabelled*, not known clean (positive-unlabelled learning: a model of
"known fraud or not" ranks accounts as a model of "fraud or not" would, when the known ones are a fair draw
of all). Exposure features would leak labels: a known fraud account sits at the centre of its own exposure.
So accounts are split into :data:`FOLDS` folds, and each fold's features are computed with that fold's labels
hidden, as if its known accounts were not known; the model learns from these rows, so it sees labelled
accounts the way it will see unlabelled ones. Known accounts are scored out of fold (by a model that did not
see their labels); every other account by the model fitted on all rows, with every label known.

``graphfraud train`` fits the account model whenever the store has known fraud accounts (no transaction
label is needed) and keeps it as a model version of kind ``accounts``; ``graphfraud suspects`` ranks with it.
"""
from __future__ import annotations

import math
import time
import weakref
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import progress
from .errors import ModelNotReady
from .graph.engine import GraphEngine
from .output import one
from .storage.roles import GraphStore

DAY = 86_400_000
FOLDS = 5
#: A store needs at least this many accounts known as fraud to train the account model.
MIN_POSITIVES = 5
ACCOUNTS_STATUS = "accounts"  # the status of the account model version in use
ACCOUNT_FEATURES = (
    "n_out", "n_in", "amount_out", "amount_in", "mean_out", "mean_in", "min_out", "min_in", "max_out", "max_in",
    "std_out", "std_in", "fan_out", "fan_in", "reciprocal_partners", "flow_balance", "active_days",
    "days_since_first", "days_since_last", "amount_out_7d", "amount_in_7d",
    "fraud_in_amount", "fraud_senders", "hop2_in_amount", "fraud_out_amount", "fraud_recipients",
    "fraud_partner_share", "flow_proximity", "flow_pagerank",
    "n_transactions", "n_identifiers", "comp_users", "comp_other_fraud",
    # from the whole transfer graph: the median amounts, money that comes back (directed cycles through the
    # account of 2, 3 and 4 transfers), and the transfers with known fraud on either side
    "median_out", "median_in", "small_out", "small_in", "cycles_2", "cycles_3", "cycles_4",
    "min_from_fraud", "min_to_fraud", "small_from_fraud", "small_to_fraud", "fraud_within_2_hops",
    # PageRank restarted at known fraud over the partner graph (one undirected link per pair of accounts that
    # traded, whatever the amounts): small laundering transfers count as much as large ordinary ones
    "partner_proximity", "partner_proximity_each",
)
#: A transfer is "small" below this quantile of every transfer's amount in the data (the issue's observation:
#: laundering moves money in amounts far from the ordinary ones; structuring and testing use small ones).
SMALL_QUANTILE = 0.1
_STRUCTURE = ACCOUNT_FEATURES.index("median_out")
_EDGES = ACCOUNT_FEATURES.index("min_from_fraud")
_PROXIMITY = ACCOUNT_FEATURES.index("flow_proximity")  # then flow_pagerank: the snapshot's two ranks
_WORDS = {
    "fraud_in_amount": "received {v} from {fraud_senders} accounts known as fraud",
    "fraud_senders": "received money from {v} accounts known as fraud",
    "hop2_in_amount": "received {v} from accounts that were paid by known fraud",
    "fraud_out_amount": "sent {v} to {fraud_recipients} accounts known as fraud",
    "fraud_recipients": "sent money to {v} accounts known as fraud",
    "fraud_partner_share": "{pct} of its partners are known fraud",
    "flow_proximity": "close to known fraud along the money ({v})",
    "partner_proximity": "close to known fraud through its trading partners ({v})",
    "partner_proximity_each": "close to known fraud through few trading partners ({v} per partner)",
    "flow_balance": "passed on {pct} of the money it received (in {amount_in}, out {amount_out})",
    "fan_in": "received from {v} accounts", "fan_out": "sent to {v} accounts",
    "reciprocal_partners": "{v} accounts both paid it and were paid by it",
    "mean_in": "receives {v} on average", "mean_out": "sends {v} on average",
    "min_in": "smallest amount received {v}", "min_out": "smallest amount sent {v}",
    "max_in": "largest amount received {v}", "max_out": "largest amount sent {v}",
    "n_in": "{v} transfers received", "n_out": "{v} transfers sent",
    "amount_in_7d": "received {v} in the last 7 days of the data", "amount_out_7d": "sent {v} in the last 7 days",
    "active_days": "active over {v} days", "comp_other_fraud": "shares identifiers with {v} known fraud accounts",
}


@dataclass
class Suspect:
    """One ranked account: ``known`` when it is already known as fraud (scored out of fold)."""

    user_id: str
    score: float
    reasons: list[str] = field(default_factory=list)
    ring_id: str | None = None
    known: bool = False
    rank: int = 0  # place among all the accounts ranked (1: the riskiest)

    def to_dict(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "score": round(self.score, 6), "reasons": self.reasons,
                "ring_id": self.ring_id, "known_fraud": self.known}


def known_fraud_accounts(engine: GraphEngine) -> np.ndarray:
    """User indices known as fraud now (:func:`graphfraud.labels.known_fraud_user`)."""
    return np.flatnonzero(np.fromiter(engine.u_fraud, dtype=bool, count=len(engine.u_fraud)))


def account_features(engine: GraphEngine, users: Sequence[int], hidden: Collection[int] = (),
                     structure: np.ndarray | None = None) -> np.ndarray:
    """:data:`ACCOUNT_FEATURES` of ``users`` (user indices) as of the engine's latest event, as if the
    accounts in ``hidden`` were not known as fraud (their labels hidden for out-of-fold training).

    Every column is computed for all accounts at once from the engine's arrays (its transfers, as
    :class:`FlowGraph` keeps them, and its components), given which accounts count as known fraud: hiding
    labels changes an input, not the engine. The figures are those the engine's incremental bookkeeping
    holds for each account (``tests/test_flows.py`` checks them against it). ``structure``
    (:func:`transfer_structure`, which needs no label) may be given when it was computed already.
    """
    hidden = [h for h in hidden if engine.u_fraud[h]]
    fraud = np.fromiter(engine.u_fraud, dtype=bool, count=len(engine.u_fraud))
    fraud[hidden] = False
    idx = np.asarray(users, dtype=np.int64)
    out = np.full((len(idx), len(ACCOUNT_FEATURES)), np.nan)
    out[:, _STRUCTURE - 4:_STRUCTURE] = _identity_columns(engine, fraud, hidden)[idx]
    flows = engine.flows
    if flows is None or not len(flows.src):
        return out
    whole = None if hidden else _whole_graph(engine, fraud)
    if whole is not None:
        (pr, prox), structure, edges, money = whole
    else:
        pr, prox = _flow_ranks(engine, fraud)
        structure = structure if structure is not None else transfer_structure(engine)
        edges = _fraud_edges(engine, fraud)
        money = _money_columns(engine, fraud)
    m = money[idx]
    active = ~np.isnan(m[:, 0])  # accounts that sent or received a transfer
    out[:, :_PROXIMITY] = m
    out[active, _PROXIMITY] = prox[idx[active]]
    out[active, _PROXIMITY + 1] = pr[idx[active]]
    out[:, _STRUCTURE:_EDGES] = structure[idx]
    out[:, _EDGES:] = edges[idx]
    return out


def _identity_columns(engine: GraphEngine, fraud: np.ndarray, hidden: Collection[int]) -> np.ndarray:
    """Per user index: transactions, identifiers used, users in its component of shared identifiers and the
    other known fraud among them (``fraud``: known fraud with the ``hidden`` accounts left out)."""
    n = len(engine.u_name)
    find, comp = engine.find, engine.comp
    roots = np.fromiter((find(x) for x in engine.u_node), dtype=np.int64, count=n)
    uniq = _distinct(roots)
    inv = np.searchsorted(uniq, roots)
    comps = [comp[r] for r in uniq.tolist()]
    users = np.fromiter((c.users if c is not None else 1 for c in comps), dtype=float, count=len(comps))
    known = np.fromiter((c.fraud_users if c is not None else 0 for c in comps), dtype=float, count=len(comps))
    hid = np.zeros(n, dtype=bool)
    hid[list(hidden)] = True
    known -= np.bincount(inv, weights=hid, minlength=len(comps))
    out = np.empty((n, 4))
    out[:, 0] = np.fromiter(engine.u_ntx, dtype=float, count=n)
    out[:, 1] = np.fromiter((len(e) for e in engine.u_ents), dtype=float, count=n)
    out[:, 2] = users[inv]
    out[:, 3] = known[inv] - fraud
    return out


def _distinct(keys: np.ndarray) -> np.ndarray:
    """The distinct values of ``keys``, sorted (a sort and a comparison: faster than :func:`numpy.unique`
    on millions of integer keys)."""
    keys = np.sort(keys)
    return keys[np.r_[True, keys[1:] != keys[:-1]]] if len(keys) else keys


def _money_columns(engine: GraphEngine, fraud: np.ndarray) -> np.ndarray:
    """Per user index, :data:`ACCOUNT_FEATURES` up to ``fraud_partner_share`` (NaN rows for accounts without
    a transfer), from every transfer and which accounts count as known fraud: the same figures as
    :class:`~graphfraud.graph.flows.Account` keeps incrementally, as of the engine's latest event."""
    n, src, dst, amt = _transfer_arrays(engine)
    assert engine.flows is not None
    ts = np.frombuffer(engine.flows.ts, dtype=np.int64)
    now = int(engine.clock) if engine.clock != -math.inf else 0
    out = np.full((n, _PROXIMITY), np.nan)
    col = {f: j for j, f in enumerate(ACCOUNT_FEATURES[:_PROXIMITY])}
    active = (np.bincount(src, minlength=n) + np.bincount(dst, minlength=n)) > 0
    # distinct (payer, receiver) pairs, and the partners of each account either way
    pairs = _distinct(src * n + dst)
    ps, pd_ = pairs // n, pairs % n
    either = _distinct(np.concatenate([pairs, pd_ * n + ps]))
    ea = either // n
    partners = np.bincount(ea, minlength=n)
    fraud_partners = np.bincount(ea, weights=fraud[either % n], minlength=n)
    reverse = pd_ * n + ps
    at = np.minimum(np.searchsorted(pairs, reverse), len(pairs) - 1)
    reciprocal = pairs[at] == reverse
    first = np.full(n, np.iinfo(np.int64).max)
    last = np.full(n, -1, dtype=np.int64)
    recent = ts >= now - 7 * DAY
    with np.errstate(invalid="ignore", divide="ignore"):
        for side, key in ((src, "out"), (dst, "in")):
            cnt = np.bincount(side, minlength=n).astype(float)
            total = np.bincount(side, weights=amt, minlength=n)
            sq = np.bincount(side, weights=amt * amt, minlength=n)
            mean = total / cnt
            low = np.full(n, np.inf)
            np.minimum.at(low, side, amt)
            high = np.zeros(n)
            np.maximum.at(high, side, amt)
            some = cnt > 0
            out[:, col[f"n_{key}"]] = cnt
            out[:, col[f"amount_{key}"]] = total
            out[:, col[f"mean_{key}"]] = np.where(some, mean, np.nan)
            out[:, col[f"min_{key}"]] = np.where(some, low, np.nan)
            out[:, col[f"max_{key}"]] = np.where(some, high, np.nan)
            out[:, col[f"std_{key}"]] = np.where(some, np.sqrt(np.maximum(sq / cnt - mean * mean, 0.0)), np.nan)
            out[:, col[f"amount_{key}_7d"]] = np.bincount(side[recent], weights=amt[recent], minlength=n)
            np.minimum.at(first, side, ts)
            np.maximum.at(last, side, ts)
        out[:, col["fan_out"]] = np.bincount(ps, minlength=n)
        out[:, col["fan_in"]] = np.bincount(pd_, minlength=n)
        out[:, col["reciprocal_partners"]] = np.bincount(ps[reciprocal], minlength=n)
        big = np.maximum(out[:, col["amount_out"]], out[:, col["amount_in"]])
        small = np.minimum(out[:, col["amount_out"]], out[:, col["amount_in"]])
        out[:, col["flow_balance"]] = np.where(big > 0, small / big, np.nan)
        out[:, col["active_days"]] = (last - first) / DAY
        out[:, col["days_since_first"]] = (now - first) / DAY
        out[:, col["days_since_last"]] = (now - last) / DAY
        from_fraud = fraud[src]
        fraud_senders = np.bincount(pd_[fraud[ps]], minlength=n)
        exposed = fraud_senders > 0  # received from known fraud: what it sends on is two hops from fraud
        out[:, col["fraud_in_amount"]] = np.bincount(dst[from_fraud], weights=amt[from_fraud], minlength=n)
        out[:, col["fraud_senders"]] = fraud_senders
        hop2 = exposed[src]
        out[:, col["hop2_in_amount"]] = np.bincount(dst[hop2], weights=amt[hop2], minlength=n)
        to_fraud = fraud[dst]
        out[:, col["fraud_out_amount"]] = np.bincount(src[to_fraud], weights=amt[to_fraud], minlength=n)
        out[:, col["fraud_recipients"]] = np.bincount(ps[fraud[pd_]], minlength=n)
        out[:, col["fraud_partner_share"]] = np.where(partners > 0, fraud_partners / partners, np.nan)
    out[~active] = np.nan
    return out


# The whole-graph parts of the features (PageRank, the transfer structure, two-hop reach of known fraud) as
# of one state of an engine: one account's risk (the API, the account page) then costs a few lookups.
_WHOLE: "weakref.WeakKeyDictionary[GraphEngine, tuple[Any, ...]]" = weakref.WeakKeyDictionary()


def _whole_graph(engine: GraphEngine, fraud: np.ndarray) -> tuple[Any, Any, Any, Any] | None:
    flows = engine.flows
    if flows is None or not len(flows.src):
        return None
    # transactions applied, labels revealed and transfers: the state every whole-graph part depends on
    state = (engine.n_tx, engine._order, len(flows.src), len(engine.u_name))
    hit = _WHOLE.get(engine)
    if hit is not None and hit[0] == state:
        return hit[1]  # type: ignore[no-any-return]
    value = (_flow_ranks(engine, fraud), transfer_structure(engine), _fraud_edges(engine, fraud),
             _money_columns(engine, fraud))
    _WHOLE[engine] = (state, value)
    return value

def _transfer_arrays(engine: GraphEngine) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """(users, payer indices, receiver indices, amounts) of every transfer the engine holds."""
    flows = engine.flows
    assert flows is not None
    src = np.frombuffer(flows.src, dtype=np.int32).astype(np.int64)
    dst = np.frombuffer(flows.dst, dtype=np.int32).astype(np.int64)
    return len(engine.u_name), src, dst, np.frombuffer(flows.amount, dtype=np.float64)


def transfer_structure(engine: GraphEngine) -> np.ndarray:
    """Per user index, the label-free columns read from the whole transfer graph: median amount sent and
    received, how many transfers sent and received were small (:data:`SMALL_QUANTILE`), and directed cycles
    through the account of 2, 3 and 4 transfers (distinct partner paths, from powers of the
    account-to-account adjacency matrix)."""
    import pandas as pd
    from scipy import sparse

    n, src, dst, amt = _transfer_arrays(engine)
    out = np.full((n, _EDGES - _STRUCTURE), np.nan)
    out[:, 0] = pd.Series(amt).groupby(src).median().reindex(range(n)).to_numpy()
    out[:, 1] = pd.Series(amt).groupby(dst).median().reindex(range(n)).to_numpy()
    small = (amt <= np.quantile(amt, SMALL_QUANTILE)).astype(float)
    out[:, 2] = np.bincount(src, weights=small, minlength=n)
    out[:, 3] = np.bincount(dst, weights=small, minlength=n)
    a = sparse.csr_matrix((np.ones(len(src)), (src, dst)), shape=(n, n))
    a.data[:] = 1.0  # one edge per ordered pair of accounts
    a.setdiag(0)
    a.eliminate_zeros()
    at = a.T.tocsr()
    a2 = a @ a
    out[:, 4] = np.asarray(a.multiply(at).sum(axis=1)).ravel()
    out[:, 5] = np.asarray(a2.multiply(at).sum(axis=1)).ravel()
    out[:, 6] = np.asarray(a2.multiply(a2.T).sum(axis=1)).ravel()
    return out


def _fraud_edges(engine: GraphEngine, fraud: np.ndarray) -> np.ndarray:
    """Per user index, given which accounts count as known fraud: the smallest amount received from one and
    sent to one (NaN when none), how many small transfers (:data:`SMALL_QUANTILE`) came from one and went to
    one, how many known fraud accounts are within two transfers either way, and PageRank restarted at them
    over the partner graph (:func:`partner_proximity`), as is and per partner."""
    from scipy import sparse

    n, src, dst, amt = _transfer_arrays(engine)
    out = np.full((n, len(ACCOUNT_FEATURES) - _EDGES), np.nan)
    small = amt <= np.quantile(amt, SMALL_QUANTILE)
    for col, (side, other) in enumerate(((dst, src), (src, dst))):
        sel = fraud[other]
        low = np.full(n, np.inf)
        np.minimum.at(low, side[sel], amt[sel])
        out[:, col] = np.where(np.isfinite(low), low, np.nan)
        out[:, 2 + col] = np.bincount(side[sel & small], minlength=n)
    # distinct known fraud accounts within two transfers either way, the account itself left out: paths to
    # the known accounts' columns only (the whole two-hop matrix is large around hubs)
    known = np.flatnonzero(fraud)
    both = np.concatenate([src, dst]), np.concatenate([dst, src])
    b = sparse.csr_matrix((np.ones(len(both[0])), both), shape=(n, n))
    to_known = b[:, known]
    reach = (to_known + b @ to_known).tocoo()
    keep = reach.row != known[reach.col]
    out[:, 4] = np.bincount(reach.row[keep], minlength=n)
    out[:, 5], out[:, 6] = partner_proximity(n, src, dst, fraud)
    return out


#: The restart probability of :func:`partner_proximity` (1 - PageRank's damping): risk spreads a few links.
PARTNER_RESTART = 0.3


def partner_proximity(n: int, src: np.ndarray, dst: np.ndarray, fraud: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PageRank restarted at the ``fraud`` accounts over the partner graph: one undirected, unweighted link per
    pair of accounts that traded (either way, any number of times; self-transfers left out). Scaled so 1.0
    is the average over accounts with partners; also divided by the account's number of partners (a link to
    a hub of hundreds says less than a link to an account with three partners). Zeros without known fraud.

    Amount-weighted proximity (``flow_proximity``) follows the money; this follows who trades with whom,
    which is what laundering accounts that move small amounts, or none yet, share with known ones.

    >>> import numpy as np
    >>> p, each = partner_proximity(4, np.array([0, 1, 2]), np.array([1, 2, 3]), np.array([1, 0, 0, 0], bool))
    >>> bool(p[1] > p[2] > p[3] > 0)
    True
    """
    from .pagerank import pagerank

    keep = src != dst
    lo, hi = np.minimum(src[keep], dst[keep]), np.maximum(src[keep], dst[keep])
    pairs = _distinct(lo * np.int64(n) + hi)
    a, b = pairs // n, pairs % n
    partners = np.bincount(a, minlength=n) + np.bincount(b, minlength=n)
    if not fraud.any() or not len(pairs):
        return np.zeros(n), np.zeros(n)
    scale = max(int((partners > 0).sum()), 1)
    p = pagerank(n, a, b, personalization=fraud.astype(float), alpha=1 - PARTNER_RESTART) * scale
    return p, p / np.maximum(partners, 1)


def _flow_ranks(engine: GraphEngine, fraud: np.ndarray) -> tuple[Any, Any]:
    flows = engine.flows
    if flows is None or not len(flows.src):
        return None, None
    from .graph.flows import flow_snapshot

    return flow_snapshot(flows, len(engine.u_name), np.flatnonzero(fraud))


def _classifier(random_state: int = 0) -> Any:
    from .classifier import GraphFraudClassifier

    # small trees, many rows per leaf: positive-unlabelled rows are noisy (hidden fraud among the unlabelled)
    return GraphFraudClassifier(max_iter=300, learning_rate=0.05, max_leaf_nodes=7, min_samples_leaf=50,
                                l2_regularization=1.0, random_state=random_state, n_threads=1)


def fit_accounts(engine: GraphEngine, *, folds: int = FOLDS, seed: int = 0,
                 log: Callable[[str], None] = lambda s: None) -> tuple[Any, dict[str, Any], dict[int, float]]:
    """Fit the account model on ``engine``'s accounts; returns ``(classifier, meta, out-of-fold scores of the
    known accounts)``. Raises :class:`ModelNotReady` with fewer than :data:`MIN_POSITIVES` known accounts."""
    t0 = time.perf_counter()
    users = np.arange(len(engine.u_name))
    positives = known_fraud_accounts(engine)
    if len(positives) < MIN_POSITIVES or len(positives) == len(users):
        raise ModelNotReady(f"The account model needs at least {MIN_POSITIVES} accounts known as fraud and some "
                            f"others; the store has {len(positives)} of {len(users)}. Label accounts with "
                            "`graphfraud label` (user_id,user_label) first.")
    y = np.zeros(len(users), dtype=int)
    y[positives] = 1
    fold = np.random.default_rng(seed).integers(0, folds, size=len(users))
    X = np.empty((len(users), len(ACCOUNT_FEATURES)))
    with progress.phase("account features", total=len(users), unit="accounts") as shown:
        structure = transfer_structure(engine) if engine.flows is not None and len(engine.flows.src) else None
        for k in range(folds):
            rows = np.flatnonzero(fold == k)
            X[rows] = account_features(engine, rows.tolist(), hidden=positives[fold[positives] == k].tolist(),
                                       structure=structure)
            shown.update(int((fold <= k).sum()))
    log(f"account features for {len(users):,} accounts ({len(positives):,} known fraud) in "
        f"{time.perf_counter() - t0:.1f} s")
    oof = np.zeros(len(users))
    with progress.phase(f"fitting the account model ({folds} folds and a final fit)"):
        for k in range(folds):
            test = fold == k
            if y[~test].sum() == 0 or y[~test].sum() == (~test).sum():
                continue
            clf = _classifier(k).fit(_frame(X[~test]), y[~test])
            oof[test] = clf.predict_proba(_frame(X[test]))[:, 1]
        clf = _classifier().fit(_frame(X), y)
    from sklearn.metrics import average_precision_score

    meta = {"kind": "accounts", "n_accounts": int(len(users)), "n_known_fraud": int(len(positives)),
            "folds": folds, "metrics": {"oof_average_precision_known_vs_unlabelled":
                                        round(float(average_precision_score(y, oof)), 4)}}
    log(f"account model fitted in {time.perf_counter() - t0:.1f} s: {meta['metrics']}")
    return clf, meta, {int(u): float(oof[u]) for u in positives}


def _frame(X: np.ndarray) -> Any:
    import pandas as pd

    return pd.DataFrame(X, columns=list(ACCOUNT_FEATURES))


def train_accounts(store: GraphStore, engine: GraphEngine, *, log: Callable[[str], None] = lambda s: None
                   ) -> dict[str, Any] | None:
    """Fit and keep the account model (a model version of kind ``accounts``, put in use at once), with the
    out-of-fold scores of the known accounts; ``None`` when the store has too few known fraud accounts."""
    return keep_accounts(store, fit_account_model(engine, log=log))


def fit_account_model(engine: GraphEngine, *, log: Callable[[str], None] = lambda s: None
                      ) -> tuple[Any, dict[str, Any]] | None:
    """The account model and its metadata (out-of-fold scores of the known accounts by user id), fitted on
    the engine as it is; ``None`` when it has too few known fraud accounts. Nothing of the engine is kept."""
    try:
        clf, meta, oof = fit_accounts(engine, log=log)
    except ModelNotReady as e:
        log(f"no account model: {e}")
        return None
    meta["oof_scores"] = {engine.u_name[u]: round(s, 6) for u, s in oof.items()}
    return clf, meta


def keep_accounts(store: GraphStore, fitted: tuple[Any, dict[str, Any]] | None) -> dict[str, Any] | None:
    """Save an account model from :func:`fit_account_model` as a new version and put it in use."""
    from .models import save_model

    if fitted is None:
        return None
    clf, meta = fitted
    version = save_model(store, clf, meta)
    for m in store.list_models():
        if m["status"] == ACCOUNTS_STATUS and m["version"] != version:
            store.set_model_status(m["version"], "retired")
    store.set_model_status(version, ACCOUNTS_STATUS)
    meta.pop("oof_scores")
    return {"version": version, **meta}


_MODELS: dict[tuple[str, str], Any] = {}


def account_model(store: GraphStore) -> Any:
    """The account model in use (a :class:`~graphfraud.classifier.CompiledModel`), or ``None``; a version
    already loaded from this store is not loaded again."""
    from .models import load_model

    for m in reversed(store.list_models()):
        if m["status"] == ACCOUNTS_STATUS:
            key = (str(store.location), str(m["version"]))
            if key not in _MODELS:
                if len(_MODELS) > 8:
                    _MODELS.clear()
                _MODELS[key] = load_model(store, m["version"])
            return _MODELS[key]
    return None


def rank_suspects(store: GraphStore, engine: GraphEngine, *, top: int = 50, users: Sequence[str] | None = None,
                  reasons: int = 3, top_new: int = 0) -> list[Suspect]:
    """Accounts ranked by risk, best first (``top`` 0: all; ``users``: only these user ids); with ``top_new``,
    also the best ``top_new`` accounts not known as fraud (on a store where the top is all known fraud, the
    queue of new suspects would be short otherwise).

    Raises :class:`ModelNotReady` when no account model has been trained.
    """
    model = account_model(store)
    if model is None:
        raise ModelNotReady("No account model yet: label some accounts (`graphfraud label` with "
                            "user_id,user_label) and run `graphfraud train`.")
    if users is None:
        idx = list(range(len(engine.u_name)))
    else:
        idx = [engine.user_ix[u] for u in users if u in engine.user_ix]
    with progress.phase(f"account features of {len(idx):,} accounts"):
        X = account_features(engine, idx)
    cols = [ACCOUNT_FEATURES.index(f) for f in model.features]
    scores = model.predict_many(X[:, cols])
    oof = model.meta.get("oof_scores") or {}
    # known accounts carry their out-of-fold score; ties keep the model's order, then the accounts' order
    final = scores.astype(float)
    names = engine.u_name
    is_known = np.fromiter((engine.u_fraud[u] for u in idx), dtype=bool, count=len(idx))
    for k in np.flatnonzero(is_known).tolist():
        final[k] = float(oof.get(names[idx[k]], scores[k]))
    order = np.lexsort((np.arange(len(idx)), -scores, -final))
    place = np.arange(1, len(order) + 1)
    if top:
        keep = place <= top
        if top_new:
            keep |= (~is_known[order]) & (np.cumsum(~is_known[order]) <= top_new)
        order, place = order[keep], place[keep]
    out = [Suspect(names[idx[k]], float(final[k]), known=bool(is_known[k]), rank=int(r))
           for k, r in zip(order.tolist(), place.tolist())]
    rows = {engine.u_name[u]: k for k, u in enumerate(idx)}
    for sus in out:
        if reasons:
            x = X[rows[sus.user_id]]
            sus.reasons = explain_account(model, x[cols], dict(zip(ACCOUNT_FEATURES, x.tolist())), reasons)
    try:
        rings = store.ring_of_users([sus.user_id for sus in out])
    except Exception:  # noqa: BLE001 - a store without a ring registry yet: no ring ids
        rings = {}
    for sus in out:
        sus.ring_id = rings.get(sus.user_id)
    return out


def explain_account(model: Any, x: np.ndarray, values: dict[str, float], top: int = 3) -> list[str]:
    """The model's strongest reasons for an account's score, in plain words."""
    out = []
    for name, _ in model.explain_one(x, top=top, positive_only=True):
        v = values.get(name, math.nan)
        tpl = _WORDS.get(name, name.replace("_", " ") + " {v}")
        tpl = one(tpl, v=v, fraud_senders=values.get("fraud_senders", math.nan),
                  fraud_recipients=values.get("fraud_recipients", math.nan))
        out.append(tpl.format(v=_num(v), pct=_pct(v), **{k: _num(values.get(k, math.nan)) for k in
                                                          ("fraud_senders", "fraud_recipients", "amount_in",
                                                           "amount_out")}))
    return out


def _num(v: float) -> str:
    if isinstance(v, float) and math.isnan(v):
        return "unknown"
    return f"{v:,.0f}" if abs(v - round(v)) < 1e-9 else f"{v:,.2f}"


def _pct(v: float) -> str:
    return "unknown" if isinstance(v, float) and math.isnan(v) else f"{v:.0%}"


def format_suspects(ranked: Sequence[Suspect], fmt: str = "table", raw: bool = False) -> str:
    """Ranked accounts as ``json`` (a list), ``csv`` (``user_id,score,reasons,ring_id,known_fraud``, through
    :func:`graphfraud.output.csv_writer`) or a ``table`` for people.

    >>> print(format_suspects([Suspect("u1", 0.93, ["received 40 from 2 accounts known as fraud"])], "csv"), end="")
    user_id,score,reasons,ring_id,known_fraud
    u1,0.930000,received 40 from 2 accounts known as fraud,,0
    """
    import io
    import json

    from .output import csv_writer, visible

    if fmt == "json":
        return json.dumps([s.to_dict() for s in ranked]) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        w = csv_writer(buf, raw=raw, lineterminator="\n")
        w.writerow(["user_id", "score", "reasons", "ring_id", "known_fraud"])
        for s in ranked:
            w.writerow([s.user_id, f"{s.score:.6f}", " | ".join(s.reasons), s.ring_id or "", int(s.known)])
        return buf.getvalue()
    lines = [f"{'user_id':<24} {'score':>6}  reasons"]
    for s in ranked:  # read on a terminal: ids cannot hide characters there
        lines.append(f"{visible(s.user_id, terminal=True)[:24]:<24} {s.score:6.3f}  {'(known) ' if s.known else ''}"
                     f"{visible('; '.join(s.reasons), terminal=True)}")
    return "\n".join(lines) + "\n"
