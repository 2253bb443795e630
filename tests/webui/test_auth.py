"""API keys: stored hashed, both header forms, scopes, revocation within the cache bound, rate limit."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from graphfraud.cli import main
from webui.auth import RateLimiter, create_api_key, hash_key

GOOD = {"transaction_id": "A1", "timestamp": "2026-03-01T12:00:00Z", "user_id": "AU1", "amount": 5.0}


def test_keys_are_stored_as_hashes_only(store):
    key = create_api_key(store, "k", "score")
    rows = store._con().execute("SELECT * FROM apikey").fetchall()
    assert key not in repr(rows) and hash_key(key) in repr(rows)


@pytest.mark.parametrize("header", ["bearer", "x-api-key"], ids=["bearer", "x-api-key"])
def test_both_header_forms(client, score_key, header):
    h = {"Authorization": f"Bearer {score_key}"} if header == "bearer" else {"X-API-Key": score_key}
    assert client.post("/api/v1/score", json=GOOD, headers=h).status_code == 200


def test_score_scope_cannot_read_rings_or_send_labels(client, score_key, admin_key):
    h = {"X-API-Key": score_key}
    assert client.get("/api/v1/rings", headers=h).status_code == 403
    assert client.post("/api/v1/labels", json={"user_id": "u", "user_label": "victim"}, headers=h).status_code == 403
    assert client.get("/api/v1/rings", headers={"X-API-Key": admin_key}).status_code == 200


def test_score_scope_cannot_label_through_a_score(client, store, score_key, admin_key):
    """A label on a score request counts at once (its user becomes known fraud for every later score), so it
    needs the scope POST /labels needs: the request is refused whole, nothing stored."""
    for key, lab in ((score_key, {"is_fraud": 1}), (score_key, {"is_fraud": 0})):
        r = client.post("/api/v1/score", json={**GOOD, **lab}, headers={"X-API-Key": key})
        assert r.status_code == 403 and r.get_json()["code"] == "forbidden"
        assert any("is_fraud" in e for e in r.get_json()["errors"])
    r = client.post("/api/v1/score/batch", json=[{**GOOD, "transaction_id": "A2"}, {**GOOD, "is_fraud": 1}],
                    headers={"X-API-Key": score_key})
    assert [x.get("status", 200) for x in r.get_json()["results"]] == [200, 403]
    assert store.get_transaction("A1") is None and store.get_transaction("A2") is not None
    r = client.post("/api/v1/score", json={**GOOD, "is_fraud": 1}, headers={"X-API-Key": admin_key})
    assert r.status_code == 200 and store.get_transaction("A1")["is_fraud"] == 1


def test_revoked_key_stops_working_after_the_cache_bound(app, client, store, score_key):
    h = {"X-API-Key": score_key}
    assert client.post("/api/v1/score", json=GOOD, headers=h).status_code == 200
    store.revoke_api_key("score-test")
    app.extensions["graphfraud"].keys.clear()  # stands in for API_KEY_CACHE_SECONDS passing
    r = client.post("/api/v1/score", json=GOOD, headers=h)
    assert r.status_code == 401 and r.get_json()["code"] == "invalid_api_key"


def test_wrong_keys_are_cached_as_unknown(app, client, store, monkeypatch):
    calls = []
    real = store.api_key_by_hash
    monkeypatch.setattr(store, "api_key_by_hash", lambda h: calls.append(h) or real(h))
    for _ in range(5):
        assert client.post("/api/v1/score", json=GOOD, headers={"X-API-Key": "gf_wrong"}).status_code == 401
    assert len(calls) == 1


def test_rate_limiter_refills():
    lim = RateLimiter(5)
    for _ in range(5):
        lim.check(1)
    with pytest.raises(Exception) as e:
        lim.check(1)
    assert e.value.code == "rate_limited"
    lim.check(2)  # other keys are unaffected
    assert RateLimiter(0).check(1) is None  # 0 turns it off
    lim._buckets[1][1] -= 1.0  # a second later the bucket is full again
    lim.check(1)


def test_cli_create_list_revoke(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHFRAUD_STORE", str(tmp_path / "k.db"))
    r = CliRunner().invoke(main, ["apikey", "create", "--name", "pay", "--scope", "admin"])
    assert r.exit_code == 0, r.output
    key = r.output.strip().splitlines()[-1].split()[-1]
    assert key.startswith("gf_")
    listed = CliRunner().invoke(main, ["apikey", "list"]).output
    assert "pay" in listed and "admin" in listed and key not in listed
    assert CliRunner().invoke(main, ["apikey", "revoke", "pay"]).exit_code == 0
    assert "revoked" in CliRunner().invoke(main, ["apikey", "list"]).output
    bad = CliRunner().invoke(main, ["apikey", "revoke", "pay"])
    assert bad.exit_code == 1 and "no active API key" in bad.output
    assert CliRunner().invoke(main, ["apikey", "create", "--name", "x", "--scope", "root"]).exit_code == 2
