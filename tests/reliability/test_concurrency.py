"""Concurrency: clients scoring through a real server while a bulk load and a training run write to the same
store. No errors (no 5xx, no "database is locked"), exact final counts, everything finishes.

Slow. Reproduce: ``.venv/bin/python -m pytest tests/reliability/test_concurrency.py -m slow -q``
"""
from __future__ import annotations

import csv
import json
import subprocess
import threading
from collections import Counter

import pytest

from relhelpers import GF, api_key, gf, request, running_server

pytestmark = pytest.mark.slow
CLIENTS, PER_CLIENT = 6, 60
TIMEOUT = 900  # generous: the cores are shared


def _rows(path) -> int:
    with open(path, newline="") as f:
        return sum(1 for _ in csv.reader(f)) - 1


def test_scores_during_load_and_training(tmp_path) -> None:
    store = str(tmp_path / "conc.db")
    env = {"GRAPHFRAUD_STORE": store}
    seed, other = tmp_path / "seed" / "tx.csv", tmp_path / "other" / "tx.csv"
    seed.parent.mkdir()
    other.parent.mkdir()
    gf("generate", str(seed), "--users", "1500", "--seed", "4")
    gf("generate", str(other), "--users", "3000", "--seed", "9")
    # the second file's ids must not collide with the first's
    text = other.read_text().replace("\nT", "\nX")
    other.write_text(text)
    gf("load", str(seed), env=env, cwd=tmp_path)
    n_seed, n_other = _rows(seed), _rows(other)
    key = api_key(store)
    statuses: Counter[int] = Counter()
    bodies: list[str] = []
    lock = threading.Lock()
    with running_server(store, tmp_path, workers=2) as srv:
        def client(c: int) -> None:
            for i in range(PER_CLIENT):
                tx = {"transaction_id": f"C{c}-{i}", "timestamp": "2026-06-01T10:00:00Z", "user_id": f"CU{(c * 7 + i) % 90}",
                      "device_id": f"CD{i % 13}", "card_id": f"CC{c}", "amount": 10.0 + i}
                try:
                    status, body = request(srv.base, "POST", "/api/v1/score", key, tx, timeout=120)
                except OSError as e:
                    status, body = 0, str(e)
                with lock:
                    statuses[status] += 1
                    if status != 200:
                        bodies.append(str(body)[:300])

        load = subprocess.Popen([GF, "load", str(other)], cwd=tmp_path, env={**__import__("os").environ, **env},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        train = subprocess.Popen([GF, "train"], cwd=tmp_path, env={**__import__("os").environ, **env},
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        threads = [threading.Thread(target=client, args=(c,)) for c in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(TIMEOUT)
        assert not any(t.is_alive() for t in threads), "a client did not finish (deadlock?)"
        out_load, err_load = load.communicate(timeout=TIMEOUT)
        out_train, err_train = train.communicate(timeout=TIMEOUT)
    assert load.returncode == 0, err_load[-1000:]
    assert train.returncode == 0, err_train[-1000:]
    for text in (err_load, err_train, *bodies):
        assert "database is locked" not in text
    assert statuses == Counter({200: CLIENTS * PER_CLIENT}), (statuses, bodies[:3])
    info = json.loads(gf("info", "--json", env=env).stdout)
    assert info["transactions"] == n_seed + n_other + CLIENTS * PER_CLIENT
    print(f"\n{CLIENTS * PER_CLIENT} scores (all 200) during a load of {n_other} rows and a training run; "
          f"final count {info['transactions']} = {n_seed} + {n_other} + {CLIENTS * PER_CLIENT}")
