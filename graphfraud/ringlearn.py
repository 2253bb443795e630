"""Ranking rings by what this data's confirmed rings look like.

The fixed evidence of :func:`graphfraud.ringscore.score_cluster` weighs each signal the same in every data
set: new accounts, buying together, amounts, bursts. How strongly each one marks a ring differs from one
source to another (accounts that live eight days or three weeks, sale days that crowd every shop, families
that sign up together). The clusters whose members are confirmed fraud show it for the data at hand:
:func:`learn_from_labels` fits a logistic regression of "has confirmed fraud" on the clusters' behaviour
(never on their labels, nor on where in time they sit) over the clusters that have labelled transactions,
and moves every cluster's score by what it says. Clusters whose fraud is not labelled yet (the recent ones,
a source that labels late) then rank by how much they behave like the known rings.

It needs enough of both kinds (``MIN_POSITIVE`` clusters with confirmed fraud, ``MIN_NEGATIVE`` without);
otherwise scores stay as they are.

Examples
--------
>>> from graphfraud.ringscore import ClusterStats
>>> ring = dict(n_users=5, median_account_age_days=3.0, together_user_share=1.0, together_tx_share=0.6)
>>> home = dict(n_users=4, median_account_age_days=80.0, together_user_share=0.2, together_tx_share=0.05)
>>> stats = ([ClusterStats(n_known_fraud_users=4, **ring)] * 8 + [ClusterStats(**home)] * 30
...          + [ClusterStats(**ring), ClusterStats(**home)])  # the last two: no labels yet
>>> labelled = [True] * 38 + [False, False]
>>> out = learn_from_labels(stats, [0.5] * 40, labelled)
>>> out is not None and out[0][-2] > 0.5 > out[0][-1]
True
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from .ringscore import ClusterStats

MIN_POSITIVE = 5  # clusters with confirmed fraud needed to learn from
MIN_NEGATIVE = 20  # labelled clusters without
POSITIVE_SHARE = 0.3  # a cluster "has confirmed fraud" when at least this share of its users are known fraud
WEIGHT = 0.5  # how far the learnt log-odds move a cluster's score (on the logit scale)
#: a cluster's standardised numbers, and the learnt log-odds, are held within this many units: the model
#: is sure of itself far beyond what a few dozen labelled clusters can show (log-odds of -13.8 to +12.8 on
#: one world), and a kind of ring the labelled ones do not include (a bust-out among young crews) was
#: buried by many moderate differences added up
CLIP = 3.0

#: (name in reasons, value from the stats); behaviour only: no label, and nothing that tells where in the
#: data's time a cluster sits (how long ago it went quiet, how long the data watched it)
FEATURES: tuple[tuple[str, Callable[[ClusterStats], float]], ...] = (
    ("size", lambda s: math.log1p(s.n_users)),
    ("young accounts", lambda s: -math.log1p(_num(s.median_account_age_days, 365.0))),
    ("accounts first seen together", lambda s: -math.log1p(_num(s.first_activity_span_days, 365.0))),
    ("identifiers reached together", lambda s: -math.log1p(_num(s.identifier_arrival_span_days, 365.0))),
    ("amounts above the usual", lambda s: math.log(max(0.05, min(20.0, _num(s.mean_amount_ratio, 1.0))))),
    ("transactions per account", lambda s: math.log1p(_num(s.median_user_tx, 0.0))),
    ("buying together", lambda s: s.together_tx_share),
    ("members buying together", lambda s: s.together_user_share),
    ("one burst", lambda s: s.burst_tx_share),
    ("members in the burst", lambda s: s.burst_user_share),
    ("cards per account", lambda s: min(5.0, s.cards_per_user)),
    ("spending at few merchants", lambda s: s.merchant_concentration),
    ("accounts on one identifier", lambda s: math.log1p(s.max_users_per_identifier)),
    ("cards tested", lambda s: s.tested_cards / max(1, s.shared_cards)),
    ("money between members", lambda s: s.flow_users / max(1, s.n_users)),
    ("accounts opened on one device", lambda s: s.top_identifier_opened / max(1, s.n_users)),
)


def _num(x: float, default: float) -> float:
    return default if x is None or not math.isfinite(x) else float(x)


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def learn_from_labels(stats: Sequence[ClusterStats], scores: Sequence[float], labelled: Sequence[bool]
                      ) -> tuple[list[float], list[str | None]] | None:
    """New scores (and a reason for each cluster the model moved up, else ``None``), or ``None`` when the
    data has too few clusters of either kind to learn from.

    ``labelled`` says which clusters have at least one transaction whose label is known: the others are
    scored, never learnt from (no label is not "not fraud")."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    x = np.array([[f(s) for _, f in FEATURES] for s in stats], dtype=float)
    y = np.array([s.n_known_fraud_users >= max(1.0, POSITIVE_SHARE * s.n_users) for s in stats])
    train = np.asarray(labelled, dtype=bool)
    n_pos, n_neg = int((y & train).sum()), int((~y & train).sum())
    if n_pos < MIN_POSITIVE or n_neg < MIN_NEGATIVE:
        return None
    scaler = StandardScaler().fit(x[train])
    z = np.clip(scaler.transform(x), -CLIP, CLIP)
    model = LogisticRegression(C=0.3, class_weight="balanced", max_iter=1000).fit(z[train], y[train])
    logits = np.clip(model.decision_function(z), -CLIP, CLIP)
    coef = model.coef_[0]
    out: list[float] = []
    why: list[str | None] = []
    for i, base in enumerate(scores):
        out.append(1.0 / (1.0 + math.exp(-(_logit(base) + WEIGHT * float(logits[i])))))
        if logits[i] > 0:
            top = np.argsort(-(coef * z[i]))[:2]
            p = 1.0 / (1.0 + math.exp(-float(logits[i])))
            why.append(f"behaves like the rings confirmed in this data ({p:.0%}): "
                       + ", ".join(FEATURES[j][0] for j in top if coef[j] * z[i][j] > 0))
        else:
            why.append(None)
    return out, why
