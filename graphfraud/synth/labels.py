"""What a world's labels say: a share left blank, and labels that arrive late (``labelled_at``).

The truth (which transactions are fraud) is fixed by the world; this module only decides what the CSV's
``is_fraud`` and ``labelled_at`` columns reveal of it. It draws from its own generator, so the knobs never
change the world itself: the same seed gives the same transactions with or without them.

Blank labels are drawn for fraud and legitimate rows alike (``labelled_share`` of every row keeps its
label), so a blank ``is_fraud`` says nothing about the row. Delays are drawn for every labelled row, so a
``labelled_at`` does not mark fraud either; fraud labels of one ring often arrive together, when the case is
closed.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..errors import ValidationError
from .base import DAY, HOUR, transaction_ids

#: The knobs ``graphfraud generate`` hands to a world's writer, with the range each typology world accepts.
KNOB_RANGES = {"fraud_rate": (0.001, 0.05), "label_delay_days": (0.0, 60.0), "labelled_share": (0.0, 1.0)}
_LABEL_SEED = 0x1ABE1  # second word of the label generator's seed, beside the world's seed


def check_knobs(profile: str, knobs: dict[str, Any], supported: tuple[str, ...]) -> dict[str, float]:
    """Refuse a knob the profile does not take or a value outside its range; return them as floats."""
    out: dict[str, float] = {}
    for name, value in knobs.items():
        if name not in supported:
            raise ValidationError(
                f"The {profile} profile does not take {name}; leave it out or pick a profile that does "
                f"({', '.join(supported) or 'none'} here).", [f"{name}: not supported by the {profile} profile"])
        lo, hi = KNOB_RANGES[name]
        try:
            v = float(value)
        except (TypeError, ValueError):
            v = float("nan")
        if not lo <= v <= hi:
            raise ValidationError(f"{name} must be between {lo:g} and {hi:g} for the {profile} profile, not "
                                  f"{value!r}.", [f"{name}: between {lo:g} and {hi:g}"])
        out[name] = v
    return out


def apply_labels(seed: int, fraud: np.ndarray, t: np.ndarray, case: np.ndarray, label_delay_days: float | None,
                 labelled_share: float) -> tuple[Any, np.ndarray | None]:
    """The ``is_fraud`` and ``labelled_at`` columns for true fraud flags ``fraud``.

    Parameters
    ----------
    seed : int
        The world's seed; labels draw from ``default_rng([seed, ...])``, apart from the world.
    fraud : numpy.ndarray
        True fraud flag per row (0/1), rows in time order.
    t : numpy.ndarray
        Seconds from the start of the period per row.
    case : numpy.ndarray
        Case number per row (``-1`` for rows outside a case; a ring or a takeover otherwise).
    label_delay_days : float or None
        Mean days from a transaction to its label; ``None`` writes no ``labelled_at``.
    labelled_share : float
        Share of rows whose label is written; the others get a blank ``is_fraud``.

    Returns
    -------
    is_fraud : numpy.ndarray or pandas.array
        ``fraud`` itself when every label is written, else a nullable integer array with blanks.
    labelled_at : numpy.ndarray or None
        When each label is known, in seconds from the start (NaN where the label is blank; written as ISO-8601
        strings by :func:`graphfraud.synth.base.stamps_or_blank`), or ``None``.
    """
    n = len(fraud)
    rng = np.random.default_rng([int(seed), _LABEL_SEED])
    keep = rng.random(n) < labelled_share if labelled_share < 1 else np.ones(n, dtype=bool)
    is_fraud: Any = fraud.astype(np.int64)
    if not keep.all():
        is_fraud = pd.array(np.where(keep, fraud, 0), dtype="Int64")
        is_fraud[~keep] = pd.NA
    if label_delay_days is None:
        return is_fraud, None
    scale = float(label_delay_days) / 2.0  # gamma(2): most labels near the mean, a tail up to ~3x
    at = t + (rng.gamma(2.0, scale, n) * DAY if scale > 0 else 0.0)
    if scale > 0:
        # A ring is often worked as one case: its labels arrive together when the case is closed, and
        # its later transactions are labelled soon after they happen.
        f = (fraud == 1) & (case >= 0)
        cases = np.unique(case[f])
        batched = cases[rng.random(len(cases)) < 0.5]
        for c in batched:
            rows = np.flatnonzero(f & (case == c))
            closed = t[rows].min() + rng.gamma(2.0, scale) * DAY
            at[rows] = np.maximum(closed, t[rows] + rng.exponential(DAY, len(rows)))
    at = np.maximum(at, t + (HOUR if scale > 0 else 0.0))
    return is_fraud, np.where(keep, at, np.nan)


def truth_labels(fraud: np.ndarray, profile: str, knobs: dict[str, Any], partial_or_late: bool) -> dict[str, Any]:
    """The ``truth.json`` keys about labels: ``profile``, ``knobs``, ``n_fraud``, ``fraud_rate`` and, when the CSV's
    labels are blank or late, ``fraud_transactions`` (every fraud transaction id; rows in order, ids from
    :func:`graphfraud.synth.base.transaction_ids`)."""
    out: dict[str, Any] = {"profile": profile, "knobs": knobs, "n_fraud": int(np.sum(fraud)),
                           "fraud_rate": round(float(np.mean(fraud)), 6) if len(fraud) else 0.0}
    if partial_or_late:
        out["fraud_transactions"] = transaction_ids(np.flatnonzero(fraud == 1)).tolist()
    return out
