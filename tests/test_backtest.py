"""Backtests: the replay feeds the one feature function, and the fits running beside it change nothing."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from graphfraud.backtest import _fit_one, run_backtest, start_fits
from graphfraud.schema import validate_frame
from graphfraud.storage import open_store
from graphfraud.testing import make_transactions


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
    assert report["train_rows"] > 0


def test_fits_beside_the_replay_equal_fits_in_process() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1200, 5))
    X[rng.random(X.shape) < 0.1] = np.nan
    y = (np.nan_to_num(X[:, 0]) + rng.normal(scale=0.5, size=1200) > 1.6).astype(int)
    idx = np.arange(100, 1200)
    args = (X, idx, y[idx], np.arange(len(idx)), ["a", "b", "c", "d", "e"], ["a", "b"])
    fits = start_fits(*args)
    assert len(fits.jobs) == 2  # one forked process per model where fork exists (Linux)
    clf, tab = fits.result()
    ref, ref_tab = _fit_one(*args[:5], args[4]), _fit_one(*args[:5], args[5])
    import pandas as pd

    frame = pd.DataFrame(X, columns=["a", "b", "c", "d", "e"])
    np.testing.assert_array_equal(clf.predict_proba(frame), ref.predict_proba(frame))
    np.testing.assert_array_equal(tab.predict_proba(frame[["a", "b"]]), ref_tab.predict_proba(frame[["a", "b"]]))


def test_a_failed_fit_in_the_child_is_raised_here() -> None:
    X = np.zeros((50, 2))
    y = np.zeros(50, dtype=int)  # one class: the classifier refuses it
    fits = start_fits(X, np.arange(50), y, np.arange(50), ["a", "b"], ["a"])
    with pytest.raises(ValueError, match="2 classes"):
        fits.result()
