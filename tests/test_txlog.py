"""The engine's transaction log finds ids and carries labels as a dictionary from id to last index would,
whether the earlier entry is among the recent ids or already folded into the sorted columns."""
from __future__ import annotations

import pickle

from hypothesis import given, settings
from hypothesis import strategies as st

from graphfraud.graph import txlog
from graphfraud.graph.txlog import IdTable, TxLog

# each step: apply a transaction with this id, or label the last one with this id
steps = st.lists(st.tuples(st.sampled_from(["apply", "label"]), st.text(max_size=3), st.sampled_from(["0", "1"])),
                 max_size=200)


@settings(max_examples=300, deadline=None)
@given(steps=steps, merge_every=st.integers(1, 12), probes=st.lists(st.text(max_size=3), max_size=20))
def test_the_log_answers_as_a_dictionary_of_last_indexes(steps: list[tuple[str, str, str]], merge_every: int,
                                                         probes: list[str]) -> None:
    class Small(IdTable):  # folds often: entries move between the recent ids and the columns
        MERGE_EVERY = merge_every

    log = TxLog()
    log.index = Small()
    last: dict[str, int] = {}
    labels: list[str | None] = []  # the reference: a re-applied id keeps its label
    for k, (what, tx_id, value) in enumerate(steps):
        if what == "apply":
            i = log.add(tx_id, user=0, ts=k, touched=[], counterparty=-1)
            labels.append(labels[last[tx_id]] if tx_id in last else None)
            last[tx_id] = i
        else:
            i = log.find(tx_id)
            assert i == last.get(tx_id)
            if i is not None:
                log.set_label(i, rank=0, value=value, order=k, fraud_type=None, known=k)
                labels[i] = value
    for tx_id in list(last) + probes:
        i = log.find(tx_id)
        assert i == last.get(tx_id) and (tx_id in log) == (tx_id in last)
        if i is not None:
            got = log.label(i)
            assert (got[1] if got else None) == labels[i]


def test_the_id_table_survives_a_pickle_and_keeps_folding() -> None:
    table = IdTable()
    for i in range(IdTable.MERGE_EVERY):
        table.put(f"t{i}", i)
    assert table.due() and table.merge() == []
    table.put("t5", -1)  # applied again, its earlier entry in the columns
    copy = pickle.loads(pickle.dumps(table))
    assert copy.get("t0") == (0, None)
    assert copy.get("t5") == (-1, 5) and copy.get("t5") == (-1, None)  # the first lookup says it came again
    assert copy.get("nope") == (None, None)
    assert table.merge() == [(5, -1)] and table.get("t5") == (-1, None)  # or the fold does


def test_ids_take_about_twenty_bytes_once_folded() -> None:
    table = IdTable()
    for i in range(IdTable.MERGE_EVERY):
        table.put(f"transaction-{i:09d}", i)
    table.merge()
    assert table.key.nbytes + table.check.nbytes + table.pos.nbytes == 20 * IdTable.MERGE_EVERY
    assert txlog.IdTable.digest("a") != txlog.IdTable.digest("b")
