"""``graphfraud erase --user ID``: personal data replaced by pseudonyms, aggregate counts unchanged, audited."""
from __future__ import annotations

import json
import os
import sqlite3

import pandas as pd
import pytest
from click.testing import CliRunner

from graphfraud.cli import main
from graphfraud.erasure import erase_user
from graphfraud.errors import NotFound
from graphfraud.graph.persist import save_engine, snapshot_path
from graphfraud.schema import Label, validate_record
from graphfraud.scoring import Scorer
from graphfraud.storage import open_store
from graphfraud.testing import make_transactions
from loaders import load_file

from relhelpers import store_bytes

VICTIM = "U-ERASE-ME-7a1c"
SHARED_EMAIL = "shared.household@example.org"


def _populate(store, tmp_path):
    """Load a world where VICTIM has transactions, an email shared with a neighbour, a private phone,
    attributes, a user label, a scored decision, a ring membership and a case; returns
    ``(scorer, neighbour)``. The caller sets ``GRAPHFRAUD_EXTRA_TYPES=email,phone``."""
    df, truth = make_transactions(300, seed=5)
    ring_users = next(iter(truth["rings"].values()))["users"]
    target = ring_users[0]
    df["user_id"] = df["user_id"].replace(target, VICTIM)
    df["email"] = None
    df["note"] = None
    mine = df["user_id"] == VICTIM
    df.loc[mine, "email"] = SHARED_EMAIL
    df.loc[mine, "note"] = "call me on +44 7700 900123"
    neighbour = df.loc[~mine, "user_id"].iloc[0]
    df.loc[df["user_id"] == neighbour, "email"] = SHARED_EMAIL
    csv = tmp_path / "tx.csv"
    df.to_csv(csv, index=False)
    load_file(csv, store, mapping={"extra_entities": ["email", "phone"]}, progress=False,
              rejects_path=tmp_path / "r.csv")
    store.add_labels([Label("user", VICTIM, "fraudster", None, "investigator")])
    scorer = Scorer(store)
    tx = validate_record({"transaction_id": "LIVE-1", "timestamp": "2026-03-01T10:00:00Z", "user_id": VICTIM,
                          "amount": 12.0, "card_id": "C-PRIVATE-CARD-99", "phone": "+447700900123",
                          "note": "call me on +44 7700 900123"},
                         extra_types=("email", "phone"))
    scorer.score(tx)
    users = [VICTIM if u == target else u for u in ring_users]
    store.save_rings([{"ring_id": "R-test", "status": "active", "score": 0.9, "size": len(users),
                       "users": users, "members": [{"type": "user", "id": u} for u in users]}],
                     [{"ring_id": "R-test", "change": "created", "detail": {"users": users}}])
    store.create_case("user", VICTIM, f"Review {VICTIM}", "alice")
    store.audit("alice", "entity.view", f"user:{VICTIM}", {})
    save_engine(store, scorer.engine)
    return scorer, neighbour


@pytest.fixture
def world(tmp_path, monkeypatch):
    """The world of :func:`_populate` in an embedded store."""
    monkeypatch.setenv("GRAPHFRAUD_EXTRA_TYPES", "email,phone")
    store = open_store(str(tmp_path / "gf.db"))
    try:
        scorer, neighbour = _populate(store, tmp_path)
        yield store, scorer, neighbour
    finally:
        store.close()


@pytest.fixture
def neo4j_world(neo4j_url, tmp_path, monkeypatch):
    """The world of :func:`_populate` in Neo4j (the engine snapshot under a temporary cache folder)."""
    monkeypatch.setenv("GRAPHFRAUD_EXTRA_TYPES", "email,phone")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    store = open_store(neo4j_url)
    try:
        scorer, neighbour = _populate(store, tmp_path)
        yield store, scorer, neighbour
    finally:
        store.close()


def _counts(store) -> dict:
    info = store.info()
    return {k: info[k] for k in ("transactions", "labelled", "fraud", "entities", "links", "user_labels")}


def test_erase_keeps_counts_and_leaves_no_trace(world) -> None:
    store, scorer, neighbour = world
    before = _counts(store)
    assert os.path.exists(snapshot_path(store))
    summary = erase_user(store, VICTIM, "dpo@example.org")
    pseudo = summary["pseudonym"]
    assert pseudo.startswith("erased:") and summary["transactions"] > 0
    assert _counts(store) == before
    con = sqlite3.connect(store.location)
    dump = "\n".join(con.iterdump())
    for secret in (VICTIM, SHARED_EMAIL, "+447700900123", "C-PRIVATE-CARD-99", "7700 900123"):
        assert secret not in dump, secret
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # the neighbour keeps a (pseudonymised) email shared with the erased user: the graph keeps its shape
    n_email = con.execute("SELECT COUNT(DISTINCT user_id) FROM link WHERE type='email' AND entity_id IN "
                          "(SELECT entity_id FROM link WHERE user_id=?)", (pseudo,)).fetchone()[0]
    assert n_email == 2
    assert con.execute("SELECT COUNT(*) FROM ring_user WHERE user_id=?", (pseudo,)).fetchone()[0] == 1
    assert con.execute("SELECT COUNT(*) FROM label WHERE subject_id=?", (pseudo,)).fetchone()[0] == 1
    assert store.get_transaction("LIVE-1")["user_id"] == pseudo
    assert json.loads(con.execute("SELECT body FROM decision WHERE transaction_id='LIVE-1'").fetchone()[0])
    con.close()
    # the audit row records who erased whom, by pseudonym
    row = next(a for a in store.audit_log() if a["action"] == "user.erase")
    assert row["actor"] == "dpo@example.org" and row["target"] == f"user:{pseudo}"
    # old values do not linger in free pages or in the log
    assert VICTIM.encode() not in store_bytes(store.location)
    # serving processes rebuild from the store when they see the erase event; the snapshot is gone
    assert not os.path.exists(snapshot_path(store))
    assert VICTIM in scorer.engine.user_ix
    scorer.catch_up()
    assert VICTIM not in scorer.engine.user_ix and pseudo in scorer.engine.user_ix
    assert any(e.kind == "erase" for e in store.events_since(0))
    with pytest.raises(NotFound):
        store.erase_user(VICTIM, "dpo@example.org")


def _load_three_users(tmp_path, store) -> None:
    csv = tmp_path / "t.csv"
    pd.DataFrame([{"transaction_id": f"T{i}", "timestamp": "2026-01-02T10:00:00Z", "user_id": f"U{i % 3}",
                   "amount": 1 + i, "device_id": "D1"} for i in range(9)]).to_csv(csv, index=False)
    load_file(csv, store, progress=False)


def test_erase_command(tmp_path) -> None:
    db = str(tmp_path / "c.db")
    store = open_store(db)
    _load_three_users(tmp_path, store)
    before = _counts(store)
    store.close()
    r = CliRunner().invoke(main, ["erase", "--user", "U1", "--actor", "dpo", "--store", db])
    assert r.exit_code == 0, r.output
    assert "erased:" in r.output and "U1" not in r.output
    store = open_store(db)
    assert _counts(store) == before
    assert store.transactions_of("user_id", "U1") == []
    store.close()
    r = CliRunner().invoke(main, ["erase", "--user", "U1", "--store", db])
    assert r.exit_code == 1 and r.output.startswith("Error:") and "U1" not in r.output


# ---------------------------------------------------------------- the Neo4j store
def _neo4j_texts(store) -> list[str]:
    """Every property of every node and relationship in the database, as text."""
    with store._session() as s:
        rows = [r["p"] for r in s.run("MATCH (n) RETURN properties(n) AS p "
                                      "UNION ALL MATCH ()-[r]->() RETURN properties(r) AS p")]
    return [json.dumps(p, sort_keys=True, default=str) for p in rows]


@pytest.mark.neo4j
def test_neo4j_erase_keeps_counts_and_leaves_no_trace(neo4j_world) -> None:
    store, scorer, neighbour = neo4j_world
    before = _counts(store)
    shared = store.links_frame()
    shared = shared[(shared["user_id"] == VICTIM) & shared["type"].isin(["card", "device", "ip"])]
    n_users = store.links_frame().groupby(["type", "entity_id"])["user_id"].nunique()
    kept = [(t, e) for t, e in zip(shared["type"], shared["entity_id"]) if n_users[(t, e)] > 1]
    assert kept, "the world should give the victim a shared card, device or ip"
    assert any(SHARED_EMAIL in t for t in _neo4j_texts(store))
    assert any(t["attributes"] for t in store.transactions_of("user_id", VICTIM, 1000))
    assert os.path.exists(snapshot_path(store))

    summary = erase_user(store, VICTIM, "dpo@example.org")
    pseudo = summary["pseudonym"]
    assert pseudo.startswith("erased:") and summary["transactions"] > 0
    assert summary["rings"] == 1 and summary["user_labels"] == 1
    assert _counts(store) == before
    texts = "\n".join(_neo4j_texts(store))
    for secret in (VICTIM, SHARED_EMAIL, "+447700900123", "C-PRIVATE-CARD-99", "7700 900123"):
        assert secret not in texts, secret
    # shared card/device/ip identifiers stay, and the pseudonymised user still links them
    mine = {(r["type"], r["entity_id"]) for r in store.neighbours("user", pseudo, 1000)}
    assert set(kept) <= mine
    # a private identifier is renamed in its node and in the transaction
    live = store.get_transaction("LIVE-1")
    assert live["user_id"] == pseudo and live["card_id"].startswith("erased:")
    assert live["phone"].startswith("erased:") and live["attributes"] == {}
    assert ("card", live["card_id"]) in mine
    # the email shared with the neighbour gets one pseudonym, in both users' transactions and links
    emails = {t.get("email") for u in (pseudo, neighbour) for t in store.transactions_of("user_id", u, 1000)}
    emails.discard(None)
    assert len(emails) == 1 and next(iter(emails)).startswith("erased:")
    assert {r["user_id"] for r in store.neighbours("email", next(iter(emails)), 100)} == {pseudo, neighbour}
    assert all(not t["attributes"] for t in store.transactions_of("user_id", pseudo, 1000))
    # labels, ring membership and body, case and decision name the pseudonym
    assert store.ring_of_users([pseudo]) == {pseudo: "R-test"}
    ring = store.get_ring("R-test")
    assert pseudo in ring["users"] and pseudo in ring["history"][0]["detail"]["users"]
    assert store.list_cases()[0]["ref"] == pseudo
    assert store.get_decision("LIVE-1")
    assert store.info()["user_labels"] == before["user_labels"]
    # the audit row records who erased whom, by pseudonym; the earlier view row now names the pseudonym
    log = store.audit_log()
    row = next(a for a in log if a["action"] == "user.erase")
    assert row["actor"] == "dpo@example.org" and row["target"] == f"user:{pseudo}"
    assert any(a["action"] == "entity.view" and a["target"] == f"user:{pseudo}" for a in log)
    # serving processes rebuild from the store when they see the erase event; the snapshot is gone
    assert not os.path.exists(snapshot_path(store))
    assert [e.data for e in store.events_since(0) if e.kind == "erase"] == [{"pseudonym": pseudo}]
    scorer.catch_up()
    assert VICTIM not in scorer.engine.user_ix and pseudo in scorer.engine.user_ix
    with pytest.raises(NotFound) as err:
        store.erase_user(VICTIM, "dpo@example.org")
    assert err.value.code == "user_not_found"


@pytest.mark.neo4j
def test_neo4j_erase_unknown_user_changes_nothing(neo4j_url) -> None:
    store = open_store(neo4j_url)
    try:
        with pytest.raises(NotFound):
            store.erase_user("nobody", "dpo")
        assert store.last_seq() == 0 and store.audit_log() == []
    finally:
        store.close()


@pytest.mark.neo4j
def test_neo4j_erase_command(neo4j_url, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    store = open_store(neo4j_url)
    _load_three_users(tmp_path, store)
    before = _counts(store)
    r = CliRunner().invoke(main, ["erase", "--user", "U1", "--actor", "dpo", "--store", neo4j_url])
    assert r.exit_code == 0, r.output
    assert "erased:" in r.output and "U1" not in r.output
    assert _counts(store) == before
    assert store.transactions_of("user_id", "U1") == []
    assert {x["entity_id"] for x in store.neighbours("device", "D1", 10)} == {"D1"}  # the shared device stays
    r = CliRunner().invoke(main, ["erase", "--user", "U1", "--store", neo4j_url])
    assert r.exit_code == 1 and r.output.startswith("Error:") and "U1" not in r.output
    store.close()


@pytest.mark.parametrize("backend", ["embedded", pytest.param("neo4j", marks=pytest.mark.neo4j)])
@pytest.mark.parametrize("victim", ["josé", 'o"brien', "plain1"])
def test_erase_finds_an_id_however_json_text_escapes_it(tmp_path, victim, backend, request) -> None:
    """Ring bodies are JSON text: a non-ASCII id is stored as ``jos\\u00e9`` and a quote as ``\\"``, so looking
    for the id as written found no row and left it in clear in the ring registry."""
    from graphfraud.rings import detect_rings, sync_rings

    store = open_store(str(tmp_path / "gf.db") if backend == "embedded" else request.getfixturevalue("neo4j_url"))
    users = ("josé", 'o"brien', "plain1", "plain2")
    rows = [{"transaction_id": f"T{k}{d}", "timestamp": f"2024-01-0{d}T10:00:00Z", "user_id": u, "amount": 10,
             "card_id": "C-shared", "ip": "10.9.9.9"} for k, u in enumerate(users) for d in (1, 2, 3)]
    pd.DataFrame(rows).to_csv(tmp_path / "t.csv", index=False)
    load_file(tmp_path / "t.csv", store, progress=False)
    (ring,) = sync_rings(store, detect_rings(store))
    assert victim in ring.users
    # the account model keeps each known account's out-of-fold score by user id
    store.save_model("m1", {"kind": "accounts", "oof_scores": {victim: 0.5, "plain2": 0.25}}, b"{}")
    pseudo = erase_user(store, victim, "dpo")["pseudonym"]
    assert store.load_model("m1")[0]["oof_scores"] == {pseudo: 0.5, "plain2": 0.25}
    got = store.get_ring(ring.ring_id)
    assert pseudo in got["users"] and pseudo in [m["id"] for m in got["members"]]
    assert victim not in json.dumps(got, ensure_ascii=False) and victim not in json.dumps(store.audit_log(),
                                                                                          ensure_ascii=False)
    if backend == "embedded":
        con = sqlite3.connect(store.location)
        dump = "\n".join(con.iterdump())
        for form in {victim, json.dumps(victim)[1:-1], json.dumps(victim, ensure_ascii=False)[1:-1]}:
            assert form not in dump, form
        con.close()
    store.close()
