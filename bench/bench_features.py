"""Issue 3 benchmark: point-in-time features per transaction, whole-graph features against networkx on
the same graph, and a backtest end to end.

Reproduce::

    .venv/bin/python bench/bench_features.py --users 70000            # about 1,000,000 transactions
    .venv/bin/python bench/bench_features.py --users 10000 --backtest
    .venv/bin/python bench/bench_features.py --users 10000 --profile mules     # with transfers (issue 15)

Targets: point-in-time features >= 30,000 transactions/s; a backtest over 1,000,000 transactions
<= 120 s. networkx is the correctness reference; its time for the same whole-graph features (connected
components and PageRank over the user-identifier graph) is printed beside ours.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=70000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--profile", default="rings", help="the world's generate --profile (mules: with transfers)")
    ap.add_argument("--backtest", action="store_true", help="also time graphfraud backtest end to end")
    args = ap.parse_args()
    from graphfraud.graph import compiled
    from graphfraud.graph.features import compute_features, feature_row
    from graphfraud.graph.snapshot import edges, pagerank
    from graphfraud.memory import long_lived
    from graphfraud.scoring import new_engine
    from graphfraud.storage import open_store
    from graphfraud.training import load_history, queue_store_labels
    from loaders import load_file

    gf = os.path.join(os.path.dirname(sys.executable), "graphfraud")
    work = tempfile.mkdtemp(prefix="gf-bench-features-")
    csv = os.path.join(work, "transactions.csv")
    subprocess.run([gf, "generate", csv, "--users", str(args.users), "--seed", str(args.seed),
                    "--profile", args.profile], check=True,
                   stdout=subprocess.DEVNULL)
    store = open_store(os.path.join(work, "s.db"))
    load_file(csv, store, progress=False)
    with long_lived():  # as training and backtests run (graphfraud.memory)
        engine = new_engine()
        hist = load_history(store, engine.label_delay_ms)
        queue_store_labels(store, engine, hist)
        n = len(hist)
        t_adv = t_feat = t_apply = t_dict = 0.0
        pc = time.perf_counter
        for k, tx in hist.walk():
            a = pc()
            engine.advance(tx.ts)
            b = pc()
            feature_row(engine, tx)  # what training and backtests read
            c = pc()
            engine.apply(tx)
            d = pc()
            t_adv += b - a
            t_feat += c - b
            t_apply += d - c
            if k % 10 == 0:  # the same row keyed by name, as the API reads it (on a tenth of the transactions)
                e = pc()
                compute_features(engine, tx)
                t_dict += pc() - e
    total = t_adv + t_feat + t_apply
    transfers = len(engine.flows.src) if engine.flows is not None else 0
    print(f"transactions {n:,} ({args.profile} world, {transfers:,} transfers between users); "
          f"machine load average {os.getloadavg()[0]:.1f}; compiled: {', '.join(compiled()) or 'none'} "
          "(GRAPHFRAUD_PURE_PYTHON=1 runs the same code as Python)")
    print(f"point-in-time features: {n / t_feat:,.0f} tx/s (feature_row alone, {t_feat / n * 1e6:.1f} µs); "
          f"as a dict (compute_features, the API's form) {t_dict / ((n + 9) // 10) * 1e6:.1f} µs; "
          f"replay with apply and {engine.snapshot_version} scheduled snapshots: {n / total:,.0f} tx/s "
          f"(advance {t_adv:.1f} s, features {t_feat:.1f} s, apply {t_apply:.1f} s)")
    # whole-graph features on the final graph: ours (scipy) vs networkx
    from scipy import sparse
    from scipy.sparse.csgraph import connected_components

    src, dst = edges(engine)
    nn = len(engine.parent)
    t = pc()
    g = sparse.csr_matrix((np.ones(len(src), np.int8), (src, dst)), shape=(nn, nn))
    connected_components(g, directed=False)
    pagerank(nn, src, dst)
    ours = pc() - t
    import networkx as nx

    t = pc()
    G = nx.Graph()
    G.add_nodes_from(range(nn))
    G.add_edges_from(zip(src.tolist(), dst.tolist()))
    list(nx.connected_components(G))
    nx.pagerank(G)
    ref = pc() - t
    print(f"whole graph ({nn:,} nodes, {len(src):,} edges): components + PageRank ours {ours:.2f} s, "
          f"networkx {ref:.2f} s ({ref / max(ours, 1e-9):.0f}x)")
    if args.backtest:
        import json

        t = pc()
        report = os.path.join(work, "report.json")
        subprocess.run([gf, "backtest", csv, "--train-frac", "0.6", "--label-delay", "1d", "--scores-out",
                        os.path.join(work, "scores.csv"), "--store", os.path.join(work, "bt.db"), "--report",
                        report], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        took = pc() - t
        with open(report, encoding="utf-8") as fh:
            r = json.load(fh)
        sec = r["seconds"]
        print(f"backtest end to end (load, replay, train, score): {took:.1f} s for {n:,} transactions "
              f"(after loading: replay {sec['replay']} s, then waiting for the fits {sec['train']} s, "
              f"total {sec['total']} s); AP {r.get('average_precision')}, tabular only "
              f"{r['tabular_only'].get('average_precision')}; load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
