"""The first load of history offline (``graphfraud neo4j-import``) against the Bolt loader, in the same run.

    .venv/bin/python bench/bench_neo4j_import.py --users 70000          # ~1M transactions
    .venv/bin/python bench/bench_neo4j_import.py --users 10000 --baseline-rows 140000

Steps, each on its own fresh server folder (scripts/neo4j-server, scripts/neo4j-admin; no server is running
during the import):

1. the baseline: the Bolt loader (``loaders.load_file``, what ``graphfraud load`` runs) of the world's first
   ``--baseline-rows`` rows into an empty database with the store's schema in place, on a warm server (a
   20,000-row head is loaded first, untimed, and cleared);
2. the offline import of the whole world: ``loaders.offline.import_offline`` (read and validate the file,
   write the importer's CSV files, run ``neo4j-admin database import full``), then a server is started on the
   imported folder (not timed: a server start is no part of a load) and the store is opened over Bolt, which
   creates its constraints and indexes; ``CALL db.awaitIndexes()`` waits until they are online (timed: the
   "post-import schema").

Prints each step's seconds, tx/s of both (transactions per second of wall time: rows read / seconds), the ratio,
and whether the imported store's counts (``info()``) match the file. Timing lives here, never in tests.
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def start_server(data: Path) -> tuple[subprocess.Popen[str], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([str(ROOT / "scripts" / "neo4j-server"), "--port", str(port), "--data", str(data),
                             "--no-gds"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if f"bolt://127.0.0.1:{port}" in line:
            return proc, f"bolt://127.0.0.1:{port}"
    raise SystemExit("scripts/neo4j-server did not start")


def stop_server(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    proc.wait(timeout=120)
    if proc.stdout is not None:
        proc.stdout.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=70_000, help="users to generate (graphfraud generate; 70,000 ~ 1M tx)")
    ap.add_argument("--baseline-rows", type=int, default=140_000, help="rows the Bolt loader loads (0: skip it)")
    ap.add_argument("--work", help="folder for the world and the server folders (default: a temporary one)")
    args = ap.parse_args()

    import pandas as pd

    from graphfraud.storage import open_store
    from graphfraud.synth import generate
    from loaders import load_file
    from loaders.offline import import_offline

    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="bench-neo4j-import-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        src = work / "transactions.csv"
        if not src.exists():
            df, _ = generate(args.users, seed=11)
            df.to_csv(src, index=False)
            del df
        n = sum(1 for _ in open(src, "rb")) - 1
        print(f"world: {n:,} transactions ({args.users:,} users), {src.stat().st_size / 1e6:,.0f} MB; "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)

        bolt_rate = None
        if args.baseline_rows:
            head, part = work / "head.csv", work / "baseline.csv"
            rows = pd.read_csv(src, dtype=str, keep_default_na=False, nrows=args.baseline_rows)
            rows.head(20_000).to_csv(head, index=False)
            rows.to_csv(part, index=False)
            m = len(rows)
            del rows
            proc, url = start_server(work / "bolt")
            try:
                store = open_store(url)
                load_file(head, store, progress=False, rejects_path=work / "rejects.csv")  # warm-up, untimed
                store.clear()
                open_store(url)  # the schema in place, as for every store opened
                t0 = time.perf_counter()
                res = load_file(part, store, progress=False, rejects_path=work / "rejects.csv")
                a = time.perf_counter() - t0
                bolt_rate = m / a
                print(f"Bolt loader: {m:,} rows ({res.inserted:,} inserted) in {a:.1f} s: {bolt_rate:,.0f} tx/s "
                      f"(load average {os.getloadavg()[0]:.1f})", flush=True)
            finally:
                stop_server(proc)
            shutil.rmtree(work / "bolt", ignore_errors=True)

        home = work / "offline"
        shutil.rmtree(home, ignore_errors=True)
        summary = import_offline(src, home, admin=str(ROOT / "scripts" / "neo4j-admin"))
        proc, url = start_server(home)
        try:
            t0 = time.perf_counter()
            store = open_store(url)  # creates the constraints and indexes (create_schema.cypher)
            with store._session() as s:  # type: ignore[attr-defined]
                s.run("CALL db.awaitIndexes(3600)").consume()
            schema = time.perf_counter() - t0
            info = store.info()
        finally:
            stop_server(proc)
        total = summary.seconds + schema
        rate = summary.rows_read / total
        print(f"offline import: {summary.rows_read:,} rows: files {summary.seconds_files:.1f} s, importer "
              f"{summary.seconds_import:.1f} s, schema {schema:.1f} s, total {total:.1f} s: {rate:,.0f} tx/s "
              f"(load average {os.getloadavg()[0]:.1f})", flush=True)
        print(f"imported store: {info['transactions']:,} transactions, {info['entities']['user']:,} users, "
              f"{info['links']:,} links, last_seq {info['last_seq']:,}; matches the file: "
              f"{info['transactions'] == summary.transactions == n and info['last_seq'] == n}")
        if bolt_rate:
            print(f"{n:,} transactions offline at {rate:,.0f} tx/s; Bolt loader {bolt_rate:,.0f} tx/s on "
                  f"{args.baseline_rows:,} rows; ratio {rate / bolt_rate:.1f}")
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
