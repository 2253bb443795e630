"""Crash safety: ``kill -9`` the loader at random points, then a full load; ``kill -9`` the server during a burst
of scores, then look up every acknowledged transaction.

Slow (a ~200,000-row file from ``graphfraud generate --users 15000``). Reproduce:
``.venv/bin/python -m pytest tests/reliability/test_crash.py -m slow -q`` (``CRASH_USERS`` makes it smaller).
"""
from __future__ import annotations

import csv
import http.client
import json
import os
import random
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest

from relhelpers import GF, Server, api_key, gf, request

pytestmark = pytest.mark.slow
USERS = int(os.environ.get("CRASH_USERS", "15000"))


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory) -> tuple[Path, int]:
    d = tmp_path_factory.mktemp("crashdata")
    path = d / "transactions.csv"
    gf("generate", str(path), "--users", str(USERS), "--seed", "21", timeout=1200)
    with open(path, newline="") as f:
        n = sum(1 for _ in csv.reader(f)) - 1
    return path, n


def test_killed_loads_then_a_full_load_are_exact(big_csv, tmp_path) -> None:
    path, n_rows = big_csv
    store = str(tmp_path / "crash.db")
    env = {**os.environ, "GRAPHFRAUD_STORE": store}
    rng = random.Random(5)
    kills = []
    for _ in range(3):
        p = subprocess.Popen([GF, "load", str(path)], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        delay = rng.uniform(0.5, 4.0)
        time.sleep(delay)
        p.kill()  # SIGKILL: no cleanup, no rollback handler
        p.wait(60)
        kills.append(round(delay, 2))
        con = sqlite3.connect(store)  # opens cleanly after every kill
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        con.close()
    gf("load", str(path), env={"GRAPHFRAUD_STORE": store}, cwd=tmp_path, timeout=1800)
    info = json.loads(gf("info", "--json", env={"GRAPHFRAUD_STORE": store}).stdout)
    assert info["transactions"] == n_rows
    con = sqlite3.connect(store)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("SELECT COUNT(*), COUNT(DISTINCT transaction_id) FROM tx").fetchone() == (n_rows, n_rows)
    # links were folded exactly once: their counts equal the transactions they summarise
    assert con.execute("SELECT SUM(n) FROM link WHERE type='device'").fetchone()[0] == con.execute(
        "SELECT COUNT(*) FROM tx WHERE device_id IS NOT NULL").fetchone()[0]
    con.close()
    print(f"\nkilled loads after {kills} s; full load: {n_rows} of {n_rows} rows")


def test_acknowledged_scores_survive_kill9_of_the_server(tmp_path) -> None:
    store = str(tmp_path / "srv.db")
    seed = tmp_path / "seed.csv"
    gf("generate", str(seed), "--users", "300", "--seed", "2")
    gf("load", str(seed), env={"GRAPHFRAUD_STORE": store}, cwd=tmp_path)
    key = api_key(store)
    srv = Server(store, tmp_path, workers=2)
    srv.wait_ready()
    acked: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def worker(w: int) -> None:
        i = w
        while not stop.is_set():
            tx = {"transaction_id": f"K{i}", "timestamp": "2026-03-02T10:00:00Z", "user_id": f"KU{i % 300}",
                  "device_id": f"KD{i % 50}", "amount": 20.0 + i % 7}
            try:
                status, _ = request(srv.base, "POST", "/api/v1/score", key, tx, timeout=5)
            except (OSError, http.client.HTTPException):
                status = 0  # connection refused, reset or a body cut short by the kill: not acknowledged
            if status == 200:
                with lock:
                    acked.append(tx["transaction_id"])
            i += 8

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    time.sleep(4)
    srv.kill9()
    stop.set()
    for t in threads:
        t.join(30)
    assert acked, "no score was acknowledged before the kill"
    srv2 = Server(store, tmp_path, workers=1)
    try:
        srv2.wait_ready()
        lost = [i for i in acked if request(srv2.base, "GET", f"/api/v1/transactions/{i}", key)[0] != 200]
    finally:
        srv2.stop()
    assert lost == []
    print(f"\n{len(acked)} scores acknowledged before kill -9; {len(lost)} lost")
