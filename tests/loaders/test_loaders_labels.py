"""load_labels: transaction and user labels, each bad row rejected with its reason."""
from __future__ import annotations

import pytest

from graphfraud.errors import ValidationError
from loaders import load_file, load_labels

from loader_factories import make_rows, read_rejects, write_csv

TX_HEADER = ("transaction_id", "is_fraud", "labelled_at")
USER_HEADER = ("user_id", "user_label", "labelled_at")


def test_transaction_labels_load_and_bad_rows_are_rejected(tmp_path, store):
    load_file(write_csv(tmp_path / "tx.csv", make_rows(5, is_fraud="")), store, progress=False)
    rows = [{"transaction_id": "t0", "is_fraud": "1", "labelled_at": "2026-02-01T00:00:00Z"},
            {"transaction_id": "t1", "is_fraud": "0", "labelled_at": ""},
            {"transaction_id": "t2", "is_fraud": "maybe", "labelled_at": ""},
            {"transaction_id": "", "is_fraud": "1", "labelled_at": ""},
            {"transaction_id": "t3", "is_fraud": "1", "labelled_at": "yesterday"}]
    s = load_labels(write_csv(tmp_path / "cb.csv", rows, header=TX_HEADER), store, chunk_size=2)
    assert (s.rows_read, s.added, s.rejected) == (5, 2, 3)
    rej = {r["row"]: r["reason"] for r in read_rejects(s.rejects_path)}
    assert set(rej) == {"3", "4", "5"}
    assert "is_fraud" in rej["3"] and "labelled_at" in rej["5"]
    labels = {lb.subject_id: lb for _, lb in store.labels()}
    assert (labels["t0"].value, labels["t0"].source, labels["t1"].value) == ("1", "chargeback", "0")
    assert store.info()["fraud"] == 1


def test_a_label_dated_before_its_transaction_is_rejected_as_load_rejects_it(tmp_path, store):
    """t2 happened on 2026-01-03 10:02: a label known on 2026-01-02 would be revealed, in replays, before
    there is a transaction to mark (and be lost); ``load`` and ``POST /score`` refuse the same."""
    load_file(write_csv(tmp_path / "tx.csv", make_rows(5, is_fraud="")), store, progress=False)
    rows = [{"transaction_id": "t2", "is_fraud": "1", "labelled_at": "2026-01-02T00:00:00Z"},
            {"transaction_id": "t2", "is_fraud": "1", "labelled_at": "2026-01-03T10:02:00Z"},  # the same time
            {"transaction_id": "t9", "is_fraud": "1", "labelled_at": "2000-01-01"}]  # not stored (yet)
    s = load_labels(write_csv(tmp_path / "cb.csv", rows, header=TX_HEADER), store)
    assert (s.added, s.rejected) == (2, 1)
    (rej,) = read_rejects(s.rejects_path)
    assert rej["row"] == "1" and "labelled_at 2026-01-02T00:00:00Z is before the transaction's timestamp" in rej["reason"]


def test_user_labels(tmp_path, store):
    rows = [{"user_id": "u1", "user_label": "Fraudster", "labelled_at": ""},
            {"user_id": "u2", "user_label": "victim", "labelled_at": "2026-01-01"},
            {"user_id": "u3", "user_label": "bad", "labelled_at": ""}]
    s = load_labels(write_csv(tmp_path / "users.csv", rows, header=USER_HEADER), store, source="investigator")
    assert (s.added, s.rejected) == (2, 1)
    got = {lb.subject_id: (lb.subject, lb.value, lb.source) for _, lb in store.labels()}
    assert got == {"u1": ("user", "fraudster", "investigator"), "u2": ("user", "victim", "investigator")}
    assert "user_label" in read_rejects(s.rejects_path)[0]["reason"]


def test_label_file_without_label_columns_is_refused(tmp_path, store):
    with pytest.raises(ValidationError) as e:
        load_labels(write_csv(tmp_path / "x.csv", [{"transaction_id": "t1"}], header=("transaction_id",)), store)
    assert e.value.code == "missing_column" and "is_fraud" in str(e.value)
    assert store.labels() == []


def test_unknown_label_source_is_refused(tmp_path, store):
    path = write_csv(tmp_path / "cb.csv", [{"transaction_id": "t1", "is_fraud": "1"}], header=TX_HEADER)
    with pytest.raises(ValidationError, match="source"):
        load_labels(path, store, source="rumour")
