"""The smaller points of the second security round, as decided (docs/reliability.md, "Decisions"): duplicate
JSON keys, labels for unknown transactions, what a score-scope key reads back, /readyz without a key, and
case assignees."""
from __future__ import annotations

import json
import re

import pytest

from graphfraud.accounts import hash_password
from graphfraud.schema import validate_record
from webui.auth import create_api_key

GOOD = {"transaction_id": "H1", "timestamp": "2026-03-01T12:00:00Z", "user_id": "HU1", "amount": 5.0,
        "card_id": "HC1"}


def post_raw(client, path, text, headers):
    return client.post(path, data=text, content_type="application/json", headers=headers)


def test_a_key_given_twice_is_refused_naming_it(client, auth):
    text = json.dumps(GOOD)[:-1] + ', "amount": 5000000}'
    r = post_raw(client, "/api/v1/score", text, auth)
    assert r.status_code == 400 and r.json["code"] == "duplicate_key" and r.json["errors"] == ["amount: given more "
                                                                                                "than once"]
    nested = '{"transactions": [' + text + "]}"
    assert post_raw(client, "/api/v1/score/batch", nested, auth).json["code"] == "duplicate_key"
    label = '{"transaction_id": "H1", "is_fraud": 0, "is_fraud": 1}'
    assert post_raw(client, "/api/v1/labels", label, auth).json["code"] == "duplicate_key"
    assert client.get("/api/v1/transactions/H1", headers=auth).status_code == 404  # nothing was stored


def test_labels_for_transactions_the_store_lacks_are_refused(client, auth, store):
    assert client.post("/api/v1/score", json=GOOD, headers=auth).status_code == 200
    r = client.post("/api/v1/labels", json=[{"transaction_id": "H1", "is_fraud": 1},
                                            {"transaction_id": "NOPE", "is_fraud": 1}], headers=auth)
    assert r.status_code == 400 and r.json["code"] == "invalid_label"
    assert r.json["errors"] == ["[1] transaction_id 'NOPE' is not in the store; score or load it first"]
    assert store.labels() == []  # all or nothing
    # a user may be labelled before their first transaction (a fraudster known from elsewhere)
    r = client.post("/api/v1/labels", json={"user_id": "not-seen-yet", "user_label": "fraudster"}, headers=auth)
    assert r.status_code == 200 and r.json["n_labels"] == 1


def test_a_score_key_reads_back_only_what_it_scored(client, store, auth):
    mine, other = create_api_key(store, "mine", "score"), create_api_key(store, "other", "score")
    assert client.post("/api/v1/score", json=GOOD, headers={"X-API-Key": mine}).status_code == 200
    assert client.post("/api/v1/score", json={**GOOD, "transaction_id": "H2"}, headers=auth).status_code == 200
    assert client.get("/api/v1/transactions/H1", headers={"X-API-Key": mine}).status_code == 200
    for tid, key in (("H1", other), ("H2", mine)):
        r = client.get(f"/api/v1/transactions/{tid}", headers={"X-API-Key": key})
        assert r.status_code == 404 and r.json["code"] == "transaction_not_found"  # as if it did not exist
    assert client.get("/api/v1/transactions/H1", headers=auth).status_code == 200  # admin reads all
    body = client.post("/api/v1/score", json=GOOD, headers={"X-API-Key": mine}).json
    assert "scored_by" not in body  # kept in the stored record, not in answers


def test_readyz_says_ready_without_details_unless_an_admin_asks(client, auth, score_key):
    assert client.get("/readyz").json == {"ok": True, "ready": True}
    detailed = client.get("/readyz", headers=auth).json
    assert detailed["ready"] is True and "transactions" in detailed and "model_version" in detailed
    # a load balancer's health check that sends the service's score key sees it ready (it was a 403)
    assert client.get("/readyz", headers={"X-API-Key": score_key}).json == {"ok": True, "ready": True}
    assert client.get("/readyz", headers={"X-API-Key": "gf_wrong"}).status_code == 401


@pytest.mark.parametrize("path", ["/api/v1//score", "/api/v1/entities/user//U1", "//api/v1/rings"])
def test_a_doubled_slash_is_a_json_404_not_a_redirect(client, auth, path):
    r = client.post(path, json={}, headers=auth) if path.endswith("score") else client.get(path, headers=auth)
    assert r.status_code == 404 and r.is_json and r.json["ok"] is False


def test_a_case_assignee_is_an_account(app, store):
    store.create_app_user("ada", "admin", hash_password("correct-horse-9"))
    c = app.test_client()
    tok = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)
    c.post("/login", data={"username": "ada", "password": "correct-horse-9", "csrf_token": tok})
    tok = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/cases").text).group(1)
    store.add_transaction(validate_record(GOOD))
    r = c.post("/cases", data={"kind": "transaction", "ref": "H1", "assignee": "<b>mallory</b>", "csrf_token": tok})
    assert r.status_code == 400 and "investigator account" in r.text
    url = c.post("/cases", data={"kind": "transaction", "ref": "H1", "assignee": "ada", "csrf_token": tok}
                 ).headers["Location"]
    assert store.get_case(int(url.rsplit("/", 1)[1]))["assignee"] == "ada"
    assert c.post(url, data={"assignee": "nobody", "csrf_token": tok}).status_code == 400
    assert c.post(url, data={"assignee": "", "csrf_token": tok}).status_code == 302  # unassigned
    assert store.get_case(int(url.rsplit("/", 1)[1]))["assignee"] is None


def test_a_body_shorter_than_its_content_length_is_invalid_body(client, auth):
    # Werkzeug answered its own 400 ("The browser (or proxy) sent a request...") with the code bad_request
    body = json.dumps(GOOD).encode()
    r = client.post("/api/v1/score", data=body, headers={**auth, "Content-Type": "application/json"},
                    environ_overrides={"CONTENT_LENGTH": str(len(body) + 50)})
    assert r.status_code == 400 and r.json["code"] == "invalid_body" and "Content-Length" in r.json["error"]
