"""Parquet and JSON lines: the same rows load the same way as from CSV."""
from __future__ import annotations

import gzip
import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loaders import load_file

from loader_factories import accounted, make_rows, read_rejects, write_csv


def _stored(store, ids):
    return [{k: v for k, v in store.get_transaction(i).items() if k != "seq"} for i in ids]


def test_parquet_round_trip_matches_csv(tmp_path, store):
    from graphfraud.storage import open_store

    rows = make_rows(40)
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "tx.parquet", row_group_size=15)
    s = load_file(tmp_path / "tx.parquet", store, chunk_size=10, progress=False)
    assert (s.rows_read, s.inserted) == (40, 40)
    other = open_store(str(tmp_path / "csv.db"))
    load_file(write_csv(tmp_path / "tx.csv", rows), other, progress=False)
    ids = [f"t{i}" for i in range(40)]
    assert _stored(store, ids) == _stored(other, ids)
    other.close()


def test_parquet_typed_columns_become_text(tmp_path, store):
    table = pa.table({
        "transaction_id": pa.array([7, 8, 9], pa.int64()),
        "timestamp": pa.array(pd.to_datetime(["2026-01-02 10:00", "2026-01-02 11:00", None], utc=True)),
        "user_id": pa.array(["u1", "u2", "u3"]).dictionary_encode(),
        "amount": pa.array([12.5, 3.0, 1.0]),
        "is_fraud": pa.array([True, False, None]),
    })
    pq.write_table(table, tmp_path / "typed.parquet")
    s = load_file(tmp_path / "typed.parquet", store, progress=False)
    assert (s.inserted, s.rejected) == (2, 1)
    t7 = store.get_transaction("7")
    assert (t7["timestamp"], t7["amount"], t7["user_id"], t7["is_fraud"]) == ("2026-01-02T10:00:00Z", 12.5, "u1", 1)
    assert store.get_transaction("8")["is_fraud"] == 0
    assert "timestamp is required" in read_rejects(s.rejects_path)[0]["reason"]


@pytest.mark.parametrize("tz", [None, "UTC"])
def test_parquet_nanosecond_timestamps_load(tmp_path, store, tz):
    # every row was rejected: the loader's own text of a nanosecond time ("...00.123456789") was no ISO 8601
    table = pa.table({"transaction_id": ["a", "b"], "user_id": ["u", "v"], "amount": [1.0, 2.0],
                      "timestamp": pa.array([1704103200000000000, 1704103200123456789], pa.timestamp("ns", tz=tz))})
    pq.write_table(table, tmp_path / "ns.parquet")
    s = load_file(tmp_path / "ns.parquet", store, progress=False)
    assert (s.inserted, s.rejected) == (2, 0)
    assert store.get_transaction("b")["timestamp"] == "2024-01-01T10:00:00.123Z"


def test_empty_parquet_checks_columns_and_loads_nothing(tmp_path, store):
    pq.write_table(pa.Table.from_pylist(make_rows(1)).slice(0, 0), tmp_path / "e.parquet")
    s = load_file(tmp_path / "e.parquet", store, progress=False)
    assert (s.rows_read, s.inserted) == (0, 0)


@pytest.mark.parametrize("name", ["tx.jsonl", "tx.ndjson", "tx.jsonl.gz"], ids=["jsonl", "ndjson", "gzip"])
def test_jsonl_round_trip(tmp_path, store, name):
    rows = make_rows(30)
    for r in rows:  # numbers as JSON numbers: they must come back as their text
        r["amount"] = float(r["amount"])
        r["is_fraud"] = int(r["is_fraud"])
    rows[3]["transaction_id"] = 12345
    del rows[5]["card_id"]  # a key missing on one line
    text = "".join(json.dumps(r) + "\n" for r in rows)
    path = tmp_path / name
    if name.endswith(".gz"):
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)
    s = load_file(path, store, chunk_size=8, progress=False)
    assert (s.rows_read, s.inserted, s.rejected) == (30, 30, 0)
    assert store.get_transaction("12345")["amount"] == 4.25
    assert store.get_transaction("t5")["card_id"] is None
    assert store.get_transaction("t13")["is_fraud"] == 1


def test_jsonl_bad_lines_are_rejected_by_line_number(tmp_path, store):
    good = [json.dumps(r) for r in make_rows(4)]
    lines = [good[0], "{not json", good[1], "", "[1, 2]", good[2], good[3]]
    (tmp_path / "b.jsonl").write_text("\n".join(lines) + "\n")
    s = load_file(tmp_path / "b.jsonl", store, chunk_size=3, progress=False)
    assert (s.inserted, s.rejected) == (4, 2) and accounted(s) == s.rows_read == 6
    rej = {r["row"]: r["reason"] for r in read_rejects(s.rejects_path)}
    assert set(rej) == {"2", "5"} and "not valid JSON" in rej["2"] and "list" in rej["5"]


def test_a_csv_and_a_jsonl_of_one_name_keep_their_own_rejects(tmp_path, store, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rows = make_rows(3)
    write_csv(tmp_path / "tx.csv", [rows[0], {**rows[1], "amount": "lots"}])
    (tmp_path / "tx.jsonl").write_text("\n".join([json.dumps(rows[2]), "{not json"]) + "\n")
    a = load_file(tmp_path / "tx.csv", store, progress=False)
    b = load_file(tmp_path / "tx.jsonl", store, progress=False)
    assert (a.rejects_path.name, b.rejects_path.name) == ("tx.rejects.csv", "tx.jsonl.rejects.csv")
    # the second load wrote its own file: the first still holds the CSV's bad amount
    assert [("amount" in r["reason"], "JSON" in r["reason"]) for r in read_rejects(a.rejects_path)] == [(True, False)]
    assert [("JSON" in r["reason"]) for r in read_rejects(b.rejects_path)] == [True]


def test_empty_jsonl_is_an_empty_load(tmp_path, store):
    (tmp_path / "e.jsonl").write_text("")
    s = load_file(tmp_path / "e.jsonl", store, progress=False)
    assert (s.rows_read, s.inserted, s.rejects_path) == (0, 0, None)
