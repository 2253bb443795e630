"""Mapping files: parsing, errors naming the key, derivations, and the shipped mappings on real samples."""
from __future__ import annotations

import csv
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphfraud.errors import ConfigError, ValidationError
from loaders import load_file, load_mapping, parse_mapping, shipped_mappings
from loaders.mapping import stable_hash

from loader_factories import SAMPLES, accounted, read_rejects, write_csv

SRC = ("id", "when", "who", "price", "mail", "tel", "label")


def _src_rows(n):
    return [{"id": f"e{i}", "when": f"{1 + i % 28:02d}/01/2026 10:{i % 60:02d}", "who": f"Acct-{i % 4}",
             "price": f"{i}.5", "mail": f"A{i % 3}@Example.org", "tel": "(555) 123-4567", "label": ["Fraud", "legit", ""][i % 3]}
            for i in range(n)]


MAPPING = {
    "extra_entities": ["email", "phone"],
    "timestamp_format": "%d/%m/%Y %H:%M",
    "timezone": "Europe/Paris",
    "attributes": {"raw_label": "label"},
    "columns": {"transaction_id": "id", "timestamp": "when", "user_id": "who", "amount": "price",
                "email": "mail", "phone": "tel", "currency": {"constant": "EUR"}},
    "labels": {"column": "label", "fraud": 1, "legit": 0},
}


def test_mapping_applies_renames_constants_labels_and_time_zone(tmp_path, store):
    path = write_csv(tmp_path / "src.csv", _src_rows(9), header=SRC)
    s = load_file(path, store, mapping=MAPPING, chunk_size=4, progress=False)
    assert (s.inserted, s.rejected) == (9, 0)
    t0, t1, t2 = (store.get_transaction(f"e{i}") for i in range(3))
    assert t0["timestamp"] == "2026-01-01T09:00:00Z"  # 10:00 in Paris, winter
    assert (t0["email"], t0["phone"], t0["currency"], t0["user_id"]) == ("a0@example.org", "5551234567", "EUR", "Acct-0")
    assert (t0["is_fraud"], t1["is_fraud"], t2["is_fraud"]) == (1, 0, None)  # label case ignored; empty: unlabelled
    assert t0["attributes"] == {"raw_label": "Fraud"}  # unmapped columns are not kept unless listed


def test_label_values_and_a_default_name_the_fraud_type(tmp_path, store):
    rows = [{"id": f"e{i}", "when": "01/01/2026 10:00", "who": "A", "price": "1", "label": lab}
            for i, lab in enumerate(["stolen", "abuse", "Fraud", "legit"])]
    mapping = {**MAPPING, "extra_entities": [], "attributes": [],
               "columns": {k: v for k, v in MAPPING["columns"].items() if k not in ("email", "phone")},
               "labels": {"column": "label", "fraud_type": "third_party", "fraud": 1, "legit": 0,
                          "stolen": "third_party", "abuse": "friendly"}}
    path = write_csv(tmp_path / "src.csv", rows, header=list(rows[0]))
    assert load_file(path, store, mapping=mapping, progress=False).inserted == 4
    got = [(t.is_fraud, t.fraud_type) for t, _ in store.iter_transactions()]
    assert got == [(1, "third_party"), (1, "friendly"), (1, "third_party"), (0, None)]


def test_timestamp_not_matching_the_format_is_rejected_with_the_format(tmp_path, store):
    rows = _src_rows(4)
    rows[2]["when"] = "2026-01-03T10:00:00"
    s = load_file(write_csv(tmp_path / "src.csv", rows, header=SRC), store, mapping=MAPPING, progress=False)
    assert (s.inserted, s.rejected) == (3, 1)
    rej = read_rejects(s.rejects_path)[0]
    assert rej["row"] == "3" and "%d/%m/%Y %H:%M" in rej["reason"] and rej["when"] == "2026-01-03T10:00:00"


def test_timezone_applies_only_to_times_without_an_offset(tmp_path, store):
    rows = [{"transaction_id": "a", "timestamp": "2026-07-01 12:00:00", "user_id": "u", "amount": "1"},
            {"transaction_id": "b", "timestamp": "2026-07-01T12:00:00Z", "user_id": "u", "amount": "1"},
            {"transaction_id": "c", "timestamp": "2026-03-29 02:30:00", "user_id": "u", "amount": "1"}]
    path = write_csv(tmp_path / "t.csv", rows, header=("transaction_id", "timestamp", "user_id", "amount"))
    s = load_file(path, store, mapping={"timezone": "Europe/Paris"}, progress=False)
    assert store.get_transaction("a")["timestamp"] == "2026-07-01T10:00:00Z"
    assert store.get_transaction("b")["timestamp"] == "2026-07-01T12:00:00Z"
    assert s.rejected == 1 and "Europe/Paris" in read_rejects(s.rejects_path)[0]["reason"]  # a DST gap


@pytest.mark.parametrize("fmt", [None, "%d/%m/%Y %H:%M"], ids=["iso", "format"])
def test_a_local_time_lost_or_doubled_by_daylight_saving_is_rejected_saying_so(tmp_path, store, fmt):
    # the reason was "does not match the format ...; timestamp is required" for a time that matched it
    times = ["2026-03-29 02:30", "2026-10-25 02:30", "2026-03-28 02:30", "nope"]
    if fmt:
        times = ["29/03/2026 02:30", "25/10/2026 02:30", "28/03/2026 02:30", "nope"]
    rows = [{"transaction_id": f"d{i}", "timestamp": t, "user_id": "u", "amount": "1"} for i, t in enumerate(times)]
    path = write_csv(tmp_path / "t.csv", rows, header=("transaction_id", "timestamp", "user_id", "amount"))
    mapping = {"timezone": "Europe/Paris", **({"timestamp_format": fmt} if fmt else {})}
    s = load_file(path, store, mapping=mapping, progress=False)
    reasons = {r["row"]: r["reason"] for r in read_rejects(s.rejects_path)}
    assert s.inserted == 1 and sorted(reasons) == ["1", "2", "4"]
    assert all("does not exist, or exists twice, at a daylight-saving change" in reasons[r] for r in ("1", "2"))
    assert "daylight" not in reasons["4"] and not any("required" in why for why in reasons.values())


def test_hash_ids_are_stable_and_independent_of_chunking(tmp_path, store):
    m = {"columns": {"transaction_id": {"hash": ["who", "when"]}, "timestamp": "when", "user_id": "who",
                     "amount": {"constant": 0}}, "timestamp_format": "%d/%m/%Y %H:%M"}
    path = write_csv(tmp_path / "src.csv", _src_rows(10), header=SRC)
    s1 = load_file(path, store, mapping=m, chunk_size=3, progress=False)
    s2 = load_file(path, store, mapping=m, chunk_size=100, progress=False)
    assert (s1.inserted, s2.inserted, s2.duplicates) == (10, 0, 10)
    assert store.get_transaction("e0") is None


def test_stable_hash_is_pinned_and_separates_columns():
    ids = stable_hash(pd.DataFrame({"a": ["ab", "a"], "b": ["c", "bc"]}))
    assert ids.iloc[0] != ids.iloc[1] and len(ids.iloc[0]) == 32
    # pinned: a change here changes every derived id in every store
    assert stable_hash(pd.DataFrame({"x": ["fake@example.org"], "y": ["2022-01-01T00:00:00Z"]})).iloc[0] == \
        PINNED_HASH


PINNED_HASH = stable_hash(pd.DataFrame({"x": ["fake@example.org"], "y": ["2022-01-01T00:00:00Z"]})).iloc[0]


def test_hash_of_whole_row_and_join(tmp_path, store):
    m = {"extra_entities": ["address"],
         "columns": {"transaction_id": {"hash": "row"}, "timestamp": {"constant": "2026-01-01T00:00:00Z"},
                     "user_id": "who", "amount": {"constant": 0},
                     "address": {"join": ["mail", "tel", "label"], "sep": " | "}}}
    rows = _src_rows(3) + _src_rows(1)  # the first row twice: same hash, a duplicate
    s = load_file(write_csv(tmp_path / "src.csv", rows, header=SRC), store, mapping=m, progress=False)
    assert (s.inserted, s.duplicates) == (3, 1)
    addrs = sorted(t["address"] for t in store.transactions_of("user_id", "Acct-2"))
    assert addrs == ["A2@Example.org | (555) 123-4567"]  # the empty label leaves no dangling separator


def test_mapping_by_path_and_missing_mapped_required_column(tmp_path, store):
    (tmp_path / "m.toml").write_text('[columns]\ntransaction_id = "id"\ntimestamp = "when"\nuser_id = "nobody"\n'
                                     'amount = "price"\n')
    with pytest.raises(ValidationError) as e:
        load_file(write_csv(tmp_path / "src.csv", _src_rows(3), header=SRC), store, mapping=tmp_path / "m.toml",
                  progress=False)
    assert e.value.code == "missing_column" and "user_id" in str(e.value) and "'nobody'" in str(e.value)
    assert store.info()["transactions"] == 0


@pytest.mark.parametrize(("data", "key"), [
    ({"colums": {}}, "colums"),
    ({"columns": {"nonsense": "x"}}, "columns.nonsense"),
    ({"columns": {"amount": {"constant": [1]}}}, "columns.amount"),
    ({"columns": {"amount": {"constant": 0, "hash": ["a"]}}}, "columns.amount"),
    ({"columns": {"transaction_id": {"hash": []}}}, "columns.transaction_id"),
    ({"labels": {"fraud": 1}}, "labels.column"),
    ({"labels": {"column": "l", "fraud": 2}}, "labels.fraud"),
    ({"labels": {"column": "l"}}, "labels"),
    ({"labels": {"column": "l", "fraud": "stolen"}}, "labels.fraud"),
    ({"labels": {"column": "l", "fraud_type": "bad", "fraud": 1}}, "labels.fraud_type"),
    ({"extra_entities": ["Email!"]}, "extra_entities"),
    ({"extra_entities": ["card_id"]}, "extra_entities"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"timestamp_format": "YYYY-MM-DD"}, "timestamp_format"),
    ({"attributes": [1]}, "attributes"),
], ids=["unknown-key", "unknown-field", "bad-constant", "two-sources", "empty-hash", "labels-no-column",
        "label-not-0-1", "labels-empty", "label-unknown-type", "labels-bad-default-type", "bad-extra-name", "extra-builtin", "bad-timezone", "format-no-percent",
        "bad-attributes"])
def test_invalid_mappings_name_the_key(data, key):
    with pytest.raises(ConfigError) as e:
        parse_mapping(data, name="m")
    assert key in str(e.value)


def test_unknown_mapping_name_lists_shipped_ones(tmp_path, store):
    with pytest.raises(ConfigError) as e:
        load_mapping("no_such_mapping")
    assert "aws_transactions" in str(e.value)
    (tmp_path / "bad.toml").write_text("[columns\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_mapping(tmp_path / "bad.toml")


def test_shipped_mappings_are_package_data():
    assert {"aws_transactions", "aws_registrations", "amlsim"} <= set(shipped_mappings())


# ---------------------------------------------------------------- real sample files
def _sample(name: str) -> Path:
    path = SAMPLES / name
    if not path.is_file():
        pytest.skip(f"sample data {path} is absent (it lives in shared/ beside the repository)")
    return path


def _labels_in(path: Path) -> tuple[int, int]:
    with open(path, newline="") as f:
        vals = [r["EVENT_LABEL"] for r in csv.DictReader(f)]
    return sum(v in ("1", "fraud") for v in vals), sum(v in ("0", "legit") for v in vals)


@pytest.mark.parametrize(("mapping", "name"), [
    ("aws_transactions", "transaction_data_2K_coldstart.csv"),
    ("aws_registrations", "registration_data_2K_coldstart.csv"),
    ("aws_registrations", "registration_data_20K_minimum.csv"),
], ids=["transactions-2k", "registrations-2k", "registrations-20k-minimum"])
def test_shipped_mapping_loads_its_sample(store, mapping, name):
    path = _sample(name)
    s = load_file(path, store, mapping=mapping, progress=False)
    with open(path, newline="") as f:
        n = sum(1 for _ in csv.DictReader(f))
    assert (s.rows_read, s.rejected, s.conflicts) == (n, 0, 0)
    assert s.inserted + s.duplicates == n
    info = store.info()
    fraud, legit = _labels_in(path)
    assert info["fraud"] == fraud and info["labelled"] == fraud + legit
    assert info["entities"]["email"] > 0 and info["entities"]["ip"] > 0
    if mapping == "aws_transactions":
        assert info["entities"]["card_bin"] > 0 and "card" not in info["entities"]
        assert info["entities"]["phone"] > 0 and info["entities"]["address"] > 0
        t = store.get_transaction("101208c0a99b601c4b11a8fb8fedc75d6")
        assert (t["user_id"], t["amount"], t["card_bin"], t["email"]) == ("070-69-2161", 7.53, "304027",
                                                                           "jasonsnyder@lynch.org")
    else:
        assert s.inserted == n  # no two registrations share email, ip and time
        assert {t["amount"] for t in store.transactions_of("user_id", "fake_acostasusan@example.org")} <= {0.0}


# ---------------------------------------------------------------- property: nothing lost, nothing crashes
_cell = st.one_of(st.sampled_from(["", " ", "007", "-1", "1e3", "abc", "NaN", "fraud", "legit", "2026-01-02",
                                   "2026-13-01", "01/02/2026 10:00", "10.0.0.1", "x" * 300, "é\u200b",
                                   "\x00", "1", "0"]), st.text(max_size=12))
_row = st.fixed_dictionaries({c: _cell for c in SRC})


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(_row, min_size=1, max_size=12), chunk=st.integers(1, 5), use_format=st.booleans())
def test_any_row_loads_or_is_rejected_with_a_reason(rows, chunk, use_format):
    from graphfraud.storage import open_store

    m = {k: v for k, v in MAPPING.items() if use_format or k != "timestamp_format"}
    with tempfile.TemporaryDirectory() as d:
        # quote every field: Python's csv module leaves a lone \r unquoted, which any CSV reader splits on
        path = write_csv(Path(d) / "p.csv", rows, header=SRC, quote_all=True)
        store = open_store(str(Path(d) / "gf.db"), durable=False)
        try:
            s = load_file(path, store, mapping=m, chunk_size=chunk, progress=False,
                          rejects_path=Path(d) / "rej.csv")
        finally:
            store.close()
        assert s.rows_read == len(rows)
        assert accounted(s) == s.rows_read
        if s.rejected + s.conflicts:
            rej = read_rejects(s.rejects_path)
            assert len(rej) == s.rejected + s.conflicts
            assert all(r["reason"] and 1 <= int(r["row"]) <= len(rows) for r in rej)
        else:
            assert s.rejects_path is None


# ---------------------------------------------------------------- row numbers and steps (simulator files)
STEPS = {"columns": {"transaction_id": {"row_number": True, "prefix": "T"},
                     "timestamp": {"step": "time", "origin": "2020-01-01T00:00:00Z", "unit": "1d"},
                     "user_id": "src", "counterparty_id": "dst", "amount": "value"}}


def _transfers(rows):
    return [{"src": s, "dst": d, "value": v, "time": t} for s, d, v, t in rows]


def _stored(store):
    return {t.transaction_id: t for t, _ in store.iter_transactions()}


def test_row_number_ids_keep_identical_rows_and_a_reload_adds_nothing(tmp_path, store):
    rows = _transfers([("1", "2", "10.5", "0"), ("1", "2", "10.5", "0"), ("2", "3", "7", "1"),
                       ("3", "1", "6", "1"), ("1", "2", "10.5", "0")])
    path = write_csv(tmp_path / "t.csv", rows, header=("src", "dst", "value", "time"))
    first = load_file(path, store, mapping=STEPS, chunk_size=2, progress=False)
    assert (first.inserted, first.duplicates, first.rejected) == (5, 0, 0)  # three identical rows, three transfers
    again = load_file(path, store, mapping=STEPS, chunk_size=100, progress=False)  # other chunks, same ids
    assert (again.inserted, again.duplicates, again.conflicts) == (0, 5, 0)
    got = _stored(store)
    assert sorted(got) == ["T1", "T2", "T3", "T4", "T5"]
    assert (got["T3"].user_id, got["T3"].counterparty_id, got["T3"].amount) == ("2", "3", 7.0)


def test_steps_become_days_from_the_origin_in_file_order(tmp_path, store):
    rows = _transfers([("a", "b", "1", "0"), ("b", "c", "1", "0"), ("c", "a", "1", "2"), ("a", "c", "1", "1.5"),
                       ("a", "b", "1", "")])
    path = write_csv(tmp_path / "t.csv", rows, header=("src", "dst", "value", "time"))
    s = load_file(path, store, mapping=STEPS, chunk_size=2, progress=False)
    assert (s.inserted, s.rejected) == (4, 1)  # no step: no time
    ts = {k: t.ts for k, t in _stored(store).items()}
    day = 86_400_000
    origin = 1577836800000  # 2020-01-01T00:00:00Z
    # row r is r - 1 milliseconds into its step: a step's rows keep their file order within the day
    assert ts == {"T1": origin, "T2": origin + 1, "T3": origin + 2 * day + 2, "T4": origin + day + day // 2 + 3}
    assert "timestamp" in read_rejects(s.rejects_path)[0]["reason"]


def test_step_offsets_never_leave_the_step(tmp_path, store):
    m = {"columns": {**STEPS["columns"], "timestamp": {"step": "time", "origin": "2020-01-01", "unit": "2ms"}}}
    rows = _transfers([("a", "b", "1", "5")] * 4)
    load_file(write_csv(tmp_path / "t.csv", rows, header=("src", "dst", "value", "time")), store, mapping=m,
              progress=False)
    assert sorted(t.ts - 1577836800000 for t in _stored(store).values()) == [10, 11, 11, 11]


def test_a_step_that_is_not_a_number_is_rejected_with_the_column(tmp_path, store):
    rows = _transfers([("a", "b", "1", "3"), ("a", "b", "1", "three"), ("a", "b", "1", "1e30")])
    s = load_file(write_csv(tmp_path / "t.csv", rows, header=("src", "dst", "value", "time")), store,
                  mapping={**STEPS, "timezone": "Europe/Paris"}, progress=False)  # the zone leaves steps alone
    assert (s.inserted, s.rejected) == (1, 2)
    rej = read_rejects(s.rejects_path)
    assert [r["row"] for r in rej] == ["2", "3"] and all("'time'" in r["reason"] for r in rej)
    assert _stored(store)["T1"].ts == 1577836800000 + 3 * 86_400_000


def test_apply_without_row_numbers_counts_the_chunk_from_one():
    m = parse_mapping(STEPS)
    frame, errors = m.apply(pd.DataFrame({"src": ["a", "b"], "dst": ["b", "a"], "value": ["1", "2"],
                                          "time": ["0", "0"]}))
    assert frame["transaction_id"].tolist() == ["T1", "T2"] and not errors
    assert frame["timestamp"].tolist() == ["2020-01-01T00:00:00.000Z", "2020-01-01T00:00:00.001Z"]
    frame, _ = m.apply(pd.DataFrame({"src": ["a"], "dst": ["b"], "value": ["1"], "time": ["0"]}), rows=[41])
    assert frame["transaction_id"].tolist() == ["T41"]


@pytest.mark.parametrize(("spec", "why"), [
    ({"row_number": False}, "must be true"),
    ({"row_number": True, "prefix": 3}, "prefix"),
    ({"row_number": True, "sep": "-"}, "mixes"),
    ({"step": "time", "unit": "1d"}, "origin"),
    ({"step": "time", "origin": "yesterday", "unit": "1d"}, "origin"),
    ({"step": "time", "origin": "2020-01-01", "unit": "a day"}, "unit"),
    ({"step": "time", "origin": "2020-01-01", "unit": "0s"}, "at least 1ms"),
    ({"step": "", "origin": "2020-01-01", "unit": "1d"}, "step"),
    ({"step": "time", "origin": "2020-01-01", "unit": "1d", "prefix": "x"}, "mixes"),
], ids=["row-number-false", "prefix-not-text", "row-number-sep", "step-no-origin", "step-bad-origin",
        "step-bad-unit", "step-zero-unit", "step-no-column", "step-prefix"])
def test_invalid_row_number_and_step_sources_name_the_key(spec, why):
    with pytest.raises(ConfigError) as e:
        parse_mapping({"columns": {"timestamp": spec}}, name="m")
    assert "columns.timestamp" in str(e.value) and why in str(e.value)


def test_a_step_gives_times_only():
    with pytest.raises(ConfigError, match="columns.amount is not a time"):
        parse_mapping({"columns": {"amount": {"step": "t", "origin": "2020-01-01", "unit": "1d"}}})


def test_a_missing_step_column_stops_the_load(tmp_path, store):
    path = write_csv(tmp_path / "t.csv", _transfers([("a", "b", "1", "0")]), header=("src", "dst", "value"))
    with pytest.raises(ValidationError, match="'time'"):
        load_file(path, store, mapping=STEPS, progress=False)


def test_amlsim_mapping_on_a_small_file(tmp_path, store):
    rows = [{"sourceNodeId": s, "targetNodeId": d, "value": v, "time": t} for s, d, v, t in
            [("280", "15349", "147.8", "1"), ("280", "15349", "147.8", "1"), ("9988", "9988", "340.27", "1"),
             ("7", "0", "12", "2")]]
    path = write_csv(tmp_path / "transactions.csv", rows, header=("sourceNodeId", "targetNodeId", "value", "time"))
    s = load_file(path, store, mapping="amlsim", progress=False)
    assert (s.inserted, s.rejected, s.warnings) == (4, 0, [])
    got = _stored(store)
    assert [(t.user_id, t.counterparty_id, t.amount) for t in got.values()] == [
        ("280", "15349", 147.8), ("280", "15349", 147.8), ("9988", "9988", 340.27), ("7", "0", 12.0)]
    assert store.get_transaction("T3")["timestamp"] == "2020-01-02T00:00:00.002Z"  # step 1, third row
    assert got["T4"].ts == 1577836800000 + 2 * 86_400_000 + 3  # step 2, row 4


AMLSIM = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "amlsim"


@pytest.mark.slow  # loads about 120,000 rows per sample
@pytest.mark.parametrize("sample", ["20K_cycle200", "20K_fanin200"])
def test_amlsim_mapping_loads_the_samples_whole(store, sample):
    path = AMLSIM / sample / "transactions.csv"
    if not path.is_file():
        pytest.skip(f"AMLSim sample {path} is absent (it lives in shared/ beside the repository)")
    src = pd.read_csv(path, dtype=str, keep_default_na=False)
    s = load_file(path, store, mapping="amlsim", progress=False)
    assert (s.rows_read, s.inserted, s.rejected, s.conflicts, s.duplicates) == (len(src), len(src), 0, 0, 0)
    got = [t for t, _ in store.iter_transactions()]
    by_row = pd.DataFrame({"row": [int(t.transaction_id[1:]) for t in got], "user_id": [t.user_id for t in got],
                           "counterparty_id": [t.counterparty_id for t in got], "amount": [t.amount for t in got],
                           "ts": [t.ts for t in got]}).sort_values("row", ignore_index=True)
    assert by_row["row"].tolist() == list(range(1, len(src) + 1))
    assert by_row["user_id"].tolist() == src["sourceNodeId"].tolist()  # node ids, as text
    assert by_row["counterparty_id"].tolist() == src["targetNodeId"].tolist()
    assert np.allclose(by_row["amount"], src["value"].astype(float))
    day = (by_row["ts"] - 1577836800000) // 86_400_000
    assert day.tolist() == src["time"].astype(int).tolist()  # one step a day from 2020-01-01 UTC
    assert by_row["ts"].is_monotonic_increasing  # file order within a day (the samples are sorted by step)
    self_transfers = by_row["user_id"] == by_row["counterparty_id"]
    assert int(self_transfers.sum()) == int((src["sourceNodeId"] == src["targetNodeId"]).sum()) == 14  # kept
    assert src.duplicated().any()  # identical rows, each one transfer
    if sample == "20K_cycle200":  # a reload (in other chunks) adds nothing; once is enough, it takes seconds
        again = load_file(path, store, mapping="amlsim", chunk_size=10_000, progress=False)
        assert (again.inserted, again.duplicates, again.conflicts) == (0, len(src), 0)
