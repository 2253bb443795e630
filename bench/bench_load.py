"""Issue 2 benchmark: ``graphfraud load`` of generated transactions end to end, against a plain
``pandas.read_csv`` + ``sqlite3.executemany`` of the raw rows measured in the same run (the yardstick
validates nothing and writes no links), with the load's peak memory.

Reproduce::

    .venv/bin/python bench/bench_load.py --users 70000      # about 1,000,000 transactions
    .venv/bin/python bench/bench_load.py --csv data/transactions.csv
    .venv/bin/python bench/bench_load.py --users 70000 --insert-floor   # also SQLite's writer alone

Targets: >= 150,000 transactions/s, peak memory <= 1.5 GB, and >= 1.0 x the yardstick's speed (issue 16 item 5).
"""
from __future__ import annotations

import argparse
import os
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
    """Wall seconds and this child's own peak RSS in MB (``wait4``: not the maximum over earlier children)."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, cmd)
    return wall, usage.ru_maxrss / 1024


def insert_floor(store: str, work: str) -> list[tuple[str, float]]:
    """Seconds to insert the loaded rows again, already validated, into a fresh ``tx`` table of the store's
    schema, 100,000 rows per commit: with its indexes, without the user index, with none. What one SQLite
    writer costs before any reading, validation or links."""
    import sqlite3

    from graphfraud.storage.embedded import _INSERT_TX, SCHEMA

    rows = sqlite3.connect(store).execute("SELECT * FROM tx ORDER BY seq").fetchall()
    out = []
    for label, drop in (("with both indexes", ()), ("without the user_id index", ("tx_user",)),
                        ("without indexes", ("tx_id", "tx_user"))):
        path = os.path.join(work, f"floor-{len(out)}.db")
        con = sqlite3.connect(path, isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "cache_size=-65536"):
            con.execute(f"PRAGMA {pragma}")
        con.executescript(SCHEMA)
        for index in drop:
            con.execute(f"DROP INDEX {index}")
        t = time.perf_counter()
        for k in range(0, len(rows), 100_000):
            con.execute("BEGIN IMMEDIATE")
            con.executemany(_INSERT_TX, rows[k:k + 100_000])
            con.execute("COMMIT")
        out.append((label, time.perf_counter() - t))
        con.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=70000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--csv", help="an existing canonical CSV instead of generating one")
    ap.add_argument("--insert-floor", action="store_true",
                    help="also time inserting the loaded rows again into fresh tx tables (SQLite's writer alone)")
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
    print(f"speed ratio (ours / plain) {plain / ours:.2f} (target >= 1.0)")
    if args.insert_floor:
        for label, secs in insert_floor(env["GRAPHFRAUD_STORE"], work):
            print(f"insert floor, the same rows already validated, {label}: {secs:.2f} s = {n / secs:,.0f} rows/s")


if __name__ == "__main__":
    main()
