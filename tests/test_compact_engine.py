"""The compact engine against the engine it replaced: the same feature rows, value for value.

``tests/reference_engine`` is a frozen copy of the engine before its state moved into typed arrays (the
reference the scale issue allows; not product code). Both engines replay the same generated worlds of four
generators (rings, card fraud with late labels, mules with transfers, typologies), with the live path's
events mixed in: transactions out of time order, label feedback at once, labels queued for later, user
labels, a verdict changed and a save/load round trip in the middle. Every row read before each
transaction is applied must be identical (NaN equal to NaN), and so must what the ring context and
component views say at the end. Features added since the copy was frozen (:data:`NEWER`) are left out of the
comparison; ``tests/test_recent_activity.py`` checks them against a brute-force count.
"""
from __future__ import annotations

import csv
import math
import pickle
import random
from pathlib import Path
from typing import Any

import pytest

from graphfraud.graph.engine import GraphEngine
from graphfraud.graph.features import feature_row, row_names
from graphfraud.schema import Label, Transaction, validate_record
from graphfraud.scoring import ring_context
from tests.reference_engine.engine import GraphEngine as ReferenceEngine
from tests.reference_engine.features import feature_row as reference_row
from tests.reference_engine.ring import ring_context as reference_ring_context


#: Features and component totals the engine gained after the reference was frozen.
NEWER = ("comp_recent_tx", "comp_recent_users", "merchant_tx_6h", "merchant_burst_6h", "opened_on_device_users",
         "opened_on_device_recent_users", "opened_on_device_recent_share")


def _world(tmp_path: Path, profile: str) -> list[Transaction]:
    out = tmp_path / f"{profile}.csv"
    if profile == "rings":
        from graphfraud.synth.classic import write_dataset
        write_dataset(out, 600, seed=4)
    elif profile == "card":
        from graphfraud.synthcard import write_card_dataset
        write_card_dataset(out, 300, seed=4, days=40)
    elif profile == "mules":
        from graphfraud.synth.mules import write_mules
        write_mules(out, 500, seed=4)
    else:
        from graphfraud.synth.worlds import write_world
        write_world(out, 600, seed=4, profile="mixed")
    with open(out, newline="", encoding="utf-8") as fh:
        txs = [validate_record(r) for r in csv.DictReader(fh)]
    txs.sort(key=lambda t: t.ts)
    return txs


def _same(a: list[Any], b: list[Any]) -> bool:
    return len(a) == len(b) and all(x == y or (isinstance(x, float) and isinstance(y, float) and math.isnan(x)
                                               and math.isnan(y)) for x, y in zip(a, b))


def _live_events(txs: list[Transaction], seed: int) -> list[tuple[str, Any]]:
    """The replay as the API sees it: some transactions late (out of order), labels fed back at once or
    queued, user labels, and a verdict changed."""
    rng = random.Random(seed)
    events: list[tuple[str, Any]] = []
    held: list[Transaction] = []
    for k, tx in enumerate(txs):
        if rng.random() < 0.03:
            held.append(tx)  # arrives a little later than its own time
        else:
            events.append(("tx", tx))
        if held and rng.random() < 0.2:
            events.append(("tx", held.pop(0)))
        if k and rng.random() < 0.02:
            old = txs[rng.randrange(k)]
            value = rng.choice("01")
            events.append(("now", Label("transaction", old.transaction_id, value, None, "investigator",
                                        "third_party" if value == "1" else None)))
        if k and rng.random() < 0.01:
            old = txs[rng.randrange(k)]
            events.append(("queue", Label("transaction", old.transaction_id, "1", tx.ts + 3_600_000, "chargeback",
                                          "first_party")))
        if k and rng.random() < 0.005:
            events.append(("now", Label("user", txs[rng.randrange(k)].user_id,
                                        rng.choice(["fraudster", "mule", "victim", "legitimate"]), None,
                                        "investigator")))
        if k == len(txs) // 2:
            events.append(("pickle", None))
    events += [("tx", t) for t in held]
    return events


@pytest.mark.parametrize("profile", ["rings", "card", "mules", "mixed"])
def test_compact_engine_reads_the_same_rows_as_the_reference(tmp_path: Path, profile: str) -> None:
    txs = _world(tmp_path, profile)
    ours, ref = GraphEngine(), ReferenceEngine()
    names = row_names(ours)
    keep = [k for k, n in enumerate(names) if n not in NEWER]
    assert len(keep) == len(names) - len(NEWER)
    assert [names[k] for k in keep] == __import__("tests.reference_engine.features",
                                                  fromlist=["row_names"]).row_names(ref)
    n_rows = 0
    for kind, ev in _live_events(txs, seed=len(profile)):
        if kind == "tx":
            ours.advance(ev.ts)
            ref.advance(ev.ts)
            row, b = feature_row(ours, ev), reference_row(ref, ev)
            a = [row[k] for k in keep]
            assert _same(a, b), (ev.transaction_id, [(names[k], x, y) for k, x, y in zip(keep, a, b)
                                                     if not _same([x], [y])])
            assert ring_context(ours, ev) == reference_ring_context(ref, ev)
            ours.apply(ev)
            ref.apply(ev)
            n_rows += 1
        elif kind == "now":
            ours.apply_label_now(ev)
            ref.apply_label_now(ev)
        elif kind == "queue":
            ours.queue_label(ev)
            ref.queue_label(ev)
        else:
            ours = pickle.loads(pickle.dumps(ours))
    assert n_rows == len(txs)
    ours.reveal_all()
    ref.reveal_all()
    for uid in {t.user_id for t in txs[::7]}:
        a, b = ours.component_of(uid), ref.component_of(uid)
        assert [getattr(a, k) for k in b.__slots__] == [getattr(b, k) for k in b.__slots__]
    assert ours.n_tx == ref.n_tx and ours.snapshot_version == ref.snapshot_version
