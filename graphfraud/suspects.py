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
from them, from accounts they paid, to them, and amount-weighted PageRank restarted at them).

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
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import progress
from .errors import ModelNotReady
from .graph.engine import GraphEngine
from .graph.flows import Account
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
)
#: A transfer is "small" below this quantile of every transfer's amount in the data (the issue's observation:
#: laundering moves money in amounts far from the ordinary ones; structuring and testing use small ones).
SMALL_QUANTILE = 0.1
_STRUCTURE = ACCOUNT_FEATURES.index("median_out")
_EDGES = ACCOUNT_FEATURES.index("min_from_fraud")
_WORDS = {
    "fraud_in_amount": "received {v} from {fraud_senders} accounts known as fraud",
    "fraud_senders": "received money from {v} accounts known as fraud",
    "hop2_in_amount": "received {v} from accounts that were paid by known fraud",
    "fraud_out_amount": "sent {v} to {fraud_recipients} accounts known as fraud",
    "fraud_recipients": "sent money to {v} accounts known as fraud",
    "fraud_partner_share": "{pct} of its partners are known fraud",
    "flow_proximity": "close to known fraud along the money ({v})",
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

    The exposure figures come from the engine's own incremental bookkeeping (:class:`FlowGraph`): hidden
    accounts are taken out of the known-fraud set and put back afterwards, through the same method live
    labels go through. ``structure`` (:func:`transfer_structure`, which needs no label) may be given when it
    was computed already.
    """
    flows = engine.flows
    hidden = [h for h in hidden if engine.u_fraud[h]]
    fraud = np.fromiter(engine.u_fraud, dtype=bool, count=len(engine.u_fraud))
    fraud[hidden] = False
    now = int(engine.clock) if engine.clock != -math.inf else 0
    if flows is not None:
        for h in hidden:
            flows.set_fraud(h, False)
    whole = None if hidden else _whole_graph(engine, fraud)
    try:
        pr, prox = whole[0] if whole is not None else _flow_ranks(engine, fraud)
        hidden_roots = Counter(engine.find(engine.u_node[h]) for h in hidden)
        out = np.full((len(users), len(ACCOUNT_FEATURES)), np.nan)
        accounts = flows.accounts if flows is not None else {}
        for row, u in enumerate(users):
            acc = accounts.get(u)
            root = engine.find(engine.u_node[u])
            c = engine.comp[root]
            comp_users = c.users if c is not None else 1
            other_fraud = (c.fraud_users if c is not None else 0) - hidden_roots.get(root, 0) - int(fraud[u])
            tail = (float(engine.u_ntx[u]), float(len(engine.u_ents[u])), float(comp_users), float(other_fraud))
            if acc is None:
                out[row, _STRUCTURE - 4:_STRUCTURE] = tail
                continue
            out[row, :_STRUCTURE] = (*_money(acc, now, fraud), float(pr[u]) if pr is not None else np.nan, *tail)
            out[row, ACCOUNT_FEATURES.index("flow_proximity")] = float(prox[u]) if prox is not None else np.nan
    finally:
        if flows is not None:
            for h in hidden:
                flows.set_fraud(h, True)
    if flows is not None and len(flows.src):
        idx = np.asarray(users, dtype=np.int64)
        if whole is not None:
            structure, edges = whole[1], whole[2]
        else:
            structure = structure if structure is not None else transfer_structure(engine)
            edges = _fraud_edges(engine, fraud)
        out[:, _STRUCTURE:_EDGES] = structure[idx]
        out[:, _EDGES:] = edges[idx]
    return out


# The whole-graph parts of the features (PageRank, the transfer structure, two-hop reach of known fraud) as
# of one state of an engine: one account's risk (the API, the account page) then costs a few lookups.
_WHOLE: "weakref.WeakKeyDictionary[GraphEngine, tuple[Any, ...]]" = weakref.WeakKeyDictionary()


def _whole_graph(engine: GraphEngine, fraud: np.ndarray) -> tuple[Any, Any, Any] | None:
    flows = engine.flows
    if flows is None or not len(flows.src):
        return None
    # transactions applied, labels revealed and transfers: the state every whole-graph part depends on
    state = (engine.n_tx, engine._order, len(flows.src), len(engine.u_name))
    hit = _WHOLE.get(engine)
    if hit is not None and hit[0] == state:
        return hit[1]  # type: ignore[no-any-return]
    value = (_flow_ranks(engine, fraud), transfer_structure(engine), _fraud_edges(engine, fraud))
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
    one, and how many known fraud accounts are within two transfers either way."""
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
    both = np.concatenate([src, dst]), np.concatenate([dst, src])
    b = sparse.csr_matrix((np.ones(len(both[0])), both), shape=(n, n))
    b.data[:] = 1.0
    reach = b + b @ b
    reach.setdiag(0)
    reach.eliminate_zeros()
    reach.data[:] = 1.0
    out[:, 4] = reach @ fraud.astype(float)
    return out


def _money(acc: Account, now: int, fraud: np.ndarray) -> tuple[float, ...]:
    """The money features of one account, up to ``fraud_partner_share`` and a placeholder for proximity."""
    o, i = acc.out, acc.inn
    partners = set(o.total) | set(i.total)
    n_fraud_partners = sum(1 for p in partners if fraud[p])

    def stats(side: Any) -> tuple[float, float, float, float]:
        if not side.n:
            return np.nan, np.nan, np.nan, np.nan
        mean = side.amount / side.n
        return mean, side.smallest, side.largest, math.sqrt(max(side.amount_sq / side.n - mean * mean, 0.0))

    mo, mno, mxo, so = stats(o)
    mi, mni, mxi, si = stats(i)
    firsts = [t for t in (o.first_ts, i.first_ts) if t >= 0]
    lasts = [t for t in (o.last_ts, i.last_ts) if t >= 0]
    first, last = min(firsts), max(lasts)
    big = max(o.amount, i.amount)
    return (float(o.n), float(i.n), o.amount, i.amount, mo, mi, mno, mni, mxo, mxi, so, si,
            float(len(o.total)), float(len(i.total)), float(len(o.total.keys() & i.total.keys())),
            min(o.amount, i.amount) / big if big > 0 else np.nan, (last - first) / DAY, (now - first) / DAY,
            (now - last) / DAY, o.window(now - 7 * DAY)[1], i.window(now - 7 * DAY)[1],
            acc.fraud_in, float(acc.fraud_senders), acc.hop2_in, acc.fraud_out, float(acc.fraud_recipients),
            n_fraud_partners / len(partners) if partners else np.nan, np.nan)


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
    from .models import save_model

    try:
        clf, meta, oof = fit_accounts(engine, log=log)
    except ModelNotReady as e:
        log(f"no account model: {e}")
        return None
    meta["oof_scores"] = {engine.u_name[u]: round(s, 6) for u, s in oof.items()}
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
                  reasons: int = 3) -> list[Suspect]:
    """Accounts ranked by risk, best first (``top`` 0: all; ``users``: only these user ids).

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
    order = np.argsort(-scores, kind="stable")
    out = []
    for k in order.tolist():
        u = idx[k]
        name = engine.u_name[u]
        known = bool(engine.u_fraud[u])
        s = float(oof.get(name, scores[k])) if known else float(scores[k])
        out.append(Suspect(name, s, known=known))
    out.sort(key=lambda s: -s.score)
    if top:
        out = out[:top]
    rows = {engine.u_name[u]: k for k, u in enumerate(idx)}
    for sus in out[:max(top, 0) or len(out)]:
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

    from .output import csv_writer

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
    for s in ranked:
        lines.append(f"{s.user_id[:24]:<24} {s.score:6.3f}  {'(known) ' if s.known else ''}{'; '.join(s.reasons)}")
    return "\n".join(lines) + "\n"
