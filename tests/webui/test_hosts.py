"""Two API hosts on one Neo4j store: two `graphfraud serve` processes (gunicorn), each with its own engine,
standing in for two machines. Each follows the store's one event sequence, so a payment scored on one host,
a label given on one host, and what a host missed while it was down all reach the other's next score."""
from __future__ import annotations

import json
import os
import signal
import time

import pytest

from graphfraud.storage import open_store
from tests.webui.test_server import _children, _request, _start
from webui.auth import create_api_key

pytestmark = [pytest.mark.slow, pytest.mark.neo4j]


def _tx(i: int) -> dict:
    return {"transaction_id": f"H{i}", "timestamp": f"2026-03-01T12:{i:02d}:00Z", "user_id": f"HU{i}",
            "amount": 50.0, "device_id": "HOSTS-DEV", "card_id": f"HOSTS-CARD{i // 2}"}


def test_two_hosts_follow_one_neo4j_store(neo4j_url, tmp_path):
    store = open_store(neo4j_url)
    key = create_api_key(store, "hosts", "admin")
    store.close()
    auth = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}

    def score(port: int, i: int) -> dict:
        st, _, raw = _request(port, "POST", "/api/v1/score", json.dumps(_tx(i)), auth)
        body = json.loads(raw)
        assert st == 200, body
        return body

    # host A's arbiter refreshes the engine it forks workers from every half second (default 30 s)
    hosts = [_start(neo4j_url, tmp_path / f"host-{n}.log", workers=1, threads=2,
                    GRAPHFRAUD_ENGINE_REFRESH_EVERY=every, GRAPHFRAUD_RINGS_EVERY="0") for n, every in (("a", "0.5"), ("b", "30"))]
    try:
        (_, port_a, _), (_, port_b, _) = hosts
        # 1. payments alternate between the hosts: from the third user on, each score sees every user
        #    stored before it, whichever host stored it
        for i in range(6):
            ring = score((port_a, port_b)[i % 2], i)["ring"]
            assert i < 2 or (ring is not None and ring["size"] == i + 1), (i, ring)
            assert i < 2 or ring["known_fraud_users"] == 0
        # 2. an investigator's label given on host A reaches host B's next score
        st, _, raw = _request(port_a, "POST", "/api/v1/labels",
                              json.dumps({"transaction_id": "H0", "is_fraud": 1}), auth)
        assert st == 200, raw
        ring = score(port_b, 6)["ring"]
        assert ring["size"] == 7 and ring["known_fraud_users"] == 1, ring
        # 3. host B goes down; host A goes on; host B comes back and has missed nothing
        p_b, _, log_b = hosts.pop()
        p_b.terminate()
        p_b.wait(timeout=60)
        log_b.close()
        for i in (7, 8):
            assert score(port_a, i)["ring"]["size"] == i + 1
        hosts.append(_start(neo4j_url, tmp_path / "host-b2.log", workers=1, threads=2))
        ring = score(hosts[-1][1], 9)["ring"]
        assert ring["size"] == 10 and ring["known_fraud_users"] == 1, ring
        # and both hosts read the same stored decisions
        for port in (port_a, hosts[-1][1]):
            st, _, raw = _request(port, "GET", "/api/v1/transactions/H9", headers=auth)
            assert st == 200 and json.loads(raw)["transaction"]["user_id"] == "HU9"
        # 4. host A's worker dies: gunicorn's replacement forks from host A's arbiter, whose engine followed
        #    the store meanwhile (host B's scores too), and replays nothing
        time.sleep(1.5)
        (worker,) = _children(hosts[0][0].pid)
        os.kill(worker, signal.SIGKILL)
        for _ in range(300):
            st, _, raw = _request(port_a, "GET", "/readyz", headers=auth)
            if st == 200 and json.loads(raw)["process"] != worker:
                break
            time.sleep(0.1)
        ready = json.loads(raw)
        assert ready["process"] != worker and ready["start"]["events"] == 0, ready
        assert ready["transactions"] == 10 and score(port_a, 10)["ring"]["size"] == 11
    finally:
        for p, _, log in hosts:
            if p.poll() is None:
                p.kill()
                p.wait()
            log.close()
