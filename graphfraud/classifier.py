"""The fraud classifier: gradient-boosted trees, a time-sliced calibrator, and a fast one-row path.

:class:`GraphFraudClassifier` is a scikit-learn estimator over any table of float features (the feature
engine's point-in-time features, NaN for unknown). Inside it is a ``HistGradientBoostingClassifier`` with
class weights (fraud is rare) and a one-dimensional calibrator fitted on the *latest* slice of the
training rows in time order, on the booster's raw scores, so probabilities mean what they say on data
that comes after what the booster learnt from.

Scoring one transaction must fit in a few milliseconds, and scikit-learn's per-call validation and thread
pool cost about a millisecond on one row. So a fitted classifier is also compiled into a
:class:`CompiledModel`: the trees as flat arrays, walked by Python code made from them (one comparison per
split: :meth:`CompiledModel.predict_one`),
Saabas path contributions for the reasons (:meth:`CompiledModel.explain_one`), and a vectorised batch path
(:meth:`CompiledModel.predict_many`). The compiled form holds only numbers and names, which is what
:mod:`graphfraud.models` stores: a model file never executes code when loaded (the one-row walk is written
from its validated numbers only).
"""
from __future__ import annotations

import heapq
import math
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from .errors import ValidationError

__all__ = ["GraphFraudClassifier", "CompiledModel", "fit_platt", "FORMAT", "FORMAT_VERSION"]

FORMAT = "graphfraud-gbt"
FORMAT_VERSION = 1
CALIBRATION_METHODS = ("sigmoid", "isotonic", None)


# --------------------------------------------------------------------------- calibration helpers
def fit_platt(scores: np.ndarray, y: np.ndarray, max_iter: int = 100,
              weight: np.ndarray | None = None) -> tuple[float, float]:
    """Fit ``p = 1 / (1 + exp(-(a * score + b)))`` by Newton's method with Platt's smoothed targets.

    Parameters
    ----------
    scores : ndarray of shape (n,)
        Raw scores (log-odds of the booster).
    y : ndarray of shape (n,)
        0/1 labels; both classes must be present.
    weight : ndarray of shape (n,), optional
        How many rows each one stands for (rows drawn from more); every row counts once when None.

    Returns
    -------
    (a, b) : tuple of float

    Examples
    --------
    >>> import numpy as np
    >>> a, b = fit_platt(np.array([-2.0, -1.0, 1.0, 2.0]), np.array([0, 0, 1, 1]))
    >>> a > 0
    True
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(y)
    wt = np.ones(len(s)) if weight is None else np.asarray(weight, dtype=np.float64)
    n_pos = float(wt[y == 1].sum())
    n_neg = float(wt.sum() - n_pos)
    # Platt's targets keep the fit finite when the classes separate perfectly
    t = np.where(y == 1, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))

    def loss(a: float, b: float) -> float:
        z = a * s + b
        return float(np.sum(wt * (np.logaddexp(0.0, z) - t * z)))

    a, b = 1.0, 0.0  # the raw score is already a log-odds: start from the identity
    current = loss(a, b)
    for _ in range(max_iter):
        z = a * s + b
        p = 0.5 * (1.0 + np.tanh(0.5 * z))
        d = wt * (p - t)
        g = np.array([np.dot(d, s), d.sum()])
        w = wt * p * (1.0 - p)
        h = np.array([[np.dot(w, s * s), np.dot(w, s)], [np.dot(w, s), w.sum()]]) + 1e-12 * np.eye(2)
        try:
            step = np.linalg.solve(h, g)
        except np.linalg.LinAlgError:  # pragma: no cover - the ridge keeps h invertible
            break
        lr = 1.0
        while lr > 1e-8:
            na, nb = a - lr * step[0], b - lr * step[1]
            new = loss(na, nb)
            if new <= current:
                break
            lr *= 0.5
        else:
            break
        converged = current - new < 1e-12 * max(1.0, abs(current))
        a, b, current = float(na), float(nb), new
        if converged:
            break
    return a, b


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


# --------------------------------------------------------------------------- compiled model
class CompiledModel:
    """A fitted classifier as flat arrays: fast one-row scoring, explanations, batches; numbers only.

    Build one with :meth:`from_classifier` (or :meth:`GraphFraudClassifier.compiled_`), or from a stored
    document with :meth:`from_dict`; :mod:`graphfraud.models` loads it from the store.

    All trees are concatenated into one set of node arrays. ``feature[i] < 0`` marks a leaf whose output is
    ``value[i]``; a split node sends ``x[feature[i]] <= threshold[i]`` left, NaN the way
    ``missing_left[i]`` says, everything else right (scikit-learn's rule, so results are identical).
    ``expected[i]`` is the training-count-weighted mean of the leaf values under node ``i``, on the leaves'
    scale; the Saabas contribution of a split is ``expected[child] - expected[node]`` given to the split's
    feature, so ``bias + sum(contributions) == raw score`` exactly.
    """

    def __init__(self, *, features: Sequence[str], baseline: float, roots: Sequence[int],
                 feature: Sequence[int], threshold: Sequence[float], left: Sequence[int],
                 right: Sequence[int], missing_left: Sequence[int], value: Sequence[float],
                 expected: Sequence[float], calibration: Mapping[str, Any], classes: Sequence[Any],
                 version: str | None = None, meta: Mapping[str, Any] | None = None):
        self.features = [str(f) for f in features]
        self.n_features = len(self.features)
        self.baseline = float(baseline)
        self.roots = np.asarray(roots, dtype=np.int64)
        self.feature = np.asarray(feature, dtype=np.int64)
        self.threshold = np.asarray(threshold, dtype=np.float64)
        self.left = np.asarray(left, dtype=np.int64)
        self.right = np.asarray(right, dtype=np.int64)
        self.missing_left = np.asarray(missing_left, dtype=bool)
        self.value = np.asarray(value, dtype=np.float64)
        self.expected = np.asarray(expected, dtype=np.float64)
        self.calibration = dict(calibration)
        self.classes = list(classes)
        self.version = version
        self.meta = dict(meta or {})
        self._check()
        self._prepare()

    # ------------------------------------------------------------------ build
    @classmethod
    def from_classifier(cls, clf: GraphFraudClassifier) -> CompiledModel:
        """Compile a fitted :class:`GraphFraudClassifier`."""
        check_is_fitted(clf)
        return cls(features=clf.used_features_,
                   **_compile_booster(clf.booster_, getattr(clf, "input_dtype_", None) == np.float32),
                   calibration=clf.calibrator_, classes=clf.classes_.tolist())

    def _check(self) -> None:
        """Refuse arrays that could index out of range or loop: a stored document is untrusted input."""
        n = len(self.feature)
        problems = []
        if self.calibration.get("method") not in ("sigmoid", "isotonic", "none"):
            problems.append(f"unknown calibration method {self.calibration.get('method')!r}")
        if any(len(a) != n for a in (self.threshold, self.left, self.right, self.missing_left, self.value,
                                     self.expected)):
            problems.append("node arrays differ in length")
        elif n:
            split = self.feature >= 0
            idx = np.arange(n)
            if (self.feature >= self.n_features).any():
                problems.append("a split names a feature the model does not have")
            # children after their parent: every walk ends at a leaf within n steps
            if split.any() and not ((self.left[split] > idx[split]).all() and (self.right[split] > idx[split]).all()
                                    and (self.left[split] < n).all() and (self.right[split] < n).all()):
                problems.append("a split points outside its tree")
            if not (np.isfinite(self.value).all() and np.isfinite(self.expected).all()
                    and not np.isnan(self.threshold).any()):
                problems.append("non-finite node values")
            if not problems and _max_depth(self.feature, self.left, self.right, self.roots) > MAX_TREE_DEPTH:
                problems.append(f"a tree is deeper than {MAX_TREE_DEPTH} levels")
        if len(self.roots) and ((self.roots < 0).any() or (self.roots >= n).any()):
            problems.append("a tree root is out of range")
        if len(self.classes) != 2:
            problems.append("a model has exactly two classes")
        if self.calibration.get("method") == "isotonic":
            x = np.asarray(self.calibration.get("x", []), dtype=float)
            yv = np.asarray(self.calibration.get("y", []), dtype=float)
            if len(x) == 0 or len(x) != len(yv) or (np.diff(x) < 0).any():
                problems.append("the isotonic table is malformed")
        if problems:
            raise ValidationError("The model document is malformed and was not loaded; retrain the model.",
                                  problems, code="invalid_model")

    def _prepare(self) -> None:
        # Python lists of tuples: one index and an unpack per node is the cheapest walk CPython offers
        leaf = self.feature < 0
        thr_or_value = np.where(leaf, self.value, self.threshold)
        self._nodes = list(zip(self.feature.tolist(), thr_or_value.tolist(), self.left.tolist(),
                               self.right.tolist(), self.missing_left.tolist()))
        self._roots = self.roots.tolist()
        self._expected = self.expected.tolist()
        self._bias = self.baseline + float(self.expected[self.roots].sum()) if len(self.roots) else self.baseline
        method = self.calibration["method"]
        self._method = method
        if method == "sigmoid":
            self._a = float(self.calibration["a"])
            self._b = float(self.calibration["b"])
        elif method == "isotonic":
            self._iso_x = [float(v) for v in self.calibration["x"]]
            self._iso_y = [float(v) for v in self.calibration["y"]]
        # batch path: leaves loop to themselves, so a fixed number of steps needs no leaf mask
        idx = np.arange(len(self.feature))
        self._b_feature = np.where(leaf, 0, self.feature)
        self._b_threshold = np.where(leaf, np.inf, self.threshold)
        self._b_left = np.where(leaf, idx, self.left)
        self._b_right = np.where(leaf, idx, self.right)
        self._b_missing_left = np.where(leaf, True, self.missing_left)
        self._depth = _max_depth(self.feature, self.left, self.right, self.roots)
        self._walk: Callable[[list[float]], float] = _compile_walk(self._nodes, self._roots, self.baseline,
                                                                  self.n_features)
        self._paths: Callable[[list[float]], list[float]] | None = None  # made when first needed (explain)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        del state["_walk"], state["_paths"]  # functions made at run time: made again when unpickled
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._walk = _compile_walk(self._nodes, self._roots, self.baseline, self.n_features)
        self._paths = None

    # ------------------------------------------------------------------ one row
    def raw_one(self, x: Any) -> float:
        """The booster's raw score (log-odds) for one row; equals scikit-learn's ``decision_function``."""
        return self._walk(self._as_list(x))

    def calibrate_one(self, raw: float) -> float:
        """Probability of fraud for one raw score."""
        if self._method == "sigmoid":
            return _sigmoid(self._a * raw + self._b)
        if self._method == "isotonic":
            xs, ys = self._iso_x, self._iso_y
            if raw <= xs[0]:
                return ys[0]
            if raw >= xs[-1]:
                return ys[-1]
            k = bisect_right(xs, raw)
            x0, x1 = xs[k - 1], xs[k]
            if x1 == x0:  # pragma: no cover - thresholds are strictly increasing in practice
                return ys[k]
            return ys[k - 1] + (raw - x0) * (ys[k] - ys[k - 1]) / (x1 - x0)
        return _sigmoid(raw)

    def predict_one(self, x: Any) -> float:
        """Calibrated probability of fraud for one row (a 1-D float array in :attr:`features` order)."""
        return self.calibrate_one(self.raw_one(x))

    def contributions_one(self, x: Any) -> tuple[float, np.ndarray]:
        """Saabas path contributions: ``(bias, per-feature contributions)`` in log-odds; they sum to the raw score."""
        return self._bias, np.asarray(self._path_sums(x))

    def prepare_explanations(self) -> Callable[[list[float]], list[float]]:
        """Write the contributions walk now (compiling it took 67 ms for a model of 150 trees) rather than on
        the first explanation; a server does it as it loads a model, off the scores that follow."""
        paths = self._paths
        if paths is None:
            paths = self._paths = _compile_walk(self._nodes, self._roots, self.baseline, self.n_features,
                                                expected=self._expected)
        return paths

    def _path_sums(self, x: Any) -> list[float]:
        return (self._paths or self.prepare_explanations())(self._as_list(x))

    def explain_one(self, x: Any, top: int = 3, positive_only: bool = False) -> list[tuple[str, float]]:
        """The ``top`` features that moved this row's raw score most, as ``(feature, contribution)``.

        Contributions are in log-odds, relative to the model's average output (the bias), largest absolute
        value first; ``positive_only`` keeps only those pushing towards fraud (for "why flagged" reasons).
        """
        # zeros move nothing; a NaN (only from a malformed model's infinities) names no reason
        kept = [(k, v) for k, v in enumerate(self._path_sums(x))
                if v != 0.0 and v == v and (v > 0.0 or not positive_only)]
        # nlargest is sorted(..., reverse=True)[:top]: equal magnitudes stay in feature order
        features = self.features
        return [(features[k], v) for k, v in heapq.nlargest(top, kept, key=lambda kv: abs(kv[1]))]

    def vector(self, row: Mapping[str, Any]) -> np.ndarray:
        """A feature dict (as the feature engine makes) as the 1-D array this model takes; missing -> NaN."""
        get = row.get
        return np.array([_float(get(f)) for f in self.features], dtype=np.float64)

    def _as_list(self, x: Any) -> list[float]:
        xs = x.tolist() if isinstance(x, np.ndarray) else list(x)
        if len(xs) != self.n_features:
            raise ValidationError(f"The model takes {self.n_features} features but the row has {len(xs)}; "
                                  "build rows with CompiledModel.vector(features).", code="invalid_features")
        return xs

    # ------------------------------------------------------------------ batches
    def raw_many(self, X: Any, n_threads: int = 1) -> np.ndarray:
        """Raw scores for a 2-D array (or a DataFrame with the model's feature columns).

        Uses scikit-learn's compiled tree walker rebuilt from these arrays when this scikit-learn offers it
        (tens of times faster than numpy on big batches), else a vectorised numpy walk; both give the
        same numbers as :meth:`raw_one`.
        """
        X = self._as_matrix(X)
        predictors = self._sklearn_predictors()
        if predictors is None:
            return self._raw_many_numpy(X)
        out = np.full(X.shape[0], self.baseline)
        known = np.zeros((0, 8), dtype=np.uint32)
        f_idx_map = np.zeros(self.n_features, dtype=np.uint32)
        for pred in predictors:  # tree by tree, in the order scikit-learn adds them
            out += pred.predict(X, known_cat_bitsets=known, f_idx_map=f_idx_map, n_threads=n_threads)
        return out

    def _raw_many_numpy(self, X: np.ndarray) -> np.ndarray:
        out = np.full(X.shape[0], self.baseline)
        if not len(self.roots):
            return out
        rows = np.arange(X.shape[0])
        for root in self._roots:
            node = np.full(X.shape[0], root, dtype=np.int64)
            for _ in range(self._depth):
                v = X[rows, self._b_feature[node]]
                go_left = (v <= self._b_threshold[node]) | (np.isnan(v) & self._b_missing_left[node])
                node = np.where(go_left, self._b_left[node], self._b_right[node])
            out += self.value[node]
        return out

    def _sklearn_predictors(self) -> list[Any] | None:
        cached = getattr(self, "_sk_cache", False)
        if cached is not False:
            return cached  # type: ignore[return-value]
        try:  # private scikit-learn API: fall back to numpy if it moves
            from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE
            from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor

            bounds = self._roots + [len(self.feature)]
            empty = np.zeros((0, 8), dtype=np.uint32)
            preds = []
            for start, stop in zip(bounds[:-1], bounds[1:]):
                nodes = np.zeros(stop - start, dtype=PREDICTOR_RECORD_DTYPE)
                feat = self.feature[start:stop]
                leaf = feat < 0
                nodes["is_leaf"] = leaf
                nodes["value"] = np.where(leaf, self.value[start:stop], 0.0)
                nodes["feature_idx"] = np.where(leaf, 0, feat)
                nodes["num_threshold"] = self.threshold[start:stop]
                nodes["missing_go_to_left"] = self.missing_left[start:stop]
                nodes["left"] = np.where(leaf, 0, self.left[start:stop] - start)
                nodes["right"] = np.where(leaf, 0, self.right[start:stop] - start)
                preds.append(TreePredictor(nodes, empty, empty))
            if preds:  # one probe call: a changed signature shows up here, not mid-backtest
                preds[0].predict(np.zeros((1, self.n_features)), known_cat_bitsets=empty,
                                 f_idx_map=np.zeros(self.n_features, dtype=np.uint32), n_threads=1)
            result: list[Any] | None = preds
        except (ImportError, AttributeError, TypeError, ValueError, KeyError):  # pragma: no cover
            result = None
        self._sk_cache = result
        return result

    def calibrate_many(self, raw: np.ndarray) -> np.ndarray:
        raw = np.asarray(raw, dtype=np.float64)
        if self._method == "sigmoid":
            z = self._a * raw + self._b
        elif self._method == "isotonic":
            return np.asarray(np.interp(raw, self._iso_x, self._iso_y))
        else:
            z = raw
        return 0.5 * (1.0 + np.tanh(0.5 * z))

    def predict_many(self, X: Any, n_threads: int = 1) -> np.ndarray:
        """Calibrated fraud probabilities for many rows (1-D array); the batch twin of :meth:`predict_one`."""
        return self.calibrate_many(self.raw_many(X, n_threads=n_threads))

    def _as_matrix(self, X: Any) -> np.ndarray:
        if hasattr(X, "columns"):
            missing = [f for f in self.features if f not in X.columns]
            if missing:
                raise ValidationError(f"The frame lacks {len(missing)} of the model's features; add them "
                                      "(NaN when unknown).", missing[:20], code="invalid_features")
            X = X[self.features].to_numpy(dtype=np.float64)
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValidationError(f"The model takes rows of {self.n_features} features; got shape {X.shape}.",
                                  code="invalid_features")
        return np.asarray(X)

    # ------------------------------------------------------------------ documents
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready document of numbers and names (what :mod:`graphfraud.models` stores).

        Node arrays are base64 of little-endian machine numbers (``{"dtype": "<f8", "data": ...}``): exact,
        infinity-safe, and parsed ten times faster than JSON number lists; only plain numeric dtypes are
        accepted back.
        """
        return {"format": FORMAT, "format_version": FORMAT_VERSION, "features": self.features,
                "classes": [_plain(c) for c in self.classes], "baseline": self.baseline,
                "roots": _pack(self.roots, "<i8"), "feature": _pack(self.feature, "<i8"),
                "threshold": _pack(self.threshold, "<f8"), "left": _pack(self.left, "<i8"),
                "right": _pack(self.right, "<i8"), "missing_left": _pack(self.missing_left, "|u1"),
                "value": _pack(self.value, "<f8"), "expected": _pack(self.expected, "<f8"),
                "calibration": _plain(self.calibration)}

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], version: str | None = None,
                  meta: Mapping[str, Any] | None = None) -> CompiledModel:
        """Rebuild from :meth:`to_dict`'s document, checking its format and every index."""
        if not isinstance(doc, Mapping) or doc.get("format") != FORMAT:
            raise ValidationError("The stored model is not a graphfraud model document.", code="invalid_model")
        if doc.get("format_version") != FORMAT_VERSION:
            raise ValidationError(f"The stored model has format version {doc.get('format_version')!r}; this "
                                  f"graphfraud reads version {FORMAT_VERSION}. Retrain or upgrade.",
                                  code="invalid_model")
        keys = ("features", "baseline", "roots", "feature", "threshold", "left", "right", "missing_left",
                "value", "expected", "calibration", "classes")
        missing = [k for k in keys if k not in doc]
        if missing:
            raise ValidationError("The stored model document lacks fields.", missing, code="invalid_model")
        try:
            fields = {k: doc[k] for k in keys}
            for k in ("roots", "feature", "threshold", "left", "right", "missing_left", "value", "expected"):
                fields[k] = _unpack(fields[k])
            if not isinstance(fields["calibration"], Mapping) or not isinstance(fields["features"], list):
                raise ValueError("calibration must be an object and features a list")
            return cls(**fields, version=version, meta=meta)
        except (TypeError, ValueError, KeyError, IndexError) as e:
            if isinstance(e, ValidationError):
                raise
            raise ValidationError(f"The stored model document is malformed: {e}.", code="invalid_model") from None

    def __repr__(self) -> str:
        return (f"CompiledModel(version={self.version!r}, n_features={self.n_features}, "
                f"n_trees={len(self.roots)}, calibration={self._method!r})")


def float32_cuts(t: np.ndarray) -> np.ndarray:
    """For each threshold ``t``, the float64 ``c`` with ``x <= c`` exactly when ``float32(x) <= t``.

    A booster fitted on float32 rows splits between float32 values; a row scored live is float64. Comparing
    it with ``c`` instead of ``t`` sends it down the branches its float32 copy takes (ties to even included),
    so a model scores a row the same whichever of the two it is given."""
    t = np.asarray(t, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        a = t.astype(np.float32)
        a = np.where(a.astype(np.float64) > t, np.nextafter(a, np.float32(-np.inf)), a)  # largest float32 <= t
        mid = (a.astype(np.float64) + np.nextafter(a, np.float32(np.inf)).astype(np.float64)) / 2
        even = (a.view(np.uint32) & 1) == 0  # a tie at mid rounds to the even neighbour
        cut = np.where(even, mid, np.nextafter(mid, -np.inf))
    return np.where(np.isfinite(cut) & np.isfinite(t), cut, t)


def _compile_booster(est: Any, float32_rows: bool = False) -> dict[str, Any]:
    """Flatten a fitted binary ``HistGradientBoostingClassifier``'s trees (sklearn's ``_predictors``);
    ``float32_rows``: it was fitted on float32 rows (its thresholds become :func:`float32_cuts`)."""
    feats, thrs, lefts, rights, mls, vals, exps, roots = [], [], [], [], [], [], [], []
    offset = 0
    for (pred,) in est._predictors:  # binary: one tree per iteration
        nodes = pred.nodes
        if nodes["is_categorical"].any():
            raise ValidationError("Categorical splits are not supported by the compiled model; encode "
                                  "categories as numbers.", code="invalid_model")
        leaf = nodes["is_leaf"].astype(bool)
        n = len(nodes)
        roots.append(offset)
        feats.append(np.where(leaf, -1, nodes["feature_idx"]).astype(np.int64))
        thr = nodes["num_threshold"].astype(np.float64)
        thrs.append(np.where(leaf, 0.0, float32_cuts(thr) if float32_rows else thr))
        lefts.append(np.where(leaf, 0, nodes["left"].astype(np.int64) + offset))
        rights.append(np.where(leaf, 0, nodes["right"].astype(np.int64) + offset))
        mls.append(np.where(leaf, 0, nodes["missing_go_to_left"]).astype(np.int64))
        value = np.where(leaf, nodes["value"], 0.0).astype(np.float64)
        vals.append(value)
        # sklearn leaves the root's value at 0 and does not shrink internal values, so they are not on the
        # leaves' scale; the count-weighted mean of the leaves below each node is, and it telescopes exactly
        count = nodes["count"].astype(np.float64)
        wsum = np.where(leaf, value * count, 0.0)
        csum = np.where(leaf, count, 0.0)
        for i in range(n - 1, -1, -1):  # children come after parents
            if not leaf[i]:
                lft, rgt = nodes["left"][i], nodes["right"][i]
                wsum[i] = wsum[lft] + wsum[rgt]
                csum[i] = csum[lft] + csum[rgt]
        exps.append(np.where(csum > 0, wsum / np.maximum(csum, 1.0), value))
        offset += n
    cat = np.concatenate if roots else (lambda parts: np.zeros(0))
    return {"baseline": float(np.ravel(est._baseline_prediction)[0]), "roots": roots,
            "feature": cat(feats), "threshold": cat(thrs), "left": cat(lefts), "right": cat(rights),
            "missing_left": cat(mls), "value": cat(vals), "expected": cat(exps)}


_DTYPES = ("<f8", "<i8", "|u1")


def _pack(a: np.ndarray, dtype: str) -> dict[str, str]:
    import base64

    return {"dtype": dtype, "data": base64.b64encode(np.ascontiguousarray(a, dtype=dtype).tobytes()).decode()}


def _unpack(d: Any) -> np.ndarray:
    import base64
    import binascii

    if not isinstance(d, Mapping) or d.get("dtype") not in _DTYPES or not isinstance(d.get("data"), str):
        raise ValueError(f"arrays are {{'dtype': one of {_DTYPES}, 'data': base64}}")
    try:
        raw = base64.b64decode(d["data"], validate=True)
    except binascii.Error as e:
        raise ValueError(f"bad base64: {e}") from None
    dtype = np.dtype(d["dtype"])
    if len(raw) % dtype.itemsize:
        raise ValueError("array bytes do not divide into whole numbers")
    return np.frombuffer(raw, dtype=dtype)


#: Deepest tree a model may have: its one-row walk is nested Python code (the boosters here grow trees of at
#: most 31 leaves, so 30 levels at worst).
MAX_TREE_DEPTH = 64


def _compile_walk(nodes: Sequence[tuple[int, float, int, int, bool]], roots: Sequence[int], baseline: float,
                  n_features: int, expected: Sequence[float] | None = None) -> Any:
    """The one-row walk of every tree as one Python function: each split a single comparison of a local.

    ``nodes`` are ``(feature, threshold or leaf value, left, right, missing_left)``. A split whose missing
    values go left is written ``if x > t: right else: left`` (NaN fails every comparison), one whose missing
    values go right ``if x <= t: left else: right``: scikit-learn's rule with one comparison. The leaves'
    values are added in tree order from ``baseline``, so the sum is bit for bit what a loop over the trees
    gives. About three times faster than walking the node tuples in a loop (150 trees: 24 against 75 us a
    row). The source holds only the model's numbers, written by ``repr`` (validated ints and floats), and
    variable names made here: nothing from a model document is executed.

    With ``expected`` (each node's expected raw value), the function returns the Saabas path contributions
    instead, a list with one float per feature: every split taken adds ``expected[child] - expected[node]``
    to its feature's entry, in tree order and path order (the same sums, bit for bit, as walking the node
    tuples in a loop: 27 against 67 us a row for a model of 150 trees over 115 features).
    """
    def number(t: float) -> str:
        return repr(float(t)) if math.isfinite(t) else ("INF" if t > 0 else "-INF")

    lines = ["def walk(xs):", "    " + "".join(f"x{k}, " for k in range(n_features)) + "= xs" if n_features else "",
             f"    s = {number(baseline)}" if expected is None else
             "    " + "".join(f"c{k} = " for k in range(n_features)) + "0.0"]

    def emit(i: int, pad: str) -> None:
        f, t, left, right, missing_left = nodes[i]
        if f < 0:
            if expected is None:
                lines.append(f"{pad}s += {number(t)}")
            return
        first, second = (right, left) if missing_left else (left, right)
        lines.append(f"{pad}if x{int(f)} {'>' if missing_left else '<='} {number(t)}:")
        for j in (first, second):
            if expected is not None:
                lines.append(f"{pad} c{int(f)} += {number(expected[j] - expected[i])}")
            emit(j, pad + " ")
            if j == first:
                lines.append(f"{pad}else:")

    for root in roots:
        emit(int(root), "    ")
    lines.append("    return s" if expected is None else
                 "    return [" + "".join(f"c{k}, " for k in range(n_features)) + "]")
    space: dict[str, Any] = {"INF": math.inf}
    exec(compile("\n".join(lines), "<graphfraud model walk>", "exec"), space)  # noqa: S102 - numbers only
    return space["walk"]


def _max_depth(feature: np.ndarray, left: np.ndarray, right: np.ndarray, roots: np.ndarray) -> int:
    """Deepest leaf, level by level (children follow parents, so this ends within len(feature) levels)."""
    frontier, depth = np.asarray(roots, dtype=np.int64), 0
    while True:
        split = frontier[feature[frontier] >= 0]
        if not split.size:
            return depth
        # unique: a crafted document could share children between parents and double the frontier
        frontier = np.unique(np.concatenate([left[split], right[split]]))
        depth += 1


def _float(v: Any) -> float:
    if v is None:
        return math.nan
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def _plain(v: Any) -> Any:
    """Numpy scalars and containers as plain JSON-ready Python values."""
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, np.ndarray)):
        return [_plain(x) for x in (v.tolist() if isinstance(v, np.ndarray) else v)]
    if isinstance(v, np.generic):
        return v.item()
    return v


def _time_point(v: Any) -> Any:
    """A sample time as a JSON-ready value (ISO text for datetimes, a number otherwise)."""
    if isinstance(v, np.datetime64) or hasattr(v, "isoformat"):
        import pandas as pd

        return pd.Timestamp(v).isoformat()
    return _plain(v)


def _usable_columns(X: np.ndarray, names: Sequence[str]) -> tuple[np.ndarray, dict[str, str]]:
    """The columns a booster can split on, and why each other one is left out.

    A column with no value in any row (``"empty"``: the data lacks that field) or with one value in every
    row (``"constant"``) cannot split; scikit-learn's binning even fails on an empty one. If no column can
    split, every non-empty one is kept (the booster then learns the base rate).
    """
    missing = np.isnan(X)
    n_missing = missing.sum(axis=0)
    empty = n_missing == X.shape[0]
    # fmin/fmax skip NaN: no float copy of X (which np.where(missing, inf, X) made, twice)
    lo = np.fmin.reduce(X, axis=0, initial=np.inf)
    hi = np.fmax.reduce(X, axis=0, initial=-np.inf)
    constant = ~empty & (n_missing == 0) & (lo == hi)
    keep = ~empty & ~constant
    if not keep.any():
        keep = ~empty
    if not keep.any():
        raise ValueError("Every feature is empty (NaN in every training row); there is nothing to learn from.")
    dropped = {names[int(k)]: ("empty" if empty[k] else "constant") for k in np.flatnonzero(~keep)}
    return np.flatnonzero(keep), dropped


# --------------------------------------------------------------------------- the estimator
def _take(X: np.ndarray, rows: np.ndarray | None, cols: np.ndarray | None) -> np.ndarray:
    """``X[rows][:, cols]`` in one copy (``None``: all of them; all of both: ``X`` itself, no copy)."""
    if rows is None:
        return X if cols is None else X[:, cols]
    taken: np.ndarray = X[rows] if cols is None else X[np.ix_(rows, cols)]
    return taken


#: Rows converted at a time by :func:`_booster_input`.
_BLOCK = 65_536


def _booster_input(X: np.ndarray, rows: np.ndarray | None, cols: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """``X[rows][:, cols]`` as the booster reads it (float64: scikit-learn's boosters copy anything else to
    float64), made a block at a time into one array, so a float32 ``X`` is not first copied as float32 (at ten
    million transactions, 1.2 GB of a fit's 5.5 GB); and which of its columns hold no value at all."""
    if X.dtype == np.float64:
        taken = _take(X, rows, cols)
        return taken, np.isnan(taken).all(axis=0)
    n = X.shape[0] if rows is None else len(rows)
    out = np.empty((n, X.shape[1] if cols is None else len(cols)), dtype=np.float64)
    has_value = np.zeros(out.shape[1], dtype=bool)
    for lo in range(0, n, _BLOCK):
        hi = min(n, lo + _BLOCK)
        part = X[lo:hi] if rows is None else X[rows[lo:hi]]
        out[lo:hi] = part if cols is None else part[:, cols]
        has_value |= ~np.isnan(out[lo:hi]).all(axis=0)
    return out, ~has_value


class GraphFraudClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]  # sklearn has no stubs
    """Gradient-boosted trees for rare fraud, with probabilities calibrated on the latest training slice.

    Training rows are put in time order (``sample_time`` when given, else row order). The booster is first
    fitted on the earlier ``1 - calibration_fraction`` of them; a one-dimensional calibrator (Platt sigmoid
    or an isotonic table) is fitted on its raw scores over the latest ``calibration_fraction``; then, with
    ``refit=True``, the booster is refitted on all rows (the calibrator stays). Fraud is rare, so classes
    are weighted (``class_weight='balanced'``): the booster's raw scores are then not probabilities, and
    the calibrator is what maps them back to observed rates.

    Parameters
    ----------
    max_iter, learning_rate, max_leaf_nodes, max_depth, min_samples_leaf, l2_regularization, max_features
        Passed to ``HistGradientBoostingClassifier`` (early stopping is off: its random validation split
        would leak the future into the past).
    class_weight : 'balanced', dict or None, default='balanced'
    calibration : {'sigmoid', 'isotonic', None}, default='sigmoid'
        Sigmoid (two numbers) is steadier when frauds are few; isotonic follows any monotone shape.
    calibration_fraction : float in [0, 0.5], default=0.2
    refit : bool, default=True
        Refit the booster on all rows after calibrating (uses the newest data for the trees).
    negative_fraction : float in (0, 1], default=1.0
        Fraction of the legitimate rows (the first class) the boosters are fitted on, drawn at random with
        ``random_state``; every fraud row is kept, and the calibrator always sees every row of its slice, so
        probabilities keep meaning observed rates. The class weights balance the classes either way, so a
        fraction well below 1 loses little and makes fits that much faster (fraud is rare: most rows are
        legitimate).
    random_state : int or None
    n_threads : int or None, default=None
        OpenMP threads for fitting (``None``: scikit-learn's choice). On a shared machine, 1 avoids the
        oversubscription that can make a fit many times slower.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
    n_features_in_ : int
    feature_names_in_ : ndarray of str, only when ``X`` is a DataFrame with string column names
    feature_names_ : list of str, the names used in explanations (``x0``, ``x1``... without a DataFrame)
    used_features_ : list of str, the features the boosters learnt from, in order: every column but those
        with no value in any training row (empty) or one value in every row (constant), which cannot split
    dropped_features_ : dict, each left-out feature's name and why (``"empty"`` or ``"constant"``)
    booster_ : HistGradientBoostingClassifier
    calibrator_ : dict, the calibrator's numbers: ``{'method': 'sigmoid', 'a', 'b'}``,
        ``{'method': 'isotonic', 'x', 'y'}``, or ``{'method': 'none'}`` when calibration was off or
        impossible (the held-out slice or the rest lacked one of the classes); then the booster's own
        sigmoid is used and ``calibration_note_`` says why.
    n_calibration_ : int, rows held out for the calibrator
    n_booster_rows_ : int, rows the boosters were fitted on (all fraud rows, ``negative_fraction`` of the rest)
    calibration_window_ : (first, last) sample time of the calibration slice, or None
    training_window_ : (first, last) sample time of all rows, or None
    compiled_ : CompiledModel, the fast predictor

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> X, y = make_classification(n_samples=2000, weights=[0.95], random_state=0)
    >>> clf = GraphFraudClassifier(max_iter=20, random_state=0).fit(X, y)
    >>> p = clf.predict_one(X[0])
    >>> bool(abs(p - clf.predict_proba(X[:1])[0, 1]) < 1e-12)
    True
    """

    def __init__(self, max_iter: int = 200, learning_rate: float = 0.1, max_leaf_nodes: int = 31,
                 max_depth: int | None = None, min_samples_leaf: int = 20, l2_regularization: float = 0.0,
                 max_features: float = 1.0, class_weight: Any = "balanced", calibration: str | None = "sigmoid",
                 calibration_fraction: float = 0.2, refit: bool = True, random_state: int | None = None,
                 n_threads: int | None = None, negative_fraction: float = 1.0):
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.max_features = max_features
        self.class_weight = class_weight
        self.calibration = calibration
        self.calibration_fraction = calibration_fraction
        self.refit = refit
        self.random_state = random_state
        self.n_threads = n_threads
        self.negative_fraction = negative_fraction

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.classifier_tags.multi_class = False
        return tags

    def _booster(self) -> Any:
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(
            max_iter=self.max_iter, learning_rate=self.learning_rate, max_leaf_nodes=self.max_leaf_nodes,
            max_depth=self.max_depth, min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization, max_features=self.max_features,
            class_weight=self.class_weight, categorical_features=None, early_stopping=False,
            random_state=self.random_state)

    def fit(self, X: Any, y: Any, sample_time: Any = None, draw_weight: Any = None) -> GraphFraudClassifier:
        """Fit the booster and the calibrator.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features), floats, NaN for unknown
        y : array-like of shape (n_samples,), two classes (the second in sorted order is "fraud")
        sample_time : array-like of shape (n_samples,), optional
            Event time of each row (numbers or datetimes); defines "later" for the calibration slice.
        draw_weight : array-like of shape (n_samples,), optional
            When the rows are a sample of more (legitimate rows drawn at some rate, to bound memory), one over
            the probability each row was drawn: the calibration slice is the latest ``calibration_fraction``
            of the weight, the calibrator counts each row that many times, and the boosters' share of
            legitimate rows is ``negative_fraction`` of the whole, not of the sample. Unlike scikit-learn's
            ``sample_weight`` it does not weigh the boosters' loss (the classes are balanced either way).

        Returns
        -------
        self
        """
        if self.calibration not in CALIBRATION_METHODS:
            raise ValueError(f"calibration must be one of {CALIBRATION_METHODS}, got {self.calibration!r}.")
        if not 0.0 <= float(self.calibration_fraction) <= 0.5:
            raise ValueError(f"calibration_fraction must be in [0, 0.5], got {self.calibration_fraction!r}.")
        if not 0.0 < float(self.negative_fraction) <= 1.0:
            raise ValueError(f"negative_fraction must be in (0, 1], got {self.negative_fraction!r}.")
        if self.n_threads is None:
            return self._fit(X, y, sample_time, draw_weight)
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=int(self.n_threads), user_api="openmp"):
            return self._fit(X, y, sample_time, draw_weight)

    def _fit(self, X: Any, y: Any, sample_time: Any, draw_weight: Any) -> GraphFraudClassifier:
        # float32 rows (training matrices kept small) are read as they are: no float64 copy of the whole
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan", dtype=[np.float64, np.float32])
        self.input_dtype_ = X.dtype
        check_classification_targets(y)
        y_type = type_of_target(y, input_name="y", raise_unknown=True)
        if y_type != "binary":
            raise ValueError(f"Only binary classification is supported. The type of the target is {y_type}; "
                             "GraphFraudClassifier needs exactly 2 classes (fraud and not fraud).")
        self.classes_, y01 = np.unique(y, return_inverse=True)
        if len(self.classes_) != 2:
            raise ValueError(f"GraphFraudClassifier needs exactly 2 classes in y, got {len(self.classes_)} "
                             "class; label some fraud and some legitimate rows.")
        n = X.shape[0]
        if sample_time is not None:
            sample_time = np.asarray(sample_time)
            if sample_time.shape != (n,):
                raise ValueError(f"sample_time must have one entry per row ({n}), got shape {sample_time.shape}.")
            order = np.argsort(sample_time, kind="stable")
        else:
            order = np.arange(n)
        if draw_weight is not None:
            draw_weight = np.asarray(draw_weight, dtype=np.float64)
            if draw_weight.shape != (n,) or not (draw_weight >= 1.0).all():
                raise ValueError(f"draw_weight must have one entry >= 1 per row ({n}), got shape "
                                 f"{draw_weight.shape}.")
        names = getattr(self, "feature_names_in_", None)
        self.feature_names_ = [str(c) for c in names] if names is not None else [f"x{i}" for i in
                                                                                   range(X.shape[1])]
        self.used_columns_, self.dropped_features_ = _usable_columns(X, self.feature_names_)
        self.used_features_ = [self.feature_names_[k] for k in self.used_columns_]
        # the boosters read the usable columns of their rows: taken in one copy per fit, never the whole X again
        cols = np.asarray(self.used_columns_) if len(self.used_columns_) < X.shape[1] else None

        n_cal = int(round(float(self.calibration_fraction) * n)) if self.calibration is not None else 0
        if draw_weight is not None and n_cal:  # the latest calibration_fraction of the rows drawn from
            from_end = np.cumsum(draw_weight[order[::-1]])
            n_cal = min(n, int(np.searchsorted(from_end, float(self.calibration_fraction) * from_end[-1])) + 1)
        fit_idx, cal_idx = order[:n - n_cal], order[n - n_cal:]
        cal_weight = None if draw_weight is None else draw_weight[cal_idx]
        # the rows the boosters learn from: every fraud row, a random share of the legitimate ones (a row drawn
        # at rate r already stands for 1/r rows: it is kept with probability fraction/r)
        frac = float(self.negative_fraction)
        if frac < 1.0:
            keep_p = frac if draw_weight is None else frac * draw_weight
            kept = (y01 == 1) | (np.random.RandomState(self.random_state).random_sample(n) < keep_p)
        else:
            kept = np.ones(n, dtype=bool)
        self.n_booster_rows_ = int(kept.sum())
        self.calibration_note_ = ""
        if self.calibration is None:
            self.calibration_note_ = "calibration is off"
        elif n_cal == 0:
            self.calibration_note_ = "the calibration slice is empty"
        elif len(np.unique(y01[cal_idx])) < 2 or len(np.unique(y01[fit_idx])) < 2:
            self.calibration_note_ = "the calibration slice or the rows before it lack one of the classes"
        if self.calibration_note_:
            n_cal = 0
            self.calibrator_: dict[str, Any] = {"method": "none"}
            self.booster_ = self._fit_booster(X, y01, kept, cols)
        else:
            first = self._fit_booster(X, y01, kept, cols, fit_idx)
            raw = first.decision_function(_take(X, cal_idx, cols))
            if self.calibration == "sigmoid":
                a, b = fit_platt(raw, y01[cal_idx], weight=cal_weight)
                self.calibrator_ = {"method": "sigmoid", "a": a, "b": b}
            else:
                from sklearn.isotonic import IsotonicRegression

                yc = y01[cal_idx]
                n_pos = float(yc.sum()) if cal_weight is None else float(cal_weight[yc == 1].sum())
                n_all = float(len(yc)) if cal_weight is None else float(cal_weight.sum())
                # Platt's smoothed targets: an empty-of-fraud block of scores gets a small rate, not 0,
                # so one fraud landing there later is not infinitely surprising
                t = np.where(yc == 1, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_all - n_pos + 2.0))
                iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, t, sample_weight=cal_weight)
                self.calibrator_ = {"method": "isotonic", "x": iso.X_thresholds_.tolist(),
                                    "y": iso.y_thresholds_.tolist()}
            self.booster_ = self._fit_booster(X, y01, kept, cols) if self.refit else first
        self.n_iter_ = int(self.booster_.n_iter_)
        self.n_calibration_ = n_cal
        self.n_train_ = n
        if sample_time is not None:
            self.training_window_: tuple[Any, Any] | None = (_time_point(sample_time[order[0]]),
                                                            _time_point(sample_time[order[-1]]))
            self.calibration_window_ = ((_time_point(sample_time[cal_idx[0]]),
                                         _time_point(sample_time[cal_idx[-1]])) if n_cal else None)
        else:
            self.training_window_ = None
            self.calibration_window_ = None
        self.compiled_ = CompiledModel.from_classifier(self)
        return self

    def _fit_booster(self, X: np.ndarray, y01: np.ndarray, kept: np.ndarray, cols: np.ndarray | None,
                     rows: Any = None) -> Any:
        """A booster fitted on the columns ``cols`` (all when None) of those of ``rows`` (all rows when None,
        in their order) that are ``kept``."""
        rows = np.arange(len(y01)) if rows is None else rows
        sub = rows[kept[rows]]
        if len(np.unique(y01[sub])) < 2:  # too few rows drawn to hold both classes: use them all
            sub = rows
        whole = len(sub) == len(y01)
        Xs, empty = _booster_input(X, None if whole else sub, cols)
        if empty.any():  # a column with values only outside these rows: constant here, so it cannot split
            if Xs is X:
                Xs = Xs.copy()
            Xs[:, empty] = 0.0
        return self._booster().fit(Xs, y01[sub] if len(sub) != len(y01) else y01)

    # ------------------------------------------------------------------ scikit-learn API
    def _raw(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=[np.float64, np.float32])
        if getattr(self, "input_dtype_", None) == np.float32:  # as it was fitted: rows rounded to float32
            X = X.astype(np.float32, copy=False)
        if len(self.used_columns_) < X.shape[1]:
            X = X[:, self.used_columns_]
        return np.asarray(self.booster_.decision_function(X))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Calibrated probabilities, columns in :attr:`classes_` order."""
        raw = self._raw(X)
        p = self.compiled_.calibrate_many(raw)
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any) -> np.ndarray:
        """The more probable class per row (the second class when its probability exceeds 0.5)."""
        check_is_fitted(self)
        return np.asarray(self.classes_[(self.predict_proba(X)[:, 1] > 0.5).astype(int)])

    # ------------------------------------------------------------------ fast path
    def predict_one(self, x: Any) -> float:
        """Calibrated fraud probability for one 1-D float row, without scikit-learn's per-call checks."""
        check_is_fitted(self)
        return self.compiled_.predict_one(x)

    def explain_one(self, x: Any, top: int = 3, positive_only: bool = False) -> list[tuple[str, float]]:
        """Top ``(feature, contribution)`` pairs for one row; see :meth:`CompiledModel.explain_one`."""
        check_is_fitted(self)
        return self.compiled_.explain_one(x, top=top, positive_only=positive_only)
