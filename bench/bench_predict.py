"""One-row scoring speed: the compiled model against scikit-learn, in the same run.

Reproduce:
    OMP_NUM_THREADS=1 python bench/bench_predict.py            # 200 trees, 30 features
    python bench/bench_predict.py --trees 100 --features 50 --rows 20000

Prints microseconds per call (median and p99 over single-row calls) for ``predict_one``, ``explain_one``,
scikit-learn's ``predict_proba`` on a one-row frame (the classifier's own path: validation, the booster,
the calibrator) and the bare booster's ``predict_proba`` on a one-row array; then the batch path per row,
and the size and load time of the stored model document.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from typing import Any

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification

from graphfraud import models
from graphfraud.classifier import GraphFraudClassifier
from graphfraud.storage import open_store


def per_call_us(fn: Any, rows: np.ndarray | list[Any], repeat: int = 1) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        for r in rows:
            t = time.perf_counter_ns()
            fn(r)
            times.append((time.perf_counter_ns() - t) / 1000)
    times.sort()
    return statistics.median(times), times[int(0.99 * (len(times) - 1))]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trees", type=int, default=200)
    ap.add_argument("--features", type=int, default=30)
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--calls", type=int, default=2000)
    args = ap.parse_args(argv)

    X, y = make_classification(n_samples=args.rows, n_features=args.features, n_informative=args.features // 2,
                               weights=[0.98], random_state=0)
    X[np.random.default_rng(0).random(X.shape) < 0.05] = np.nan
    frame = pd.DataFrame(X, columns=[f"f{i:02d}" for i in range(args.features)])
    t = time.perf_counter()
    clf = GraphFraudClassifier(max_iter=args.trees, random_state=0, n_threads=1).fit(frame, y)
    fit_s = time.perf_counter() - t
    model = clf.compiled_
    n_nodes = len(model.feature)
    rows = X[: args.calls]
    one_row_frames = [frame.iloc[[i]] for i in range(min(args.calls, 500))]

    print(f"python {sys.version.split()[0]}, {args.trees} trees ({n_nodes} nodes, max depth {model._depth}), "
          f"{args.features} features, fit {fit_s:.1f} s, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}")
    for _ in range(200):  # warm up
        model.predict_one(rows[0])
    results = [
        ("predict_one (compiled, plain Python)", per_call_us(model.predict_one, rows, repeat=2)),
        ("explain_one top=3", per_call_us(lambda r: model.explain_one(r, top=3), rows)),
        ("vector(dict) + predict_one",
         per_call_us(lambda d: model.predict_one(model.vector(d)),
                     [dict(zip(model.features, r.tolist())) for r in rows])),
        ("sklearn GraphFraudClassifier.predict_proba 1-row frame",
         per_call_us(clf.predict_proba, one_row_frames)),
        ("sklearn HistGradientBoosting.predict_proba 1-row array",
         per_call_us(clf.booster_.predict_proba, [r[None, :] for r in rows[:500]])),
    ]
    for name, (med, p99) in results:
        print(f"  {name:<55} median {med:8.1f} us   p99 {p99:8.1f} us")

    big = np.tile(X, (max(1, 100_000 // len(X)), 1))[:100_000]
    model.predict_many(big[:10])  # build the batch walker once
    t = time.perf_counter()
    model.predict_many(big)
    print(f"  predict_many, 100,000 rows: {(time.perf_counter() - t) / len(big) * 1e6:.2f} us/row "
          f"({len(big) / (time.perf_counter() - t):,.0f} rows/s, 1 thread)")

    with tempfile.TemporaryDirectory() as d:
        store = open_store(os.path.join(d, "gf.db"))
        version = models.save_model(store, clf, {"metrics": {}})
        _, blob = store.load_model(version)
        loads = []
        for _ in range(5):
            t = time.perf_counter()
            models.load_model(store, version)
            loads.append(time.perf_counter() - t)
        store.close()
    print(f"  stored model: {len(blob) / 1e6:.2f} MB JSON, load_model (hash + parse + checks) "
          f"median {statistics.median(loads) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
