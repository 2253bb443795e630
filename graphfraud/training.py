"""History replay and training: point-in-time feature rows from the one feature function.

:func:`replay` walks the store's transactions in time order (ties in arrival order) through a fresh
engine: for each transaction it advances event time (revealing labels whose time has come, taking due
snapshots), reads the features, lets the caller look, then applies the transaction. Training and
backtests both use it, and the API calls the same feature function live, so rows cannot drift apart.
"""
from __future__ import annotations

import os
import time
from array import array
from collections import Counter
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, cast

import numpy as np

from . import progress
from .graph.engine import GraphEngine
from .graph.features import feature_row, row_names
from .memory import long_lived, run_apart
from .schema import LABEL_SOURCES, Transaction
from .scratch import make_file
from .graph.build import new_engine
from .storage.roles import GraphStore


class History:
    """Every stored transaction's time, final label and when that label became known, in time order (ties in
    arrival order). The transactions themselves are not held: :meth:`walk` reads them back from the store as
    a replay needs them.

    The store hands transactions out in sequence (arrival) order; a transaction read before its turn in time
    order waits in a buffer until its turn. So a walk holds about as many transactions as the store is out of
    time order: a few for history loaded from files in time order or scored live, all of them (what history
    cost before it streamed) for a file loaded in random order."""

    def __init__(self, store: GraphStore, seqs: np.ndarray, order: np.ndarray, ts: np.ndarray, label: np.ndarray,
                 known_at: np.ndarray, positions: dict[str, int]):
        self.store = store
        self.seqs = seqs  # int64, ascending: the sequence number of each transaction read, in arrival order
        self.order = order  # int64: for each place in time order, the transaction's place in ``seqs``
        self.ts = ts  # int64 ms, time order
        self.label = label  # int8: 1 fraud, 0 legitimate, -1 unlabelled (the label that wins in the end)
        self.known_at = known_at  # int64 ms, -1 when never labelled
        self._positions = positions  # time-order places of the transactions that label events name
        self._walk: Generator[tuple[int, Transaction], None, None] | None = None
        self._next = 0
        self.most_waiting = 0  # the most transactions a walk held, waiting for their turn in time order
        self.attributes = False  # walks read the transactions' free attributes (the feature_attributes setting)

    def __len__(self) -> int:
        return len(self.ts)

    def position(self, transaction_id: str) -> int | None:
        """Where a transaction named by a label event is in time order (None: not in history)."""
        return self._positions.get(transaction_id)

    def walk(self, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, Transaction]]:
        """``(place, transaction)`` for the places ``start`` to ``stop - 1`` in time order. A walk that starts
        where the last one stopped continues the same read of the store (the backtest's two windows);
        any other start begins a new read. The transactions share their repeated texts."""
        stop = len(self) if stop is None else stop
        if self._walk is None or self._next != start:
            self.close()
            self._walk = self._read_in_time_order(start)
        for _ in range(start, stop):
            i, tx = next(self._walk)
            self._next = i + 1
            yield i, tx
        if stop >= len(self):
            self.close()

    def close(self) -> None:
        """End the store read a walk keeps open between windows. A read left open pins an old snapshot of
        the store: this process could then not commit a write (a model, say) once others had written."""
        if self._walk is not None:
            self._walk.close()
            self._walk = None

    def _read_in_time_order(self, start: int) -> Generator[tuple[int, Transaction], None, None]:
        n = len(self)
        by_arrival = np.empty(n, dtype=np.int64)
        by_arrival[self.order] = np.arange(n)  # arrival index -> place in time order
        place, seqs = _ints(by_arrival), _ints(self.seqs)  # read in place: no object or copy per row
        texts: dict[Any, Any] = {}
        same = texts.setdefault
        waiting: dict[int, Transaction] = {}
        rows = self.store.iter_transactions(seqs[0] - 1 if n else 0, attributes=self.attributes)
        try:
            yield from self._in_order(rows, place, seqs, start, same, waiting)
        finally:
            close = getattr(rows, "close", None)
            if close is not None:
                close()  # the store's cursor, and with it the read

    def _in_order(self, rows: Iterator[tuple[Transaction, int]], place: Sequence[int], seqs: Sequence[int], due: int,
                  same: Callable[[Any, Any], Any],
                  waiting: dict[int, Transaction]) -> Iterator[tuple[int, Transaction]]:
        n, k = len(self), 0
        for tx, seq in rows:
            while k < n and seqs[k] < seq:
                k += 1  # erased since history was read: its place never comes (said at the end)
            if k >= n or seqs[k] != seq:
                continue  # stored after history was read
            p = place[k]
            k += 1
            if p < due:
                continue
            _share_texts(tx, same)
            if p != due:
                waiting[p] = tx
                if len(waiting) > self.most_waiting:
                    self.most_waiting = len(waiting)
                continue
            yield p, tx
            due += 1
            while due in waiting:
                yield due, waiting.pop(due)
                due += 1
        if due < n:
            from .errors import ValidationError

            raise ValidationError(f"Transaction {due:,} of history in time order was not found when reading it "
                                  "back: the store changed (transactions erased) during this run. Run it again.")


def _ints(a: np.ndarray) -> Sequence[int]:
    """An int64 array read as Python ints, in place (a memoryview: no copy, no object per element)."""
    return cast(Sequence[int], np.ascontiguousarray(a, dtype=np.int64).data)


def row_slots(n: int, index: np.ndarray) -> np.ndarray:
    """For each of ``n`` history positions, its row among ``index`` (the positions whose rows are kept), -1
    for the others; int32 (4 bytes a transaction: at ten million, 40 MB against 80 for int64).

    >>> row_slots(5, np.array([1, 3])).tolist()
    [-1, 0, -1, 1, -1]
    """
    slot = np.full(n, -1, dtype=np.int32)
    slot[index] = np.arange(len(index), dtype=np.int32)
    return slot


def flags(a: np.ndarray) -> Callable[[int], bool]:
    """``i -> bool(a[i])`` for a boolean array, read in place (for :func:`replay`'s ``want``): no list of
    millions of references, and faster than indexing the array."""
    return cast(Callable[[int], bool], np.ascontiguousarray(a, dtype=np.bool_).data.__getitem__)


#: The empty attribute and extra-identifier map every history transaction without them shares (read-only).
_NO_FIELDS = cast(dict[str, str], MappingProxyType({}))


def _share_texts(tx: Transaction, same: Callable[[Any, Any], Any]) -> None:
    """Make ``tx`` point at one copy of each repeated text (users, identifiers, currencies, countries...)
    and at the shared empty maps: history's transactions then cost about half the memory."""
    tx.user_id = same(tx.user_id, tx.user_id)
    tx.card_id = same(tx.card_id, tx.card_id)
    tx.device_id = same(tx.device_id, tx.device_id)
    tx.ip = same(tx.ip, tx.ip)
    tx.merchant_id = same(tx.merchant_id, tx.merchant_id)
    tx.currency = same(tx.currency, tx.currency)
    tx.country = same(tx.country, tx.country)
    if tx.counterparty_id is not None:
        tx.counterparty_id = same(tx.counterparty_id, tx.counterparty_id)
    if tx.fraud_type is not None:
        tx.fraud_type = same(tx.fraud_type, tx.fraud_type)
    if tx.auth_result is not None:
        tx.auth_result = same(tx.auth_result, tx.auth_result)
    if not tx.extra:
        tx.extra = _NO_FIELDS
    if not tx.attrs:
        tx.attrs = _NO_FIELDS


def load_history(store: GraphStore, label_delay_ms: int, *, attributes: bool = False) -> History:
    """Read every transaction's time and label, and the store's label events; resolve each transaction's final
    label and when it was known. The transactions are read again, in time order, by :meth:`History.walk`, with
    their free attributes when ``attributes`` (an engine with ``feature_attributes``)."""
    named = {lb.subject_id for _, lb in store.labels() if lb.subject == "transaction"}
    times, seqs, known_l = array("q"), array("q"), array("q")
    labels = array("b")
    found: dict[str, int] = {}
    last = max(store.last_seq(), 1)
    with progress.phase("reading history", unit="transactions") as shown:
        for tx, seq in store.iter_transactions():
            if named and tx.transaction_id in named:
                found[tx.transaction_id] = len(seqs)
            times.append(tx.ts)
            seqs.append(seq)
            if tx.is_fraud is None:
                labels.append(-1)
                known_l.append(-1)
            else:
                labels.append(int(tx.is_fraud))
                known_l.append(tx.labelled_at if tx.labelled_at is not None else tx.ts + label_delay_ms)
            if not len(seqs) % progress.EVERY:
                shown.update(len(seqs), fraction=seq / last)
        shown.update(len(seqs), fraction=1.0)
    n = len(seqs)
    seq_a = np.frombuffer(seqs, np.int64) if n else np.zeros(0, np.int64)
    time_a = np.frombuffer(times, np.int64) if n else np.zeros(0, np.int64)
    order = np.lexsort((seq_a, time_a)) if n else np.zeros(0, np.int64)
    place = np.empty(n, dtype=np.int64)
    place[order] = np.arange(n)
    label = (np.frombuffer(labels, np.int8) if n else np.zeros(0, np.int8))[order].copy()
    known = (np.frombuffer(known_l, np.int64) if n else np.zeros(0, np.int64))[order].copy()
    ts = time_a[order].copy()
    positions = {tid: int(place[k]) for tid, k in found.items()}
    hist = History(store, seq_a.copy(), order, ts, label, known, positions)
    hist.attributes = attributes
    rank = np.where(label >= 0, 0, -1).astype(np.int8)
    for _, lb in store.labels():
        if lb.subject != "transaction":
            continue
        j = hist.position(lb.subject_id)
        if j is None:
            continue
        r = LABEL_SOURCES.index(lb.source) if lb.source in LABEL_SOURCES else 0
        if r >= rank[j]:
            rank[j] = r
            label[j] = int(lb.value)
            known[j] = lb.known_at if lb.known_at is not None else int(ts[j]) + label_delay_ms
    return hist


def queue_store_labels(store: GraphStore, engine: GraphEngine, history: History) -> None:
    """Put the store's label events on the engine's clock (each revealed at its own time)."""
    for _, lb in store.labels():
        default = None
        j = history.position(lb.subject_id) if lb.known_at is None and lb.subject == "transaction" else None
        if j is not None:
            default = int(history.ts[j]) + engine.label_delay_ms
        engine.queue_label(lb, default_known_at=default if default is not None else
                           (lb.known_at if lb.known_at is not None else int(history.ts[-1]) if len(history.ts) else 0))


def replay(store: GraphStore, history: History, engine: GraphEngine, *, start: int = 0, stop: int | None = None,
           want: Callable[[int], bool] = lambda i: True,
           on_row: Callable[[int, Transaction, dict[str, float]], None] | None = None,
           on_values: Callable[[int, Transaction, list[float]], None] | None = None,
           describe: str = "replaying history") -> Iterator[int]:
    """Replay history's transactions ``start`` to ``stop - 1`` (:meth:`History.walk`) through ``engine``.

    For each row ``i`` with ``want(i)``, the features are computed before the transaction is applied and
    handed to ``on_values`` as a list in :func:`~graphfraud.graph.features.row_names` order (the cheap
    form, for filling a matrix) and to ``on_row`` keyed by name. Yields each index after it was applied
    (so a caller can pause, e.g. to train). ``describe`` names the phase in the command's progress.
    """
    stop = len(history) if stop is None else stop
    names = row_names(engine)
    advance, apply = engine.advance, engine.apply
    with progress.phase(describe, total=stop - start, unit="transactions") as shown:
        for i, tx in history.walk(start, stop):
            advance(tx.ts)
            if want(i) and (on_values is not None or on_row is not None):
                row = feature_row(engine, tx)
                if on_values is not None:
                    on_values(i, tx, row)
                if on_row is not None:
                    on_row(i, tx, dict(zip(names, row)))
            apply(tx)
            yield i
            if not (i - start) % progress.EVERY:
                shown.update(i - start)
        shown.update(stop - start)


def feature_matrix(n_rows: int, n_cols: int, shared: bool = False) -> np.ndarray:
    """A float32 matrix of NaN for feature rows; ``shared``: in anonymous shared memory, so processes forked
    from this one see what the parent writes into it later.

    float32 halves a matrix that grows with history, and changes no decision: the boosters' bin edges are
    midpoints between the (float32) values they were fitted on, so a float64 row scored live falls on the same
    side of every split as its float32 copy (exact ties aside)."""
    if not shared:
        return np.full((n_rows, n_cols), np.nan, dtype=np.float32)
    import mmap

    buf = mmap.mmap(-1, max(1, n_rows * n_cols * 4))
    X = np.frombuffer(buf, dtype=np.float32, count=n_rows * n_cols).reshape(n_rows, n_cols)
    X.fill(np.nan)
    return X


class RowFile:
    """Float32 feature rows in a file instead of memory: written in order, a block at a time, by one process
    (the backtest's replay), read back a block at a time by others (its scorers, its decisions).

    A backtest's test rows are a row for every transaction of its test window: 2.8 GB at 10 million
    transactions (3,978,374 rows x 174 columns), which sat in memory beside the replaying engine. In a file they
    cost the processes nothing; the kernel keeps what it can of them in its page cache, which it may drop. The
    file is private, in the temporary folder (``TMPDIR``: put it on a disk, not a RAM file system, for this to
    save memory), and :meth:`close` removes it.

    >>> rows = RowFile(2)
    >>> with rows.writer(total=4) as put:
    ...     put(0, [1.0, 2.0])
    ...     put(2, [5.0, 6.0])  # row 1 never came: NaN, as in an unwritten feature_matrix row
    >>> [r.tolist() for r in rows.each()]
    [[1.0, 2.0], [nan, nan], [5.0, 6.0], [nan, nan]]
    >>> rows.close()
    """

    BLOCK = 65_536  # rows buffered before a write, and read at a time by :meth:`each`

    def __init__(self, n_cols: int):
        self.path = make_file("rows", suffix=".f32")
        self.n_cols = n_cols

    def __len__(self) -> int:
        return os.path.getsize(self.path) // (4 * self.n_cols)

    @contextmanager
    def writer(self, total: int) -> Iterator[Callable[[int, Sequence[float]], None]]:
        """``put(k, row)`` writes row ``k`` (in increasing order; rows skipped are NaN); on leaving, the rows
        up to ``total`` not written are NaN."""
        buf = np.full((self.BLOCK, self.n_cols), np.nan, dtype=np.float32)
        held = written = 0
        with open(self.path, "wb") as fh:
            def flush() -> None:
                nonlocal held, written
                fh.write(buf[:held].tobytes())
                buf.fill(np.nan)
                written, held = written + held, 0

            def put(k: int, row: Sequence[float]) -> None:
                nonlocal held
                if k < written + held:
                    raise ValueError(f"row {k} comes after row {written + held - 1}: rows are written in order")
                while written + held < k:  # rows skipped stay NaN, as the buffer is
                    held += min(k - written - held, self.BLOCK - held)
                    if held == self.BLOCK:
                        flush()
                buf[held] = row
                held += 1
                if held == self.BLOCK:
                    flush()

            yield put
            if written + held < total:
                put(total - 1, [np.nan] * self.n_cols)
            flush()

    def read(self, lo: int, hi: int) -> np.ndarray:
        """Rows ``lo`` to ``hi`` (exclusive), read from the file."""
        return np.fromfile(self.path, dtype=np.float32, count=max(0, hi - lo) * self.n_cols,
                           offset=lo * self.n_cols * 4).reshape(-1, self.n_cols)

    def blocks(self, size: int) -> Iterator[tuple[int, np.ndarray]]:
        """``(first row, rows)`` for every ``size`` rows in order."""
        n = len(self)
        for lo in range(0, n, size):
            yield lo, self.read(lo, min(n, lo + size))

    def each(self) -> Iterator[np.ndarray]:
        """Every row in order (read :attr:`BLOCK` at a time)."""
        for _, block in self.blocks(self.BLOCK):
            yield from block

    def close(self) -> None:
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


@dataclass
class RowDraw:
    """The labelled rows a fit reads: positions in history's time order, and how many rows each stands for."""

    index: np.ndarray  # int64 history positions, ascending
    weight: np.ndarray | None  # one over the rate each row was drawn at; None: every candidate row was kept

    @property
    def rate(self) -> float:
        """The share of legitimate rows kept (1.0 when all were)."""
        return 1.0 if self.weight is None else float(1.0 / self.weight.max())


def draw_rows(candidates: np.ndarray, label: np.ndarray, max_rows: int, seed: int = 0) -> RowDraw:
    """Every candidate row when there are at most ``max_rows``; else every fraud row and the legitimate ones
    drawn at one rate, uniformly over time, so that about ``max_rows`` remain (never fewer than the fraud
    rows and one legitimate row in a thousand).

    ``candidates`` are history positions (ascending) and ``label`` their labels (1 fraud, 0 legitimate)."""
    candidates = np.asarray(candidates, dtype=np.int64)
    if len(candidates) <= max_rows:
        return RowDraw(candidates, None)
    fraud = label == 1
    n_fraud, n_legit = int(fraud.sum()), int((~fraud).sum())
    rate = min(1.0, max(1e-3, (max_rows - n_fraud) / max(n_legit, 1)))
    drawn = fraud | (np.random.RandomState(seed).random_sample(len(candidates)) < rate)
    return RowDraw(candidates[drawn], np.where(fraud[drawn], 1.0, 1.0 / rate))


def fit_classifier(X: Any, y: np.ndarray, times: np.ndarray, draw_weight: np.ndarray | None = None,
                   **params: Any) -> Any:
    """Fit the classifier on point-in-time rows ordered by ``times`` (``draw_weight``: see :func:`draw_rows`).

    One OpenMP thread by default (``GRAPHFRAUD_TRAIN_THREADS``): on a machine shared with serving workers
    and loaders, OpenMP's spinning threads made fits over ten times slower (see bench/README.md).

    The boosters learn from every fraud row and half the legitimate ones (``negative_fraction=0.5``; the
    calibrator still sees every row of its slice): on the 1M-transaction backtest fits took 0.57 of the
    time for an average precision of 0.878 instead of 0.882.
    """
    from . import settings
    from .classifier import GraphFraudClassifier

    params.setdefault("n_threads", settings.get("train_threads"))
    params.setdefault("max_iter", 150)
    params.setdefault("l2_regularization", 1.0)
    params.setdefault("min_samples_leaf", 50)
    params.setdefault("random_state", 0)
    params.setdefault("negative_fraction", 0.5)
    params.setdefault("refit", True)  # the latest rows hold the newest ring patterns: AP 0.80 without, 0.86 with
    return GraphFraudClassifier(**params).fit(X, y, sample_time=times, draw_weight=draw_weight)


#: A field counts as one a model learnt from when at least this share of its training rows carry it.
FIELD_SHARE = 0.01


def fields_learnt(counts: Counter[str], n_rows: int) -> list[str]:
    """The input fields (:meth:`~graphfraud.schema.Transaction.present_fields`, counted over the ``n_rows``
    training transactions) that at least :data:`FIELD_SHARE` of them carry, in order of first appearance."""
    floor = FIELD_SHARE * max(n_rows, 1)
    return [f for f, c in counts.items() if c >= floor]


@long_lived()
def train_model(store: GraphStore, *, overrides: Mapping[str, Any] | None = None, promote: bool = True,
                holdout_fraction: float = 0.2, log: Callable[[str], None] = lambda s: None,
                apart: bool = True) -> dict[str, Any]:
    """Train new model versions from the store's history, as of each transaction's time.

    The transaction model learns from every labelled transaction, each with the label that wins in the end
    (all of history is past); metrics come from a time split (fitted on the earlier ``1 - holdout_fraction``
    of labelled rows, measured on the rest), then it is refitted on all of them. The account model
    (:mod:`graphfraud.suspects`) learns from the accounts known as fraud once all history is replayed; it
    needs no transaction label. Either may be missing for lack of labels, not both.

    ``apart``: replay history in a forked process (:func:`~graphfraud.memory.run_apart`), so the fits that
    follow do not sit on top of the engine's memory; ``False`` replays here (the same rows and models).

    Returns the transaction model's summary (``version`` None when there was none to train) with the
    account model's under ``accounts``.
    """
    from .errors import ModelNotReady
    from .suspects import keep_accounts

    from . import settings

    t0 = time.perf_counter()
    engine = new_engine(overrides)  # empty here: the replay fills it (in the process that runs the replay)
    hist = load_history(store, engine.label_delay_ms, attributes=bool(engine.feature_attributes))
    if not len(hist):
        raise ModelNotReady("The store holds no transactions; load some before training.")
    names = row_names(engine)
    labelled = np.flatnonzero(hist.label >= 0)
    draw = draw_rows(labelled, hist.label[labelled], int(settings.get("train_max_rows", overrides)))
    n_labelled = len(labelled)
    del labelled  # 8 bytes a transaction that the replay (forked next) would carry for nothing
    ia = draw.index
    rows = feature_matrix(len(ia), len(names), shared=apart)

    def work(say: Callable[[str], None]) -> tuple[Counter[str], tuple[Any, dict[str, Any]] | None]:
        if apart:
            store.after_fork()
        return _replay_for_training(store, hist, engine, draw, n_labelled, rows, say)

    # the engine is most of the process at 10 million transactions, and the transaction model's fits need only
    # the matrix: the replay (and the account model, which needs the engine) runs in a process of its own,
    # whose memory all goes back to the system when it ends
    fields, accounts = run_apart(work, "replaying history for training", log) if apart else work(log)
    log(f"features for {len(ia):,} labelled transactions and the account model in {time.perf_counter() - t0:.1f} s")
    label_delay_ms = engine.label_delay_ms
    del engine
    y = hist.label[ia].astype(int)
    out: dict[str, Any] = {"version": None, "promoted": False}
    if 0 < y.sum() < len(y):
        out = _train_transactions(store, rows, names, y, hist, draw, fields_learnt(fields, len(ia)),
                                  label_delay_ms, promote, holdout_fraction, log)
    else:
        out["skipped"] = (f"no transaction model: training it needs both fraud and legitimate labels; the store "
                          f"has {int(y.sum())} fraud of {len(y)} labelled transactions")
        log(out["skipped"])
    out["accounts"] = keep_accounts(store, accounts)
    if out["version"] is None and out["accounts"] is None:
        raise ModelNotReady("Nothing to train: the store has neither fraud and legitimate transaction labels "
                            "nor accounts known as fraud. Load labelled transactions or label accounts with "
                            "`graphfraud label` (user_id,user_label).")
    return out


def _replay_for_training(store: GraphStore, hist: History, engine: GraphEngine, draw: RowDraw, n_labelled: int,
                         rows: np.ndarray, log: Callable[[str], None]
                         ) -> tuple[Counter[str], tuple[Any, dict[str, Any]] | None]:
    """Replay all of history through ``engine``, writing the drawn rows' features into ``rows``; then, every
    label known, fit the account model on the engine. Returns the input fields the drawn rows carried and
    the account model (:func:`~graphfraud.suspects.fit_account_model`)."""
    from .suspects import fit_account_model

    queue_store_labels(store, engine, hist)
    slot = row_slots(len(hist), draw.index)
    wanted = slot >= 0
    fields: Counter[str] = Counter()

    def keep(i: int, tx: Transaction, row: list[float]) -> None:
        rows[slot[i]] = row
        fields.update(tx.present_fields())

    drawn = "" if draw.weight is None else f", {len(draw.index):,} of them drawn"
    for _ in replay(store, hist, engine, want=flags(wanted), on_values=keep,
                    describe=f"replaying history ({n_labelled:,} labelled{drawn})"):
        pass
    with progress.phase("revealing every label"):
        engine.reveal_all()  # the account model ranks accounts as of now, every label known
        engine.take_snapshot(int(engine.clock))
    engine.forget_transactions()  # its large arrays go back before the account model's are made
    return fields, fit_account_model(engine, log=log)


def _train_transactions(store: GraphStore, rows: np.ndarray, names: list[str], y: np.ndarray, hist: History,
                        draw: RowDraw, fields: list[str], label_delay_ms: int, promote: bool, holdout_fraction: float,
                        log: Callable[[str], None]) -> dict[str, Any]:
    import pandas as pd
    from sklearn.metrics import average_precision_score, roc_auc_score

    from .models import promote as promote_version
    from .models import save_model

    t0 = time.perf_counter()
    ia, w = draw.index, draw.weight
    X = pd.DataFrame(rows, columns=names, copy=False)
    times = hist.ts[ia]
    # the holdout is the latest holdout_fraction of the labelled rows (of their weight, when drawn)
    cut = int(len(y) * (1 - holdout_fraction)) if w is None else \
        int(np.searchsorted(np.cumsum(w), (1 - holdout_fraction) * w.sum()))
    metrics: dict[str, Any] = {"n_rows": int(len(y)) if w is None else int(round(w.sum())), "n_fraud": int(y.sum())}
    if w is not None:
        metrics.update(rows_drawn=int(len(y)), legitimate_rate=round(draw.rate, 6))
    if 0 < y[cut:].sum() < len(y) - cut and y[:cut].sum() > 0:
        with progress.phase(f"fitting the holdout model on {cut:,} rows"):
            m = fit_classifier(X.iloc[:cut], y[:cut], times[:cut], None if w is None else w[:cut])
            p = m.predict_proba(X.iloc[cut:])[:, 1]
        wh = None if w is None else w[cut:]
        metrics.update(holdout_average_precision=round(float(average_precision_score(y[cut:], p, sample_weight=wh)), 4),
                       holdout_roc_auc=round(float(roc_auc_score(y[cut:], p, sample_weight=wh)), 4),
                       holdout_rows=int(len(y) - cut))
    with progress.phase(f"fitting the model on {len(y):,} rows"):
        clf = fit_classifier(X, y, times, w)
    meta = {"features": clf.used_features_, "absent_features": clf.dropped_features_,
            "fields": fields,
            "training_window": [int(times.min()), int(times.max())], "metrics": metrics,
            "label_delay_ms": label_delay_ms}
    version = save_model(store, clf, meta)
    held_back = _no_better_than_chance(metrics) if promote else None
    if promote and held_back is None:
        promote_version(store, version)
    log(f"model {version} trained in {time.perf_counter() - t0:.1f} s: {metrics}")
    out = {"version": version, "promoted": promote and held_back is None, **meta}
    if held_back is not None:
        out["not_promoted"] = f"{held_back}; `graphfraud model promote {version}` serves it anyway"
    return out


def _no_better_than_chance(metrics: Mapping[str, Any]) -> str | None:
    """Why a model must not be promoted at once: its holdout ranks fraud no better than chance (a ROC-AUC of
    0.5 or less, which inverted or mismapped labels give), else None."""
    auc = metrics.get("holdout_roc_auc")
    if auc is None or auc > 0.5:
        return None
    return (f"its holdout ROC-AUC is {auc}, no better than chance: check the labels (inverted, or the wrong "
            "column or values in the mapping's [labels]), and whether the signal is in columns the model does "
            "not read (attributes: the feature_attributes setting lists those it learns from)")
