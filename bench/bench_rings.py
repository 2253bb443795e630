"""Benchmark: ring detection over a store, with a networkx baseline, and live ring context per transaction.

Reproduce (about 1,000,000 transactions):

    graphfraud generate /tmp/r70/transactions.csv --users 70000 --seed 1
    GRAPHFRAUD_STORE=/tmp/r70/gf.db graphfraud load /tmp/r70/transactions.csv
    python bench/bench_rings.py /tmp/r70/gf.db            # add --live 0 to skip the live part
    python bench/bench_rings.py /tmp/r70/gf.db --live 0 --baseline ../main --rounds 3
    python bench/bench_rings.py /tmp/r70/gf.db --save 5     # the registry save beside score writes

Prints the store size; :func:`graphfraud.rings.detect_rings` end to end (wall and process CPU time: the
SQLite work runs in this process, so CPU time is the figure least disturbed by other jobs on a shared
machine); the time of each stage on a second pass (the narrow store reads, co-activity, components and
community split, description and scoring); the time networkx takes for only the connected components of the
same user-identifier graph; and the latency of :func:`graphfraud.scoring.ring_context` over the first
``--live`` transactions replayed through a fresh engine (read before each ``engine.apply``, as serving does).

``--baseline TREE`` first compares this tree's detection with another checkout's (``main``) in the same run:
``--rounds`` fresh processes each, alternating, so both meet the same load; each prints the CPU time (user +
system, of the whole process, imports included, and of ``detect_rings`` alone) and wall time, and whether the
two found identical rings (the JSON of every ring).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import time

import networkx as nx
import numpy as np

from graphfraud import ringflows as flows
from graphfraud import ringlinks as RL
from graphfraud import rings as R
from graphfraud import settings
from graphfraud.graph.policy import LinkPolicy
from graphfraud.scoring import new_engine, ring_context
from graphfraud.storage import open_store


def _timed(fn, *a, **k):
    t, c = time.perf_counter(), time.process_time()
    out = fn(*a, **k)
    return out, time.perf_counter() - t, time.process_time() - c


def bench_detection(store, policy: LinkPolicy) -> None:
    found, wall, cpu = _timed(R.detect_rings, store, policy=policy)

    # the stages, timed separately on a second pass (the page cache is warm for both)
    src = R._Source(store)
    edges, t_edges, _ = _timed(R._detection_edges, src, policy)
    linking = RL.joining(edges)
    (uids, groups), t_comp, _ = _timed(RL.cluster_codes, linking, RL.MAX_COMPONENT_USERS, 0)
    groups = [g for g in groups if len(g) >= int(settings.get("ring_min_size"))]
    users = uids[np.concatenate(groups)].tolist() if groups else []
    tx, t_tx, _ = _timed(src.transactions_of_users, users, R._TX_COLUMNS)
    tx = tx.sort_values("seq", kind="stable").reset_index(drop=True)
    base, t_base, _ = _timed(src.amount_baseline)
    t = time.perf_counter()
    delay_ms = int(float(settings.get("label_delay")) * 1000)
    fraud_tx, fraud_type, user_labels, labelled = R._known_fraud(tx, store.labels(), None, delay_ms)
    kf = flows.known_users(tx, fraud_tx, fraud_type, user_labels, labelled=labelled)["kf"]
    groups = [g for g in R.split_lifetimes(groups, uids, linking, tx, kf.index[kf.to_numpy(dtype=bool)])
              if len(g) >= int(settings.get("ring_min_size"))]
    R._describe(groups, uids, edges, tx, base, fraud_tx, fraud_type, user_labels, labelled=labelled, known=kf)
    t_desc = time.perf_counter() - t

    t = time.perf_counter()
    g = nx.Graph()
    g.add_edges_from(zip(linking["user_id"].tolist(), ("e" + linking["ent"].astype(str)).tolist()))
    n_nx = sum(1 for _ in nx.connected_components(g))
    t_nx = time.perf_counter() - t

    info = store.info()
    print(f"store: {info.get('transactions', 0):,} transactions; {len(edges):,} user-identifier edges read "
          f"({len(linking):,} linking); {len(tx):,} transactions of {len(users):,} clustered users read")
    print(f"detect_rings end to end: {wall:.2f} s wall, {cpu:.2f} s CPU -> {len(found):,} rings of >= 3 users "
          f"({sum(r.score >= 0.5 for r in found):,} scoring >= 0.5)")
    print(f"  stages (second pass, wall): shared links + meetings + co-activity {t_edges:.2f} s, components + "
          f"split {t_comp:.2f} s ({len(groups):,} clusters), transactions of clustered users {t_tx:.2f} s, "
          f"amount baseline {t_base:.2f} s, lifetimes + labels + description + scoring {t_desc:.2f} s")
    print(f"networkx baseline, connected components only (graph build included): {t_nx:.2f} s "
          f"({n_nx:,} components)")


def bench_live(store, n: int) -> None:
    engine = new_engine()
    lat: list[float] = []
    hits = 0
    done = 0
    for tx, seq in store.iter_transactions():
        t = time.perf_counter()
        ctx = ring_context(engine, tx)
        lat.append(time.perf_counter() - t)
        hits += ctx is not None
        engine.apply(tx, seq)
        done += 1
        if done >= n:
            break
    ms = np.array(lat) * 1000
    print(f"ring_context over {done:,} replayed transactions ({hits:,} with a ring): p50 {np.percentile(ms, 50):.3f} ms, "
          f"p99 {np.percentile(ms, 99):.3f} ms, max {ms.max():.2f} ms")


def _child(path: str) -> None:
    """Detect once in this fresh process; print its figures as JSON (what :func:`bench_baseline` reads)."""
    store = open_store(path)
    found, wall, cpu = _timed(R.detect_rings, store)
    digest = hashlib.sha1(json.dumps([r.to_dict() for r in found], default=str).encode()).hexdigest()
    store.close()
    print(json.dumps({"cpu": cpu, "wall": wall, "rings": len(found), "digest": digest}))


def bench_baseline(path: str, baseline: str, rounds: int) -> None:
    trees = {"baseline": os.path.abspath(baseline),
             "this tree": os.path.dirname(os.path.dirname(os.path.abspath(__file__)))}
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in trees}
    digests: dict[str, set[str]] = {k: set() for k in trees}
    for _ in range(rounds):
        for name, tree in trees.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t = time.perf_counter()
            out = subprocess.run([sys.executable, os.path.abspath(__file__), path, "--child"], check=True,
                                 capture_output=True, text=True, env={**os.environ, "PYTHONPATH": tree})
            wall = time.perf_counter() - t
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            got = json.loads(out.stdout.strip().splitlines()[-1])
            digests[name].add(got["digest"])
            runs[name].append({"proc_cpu": after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime,
                               "proc_wall": wall, "cpu": got["cpu"], "wall": got["wall"], "rings": got["rings"]})
    for name, tree in trees.items():
        r = runs[name]
        med = {k: float(np.median([x[k] for x in r])) for k in r[0]}
        print(f"{name} ({tree}), median of {rounds}: process {med['proc_cpu']:.2f} s CPU, {med['proc_wall']:.2f} s "
              f"wall; detect_rings {med['cpu']:.2f} s CPU, {med['wall']:.2f} s wall -> {int(med['rings']):,} rings "
              f"(detect_rings CPU per run: {', '.join(format(x['cpu'], '.2f') for x in r)})")
    same = len(digests["baseline"] | digests["this tree"]) == 1
    print(f"rings identical in every run: {'yes' if same else 'NO'}")


def bench_save(path: str, rounds: int, rate: float = 300.0) -> None:
    """The registry save beside scores: on a copy of the store, a thread writes a transaction ``rate`` times a
    second through a handle set up as a server's worker's (``checkpoint_in_background``), while the rings
    found once are saved ``rounds`` times through a plain handle and through the refresher's
    (``ringrefresh.open_beside_server``), alternating. Prints each way's registry writes (the time each held
    the writers' lock, p50 and max) and the p99 and max of the score writes made meanwhile."""
    import shutil
    import sqlite3
    import tempfile
    import threading

    from graphfraud.ringrefresh import open_beside_server
    from graphfraud.schema import validate_record
    from graphfraud.storage.embedded import EmbeddedStore

    tmp = tempfile.mkdtemp(prefix="gf-bench-save-")
    copy = os.path.join(tmp, "gf.db")
    with sqlite3.connect(path) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    try:
        st = open_store(copy)
        st.refresh_links()
        planned = R.plan_registry(st, R.detect_rings(st))
        held: list[float] = []
        plain_write = EmbeddedStore._registry_write

        def timed_write(self, fn, what):
            t = time.perf_counter()
            try:
                return plain_write(self, fn, what)
            finally:
                held.append((time.perf_counter() - t) * 1000)

        EmbeddedStore._registry_write = timed_write  # type: ignore[method-assign]
        stop, lat = threading.Event(), []

        def scores() -> None:
            w = open_store(copy)
            w.checkpoint_in_background()
            i, due = 0, time.perf_counter()
            while not stop.is_set():
                due += 1 / rate
                time.sleep(max(0.0, due - time.perf_counter()))
                tx = validate_record({"transaction_id": f"BS-{i}", "timestamp": "2026-03-02T10:00:00Z",
                                      "user_id": f"BSU{i % 3000}", "card_id": f"BSC{i % 4000}", "amount": 10.5})
                t = time.perf_counter()
                w.add_transaction(tx, {"score": 0.1, "decision": "allow"})
                lat.append((time.perf_counter() - t) * 1000)
                i += 1
            w.close()

        writer = threading.Thread(target=scores)
        writer.start()
        time.sleep(2)
        ways = {"plain handle (before)": lambda: open_store(copy),
                "open_beside_server (now)": lambda: open_beside_server(copy)}
        res: dict[str, dict[str, list[float]]] = {k: {"held": [], "lat": []} for k in ways}
        for _ in range(rounds):
            for name, opener in ways.items():
                h = opener()
                held.clear()
                n = len(lat)
                h.save_rings(*planned)
                h.close()
                res[name]["held"] += held
                res[name]["lat"] += lat[n:]
                time.sleep(1)
        stop.set()
        writer.join()
        EmbeddedStore._registry_write = plain_write  # type: ignore[method-assign]
        st.close()
        print(f"registry save of {len(planned[0]):,} rings beside score writes at {rate:.0f}/s (a thread of this "
              f"process), {rounds} rounds each way:")
        for name, r in res.items():
            h, lt = np.array(r["held"]), np.array(r["lat"])
            print(f"  {name}: {len(h)} registry writes held the lock p50 {np.median(h):.1f} ms, max {h.max():.1f} ms, "
                  f"{int((h > 8).sum())} over 8 ms; {len(lt)} score writes meanwhile p99 "
                  f"{np.percentile(lt, 99):.1f} ms, max {lt.max():.1f} ms")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    if "--child" in sys.argv:
        _child(sys.argv[1])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("store", help="store file (already loaded)")
    ap.add_argument("--live", type=int, default=100_000, help="transactions to replay for ring_context (0: skip)")
    ap.add_argument("--baseline", help="another checkout (e.g. ../main) to compare detection with, same run")
    ap.add_argument("--rounds", type=int, default=3, help="fresh processes per tree with --baseline")
    ap.add_argument("--save", type=int, default=0, metavar="ROUNDS",
                    help="only the registry save beside score writes, plain handle against the refresher's")
    args = ap.parse_args()
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    if args.save:
        bench_save(args.store, args.save)
        return
    if args.baseline:
        bench_baseline(args.store, args.baseline, args.rounds)
    store = open_store(args.store)
    policy = LinkPolicy.from_settings()
    store.refresh_links()
    bench_detection(store, policy)
    if args.live:
        bench_live(store, args.live)
    store.close()


if __name__ == "__main__":
    main()
