"""Issue 13 benchmark: the same settings on every world (profile x seed x label knobs), as a matrix.

Reproduce::

    .venv/bin/python bench/generalise.py                      # 10,000 users, seeds 11 12 13, rings + backtest
    .venv/bin/python bench/generalise.py --quick              # 4,000 users, seeds 11 12, rings only
    .venv/bin/python bench/generalise.py --profiles stars,chains --seeds 5 --no-backtest
    .venv/bin/python bench/generalise.py --worlds DIR1,DIR2 --no-backtest   # worlds made elsewhere

Settings are chosen once: the product's defaults (``graphfraud.settings``, the constants of
``graphfraud.rings``), printed at the top; nothing is tuned per world. Every world is generated with
``graphfraud generate`` (cached under ``--cache`` by profile, seed, users and knobs: a world is
byte-identical for them) and then, each in a fresh store:

* **rings**, the way ``checks.sh rings`` measures them: the CSV's ``is_fraud`` blanked for the later half of
  its rows, loaded, :func:`graphfraud.rings.detect_rings`; recall is the share of planted rings (>= 3 users)
  matched (Jaccard >= 0.5 on users) by one of the top 2R clusters, precision the share of the top R clusters
  that match a planted ring (R = planted rings), as ``lib/eval_rings.py`` computes them. ``decoys`` counts
  the top R clusters that match a household, office or campus instead.
* **backtest** (a fresh process each: no model is carried from one world to another):
  ``graphfraud backtest FILE --train-frac 0.6 --label-delay 1d --report R.json --scores-out S.csv``. ``AP`` is
  the scores' average precision over the later 40 % of the rows against ``truth.json``'s
  ``fraud_transactions`` when the world has it (labels blank or late), else against ``is_fraud``, as
  ``lib/eval_scores.py`` does. ``AP(rep)``, ``hist AP`` and ``tab AP`` are the report's own figures for the
  model and its two baselines (user history only, tabular only), judged on the labelled test rows of the
  same run; ``lift`` is ``AP(rep) / hist AP`` (same rows, same run).

Rows are worlds; the last lines give each column's mean and minimum over the worlds.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROFILES = ("rings", "stars", "chains", "bipartite", "sleepers", "merchants", "mixed")
#: Label variants, each on the profiles named: partial and late labels, and a low fraud rate.
VARIANTS = {
    "partial": ({"labelled_share": 0.6, "label_delay_days": 30}, ("mixed", "sleepers", "rings")),
    "rare": ({"fraud_rate": 0.003}, ("mixed", "bipartite")),
}
_KNOB_FLAG = {"labelled_share": "--labelled-share", "label_delay_days": "--label-delay-days",
              "fraud_rate": "--fraud-rate"}


@dataclass
class World:
    profile: str
    seed: int
    users: int
    knobs: dict[str, float] = field(default_factory=dict)
    variant: str = ""

    @property
    def name(self) -> str:
        return f"{self.profile}{'/' + self.variant if self.variant else ''} s{self.seed}"

    @property
    def key(self) -> str:
        kn = "".join(f"-{k}{v}" for k, v in sorted(self.knobs.items()))
        return f"{self.profile}-u{self.users}-s{self.seed}{kn}"

    def generate_args(self, out: str) -> list[str]:
        args = ["generate", out, "--profile", self.profile, "--users", str(self.users), "--seed", str(self.seed)]
        for k, v in sorted(self.knobs.items()):
            args += [_KNOB_FLAG[k], str(v)]
        return args


def _gf() -> list[str]:
    return [sys.executable, "-m", "graphfraud.cli"]


def make_worlds(profiles: list[str], seeds: list[int], users: int, variants: bool) -> list[World]:
    out = [World(p, s, users) for p in profiles for s in seeds]
    if variants:
        for name, (knobs, on) in VARIANTS.items():
            out += [World(p, s, users, dict(knobs), name) for p in on if p in profiles for s in seeds]
    return out


def ensure_world(w: World, cache: Path) -> Path:
    d = cache / w.key
    if not ((d / "transactions.csv").exists() and (d / "truth.json").exists()):
        d.mkdir(parents=True, exist_ok=True)
        subprocess.run(_gf() + w.generate_args(str(d / "transactions.csv")), check=True, stdout=subprocess.DEVNULL)
    return d


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def ring_figures(d: Path, work: Path) -> dict[str, Any]:
    """Recall and precision of the ranked rings with labels for the first half of the rows only."""
    from graphfraud.rings import detect_rings
    from graphfraud.storage import open_store
    from loaders import load_file

    with open(d / "transactions.csv", newline="") as f:
        rows = list(csv.reader(f))
    i = rows[0].index("is_fraud")
    truth = json.loads((d / "truth.json").read_text())
    dec = truth.get("decoys", {})
    office_ips = {str(g["ip"]) for k in ("offices", "campuses") for g in dec.get(k, [])}
    office_ips |= {str(x) for x in dec.get("office_ips", [])}
    ipc, uc = rows[0].index("ip"), rows[0].index("user_id")
    at_office: dict[str, set[str]] = {}
    for r in rows[1:]:
        if r[ipc] in office_ips:
            at_office.setdefault(r[ipc], set()).add(r[uc])
    cut = 1 + (len(rows) - 1) // 2
    for r in rows[cut:]:
        r[i] = ""
    half = work / "half.csv"
    with open(half, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    del rows
    store = open_store(str(work / "r.db"))
    try:
        load_file(str(half), store, progress=None, rejects_path=str(work / "rejects.csv"))
        t = time.perf_counter()
        found = detect_rings(store)
        secs = time.perf_counter() - t
    finally:
        store.close()
    planted = [(set(map(str, r["users"])), r.get("shape", "?")) for r in truth["rings"].values()
               if len(r["users"]) >= 3]
    n_r = len(planted)
    top = [set(r.users) for r in found[:2 * n_r]]
    hits = [any(_jaccard(p, c) >= 0.5 for c in top) for p, _ in planted]
    real = sum(any(_jaccard(p, c) >= 0.5 for p, _ in planted) for c in top[:n_r])
    homes = [set(map(str, g["users"])) for g in dec.get("households", [])]
    # a household matches like a ring (Jaccard >= 0.5); an office or campus when at least half of the
    # cluster's users used its address (truth.json lists the address, not the staff)
    n_decoy = sum(any(_jaccard(g, c) >= 0.5 for g in homes) or any(len(c & g) * 2 >= len(c) for g in at_office.values())
                  for c in top[:n_r])
    missed: dict[str, int] = {}
    for (_, shape), h in zip(planted, hits):
        if not h:
            missed[shape] = missed.get(shape, 0) + 1
    return {"R": n_r, "recall": sum(hits) / max(1, n_r), "precision": real / max(1, n_r), "decoys": n_decoy,
            "missed": missed, "rings_s": secs}


def backtest_figures(d: Path, work: Path) -> dict[str, Any]:
    """The backtest's AP against the truth, and the report's model and baseline APs."""
    import numpy as np
    import pandas as pd
    from sklearn.metrics import average_precision_score

    report, scores = work / "report.json", work / "scores.csv"
    cmd = _gf() + ["backtest", str(d / "transactions.csv"), "--train-frac", "0.6", "--label-delay", "1d",
                   "--report", str(report), "--scores-out", str(scores), "--store", str(work / "bt.db")]
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=work)
    secs = time.perf_counter() - t
    rep = json.loads(report.read_text())
    tx = pd.read_csv(d / "transactions.csv", dtype=str, usecols=["transaction_id", "timestamp", "is_fraud"])
    tx = tx.assign(_t=pd.to_datetime(tx.timestamp, utc=True, format="mixed")).sort_values("_t", kind="stable")
    truth = json.loads((d / "truth.json").read_text())
    if "fraud_transactions" in truth:
        y = tx.transaction_id.isin(set(map(str, truth["fraud_transactions"]))).astype(int)
    else:
        y = pd.to_numeric(tx.is_fraud, errors="coerce").fillna(0).astype(int)
    tx["y"] = y
    sc = pd.read_csv(scores, dtype={"transaction_id": str})
    cut = int(len(tx) * 0.6)
    m = tx.iloc[cut:][["transaction_id", "y"]].merge(sc[["transaction_id", "score"]], on="transaction_id", how="left")
    ap = float(average_precision_score(m.y, m.score.fillna(0.0).astype(float))) if m.y.any() else float("nan")

    def get(*path: str) -> float:
        x: Any = rep
        for p in path:
            x = x.get(p) if isinstance(x, dict) else None
        return float(x) if isinstance(x, (int, float)) else float("nan")

    rep_ap = get("average_precision")
    if np.isnan(rep_ap):
        rep_ap = get("model", "average_precision")
    hist = get("user_history_only", "average_precision")
    lift = get("lift_over_user_history")
    if np.isnan(lift) and hist == hist and hist > 0:
        lift = rep_ap / hist
    return {"ap": ap, "rep_ap": rep_ap, "hist_ap": hist, "tab_ap": get("tabular_only", "average_precision"),
            "lift": lift, "bt_s": secs}


def _fmt(x: Any, pct: bool = False) -> str:
    if x is None or (isinstance(x, float) and x != x):
        return "-"
    return f"{x:.0%}" if pct else f"{x:.3f}" if isinstance(x, float) else str(x)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--quick", action="store_true", help="4,000 users, seeds 11 12, rings only")
    ap.add_argument("--users", type=int, default=None, help="users per world (default 10,000; quick 4,000)")
    ap.add_argument("--seeds", default=None, help="comma-separated seeds (default 11,12,13; quick 11,12)")
    ap.add_argument("--profiles", default=",".join(PROFILES), help="comma-separated profiles")
    ap.add_argument("--no-variants", action="store_true", help="skip the label variants (partial, rare)")
    ap.add_argument("--no-backtest", action="store_true", help="rings only")
    ap.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "gf-generalise"),
                    help="where generated worlds are kept")
    ap.add_argument("--worlds", default=None, help="comma-separated folders of worlds made elsewhere (a "
                    "transactions.csv and a truth.json each), scored the same way instead of generated ones")
    args = ap.parse_args(argv)
    users = args.users or (4000 if args.quick else 10000)
    seeds = [int(s) for s in (args.seeds or ("11,12" if args.quick else "11,12,13")).split(",")]
    profiles = [p for p in args.profiles.split(",") if p]
    backtest = not (args.quick or args.no_backtest)
    entries: list[tuple[str, World | Path]]
    if args.worlds:
        outside = [Path(p) for p in args.worlds.split(",") if p]
        bad = [str(p) for p in outside if not (p / "transactions.csv").is_file() or not (p / "truth.json").is_file()]
        if bad:
            ap.error(f"no transactions.csv and truth.json in {', '.join(bad)}")
        entries = [(p.name, p) for p in outside]
    else:
        entries = [(w.name, w) for w in make_worlds(profiles, seeds, users, not args.no_variants)]
    cache = Path(args.cache)

    from graphfraud import ringburst as RB
    from graphfraud import ringflows as RF
    from graphfraud import ringlinks as RL
    from graphfraud import rings as R
    from graphfraud import ringscore as RS
    from graphfraud import settings

    print("reproduce: python bench/generalise.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])))
    what = (f"{len(entries)} worlds made elsewhere" if args.worlds
            else f"{len(entries)} worlds of {users:,} users, seeds {seeds}")
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}; {what}; "
          f"settings (the same for every world): ring_min_size {settings.get('ring_min_size')}, "
          f"link types {settings.get('link_types')}, hub limits {settings.get('hub_limits')}, rings: "
          + ", ".join(f"{k} {getattr(m, k)}" for m in (RL, RB, RF, R) for k in sorted(vars(m)) if k.isupper()
                      and k[0] != "_" and isinstance(getattr(m, k), (int, float))
                      and (m is not R or k not in vars(RL)) and (m is not RB or k != "DAY_MS"))
          + f"; ring score midpoint {RS.EVIDENCE_MIDPOINT}, weights {RS.WEIGHTS}"
          + "; backtest --train-frac 0.6 --label-delay 1d" + ("" if backtest else " (not run)"))
    head = f"{'world':<22} {'R':>3} {'recall':>6} {'prec':>5} {'decoys':>6} {'rings s':>7}"
    if backtest:
        head += f" {'AP':>6} {'AP(rep)':>7} {'hist AP':>7} {'lift':>5} {'tab AP':>6} {'bt s':>5}"
    head += "  missed (by shape)"
    print(head, flush=True)
    results: list[dict[str, Any]] = []
    for name, w in entries:
        d = w if isinstance(w, Path) else ensure_world(w, cache)
        with tempfile.TemporaryDirectory(prefix="gf-generalise-") as tmp:
            r = ring_figures(d, Path(tmp))
        if backtest:
            with tempfile.TemporaryDirectory(prefix="gf-generalise-bt-") as tmp:
                r.update(backtest_figures(d, Path(tmp)))
        results.append(r)
        line = (f"{name:<22} {r['R']:>3} {_fmt(r['recall'], True):>6} {_fmt(r['precision'], True):>5} "
                f"{r['decoys']:>6} {r['rings_s']:>7.1f}")
        if backtest:
            line += (f" {_fmt(r['ap']):>6} {_fmt(r['rep_ap']):>7} {_fmt(r['hist_ap']):>7} {_fmt(r['lift']):>5} "
                     f"{_fmt(r['tab_ap']):>6} {r['bt_s']:>5.0f}")
        line += "  " + (", ".join(f"{k} {v}" for k, v in sorted(r["missed"].items())) or "-")
        print(line, flush=True)
    import numpy as np

    for name, fn in (("mean", np.nanmean), ("min", np.nanmin)):
        dec = [r["decoys"] for r in results]
        line = (f"{name:<22} {'':>3} {_fmt(float(fn([r['recall'] for r in results])), True):>6} "
                f"{_fmt(float(fn([r['precision'] for r in results])), True):>5} "
                f"{(f'{np.mean(dec):.1f}' if name == 'mean' else f'max {max(dec)}'):>6} {'':>7}")
        if backtest:
            line += "".join(f" {_fmt(float(fn([r[k] for r in results]))):>{wd}}" for k, wd in
                            (("ap", 6), ("rep_ap", 7), ("hist_ap", 7), ("lift", 5), ("tab_ap", 6)))
        print(line)
    floor = [name for (name, _), r in zip(entries, results) if r["recall"] < 0.9 or r["precision"] < 0.7]
    print(f"worlds under the ring floors (90 % / 70 %): {', '.join(floor) if floor else 'none'}")


if __name__ == "__main__":
    main()
