"""The store contract: each backend class against each role's protocol, one suite every backend must pass,
plus the embedded backend's crash and WAL tests.

``store`` is parametrised over both backends: the embedded file and a real Neo4j server (``neo4j_url`` in
``tests/conftest.py`` yields a bolt URL to an empty database). Tests that need a file path (kill -9, two
processes, schema upgrades) use ``store_path`` and are embedded only.
"""
from __future__ import annotations

import hashlib
import inspect
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from graphfraud.errors import Conflict, NotFound
from graphfraud.schema import Label, validate_frame, validate_record
from graphfraud.storage import open_store, roles
from graphfraud.storage.embedded import SCHEMA_VERSION, EmbeddedStore
from graphfraud.storage.neo4j import Neo4jStore

BACKENDS = [pytest.param("embedded", id="embedded")]
BACKENDS.append(pytest.param("neo4j", marks=pytest.mark.neo4j, id="neo4j"))  # neo4j_url: tests/conftest.py
T0 = 1767348000000  # 2026-01-02T10:00:00Z
HOUR = 3_600_000
INFO_KEYS = ("transactions", "labelled", "fraud", "entities", "links")


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "embedded":
        s = open_store(str(tmp_path / "s.db"))
    else:
        s = open_store(request.getfixturevalue("neo4j_url"))
    yield s
    s.close()


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """An embedded store file, created empty."""
    path = tmp_path / "s.db"
    open_store(str(path)).close()
    return path


# ---------------------------------------------------------------- the roles
ROLES = [getattr(roles, name) for name in roles.__all__]
BACKEND_CLASSES = [EmbeddedStore, Neo4jStore]


def protocol_members(proto: type) -> tuple[dict[str, inspect.Signature], set[str]]:
    """A protocol's methods (name -> signature) and attributes, its bases' included."""
    methods: dict[str, inspect.Signature] = {}
    attributes: set[str] = set()
    for klass in reversed(proto.__mro__):
        if klass.__module__ != roles.__name__:
            continue
        attributes.update(vars(klass).get("__annotations__", {}))
        methods.update({n: inspect.signature(f) for n, f in vars(klass).items()
                        if inspect.isfunction(f) and not n.startswith("_")})
    return methods, attributes


def shape(sig: inspect.Signature) -> list[tuple[str, Any, Any, Any]]:
    return [(p.name, p.kind, p.default, p.annotation) for p in sig.parameters.values()] + [sig.return_annotation]


@pytest.mark.parametrize("backend", BACKEND_CLASSES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.__name__)
def test_every_backend_implements_every_role(role: type, backend: type) -> None:
    methods, attributes = protocol_members(role)
    assert methods, role  # a role with nothing in it would make this test pass by default
    for name, sig in methods.items():
        impl = getattr(backend, name, None)
        assert callable(impl), f"{backend.__name__} has no {name}"
        assert shape(inspect.signature(impl)) == shape(sig), f"{backend.__name__}.{name}"
    for name in attributes - {"location"}:  # location is set per instance
        assert name in vars(backend), f"{backend.__name__} has no {name}"


def test_the_role_check_sees_a_missing_or_different_method() -> None:
    class Partial(EmbeddedStore):
        def erase_user(self, user: str, actor: str) -> dict[str, Any]:  # another parameter name
            return {}

    methods, _ = protocol_members(roles.ErasureStore)
    assert shape(inspect.signature(Partial.erase_user)) != shape(methods["erase_user"])
    assert "save_rings" in protocol_members(roles.GraphStore)[0]


# ---------------------------------------------------------------- factories
def row(i: int, **fields: Any) -> dict[str, str]:
    """A full row of text (every optional column filled unless overridden)."""
    r = {"transaction_id": f"t{i}", "timestamp": f"2026-01-02T10:{i % 60:02d}:00", "user_id": f"u{i % 3}",
         "amount": f"{10 + i}", "card_id": f"c{i % 2}", "device_id": f"d{i % 4}", "ip": f"10.0.0.{i % 5}",
         "merchant_id": "m1", "currency": "USD", "country": "US", "is_fraud": "", "labelled_at": ""}
    r.update({k: str(v) for k, v in fields.items()})
    return r


def chunk(rows: list[dict[str, str]], first_row: int = 1) -> pd.DataFrame:
    """A validated chunk, exactly as the loaders hand it to the store."""
    cols = list(dict.fromkeys(c for r in rows for c in r))
    good, rejects = validate_frame(pa.table({c: pa.array([r.get(c, "") for r in rows], pa.string()) for c in cols}),
                                   first_row=first_row)
    assert rejects == []
    return good


def tx(tid: str = "a1", **fields: Any) -> Any:
    data = {"transaction_id": tid, "timestamp": "2026-01-02T10:00:00", "user_id": "u1", "amount": 5,
            "card_id": "c1"}
    data.update(fields)
    return validate_record(data)


# ---------------------------------------------------------------- bulk writes
def test_bulk_write_counts(store: Any) -> None:
    res = store.write_transactions(chunk([row(i) for i in range(10)]))
    assert (res.inserted, res.duplicates, res.labelled, res.conflicts) == (10, 0, 0, [])
    assert res.last_seq - res.first_seq + 1 == 10
    info = store.info()
    assert info["transactions"] == 10 and info["labelled"] == 0 and info["fraud"] == 0
    assert store.get_transaction("t3")["card_id"] == "c1"


def test_info_has_the_contract_keys(store: Any) -> None:
    info = store.info()
    for k in INFO_KEYS:
        assert k in info
    assert (info["transactions"], info["labelled"], info["fraud"], info["links"]) == (0, 0, 0, 0)
    assert isinstance(info["entities"], dict)


def test_same_chunk_twice_adds_nothing(store: Any) -> None:
    c = chunk([row(i) for i in range(8)])
    store.write_transactions(c)
    before = store.info()
    res = store.write_transactions(c)
    assert (res.inserted, res.duplicates, res.labelled, res.conflicts) == (0, 8, 0, [])
    after = store.info()
    assert {k: after[k] for k in INFO_KEYS} == {k: before[k] for k in INFO_KEYS}


def test_same_chunk_twice_with_partly_empty_columns(store: Any) -> None:
    c = chunk([row(0), row(1, card_id="", country="")])
    store.write_transactions(c)
    res = store.write_transactions(c)
    assert (res.inserted, res.duplicates, res.conflicts) == (0, 2, [])


def test_transactions_read_back_as_written_with_absent_identifiers(store: Any) -> None:
    """What training, backtests and engine rebuilds read: an absent identifier stays absent (None), never a
    float NaN (which pandas 3 puts in text columns of a frame built from rows) that would count as one."""
    from graphfraud.scoring import build_engine

    rows = [row(0), row(1, device_id="", ip=""), row(2, card_id="", merchant_id="", country=""), row(3)]
    store.write_transactions(chunk(rows))
    back = list(store.iter_transactions())
    assert [seq for _, seq in back] == sorted(seq for _, seq in back) and len(back) == len(rows)
    for (got, _), r in zip(back, rows):
        want = validate_record(r)
        assert got.entities() == want.entities(), r
        assert (got.transaction_id, got.ts, got.user_id, got.amount, got.currency, got.country, got.is_fraud) == (
            want.transaction_id, want.ts, want.user_id, want.amount, want.currency, want.country, want.is_fraud)
    engine = build_engine(store)
    assert {(t, n) for t, names in engine.ent_ix.items() for n in names} == \
        {e for r in rows for e in validate_record(r).entities()}


def test_new_fields_and_typed_labels_read_back_from_every_path(store: Any) -> None:
    """fraud_type, auth_result, decline_reason and counterparty_id: bulk, one by one, events, history and
    labels all give back what was written; a retry with another auth result is a conflict."""
    store.write_transactions(chunk([row(0, is_fraud="1", fraud_type="third_party", auth_result="declined",
                                        decline_reason="cvv", counterparty_id="u9")]))
    tx = validate_record(row(1, is_fraud="1", fraud_type="scam", counterparty_id="u7", auth_result="approved"))
    store.add_transaction(tx, {"score": 0.1, "decision": "allow"})
    store.add_labels([Label("transaction", "t0", "1", None, "chargeback", "first_party")])
    back = {t.transaction_id: t for t, _ in store.iter_transactions()}
    assert (back["t0"].fraud_type, back["t0"].auth_result, back["t0"].decline_reason, back["t0"].counterparty_id) \
        == ("third_party", "declined", "cvv", "u9")
    assert (back["t1"].fraud_type, back["t1"].counterparty_id, back["t1"].auth_result) == ("scam", "u7", "approved")
    events = [e for e in store.events_since(0)]
    assert [e.transaction.fraud_type for e in events if e.kind == "transaction"] == ["third_party", "scam"]
    assert [e.label.fraud_type for e in events if e.kind == "label"] == ["first_party"]
    assert [lb.fraud_type for _, lb in store.labels()] == ["first_party"]
    assert store.get_transaction("t0")["counterparty_id"] == "u9"
    with pytest.raises(Conflict):
        store.add_transaction(validate_record(row(1, is_fraud="1", fraud_type="scam", counterparty_id="u7",
                                                  auth_result="declined")))


def test_transfers_are_money_between_users_in_both_stores(store: Any) -> None:
    """A transaction with a counterparty is a transfer: both stores total them per (payer, receiver) pair
    (Neo4j through (:User)-[:TRANSFERRED]->(:User) relationships), and erasing a user renames them as a
    counterparty too."""
    rows = [row(0, counterparty_id="u9", amount="10"), row(1, counterparty_id="u9", amount="5"),
            row(2, counterparty_id="u0", amount="7"), row(3)]
    store.write_transactions(chunk(rows))
    got = store.transfer_totals().sort_values(["src", "dst"]).reset_index(drop=True)
    want = sorted({(validate_record(r).user_id, r["counterparty_id"]) for r in rows if r.get("counterparty_id")})
    assert list(zip(got["src"], got["dst"])) == want
    by_pair = {(s_, d): (n, a) for s_, d, n, a in zip(got["src"], got["dst"], got["n"], got["amount"])}
    assert by_pair[("u0", "u9")] == (1, 10.0) and by_pair[("u1", "u9")] == (1, 5.0)
    out = store.erase_user("u9", "test")
    assert "u9" not in set(store.transfer_totals()["dst"]) and out["pseudonym"] in set(store.transfer_totals()["dst"])
    assert all(t.counterparty_id != "u9" for t, _ in store.iter_transactions())


@pytest.mark.parametrize("share", [0.01, 0.3], ids=["few-transfers", "mostly-transfers"])
def test_transfer_totals_are_the_same_summed_by_sqlite_or_after_a_scan(tmp_path: Path, share: float,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A store whose rows are mostly transfers sums them after one scan of the table (``TRANSFERS_SCAN_SHARE``),
    otherwise SQLite sums them through the partial index: the same frame, row order and types included."""
    from graphfraud.storage import txframe

    rows = [row(i, counterparty_id=f"u{(i * 7) % 13}" if (i * 31) % 100 < share * 100 else "",
                amount=f"{(i * 37) % 500 / 4:.2f}") for i in range(600)]
    s = open_store(str(tmp_path / "s.db"))
    s.write_transactions(chunk(rows))
    monkeypatch.setattr(txframe, "TRANSFERS_SCAN_SHARE", 0.0)
    scanned = s.transfer_totals()
    monkeypatch.setattr(txframe, "TRANSFERS_SCAN_SHARE", 2.0)
    summed = s.transfer_totals()
    s.close()
    assert len(summed) > 1 and summed["n"].sum() == sum(1 for r in rows if r["counterparty_id"])
    pd.testing.assert_frame_equal(scanned, summed, check_exact=False, rtol=1e-12)


def test_a_version_1_store_is_upgraded_in_place(tmp_path: Path) -> None:
    """A store made before the optional fields existed gains their columns when opened, keeping its rows."""
    path = tmp_path / "old.db"
    s = open_store(str(path))
    s.write_transactions(chunk([row(0), row(1, is_fraud="1")]))
    s.close()
    con = sqlite3.connect(path)
    con.execute("DROP INDEX tx_counterparty")  # version 1 had neither the column nor its index
    for table, cols in (("tx", ("counterparty_id", "fraud_type", "auth_result", "decline_reason")),
                        ("label", ("fraud_type",))):
        for c in cols:
            con.execute(f"ALTER TABLE {table} DROP COLUMN {c}")
    con.execute("UPDATE meta SET value='1' WHERE key='schema_version'")
    con.commit()
    con.close()
    s = open_store(str(path))
    try:
        assert s.get_meta("schema_version") == SCHEMA_VERSION
        s.write_transactions(chunk([row(2, auth_result="declined")]))
        back = [t for t, _ in s.iter_transactions()]
        assert [t.transaction_id for t in back] == ["t0", "t1", "t2"] and back[2].auth_result == "declined"
    finally:
        s.close()


def test_a_version_2_store_gains_the_index_of_transfers_received(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    s = open_store(str(path))
    s.write_transactions(chunk([row(0, counterparty_id="u2")]))
    s.close()
    con = sqlite3.connect(path)
    con.execute("DROP INDEX tx_counterparty")
    con.execute("UPDATE meta SET value='2' WHERE key='schema_version'")
    con.commit()
    con.close()
    s = open_store(str(path))
    try:
        assert s.get_meta("schema_version") == SCHEMA_VERSION
        assert [r["payer"] for r in s.transfers_of("u2", 10)] == ["u0"]
    finally:
        s.close()
    con = sqlite3.connect(path)
    plan = " ".join(str(r) for r in con.execute("EXPLAIN QUERY PLAN SELECT user_id FROM tx WHERE counterparty_id='u2'"))
    con.close()
    assert "tx_counterparty" in plan


def test_duplicates_within_one_chunk_are_counted(store: Any) -> None:
    res = store.write_transactions(chunk([row(1), row(2), row(1)]))
    assert (res.inserted, res.duplicates, res.conflicts) == (2, 1, [])


def test_replay_with_a_new_label_adds_the_label(store: Any) -> None:
    store.write_transactions(chunk([row(i) for i in range(4)]))
    res = store.write_transactions(chunk([row(2, is_fraud=1), row(3, is_fraud=0)]))
    assert (res.inserted, res.duplicates, res.labelled, res.conflicts) == (0, 0, 2, [])
    info = store.info()
    assert (info["transactions"], info["labelled"], info["fraud"]) == (4, 2, 1)
    again = store.write_transactions(chunk([row(2, is_fraud=1)]))
    assert (again.labelled, again.duplicates) == (0, 1)
    assert store.info()["labelled"] == 2


@pytest.mark.parametrize(("field", "value"), [("amount", "999"), ("user_id", "someone_else"), ("card_id", "c9"),
                                              ("timestamp", "2026-01-03T00:00:00")],
                         ids=["amount", "user", "card", "timestamp"])
def test_same_id_with_other_content_is_a_conflict(store: Any, field: str, value: str) -> None:
    store.write_transactions(chunk([row(1), row(2)]))
    res = store.write_transactions(chunk([row(5), row(1, **{field: value})], first_row=41))
    assert res.inserted == 1 and res.duplicates == 0
    assert len(res.conflicts) == 1
    row_no, reason = res.conflicts[0]
    assert row_no == 42
    assert "t1" in reason and field.replace("timestamp", "ts") in reason
    assert store.get_transaction("t1")[field if field != "timestamp" else "timestamp"] != value


def test_links_first_last_count(store: Any) -> None:
    rows = [
        {"transaction_id": "a", "timestamp": "2026-01-02T10:00:00", "user_id": "u1", "amount": "1", "card_id": "c1"},
        {"transaction_id": "b", "timestamp": "2026-01-02T12:00:00", "user_id": "u1", "amount": "1", "card_id": "c1"},
        {"transaction_id": "c", "timestamp": "2026-01-02T11:00:00", "user_id": "u1", "amount": "1", "card_id": "c1"},
        {"transaction_id": "d", "timestamp": "2026-01-02T13:00:00", "user_id": "u2", "amount": "1", "card_id": "c1"},
    ]
    store.write_transactions(chunk(rows))
    store.write_transactions(chunk([{"transaction_id": "e", "timestamp": "2026-01-02T09:00:00", "user_id": "u1",
                                     "amount": "1", "card_id": "c1"}]))
    links = store.links_frame()
    got = {(r.type, r.entity_id, r.user_id): (r.first_seen, r.last_seen, r.n) for r in links.itertuples()}
    assert got == {("card", "c1", "u1"): (T0 - HOUR, T0 + 2 * HOUR, 4), ("card", "c1", "u2"): (T0 + 3 * HOUR,) * 2 + (1,)}
    info = store.info()
    assert info["links"] == 2
    assert info["entities"] == {"user": 2, "card": 1}


# ---------------------------------------------------------------- one transaction
def test_add_transaction_new_replay_conflict(store: Any) -> None:
    seq, stored = store.add_transaction(tx(), {"score": 0.1, "decision": "allow"})
    assert stored is None and seq >= 1
    seq2, stored2 = store.add_transaction(tx(), {"score": 0.9, "decision": "block"})
    assert seq2 == seq
    assert stored2["decision"] == "allow"  # the first decision stands on a retry
    with pytest.raises(Conflict) as info:
        store.add_transaction(tx(amount=6))
    assert info.value.code == "transaction_conflict"
    assert store.info()["transactions"] == 1
    assert store.get_decision("a1")["score"] == 0.1


def test_add_decision_to_a_stored_transaction_keeps_the_first(store: Any) -> None:
    store.add_transaction(tx())  # stored without a decision, as a bulk load stores it
    assert store.get_decision("a1") is None
    first = {"transaction_id": "a1", "score": 0.2, "decision": "allow"}
    assert store.add_decision("a1", first) == first
    assert store.add_decision("a1", {"transaction_id": "a1", "score": 0.9, "decision": "block"}) == first
    assert store.get_decision("a1") == first


def test_link_housekeeping_has_one_meaning(store: Any) -> None:
    store.write_transactions(chunk([row(1), row(2)]))
    store.checkpoint_in_background()
    assert store.refresh_links() is True
    assert store.count_links("card", "c1") == 1
    if not store.folds_link_totals:  # the write kept its links; totals are not used
        assert store.fold_link_totals(None, 1, 2) is False


# ---------------------------------------------------------------- events
def test_events_since_returns_everything_after_in_order(store: Any) -> None:
    store.write_transactions(chunk([row(1), row(2)]))
    mark = store.last_seq()
    store.add_labels([Label("transaction", "t1", "1", None, "chargeback")])
    store.add_transaction(tx("a9"))
    store.add_labels([Label("user", "u2", "fraudster", T0, "investigator")])
    events = store.events_since(mark)
    assert [e.kind for e in events] == ["label", "transaction", "label"]
    seqs = [e.seq for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3 and seqs[0] > mark
    assert events[0].label.subject_id == "t1" and events[1].transaction.transaction_id == "a9"
    assert events[2].label.value == "fraudster"
    everything = store.events_since(0)
    assert [e.kind for e in everything][:2] == ["transaction", "transaction"]
    assert store.events_since(seqs[-1]) == []
    assert store.last_seq() == seqs[-1]


def test_events_since_stops_at_the_limit_in_sequence_order(store: Any) -> None:
    store.add_transaction(tx("e1"))
    mark = store.last_seq()
    store.add_labels([Label("transaction", "e1", "1", None, "chargeback")])
    store.add_transaction(tx("e2", user_id="u2"))
    store.add_transaction(tx("e3", user_id="u3"))
    first = store.events_since(mark, 2)
    assert [e.kind for e in first] == ["label", "transaction"] and first[1].transaction.transaction_id == "e2"
    rest = store.events_since(first[-1].seq, 2)
    assert [e.transaction.transaction_id for e in rest] == ["e3"]


def test_links_of_scored_transactions_are_complete_for_every_reader(store: Any) -> None:
    """Scores fold into the link table in ranges; whatever was acknowledged is in every link read."""
    expected: dict[str, dict[str, int]] = {}
    for i in range(300):  # more than one fold range, and a tail that is not folded by the writes
        user, device = f"u{i % 37}", f"d{i % 11}"
        store.add_transaction(tx(f"s{i}", user_id=user, device_id=device, card_id=None),
                              {"score": 0.1, "decision": "allow", "reasons": []})
        expected.setdefault(device, {}).setdefault(user, 0)
        expected[device][user] += 1
        if i == 150:
            store.add_labels([Label("user", "u3", "fraudster", T0, "investigator")])
    for device, users in expected.items():
        got = {r["user_id"]: r["n"] for r in store.neighbours("device", device, 1000)}
        assert got == users, device
    frame = store.links_frame()
    assert int(frame.loc[frame["type"] == "device", "n"].sum()) == 300
    assert store.info()["links"] == len(frame)


# ---------------------------------------------------------------- transfers (the network views' money edges)
def _transfer_world(store: Any) -> None:
    """u1 pays u2 twice and u3 once, u2 pays u1 and u3, u3 pays itself; a bulk load and a score alike."""
    store.write_transactions(chunk([
        row(1, user_id="u1", counterparty_id="u2", amount="10", timestamp="2026-01-02T10:01:00"),
        row(2, user_id="u1", counterparty_id="u2", amount="15.5", timestamp="2026-01-02T10:05:00"),
        row(3, user_id="u1", counterparty_id="u3", amount="7", timestamp="2026-01-02T10:03:00"),
        row(4, user_id="u2", counterparty_id="u1", amount="4", timestamp="2026-01-02T10:04:00"),
        row(5, user_id="u3", counterparty_id="u3", amount="1", timestamp="2026-01-02T10:06:00"),
        row(6, user_id="u1", timestamp="2026-01-02T10:07:00"),  # a payment, not a transfer
    ]))
    store.add_transaction(tx("s7", user_id="u2", counterparty_id="u3", amount=3, timestamp="2026-01-02T10:08:00"),
                          {"score": 0.1, "decision": "allow", "reasons": []})


def test_transfers_of_a_user_both_ways_one_row_per_direction_and_partner(store: Any) -> None:
    _transfer_world(store)
    got = {(r["payer"], r["payee"]): r for r in store.transfers_of("u1", 100)}
    assert set(got) == {("u1", "u2"), ("u1", "u3"), ("u2", "u1")}
    assert (got["u1", "u2"]["n"], got["u1", "u2"]["amount"]) == (2, pytest.approx(25.5))
    assert got["u1", "u2"]["first_seen"] == T0 + 60_000 and got["u1", "u2"]["last_seen"] == T0 + 5 * 60_000
    assert (got["u2", "u1"]["n"], got["u2", "u1"]["amount"]) == (1, pytest.approx(4.0))
    # most recent first, and the limit counts rows
    assert [(r["payer"], r["payee"]) for r in store.transfers_of("u1", 2)] == [("u1", "u2"), ("u2", "u1")]
    u3 = {(r["payer"], r["payee"]): r["n"] for r in store.transfers_of("u3", 100)}
    assert u3 == {("u3", "u3"): 1, ("u1", "u3"): 1, ("u2", "u3"): 1}  # a self-transfer counts once
    assert store.transfers_of("nobody", 10) == []


def test_transfers_among_users_are_the_single_transfers_between_them(store: Any) -> None:
    _transfer_world(store)
    got = store.transfers_among(["u1", "u2"], 100)
    assert [(r["transaction_id"], r["payer"], r["payee"]) for r in got] == [
        ("t1", "u1", "u2"), ("t4", "u2", "u1"), ("t2", "u1", "u2")]
    assert got[0]["amount"] == pytest.approx(10.0) and got[0]["ts"] == T0 + 60_000 and got[0]["currency"] == "USD"
    assert [r["transaction_id"] for r in store.transfers_among(["u1", "u2", "u3"], 3)] == ["t1", "t3", "t4"]
    assert store.transfers_among(["u1"], 10) == [] and store.transfers_among([], 10) == []


# ---------------------------------------------------------------- label precedence
@pytest.mark.parametrize(("labels", "fraud"), [
    ([("chargeback", "1")], 1),
    ([("chargeback", "1"), ("investigator", "0")], 0),
    ([("investigator", "0"), ("chargeback", "1")], 0),
    ([("investigator", "1"), ("file", "0")], 1),
    ([("chargeback", "0"), ("file", "1")], 0),
    ([("chargeback", "1"), ("chargeback", "0")], 0),
], ids=["chargeback-over-file", "investigator-after", "investigator-before", "file-cannot-override",
        "file-below-chargeback", "later-same-source-wins"])
def test_label_precedence_in_info(store: Any, labels: list[tuple[str, str]], fraud: int) -> None:
    store.write_transactions(chunk([row(1, is_fraud=0), row(2)]))
    assert store.info()["fraud"] == 0
    store.add_labels([Label("transaction", "t1", v, None, src) for src, v in labels])
    info = store.info()
    assert info["fraud"] == fraud
    assert info["labelled"] == 1


def test_label_on_unlabelled_transaction_counts_as_labelled(store: Any) -> None:
    store.write_transactions(chunk([row(1), row(2)]))
    store.add_labels([Label("transaction", "t2", "1", T0, "chargeback")])
    info = store.info()
    assert (info["labelled"], info["fraud"]) == (1, 1)


# ---------------------------------------------------------------- registry
def test_api_keys_store_only_the_hash(store: Any, tmp_path: Path) -> None:
    from webui.auth import create_api_key

    key = create_api_key(store, "partner", "score")
    digest = hashlib.sha256(key.encode()).hexdigest()
    found = store.api_key_by_hash(digest)
    assert found["name"] == "partner" and found["scope"] == "score" and found["revoked_at"] is None
    assert store.api_key_by_hash(hashlib.sha256(b"other").hexdigest()) is None
    listed = store.list_api_keys()
    assert [k["name"] for k in listed] == ["partner"] and all("key_hash" not in k for k in listed)
    store.revoke_api_key("partner")
    assert store.api_key_by_hash(digest)["revoked_at"] is not None
    if getattr(store, "location", "").endswith(".db"):  # the plain key is nowhere in the embedded files
        store.close()
        blob = b"".join(p.read_bytes() for p in tmp_path.glob("s.db*"))
        assert key.encode() not in blob and digest.encode() in blob


@pytest.mark.parametrize("name", ["partner", "nobody"], ids=["already-revoked", "unknown"])
def test_revoking_a_missing_key_raises_not_found(store: Any, name: str) -> None:
    store.create_api_key("partner", "score", hashlib.sha256(b"k").hexdigest())
    store.revoke_api_key("partner")
    with pytest.raises(NotFound):
        store.revoke_api_key(name)


def test_app_users(store: Any) -> None:
    store.create_app_user("ann", "investigator", "hash-1")
    assert store.get_app_user("ann") == {"name": "ann", "role": "investigator", "password_hash": "hash-1",
                                         "disabled": False}
    assert store.get_app_user("bob") is None
    with pytest.raises(Conflict) as info:
        store.create_app_user("ann", "admin", "hash-2")
    assert info.value.code == "user_exists"
    assert store.list_app_users() == [{"name": "ann", "role": "investigator", "disabled": False}]


def test_sessions_live_in_the_store_and_end_there(store: Any) -> None:
    store.create_app_user("ann", "analyst", "hash-1")
    store.create_session("s1", "ann", 1000)
    store.create_session("s2", "ann", 2000)
    store.create_session("s3", "bob", 3000)
    assert store.get_session("s1") == {"user": "ann", "created_at": 1000, "last_seen": 1000}
    store.touch_session("s1", 1500)
    assert store.get_session("s1")["last_seen"] == 1500
    store.delete_session("s1")
    assert store.get_session("s1") is None
    assert store.delete_sessions("bob") == 1 and store.get_session("s3") is None
    store.create_session("s4", "ann", 9000)
    assert store.prune_sessions(created_before=2500, seen_before=0) == 1  # s2 started too long ago
    assert store.get_session("s2") is None and store.get_session("s4") is not None
    assert store.prune_sessions(created_before=0, seen_before=9500) == 1  # s4 idle too long
    assert store.get_session("s4") is None


@pytest.mark.parametrize("change", ["password", "disable"], ids=["password-change", "disable"])
def test_changing_an_account_ends_its_sessions(store: Any, change: str) -> None:
    store.create_app_user("ann", "analyst", "hash-1")
    store.create_app_user("bob", "analyst", "hash-b")
    for sid, user in (("a1", "ann"), ("a2", "ann"), ("b1", "bob")):
        store.create_session(sid, user, 1000)
    kw = {"password_hash": "hash-2"} if change == "password" else {"disabled": True}
    assert store.update_app_user("ann", **kw) == 2
    assert store.get_session("a1") is None and store.get_session("a2") is None
    assert store.get_session("b1") is not None  # other accounts keep theirs
    ann = store.get_app_user("ann")
    assert ann["disabled"] is (change == "disable")
    assert ann["password_hash"].lstrip("!") == ("hash-2" if change == "password" else "hash-1")
    assert store.update_app_user("ann", disabled=False) == 0
    assert store.get_app_user("ann")["disabled"] is False
    with pytest.raises(NotFound):
        store.update_app_user("nobody", disabled=True)


def test_throttle_events_are_counted_per_key_and_forgotten(store: Any) -> None:
    store.add_throttle(["pair:ann|1.2.3.4", "addr:1.2.3.4"], 1000, forget_before=0)
    store.add_throttle(["pair:ann|1.2.3.4", "addr:1.2.3.4"], 2000, forget_before=0)
    store.add_throttle(["addr:5.6.7.8"], 3000, forget_before=0)
    keys = ["pair:ann|1.2.3.4", "addr:1.2.3.4", "addr:5.6.7.8", "acct:nobody"]
    assert store.count_throttle(keys, since=0) == {"pair:ann|1.2.3.4": 2, "addr:1.2.3.4": 2, "addr:5.6.7.8": 1,
                                                   "acct:nobody": 0}
    assert store.count_throttle(keys, since=1500)["pair:ann|1.2.3.4"] == 1
    store.clear_throttle(["pair:ann|1.2.3.4"])
    assert store.count_throttle(keys, since=0)["pair:ann|1.2.3.4"] == 0
    store.add_throttle(["addr:9"], 5000, forget_before=2500)  # drops everything before 2500
    assert store.count_throttle(keys, since=0) == {"pair:ann|1.2.3.4": 0, "addr:1.2.3.4": 0, "addr:5.6.7.8": 1,
                                                   "acct:nobody": 0}


def test_a_store_from_before_sessions_gets_their_tables_on_first_write(store_path: Path) -> None:
    con = sqlite3.connect(store_path)
    con.executescript("DROP TABLE ui_session; DROP TABLE throttle;")
    con.close()
    store = open_store(str(store_path))
    assert store.get_session("s1") is None and store.count_throttle(["k"], 0) == {"k": 0}
    store.create_session("s1", "ann", 1)
    store.add_throttle(["k"], 5, forget_before=0)
    assert store.get_session("s1")["user"] == "ann" and store.count_throttle(["k"], 0) == {"k": 1}
    store.close()


def test_meta_settings_can_be_deleted(store: Any) -> None:
    store.set_meta("secret_key", "legacy-secret")
    store.delete_meta("secret_key")
    assert store.get_meta("secret_key") is None
    store.delete_meta("never-set")  # nothing to delete is fine
    with pytest.raises(ValueError):
        store.delete_meta("seq")


def test_cases_and_their_audit_rows(store: Any) -> None:
    cid, created = store.create_case("ring", "R-1", "Check ring R-1", actor="ann")
    assert created
    # one case at a time on a thing: asking again gives the open one
    assert store.create_case("ring", "R-1", "again", actor="bob") == (cid, False)
    store.update_case(cid, "bob", status="closed", assignee="bob", note="confirmed")
    case = store.get_case(cid)
    assert (case["status"], case["assignee"], case["created_by"]) == ("closed", "bob", "ann")
    assert [n["text"] for n in case["notes"]] == ["confirmed"]
    actions = [(a["actor"], a["action"]) for a in store.audit_log(target=f"case:{cid}")]
    assert sorted(actions) == [("ann", "case.create"), ("bob", "case.update")]
    with pytest.raises(NotFound):
        store.get_case(cid + 100)
    with pytest.raises(NotFound):
        store.update_case(cid + 100, "bob", status="open")


def test_one_open_case_on_a_thing_however_many_ask_at_once(store: Any, tmp_path: Path,
                                                           request: pytest.FixtureRequest) -> None:
    # eight investigators (or a double submit to two workers) at once, each through its own connection
    where = str(tmp_path / "s.db") if isinstance(store, EmbeddedStore) else request.getfixturevalue("neo4j_url")
    ref = f"user-{os.getpid()}-{id(store)}"
    start, got = threading.Barrier(8), []

    def ask(k: int) -> None:
        other = open_store(where)
        try:
            start.wait()
            got.append(other.create_case("user", ref, f"Review {ref}", actor=f"inv{k}"))
        finally:
            other.close()

    threads = [threading.Thread(target=ask, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 8 and len({cid for cid, _ in got}) == 1 and sum(created for _, created in got) == 1
    cid = got[0][0]
    assert [c["id"] for c in store.list_cases() if c["ref"] == ref] == [cid]
    # once it is closed, the next one is a new case
    store.update_case(cid, "inv0", status="closed")
    again, created = store.create_case("user", ref, "Review again", actor="inv1")
    assert created and again != cid


def test_two_investigators_deciding_one_case_at_once_one_decision_stands(store: Any, tmp_path: Path,
                                                                         request: pytest.FixtureRequest) -> None:
    """Each decides from a page that showed the case open: one decision is applied, the other is refused and
    says what the case is now; both notes are kept (a probe saw 'confirmed' with every member 'legitimate')."""
    where = str(tmp_path / "s.db") if isinstance(store, EmbeddedStore) else request.getfixturevalue("neo4j_url")
    ref = f"R-race-{os.getpid()}-{id(store)}"
    cid, _ = store.create_case("ring", ref, "race", actor="ann")
    start, got = threading.Barrier(2), {}

    def decide(who: str, status: str) -> None:
        other = open_store(where)
        try:
            start.wait()
            got[who] = other.update_case(cid, who, status=status, note=f"{who} says {status}",
                                         expect={"status": "open", "assignee": ""})
        finally:
            other.close()

    threads = [threading.Thread(target=decide, args=a) for a in (("alice", "confirmed"), ("bob", "dismissed"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    applied = [w for w, r in got.items() if r["status"] is not None]
    refused = [w for w, r in got.items() if r["refused"]]
    assert len(applied) == 1 and len(refused) == 1 and applied != refused
    now = store.get_case(cid)["status"]
    assert now == got[applied[0]]["status"]
    assert got[refused[0]]["refused"] == [{"field": "status", "now": now, "why": "changed"}]
    assert len(store.get_case(cid)["notes"]) == 2


def test_a_stale_form_changes_only_what_its_investigator_changed(store: Any) -> None:
    cid, _ = store.create_case("ring", f"R-stale-{id(store)}", "stale", actor="ann")
    store.update_case(cid, "ann", status="confirmed", assignee="ann", expect={"status": "open", "assignee": ""})
    # bob's page still shows the case open and nobody's: his new assignee is refused, his note kept
    r = store.update_case(cid, "bob", assignee="bob", note="looked", expect={"status": "open", "assignee": ""})
    assert r == {"status": None, "assignee": None, "refused": [{"field": "assignee", "now": "ann", "why": "changed"}]}
    case = store.get_case(cid)
    assert (case["status"], case["assignee"], case["notes"][-1]["text"]) == ("confirmed", "ann", "looked")


def test_a_closed_case_is_not_reopened_beside_another_open_one(store: Any) -> None:
    ref = f"R-reopen-{id(store)}"
    first, _ = store.create_case("ring", ref, "first", actor="ann")
    store.update_case(first, "ann", status="dismissed")
    second, created = store.create_case("ring", ref, "second", actor="bob")
    assert created
    r = store.update_case(first, "ann", status="open")
    assert r["status"] is None and r["refused"] == [{"field": "status", "now": "dismissed",
                                                     "why": "open_elsewhere", "case": second}]
    assert [c["id"] for c in store.list_cases() if c["ref"] == ref and c["status"] == "open"] == [second]
    store.update_case(second, "bob", status="dismissed")
    assert store.update_case(first, "ann", status="in_review")["status"] == "in_review"


def test_info_counts_each_users_label_in_force(store: Any) -> None:
    """A probe: an investigator's 'fraudster' then a file's 'legitimate' counted the user as legitimate in
    `info`, while the pages and the engine (investigator over chargeback over file) said fraudster."""
    tag = f"{os.getpid()}-{id(store)}"
    before = store.info()["user_labels"]
    store.add_labels([Label("user", f"a{tag}", "fraudster", None, "investigator"),
                      Label("user", f"a{tag}", "legitimate", None, "file"),
                      Label("user", f"b{tag}", "legitimate", None, "file"), Label("user", f"b{tag}", "mule", None, "file")])
    after = store.info()["user_labels"]
    assert {k: after.get(k, 0) - before.get(k, 0) for k in ("fraudster", "mule", "legitimate")} == {
        "fraudster": 1, "mule": 1, "legitimate": 0}


def test_rings_saved_found_by_user_and_retired(store: Any) -> None:
    ring = {"ring_id": "R-1", "status": "active", "score": 0.9, "size": 2, "users": ["u1", "u2"]}
    store.save_rings([ring], [{"ring_id": "R-1", "change": "created", "detail": {"size": 2}}])
    assert store.ring_of_users(["u1", "u2", "u3"]) == {"u1": "R-1", "u2": "R-1"}
    got = store.get_ring("R-1")
    assert got["users"] == ["u1", "u2"] and got["status"] == "active"
    assert [h["change"] for h in got["history"]] == ["created"]
    store.save_rings([{**ring, "status": "merged", "merged_into": "R-2"}], [{"ring_id": "R-1", "change": "merged"}])
    assert store.ring_of_users(["u1", "u2"]) == {}
    got = store.get_ring("R-1")
    assert (got["status"], got["merged_into"]) == ("merged", "R-2")
    assert [h["change"] for h in got["history"]] == ["created", "merged"]
    with pytest.raises(NotFound):
        store.get_ring("R-404")


def test_a_large_ring_set_is_saved_in_short_transactions_active_rings_first(store: Any,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Scores write to the same store: one transaction for a whole ring set held them up (95 ms at 1M)."""
    store.save_rings([{"ring_id": "R-old", "status": "active", "score": 0.5, "size": 2, "users": ["u0", "u1"]}], [])
    monkeypatch.setattr(store, "_ring_save_batch", 5, raising=False)  # members a transaction: one ring of 3 here
    seen: list[dict[str, str]] = []
    write = store._registry_write

    def watched(fn: Any, what: str) -> Any:
        seen.append(store.ring_of_users(["u0", "u1"]))  # what a reader sees before each transaction
        return write(fn, what)

    monkeypatch.setattr(store, "_registry_write", watched)
    merged = {"ring_id": "R-old", "status": "merged", "merged_into": "R-0", "score": 0.5, "size": 2,
              "users": ["u0", "u1"]}
    active = [{"ring_id": f"R-{i}", "status": "active", "score": 0.9 - i / 10, "size": 3,
               "users": ["u0", "u1", "u2"] if i == 0 else [f"v{i}a", f"v{i}b", f"v{i}c"]} for i in range(6)]
    store.save_rings([merged, *active], [{"ring_id": "R-old", "change": "merged", "detail": {"into": "R-0"}}])
    assert len(seen) == 6  # one active ring a transaction; the merged one (no members left) with the last
    assert all(s.keys() == {"u0", "u1"} for s in seen)  # the users never dropped out of every ring
    assert seen[0] == {"u0": "R-old", "u1": "R-old"}
    assert store.ring_of_users(["u0", "u1", "u2", "v5c"]) == {"u0": "R-0", "u1": "R-0", "u2": "R-0", "v5c": "R-5"}
    assert [r["ring_id"] for r in store.list_rings()] == [f"R-{i}" for i in range(6)]
    old = store.get_ring("R-old")
    assert (old["status"], old["merged_into"], [h["change"] for h in old["history"]]) == ("merged", "R-0", ["merged"])


def test_models_save_load_status(store: Any) -> None:
    store.save_model("m1", {"metrics": {"ap": 0.8}}, b"\x00model-one")
    store.save_model("m2", {"metrics": {"ap": 0.9}}, b"model-two")
    meta, blob = store.load_model("m1")
    assert blob == b"\x00model-one" and meta["metrics"] == {"ap": 0.8}
    assert meta["sha256"] == hashlib.sha256(b"\x00model-one").hexdigest()
    assert {m["version"]: m["status"] for m in store.list_models()} == {"m1": "candidate", "m2": "candidate"}
    mark = store.last_seq()
    store.set_model_status("m1", "promoted")
    store.set_model_status("m2", "promoted")
    assert {m["version"]: m["status"] for m in store.list_models()} == {"m1": "retired", "m2": "promoted"}
    events = store.events_since(mark)
    assert [(e.kind, e.data["version"]) for e in events] == [("model", "m1"), ("model", "m2")]
    with pytest.raises(NotFound):
        store.load_model("m404")
    with pytest.raises(NotFound):
        store.set_model_status("m404", "promoted")


# ---------------------------------------------------------------- embedded only: kill -9 and WAL readers
CHUNK = 20_000
WRITER = textwrap.dedent("""
    import sys, time
    import pyarrow as pa
    from graphfraud.schema import validate_frame
    from graphfraud.storage import open_store
    n = int(sys.argv[2])
    table = pa.table({"transaction_id": [f"x{i}" for i in range(n)],
                      "timestamp": ["2026-01-02T10:00:00"] * n, "user_id": [f"u{i % 997}" for i in range(n)],
                      "amount": ["5"] * n, "card_id": [f"c{i % 501}" for i in range(n)],
                      "device_id": [f"d{i % 301}" for i in range(n)], "ip": ["10.1.2.3"] * n})
    good, _ = validate_frame(table)
    store = open_store(sys.argv[1])
    k = 0
    while True:
        frame = good.copy()
        frame["transaction_id"] = [f"k{k}-{i}" for i in range(n)]
        print("writing", k, flush=True)
        t = time.perf_counter()
        store.write_transactions(frame)
        print("wrote", k, time.perf_counter() - t, flush=True)
        k += 1
""")


def _kill_mid_write(path: Path, fraction: float) -> list[str]:
    """Run the writer; during its third chunk, SIGKILL it ``fraction`` of a chunk's write time in."""
    lines: list[str] = []
    with subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(CHUNK)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as proc:
        try:
            write_time = None
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.append(line.strip())
                if line.startswith("wrote 0"):
                    write_time = float(line.split()[2])
                if line.startswith("writing 2"):
                    threading.Event().wait(max(write_time or 0.0, 0.01) * fraction)
                    os.kill(proc.pid, signal.SIGKILL)
                    break
            out, err = proc.communicate(timeout=60)
            lines += [ln.strip() for ln in out.splitlines()]
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, err)
    return lines


@pytest.mark.parametrize("fraction", [0.3, 0.7], ids=["early", "late"])
def test_kill_9_during_a_chunk_leaves_whole_chunks(store_path: Path, fraction: float) -> None:
    lines = _kill_mid_write(store_path, fraction)
    assert "writing 2" in lines
    s = open_store(str(store_path))
    try:
        info = s.info()
        n = info["transactions"]
        # the chunk being written when the kill landed is in entirely (its commit finished) or out entirely
        assert n % CHUNK == 0 and n in (2 * CHUNK, 3 * CHUNK), n
        if "wrote 2" in lines:
            assert n == 3 * CHUNK
        assert s.last_seq() >= n
        links = s.links_frame()
        assert int(links["n"].sum()) == n * 3  # every stored row folded into card, device and ip links once
        con = sqlite3.connect(str(store_path))
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        con.close()
        # the store keeps working after the crash
        assert s.write_transactions(chunk([row(1)])).inserted == 1
    finally:
        s.close()


HOLDER = textwrap.dedent("""
    import sqlite3, sys
    con = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
    con.execute("BEGIN IMMEDIATE")
    con.execute("INSERT INTO tx(transaction_id, ts, user_id, amount) VALUES ('uncommitted', 1767348000000, 'u', 1)")
    con.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'seq'")
    print("holding", flush=True)
    sys.stdin.readline()  # until the parent says so
    con.execute("ROLLBACK")
""")


def _populate(path: Path, fold_links: bool) -> None:
    s = open_store(str(path))
    s.write_transactions(chunk([row(i) for i in range(5)]))
    if fold_links:
        s.info()
    s.close()


def test_reader_works_while_another_process_holds_a_write(store_path: Path) -> None:
    _populate(store_path, fold_links=True)
    reader = open_store(str(store_path), timeout=2.0)  # a server worker: open before the write begins
    with subprocess.Popen([sys.executable, "-c", HOLDER, str(store_path)], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout.readline().strip() == "holding"
        try:
            info = reader.info()
            assert info["transactions"] == 5  # the open write is invisible, and does not block the read
            assert reader.get_transaction("t1") is not None and reader.get_transaction("uncommitted") is None
        finally:
            reader.close()
            proc.stdin.write("go\n")
            proc.stdin.close()
            proc.wait(timeout=30)
    assert proc.returncode == 0


def test_info_does_not_need_the_write_lock_during_a_load(store_path: Path) -> None:
    _populate(store_path, fold_links=False)  # links are folded lazily: as a loader leaves them between chunks
    reader = open_store(str(store_path), timeout=1.0)
    with subprocess.Popen([sys.executable, "-c", HOLDER, str(store_path)], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout.readline().strip() == "holding"
        try:
            assert reader.info()["transactions"] == 5
        finally:
            reader.close()
            proc.stdin.write("go\n")
            proc.stdin.close()
            proc.wait(timeout=30)


def test_opening_an_existing_store_does_not_need_the_write_lock(store_path: Path) -> None:
    _populate(store_path, fold_links=True)
    with subprocess.Popen([sys.executable, "-c", HOLDER, str(store_path)], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout.readline().strip() == "holding"
        try:
            reader = open_store(str(store_path), timeout=1.0)
            assert reader.info()["transactions"] == 5
            reader.close()
        finally:
            proc.stdin.write("go\n")
            proc.stdin.close()
            proc.wait(timeout=30)


def test_background_checkpoints_copy_the_log_while_writers_leave_it(store_path: Path) -> None:
    """With checkpoints in the background (as the server's workers run), commits no longer copy the
    write-ahead log into the database file; the checkpoint thread does, and stops when the store closes."""
    import time

    db = str(store_path)

    def score_some(s: Any, prefix: str) -> None:
        for i in range(150):  # about 1,500 log pages: past SQLite's own 1,000-page checkpoint mark
            s.add_transaction(tx(f"{prefix}{i}", user_id=f"u{i}", device_id=f"d{i}", card_id=f"c{i}"),
                              {"score": 0.1, "decision": "allow", "reasons": [], "pad": "x" * 3000})

    quiet = open_store(db)
    quiet.checkpoint_in_background(every=3600)  # the thread never gets to run: only the limit moves
    size = os.path.getsize(db)
    score_some(quiet, "q")
    assert quiet._con().execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 10_000
    assert os.path.getsize(db) == size  # no commit copied the log into the file
    quiet.close()

    s = open_store(db)
    s.checkpoint_in_background(every=0.05)
    size = os.path.getsize(db)
    score_some(s, "b")
    deadline = time.monotonic() + 20
    while os.path.getsize(db) == size and time.monotonic() < deadline:
        time.sleep(0.05)
    assert os.path.getsize(db) > size  # the thread copied the log
    thread = s._checkpointer[0]
    s.close()
    assert not thread.is_alive()
    assert open_store(db).info()["transactions"] == 300


def test_threads_opening_one_new_store_at_once_all_succeed(tmp_path: Path) -> None:
    """The web app's ring thread and its request state open a new store together; neither may fail
    with "database is locked" (each of 60 rounds starts 4 openers on a fresh file)."""
    errors: list[BaseException] = []

    def opener(path: str, start: threading.Barrier) -> None:
        start.wait()
        try:
            open_store(path).close()
        except BaseException as e:  # noqa: BLE001 - collected and asserted below
            errors.append(e)

    for i in range(60):
        path = str(tmp_path / f"n{i}.db")
        start = threading.Barrier(4)
        threads = [threading.Thread(target=opener, args=(path, start)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        st = open_store(path)
        assert st.info()["transactions"] == 0
        st.close()
    assert errors == []


# ---------------------------------------------------------------- embedded only: indexes deferred by a first load
def _tx_indexes(path: Path) -> set[str]:
    con = sqlite3.connect(str(path))
    try:
        return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='index' AND tbl_name='tx'")}
    finally:
        con.close()


ALL_TX_INDEXES = {"tx_id", "tx_user", "tx_counterparty"}


def test_a_first_bulk_load_builds_the_secondary_indexes_at_its_end(store_path: Path) -> None:
    s = open_store(str(store_path))
    try:
        assert s.begin_bulk_load() is True
        assert _tx_indexes(store_path) == {"tx_id"}  # the unique index stays: it finds duplicates
        s.write_transactions(chunk([row(i) for i in range(6)]))
        res = s.write_transactions(chunk([row(2), row(3, amount="99"), row(7)], first_row=7))
        assert (res.inserted, res.duplicates, len(res.conflicts)) == (1, 1, 1)  # found exactly as before
        s.end_bulk_load()
        assert _tx_indexes(store_path) == ALL_TX_INDEXES
        assert not os.path.exists(f"{store_path}.load")
        assert s.begin_bulk_load() is False  # tx is not empty: a later load keeps every index
        assert _tx_indexes(store_path) == ALL_TX_INDEXES
        assert [t["transaction_id"] for t in s.transactions_of("user_id", "u1")] == ["t7", "t4", "t1"]
    finally:
        s.close()


def test_end_without_building_leaves_the_indexes_to_the_next_open(store_path: Path) -> None:
    s = open_store(str(store_path))
    assert s.begin_bulk_load() is True
    s.write_transactions(chunk([row(i) for i in range(3)]))
    s.end_bulk_load(build=False)
    s.close()
    assert _tx_indexes(store_path) == {"tx_id"}
    open_store(str(store_path)).close()
    assert _tx_indexes(store_path) == ALL_TX_INDEXES


FIRST_LOADER = textwrap.dedent("""
    import sys, time
    from graphfraud.schema import validate_frame
    import pyarrow as pa
    from graphfraud.storage import open_store
    n = 1000
    good, _ = validate_frame(pa.table({"transaction_id": [f"x{i}" for i in range(n)],
                                       "timestamp": ["2026-01-02T10:00:00"] * n,
                                       "user_id": [f"u{i % 97}" for i in range(n)], "amount": ["5"] * n}))
    store = open_store(sys.argv[1])
    assert store.begin_bulk_load()
    store.write_transactions(good)
    print("wrote", flush=True)
    time.sleep(60)  # killed here, between chunks, its indexes not built
""")


def test_kill_9_during_a_first_load_the_next_open_builds_the_indexes(store_path: Path) -> None:
    with subprocess.Popen([sys.executable, "-c", FIRST_LOADER, str(store_path)], stdout=subprocess.PIPE,
                          text=True) as proc:
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "wrote"
            open_store(str(store_path)).close()  # the load is alive: its indexes are left for it to build
            assert _tx_indexes(store_path) == {"tx_id"}
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
    s = open_store(str(store_path))
    try:
        assert _tx_indexes(store_path) == ALL_TX_INDEXES
        assert s.info()["transactions"] == 1000
        con = sqlite3.connect(str(store_path))
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        con.close()
    finally:
        s.close()


@pytest.mark.parametrize("columns", [["seq", "user_id", "ts", "amount"], ["transaction_id", "ts"], ["user_id"],
                                     ["seq", "user_id", "merchant_id"],
                                     ["seq", "ts", "user_id", "amount", "is_fraud", "labelled_at", "fraud_type",
                                      "counterparty_id"]], ids=["bustout-scan", "ids", "one", "mixed", "nullable"])
@pytest.mark.parametrize("odd", [None, ("user_id", None), ("user_id", 5), ("ts", "not a time"), ("ts", T0 + 0.5),
                                 ("ts", None), ("seq", 2**60 + 1), ("amount", 7), ("amount", None)],
                         ids=["clean", "null-id", "int-id", "text-ts", "float-ts", "null-ts", "huge-seq", "int-amount",
                              "null-amount"])
@pytest.mark.parametrize("keep", [None, "some"], ids=["all", "filtered"])
def test_large_transaction_reads_are_the_frame_from_records_makes(columns: list[str], odd: Any, keep: str | None,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Reads of every transaction build their frame a chunk and a column at a time: the same frame, types
    included, as ``pd.DataFrame.from_records`` makes of all the rows, also when a value in one chunk is not of
    the type the schema promises, and when a nullable column is NULL throughout a chunk (typed once over all
    of it). Filtered (``keep``: the rows carry ``user_id`` first), the frame of the kept users' rows."""
    from graphfraud.storage import txframe

    class Cursor:  # what sqlite3's cursor gives tx_frame
        def __init__(self, rows: list[tuple[Any, ...]]) -> None:
            self.rows = rows

        def fetchmany(self, n: int) -> list[tuple[Any, ...]]:
            out, self.rows = self.rows[:n], self.rows[n:]
            return out

        def fetchall(self) -> list[tuple[Any, ...]]:
            return self.fetchmany(len(self.rows))

    monkeypatch.setattr(txframe, "_TX_CHUNK", 5_000)  # three chunks; the odd row in the second

    values = {"seq": lambda i: i + 1, "user_id": lambda i: f"u{i % 97}", "ts": lambda i: T0 + i * 1000,
              "amount": lambda i: 1.5 * (i % 13), "transaction_id": lambda i: f"t{i}",
              "merchant_id": lambda i: None if i % 5 else f"m{i % 7}",
              "is_fraud": lambda i: None if i % 3 else i % 2, "labelled_at": lambda i: None if i % 4 else T0 + i,
              "fraud_type": lambda i: None if i < 6_000 or i % 2 else "third_party",
              "counterparty_id": lambda i: None if i % 9 else f"u{i % 89}"}
    rows = [tuple(values[c](i) for c in columns) for i in range(12_000)]
    if odd is not None and odd[0] in columns:
        k = columns.index(odd[0])
        rows[6_000] = rows[6_000][:k] + (odd[1],) + rows[6_000][k + 1:]
    if keep is None:
        got = txframe.tx_frame(Cursor(rows), columns)  # type: ignore[arg-type]
    else:  # the rows of every user whose id ends in 1 or 2, the user first in each row
        users = {f"u{i}" for i in range(97) if i % 10 in (1, 2)}
        owner = [f"u{i % 97}" for i in range(len(rows))]
        got = txframe.tx_frame(Cursor([(u,) + r for u, r in zip(owner, rows)]), columns, keep=users)  # type: ignore
        rows = [r for u, r in zip(owner, rows) if u in users]
        assert 0 < len(rows) < 12_000
    pd.testing.assert_frame_equal(got, pd.DataFrame.from_records(rows, columns=columns))


def test_the_newest_transactions_of_a_hub_are_read_without_reading_all_its_users(tmp_path: Path,
                                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Past ``HUB_SCAN_USERS`` users an identifier's newest transactions come from one scan of the table (a
    100,000-user merchant's page took seconds through its users); the answer is the same, newest time first,
    also when older history was loaded after newer (a back-fill)."""
    from graphfraud.storage import embedded

    s = open_store(str(tmp_path / "s.db"))
    for part in (range(60, 120), range(60)):  # the later hour first
        s.write_transactions(chunk([row(i, timestamp=f"2026-01-02T{10 + i // 60:02d}:{i % 60:02d}:00",
                                        user_id=f"u{i % 7}") for i in part]))
    through_users = {c: s.transactions_of(c, v, 25) for c, v in (("merchant_id", "m1"), ("card_id", "c1"))}
    assert all(len(v) == 25 for v in through_users.values())
    assert through_users["merchant_id"][0]["transaction_id"] == "t119"
    monkeypatch.setattr(embedded, "HUB_SCAN_USERS", 5)
    assert {c: s.transactions_of(c, v, 25) for c, v in (("merchant_id", "m1"), ("card_id", "c1"))} == through_users
    s.close()


def test_transaction_times_reads_the_held_ones_in_one_go(store: Any) -> None:
    store.write_transactions(chunk([row(i) for i in range(3)]))
    got = store.transaction_times(["t2", "t0", "nope", "t0"])
    assert got == {"t0": store_ts("t0", store), "t2": store_ts("t2", store)}
    assert store.transaction_times([]) == {}


def store_ts(tid: str, store: Any) -> int:
    from graphfraud.schema import parse_ts

    return parse_ts(store.get_transaction(tid)["timestamp"])


def test_info_counts_the_users_who_paid_on_both_stores(store: Any) -> None:
    """An account that only received transfers is no user of ``info``'s count (Neo4j counted its node)."""
    store.write_transactions(chunk([row(i, counterparty_id=f"payee{i}") for i in range(4)]))
    assert store.info()["entities"]["user"] == 3  # u0, u1, u2 paid; payee0..payee3 only received


@pytest.mark.parametrize("address,words", [("bolt://127.0.0.1:notaport", "not a usable Neo4j URL"),
                                           ("http://example.org/store", "neither a file path nor a Neo4j URL")])
def test_a_store_address_that_is_no_store_is_a_clear_error(address: str, words: str) -> None:
    from graphfraud.errors import ConfigError

    with pytest.raises(ConfigError, match=words):
        open_store(address)


def test_a_neo4j_scheme_in_capitals_is_still_neo4j() -> None:
    from graphfraud.storage import is_neo4j_url

    assert is_neo4j_url("Bolt://h:7687") and is_neo4j_url("NEO4J+S://h") and not is_neo4j_url("/srv/bolt.db")
