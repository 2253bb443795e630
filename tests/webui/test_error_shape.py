"""Every error the app sends has one JSON shape, names the field, and writes nothing."""
from __future__ import annotations

import io
import json

import pytest

from webui.errors import error_body

GOOD = {"transaction_id": "P1", "timestamp": "2026-03-01T12:00:00Z", "user_id": "PU1", "amount": 10.0}


def assert_error_shape(r, status, code=None, field=None):
    assert r.status_code == status, r.get_data(as_text=True)[:300]
    assert r.mimetype == "application/json"
    body = r.get_json()
    assert set(body) == {"ok", "status", "code", "error", "errors"}
    assert body["ok"] is False and body["status"] == status
    assert body["errors"] and all(isinstance(e, str) for e in body["errors"])
    assert "Traceback" not in r.get_data(as_text=True)
    if code:
        assert body["code"] == code
    if field:
        assert any(field in e for e in body["errors"]), body["errors"]
    return body


def test_error_body_is_the_one_shape():
    assert error_body(400, "x", "Bad.", ["a: bad"]) == {"ok": False, "status": 400, "code": "x",
                                                        "error": "Bad.", "errors": ["a: bad"]}
    assert error_body(404, "y", "Gone.")["errors"] == ["Gone."]


RAW_BAD = [
    (b"{not json", "invalid_json", "body"),
    (b"", "invalid_json", "body"),
    (b"[1, 2]", "invalid_transaction", "body"),
    (b'{"transaction_id":"P4","timestamp":"2026-03-01T12:00:00Z","user_id":"PU1","amount":NaN}', "invalid_json", "NaN"),
    (b'{"transaction_id":"P4","timestamp":"2026-03-01T12:00:00Z","user_id":"PU1","amount":-Infinity}',
     "invalid_json", "Infinity"),
    (b'{"transaction_id":"P4","timestamp":"2026-03-01T12:00:00Z","user_id":"PU1","amount":1e999}',
     "invalid_transaction", "amount"),
    (b'{"amount": 1' + b"0" * 5000 + b"}", "invalid_json", "body"),
    (b"[" * 100000 + b"]" * 100000, "invalid_json", "body"),
    (b'{"transaction_id":"P\xff"}', "invalid_json", "UTF-8"),
    (b'{"transaction_id":"P\\u0000","timestamp":"2026-03-01T12:00:00Z","user_id":"PU1","amount":1}',
     "invalid_transaction", "transaction_id"),
    (b'{"transaction_id":"P9","timestamp":"2026-03-01T12:00:00Z","user_id":"PU1","amount":1,"note":"a\\ud800"}',
     "invalid_transaction", "note"),
    ('{"transaction_id":"P9","timestamp":"2026-03-01T12:00:00Z","user_id":"PU1","amount":1,"note":"a\u0085"}'
     .encode(), "invalid_transaction", "note"),
]


@pytest.mark.parametrize("raw,code,field", RAW_BAD, ids=[
    "malformed", "empty", "array", "nan", "infinity", "overflow-to-inf", "huge-int", "deep-nesting",
    "not-utf8", "escaped-nul", "lone-surrogate", "c1-control"])
def test_raw_bodies(client, auth, store, raw, code, field):
    r = client.post("/api/v1/score", data=raw, headers={**auth, "Content-Type": "application/json"})
    assert_error_shape(r, 400, code, field)
    assert store.info()["transactions"] == 0


FIELD_BAD = [
    ({"amount": "ten"}, "amount"), ({"amount": -1}, "amount"), ({"amount": [1]}, "amount"),
    ({"amount": True}, "amount"), ({"timestamp": "yesterday"}, "timestamp"),
    ({"timestamp": "3026-01-01T00:00:00Z"}, "timestamp"), ({"timestamp": 1700000000}, "timestamp"),
    ({"user_id": None}, "user_id"), ({"user_id": "x" * 10000}, "user_id"), ({"user_id": 7}, "user_id"),
    ({"transaction_id": "a\nb"}, "transaction_id"), ({"card_id": {"a": 1}}, "card_id"),
    ({"ip": "999.1.1.1"}, "ip"), ({"currency": "XXX"}, "currency"), ({"note": {"nested": 1}}, "note"),
    ({"amount": 10 ** 400}, "amount"), ({"amount": -10 ** 400}, "amount"),
]


@pytest.mark.parametrize("fields,field", FIELD_BAD, ids=[
    "amount-text", "amount-negative", "amount-list", "amount-bool", "ts-words", "ts-absurd", "ts-number",
    "user-null", "user-10k", "user-int", "id-newline", "card-object", "ip", "currency", "attr-object",
    "amount-int-past-float", "amount-int-past-float-negative"])
def test_bad_fields_are_named(client, auth, store, fields, field):
    r = client.post("/api/v1/score", json={**GOOD, **fields}, headers=auth)
    assert_error_shape(r, 400, "invalid_transaction", field)
    assert store.info()["transactions"] == 0


def test_missing_fields_are_all_named(client, auth):
    r = client.post("/api/v1/score", json={"amount": 1}, headers=auth)
    body = assert_error_shape(r, 400, "invalid_transaction")
    for f in ("transaction_id", "timestamp", "user_id"):
        assert any(f in e for e in body["errors"])


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded", None],
                         ids=["text", "form", "none"])
def test_wrong_content_type_is_415(client, auth, ctype):
    headers = dict(auth)
    if ctype:
        headers["Content-Type"] = ctype
    r = client.post("/api/v1/score", data=json.dumps(GOOD), headers=headers)
    assert_error_shape(r, 415, "unsupported_media_type", "Content-Type")


@pytest.mark.parametrize("coding", ["gzip", "br, gzip"])
def test_a_compressed_body_is_refused_415_not_read_as_text(client, auth, store, coding):
    r = client.post("/api/v1/score", data=json.dumps(GOOD), headers={**auth, "Content-Type": "application/json",
                                                                      "Content-Encoding": coding})
    assert_error_shape(r, 415, "unsupported_media_type", "Content-Encoding")
    assert store.info()["transactions"] == 0
    r = client.post("/api/v1/score", data=json.dumps(GOOD), headers={**auth, "Content-Type": "application/json",
                                                                      "Content-Encoding": "identity"})
    assert r.status_code == 200


def test_body_over_the_limit_is_413(app, client, auth, store):
    limit = app.config["MAX_BODY_BYTES"]
    r = client.post("/api/v1/score", data=b"x" * (limit + 1), headers={**auth, "Content-Type": "application/json"})
    assert_error_shape(r, 413, "body_too_large", "body")
    big = {**GOOD, "pad": "y" * limit}
    r = client.post("/api/v1/score", json=big, headers=auth)
    assert_error_shape(r, 413, "body_too_large")
    assert store.info()["transactions"] == 0


def test_chunked_body_over_the_limit_is_413(app, client, auth):
    app.config["MAX_BODY_BYTES"] = app.config["MAX_CONTENT_LENGTH"] = 100

    r = client.post("/api/v1/score", input_stream=io.BytesIO(b"x" * 500),
                    environ_overrides={"wsgi.input_terminated": True},
                    headers={**auth, "Content-Type": "application/json", "Transfer-Encoding": "chunked"})
    assert_error_shape(r, 413, "body_too_large")


def test_routing_errors(client, auth):
    assert_error_shape(client.get("/nowhere"), 404, "not_found")
    assert_error_shape(client.get("/api/v1/score", headers=auth), 405, "method_not_allowed")
    assert_error_shape(client.delete("/healthz"), 405, "method_not_allowed")


def test_auth_errors(client, score_key):
    assert_error_shape(client.post("/api/v1/score", json=GOOD), 401, "unauthorized", "Authorization")
    assert_error_shape(client.post("/api/v1/score", json=GOOD, headers={"Authorization": "Bearer wrong"}),
                       401, "invalid_api_key")
    assert_error_shape(client.post("/api/v1/score", json=GOOD, headers={"Authorization": "Basic eDp5"}),
                       401, "unauthorized")
    assert_error_shape(client.get("/api/v1/rings", headers={"X-API-Key": score_key}), 403, "forbidden", "scope")


def test_conflict_is_409(client, auth):
    assert client.post("/api/v1/score", json=GOOD, headers=auth).status_code == 200
    assert_error_shape(client.post("/api/v1/score", json={**GOOD, "amount": 2.0}, headers=auth), 409,
                       "transaction_conflict", "transaction_id")


def test_rate_limit_is_429(app, client, auth):
    from webui.auth import RateLimiter

    app.extensions["graphfraud"].limiter = RateLimiter(2)
    codes = [client.get("/api/v1/transactions/x", headers=auth).status_code for _ in range(4)]
    assert codes[:2] == [404, 404] and 429 in codes[2:]
    r = client.get("/api/v1/transactions/x", headers=auth)
    assert_error_shape(r, 429, "rate_limited")
    assert r.headers["Retry-After"]


def test_crash_is_500_without_traceback(app, client, auth):
    def boom(tx, scored_by=None):
        raise RuntimeError("secret driver detail /var/lib/x")

    app.extensions["graphfraud"].scorer.score = boom
    r = client.post("/api/v1/score", json=GOOD, headers=auth)
    body = assert_error_shape(r, 500, "internal_error")
    assert "secret" not in json.dumps(body) and "RuntimeError" not in json.dumps(body)


def test_storage_error_is_503_without_driver_message(app, client, auth):
    from graphfraud.errors import StorageError

    def down(tx, scored_by=None):
        raise StorageError("database disk image is malformed at /srv/secret.db")

    app.extensions["graphfraud"].scorer.score = down
    r = client.post("/api/v1/score", json=GOOD, headers=auth)
    body = assert_error_shape(r, 503)
    assert "secret" not in json.dumps(body)
    assert r.headers["Retry-After"]
