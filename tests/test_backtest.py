"""Backtests: the replay feeds the one feature function, and the fits running beside it change nothing."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from graphfraud.backtest import _fit_one, run_backtest, start_fits
from graphfraud.schema import validate_frame
from graphfraud.storage import open_store
from graphfraud.testing import make_transactions
from graphfraud.training import RowFile, feature_matrix


def row_file(rows: np.ndarray) -> RowFile:
    """``rows`` written to a :class:`RowFile`, as the backtest's replay writes its test rows."""
    out = RowFile(rows.shape[1])
    with out.writer(total=len(rows)) as put:
        for k, row in enumerate(rows):
            put(k, row)
    return out


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Any:
    df, _ = make_transactions(n_users=400, seed=5)
    good, rejects = validate_frame(df.astype(str).replace({"": None, "nan": None, "None": None}))
    assert not rejects
    s = open_store(str(tmp_path_factory.mktemp("backtest") / "gf.db"))
    s.write_transactions(good)
    yield s
    s.close()


def test_backtest_scores_every_test_row(store: Any, tmp_path: Any) -> None:
    out = tmp_path / "scores.csv"
    report = run_backtest(store, train_frac=0.6, scores_out=str(out))
    n = store.info()["transactions"]
    assert report["test_rows"] == n - int(n * 0.6)
    assert len(out.read_text().splitlines()) == report["test_rows"] + 1
    assert report["average_precision"] is not None and report["tabular_only"]["average_precision"] is not None
    assert report["user_history_only"]["average_precision"] is not None
    assert report["graph_lift"] == round(report["average_precision"] / report["tabular_only"]["average_precision"], 3)
    assert report["train_rows"] > 0


def test_forked_fits_equal_fits_in_process() -> None:
    """The forked fits learn from the shared training rows and score the test rows from their file, exactly as
    fitting and scoring in this process does."""
    rng = np.random.default_rng(0)
    data = rng.normal(size=(1200, 5)).astype(np.float32)  # the backtest's matrices are float32
    data[rng.random(data.shape) < 0.1] = np.nan
    y = (np.nan_to_num(data[:, 0]) + rng.normal(scale=0.5, size=1200) > 1.6).astype(int)
    idx, test_idx = np.arange(100, 900), np.arange(900, 1200)
    X = feature_matrix(900, data.shape[1], shared=True)
    X[:] = data[:900]
    names = ["a", "b", "c", "d", "e"]
    tests = row_file(data[test_idx])
    fits = start_fits(X, idx, y[idx], np.arange(len(idx)), names, [["a", "b"]], tests)
    assert len(fits.jobs) == 2  # one forked process per model where fork exists (Linux)
    (clf, p), (tab, p_tab) = fits.result()
    tests.close()
    ref, ref_tab = _fit_one(data, idx, y[idx], np.arange(len(idx)), names, names), \
        _fit_one(data, idx, y[idx], np.arange(len(idx)), names, ["a", "b"])
    import pandas as pd

    frame = pd.DataFrame(data, columns=names)
    np.testing.assert_array_equal(clf.predict_proba(frame), ref.predict_proba(frame))
    np.testing.assert_array_equal(tab.predict_proba(frame[["a", "b"]]), ref_tab.predict_proba(frame[["a", "b"]]))
    np.testing.assert_allclose(p, ref.predict_proba(frame.iloc[900:])[:, 1], rtol=1e-12)
    np.testing.assert_array_equal(p_tab, ref_tab.predict_proba(frame[["a", "b"]].iloc[900:])[:, 1])


def test_fits_in_process_without_shared_rows() -> None:
    """A matrix that is not shared memory (a forked child would not see later rows): fitted here."""
    X = np.zeros((60, 2))
    X[:, 0] = np.arange(60) % 2
    y = (np.arange(60) % 2).astype(int)
    tests = row_file(X[40:])
    fits = start_fits(X, np.arange(40), y[:40], np.arange(40), ["a", "b"], [["a"]], tests)
    assert fits.jobs == [] and fits.how == "in process"
    (_, p), (_, p_tab) = fits.result()
    tests.close()
    assert p.shape == p_tab.shape == (20,) and np.isfinite(p).all() and np.isfinite(p_tab).all()


def test_a_failed_fit_in_the_child_is_raised_here() -> None:
    y = np.zeros(50, dtype=int)  # one class: the classifier refuses it
    tests = row_file(np.zeros((0, 2)))
    fits = start_fits(feature_matrix(50, 2, shared=True), np.arange(50), y, np.arange(50), ["a", "b"], [["a"]], tests)
    with pytest.raises(ValueError, match="2 classes"):
        fits.result()
    tests.close()


def test_row_file_keeps_rows_in_order_with_gaps_as_nan_and_refuses_a_row_out_of_order(monkeypatch: Any) -> None:
    import os

    monkeypatch.setattr(RowFile, "BLOCK", 4)  # rows cross several buffered blocks
    rng = np.random.default_rng(2)
    rows = rng.normal(size=(23, 3)).astype(np.float32)
    kept = [0, 1, 2, 7, 8, 9, 10, 11, 12, 18]  # gaps inside a block, a whole block skipped, rows left at the end
    f = RowFile(3)
    with f.writer(total=23) as put:
        for k in kept:
            put(k, rows[k].tolist())
    want = np.full_like(rows, np.nan)
    want[kept] = rows[kept]
    assert len(f) == 23
    np.testing.assert_array_equal(np.stack(list(f.each())), want)
    np.testing.assert_array_equal(np.concatenate([b for _, b in f.blocks(5)]), want)
    assert [lo for lo, _ in f.blocks(5)] == [0, 5, 10, 15, 20]
    np.testing.assert_array_equal(f.read(7, 9), rows[7:9])
    with pytest.raises(ValueError, match="row 3 comes after row 4"):
        with f.writer(total=6) as put:
            put(4, rows[4])
            put(3, rows[3])
    f.close()
    assert not os.path.exists(f.path)
    f.close()  # twice is harmless


def test_the_backtest_leaves_no_row_file_behind(store: Any, tmp_path: Any, monkeypatch: Any) -> None:
    """The test rows' file goes when the backtest ends, and when it fails after the replay."""
    import tempfile

    import graphfraud.backtest as bt

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    run_backtest(store, train_frac=0.6)
    assert list(tmp_path.iterdir()) == []

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("fit failed")

    monkeypatch.setattr(bt, "start_fits", broken)
    with pytest.raises(RuntimeError, match="fit failed"):
        run_backtest(store, train_frac=0.6)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- past train_max_rows: legitimate rows drawn
def test_draw_rows_keeps_every_row_up_to_the_cap_then_every_fraud_row_and_a_share_of_the_rest() -> None:
    from graphfraud.training import draw_rows

    label = (np.arange(10_000) % 50 == 0).astype(np.int8)  # 200 fraud rows
    positions = np.arange(10_000) * 3
    whole = draw_rows(positions, label, 10_000)
    assert whole.weight is None and whole.rate == 1.0 and np.array_equal(whole.index, positions)
    drawn = draw_rows(positions, label, 2_000)
    kept_label = label[drawn.index // 3]
    assert kept_label.sum() == 200  # every fraud row
    assert abs(len(drawn.index) - 2_000) < 150 and np.all(np.diff(drawn.index) > 0)  # in time order
    assert drawn.rate == pytest.approx(1_800 / 9_800)
    assert np.all(drawn.weight[kept_label == 1] == 1.0) and np.allclose(drawn.weight[kept_label == 0], 9_800 / 1_800)
    assert drawn.weight.sum() == pytest.approx(10_000, rel=0.05)  # the weights stand for every candidate row


def test_backtest_past_train_max_rows_draws_legitimate_rows_and_scores_every_test_row(store: Any) -> None:
    full = run_backtest(store, train_frac=0.6)
    drawn = run_backtest(store, train_frac=0.6, overrides={"train_max_rows": 600})
    assert "train_rows_drawn" not in full
    assert drawn["train_rows"] == full["train_rows"] > drawn["train_rows_drawn"]
    assert abs(drawn["train_rows_drawn"] - 600) < 80 and 0 < drawn["train_legitimate_rate"] < 1
    assert drawn["test_rows"] == full["test_rows"]
    assert drawn["average_precision"] is not None and drawn["user_history_only"]["average_precision"] is not None


def test_training_past_train_max_rows_reports_the_draw_and_weighs_the_holdout(store: Any) -> None:
    from graphfraud.training import train_model

    out = train_model(store, promote=False, overrides={"train_max_rows": 600})
    m = out["metrics"]
    n_labelled = int(sum(1 for tx, _ in store.iter_transactions() if tx.is_fraud is not None))
    assert abs(m["rows_drawn"] - 600) < 80 and 0 < m["legitimate_rate"] < 1
    assert m["n_rows"] == pytest.approx(n_labelled, rel=0.1)  # the drawn rows' weights stand for all of them
    assert m["holdout_average_precision"] is not None and out["version"] is not None


def test_training_in_a_forked_process_learns_what_training_here_does(store: Any) -> None:
    """The replay apart (the engine's memory goes back when its process ends) hands back the same rows, fields
    and account model, and this process's store connection works after it (it saves the models)."""
    from graphfraud.training import train_model

    here = train_model(store, promote=False, apart=False, overrides={"train_max_rows": 900})
    apart = train_model(store, promote=False, apart=True, overrides={"train_max_rows": 900})
    assert apart["version"] != here["version"]
    for key in ("metrics", "features", "absent_features", "fields", "training_window", "label_delay_ms"):
        assert apart[key] == here[key], key
    assert here["metrics"]["holdout_average_precision"] is not None
    if here["accounts"] is not None:
        assert {k: v for k, v in apart["accounts"].items() if k != "version"} == \
            {k: v for k, v in here["accounts"].items() if k != "version"}


def test_work_apart_returns_its_result_and_raises_its_errors_whole() -> None:
    import os

    from graphfraud.errors import StorageError
    from graphfraud.memory import run_apart

    parent = os.getpid()
    said: list[str] = []
    assert run_apart(lambda log: (log("in the child"), os.getpid() != parent)[1], "adding", said.append) is True
    assert said == ["in the child"]

    def fail(log: Any) -> None:
        raise StorageError("no store", ["row 3"], code="store_unavailable")

    with pytest.raises(StorageError) as e:
        run_apart(fail, "failing")
    assert (e.value.code, e.value.errors, str(e.value)) == ("store_unavailable", ["row 3"], "no store")


def test_work_apart_that_dies_is_named_with_how_it_ended() -> None:
    import os
    import signal

    from graphfraud.errors import GraphFraudError
    from graphfraud.memory import run_apart

    with pytest.raises(GraphFraudError, match="replaying history ended without a result: killed by SIGKILL"):
        run_apart(lambda log: os.kill(os.getpid(), signal.SIGKILL), "replaying history")
    assert run_apart(lambda log: 7, "after a death") == 7


# ---------------------------------------------------------------- history read back in time order, not held
def _history_store(tmp_path: Any, order: str) -> Any:
    df, _ = make_transactions(n_users=60, seed=9)
    df = df.sort_values("timestamp") if order == "time" else df.iloc[::-1]  # reversed: newest stored first
    good, rejects = validate_frame(df.astype(str).replace({"": None, "nan": None, "None": None}))
    assert not rejects
    s = open_store(str(tmp_path / f"{order}.db"))
    s.write_transactions(good)
    return s


@pytest.mark.parametrize("order", ["time", "reversed"])
def test_history_walks_the_store_in_time_order_holding_what_is_out_of_order(tmp_path: Any, order: str) -> None:
    from graphfraud.training import load_history

    store = _history_store(tmp_path, order)
    hist = load_history(store, 86_400_000)
    every = sorted(((tx.ts, seq, tx.transaction_id) for tx, seq in store.iter_transactions()))
    first = list(hist.walk(0, 100))
    rest = list(hist.walk(100))  # continues the same read
    walked = [(tx.ts, tx.transaction_id) for _, tx in first + rest]
    assert [i for i, _ in first + rest] == list(range(len(every)))
    assert walked == [(t, tid) for t, _, tid in every]
    assert hist.ts.tolist() == [t for t, _, _ in every]
    if order == "time":
        assert hist.most_waiting <= 1
    else:
        assert hist.most_waiting == len(every) - 1  # everything waits for the oldest, stored last
    assert [tx.transaction_id for _, tx in hist.walk(5, 8)] == [tid for _, _, tid in every[5:8]]  # a new read
    store.close()


def test_history_refuses_a_store_changed_under_it(tmp_path: Any) -> None:
    from graphfraud.errors import ValidationError
    from graphfraud.training import load_history

    store = _history_store(tmp_path, "time")
    hist = load_history(store, 86_400_000)
    last_id = max(((tx.ts, seq, tx.transaction_id) for tx, seq in store.iter_transactions()))[2]
    store._con().execute("DELETE FROM tx WHERE transaction_id = ?", (last_id,))  # erased between the two reads
    with pytest.raises(ValidationError, match="store changed"):
        list(hist.walk())
    store.close()


@pytest.mark.parametrize("walked", ["all", "a window, then closed"])
def test_a_walk_leaves_no_read_open_that_would_stop_this_process_writing(tmp_path: Any, walked: str) -> None:
    """A store read left open pins an old snapshot: once another process has written, this one could not
    commit (SQLite: database is locked). Training writes its model after walking all history."""
    from graphfraud.training import load_history

    store = _history_store(tmp_path, "time")
    hist = load_history(store, 86_400_000)
    df, _ = make_transactions(n_users=50, seed=99)
    df["transaction_id"] = "new-" + df["transaction_id"].astype(str)
    good, _ = validate_frame(df.astype(str).replace({"": None, "nan": None, "None": None}))
    other = open_store(str(tmp_path / "time.db"))
    other.write_transactions(good[:2])  # stored after history was read: the walk's read goes past its end
    if walked == "all":
        list(hist.walk())
    else:
        list(hist.walk(0, 50))
        hist.close()
    other.write_transactions(good[2:4])  # another process writes
    other.close()
    store.write_transactions(good[4:6])  # then this one: no stale snapshot in the way
    store.close()


def test_backtest_replayed_apart_decides_what_a_replay_here_does(store: Any, tmp_path: Any) -> None:
    """The replay in a forked process (its engine's memory goes back when it ends) hands back the same rows,
    ring ids and rule hits: the same report and the same decisions, row for row."""
    a, b = tmp_path / "apart.csv", tmp_path / "here.csv"
    apart = run_backtest(store, train_frac=0.6, scores_out=str(a))
    here = run_backtest(store, train_frac=0.6, scores_out=str(b), apart=False)
    for report in (apart, here):
        del report["seconds"]  # wall-clock phases: they differ run to run
    assert apart == here
    assert a.read_text() == b.read_text() and len(a.read_text().splitlines()) == apart["test_rows"] + 1
    assert any(line.rsplit(",", 1)[1].strip() for line in a.read_text().splitlines()[1:])  # some rows name a ring


def test_test_rows_are_scored_a_block_at_a_time_with_the_same_scores(monkeypatch: Any) -> None:
    """Scoring the test rows in blocks (each block's float64 copy only) gives what one pass over all gives,
    for the model (compiled) and for a baseline (scikit-learn)."""
    import graphfraud.backtest as bt

    rng = np.random.default_rng(1)
    X = rng.normal(size=(700, 3)).astype(np.float32)
    X[rng.random(X.shape) < 0.1] = np.nan
    y = (np.nan_to_num(X[:, 0]) > 0.8).astype(int)
    names, idx, test_idx = ["a", "b", "c"], np.arange(400), np.arange(400, 700)
    model, base = _fit_one(X, idx, y[idx], idx, names, names), _fit_one(X, idx, y[idx], idx, names, ["b", "a"])
    tests = row_file(X[test_idx])
    whole = [bt._predict(clf, tests, names, cols) for clf, cols in ((model, names), (base, ["b", "a"]))]
    monkeypatch.setattr(bt, "PREDICT_ROWS", 7)
    blocks = [bt._predict(clf, tests, names, cols) for clf, cols in ((model, names), (base, ["b", "a"]))]
    tests.close()
    for w, b in zip(whole, blocks):
        assert w.shape == (300,) and len(np.unique(w)) > 1
        np.testing.assert_array_equal(w, b)


def test_the_report_counts_what_was_decided_and_says_when_the_model_learnt_nothing(store: Any) -> None:
    from graphfraud.backtest import format_report

    report = run_backtest(store, train_frac=0.6)
    # "review or block" and "block" are the decisions made (thresholds and rules), the model alone apart
    assert report["at_review"]["flagged"] == report["decisions"]["review"] + report["decisions"]["block"]
    assert report["at_block"]["flagged"] == report["decisions"]["block"]
    assert "model_only" in report and "warning" not in report
    assert "decided block" in format_report(report) and "the model alone" in format_report(report)
    # a training window that ends just past the first fraud: a handful of rows, nothing to learn
    rows = sorted((t.ts, t.transaction_id, t.is_fraud) for t, _ in store.iter_transactions())
    first = next(k for k, r in enumerate(rows) if r[2] == 1)
    tiny = run_backtest(store, train_frac=(first + 2) / len(rows), label_delay_ms=0)
    assert "learnt nothing" in tiny["warning"] and "WARNING" in format_report(tiny)
