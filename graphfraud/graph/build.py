"""Making an engine: from the settings (:func:`new_engine`), from everything in a store (:func:`build_engine`),
or from its file when that is valid (:func:`load_or_build_engine`). The one place engines are constructed:
training, backtests, the scorer and the CLI all come here. (:mod:`graphfraud.scoring` re-exports these
names for its callers.)
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .. import progress, settings
from ..errors import ConfigError
from ..memory import long_lived
from ..storage.roles import GraphStore
from .engine import GraphEngine
from .policy import LinkPolicy


def parse_rates(text: str) -> dict[str, float]:
    """The ``rates`` setting (``EUR=1.08,GBP=1.27``): each a finite positive number, or a ConfigError naming it.

    >>> parse_rates("EUR=1.08")
    {'EUR': 1.08}
    """
    rates = {}
    for cur, v in settings.parse_pairs(text).items():
        try:
            r = float(v)
        except ValueError:
            r = math.nan
        if not (math.isfinite(r) and r > 0):
            raise ConfigError(f"rates: {cur}={v!r} is not a conversion rate; each rate must be a positive number "
                              f"(amount in {cur} x rate = amount in the base currency).")
        rates[cur] = r
    return rates


def new_engine(overrides: Mapping[str, Any] | None = None, label_delay_ms: int | None = None) -> GraphEngine:
    rates = parse_rates(settings.get("rates", overrides))
    delay = label_delay_ms if label_delay_ms is not None else int(settings.get("label_delay", overrides) * 1000)
    extra = [t for t in str(settings.get("extra_types", overrides) or "").split(",") if t.strip()]
    attrs = [a.strip() for a in str(settings.get("feature_attributes", overrides) or "").split(",") if a.strip()]
    return GraphEngine(LinkPolicy.from_settings(overrides),
                       snapshot_interval_ms=int(settings.get("snapshot_interval", overrides) * 1000),
                       label_delay_ms=delay, rates=rates, base_currency=settings.get("base_currency", overrides),
                       extra_types=extra, feature_attributes=attrs)


@long_lived()
def build_engine(store: GraphStore, overrides: Mapping[str, Any] | None = None, *, reveal: bool = True) -> GraphEngine:
    """A serving engine rebuilt from everything in the store (labels all known, one fresh snapshot).

    Every label is revealed at the end, in the order they became known (their ``known_at``, or the label
    delay after their transaction), so windows of "fraud known lately" count them as a replay would."""
    engine = new_engine(overrides)
    seq0 = store.last_seq()  # anything stored while we read is applied again by catch-up (idempotent)
    n = 0
    with progress.phase("building the graph", unit="transactions") as shown:
        for tx, seq in store.iter_transactions():
            engine.apply(tx, seq, snapshots=False, reveal=False)
            n += 1
            if not n % progress.EVERY:
                shown.update(n, fraction=seq / max(seq0, 1))
        shown.update(n, fraction=1.0)
    for seq, label in store.labels():
        engine.defer_label(label)
        engine.seq = max(engine.seq, seq)
    with progress.phase("revealing labels and taking a snapshot"):
        if reveal:
            engine.reveal_all()
        engine.seq = seq0
        if engine.n_tx:
            engine.take_snapshot(int(engine.clock))
            iv = engine.snapshot_interval_ms
            engine.next_snapshot = (int(engine.clock) // iv + 1) * iv
    return engine


def load_or_build_engine(store: GraphStore, overrides: Mapping[str, Any] | None = None, *, save: bool = True
                         ) -> GraphEngine:
    """The engine a serving process inherited from its parent (:func:`graphfraud.scoring.prepare_engine`), else the one in the
    on-disk snapshot when valid (fast), else rebuilt from the store (and saved)."""
    from .persist import inherited_engine, load_engine, save_engine

    expected = new_engine(overrides)
    engine = inherited_engine(store, expected)
    if engine is None:
        with progress.phase("reading the engine snapshot"):
            engine = load_engine(store, expected)
    if engine is not None:
        # the attributes read as features are no state of the engine (not in a snapshot's fingerprint): the
        # current settings' list
        engine.feature_attributes = expected.feature_attributes
        return engine
    if engine is None:
        engine = build_engine(store, overrides)
        if save:
            try:
                with progress.phase("saving the engine snapshot"):
                    save_engine(store, engine)
            except OSError:  # a read-only folder: serve without a snapshot
                pass
    return engine
