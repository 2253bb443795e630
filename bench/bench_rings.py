"""Benchmark: ring detection over a store, with a networkx connected-components baseline on the same graph.

Reproduce (about 1,000,000 transactions):

    graphfraud generate /tmp/rgbench/transactions.csv --users 70000 --seed 7
    GRAPHFRAUD_STORE=/tmp/rgbench/gf.db graphfraud load /tmp/rgbench/transactions.csv
    python bench/bench_rings.py /tmp/rgbench/gf.db

Prints the store size, the time of each stage of :func:`graphfraud.rings.detect_rings` (read links, read
transactions, components + community split, description and scoring), the end-to-end time, and the time
networkx takes for only the connected components of the same user-identifier graph.
"""
from __future__ import annotations

import argparse
import time

import networkx as nx

from graphfraud import rings as R
from graphfraud.graph.policy import LinkPolicy
from graphfraud.storage import open_store


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("store", help="store file (already loaded)")
    args = ap.parse_args()
    store = open_store(args.store)
    policy = LinkPolicy.from_settings()
    store.refresh_links()

    t0 = time.perf_counter()
    found = R.detect_rings(store, policy=policy)
    total = time.perf_counter() - t0

    # the stages, timed separately on a second pass (the page cache is warm for both)
    t = time.perf_counter()
    links = store.links_frame()
    t_links = time.perf_counter() - t
    t = time.perf_counter()
    tx = R._read_transactions(store)
    t_tx = time.perf_counter() - t
    t = time.perf_counter()
    edges = R._linking_edges(links, policy)
    co = R._coactivity_edges(tx, links, policy, int(edges["ent"].max()) + 1)
    t_edges = time.perf_counter() - t
    import pandas as pd

    linking = R._linking(pd.concat([edges, co], ignore_index=True))
    t = time.perf_counter()
    _, groups = R._cluster_codes(linking, R.MAX_COMPONENT_USERS, 0)
    t_comp = time.perf_counter() - t

    t = time.perf_counter()
    g = nx.Graph()
    g.add_edges_from(zip(linking["user_id"].tolist(), ("e" + linking["ent"].astype(str)).tolist()))
    n_nx = sum(1 for _ in nx.connected_components(g))
    t_nx = time.perf_counter() - t

    print(f"store: {len(tx):,} transactions, {len(links):,} links; {len(linking):,} linking edges "
          f"({len(co):,} from co-activity through hubs)")
    print(f"detect_rings end to end: {total:.2f} s -> {len(found):,} rings of >= 3 users "
          f"({sum(r.score >= 0.5 for r in found):,} scoring >= 0.5)")
    print(f"  stages (second pass): links {t_links:.2f} s, transactions {t_tx:.2f} s, edges + co-activity "
          f"{t_edges:.2f} s, components + Louvain split {t_comp:.2f} s ({len(groups):,} clusters of >= 2)")
    print(f"networkx baseline, connected components only (graph build included): {t_nx:.2f} s "
          f"({n_nx:,} components)")
    store.close()


if __name__ == "__main__":
    main()
