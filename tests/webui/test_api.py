"""The /api/v1 routes through Flask's test client; every response is checked against the OpenAPI document
by the client fixture."""
from __future__ import annotations

import pytest

GOOD = {"transaction_id": "T1", "timestamp": "2026-03-01T12:00:00Z", "user_id": "U1", "amount": 10.0,
        "card_id": "C1", "device_id": "D1", "ip": "10.0.0.1"}


def score(client, auth, **fields):
    return client.post("/api/v1/score", json={**GOOD, **fields}, headers=auth)


def test_score_stores_the_transaction_and_its_decision(client, auth, store):
    r = score(client, auth)
    assert r.status_code == 200
    body = r.get_json()
    assert body["ok"] is True and body["transaction_id"] == "T1"
    assert 0 <= body["score"] <= 1 and body["decision"] in ("allow", "review", "block")
    assert body["replay"] is False
    assert store.get_transaction("T1")["user_id"] == "U1"
    assert store.get_decision("T1")["decision"] == body["decision"]


def test_a_retry_is_a_replay_and_other_content_is_a_conflict(client, auth, store):
    first = score(client, auth).get_json()
    again = score(client, auth).get_json()
    assert again["replay"] is True and again["decision"] == first["decision"]
    assert store.info()["transactions"] == 1
    r = score(client, auth, amount=11.0)
    assert r.status_code == 409
    assert r.get_json()["code"] == "transaction_conflict"
    assert store.get_transaction("T1")["amount"] == 10.0


def test_a_retry_that_brings_a_label_adds_it_and_one_that_changes_it_is_a_conflict(client, auth, store):
    # a chargeback sent as a retry of the payment was answered 200 and dropped
    assert score(client, auth).status_code == 200
    r = score(client, auth, is_fraud=1)
    assert r.status_code == 200 and r.get_json()["replay"] is True
    assert [(lb["value"], lb["source"]) for lb in store.get_transaction("T1")["labels"]] == [("1", "file")]
    assert score(client, auth, is_fraud=1).status_code == 200  # the same label again adds nothing
    assert len(store.get_transaction("T1")["labels"]) == 1
    r = score(client, auth, is_fraud=0)
    assert r.status_code == 409 and r.get_json()["code"] == "transaction_conflict"
    assert "is_fraud" in r.get_json()["errors"][0]
    # stored with a label first: a retry with the other one is refused, with the same one replays
    assert score(client, auth, transaction_id="T2", is_fraud=0).status_code == 200
    assert score(client, auth, transaction_id="T2", is_fraud=0).get_json()["replay"] is True
    assert score(client, auth, transaction_id="T2", is_fraud=1).status_code == 409
    assert store.get_transaction("T2")["labels"] == [] and store.get_transaction("T2")["is_fraud"] == 0


def test_a_retry_whose_numbers_a_proxy_rewrote_is_still_a_retry(client, auth, store):
    # attributes were kept as the Python text of the value: 100 and 1E2 differed, and the retry was a 409
    body = '{"transaction_id":"N1","timestamp":"2026-03-01T12:00:00Z","user_id":"U1","amount":10,"tier":%s,"vip":%s}'
    first = client.post("/api/v1/score", data=body % ("100", "true"), headers=auth, content_type="application/json")
    assert first.status_code == 200
    again = client.post("/api/v1/score", data=body % ("1E2", "true"), headers=auth, content_type="application/json")
    assert again.status_code == 200 and again.get_json()["replay"] is True
    assert store.get_transaction("N1")["attributes"] == {"tier": "100", "vip": "true"}


def test_the_next_request_sees_the_transaction(client, auth):
    score(client, auth)
    r = client.get("/api/v1/transactions/T1", headers=auth)
    assert r.status_code == 200
    body = r.get_json()
    assert body["transaction"]["transaction_id"] == "T1"
    assert body["decision"]["transaction_id"] == "T1"


def test_batch_scores_valid_items_and_rejects_bad_ones(client, auth, store):
    # an integer past what a float holds (10 ** 400) is a bad item like any other, not a failed batch
    items = [{**GOOD, "transaction_id": "B1"}, {**GOOD, "transaction_id": "B2", "amount": 10 ** 400},
             {**GOOD, "transaction_id": "B3", "user_id": "U2"}]
    r = client.post("/api/v1/score/batch", json=items, headers=auth)
    assert r.status_code == 200
    body = r.get_json()
    assert (body["n_scored"], body["n_rejected"]) == (2, 1)
    assert [x["ok"] for x in body["results"]] == [True, False, True]
    assert body["results"][1]["code"] == "invalid_transaction"
    assert any("amount" in e for e in body["results"][1]["errors"])
    assert store.get_transaction("B1") and store.get_transaction("B3") and not store.get_transaction("B2")


def test_batch_with_a_conflicting_item_still_stores_the_others(client, auth, store):
    score(client, auth)
    items = {"transactions": [{**GOOD, "transaction_id": "C1"}, {**GOOD, "amount": 99.0},
                              {**GOOD, "transaction_id": "C3"}]}
    body = client.post("/api/v1/score/batch", json=items, headers=auth).get_json()
    assert [x["ok"] for x in body["results"]] == [True, False, True]
    assert body["results"][1]["status"] == 409
    assert store.get_transaction("C1") and store.get_transaction("C3")
    # each item scored once: the ones before the refused item are new scores, not replays of a second pass
    assert [body["results"][k]["replay"] for k in (0, 2)] == [False, False]


def test_batch_over_the_limit_is_413_and_stores_nothing(app, client, auth, store):
    app.config["MAX_BATCH_SIZE"] = 3
    items = [{**GOOD, "transaction_id": f"L{i}"} for i in range(4)]
    r = client.post("/api/v1/score/batch", json=items, headers=auth)
    assert r.status_code == 413 and r.get_json()["code"] == "batch_too_large"
    assert store.info()["transactions"] == 0


@pytest.mark.parametrize("body", [{"transactions": "x"}, [], 5], ids=["not-a-list", "empty", "number"])
def test_batch_shape_errors(client, auth, body):
    r = client.post("/api/v1/score/batch", json=body, headers=auth)
    assert r.status_code == 400 and r.get_json()["code"] == "invalid_batch"


def test_labels_one_or_many_all_or_nothing(client, auth, store):
    score(client, auth)
    r = client.post("/api/v1/labels", json={"transaction_id": "T1", "is_fraud": 1}, headers=auth)
    assert r.status_code == 200 and r.get_json()["n_labels"] == 1
    r = client.post("/api/v1/labels", json=[{"user_id": "U1", "user_label": "fraudster"},
                                            {"user_id": "U2", "user_label": "nonsense"}], headers=auth)
    assert r.status_code == 400
    assert any(e.startswith("[1]") and "user_label" in e for e in r.get_json()["errors"])
    assert len(store.labels()) == 1
    # dated before the transaction happened: refused, as on a score or a load
    r = client.post("/api/v1/labels", json={"transaction_id": "T1", "is_fraud": 1,
                                            "labelled_at": "2000-01-01T00:00:00Z"}, headers=auth)
    assert r.status_code == 400 and any("before the transaction's timestamp" in e for e in r.get_json()["errors"])
    assert len(store.labels()) == 1
    # in a list, each error names the item's own place (the refused items before it counted too)
    r = client.post("/api/v1/labels", json=[{"user_id": "u"}, {"transaction_id": "T1", "is_fraud": 1,
                                                                "labelled_at": "2000-01-01T00:00:00Z"}], headers=auth)
    errs = r.get_json()["errors"]
    assert any(e.startswith("[0]") and "user_label" in e for e in errs)
    assert any(e.startswith("[1]") and "before the transaction" in e for e in errs)


def test_transaction_not_found(client, auth):
    r = client.get("/api/v1/transactions/nope", headers=auth)
    assert r.status_code == 404 and r.get_json()["code"] == "transaction_not_found"


def test_entity_neighbourhood_one_and_two_hops(client, auth):
    for i, (u, card) in enumerate([("U1", "C1"), ("U2", "C1"), ("U2", "C2"), ("U3", "C2")]):
        score(client, auth, transaction_id=f"N{i}", user_id=u, card_id=card, device_id=None, ip=None)
    one = client.get("/api/v1/entities/user/U1?hops=1", headers=auth).get_json()
    assert {n["id"] for n in one["nodes"]} == {"user:U1", "card:C1"}
    two = client.get("/api/v1/entities/user/U1?hops=2", headers=auth).get_json()
    assert {n["id"] for n in two["nodes"]} == {"user:U1", "card:C1", "user:U2"}
    assert {"source": "user:U2", "target": "card:C1"}.items() <= next(
        e for e in two["edges"] if e["source"] == "user:U2").items()
    capped = client.get("/api/v1/entities/card/C1?hops=2&limit=2", headers=auth).get_json()
    assert len(capped["nodes"]) == 2 and capped["truncated"] is True


@pytest.mark.parametrize("url,code", [
    ("/api/v1/entities/user/nobody", "entity_not_found"),
    ("/api/v1/entities/Bad-Type/x", "invalid_parameter"),
    ("/api/v1/entities/user/U1?hops=3", "invalid_parameter"),
    ("/api/v1/entities/user/U1?limit=100000", "invalid_parameter"),
    ("/api/v1/rings?limit=abc", "invalid_parameter"),
    ("/api/v1/rings?status=%3Cx%3E", "invalid_parameter"),
    ("/api/v1/rings/nope", "ring_not_found"),
    ("/api/v1/rings?limit=%EF%BC%91", "invalid_parameter"),  # a full-width 1, which int() takes
], ids=["unknown-entity", "bad-type", "hops", "limit", "ring-limit", "ring-status", "unknown-ring", "wide-digit"])
def test_read_parameter_errors(client, auth, url, code):
    r = client.get(url, headers=auth)
    assert 400 <= r.status_code < 500 and r.get_json()["code"] == code


def test_rings_list_and_one(client, auth, store):
    store.save_rings([{"ring_id": "R1", "status": "active", "score": 0.9, "size": 3, "users": ["U1", "U2", "U3"]}],
                     [{"ring_id": "R1", "change": "created"}])
    rings = client.get("/api/v1/rings", headers=auth).get_json()
    assert [r["ring_id"] for r in rings["rings"]] == ["R1"]
    ring = client.get("/api/v1/rings/R1", headers=auth).get_json()["ring"]
    assert ring["users"] == ["U1", "U2", "U3"] and ring["history"][0]["change"] == "created"


def test_health_ready_metrics(client, auth):
    assert client.get("/healthz").get_json() == {"ok": True, "status": "up"}
    assert client.get("/readyz").get_json()["ready"] is True
    score(client, auth)
    text = client.get("/metrics").get_data(as_text=True)
    assert 'route="/api/v1/score",method="POST",status="200"} 1' in text
    assert "graphfraud_http_request_duration_seconds_bucket" in text
    assert "graphfraud_decisions_total{" in text


def test_readyz_is_503_until_the_scorer_loads(store_path):
    from webui import create_app

    def failing(store):
        raise RuntimeError("engine exploded at /secret/path")

    app = create_app({"STORE": store_path, "SCORER_EAGER": True, "SCORER_FACTORY": failing,
                      "SCORER_STARTUP_WAIT": 0})
    c = app.test_client()
    r = c.get("/readyz")
    assert r.status_code == 503 and r.get_json()["code"] == "not_ready"
    assert "secret" not in r.get_data(as_text=True)
    assert c.get("/healthz").status_code == 200


def test_api_responses_set_no_cookie_and_are_not_cached(client, auth):
    r = score(client, auth)
    assert "Set-Cookie" not in r.headers
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_html_responses_get_security_headers(app):
    @app.get("/_html_probe")
    def probe():
        return "<p>hi</p>"

    r = app.test_client().get("/_html_probe")
    csp = r.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"]


# ---------------------------------------------------------------- accounts: risk and money
def _admin(app):
    from webui.auth import create_api_key

    return {"Authorization": f"Bearer {create_api_key(app.extensions['graphfraud'].store, 'acct', 'admin')}"}


def _sql(app, query, *args):
    import sqlite3

    con = sqlite3.connect(app.extensions["graphfraud"].store.location)
    try:
        return con.execute(query, args).fetchall()
    finally:
        con.close()


def test_user_risk_is_what_suspects_ranks_with_and_its_money(mule_app):
    from graphfraud.suspects import rank_suspects

    st, sc = mule_app.extensions["graphfraud"].store, mule_app.extensions["graphfraud"].scorer
    top = rank_suspects(st, sc.engine, top=5)
    client, auth = mule_app.test_client(), _admin(mule_app)
    for s in top:
        body = client.get(f"/api/v1/users/{s.user_id}", headers=auth).get_json()
        assert body["ok"] and body["user_id"] == s.user_id
        assert body["score"] == pytest.approx(s.score, abs=1e-6) and body["reasons"] == s.reasons
        assert body["known_fraud"] == s.known and body["ring_id"] == s.ring_id
    assert any(s.known for s in top)  # known accounts are scored (out of fold) like the others
    # money from the engine agrees with the store's transactions
    u = top[0].user_id
    body = client.get(f"/api/v1/users/{u}", headers=auth).get_json()
    (n_out, amt_out, p_out), = _sql(mule_app, "SELECT COUNT(*), COALESCE(SUM(amount), 0), COUNT(DISTINCT counterparty_id) "
                                   "FROM tx WHERE user_id=? AND counterparty_id IS NOT NULL", u)
    (n_in, amt_in, p_in), = _sql(mule_app, "SELECT COUNT(*), COALESCE(SUM(amount), 0), COUNT(DISTINCT user_id) FROM tx "
                                 "WHERE counterparty_id=?", u)
    money = body["money"]
    assert (money["transfers_out"]["n"], money["transfers_out"]["partners"]) == (n_out, p_out)
    assert (money["transfers_in"]["n"], money["transfers_in"]["partners"]) == (n_in, p_in)
    assert money["transfers_out"]["amount"] == pytest.approx(amt_out, abs=0.01)
    assert money["transfers_in"]["amount"] == pytest.approx(amt_in, abs=0.01)
    assert set(money["exposure"]) >= {"received_from_known_fraud", "sent_to_known_fraud"}
    assert body["model_version"] and body["as_of"]["seq"] == st.last_seq()


def test_user_risk_of_an_account_that_only_received_money(mule_app):
    (sink,), = _sql(mule_app, "SELECT counterparty_id FROM tx WHERE counterparty_id NOT IN (SELECT user_id FROM tx) "
                    "LIMIT 1")
    body = mule_app.test_client().get(f"/api/v1/users/{sink}", headers=_admin(mule_app)).get_json()
    assert body["ok"] and body["money"]["transfers_out"]["n"] == 0 and body["money"]["transfers_in"]["n"] >= 1


def test_user_risk_sees_a_transfer_scored_a_moment_ago(mule_app):
    client, auth = mule_app.test_client(), _admin(mule_app)
    (u,), = _sql(mule_app, "SELECT user_id FROM tx WHERE counterparty_id IS NOT NULL LIMIT 1")
    before = client.get(f"/api/v1/users/{u}", headers=auth).get_json()["money"]["transfers_out"]
    r = client.post("/api/v1/score", headers=auth, json={
        "transaction_id": "LIVE-T1", "timestamp": "2026-01-30T12:00:00Z", "user_id": u, "amount": 123.45,
        "counterparty_id": "NEW-PAYEE-1"})
    assert r.status_code == 200
    after = client.get(f"/api/v1/users/{u}", headers=auth).get_json()["money"]["transfers_out"]
    assert after["n"] == before["n"] + 1 and after["amount"] == pytest.approx(before["amount"] + 123.45, abs=0.01)
    payee = client.get("/api/v1/users/NEW-PAYEE-1", headers=auth).get_json()
    assert payee["money"]["transfers_in"]["n"] == 1


def test_user_risk_errors(client, auth, score_key, mule_app):
    score(client, auth)  # U1 exists, but no account model was trained in this store
    r = client.get("/api/v1/users/U1", headers=auth)
    body = r.get_json()
    assert r.status_code == 409 and body["code"] == "no_account_model" and "graphfraud train" in body["error"]
    r = client.get("/api/v1/users/nobody", headers=auth)
    assert r.status_code == 404 and r.get_json()["code"] == "user_not_found"
    # like the other reads of other people's data (rings, neighbourhoods): admin keys only
    r = client.get("/api/v1/users/U1", headers={"Authorization": f"Bearer {score_key}"})
    assert r.status_code == 403
    assert client.get("/api/v1/users/U1").status_code == 401
    r = client.get("/api/v1/users/" + "x" * 5000, headers=auth)
    assert r.status_code == 400 and r.get_json()["code"] == "invalid_parameter"
    r = mule_app.test_client().get("/api/v1/users/nobody", headers=_admin(mule_app))
    assert r.status_code == 404 and r.get_json()["code"] == "user_not_found"


def test_neighbourhood_has_directed_transfer_edges(mule_app):
    (payer, payee, n, total), = _sql(mule_app, "SELECT user_id, counterparty_id, COUNT(*), SUM(amount) FROM tx WHERE "
                                     "counterparty_id IS NOT NULL AND user_id <> counterparty_id GROUP BY 1, 2 "
                                     "ORDER BY 3 DESC, 1, 2 LIMIT 1")
    body = mule_app.test_client().get(f"/api/v1/entities/user/{payer}?hops=1&limit=500",
                                      headers=_admin(mule_app)).get_json()
    edge = next(e for e in body["edges"] if e["kind"] == "transfer" and e["target"] == f"user:{payee}")
    assert edge["source"] == f"user:{payer}" and edge["n"] == n and edge["amount"] == pytest.approx(total)
    assert {"id": f"user:{payee}", "type": "user", "key": payee, "hop": 1}.items() <= next(
        x for x in body["nodes"] if x["id"] == f"user:{payee}").items()
    assert all(e["kind"] in ("link", "transfer") for e in body["edges"])


def test_a_transaction_dated_far_ahead_of_the_clock_is_refused(client, auth, store):
    """A probe: one score dated 2099 moved the engine's clock there, and its daily recomputations (PageRank,
    fraud proximity, components) stopped for every later score."""
    import datetime as dt

    soon = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=12)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert score(client, auth, transaction_id="T-soon", timestamp=soon).status_code == 200  # clocks drift
    r = score(client, auth, transaction_id="T-2099", timestamp="2099-12-31T00:00:00Z")
    body = r.get_json()
    assert r.status_code == 400 and body["code"] == "invalid_transaction"
    assert "1 day ahead" in body["error"] and body["errors"][0].startswith("timestamp: ")
    assert store.get_transaction("T-2099") is None


def test_a_score_key_cannot_send_a_label_time_alone(client, score_key, store):
    """labelled_at without is_fraud was stored from a score key; it is part of a label (admin only)."""
    r = client.post("/api/v1/score", json={**GOOD, "transaction_id": "T-lab", "labelled_at": "2026-03-02T00:00:00Z"},
                    headers={"Authorization": f"Bearer {score_key}"})
    assert r.status_code == 403 and store.get_transaction("T-lab") is None


def test_a_label_says_its_source_and_an_unknown_source_is_refused(client, auth, store):
    """POST /labels took "source": "chargeback" and stored "investigator" without a word (a probe)."""
    score(client, auth, transaction_id="T-src")
    r = client.post("/api/v1/labels", headers=auth, json=[
        {"transaction_id": "T-src", "is_fraud": 1, "source": "chargeback"}, {"user_id": "U1", "user_label": "mule"}])
    assert r.status_code == 200
    assert [(lb.subject_id, lb.source) for _, lb in store.labels()][-2:] == [("T-src", "chargeback"), ("U1", "investigator")]
    r = client.post("/api/v1/labels", headers=auth, json={"transaction_id": "T-src", "is_fraud": 0, "source": "rumour"})
    assert r.status_code == 400 and "source 'rumour'" in r.get_json()["error"]


def test_an_id_with_spaces_at_its_ends_reads_back_as_it_was_stored(client, auth):
    """A body's " sp " is stored as "sp" (ids are trimmed); the address /transactions/%20sp%20 was a 404."""
    assert score(client, auth, transaction_id=" sp ", user_id=" U-sp ").status_code == 200
    assert client.get("/api/v1/transactions/%20sp%20", headers=auth).get_json()["transaction"]["transaction_id"] == "sp"
    assert client.get("/api/v1/users/%20U-sp%20", headers=auth).status_code in (200, 409)
