"""Scoring: validate -> catch up -> features -> model + rules -> decision, reasons, ring -> store -> apply.

:func:`decide` turns a feature row (and a model probability) into a decision with reasons; it is the one
place decisions are made, for the API, batch scoring and backtests alike. :class:`Scorer` is the online
path of one process: it keeps a :class:`~graphfraud.graph.engine.GraphEngine` in step with the store
(applying what other processes wrote since its last sequence number), scores, stores the transaction and
its decision durably, and only then answers.
"""
from __future__ import annotations

import gc
import hashlib
import logging
import math
import os
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from . import settings
from .errors import Conflict, GraphFraudError, ValidationError
# engine construction lives in graph.build; these names stay importable from here
from .graph.build import build_engine as build_engine
from .graph.build import load_or_build_engine as load_or_build_engine
from .graph.build import new_engine as new_engine
from .graph.activity import holds
from .graph.engine import GraphEngine
from .graph.features import compute_features, row_names
from .ringscore import ClusterStats, score_cluster
from .rules import Hit, RuleSet
from .schema import Label, Transaction
from .storage.base import Event
from .storage.roles import GraphStore

log = logging.getLogger(__name__)

DECISIONS = ("allow", "review", "block")
_CATCH_UP_BATCH = 5000  # events read at a time while catching up
#: ``serve`` rewrites the engine snapshot when it is behind by more than this many sequence numbers and
#: this share of all of them (a score takes two: the transaction and its decision). Catching up replays
#: about 15,000 transactions a second; writing the file costs about a minute at ten million transactions.
SNAPSHOT_REWRITE_LAG = 100_000
SNAPSHOT_REWRITE_SHARE = 0.02
#: Seconds a registered ring's reasons are reused by the scores of its members (they change only when
#: rings are detected again, every few minutes at most).
RING_REASONS_TTL = 60.0

# plain words for the model's strongest features: (template, identifier field)
_FEATURE_WORDS = {
    "users": "{typ} {ident} is shared by {v1} users",
    "fraud_users": "{typ} {ident} was used by {v} confirmed fraud users",
    "age_days": "{typ} {ident} was first seen {v} days ago",
    "new_for_user": "{typ} {ident} is new for this user",
    "hub": "{typ} {ident} is shared by very many users (a hub)",
    "tx_1d": "{typ} {ident} was used {v} times in the last day",
    "tx_7d": "{typ} {ident} was used {v} times in the last 7 days",
    "fraud_1d": "{v} confirmed frauds at {typ} {ident} became known in the last day",
    "fraud_7d": "{v} confirmed frauds at {typ} {ident} became known in the last 7 days",
    "fraud_30d": "{v} confirmed frauds at {typ} {ident} became known in the last 30 days",
    "fraud_share_1d": "{pct} of the labels at {typ} {ident} known in the last day were fraud",
    "fraud_share_7d": "{pct} of the labels at {typ} {ident} known in the last 7 days were fraud",
    "fraud_share_30d": "{pct} of the labels at {typ} {ident} known in the last 30 days were fraud",
    "declines_1h": "{v} declined attempts with {typ} {ident} in the last hour",
    "declines_1d": "{v} declined attempts with {typ} {ident} in the last day",
}
# longest first, so that fraud_share_7d is not read as ..._7d of a type named "card_fraud_share"
_KINDS = sorted(_FEATURE_WORDS, key=len, reverse=True)
_WORDS = {
    "amount": "amount {v}", "log_amount": "amount {amount}",
    "amount_ratio_user_mean": "amount is {v} times the user's average",
    "amount_z_user": "amount is {v} standard deviations from the user's usual",
    "amount_ratio_user_max": "amount is {v} times the user's largest so far",
    "account_age_days": "account is {v} days old", "is_new_user": "first transaction of a new user",
    "user_n_tx": "user has {v} earlier transactions", "secs_since_last_tx": "{v} seconds since the user's last transaction",
    "tx_1h": "{v} transactions by the user in the last hour", "tx_1d": "{v} transactions by the user in the last day",
    "tx_7d": "{v} transactions by the user in the last 7 days", "tx_30d": "{v} transactions by the user in 30 days",
    "amount_1h": "{v} spent by the user in the last hour", "amount_1d": "{v} spent by the user in the last day",
    "amount_7d": "{v} spent by the user in 7 days", "amount_30d": "{v} spent by the user in 30 days",
    "user_n_card": "user has used {v} cards", "user_n_device": "user has used {v} devices",
    "user_n_ip": "user has used {v} IP addresses", "user_n_merchant": "user has bought from {v} merchants",
    "n_new_identifiers": "{v} identifiers new for this user", "n_hub_identifiers": "{v} hub identifiers",
    "country_differs_user": "country differs from the user's usual", "country_differs_card": "country differs from the card's usual",
    "hour_of_day": "hour of day {v} (UTC)", "day_of_week": "day of week {v} (0 is Monday)",
    "user_known_fraud": "user is a confirmed fraudster",
    "user_victim": "user is a known victim of fraud (stolen card details or account takeover)",
    "amount_mean_1d": "the user's average payment in the last day is {v}",
    "amount_mean_7d": "the user's average payment in the last 7 days is {v}",
    "amount_mean_30d": "the user's average payment in the last 30 days is {v}",
    "amount_max_1d": "the user's largest payment in the last day is {v}",
    "amount_max_30d": "the user's largest payment in the last 30 days is {v}",
    "spend_1d_vs_usual": "the user spent {v} times their usual daily amount in the last day",
    "user_declines_1h": "{v} declined attempts by the user in the last hour",
    "user_declines_1d": "{v} declined attempts by the user in the last day",
    "card_tx_1h": "card {card} was used {v} times in the last hour",
    "card_tx_30d": "card {card} was used {v} times in the last 30 days",
    "card_amount_1d": "{v} spent with card {card} in the last day",
    "card_amount_7d": "{v} spent with card {card} in the last 7 days",
    "card_amount_30d": "{v} spent with card {card} in the last 30 days",
    "card_mean_1d": "card {card}'s average payment in the last day is {v}",
    "card_mean_7d": "card {card}'s average payment in the last 7 days is {v}",
    "card_mean_30d": "card {card}'s average payment in the last 30 days is {v}",
    "card_max_1d": "card {card}'s largest payment in the last day is {v}",
    "card_max_30d": "card {card}'s largest payment in the last 30 days is {v}",
    "amount_ratio_card_mean": "amount is {v} times card {card}'s average",
    "amount_ratio_card_max": "amount is {v} times card {card}'s largest so far",
    "amount_z_card": "amount is {v} standard deviations from card {card}'s usual",
    "card_cpp_exposure": "card {card} paid in the last 30 days at a merchant where {v} cards later confirmed "
                         "compromised had paid (a common point of purchase)",
    "merchant_cpp_30d": "{v} cards confirmed compromised in the last 30 days had paid at merchant {merchant} "
                        "before their fraud (a common point of purchase)",
    "comp_users": "the user's cluster has {v} users", "comp_identifiers": "the user's cluster has {v} identifiers",
    "comp_fraud_users": "the user's cluster holds {v} confirmed fraud users",
    "comp_fraud_tx": "the user's cluster holds {v} confirmed fraud transactions",
    "comp_tx": "the user's cluster made {v} transactions", "comp_age_days": "the user's cluster formed {v} days ago",
    "comp_first_span_days": "the cluster's accounts were opened within {v} days",
    "fraud_users_2hop": "user shares identifiers with {v} confirmed fraud users",
    "pagerank": "graph centrality {v}", "fraud_proximity": "graph proximity to confirmed fraud {v}",
    "fraud_proximity_max_identifier": "an identifier is close in the graph to confirmed fraud ({v})",
    "comp_recent_tx": "the other accounts of the user's cluster made about {v} transactions in the last hours",
    "comp_recent_users": "about {v} other accounts of the user's cluster became active in the last hours",
    "merchant_tx_6h": "merchant {merchant} took {v} payments in the last 6 hours",
    "merchant_burst_6h": "merchant {merchant} took {v} times its usual payments in the last 6 hours",
    "opened_on_device_users": "{v} other accounts were first used on the device this account was first used on",
    "opened_on_device_recent_users": "about {v} other accounts first used on the same device as this one became "
                                     "active in the last hours",
    "opened_on_device_recent_share": "{pct} of the other accounts first used on the same device as this one became "
                                     "active in the last hours",
}


#: What refuses one transaction of a batch without failing the others: the client's content.
ITEM_ERRORS = (Conflict, ValidationError)

def _num(v: float) -> str:
    if isinstance(v, float) and math.isnan(v):
        return "unknown"
    return f"{v:.0f}" if abs(v - round(v)) < 1e-9 else f"{v:.2f}"


def explain_feature(name: str, value: float, tx: Transaction) -> str:
    """A feature's value in plain words, naming the identifier it is about.

    >>> from graphfraud.schema import validate_record
    >>> tx = validate_record({"transaction_id": "t", "timestamp": "2026-01-01", "user_id": "u", "amount": 5,
    ...                       "merchant_id": "M7"})
    >>> explain_feature("merchant_fraud_share_7d", 0.25, tx)
    '25% of the labels at merchant M7 known in the last 7 days were fraud'
    """
    if name.startswith("attr_"):  # an attribute learnt from as it is (the feature_attributes setting)
        return f"attribute {name[5:]} is {_num(value)}"
    if name not in _WORDS:
        for kind in _KINDS:
            if name.endswith("_" + kind):
                typ = name[:-len(kind) - 1]
                ident = dict(tx.entities()).get(typ, "?")
                return _FEATURE_WORDS[kind].format(typ=typ.replace("_", " "), ident=ident, v=_num(value),
                                                   v1=_num(value + 1), pct=_pct(value))
    tpl = _WORDS.get(name, name.replace("_", " ") + " {v}")
    return tpl.format(v=_num(value), pct=_pct(value), amount=_num(tx.amount), card=tx.card_id or "?",
                      merchant=tx.merchant_id or "?")


def _pct(v: float) -> str:
    return "unknown" if isinstance(v, float) and math.isnan(v) else f"{v:.0%}"


#: How many of the model's contributions a decision words as reasons.
N_MODEL_REASONS = 3


def model_reasons(model: Any, x: Any, probability: float, review_threshold: float) -> list[tuple[str, float]]:
    """The features that pushed one row's score up most, as ``(feature, contribution)``: the reasons
    :func:`decide` words for the model, chosen one way wherever transactions are decided (the API, batch
    scoring, backtests).

    The :data:`N_MODEL_REASONS` largest positive Saabas contributions, largest first; none below half the
    review threshold, where a score needs no explaining and most transactions are (a second, costlier walk
    of the trees they skip). ``model`` is a :class:`~graphfraud.classifier.CompiledModel` or a fitted
    classifier; ``x`` a row in its feature order.
    """
    if probability < review_threshold / 2:
        return []
    return list(model.explain_one(x, top=N_MODEL_REASONS, positive_only=True))


def rule_hits(features: Mapping[str, float], tx: Transaction, rules: RuleSet) -> list[Hit]:
    """The rules that fire for ``tx`` with these features (what :func:`decide` combines)."""
    context = {"user_id": tx.user_id, "card_id": tx.card_id, "device_id": tx.device_id, "ip": tx.ip,
               "merchant_id": tx.merchant_id, "country": tx.country, **tx.extra}
    return rules.evaluate(features, context)


def decide(features: Mapping[str, float], tx: Transaction, probability: float | None, rules: RuleSet, *,
           contributions: Sequence[tuple[str, float]] = (), review_threshold: float = 0.5,
           block_threshold: float = 0.85, hits: list[Hit] | None = None) -> dict[str, Any]:
    """Combine a model probability (``None`` without a model) and the rules into a decision.

    The score is the model's calibrated probability, or without a model a noisy-or of the weights of
    the ``add`` rules that fire; thresholds turn it into allow / review / block; then a ``block`` rule blocks, an ``allow`` rule allows and a
    ``review`` rule sends to review at least. Reasons list rule messages first, then the model's
    strongest contributions in plain words.

    >>> rs = RuleSet.from_text('version = "v"\\n[[rule]]\\ncode = "big"\\nwhen = "amount > 10"\\neffect = "add"\\n'
    ...                        'weight = 0.6\\nmessage = "big"')
    >>> from graphfraud.schema import validate_record
    >>> tx = validate_record({"transaction_id": "t", "timestamp": "2026-01-01", "user_id": "u", "amount": 50})
    >>> d = decide({"amount": 50.0}, tx, None, rs)
    >>> d["score"], d["decision"], d["mode"]
    (0.6, 'review', 'rules_only')
    """
    if hits is None:  # a batch may have evaluated the rules already (rule_hits), while waiting for a model
        hits = rule_hits(features, tx, rules)
    if probability is None:
        # rules alone: the weights of the rules that fire combine as a noisy-or
        keep = 1.0
        for h in hits:
            if h.effect == "add":
                keep *= 1.0 - h.weight
        score = 1.0 - keep
    else:
        # with a model, its calibrated probability is the score (it has learnt from the same features the
        # rules read; adding weights on top double-counts them and hurts the ranking, measured in
        # docs/features.md); rules still force review, block or allow and give their reasons
        score = float(probability)
    score = min(max(score, 0.0), 1.0)
    decision = "block" if score >= block_threshold else "review" if score >= review_threshold else "allow"
    effects = {h.effect for h in hits}
    if "block" in effects:
        decision = "block"
    elif "allow" in effects:
        decision = "allow"
    elif "review" in effects and decision == "allow":
        decision = "review"
    reasons = [{"code": h.code, "message": h.message} for h in hits]
    for name, c in contributions:
        if c > 0:
            reasons.append({"code": f"model_{name}", "message": explain_feature(name, features.get(name, math.nan), tx)})
    return {"score": round(score, 6), "decision": decision, "reasons": reasons,
            "rule_hits": [h.code for h in hits],
            "mode": "model+rules" if probability is not None else "rules_only",
            "model_probability": None if probability is None else round(float(probability), 6)}


def ring_id_for(user_id: str) -> str:
    """The id a new ring takes: from its earliest-active member, so every process derives the same one."""
    return "R-" + hashlib.sha1(user_id.encode("utf-8")).hexdigest()[:10]


def ring_context(engine: GraphEngine, tx: Transaction, registry: Mapping[str, str] | None = None,
                 min_size: int = 3) -> dict[str, Any] | None:
    """The ring behind a transaction: the cluster its user joins with this transaction's identifiers.

    Read before the transaction is applied; merges (without changing anything) the user's component
    with the components of the transaction's linking, non-hub identifiers.
    """
    roots: set[int] = set()
    links: list[dict[str, Any]] = []
    u = engine.user_ix.get(tx.user_id)
    if u is not None:
        roots.add(engine.find(engine.u_node[u]))
    ents = engine.u_ents[u] if u is not None else None
    for typ, name in tx.entities():
        e = engine.entity(typ, name)
        if e is None or engine.e_node[e] < 0:
            continue
        n_users = engine.e_nusers[e]
        mine = ents is not None and holds(ents, e)
        if engine.is_hub_for(e, mine):
            continue
        roots.add(engine.find(engine.e_node[e]))
        others = n_users - (1 if mine else 0)
        if others > 0:
            links.append({"type": typ, "id": name, "n_users": n_users + (0 if mine else 1)})
    comps = [engine.comp[r] for r in roots]
    n_users = sum(c.users for c in comps if c) + (1 if u is None else 0)
    if n_users < min_size:
        return None
    oldest = min((c.oldest for c in comps if c), default=(math.inf, tx.user_id))
    if u is None:
        oldest = min(oldest, (tx.ts, tx.user_id))
    score, n_fraud = live_ring_score([c for c in comps if c], tx.ts, n_users)
    rid = (registry or {}).get(tx.user_id) or ring_id_for(oldest[1])
    return {"ring_id": rid, "size": n_users, "score": round(float(score), 4),
            "known_fraud_users": n_fraud, "linked_by": links}


def live_ring_score(comps: Sequence[Any], now: int, n_users: int) -> tuple[float, int]:
    """The ring score of the cluster a transaction joins, from the engine's component totals.

    Builds the same :class:`~graphfraud.ringscore.ClusterStats` the batch detector builds and scores it
    with :func:`~graphfraud.ringscore.score_cluster` (one implementation for batch and live). The totals
    give users, identifiers, known-fraud users and transactions, transactions, amount and the spans of
    first and last activity exactly. Per-user, per-identifier and per-merchant detail is not kept live,
    so:

    * the median account age is bounded by the cluster's active span (no account in it is older);
    * the burst is the whole activity when it all fits in one burst window, and neutral otherwise;
    * confirmed fraud transactions count as one member's (how many members made them is not kept live);
    * left neutral (their defaults, which add no evidence): users per shared identifier and cards per
      user, how fast shared identifiers reached their users, amounts against the merchants' usual,
      merchant concentration, members buying at the same merchant on the same day, members gone quiet
      (live, "now" is the last activity), and the start-of-data censoring flag.

    A live score is therefore lower than the batch score of the same cluster when its evidence is in
    sharing, amounts, merchants or timing between members; ``graphfraud rings`` remains the ranking
    investigators work from.
    """
    day = 86_400_000.0
    fraud = sum(c.fraud_users for c in comps)
    first_min = min((c.first_min for c in comps), default=math.inf)
    first_max = max((c.first_max for c in comps), default=-math.inf)
    last = max([c.last for c in comps] + [float(now)])
    if not math.isfinite(first_min):
        first_min = float(now)
    if not math.isfinite(first_max):
        first_max = float(now)
    active = max(0.0, (last - first_min) / day)
    in_one_burst = active <= 3.0  # the batch detector's burst window (rings.BURST_WINDOW_DAYS)
    stats = ClusterStats(
        n_users=int(n_users), n_identifiers=sum(c.idents for c in comps), n_known_fraud_users=int(fraud),
        n_fraud_tx=sum(c.fraud_tx for c in comps), n_tx=sum(c.tx for c in comps),
        total_amount=float(sum(c.amount for c in comps)), median_account_age_days=active,
        first_activity_span_days=max(0.0, (max(first_max, float(now)) - first_min) / day)
        if n_users > sum(c.users for c in comps) else max(0.0, (first_max - first_min) / day),
        active_span_days=active, burst_tx_share=1.0 if in_one_burst else 0.0,
        burst_user_share=1.0 if in_one_burst else 0.0)
    score, _ = score_cluster(stats)
    return score, fraud


def apply_event(engine: GraphEngine, ev: Event) -> bool:
    """Apply one stored event to ``engine`` (a transaction it does not know yet, a label), the one way every
    process follows the store. ``False`` for an erase, which an engine cannot apply: the caller rebuilds
    from the store or leaves the engine behind it."""
    if ev.kind == "erase":
        return False
    if ev.kind == "transaction" and ev.transaction is not None:
        if not engine.knows_transaction(ev.transaction.transaction_id):
            engine.apply(ev.transaction, ev.seq)
    elif ev.kind == "label" and ev.label is not None:
        engine.apply_label_now(ev.label)
    engine.saw(ev.seq)
    return True


def refresh_kept_engine(store: GraphStore, max_events: int = _CATCH_UP_BATCH) -> tuple[int, bool]:
    """Bring the engine this process keeps for the workers it forks next
    (:func:`graphfraud.graph.persist.keep_for_workers`) up to ``max_events`` events nearer the store, so a
    worker started later (in place of a dead one) replays little. Returns (events applied, whether it is
    now level with the store). An erase stops it for good (the kept engine is dropped: a worker then
    starts from the snapshot or the store, as it would have had to rebuild anyway). The caller keeps forks
    out while this runs: a child must not inherit a half-changed engine or an open store."""
    from .graph.persist import drop_kept, kept_engine

    engine = kept_engine(store)
    if engine is None:
        return 0, True
    events = store.events_since(engine.seq, max_events)
    for n, ev in enumerate(events):
        if not apply_event(engine, ev):
            drop_kept(store)
            return n, True
    return len(events), len(events) < max_events


def prepare_engine(store: GraphStore, overrides: Mapping[str, Any] | None = None, *, keep: bool = False) -> int:
    """Bring the on-disk engine snapshot up to date with the store (``graphfraud serve`` does this once
    before starting its workers, so each worker starts from it). With ``keep``, the engine also stays in
    this process for the workers it forks next (:func:`graphfraud.graph.persist.keep_for_workers`): they
    start without reading the file and share its pages. Returns the sequence number covered."""
    from .graph.persist import behind_by, keep_for_workers, save_engine

    scorer = Scorer(store, overrides=overrides)
    # rewritten only when well behind: at ten million transactions the file is 2.7 GB and a minute or more to
    # write, where catching up a few hundred thousand events from it takes seconds at the next start
    lag = behind_by(store, scorer.engine)
    if lag is None or lag > max(SNAPSHOT_REWRITE_LAG, scorer.engine.seq * SNAPSHOT_REWRITE_SHARE):
        save_engine(store, scorer.engine)
    if keep:
        keep_for_workers(store, scorer.engine)
    return scorer.engine.seq


class Scorer:
    """The online scoring path of one process. Thread-safe (one lock around the engine).

    Parameters
    ----------
    store : GraphStore
        The store; every scored transaction and decision is written there before an answer.
    rules : RuleSet, optional
        Default: the file the ``rules`` setting names (``GRAPHFRAUD_RULES``), or the shipped default rules.
    overrides : mapping, optional
        Setting overrides (thresholds, link policy, ...).
    """

    _last_catch_up: float  # monotonic time of the last catch-up (set by the first one, in __init__)

    def __init__(self, store: GraphStore, rules: RuleSet | None = None, overrides: Mapping[str, Any] | None = None,
                 engine: GraphEngine | None = None):
        self.store = store
        self.overrides = dict(overrides or {})
        path = settings.get("rules", self.overrides)
        self.rules = rules or (RuleSet.from_file(path) if path else RuleSet.default())
        self.review_threshold = float(settings.get("review_threshold", self.overrides))
        self.block_threshold = float(settings.get("block_threshold", self.overrides))
        self.ring_min_size = int(settings.get("ring_min_size", self.overrides))
        self.catch_up_interval = float(settings.get("catch_up_interval", self.overrides))
        self.lock = threading.RLock()
        self._ring_reasons: dict[str, tuple[float, list[str]]] = {}  # ring id -> (read at, its reasons)
        self.model: Any = None
        self.engine = engine if engine is not None else load_or_build_engine(store, self.overrides)
        self.rules.check_names(row_names(self.engine))
        started = time.monotonic()
        #: where this process's engine started and what it replayed to reach the store (``/readyz``)
        self.start = {"from_seq": self.engine.seq, "events": self.catch_up(),
                      "seconds": round(time.monotonic() - started, 3)}
        # the engine is millions of long-lived objects: keep the cyclic collector from walking them all
        # on its full collections (which put tens of milliseconds on the scores that trigger them)
        gc.collect()
        gc.freeze()
        self._load_model()
        self.ready = True

    # ------------------------------------------------------------ model
    def _load_model(self) -> None:
        try:
            from .models import load_model, promoted_version
        except ImportError:  # pragma: no cover - models module ships with the package
            return
        version = promoted_version(self.store)
        if version is None:
            self.model = None
        elif self.model is None or self.model.version != version:
            model = load_model(self.store, version)
            model.prepare_explanations()
            self.model = model
            made = set(row_names(self.engine))
            unmade = [f for f in model.features if f not in made]
            if unmade:  # scored as missing: the engine was set up otherwise than the one it was trained with
                log.warning("model %s learnt from %d features this process does not compute (%s); they are scored "
                            "as missing: set feature_attributes and extra_types as when it was trained", version,
                            len(unmade), ", ".join(unmade[:8]) + (", ..." if len(unmade) > 8 else ""))

    # ------------------------------------------------------------ keeping up with other processes
    def catch_up(self, force: bool = True) -> int:
        """Apply what other processes stored since this engine's last sequence number."""
        if not force and time.monotonic() - self._last_catch_up < self.catch_up_interval:
            return 0
        n = 0
        while True:  # the common case, nothing new, costs one indexed read
            events = self.store.events_since(self.engine.seq, _CATCH_UP_BATCH)
            for ev in events:
                n += 1
                if not apply_event(self.engine, ev):
                    # a user's data was pseudonymised: the graph in memory (and on disk) still holds the old
                    # ids, so drop the snapshot and rebuild from the store, which covers every later event
                    self._forget_snapshot()
                    self.engine = build_engine(self.store, self.overrides)
                    break
                if ev.kind == "model":
                    self._load_model()
            if len(events) < _CATCH_UP_BATCH:
                break
        self._last_catch_up = time.monotonic()
        return n

    def _forget_snapshot(self) -> None:
        from .graph.persist import forget_engine

        try:
            forget_engine(self.store)
        except OSError:
            pass

    # ------------------------------------------------------------ scoring
    def _registered_ring(self, user_id: str) -> tuple[str, list[str]] | None:
        """The user's ring in the registry (the last batch detection) and that ring's reasons, or None.

        A ring's reasons change only when rings are detected again: they are read from the registry at most
        once in :data:`RING_REASONS_TTL` seconds per ring (the membership is read every time)."""
        try:
            rid = self.store.ring_of_users([user_id]).get(user_id)
        except (AttributeError, GraphFraudError):  # a store without a registry
            return None
        if not rid:
            return None
        now = time.monotonic()
        held = self._ring_reasons.get(rid)
        if held is None or now - held[0] > RING_REASONS_TTL:
            if len(self._ring_reasons) >= 10_000:
                self._ring_reasons.clear()
            try:
                held = now, [str(r) for r in self.store.get_ring(rid).get("reasons") or []]
            except GraphFraudError:  # the ring left the registry in between: its id still stands for now
                held = now, []
            self._ring_reasons[rid] = held
        return rid, held[1]

    def evaluate(self, tx: Transaction) -> dict[str, Any]:
        """Features, model, rules and ring for ``tx`` as of now, without storing anything."""
        engine = self.engine
        engine.advance(tx.ts)
        feats = compute_features(engine, tx)
        p = None
        contributions: Sequence[tuple[str, float]] = ()
        if self.model is not None:
            import numpy as np

            x = np.array([feats.get(n, math.nan) for n in self.model.features], dtype=float)
            p = float(self.model.predict_one(x))
            contributions = model_reasons(self.model, x, p, self.review_threshold)
        out = decide(feats, tx, p, self.rules, contributions=contributions,
                     review_threshold=self.review_threshold, block_threshold=self.block_threshold)
        learnt = self.model.meta.get("fields") if self.model is not None else None
        if learnt:
            have = set(tx.present_fields())
            out["missing_fields"] = [f for f in learnt if f not in have]
        else:
            out["missing_fields"] = []
        ring = ring_context(engine, tx, None, self.ring_min_size)
        if ring is not None:  # the registry's id wins over the derived one, and brings the batch reasons
            found = self._registered_ring(tx.user_id)
            ring["reasons"] = []
            if found is not None:
                ring["ring_id"], ring["reasons"] = found
        out["ring"] = ring
        out.update(transaction_id=tx.transaction_id, model_version=getattr(self.model, "version", None),
                   rules_version=self.rules.version, snapshot=engine.snapshot_version, features=feats)
        return out

    def score(self, tx: Transaction, scored_by: str | None = None) -> dict[str, Any]:
        """Score one transaction, store it with its decision, and add it to the graph.

        Returns the response body (without ``ok``). A retry of a stored transaction (same id, same
        content) returns the stored decision with ``replay: true`` and changes nothing but a label it brings
        (:meth:`_label_on_retry`); the same id with other content raises :class:`~graphfraud.errors.Conflict`.
        ``scored_by`` (who asked: the API records its key) is kept in the stored decision record, not in the
        response.
        """
        with self.lock:
            lag = self.catch_up(force=False)
            known = self.engine.knows_transaction(tx.transaction_id)
            out = self._replay(tx) if known else self.evaluate(tx)
        if known:  # a retry: the label it may bring is added outside the engine lock (add_labels takes it)
            self._label_on_retry(tx)
            return out
        record = dict(out)
        if scored_by is not None:
            record["scored_by"] = scored_by
        # the store writes unknown features (NaN) as null (storage.base.to_json)
        # the write runs outside the engine lock, so another request thread can be evaluated meanwhile;
        # the store orders writers, and the engine takes them in the store's order below
        seq, stored = self.store.add_transaction(tx, record)
        if stored is not None:
            self._label_on_retry(tx)
            return self._response(stored, replay=True)
        with self.lock:
            if seq == self.engine.seq + 1:  # nobody wrote in between: apply it here, skip the read-back
                self.engine.apply(tx, seq)
                self.engine.saw(seq + 1)  # the decision took the next number
            else:
                self.catch_up()
                if self.engine.seq == seq:
                    # this transaction was the last event read: the next number is its decision, written in
                    # the same store transaction (decisions are not events); without this the engine stays one
                    # behind the store and the next score takes this slower path again, reading its own
                    # transaction back
                    self.engine.saw(seq + 1)
        return self._response(record, replay=False, catching_up=lag > 1000)

    def score_batch(self, txs: Sequence[Transaction], scored_by: str | None = None
                    ) -> list[dict[str, Any] | GraphFraudError]:
        """Score a client's batch in order, each transaction once: one the store refuses (a conflict with a
        stored one, :data:`ITEM_ERRORS`) is returned as its error in its place and the others are scored
        as if it had not been sent. Any other error (the store failing) is raised."""
        out: list[dict[str, Any] | GraphFraudError] = []
        for tx in txs:
            try:
                out.append(self.score(tx, scored_by))
            except ITEM_ERRORS as e:
                out.append(e)
        return out

    def _label_on_retry(self, tx: Transaction) -> None:
        """A retry that carries a label (``is_fraud``) the stored transaction lacks adds it, as a load of the
        same row does (a ``file`` label, known at ``labelled_at`` or the transaction's time plus the label
        delay); one that carries another label than the stored one is a :class:`Conflict` (a label changes
        through ``POST /labels``). Before, the label was dropped and the retry answered 200."""
        if tx.is_fraud is None:
            return
        stored = self.store.get_transaction(tx.transaction_id) or {}
        value = str(int(tx.is_fraud))
        have = stored.get("is_fraud")
        if have is None:  # the row has none: the label an earlier retry brought, else this one, as a file label
            given = [lb.get("value") for lb in stored.get("labels") or [] if lb.get("source") == "file"]
            if not given:
                self.add_labels([Label("transaction", tx.transaction_id, value, tx.labelled_at, "file",
                                       tx.fraud_type if value == "1" else None)])
                return
            have = given[-1]
        if str(int(have)) != value:
            raise Conflict(f"Transaction {tx.transaction_id!r} is stored with label is_fraud={int(have)}; a retry "
                           f"cannot change it to {value}: send the new label through POST /labels.",
                           [f"is_fraud: stored as {int(have)}"], code="transaction_conflict")

    def _replay(self, tx: Transaction) -> dict[str, Any]:
        seq, stored = self.store.add_transaction(tx, None)  # raises Conflict on other content
        if stored is None:  # pragma: no cover - the engine saw it, so the store has it
            raise Conflict(f"Transaction {tx.transaction_id!r} was seen but not stored; retry.")
        if not stored:
            # stored by a bulk load, never scored: decide now (the graph already holds it, so its
            # features include it once; it is not applied again) and keep that as its decision
            out = self.evaluate(tx)
            record = dict(out)
            record["scored_after_load"] = True
            stored = self.store.add_decision(tx.transaction_id, record)
        return self._response(stored, replay=True)

    @staticmethod
    def _response(record: Mapping[str, Any], *, replay: bool, catching_up: bool = False) -> dict[str, Any]:
        keys = ("transaction_id", "score", "decision", "reasons", "ring", "model_version", "rules_version",
                "snapshot", "mode", "missing_fields")
        out = {k: record.get(k) for k in keys}
        out["replay"] = replay
        out["catching_up"] = catching_up
        return out

    def add_labels(self, labels: Sequence[Label]) -> int:
        """Feedback: store the labels, then make them known to this process's features at once."""
        with self.lock:
            n = self.store.add_labels(labels)
            self.catch_up()
            return int(n)

    def status(self) -> dict[str, Any]:
        return {"ready": self.ready, "seq": self.engine.seq, "transactions": self.engine.n_tx,
                "model_version": getattr(self.model, "version", None), "rules_version": self.rules.version,
                "snapshot": self.engine.snapshot_version, "process": os.getpid(), "start": self.start}
