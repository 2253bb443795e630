"""Browser benchmark: a 500-node cluster lays out and becomes usable in the ring view.

Builds a store holding one ring of 250 users chained through 250 shared cards (500 nodes, 499 links),
starts ``graphfraud serve``, signs in with real headless Chromium and opens the ring page RUNS times.
"Usable" is the moment network.js has stabilised for its bounded number of iterations and switched
physics off (``window.gfTiming.usable``, measured from the start of the navigation, so it includes the
page, vis-network's script, the graph JSON and the layout). The target is 3 s.

Reproduce::

    .venv/bin/python bench/bench_ui.py            # RUNS=5 by default; prints one line per run and the median
"""
from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

RUNS = int(os.environ.get("RUNS", "5"))
N_USERS = 250
CHROMIUM = os.environ.get("GRAPHFRAUD_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "bench-Secret-9"


def build_store(path: str) -> str:
    import pandas as pd

    from graphfraud.accounts import hash_password
    from graphfraud.schema import validate_frame
    from graphfraud.storage import open_store

    rows = []
    for i in range(N_USERS):
        for k, card in enumerate((i, (i + 1) % N_USERS)):
            rows.append({"transaction_id": f"B{i:04d}-{k}", "timestamp": f"2026-01-{1 + (i % 28):02d}T10:0{k}:00Z",
                         "user_id": f"U{i:04d}", "amount": "12.50", "currency": "EUR", "card_id": f"C{card:04d}",
                         "device_id": None, "ip": None, "merchant_id": None, "country": "FR", "is_fraud": None})
    good, rejects = validate_frame(pd.DataFrame(rows).astype(object).where(pd.notna, None))
    assert not rejects, rejects[:3]
    st = open_store(path)
    st.write_transactions(good)
    users = [f"U{i:04d}" for i in range(N_USERS)]
    members = [{"type": "user", "id": u} for u in users] + [{"type": "card", "id": f"C{i:04d}"} for i in range(N_USERS)]
    ring = {"ring_id": "R-bench500", "score": 0.9, "size": N_USERS, "members": members, "users": users,
            "known_fraud_users": [], "known_fraud_transactions": [], "shared_identifiers": [],
            "first_activity": 0, "last_activity": 0, "total_amount": 0.0, "reasons": ["benchmark chain"],
            "status": "active", "merged_into": None}
    st.save_rings([ring], [])
    st.set_meta("ui_rings_detected", "1")
    st.create_app_user("bench", "admin", hash_password(PASSWORD))
    st.close()
    return ring["ring_id"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    from playwright.sync_api import sync_playwright

    folder = tempfile.mkdtemp(prefix="gf-bench-ui-")
    path = os.path.join(folder, "bench.db")
    ring_id = build_store(path)
    port = free_port()
    gf = shutil.which("graphfraud", path=os.path.dirname(sys.executable)) or "graphfraud"
    env = {**os.environ, "GRAPHFRAUD_STORE": path}
    server = subprocess.Popen([gf, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                              env=env, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1).close()
                break
            except OSError:
                time.sleep(0.25)
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM,
                                  args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            page = b.new_page(viewport={"width": 1400, "height": 900})
            page.goto(base + "/login")
            page.fill("input[name=username]", "bench")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(base + "/")
            usable, loaded, nodes = [], [], 0
            for run in range(RUNS):
                page.goto(f"{base}/rings/{ring_id}")
                page.wait_for_selector("#graph[data-ready='1']", state="attached", timeout=30000)
                t = page.evaluate("() => window.gfTiming")
                nodes = page.evaluate("() => window.gfNetwork.body.data.nodes.length")
                physics = page.evaluate("() => window.gfNetwork.physics.options.enabled")
                usable.append(t["usable"] / 1000)
                loaded.append(t["loaded"] / 1000)
                print(f"run {run + 1}: {nodes} nodes, data in {loaded[-1]:.2f} s, usable (laid out, physics "
                      f"{'on' if physics else 'off'}) in {usable[-1]:.2f} s after navigation start")
            b.close()
        print(f"500-node cluster usable in {statistics.median(usable):.2f} s (median of {RUNS}; target 3 s); "
              f"{nodes} nodes")
    finally:
        server.terminate()
        server.wait(20)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
