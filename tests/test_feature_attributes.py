"""Attributes the model learns from as they are (the ``feature_attributes`` setting): for files whose signal is
in columns that name no one (balances, anonymised components), as the public card-fraud sets have."""
from __future__ import annotations

import csv
import math

import numpy as np
from click.testing import CliRunner

from graphfraud.cli import main
from graphfraud.graph.build import new_engine
from graphfraud.graph.features import compute_features, row_names, tabular_names, user_history_names
from graphfraud.schema import validate_record
from graphfraud.scoring import explain_feature


def _tx(i, **attrs):
    return validate_record({"transaction_id": f"t{i}", "timestamp": "2026-01-01", "user_id": f"u{i}", "amount": 5,
                            **attrs}, keep_attributes=True)


def test_an_attributes_number_is_its_feature_and_anything_else_is_missing():
    e = new_engine({"feature_attributes": "v1, balance"})
    assert e.feature_attributes == ("v1", "balance")
    assert row_names(e)[-2:] == ["attr_v1", "attr_balance"]
    assert tabular_names(e.entity_types, e.feature_attributes)[-2:] == ["attr_v1", "attr_balance"]
    assert user_history_names(e.entity_types, e.feature_attributes)[-2:] == ["attr_v1", "attr_balance"]
    for i, (given, want) in enumerate([({"v1": "-1.5", "balance": "1e3"}, (-1.5, 1000.0)),
                                       ({"v1": "n/a"}, (math.nan, math.nan)), ({"balance": "inf"}, (math.nan,) * 2),
                                       ({}, (math.nan, math.nan))]):
        tx = _tx(i, **given)
        e.advance(tx.ts)
        f = compute_features(e, tx)
        got = (f["attr_v1"], f["attr_balance"])
        assert all(a == b or (math.isnan(a) and math.isnan(b)) for a, b in zip(got, want)), (given, got)
        e.apply(tx)
    # without the setting no attribute is a feature
    assert not [n for n in row_names(new_engine()) if n.startswith("attr_")]
    assert explain_feature("attr_balance", 1000.0, _tx(9)) == "attribute balance is 1000"


def _world(path, n=3000, seed=7):
    """One-off users and cards, no shared identifier: fraud is told by the attribute ``risk`` alone."""
    rng = np.random.default_rng(seed)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["transaction_id", "timestamp", "user_id", "amount", "risk", "note", "is_fraud"])
        for i in range(n):
            fraud = rng.random() < 0.03
            w.writerow([f"t{i}", f"2026-01-{1 + i * 27 // n:02d}T{i % 24:02d}:00:00Z", f"u{i}",
                        f"{rng.uniform(5, 500):.2f}", f"{rng.normal(3.0 if fraud else 0.0, 1.0):.3f}", "x",
                        int(fraud)])
    return str(path)


def _ap(output):
    return float(output.split("average precision ")[1].split()[0])


def test_a_backtest_learns_from_the_listed_attributes(tmp_path, monkeypatch):
    data = _world(tmp_path / "w.csv")
    run = ["--quiet", "backtest", data, "--train-frac", "0.6", "--label-delay", "0s"]
    without = CliRunner().invoke(main, run)
    assert without.exit_code == 0, without.output
    monkeypatch.setenv("GRAPHFRAUD_FEATURE_ATTRIBUTES", "risk,note")
    with_risk = CliRunner().invoke(main, run)
    assert with_risk.exit_code == 0, with_risk.output
    # 3 % fraud, the attribute 3 standard deviations apart: what the rows allow is about AP 0.55
    assert _ap(without.stdout) < 0.15 < 0.4 < _ap(with_risk.stdout)
    # the tabular baseline sees the attributes too: it is the model a textbook would fit on the file
    assert float(with_risk.stdout.split("tabular only: AP ")[1].split(",")[0]) > 0.4


def test_scores_read_the_attribute_from_the_request_and_name_it(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHFRAUD_FEATURE_ATTRIBUTES", "risk")
    store = tmp_path / "s.db"
    runner = CliRunner()
    assert runner.invoke(main, ["--quiet", "load", _world(tmp_path / "w.csv"), "--store", str(store)]).exit_code == 0
    trained = runner.invoke(main, ["--quiet", "train", "--store", str(store)])
    assert trained.exit_code == 0 and "attr_risk" in runner.invoke(
        main, ["model", "list", "--json", "--store", str(store)]).stdout
    with open(tmp_path / "new.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([["transaction_id", "timestamp", "user_id", "amount", "risk"],
                                  ["n1", "2026-02-01T10:00:00Z", "new1", "40.00", "6.5"],
                                  ["n2", "2026-02-01T10:05:00Z", "new2", "40.00", "-0.2"]])
    res = runner.invoke(main, ["--quiet", "score", str(tmp_path / "new.csv"), "--store", str(store), "--out",
                               str(tmp_path / "o.csv")])
    assert res.exit_code == 0, res.output
    with open(tmp_path / "o.csv", newline="") as fh:
        rows = {r["transaction_id"]: r for r in csv.DictReader(fh)}
    assert float(rows["n1"]["score"]) > 10 * float(rows["n2"]["score"])
    assert "attribute risk is 6.50" in rows["n1"]["reasons"]


def test_a_server_set_up_without_the_models_attributes_says_so(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("GRAPHFRAUD_FEATURE_ATTRIBUTES", "risk")
    store = tmp_path / "s.db"
    runner = CliRunner()
    runner.invoke(main, ["--quiet", "load", _world(tmp_path / "w.csv"), "--store", str(store)])
    assert runner.invoke(main, ["--quiet", "train", "--store", str(store)]).exit_code == 0
    monkeypatch.delenv("GRAPHFRAUD_FEATURE_ATTRIBUTES")
    from graphfraud.scoring import Scorer
    from graphfraud.storage import open_store

    st = open_store(str(store))
    try:
        with caplog.at_level("WARNING", logger="graphfraud.scoring"):
            Scorer(st)
    finally:
        st.close()
    assert "learnt from 1 features this process does not compute (attr_risk); they are scored as missing" \
        in caplog.text


def test_the_attributes_read_are_no_part_of_the_engine_snapshot(tmp_path):
    from graphfraud.graph.build import load_or_build_engine
    from graphfraud.graph.persist import fingerprint
    from graphfraud.storage import open_store

    assert fingerprint(new_engine({"feature_attributes": "risk"})) == fingerprint(new_engine())
    st = open_store(str(tmp_path / "s.db"))
    try:
        from loaders import load_file

        load_file(_world(tmp_path / "w.csv", n=200), st, progress=False)
        assert load_or_build_engine(st).feature_attributes == ()  # built, and its snapshot saved
        again = load_or_build_engine(st, {"feature_attributes": "risk"})  # read back from that snapshot
        assert again.feature_attributes == ("risk",) and row_names(again)[-1] == "attr_risk"
    finally:
        st.close()
