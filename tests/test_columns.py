"""Any set of columns: every command works on files that hold the required fields and any subset of the
others, and on the public AWS samples, through the CLI as users run it."""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphfraud.cli import main
from graphfraud.testing import make_transactions

OPTIONAL = ("card_id", "device_id", "ip", "merchant_id", "currency", "country")
AWS = Path(__file__).resolve().parents[2] / "shared" / "data" / "aws-fraud-detector-samples"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    df, _ = make_transactions(n_users=250, seed=21, days=24)
    path = tmp_path_factory.mktemp("columns") / "full.csv"
    df.to_csv(path, index=False)
    return path


def run(args: list[str], store: Path) -> Any:
    result = CliRunner().invoke(main, args, env={"GRAPHFRAUD_STORE": str(store)}, catch_exceptions=False)
    assert result.exit_code == 0, f"graphfraud {' '.join(args)} failed: {result.output}"
    return result


def whole_path(src: Path, drop: tuple[str, ...], work: Path) -> dict[str, Any]:
    """load -> train -> backtest -> score -> rings on ``src`` without the ``drop`` columns."""
    work.mkdir(parents=True, exist_ok=True)
    with open(src, newline="") as fh:
        rows = list(csv.DictReader(fh))
    keep = [c for c in rows[0] if c not in drop]
    cut = len(rows) - 40
    for name, part in (("history.csv", rows[:cut]), ("new.csv", rows[cut:])):
        with open(work / name, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=keep, extrasaction="ignore")
            w.writeheader()
            w.writerows(part)
    store = work / "gf.db"
    run(["load", str(work / "history.csv"), "--rejects", str(work / "rejects.csv")], store)
    trained = run(["train"], store)
    run(["backtest", str(work / "history.csv"), "--train-frac", "0.6", "--scores-out", str(work / "bt.csv"),
         "--report", str(work / "report.json"), "--store", str(work / "bt.db")], store)
    run(["score", str(work / "new.csv"), "--out", str(work / "scores.csv")], store)
    rings = run(["rings", "--top", "5", "--format", "json"], store)
    with open(work / "scores.csv", newline="") as fh:
        scored = list(csv.DictReader(fh))
    return {"trained": trained.output, "report": json.loads((work / "report.json").read_text()),
            "scores": scored, "rings": json.loads(rings.stdout)}


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drop=st.sets(st.sampled_from(OPTIONAL)))
def test_any_subset_of_columns_runs_the_whole_path(world: Path, tmp_path: Path, drop: set[str]) -> None:
    out = whole_path(world, tuple(sorted(drop)), tmp_path / "-".join(sorted(drop) or ["all"]))
    assert len(out["scores"]) == 40 and all(r["score"] and not r["error"] for r in out["scores"])
    assert out["report"]["test_rows"] > 0 and out["report"]["average_precision"] is not None
    assert isinstance(out["rings"], list)


def test_a_card_only_file_trains_and_records_what_it_lacked(world: Path, tmp_path: Path) -> None:
    """user, card, merchant and amount only: the model records the features it could not learn from, and a
    score whose request lacks a field the model used says so."""
    out = whole_path(world, ("device_id", "ip", "currency", "country"), tmp_path / "card-only")
    store = tmp_path / "card-only" / "gf.db"
    models = json.loads(run(["model", "list", "--json"], store).output)
    meta = next(m for m in models if m["status"] == "promoted")  # the transaction model (beside the account one)
    assert "device_users" not in meta["features"] and meta["absent_features"]["device_users"] == "empty"
    assert meta["absent_features"]["country_differs_user"] == "empty"
    assert set(meta["fields"]) == {"card_id", "merchant_id"}
    from graphfraud.schema import validate_record
    from graphfraud.scoring import Scorer
    from graphfraud.storage import open_store

    s = open_store(str(store))
    try:
        r = Scorer(s).score(validate_record({"transaction_id": "X1", "timestamp": "2026-02-20", "user_id": "u",
                                             "amount": 10, "card_id": "C1"}))
    finally:
        s.close()
    assert r["missing_fields"] == ["merchant_id"]


def test_a_model_learns_only_from_features_that_vary() -> None:
    import numpy as np

    from graphfraud.classifier import GraphFraudClassifier

    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=400), np.full(400, np.nan), np.ones(400), rng.normal(size=400)])
    X[:250, 3] = np.nan  # values only in the latest rows: empty in the calibration fit's rows
    y = (X[:, 0] > 1).astype(int)
    clf = GraphFraudClassifier(max_iter=10, random_state=0).fit(X, y)
    assert clf.used_features_ == ["x0", "x3"] and clf.dropped_features_ == {"x1": "empty", "x2": "constant"}
    assert clf.compiled_.features == ["x0", "x3"]
    assert np.allclose(clf.predict_proba(X)[:, 1], clf.compiled_.predict_many(X[:, [0, 3]]))


@pytest.mark.skipif(not AWS.is_dir(), reason="the shared AWS samples are not beside the project")
@pytest.mark.parametrize(("name", "mapping"), [("transaction_data_2K_coldstart", "aws_transactions"),
                                               ("registration_data_2K_coldstart", "aws_registrations")],
                         ids=["transactions", "registrations"])
def test_aws_samples_train_and_backtest(tmp_path: Path, name: str, mapping: str) -> None:
    src = AWS / f"{name}.csv"
    store = tmp_path / "gf.db"
    run(["load", str(src), "--mapping", mapping, "--rejects", str(tmp_path / "rejects.csv")], store)
    out = run(["train"], store)
    assert "promoted" in out.output
    run(["backtest", str(src), "--mapping", mapping, "--train-frac", "0.6", "--report", str(tmp_path / "r.json"),
         "--store", str(tmp_path / "bt.db")], store)
    report = json.loads((tmp_path / "r.json").read_text())
    # the samples leave part of the rows unlabelled: scored, but judged only where a label exists
    assert report["test_rows_unlabelled"] > 0 and report["n"] == report["test_rows"] - report["test_rows_unlabelled"]
    assert 0 < report["n_fraud"] < report["n"] and report["average_precision"] is not None
    assert os.path.getsize(tmp_path / "gf.db") > 0
