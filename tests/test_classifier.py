"""GraphFraudClassifier: scikit-learn conformance, the compiled one-row path, explanations, calibration."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.metrics import log_loss
from sklearn.utils.estimator_checks import parametrize_with_checks
from threadpoolctl import threadpool_limits

from graphfraud.classifier import CompiledModel, GraphFraudClassifier, _pack, fit_platt
from graphfraud.errors import ValidationError


@pytest.fixture(autouse=True)
def one_thread():
    # the test machine is shared: OpenMP oversubscription makes boosting many times slower
    with threadpool_limits(limits=1, user_api="openmp"):
        yield


def with_nans(X: np.ndarray, frac: float = 0.1, seed: int = 0) -> np.ndarray:
    X = X.copy()
    X[np.random.default_rng(seed).random(X.shape) < frac] = np.nan
    return X


@pytest.fixture(scope="module")
def fitted():
    X, y = make_classification(n_samples=3000, n_features=8, n_informative=5, weights=[0.95], random_state=1)
    X = with_nans(X)
    frame = pd.DataFrame(X, columns=[f"f_{i}" for i in range(X.shape[1])])
    with threadpool_limits(limits=1, user_api="openmp"):
        clf = GraphFraudClassifier(max_iter=60, random_state=0).fit(frame, y)
    return clf, frame, y


EXPECTED_FAILED_CHECKS = {
    "check_class_weight_classifiers": (
        "by design the calibrator, fitted on the unweighted latest slice, maps scores back to observed rates, "
        "so an extreme class_weight does not bend predict() the way the check expects"),
}


@parametrize_with_checks([GraphFraudClassifier(max_iter=15, n_threads=1)],
                         expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS)
def test_sklearn_conformance(estimator, check):
    check(estimator)


def test_fitted_attributes(fitted):
    clf, frame, _ = fitted
    assert list(clf.feature_names_in_) == list(frame.columns)
    assert clf.compiled_.features == list(frame.columns)
    assert clf.n_calibration_ == 600
    assert clf.calibrator_["method"] == "sigmoid"
    assert clf.calibration_note_ == ""


@pytest.mark.parametrize("nan_frac", [0.0, 0.3], ids=["dense", "with-nan"])
def test_predict_one_equals_sklearn(fitted, nan_frac):
    clf, frame, _ = fitted
    rng = np.random.default_rng(7)
    # random rows spread over and beyond the training range, so every branch and both NaN sides are hit
    rows = with_nans(rng.normal(scale=2.5, size=(300, frame.shape[1])), nan_frac, seed=3)
    expected_raw = clf.booster_.decision_function(rows)  # the booster was fitted on the bare array
    got_raw = np.array([clf.compiled_.raw_one(r) for r in rows])
    np.testing.assert_array_equal(got_raw, expected_raw)
    expected_p = clf.predict_proba(pd.DataFrame(rows, columns=frame.columns))[:, 1]
    got_p = np.array([clf.predict_one(r) for r in rows])
    np.testing.assert_allclose(got_p, expected_p, rtol=1e-12, atol=1e-15)


def test_predict_many_paths_agree(fitted):
    clf, frame, _ = fitted
    model = clf.compiled_
    X = frame.to_numpy()[:500]
    expected = clf.booster_.decision_function(X)
    np.testing.assert_array_equal(model.raw_many(X), expected)
    np.testing.assert_allclose(model._raw_many_numpy(X), expected, rtol=1e-12, atol=1e-12)
    # a frame is read by column name, not position
    shuffled = frame.iloc[:500, ::-1]
    np.testing.assert_array_equal(model.predict_many(shuffled), clf.predict_proba(frame.iloc[:500])[:, 1])


def test_contributions_add_up_to_the_raw_score(fitted):
    clf, frame, _ = fitted
    model = clf.compiled_
    for row in frame.to_numpy()[:50]:
        bias, contrib = model.contributions_one(row)
        assert bias + contrib.sum() == pytest.approx(model.raw_one(row), abs=1e-9)


def test_path_contributions_are_the_node_walks_bit_for_bit(fitted):
    """The compiled contributions walk adds, split by split, what a plain walk of the node arrays adds:
    the same floats in the same order, missing values (NaN) following each split's learnt side."""
    clf, frame, _ = fitted
    model = clf.compiled_
    feature, threshold, left, right = model.feature, model.threshold, model.left, model.right
    missing_left, exp = model.missing_left, model.expected
    rows = frame.to_numpy()[:300]
    assert np.isnan(rows).any()
    for row in rows:
        want = [0.0] * model.n_features
        for i in model.roots.tolist():
            while feature[i] >= 0:
                v = row[feature[i]]
                j = (left[i] if missing_left[i] else right[i]) if v != v else (
                    left[i] if v <= threshold[i] else right[i])
                want[feature[i]] += float(exp[j]) - float(exp[i])
                i = j
        _, got = model.contributions_one(row)
        assert got.tolist() == want
    # a pickled model makes its walk again
    import pickle
    again = pickle.loads(pickle.dumps(model))
    assert again.contributions_one(rows[0])[1].tolist() == model.contributions_one(rows[0])[1].tolist()


def test_explain_one_names_the_deciding_feature():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 4))
    y = (X[:, 2] > 1.0).astype(int)  # only feature "c" matters
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    clf = GraphFraudClassifier(max_iter=30, random_state=0).fit(frame, y)
    row = np.array([0.0, 0.0, 3.0, 0.0])
    top = clf.explain_one(row, top=2)
    assert top[0][0] == "c" and top[0][1] > 0
    assert len(top) <= 2
    assert all(c > 0 for _, c in clf.explain_one(np.array([0.0, 0.0, -3.0, 0.0]), top=3, positive_only=True))


def test_row_length_is_checked(fitted):
    clf, frame, _ = fitted
    with pytest.raises(ValidationError):
        clf.predict_one(np.zeros(frame.shape[1] + 1))


def test_vector_builds_rows_from_feature_dicts(fitted):
    clf, frame, _ = fitted
    model = clf.compiled_
    row = frame.iloc[5]
    feats = {k: float(v) for k, v in row.items() if k != "f_3"}  # f_3 unknown -> NaN
    x = model.vector(feats | {"unrelated": 1.0})
    assert np.isnan(x[3]) and x[0] == row["f_0"]
    assert model.predict_one(x) == pytest.approx(
        clf.predict_proba(pd.DataFrame([x], columns=frame.columns))[0, 1], abs=1e-15)


def imbalanced(seed: int):
    X, y = make_classification(n_samples=8000, n_features=12, n_informative=6, weights=[0.98], flip_y=0.01,
                               class_sep=0.8, random_state=seed)
    return X, y


@pytest.mark.parametrize("method", ["sigmoid", "isotonic"], ids=["platt", "isotonic"])
@pytest.mark.parametrize("seed", [0, 1], ids=["seed0", "seed1"])
def test_calibration_improves_log_loss_on_a_later_slice(method, seed):
    X, y = imbalanced(seed)
    train, later = slice(0, 6000), slice(6000, None)  # row order is time order
    params = dict(max_iter=60, random_state=0)
    raw = GraphFraudClassifier(calibration=None, **params).fit(X[train], y[train])
    cal = GraphFraudClassifier(calibration=method, **params).fit(X[train], y[train])
    assert raw.calibrator_ == {"method": "none"} and cal.calibrator_["method"] == method
    loss_raw = log_loss(y[later], raw.predict_proba(X[later])[:, 1])
    loss_cal = log_loss(y[later], cal.predict_proba(X[later])[:, 1])
    assert loss_cal < loss_raw


def test_calibration_slice_follows_sample_time():
    X, y = imbalanced(0)
    X, y = X[:2000], y[:2000]
    t = np.arange(2000)[::-1] * 1000  # rows arrive newest first
    clf = GraphFraudClassifier(max_iter=10, random_state=0).fit(X, y, sample_time=t)
    assert clf.calibration_window_ == (1_600_000, 1_999_000)
    assert clf.training_window_ == (0, 1_999_000)
    times = pd.date_range("2024-01-01", periods=2000, freq="min").to_numpy()
    clf = GraphFraudClassifier(max_iter=10, random_state=0).fit(X, y, sample_time=times)
    assert clf.calibration_window_ == ("2024-01-02T02:40:00", "2024-01-02T09:19:00")


def test_calibration_is_skipped_and_said_when_the_slice_has_one_class():
    X, y = imbalanced(0)
    X, y = X[:1000], np.r_[np.zeros(800, int), np.ones(100, int), np.zeros(100, int)]
    clf = GraphFraudClassifier(max_iter=5, random_state=0).fit(X, y)
    assert clf.calibrator_ == {"method": "none"}
    assert "lack" in clf.calibration_note_ and clf.n_calibration_ == 0


def test_fit_rejects_bad_arguments():
    X, y = imbalanced(0)
    with pytest.raises(ValueError, match="Only binary"):
        GraphFraudClassifier(max_iter=2).fit(X[:300], np.arange(300) % 3)
    with pytest.raises(ValueError, match="sample_time"):
        GraphFraudClassifier(max_iter=2).fit(X[:300], y[:300], sample_time=np.arange(5))
    with pytest.raises(ValueError, match="calibration"):
        GraphFraudClassifier(calibration="beta").fit(X[:300], y[:300])


def test_fit_platt_recovers_a_logistic_link():
    rng = np.random.default_rng(0)
    s = rng.normal(scale=3, size=50_000)
    y = (rng.random(s.size) < 1 / (1 + np.exp(-(0.5 * s - 2.0)))).astype(int)
    a, b = fit_platt(s, y)
    assert a == pytest.approx(0.5, abs=0.03) and b == pytest.approx(-2.0, abs=0.06)


def test_malformed_documents_are_refused(fitted):
    model = fitted[0].compiled_
    doc = model.to_dict()
    first_split = int(np.flatnonzero(model.feature >= 0)[0])
    left = model.left.copy()
    left[first_split] = first_split  # a cycle would hang the walk
    feature = model.feature.copy()
    feature[first_split] = 99
    bad_docs = [dict(doc, left=_pack(left, "<i8")), dict(doc, feature=_pack(feature, "<i8")),
                dict(doc, value={"dtype": "O", "data": doc["value"]["data"]}),  # only plain numbers
                dict(doc, value=[0.0] * len(model.value)),
                dict(doc, format="pickle"), dict(doc, format_version=99),
                {k: v for k, v in doc.items() if k != "value"}]
    for bad in bad_docs:
        with pytest.raises(ValidationError):
            CompiledModel.from_dict(bad)
    assert CompiledModel.from_dict(doc).raw_one(np.zeros(8)) == model.raw_one(np.zeros(8))


# ---------------------------------------------------------------- fitting on a share of the legitimate rows
@pytest.mark.parametrize("fraction", [0.3, 1.0], ids=["a-third", "all"])
def test_negative_fraction_keeps_every_fraud_row_and_calibrates_on_all(fraction: float) -> None:
    X, y = make_classification(n_samples=4000, n_features=6, n_informative=4, weights=[0.93], random_state=3)
    clf = GraphFraudClassifier(max_iter=30, random_state=0, negative_fraction=fraction).fit(X, y)
    n_fraud = int(y.sum())
    n_legit = len(y) - n_fraud
    kept_legit = clf.n_booster_rows_ - n_fraud
    if fraction == 1.0:
        assert kept_legit == n_legit
    else:
        assert abs(kept_legit - fraction * n_legit) < 0.05 * n_legit
    assert clf.n_calibration_ == 800  # the calibration slice is not thinned
    # calibrated on every row of its slice: the mean probability still tracks the observed fraud rate
    assert abs(clf.predict_proba(X)[:, 1].mean() - y.mean()) < 0.03


@pytest.mark.parametrize("fraction", [0.0, -0.1, 1.5], ids=["zero", "negative", "above-one"])
def test_negative_fraction_out_of_range_is_refused(fraction: float) -> None:
    X, y = make_classification(n_samples=200, random_state=0)
    with pytest.raises(ValueError, match="negative_fraction"):
        GraphFraudClassifier(max_iter=5, negative_fraction=fraction).fit(X, y)


# ---------------------------------------------------------------- fitting on rows drawn from more (draw_weight)
@pytest.mark.parametrize("method", ["sigmoid", "isotonic"], ids=["platt", "isotonic"])
def test_rows_drawn_at_a_rate_are_weighed_back_to_observed_rates(method: str) -> None:
    """Legitimate rows drawn at 1 in 8 and weighed back: probabilities still track the full data's fraud
    rate; the same sample without its weights overstates it about eightfold."""
    X, y = make_classification(n_samples=40_000, n_features=8, n_informative=5, weights=[0.97], flip_y=0.005,
                               class_sep=0.8, random_state=4)
    rate = 0.125
    rng = np.random.RandomState(1)
    drawn = (y == 1) | (rng.random_sample(len(y)) < rate)
    w = np.where(y[drawn] == 1, 1.0, 1 / rate)
    t = np.arange(len(y))[drawn]
    params = dict(max_iter=40, random_state=0, calibration=method, negative_fraction=0.5)
    weighed = GraphFraudClassifier(**params).fit(X[drawn], y[drawn], sample_time=t, draw_weight=w)
    unweighed = GraphFraudClassifier(**params).fit(X[drawn], y[drawn], sample_time=t)
    full = GraphFraudClassifier(**params).fit(X, y, sample_time=np.arange(len(y)))
    observed = y.mean()
    assert abs(weighed.predict_proba(X)[:, 1].mean() - observed) < 0.25 * observed
    assert unweighed.predict_proba(X)[:, 1].mean() > 3 * observed
    assert abs(weighed.predict_proba(X)[:, 1].mean() - full.predict_proba(X)[:, 1].mean()) < 0.25 * observed
    # the calibration slice is the latest fifth of the weight, not of the rows drawn
    assert weighed.calibration_window_[0] == pytest.approx(0.8 * len(y), abs=0.02 * len(y))
    # the boosters see half of all legitimate rows' worth: every drawn one here (rate 1/8 < 1/2)
    assert weighed.n_booster_rows_ == int(drawn.sum())


def test_float32_rows_are_fitted_without_a_float64_copy_and_score_as_float64() -> None:
    X, y = imbalanced(2)
    X32 = X.astype(np.float32)
    clf = GraphFraudClassifier(max_iter=20, random_state=0).fit(X32, y)
    ref = GraphFraudClassifier(max_iter=20, random_state=0).fit(X32.astype(np.float64), y)
    np.testing.assert_array_equal(clf.predict_proba(X32), ref.predict_proba(X32))
    # bin edges are midpoints of float32 values: the unrounded float64 rows (as served live) fall on the same
    # sides of every split as their float32 copies
    assert not np.array_equal(X, X32)
    np.testing.assert_array_equal(clf.predict_proba(X), clf.predict_proba(X32))
    np.testing.assert_array_equal(clf.compiled_.predict_many(X), clf.predict_proba(X32)[:, 1])


def test_draw_weight_is_checked() -> None:
    X, y = imbalanced(0)
    with pytest.raises(ValueError, match="draw_weight"):
        GraphFraudClassifier(max_iter=2).fit(X[:300], y[:300], draw_weight=np.full(300, 0.5))
    with pytest.raises(ValueError, match="draw_weight"):
        GraphFraudClassifier(max_iter=2).fit(X[:300], y[:300], draw_weight=np.ones(5))


@settings(max_examples=400, deadline=None)
@given(x=st.floats(allow_nan=False, allow_infinity=False, width=64, min_value=-1e30, max_value=1e30),
       t=st.floats(allow_nan=False, allow_infinity=False, width=64, min_value=-1e30, max_value=1e30),
       near=st.sampled_from([None, -1, 0, 1]))
def test_float32_cuts_send_a_float64_value_where_its_float32_copy_goes(x: float, t: float, near: int | None) -> None:
    if near is not None:  # the hard cases: x on a midpoint between float32 values next to t (a tie), or beside it
        a = np.float32(t)
        mid = (float(a) + float(np.nextafter(a, np.float32(np.inf)))) / 2
        x = mid if near == 0 else float(np.nextafter(mid, near * np.inf))
    from graphfraud.classifier import float32_cuts

    cut = float(float32_cuts(np.array([t]))[0])
    assert (x <= cut) == (float(np.float32(x)) <= t)


def _chain(depth):
    """A one-tree model whose splits form a chain ``depth`` levels deep (each right child splits again)."""
    from graphfraud.classifier import CompiledModel

    n = 2 * depth + 1
    split = [k % 2 == 0 and k < n - 1 for k in range(n)]
    return CompiledModel(features=["a"], baseline=0.5, roots=[0], feature=[0 if s else -1 for s in split],
                         threshold=[float(k) if s else 0.0 for k, s in enumerate(split)],
                         left=[k + 1 if s else 0 for k, s in enumerate(split)],
                         right=[k + 2 if s else 0 for k, s in enumerate(split)],
                         missing_left=[k % 4 == 0 for k in range(n)], value=[float(k) for k in range(n)],
                         expected=[0.0] * n, calibration={"method": "none"}, classes=[0, 1])


def test_the_one_row_walk_takes_the_deepest_tree_allowed_and_refuses_deeper():
    from graphfraud.classifier import MAX_TREE_DEPTH
    from graphfraud.errors import ValidationError

    model = _chain(MAX_TREE_DEPTH)
    rows = np.array([[-1.0], [3.0], [41.5], [1e9], [np.nan], [np.inf], [-np.inf]])
    # the walk made from the numbers gives the numpy batch walk's raw scores, NaN going each split's way
    np.testing.assert_array_equal([model.raw_one(r) for r in rows], model._raw_many_numpy(rows))
    with pytest.raises(ValidationError) as e:
        _chain(MAX_TREE_DEPTH + 1)
    assert any("deeper than" in p for p in e.value.errors)
