"""Backtests: train on a past window, then replay a later window through the online scoring path.

Everything before the test window is history. The model is trained on the training window with the
labels known by the start of the test window (a label becomes known at its own time, or the label delay
after its transaction). The test window is then replayed in time order: each transaction's features are
read from the engine at its moment (labels visible only after their delay), the decision is made by
:func:`graphfraud.scoring.decide` with the rules, and the transaction joins the graph. The model scores
the test rows in one batch after the replay; every row still comes from the online feature function at
its own moment. Two baselines are trained and scored on the same split, so the graph's lift shows: a
tabular-only model on the transaction's own fields (amount, hour), and a model on the transaction and its own
user's history (velocity, amounts, identifiers new to the user: no other user's data).

History is replayed in a process of its own, which writes the training rows into shared memory and the test
rows into a file (:class:`~graphfraud.training.RowFile`, read back a block at a time): the engine's memory
goes back to the system when it ends, before the fits copy their rows. The model and the baselines are then
fitted at once, each in a forked process; the models and every feature row are exactly what a sequential
run in one process gives.
"""
from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import progress
from .errors import ValidationError
from .graph.features import row_names, tabular_names, user_history_names
from .memory import long_lived, run_apart
from .output import csv_writer, open_private
from .rules import RuleSet
from .graph.build import new_engine
from .scoring import decide, model_reasons, ring_context, rule_hits
from .storage.roles import GraphStore
from .training import (RowFile, draw_rows, feature_matrix, fit_classifier, flags, load_history, queue_store_labels,
                       replay, row_slots)


@dataclass
class Window:
    train_start: int
    train_end: int  # exclusive index into the time-ordered history
    test_start: int
    test_end: int


def _index_of(ts: np.ndarray, t: int | None, default: int) -> int:
    return default if t is None else int(np.searchsorted(ts, t, side="left"))


def check_windows(*, train_frac: float | None = None, train_start: int | None = None, train_end: int | None = None,
                  test_start: int | None = None, test_end: int | None = None) -> None:
    """Raise :class:`ValidationError` unless the options name a split: a fraction in (0, 1), or four times in
    order. The CLI checks them before it loads anything.

    >>> check_windows(train_frac=1.5)
    Traceback (most recent call last):
    graphfraud.errors.ValidationError: --train-frac 1.5 must be between 0 and 1.
    """
    if train_frac is not None:
        if not 0 < train_frac < 1:
            raise ValidationError(f"--train-frac {train_frac} must be between 0 and 1.")
        return
    if train_start is None or train_end is None or test_start is None or test_end is None:
        raise ValidationError("Give --train-frac, or all of --train-start, --train-end, --test-start and --test-end.")
    if not train_start < train_end <= test_start < test_end:
        raise ValidationError("The windows must be in order: train start < train end <= test start < test end.")


def windows(ts: np.ndarray, *, train_frac: float | None = None, train_start: int | None = None,
            train_end: int | None = None, test_start: int | None = None, test_end: int | None = None) -> Window:
    """Row ranges of the time-ordered history for a fraction split or explicit times (epoch ms)."""
    check_windows(train_frac=train_frac, train_start=train_start, train_end=train_end, test_start=test_start,
                  test_end=test_end)
    n = len(ts)
    if train_frac is not None:
        cut = int(n * train_frac)
        return Window(0, cut, cut, n)
    w = Window(_index_of(ts, train_start, 0), _index_of(ts, train_end, n), _index_of(ts, test_start, n),
               _index_of(ts, test_end, n))
    if w.train_end <= w.train_start or w.test_end <= w.test_start:
        raise ValidationError("A training or test window holds no transactions; check the dates.")
    return w


@long_lived()
def run_backtest(store: GraphStore, *, train_frac: float | None = None, train_start: int | None = None,
                 train_end: int | None = None, test_start: int | None = None, test_end: int | None = None,
                 label_delay_ms: int = 86_400_000, rules: RuleSet | None = None,
                 overrides: Mapping[str, Any] | None = None, scores_out: str | None = None,
                 raw: bool = False, log: Callable[[str], None] = lambda s: None,
                 apart: bool = True) -> dict[str, Any]:
    """Run a backtest over the store's transactions; returns the report (see module doc).

    ``apart``: replay in a forked process (:func:`~graphfraud.memory.run_apart`), so the fits that follow do not
    sit on top of the engine's memory; ``False`` replays here (the same rows, models and decisions).

    ``scores_out`` is written by :func:`graphfraud.output.csv_writer` (formulas neutralised unless ``raw``).
    """
    from . import settings
    from .classifier import CompiledModel

    t0 = time.perf_counter()
    rules = rules or RuleSet.default()
    review_t = float(settings.get("review_threshold", overrides))
    block_t = float(settings.get("block_threshold", overrides))
    ring_min = int(settings.get("ring_min_size", overrides))
    engine = new_engine(overrides, label_delay_ms=label_delay_ms)  # its row names and identifier types
    rules.check_names(row_names(engine))
    hist = load_history(store, label_delay_ms, attributes=bool(engine.feature_attributes))
    if len(hist) < 10:
        raise ValidationError("A backtest needs at least 10 transactions in the store.")
    w = windows(hist.ts, train_frac=train_frac, train_start=train_start, train_end=train_end,
                test_start=test_start, test_end=test_end)
    test_time = int(hist.ts[w.test_start])
    names, engine_types = row_names(engine), engine.entity_types
    n = len(hist)
    # training rows: in the training window, with a label known by the start of the test window (past
    # train_max_rows, legitimate ones drawn: training.draw_rows)
    span = np.arange(w.train_start, w.train_end)
    candidates = span[(hist.label[span] >= 0) & (hist.known_at[span] <= test_time)]
    draw = draw_rows(candidates, hist.label[candidates], int(settings.get("train_max_rows", overrides)))
    train_idx = draw.index
    n_candidates = len(candidates)
    n_labelled = int((hist.label[span] >= 0).sum())
    if n_candidates < n_labelled / 2:  # a short history with a label delay longer than its test gap
        log(f"{n_labelled - n_candidates:,} of the {n_labelled:,} labelled training transactions are left out: "
            f"their labels were not known when the test window starts (a label without a time of its own is "
            f"known {label_delay_ms / 3_600_000:g} hours after its transaction; --label-delay sets it)")
    del span, candidates  # 16 bytes a training-window transaction the replay (forked below) would carry
    test_idx = np.arange(w.test_start, w.test_end)
    y_train = hist.label[train_idx].astype(int)
    if y_train.sum() == 0 or y_train.sum() == len(y_train):
        raise ValidationError("The training window needs both fraud and legitimate labels known before the test "
                              f"window; it has {int(y_train.sum())} fraud of {len(y_train)}.")
    # one matrix row per training row drawn (the fits read them in place), and one row per test row in a
    # file (read a block at a time): nothing for the rest of history
    n_train = len(train_idx)
    # the replay (both windows) runs in a process of its own: the engine's memory goes back to the system
    # when it ends, before the fits copy their rows (at 10 million, the engine and three fits beside it took
    # 20.6 GB); it writes the rows into X (shared memory) and test_rows, and hands back what the decisions
    # need beside them
    X = feature_matrix(n_train, len(names), shared=True)
    test_rows = RowFile(len(names))
    try:
        slot = row_slots(n, train_idx)

        def work(say: Callable[[str], None]) -> DecisionContext:
            if apart:
                store.after_fork()
            # the replay's own engine: here (not apart), it goes when the replay ends
            replayed = new_engine(overrides, label_delay_ms=label_delay_ms)
            return _replay_windows(store, hist, replayed, w, slot, X, test_rows, rules, ring_min, t0, say)

        context = run_apart(work, "replaying the backtest's windows", log) if apart else work(log)
        t_replay = time.perf_counter() - t0
        log(f"replayed {w.test_end:,} transactions in {t_replay:.1f} s")
        # the model and the baselines fit at once (each in a forked process, the baselines at a lower priority),
        # then score the test rows
        baselines = [tabular_names(engine_types, engine.feature_attributes),
                     user_history_names(engine_types, engine.feature_attributes)]
        fits = start_fits(X, np.arange(n_train), y_train, hist.ts[train_idx], names, baselines, test_rows,
                          weight=draw.weight)
        ring_of, hits_of, test_amounts = context.ring_of, context.hits_of, context.amounts
        # every test row is scored; the metrics read the rows whose label is known in the end
        judged = hist.label[test_idx] >= 0
        y_test = hist.label[test_idx][judged].astype(int)
        amounts = test_amounts[judged]
        # the baselines are done first (fewer columns): their reports are made while the model still fits
        with progress.phase(f"fitting the model and two baselines on {len(train_idx):,} rows"):
            baseline_reports = {key: evaluate(y_test, fits.result_of(k)[1][judged], None, amounts, review_t, block_t)
                                for k, key in ((1, "tabular_only"), (2, "user_history_only"))}
            clf, p = fits.result_of(0)
        model = CompiledModel.from_classifier(clf)
        learnt = np.array([names.index(f) for f in model.features], dtype=np.intp)  # the columns the model learnt from
        t_train = time.perf_counter() - t0 - t_replay
        log(f"trained and scored ({fits.how}) {t_train:.1f} s after the replay")
        # each decision is written out as it is made and kept only as columns: its score, its decision and the
        # rules it hit (a decision's dictionary, reasons and all, is about a kilobyte; millions of test rows)
        score = np.empty(len(test_idx))
        decision = np.empty(len(test_idx), dtype=np.int8)
        hit_rows: dict[str, list[int]] = {}
        with scores_file(scores_out, raw) as out, \
                progress.phase("deciding", total=len(test_idx), unit="transactions") as shown:
            for (i, tx), x in zip(hist.walk(w.test_start, w.test_end), test_rows.each()):
                k = i - w.test_start
                contrib = model_reasons(model, x[learnt], float(p[k]), review_t)
                # with the rule hits given, decide reads features only to word the model's reasons
                feats = dict(zip(names, x.tolist())) if contrib else {}
                d = decide(feats, tx, float(p[k]), rules, contributions=contrib,
                           review_threshold=review_t, block_threshold=block_t, hits=hits_of.get(k, []))
                score[k] = d["score"]
                decision[k] = DECISIONS.index(d["decision"])
                for code in d["rule_hits"]:
                    hit_rows.setdefault(code, []).append(k)
                if out is not None:
                    out.writerow([tx.transaction_id, f"{d['score']:.6f}", d["decision"],
                                  " | ".join(x["message"] for x in d["reasons"]), ring_of.get(k, "")])
                if not k % progress.EVERY:
                    shown.update(k)
            shown.update(len(test_idx))
        hist.close()
        log(f"decided the {len(test_idx):,} test transactions "
            f"{time.perf_counter() - t0 - t_replay - t_train:.1f} s after training")
        place = np.cumsum(judged) - 1  # each test row's place among the judged ones
        judged_hits = {c: place[np.asarray(rows)[judged[rows]]] for c, rows in hit_rows.items()}
        report = evaluate(y_test, score[judged], (decision[judged], judged_hits), amounts, review_t, block_t,
                          float(settings.get("weak_rule_multiple", overrides)))
        report.update(baseline_reports)
        report["model_only"] = evaluate(y_test, p[judged], None, amounts, review_t, block_t)
        if len(p) and np.ptp(p) == 0:
            report["warning"] = (f"the model gave every test row the same score ({float(p[0]):.4f}): it learnt "
                                 f"nothing from its {n_candidates:,} training rows, so the ranking figures "
                                 "(average precision, precision@k) only reflect how ties were ordered")
            log(f"warning: {report['warning']}")
        ap = report.get("average_precision")
        for key, base in (("graph_lift", "tabular_only"), ("lift_over_user_history", "user_history_only")):
            ap_base = report[base].get("average_precision")
            report[key] = round(ap / ap_base, 3) if ap is not None and ap_base else None
        if draw.weight is not None:
            report.update(train_rows_drawn=int(n_train), train_legitimate_rate=round(draw.rate, 6))
        report.update(train_rows=n_candidates, test_rows=int(len(test_idx)),
                      test_rows_unlabelled=int((~judged).sum()),
                      train_window=[int(hist.ts[w.train_start]), int(hist.ts[w.train_end - 1])],
                      test_window=[int(hist.ts[w.test_start]), int(hist.ts[w.test_end - 1])],
                      label_delay_ms=label_delay_ms, rules_version=rules.version,
                      seconds={"replay": round(t_replay, 2), "train": round(t_train, 2),
                               "total": round(time.perf_counter() - t0, 2)})
        return report
    finally:
        test_rows.close()


@dataclass
class DecisionContext:
    """What the decisions need of each test row beside its features (by place in the test window)."""

    ring_of: dict[int, str]  # the ring behind the row (only rows with one)
    hits_of: dict[int, Any]  # the rules the row hit (only rows with some)
    amounts: np.ndarray


def _replay_windows(store: GraphStore, hist: Any, engine: Any, w: Window, slot: np.ndarray, X: np.ndarray,
                    test_rows: RowFile, rules: RuleSet, ring_min: int, t0: float,
                    log: Callable[[str], None]) -> DecisionContext:
    """Replay history up to the end of the test window through ``engine``, writing the feature rows of the
    training transactions with a ``slot`` into ``X`` and every test row into ``test_rows``; each test row's
    rule hits are read from the row as served."""
    names = row_names(engine)
    n_test = w.test_end - w.test_start
    context = DecisionContext({}, {}, np.empty(n_test))
    queue_store_labels(store, engine, hist)

    def keep(i: int, tx: Any, row: list[float]) -> None:
        X[slot[i]] = row

    def keep_test(i: int, tx: Any, row: list[float]) -> None:
        k = i - w.test_start
        put(k, row)
        ctx = ring_context(engine, tx, None, ring_min)
        if ctx is not None:
            context.ring_of[k] = ctx["ring_id"]
        context.amounts[k] = tx.amount
        # the rules read the row as served (float64), before it is stored in float32
        hits = rule_hits(dict(zip(names, row)), tx, rules)
        if hits:
            context.hits_of[k] = hits

    for _ in replay(store, hist, engine, start=0, stop=w.train_end, want=flags(slot >= 0),
                    on_values=keep, describe="replaying the training window"):
        pass
    log(f"replayed the {w.train_end:,} transactions up to the test window in {time.perf_counter() - t0:.1f} s")
    is_test = np.zeros(len(slot), dtype=bool)
    is_test[w.test_start:w.test_end] = True
    with test_rows.writer(total=n_test) as put:
        for _ in replay(store, hist, engine, start=w.train_end, stop=w.test_end, want=flags(is_test),
                        on_values=keep_test, describe="replaying the test window"):
            pass
    hist.close()  # end the read (a window that stops before the end left it open)
    return context


def _is_shared(X: np.ndarray) -> bool:
    import mmap

    base: Any = X
    while isinstance(base, np.ndarray):
        base = base.base
    if isinstance(base, memoryview):
        base = base.obj
    return isinstance(base, mmap.mmap)


def _fit_one(X: np.ndarray, idx: np.ndarray, y: np.ndarray, times: np.ndarray, names: list[str],
             cols: list[str], weight: np.ndarray | None = None) -> Any:
    """One classifier on the columns ``cols`` of ``X[idx]`` (every feature, or the tabular ones); ``weight``:
    the rows' draw weights (:func:`graphfraud.training.draw_rows`)."""
    import pandas as pd

    # rows in one run (the backtest's training rows) are read in place; a baseline copies its own columns only
    whole = len(idx) > 0 and np.array_equal(idx, np.arange(idx[0], idx[0] + len(idx)))
    rows = X[int(idx[0]):int(idx[0]) + len(idx)] if whole else X[idx]
    data = rows if cols == names else rows[:, [names.index(c) for c in cols]]
    return fit_classifier(pd.DataFrame(data, columns=cols, copy=False), y, times, weight)


#: Test rows scored at a time: the scorers take a float64 copy of the rows' columns, which for every test row
#: at once was 5.5 GB at 10 million transactions (4 million test rows).
PREDICT_ROWS = 65_536


def _predict(clf: Any, test_rows: RowFile, names: list[str], cols: list[str]) -> np.ndarray:
    """The fitted classifier's probabilities for ``test_rows``, read :data:`PREDICT_ROWS` at a time: the model
    through its compiled form (as serving scores), the baselines through scikit-learn."""
    import pandas as pd

    from .classifier import CompiledModel

    model = CompiledModel.from_classifier(clf) if cols == names else None
    at = np.array([names.index(c) for c in (model.features if model is not None else cols)], dtype=np.intp)
    out = np.empty(len(test_rows))
    for lo, block in test_rows.blocks(PREDICT_ROWS):
        sub = block[:, at]
        out[lo:lo + len(sub)] = model.predict_many(sub) if model is not None else \
            clf.predict_proba(pd.DataFrame(sub, columns=cols))[:, 1]
    return out


def _fit_and_predict(X: np.ndarray, idx: np.ndarray, y: np.ndarray, times: np.ndarray, names: list[str],
                     test_rows: RowFile, weight: np.ndarray | None, cols: list[str]) -> tuple[Any, np.ndarray]:
    clf = _fit_one(X, idx, y, times, names, cols, weight)
    return clf, _predict(clf, test_rows, names, cols)


#: Scheduling priority of the baselines' fitting processes, below the model's and the replay's: they only
#: feed the report. 1M backtest, interleaved runs in one hour: 109.4-114.8 s (six runs, mean 112.1) against
#: 112.5-118.6 s at equal priority (four runs, mean 114.5); niceness 5 gave 110.6 s, 19 gave 116.2 s.
BASELINE_NICE = 10


def _fit_child(conn: Any, nice: int, *args: Any) -> None:
    if nice:
        try:
            os.nice(nice)
        except OSError:  # pragma: no cover - not allowed here: run at the parent's priority
            pass
    try:
        from threadpoolctl import threadpool_limits

        # one OpenMP thread for the fit and the predictions: a forked child must not use the thread pool of
        # a parent that had started one (libgomp's pool does not survive fork; its threads would wait forever)
        with threadpool_limits(limits=1, user_api="openmp"):
            out: Any = ("ok", _fit_and_predict(*args))
    except BaseException as e:  # noqa: BLE001 - handed to the parent, which raises it
        out = ("error", e)
    try:
        conn.send(out)
    finally:
        conn.close()


class Fits:
    """The backtest's fits (the model and its baselines) and their scores of the test rows,
    each in a forked process, or, where fork is missing (or ``X`` is not shared memory), run on demand.

    Forking shares the training rows ``X`` (made by :func:`~graphfraud.training.feature_matrix` with
    ``shared=True``) with the children without copying them; each child, its fit done, scores the test rows
    (a :class:`~graphfraud.training.RowFile`, a block at a time; the baselines while the model is still
    fitting). Each process fits with one thread, so the fits share the machine's cores without OpenMP
    oversubscribing them; the baselines run at a lower priority
    (:data:`BASELINE_NICE`), since the model's fit is what the report waits for last. If a child dies (say,
    killed for memory), :meth:`result_of` fits and scores that model in this process.
    """

    def __init__(self, args: tuple[Any, ...], columns: list[list[str]]):
        self.args = args
        self.columns = columns
        self.how = "in process"
        self.jobs: list[tuple[Any, Any]] = []
        self.done: dict[int, tuple[Any, np.ndarray]] = {}

    def start(self) -> "Fits":
        import gc
        import multiprocessing as mp

        if "fork" not in mp.get_all_start_methods() or not _is_shared(self.args[0]):
            return self
        ctx = mp.get_context("fork")
        gc.freeze()  # the children's collections then leave the parent's objects (and their pages) alone
        try:
            for k, cols in enumerate(self.columns):
                conn, child = ctx.Pipe(duplex=False)
                nice = BASELINE_NICE if k else 0  # the model first; the baselines only feed the report
                proc = ctx.Process(target=_fit_child, args=(child, nice, *self.args, cols), daemon=True,
                                   name="graphfraud-backtest-fit")
                proc.start()
                child.close()
                self.jobs.append((proc, conn))
        finally:
            gc.unfreeze()
        self.how = "in forked processes"
        return self

    def result(self) -> tuple[tuple[Any, np.ndarray], ...]:
        """``(classifier, its test scores)`` per column set, in the order given: the model first."""
        return tuple(self.result_of(k) for k in range(len(self.columns)))

    def result_of(self, k: int) -> tuple[Any, np.ndarray]:
        """``(classifier, its test scores)`` of the ``k``-th column set, waiting for that fit only."""
        if k in self.done:
            return self.done[k]
        cols = self.columns[k]
        value: Any
        if not self.jobs:
            value = _fit_and_predict(*self.args, cols)  # type: ignore[call-arg]
        else:
            proc, conn = self.jobs[k]
            try:
                status, value = conn.recv()
            except (EOFError, OSError):
                status, value = "lost", None
            finally:
                conn.close()
                proc.join()
            if status == "error":
                raise value
            if status != "ok":
                self.how = "in process (a fitting process died)"
                value = _fit_and_predict(*self.args, cols)  # type: ignore[call-arg]
        self.done[k] = value
        return value  # type: ignore[no-any-return]


def start_fits(X: np.ndarray, idx: np.ndarray, y: np.ndarray, times: np.ndarray, names: list[str],
               baselines: list[list[str]], test_rows: RowFile, weight: np.ndarray | None = None) -> Fits:
    """Start fitting the model and each baseline (its columns) on ``X[idx]`` (rows drawn with ``weight``),
    each then scoring ``test_rows``; collect with ``.result()``."""
    return Fits((X, idx, y, times, names, test_rows, weight), [names, *baselines]).start()


#: Decisions in the order their codes are kept in.
DECISIONS = ("allow", "review", "block")


@contextmanager
def scores_file(path: str | None, raw: bool) -> Iterator[Any]:
    """A CSV writer for ``--scores-out`` (None without it), header written. The rows go to a file beside
    ``path`` that replaces it only when the backtest got through every decision: no half file on failure."""
    if not path:
        yield None
        return
    part = f"{path}.part"
    try:
        with open_private(part, "w", newline="", encoding="utf-8") as fh:
            wr = csv_writer(fh, raw=raw)
            wr.writerow(["transaction_id", "score", "decision", "reasons", "ring_id"])
            yield wr
        os.replace(part, path)
    finally:
        if os.path.exists(part):
            os.unlink(part)


def evaluate(y: np.ndarray, score: np.ndarray, decided: tuple[np.ndarray, Mapping[str, np.ndarray]] | None,
             amounts: np.ndarray, review_t: float, block_t: float, weak_multiple: float = 2.0) -> dict[str, Any]:
    """Ranking and threshold metrics of one set of scores; with ``decided`` (each row's decision code, in
    :data:`DECISIONS`, and the rows each rule hit), each rule's hits and precision, ``weak`` when that
    precision is below ``weak_multiple`` times the fraud rate (the rule flags little better than chance)."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    out: dict[str, Any] = {"n": int(len(y)), "n_fraud": int(y.sum())}
    if 0 < y.sum() < len(y):
        out["average_precision"] = round(float(average_precision_score(y, score)), 4)
        out["roc_auc"] = round(float(roc_auc_score(y, score)), 4)
    for name, t in (("review", review_t), ("block", block_t)):
        # with decisions, what was decided (the thresholds and every rule's effect: a block rule blocks below
        # the threshold, an allow rule allows above it); without, the scores against the threshold
        flagged = score >= t if decided is None else decided[0] >= DECISIONS.index(name)
        tp = int((flagged & (y == 1)).sum())
        out[f"at_{name}"] = {"threshold": t, "flagged": int(flagged.sum()),
                             "precision": round(tp / flagged.sum(), 4) if flagged.sum() else None,
                             "recall": round(tp / y.sum(), 4) if y.sum() else None,
                             "fraud_amount_caught": round(float(amounts[flagged & (y == 1)].sum()), 2)}
    order = np.argsort(-score, kind="stable")
    out["precision_at_k"] = {str(k): round(float(y[order[:k]].mean()), 4) for k in (100, 500, 1000) if k <= len(y)}
    out["money_at_stake"] = round(float(amounts[y == 1].sum()), 2)
    if decided is not None:
        codes, hit_rows = decided
        base = float(y.mean()) if len(y) else 0.0
        hits = {c: y[rows] for c, rows in sorted(hit_rows.items()) if len(rows)}
        out["rules"] = {c: {"hits": int(len(v)), "precision": round(float(v.mean()), 4),
                            "weak": bool(v.mean() < weak_multiple * base)} for c, v in hits.items()}
        out["weak_rule_multiple"] = weak_multiple
        out["decisions"] = {d: int((codes == j).sum()) for j, d in enumerate(DECISIONS)}
    return out


def format_report(report: dict[str, Any]) -> str:
    """A short human summary of a backtest report."""
    unlabelled = report.get("test_rows_unlabelled", 0)
    lines = [f"test rows {report['test_rows']:,} ({report['n_fraud']:,} fraud"
             + (f"; {unlabelled:,} without a label, scored but not judged" if unlabelled else "")
             + f"), trained on {report['train_rows']:,}",
             f"average precision {report.get('average_precision')}  ROC-AUC {report.get('roc_auc')}  "
             f"(tabular only: AP {report['tabular_only'].get('average_precision')}, "
             f"ROC-AUC {report['tabular_only'].get('roc_auc')}; lift over it x{report.get('graph_lift')}: the users' "
             "own history and the graph together)",
             f"user history only (no other user): AP {report['user_history_only'].get('average_precision')}, "
             f"ROC-AUC {report['user_history_only'].get('roc_auc')}; lift over it "
             f"x{report.get('lift_over_user_history')}"]
    for name, what in (("review", "decided review or block"), ("block", "decided block")):
        a = report[f"at_{name}"]
        lines.append(f"{what} (score >= {a['threshold']}, and the rules): flagged {a['flagged']:,}, precision "
                     f"{a['precision']}, recall {a['recall']}, fraud amount caught {a['fraud_amount_caught']:,}")
    if "model_only" in report:
        m = report["model_only"]
        lines.append("the model alone: " + "; ".join(
            f"{name} >= {m[f'at_{name}']['threshold']}: flagged {m[f'at_{name}']['flagged']:,}, precision "
            f"{m[f'at_{name}']['precision']}" for name in ("review", "block")))
    lines.append(f"precision@k {json.dumps(report['precision_at_k'])}; money at stake {report['money_at_stake']:,}")
    base = report["n_fraud"] / report["n"] if report.get("n") else 0.0
    for code, r in report.get("rules", {}).items():
        weak = (f"  WEAK: below {report.get('weak_rule_multiple')}x the fraud rate {base:.4f}"
                if r.get("weak") else "")
        lines.append(f"rule {code}: {r['hits']:,} hits, precision {r['precision']}{weak}")
    if report.get("warning"):
        lines.append(f"WARNING: {report['warning']}")
    lines.append(f"time: {report['seconds']}")
    return "\n".join(lines)
