"""Privacy at ingest: personal identifiers hashed with the configured key, card numbers never stored in clear,
and no personal value in error messages or logs."""
from __future__ import annotations

import logging
import random

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphfraud.errors import ValidationError
from graphfraud.schema import card_number, keyed_hash, luhn_ok, protect_identifier, validate_frame, validate_record
from graphfraud.storage import open_store
from loaders import load_file
from webui import create_app
from webui.auth import create_api_key

from relhelpers import store_bytes

EXTRA = ("email", "phone", "address")


def luhn_complete(body: str) -> str:
    """``body`` plus the check digit that makes it pass the Luhn check."""
    for d in "0123456789":
        if luhn_ok(body + d):
            return body + d
    raise AssertionError("unreachable")


@st.composite
def pans(draw: st.DrawFn) -> str:
    n = draw(st.integers(12, 18))
    digits = luhn_complete("".join(draw(st.lists(st.sampled_from("0123456789"), min_size=n, max_size=n))))
    if draw(st.booleans()):  # written in groups, as people type them
        sep = draw(st.sampled_from([" ", "-"]))
        digits = sep.join(digits[i:i + 4] for i in range(0, len(digits), 4))
    return digits


ident_text = st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF, exclude_characters="\x7f"),
                     min_size=1, max_size=24)
cards = st.one_of(pans(), ident_text, st.from_regex(r"[0-9 -]{10,22}", fullmatch=True),
                  st.builds(lambda h: "h:" + h, st.from_regex(r"[0-9a-f]{32}", fullmatch=True)))
emails = st.one_of(st.emails(), ident_text)
phones = st.one_of(st.from_regex(r"\+?[0-9 ().-]{3,20}", fullmatch=True), ident_text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.tuples(cards, emails, phones, ident_text), min_size=1, max_size=6),
       key=st.sampled_from(["", "k", "a-long-secret-key"]))
def test_record_and_frame_protect_identically(rows: list[tuple[str, str, str, str]], key: str) -> None:
    base = {"timestamp": "2026-01-02T10:00:00Z", "user_id": "u", "amount": "1"}
    records = [{**base, "transaction_id": f"t{i}", "card_id": c, "email": e, "phone": p, "address": a}
               for i, (c, e, p, a) in enumerate(rows)]
    good, rejects = validate_frame(pd.DataFrame(records, dtype=object), extra_types=EXTRA, pii_key=key)
    rejected = {r for r, _ in rejects}
    by_id = {r["transaction_id"]: r for r in good.to_dict("records")}
    for i, rec in enumerate(records):
        try:
            tx = validate_record(rec, extra_types=EXTRA, pii_key=key)
        except ValidationError:
            assert i + 1 in rejected
            continue
        assert i + 1 not in rejected
        row = by_id[rec["transaction_id"]]
        assert row["card_id"] == tx.card_id
        assert (row["extra"] or {}) == tx.extra
        # a number passing the Luhn check never comes out in clear, with or without a key
        assert tx.card_id is None or card_number(tx.card_id) is None
        if key:
            assert all(v.startswith("h:") for t, v in tx.extra.items() if t in EXTRA)  # card_bin: a context type


def test_protection_rules() -> None:
    pan = "4111 1111 1111 1111"
    assert protect_identifier("card", pan, None) == protect_identifier("card", "4111-1111-1111-1111", None)
    assert protect_identifier("card", pan, "k") == keyed_hash("4111111111111111", "k")
    assert protect_identifier("card", "4111111111111112", None) == "4111111111111112"  # fails Luhn: not a PAN
    assert protect_identifier("card", "C824333357352", "k") == "C824333357352"
    assert protect_identifier("email", "ann@x.org", "") == "ann@x.org"  # no key: emails stay (documented)
    h = protect_identifier("email", "ann@x.org", "k")
    assert h.startswith("h:") and len(h) == 34 and protect_identifier("email", h, "k") == h  # idempotent
    assert protect_identifier("email", "ann@x.org", "other") != h  # keyed


def _pan(rng: random.Random) -> str:
    return luhn_complete("4" + "".join(rng.choice("0123456789") for _ in range(14)))


def test_pan_never_reaches_the_store_by_load_or_api(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("GRAPHFRAUD_PII_KEY", raising=False)
    rng = random.Random(7)
    pans_ = [_pan(rng) for _ in range(20)]
    rows = [{"transaction_id": f"T{i}", "timestamp": f"2026-01-0{1 + i % 9}T10:00:00Z", "user_id": f"U{i % 5}",
             "amount": 10 + i, "card_id": pans_[i] if i % 2 else " ".join(pans_[i][j:j + 4] for j in range(0, 16, 4)),
             "email": f"person{i}@example.org"} for i in range(20)]
    csv = tmp_path / "pan.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    db = str(tmp_path / "pan.db")
    store = open_store(db)
    summary = load_file(csv, store, progress=False, rejects_path=tmp_path / "r.csv")
    assert summary.inserted == 20
    store.close()
    data = store_bytes(db)
    for p in pans_:
        assert p.encode() not in data and p[-8:].encode() not in data
    # and through the API, with a key set: emails are hashed too
    app = create_app({"STORE": db, "SCORER_EAGER": True, "TESTING": True, "RATE_LIMIT": 0,
                      "PII_KEY": "test-key"})
    st_ = app.extensions["graphfraud"].store
    key = create_api_key(st_, "t", "admin")
    c = app.test_client()
    api_pan = _pan(rng)
    r = c.post("/api/v1/score", json={"transaction_id": "API1", "timestamp": "2026-01-10T10:00:00Z",
                                      "user_id": "U1", "amount": 5, "card_id": api_pan,
                                      "email": "secret.person@example.org"},
               headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.json
    got = c.get("/api/v1/transactions/API1", headers={"Authorization": f"Bearer {key}"}).json["transaction"]
    assert got["card_id"].startswith("h:") and got["email"] == keyed_hash("secret.person@example.org", "test-key")
    # an investigator can still look the email up in clear: the API hashes what it is asked for
    r = c.get("/api/v1/entities/email/secret.person@example.org", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200 and r.json["entity"]["id"].startswith("h:")
    # written as people write it: cleaned as at ingest (case) before it is hashed
    r2 = c.get("/api/v1/entities/email/Secret.Person@Example.ORG", headers={"Authorization": f"Bearer {key}"})
    assert r2.status_code == 200 and r2.json["entity"]["id"] == r.json["entity"]["id"]
    st_.close()
    data = store_bytes(db)
    assert api_pan.encode() not in data and b"secret.person@example.org" not in data


def test_errors_and_logs_do_not_echo_personal_values(tmp_path, caplog) -> None:
    app = create_app({"STORE": str(tmp_path / "e.db"), "SCORER_EAGER": True, "TESTING": True, "RATE_LIMIT": 0})
    st_ = app.extensions["graphfraud"].store
    key = create_api_key(st_, "t", "admin")
    h = {"Authorization": f"Bearer {key}"}
    c = app.test_client()
    email, pan = "someone.private@example.org", "4111111111111111"
    r = c.get(f"/api/v1/entities/email/{email}", headers=h)
    assert r.status_code == 404 and email not in r.get_data(as_text=True)
    r = c.get(f"/api/v1/entities/card/{pan}", headers=h)
    assert r.status_code == 404 and pan not in r.get_data(as_text=True)
    # validation errors name the field, never the whole value
    bad = {"transaction_id": "X", "timestamp": "2026-01-01", "user_id": "u", "amount": 1,
           "email": email + "x" * 300, "card_id": pan + "\u0001"}
    r = c.post("/api/v1/score", json=bad, headers=h)
    assert r.status_code == 400 and email not in r.get_data(as_text=True) and pan not in r.get_data(as_text=True)

    # a crash while serving an entity: the log names the route template, not the path with the email
    def boom(*a, **k):
        raise RuntimeError("simulated failure")

    st_.neighbours = boom
    with caplog.at_level(logging.ERROR, logger="graphfraud.webui"):
        r = c.get(f"/api/v1/entities/email/{email}", headers=h)
    assert r.status_code == 500
    assert caplog.records and email not in caplog.text and "<path:node_id>" in caplog.text
    metrics = c.get("/metrics").get_data(as_text=True)
    assert email not in metrics and pan not in metrics
    st_.close()


@pytest.mark.parametrize(("value", "ok"), [("4111111111111111", True), ("4111 1111 1111 1111", True),
                                           ("378282246310005", True), ("4111111111111112", False),
                                           ("411111111111", False), ("41111111111111111111", False),
                                           ("C4111111111111111", False)],
                         ids=["visa", "spaced", "amex", "bad-check", "12-digits", "20-digits", "prefixed"])
def test_card_number_detection(value: str, ok: bool) -> None:
    assert (card_number(value) is not None) is ok


# ---------------------------------------------------------------- card numbers in free fields (attributes)
LUHN_RUN = __import__("re").compile(r"(?<![0-9A-Za-z])[0-9](?:[ -]?[0-9]){12,18}(?![0-9A-Za-z])")


def clear_card_numbers(text: str) -> list[str]:
    """Luhn-valid 13-19 digit runs standing alone in ``text`` (digits inside a word, such as a hash, are not
    a card number as written)."""
    return [m.group(0) for m in LUHN_RUN.finditer(text) if card_number(m.group(0))]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(st.one_of(pans(), ident_text, st.from_regex(r"[0-9]{13,19}", fullmatch=True)),
                      min_size=1, max_size=4), key=st.sampled_from(["", "k"]))
def test_card_numbers_in_attributes_are_protected_alike_by_both_paths(parts: list[str], key: str) -> None:
    note = " / ".join(parts)
    rec = {"transaction_id": "t1", "timestamp": "2026-01-02T10:00:00Z", "user_id": "u", "amount": "1",
           "note": note, "pan": parts[0]}
    try:
        tx = validate_record(rec, pii_key=key)
    except ValidationError:
        return
    good, rejects = validate_frame(pd.DataFrame([rec], dtype=object), pii_key=key)
    assert not rejects and (good["attrs"].iat[0] or {}) == tx.attrs
    for v in tx.attrs.values():
        assert clear_card_numbers(v) == [], v


def test_a_card_number_in_any_attribute_is_stored_as_card_id_is(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("GRAPHFRAUD_PII_KEY", raising=False)
    db = str(tmp_path / "a.db")
    app = create_app({"STORE": db, "SCORER_EAGER": True, "TESTING": True, "RATE_LIMIT": 0})
    st_ = app.extensions["graphfraud"].store
    h = {"Authorization": f"Bearer {create_api_key(st_, 't', 'admin')}"}
    c = app.test_client()
    # the reproduction; key fields keep Luhn-valid numbers (ids are not card numbers)
    r = c.post("/api/v1/score", json={"transaction_id": "4111111111111111", "timestamp": "2026-01-10T10:00:00Z",
                                      "user_id": "5500005555555559", "amount": 5, "card_id": "4111 1111 1111 1111",
                                      "pan": "5500005555555559", "note": "called: card 4111-1111-1111-1111 lost",
                                      "pan_number": 378282246310005},
               headers=h)
    assert r.status_code == 200, r.json
    got = c.get("/api/v1/transactions/4111111111111111", headers=h).json["transaction"]
    assert got["transaction_id"] == "4111111111111111" and got["user_id"] == "5500005555555559"
    attrs = got["attributes"]
    assert attrs["pan"] == keyed_hash("5500005555555559", "graphfraud-builtin-card-key-set-pii_key-for-real-protection")
    assert attrs["note"] == f"called: card {got['card_id']} lost"  # the same hash as the card: it still links
    assert attrs["pan_number"].startswith("h:")
    # and by the loader
    csv = tmp_path / "a.csv"
    csv.write_text("transaction_id,timestamp,user_id,amount,pan,memo\n"
                   "L1,2026-01-02T10:00:00Z,u1,3,5500 0055 5555 5559,ok\n"
                   "L2,2026-01-02T11:00:00Z,u2,3,none,ref 378282246310005 twice 378282246310005\n")
    assert load_file(csv, st_, progress=False, rejects_path=tmp_path / "r.csv").inserted == 2
    assert st_.get_transaction("L1")["attributes"]["pan"] == attrs["pan"]
    assert clear_card_numbers(st_.get_transaction("L2")["attributes"]["memo"]) == []
    st_.close()
    data = store_bytes(db)
    for pan in (b"5500 0055 5555 5559", b"378282246310005", b"4111-1111-1111-1111", b"4111 1111 1111 1111"):
        assert pan not in data


def test_a_card_number_in_decline_reason_is_hashed_by_api_and_loader(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("GRAPHFRAUD_PII_KEY", raising=False)
    db = str(tmp_path / "d.db")
    app = create_app({"STORE": db, "SCORER_EAGER": True, "TESTING": True, "RATE_LIMIT": 0})
    st_ = app.extensions["graphfraud"].store
    h = {"Authorization": f"Bearer {create_api_key(st_, 't', 'admin')}"}
    c = app.test_client()
    r = c.post("/api/v1/score", json={"transaction_id": "D1", "timestamp": "2026-01-10T10:00:00Z", "user_id": "u",
                                      "amount": 5, "decline_reason": "card 5500005555555559 declined"}, headers=h)
    assert r.status_code == 200, r.json
    got = c.get("/api/v1/transactions/D1", headers=h).json["transaction"]["decline_reason"]
    assert got == f"card {keyed_hash('5500005555555559', 'graphfraud-builtin-card-key-set-pii_key-for-real-protection')}" \
        " declined"
    csv = tmp_path / "d.csv"
    csv.write_text("transaction_id,timestamp,user_id,amount,decline_reason\n"
                   "L1,2026-01-02T10:00:00Z,u1,3,card 4111.1111.1111.1111 declined\n", encoding="utf-8")
    assert load_file(csv, st_, progress=False, rejects_path=tmp_path / "r.csv").inserted == 1
    assert st_.get_transaction("L1")["decline_reason"].startswith("card h:")
    st_.close()
    data = store_bytes(db)
    assert b"5500005555555559" not in data and b"4111.1111.1111.1111" not in data
