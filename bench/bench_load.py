"""Issue 2 benchmark: ``graphfraud load`` of generated transactions end to end, against a plain
``pandas.read_csv`` + ``sqlite3.executemany`` of the raw rows measured in the same run (the yardstick
validates nothing and writes no links), with the load's peak memory.

Reproduce::

    .venv/bin/python bench/bench_load.py --users 70000      # about 1,000,000 transactions
    .venv/bin/python bench/bench_load.py --csv data/transactions.csv

Targets: >= 150,000 transactions/s, peak memory <= 1.5 GB, and >= 0.7 x the yardstick's speed.
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

YARDSTICK = """
import sqlite3, sys, pandas as pd
df = pd.read_csv(sys.argv[1], dtype=str)
con = sqlite3.connect(sys.argv[2]); con.execute("create table tx(%s)" % ",".join(f'"{c}"' for c in df.columns))
con.executemany("insert into tx values (%s)" % ",".join("?" * len(df.columns)), df.itertuples(index=False, name=None))
con.commit()
"""


def run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall seconds and the child's peak RSS in MB."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, max(peak, before) / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=70000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--csv", help="an existing canonical CSV instead of generating one")
    args = ap.parse_args()
    bindir = os.path.dirname(sys.executable)
    gf = os.path.join(bindir, "graphfraud")
    work = tempfile.mkdtemp(prefix="gf-bench-load-")
    csv = args.csv or os.path.join(work, "transactions.csv")
    if not args.csv:
        subprocess.run([gf, "generate", csv, "--users", str(args.users), "--seed", str(args.seed)], check=True,
                       stdout=subprocess.DEVNULL)
    with open(csv, "rb") as fh:
        n = sum(1 for _ in fh) - 1
    env = dict(os.environ, GRAPHFRAUD_STORE=os.path.join(work, "bench.db"))
    ours, peak = run([gf, "load", csv, "--rejects", os.path.join(work, "rejects.csv")], env)
    plain, plain_peak = run([sys.executable, "-c", YARDSTICK, csv, os.path.join(work, "plain.db")])
    print(f"rows {n:,}; machine load average {os.getloadavg()[0]:.1f}")
    print(f"graphfraud load: {ours:.1f} s = {n / ours:,.0f} tx/s, peak RSS {peak:,.0f} MB")
    print(f"plain pandas read_csv + sqlite3 executemany: {plain:.1f} s = {n / plain:,.0f} rows/s, "
          f"peak RSS {plain_peak:,.0f} MB")
    print(f"speed ratio (ours / plain) {plain / ours:.2f} (target >= 0.7)")


if __name__ == "__main__":
    main()
