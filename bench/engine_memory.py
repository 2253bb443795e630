"""The engine's memory after a replay of a store: resident memory, and bytes per transaction of each structure.

    .venv/bin/python bench/engine_memory.py STORE                 # RSS after the replay and after give_back()
    .venv/bin/python bench/engine_memory.py STORE --walk          # and a deep size of every engine attribute
    PYTHONPATH=<other checkout> .venv/bin/python bench/engine_memory.py STORE --walk   # the baseline, same store

The walk counts each object once, under the first attribute that reaches it (an array two structures share
is counted under the first), with numpy arrays at their buffer size. Resident memory includes what the
allocator keeps of freed memory until :func:`graphfraud.memory.give_back` returns it. Nothing here is timed.
"""
from __future__ import annotations

import argparse
import sys
from array import array
from typing import Any

import numpy as np

from graphfraud.graph.build import new_engine
try:
    from graphfraud.memory import give_back
except ImportError:  # a baseline checkout from before give_back
    import ctypes
    import gc

    def give_back() -> None:
        gc.unfreeze()
        gc.collect()
        ctypes.CDLL("libc.so.6").malloc_trim(0)
from graphfraud.storage import open_store
from graphfraud.training import load_history, queue_store_labels, replay


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1e3
    return float("nan")


def deep_size(obj: Any, seen: set[int]) -> int:
    total, stack = 0, [obj]
    while stack:
        o = stack.pop()
        if id(o) in seen:
            continue
        seen.add(id(o))
        if isinstance(o, np.ndarray):
            total += o.nbytes + 112
            continue
        total += sys.getsizeof(o)
        if isinstance(o, dict):
            stack.extend(o.keys())
            stack.extend(o.values())
        elif isinstance(o, (list, tuple, set, frozenset)):
            stack.extend(o)
        elif isinstance(o, (str, bytes, int, float, bool, array, bytearray, type(None))):
            pass
        elif hasattr(o, "__dict__"):
            stack.append(o.__dict__)
        else:
            stack.extend(getattr(o, s) for s in getattr(type(o), "__slots__", ()) if hasattr(o, s))
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("store")
    ap.add_argument("--walk", action="store_true", help="also the deep size of every engine attribute")
    args = ap.parse_args()
    store = open_store(args.store)
    engine = new_engine(None)
    hist = load_history(store, engine.label_delay_ms)
    queue_store_labels(store, engine, hist)
    give_back()
    r0 = rss_mb()
    for _ in replay(store, hist, engine):
        pass
    n = len(hist)
    r1 = rss_mb()
    give_back()
    r2 = rss_mb()
    print(f"{n:,} transactions, {len(engine.u_name):,} users, {len(engine.e_name):,} identifiers")
    print(f"RSS growth over the replay: {r1 - r0:,.0f} MB ({(r1 - r0) * 1e6 / n:,.0f} bytes a transaction); "
          f"after give_back: {r2 - r0:,.0f} MB ({(r2 - r0) * 1e6 / n:,.0f})")
    if args.walk:
        seen: set[int] = set()
        sizes = sorted(((deep_size(v, seen), k) for k, v in vars(engine).items()), reverse=True)
        for b, k in sizes:
            if b >= n:  # a byte a transaction or more
                print(f"  {k:18s} {b / 1e6:8.1f} MB {b / n:7.1f} bytes a transaction")
        total = sum(b for b, _ in sizes)
        print(f"  {'total':18s} {total / 1e6:8.1f} MB {total / n:7.1f} bytes a transaction")


if __name__ == "__main__":
    main()
