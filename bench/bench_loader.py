"""Reader + mapping + validation speed of the bulk loader, store excluded, and the whole load.

Reproduce: ``.venv/bin/python bench/bench_loader.py /tmp/tx1m.csv`` (a CSV with the columns
transaction_id,timestamp,user_id,amount,currency,card_id,device_id,ip,merchant_id,country,is_fraud;
``--generate N`` writes one first).
"""
from __future__ import annotations

import argparse
import os
import sqlite3
import tempfile
import time

import numpy as np
import pandas as pd

from graphfraud.schema import validate_frame
from loaders import load_file
from loaders.readers import ChunkReader


def generate(path: str, n: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    ts = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 365 * 86400, n), unit="s")
    df = pd.DataFrame({
        "transaction_id": np.char.add("t", np.arange(n).astype(str)),
        "timestamp": ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "user_id": np.char.add("u", rng.integers(0, n // 10 + 1, n).astype(str)),
        "amount": np.round(rng.gamma(2, 30, n), 2).astype(str),
        "currency": "USD",
        "card_id": np.char.add("c", rng.integers(0, n // 8 + 1, n).astype(str)),
        "device_id": np.char.add("d", rng.integers(0, n // 8 + 1, n).astype(str)),
        "ip": [f"10.0.{a}.{b}" for a, b in zip(rng.integers(0, 250, n), rng.integers(1, 250, n))],
        "merchant_id": np.char.add("m", rng.integers(0, 5000, n).astype(str)),
        "country": "US",
        "is_fraud": rng.choice(["0", "1", ""], n, p=[0.9, 0.02, 0.08]),
    })
    df.to_csv(path, index=False)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("csv")
    ap.add_argument("--generate", type=int, default=0)
    ap.add_argument("--full", action="store_true", help="also time a full load and pandas+sqlite3")
    a = ap.parse_args()
    if a.generate:
        generate(a.csv, a.generate)
    t = time.perf_counter()
    n = 0
    for chunk in ChunkReader(a.csv, 100_000):
        n += len(chunk.frame)
    read = time.perf_counter() - t
    t = time.perf_counter()
    for chunk in ChunkReader(a.csv, 100_000):
        validate_frame(chunk.frame)
    both = time.perf_counter() - t
    print(f"reader alone: {n / read:,.0f} rows/s; reader + validation: {n / both:,.0f} rows/s ({n:,} rows)")
    if a.full:
        d = tempfile.mkdtemp()
        from graphfraud.storage import open_store

        store = open_store(os.path.join(d, "gf.db"))
        s = load_file(a.csv, store, progress=False, rejects_path=os.path.join(d, "rejects.csv"))
        store.close()
        t = time.perf_counter()
        df = pd.read_csv(a.csv, dtype=str)
        con = sqlite3.connect(os.path.join(d, "plain.db"))
        con.execute("create table tx(%s)" % ",".join(f'"{c}"' for c in df.columns))
        con.executemany("insert into tx values (%s)" % ",".join("?" * len(df.columns)),
                        df.itertuples(index=False, name=None))
        con.commit()
        plain = time.perf_counter() - t
        print(f"full load: {s}\nplain pandas+sqlite3: {n / plain:,.0f} rows/s; ratio {plain / s.seconds:.2f}")


if __name__ == "__main__":
    main()
