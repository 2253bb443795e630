"""Issue 15: how far the account ranking is from what the AMLSim samples allow, with same-run bounds.

Reproduce::

    .venv/bin/python bench/suspects_ceiling.py                       # both samples in ../shared/data/amlsim
    .venv/bin/python bench/suspects_ceiling.py --data DIR --seeds 1  # DIR: a folder of AMLSim samples

For each sample (a folder with ``transactions.csv`` and ``nodes.csv``) and seed, as ``checks.sh mules`` does:
a seeded half of the laundering accounts is labelled ``fraudster`` (``graphfraud label``) after
``graphfraud load --mapping amlsim``, and average precision is taken over the other accounts. Columns:

* ``product``: ``graphfraud suspects``' scores (the account model trained as ``graphfraud train`` trains it:
  positive-unlabelled, known accounts scored out of fold).
* ``supervised``: an upper bound for the product's columns. The same account features, but a gradient-boosted
  model fitted (5-fold, cross-fitted) on **every** account's true label, twice the positives and no hidden
  fraud among the negatives, which no user has.
* ``+oracle``: the same, plus two columns no user can compute: each account's transfers with any laundering
  account (known or not), all and small ones. It bounds what knowing every partner's label would add.
* ``yardstick``: the acceptance check's tabular model (``../shared/acceptance/lib/eval_suspects.py``), when
  that file is there; ``1.15x`` is the issue's floor on it.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, "..", "..", "shared")


def _ap(y: np.ndarray, s: np.ndarray) -> float:
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(y, s))


def _cross_fitted(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold

    out = np.zeros(len(y))
    for tr, te in StratifiedKFold(5, shuffle=True, random_state=0).split(X, y):
        model = HistGradientBoostingClassifier(max_iter=300, learning_rate=0.05, random_state=0)
        out[te] = model.fit(X[tr], y[tr]).predict_proba(X[te])[:, 1]
    return out


def one_world(sample: str, seed: int, work: str) -> dict[str, float]:
    import pandas as pd

    from graphfraud import suspects as S
    from graphfraud.graph.build import load_or_build_engine
    from graphfraud.storage import open_store

    gf = os.path.join(os.path.dirname(sys.executable), "graphfraud")
    nodes = pd.read_csv(os.path.join(sample, "nodes.csv")).sort_values("nodeid").reset_index(drop=True)
    fraud_ids = nodes.nodeid[nodes.isFraud == 1].to_numpy()
    known_ids = np.random.default_rng(seed).choice(fraud_ids, len(fraud_ids) // 2, replace=False)
    known_csv, store_path = os.path.join(work, "known.csv"), os.path.join(work, "s.db")
    pd.DataFrame({"user_id": known_ids.astype(str), "user_label": "fraudster"}).to_csv(known_csv, index=False)
    for cmd in (["load", os.path.join(sample, "transactions.csv"), "--mapping", "amlsim"],
                ["label", known_csv, "--source", "investigator"]):
        subprocess.run([gf, *cmd, "--store", store_path], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    engine = load_or_build_engine(open_store(store_path, create=False))
    clf, _meta, oof = S.fit_accounts(engine)
    X = S.account_features(engine, list(range(len(engine.u_name))))
    product = clf.predict_proba(S._frame(X))[:, 1]
    for u, s in oof.items():
        product[u] = s
    # accounts in nodes.csv order; one without a transfer is not in the store and scores 0 (as in the check)
    at = nodes.nodeid.astype(str).map({name: i for i, name in enumerate(engine.u_name)})
    present = at.notna().to_numpy()
    rows = at[present].astype(int).to_numpy()
    y = nodes.isFraud.to_numpy()
    unknown = ~nodes.nodeid.isin(known_ids).to_numpy()

    def spread(values: np.ndarray) -> np.ndarray:
        full = np.zeros(len(nodes))
        full[present] = values
        return full

    tx = pd.read_csv(os.path.join(sample, "transactions.csv"))
    is_fraud = dict(zip(nodes.nodeid, nodes.isFraud))
    src_f, dst_f = tx.sourceNodeId.map(is_fraud).to_numpy(), tx.targetNodeId.map(is_fraud).to_numpy()
    small = (tx.value <= tx.value.quantile(S.SMALL_QUANTILE)).to_numpy()
    oracle = np.zeros((len(nodes), 2))
    pos = {n: i for i, n in enumerate(nodes.nodeid)}
    for col, sel in enumerate((np.ones(len(tx), bool), small)):
        partners = np.concatenate([tx.sourceNodeId.to_numpy()[sel & (dst_f == 1)],
                                   tx.targetNodeId.to_numpy()[sel & (src_f == 1)]])
        np.add.at(oracle[:, col], [pos[n] for n in partners], 1)
    Xn = np.full((len(nodes), X.shape[1]), np.nan)
    Xn[present] = X[rows]
    out = {"product": _ap(y[unknown], spread(product[rows])[unknown]),
           "supervised": _ap(y[unknown], _cross_fitted(Xn, y)[unknown]),
           "+oracle": _ap(y[unknown], _cross_fitted(np.c_[Xn, oracle], y)[unknown])}
    lib = os.path.join(SHARED, "acceptance", "lib")
    if os.path.exists(os.path.join(lib, "eval_suspects.py")):
        sys.path.insert(0, lib)
        from eval_suspects import yardstick  # type: ignore[import-not-found]

        kn = ~unknown
        out["yardstick"] = _ap(y[unknown], yardstick(nodes, tx, kn)[unknown])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.path.join(SHARED, "data", "amlsim"), help="a folder of AMLSim samples")
    ap.add_argument("--seeds", default="1,2,3")
    args = ap.parse_args()
    samples = sorted(os.path.join(args.data, d) for d in os.listdir(args.data)
                     if os.path.exists(os.path.join(args.data, d, "nodes.csv")))
    cols = ["product", "supervised", "+oracle", "yardstick"]
    print(f"{'sample':<16}{'seed':>5}" + "".join(f"{c:>12}" for c in cols), flush=True)
    for sample in samples:
        got = []
        for seed in (int(s) for s in args.seeds.split(",")):
            with tempfile.TemporaryDirectory(prefix="gf-ceiling-") as work:
                got.append(one_world(sample, seed, work))
            print(f"{os.path.basename(sample):<16}{seed:>5}"
                  + "".join(f"{got[-1].get(c, float('nan')):>12.4f}" for c in cols), flush=True)
        mean = {c: float(np.mean([g.get(c, np.nan) for g in got])) for c in cols}
        print(f"{os.path.basename(sample):<16}{'mean':>5}" + "".join(f"{mean[c]:>12.4f}" for c in cols)
              + f"   floor 1.15x yardstick = {1.15 * mean['yardstick']:.4f}", flush=True)


if __name__ == "__main__":
    main()
