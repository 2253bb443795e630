"""Bulk loading of transactions: file -> chunks -> mapping -> validation -> store, one atomic write per chunk."""
from __future__ import annotations

import contextlib
import os
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd

from graphfraud import progress as gf_progress
from graphfraud import settings
from graphfraud.schema import CANONICAL, Transaction, validate_frame
from graphfraud.storage.base import frame_to_transactions, link_rows, merge_link_totals, sort_link_totals
from graphfraud.storage.roles import GraphStore

from .linkruns import LinkRuns
from .mapping import Mapping, load_mapping
from .readers import ChunkReader, base_name
from .rejects import RejectWriter


#: Labelled rows a load needs before it warns that most of them say fraud.
MAJORITY_CHECK_ROWS = 20


@dataclass
class LoadSummary:
    """What a load did. ``inserted + duplicates + labelled + rejected + conflicts == rows_read``.

    ``rejects_path`` is ``None`` when no row was rejected (no file is written then).
    """

    rows_read: int = 0
    inserted: int = 0
    duplicates: int = 0
    labelled: int = 0
    rejected: int = 0
    conflicts: int = 0
    seconds: float = 0.0
    rejects_path: Path | None = None
    warnings: list[str] = field(default_factory=list)
    #: labels of the rows that passed validation (stored, already stored, or conflicts): fraud, not fraud
    fraud_labels: int = 0
    legit_labels: int = 0
    #: label values the mapping's ``[labels]`` does not list, with their rows (loaded unlabelled)
    unlisted_labels: Counter[str] = field(default_factory=Counter)
    #: the first rejected row's number and reason (``row N: reason``), when a row was rejected
    first_reject: str | None = None

    @property
    def rows_per_second(self) -> float:
        return self.rows_read / self.seconds if self.seconds > 0 else 0.0

    def __str__(self) -> str:
        s = (f"{self.rows_read:,} rows read: {self.inserted:,} inserted, {self.duplicates:,} duplicates, "
             f"{self.labelled:,} labels added to stored rows, {self.rejected:,} rejected, {self.conflicts:,} "
             f"conflicts in {self.seconds:.1f} s ({self.rows_per_second:,.0f} rows/s); labels read: "
             f"{self.fraud_labels:,} fraud, {self.legit_labels:,} not fraud")
        if self.rejects_path is not None:
            s += f"; rejects in {self.rejects_path}"
        return s + "."

    def label_warnings(self, label_column: str | None) -> list[str]:
        """What the labels read suggest is wrong with the file or its mapping: values ``[labels]`` does not
        list (``label_column``: the mapping's), or fraud as the majority (labels inverted?).

        >>> s = LoadSummary(fraud_labels=990, legit_labels=10, unlisted_labels=Counter({"true": 7}))
        >>> for w in s.label_warnings("isFraud"): print(w)
        7 rows have a value of the label column 'isFraud' that the mapping's [labels] does not list ('true' 7): they were loaded unlabelled; map every value the column holds (for example fraud = 1 and legit = 0)
        990 of the 1,000 labelled rows (99.0 %) say fraud, where fraud is usually rare: check that the labels are not inverted (the mapping's [labels] values, or the file's is_fraud)
        """
        out = []
        if self.unlisted_labels:
            shown = ", ".join(f"{v!r} {n:,}" for v, n in self.unlisted_labels.most_common(5))
            more = f" and {len(self.unlisted_labels) - 5:,} more values" if len(self.unlisted_labels) > 5 else ""
            out.append(f"{sum(self.unlisted_labels.values()):,} rows have a value of the label column "
                       f"{label_column!r} that the mapping's [labels] does not list ({shown}{more}): they were "
                       "loaded unlabelled; map every value the column holds (for example fraud = 1 and legit = 0)")
        n = self.fraud_labels + self.legit_labels
        if n >= MAJORITY_CHECK_ROWS and self.fraud_labels > n / 2:
            out.append(f"{self.fraud_labels:,} of the {n:,} labelled rows ({100 * self.fraud_labels / n:.1f} %) say "
                       "fraud, where fraud is usually rare: check that the labels are not inverted (the "
                       "mapping's [labels] values, or the file's is_fraud)")
        return out


def file_extra_types(mp: Mapping | None) -> tuple[str, ...]:
    """The extra identifier types a file is read with: its mapping's, or without one the link types beyond the
    built-in fields (``email``, ``phone``, ``address``, ...), as the API takes them."""
    return mp.extra_types if mp is not None else settings.extra_link_types()


def unread_columns(columns: list[str], extra_types: tuple[str, ...]) -> list[str]:
    """Warnings for the columns of a file without a mapping that are kept as attributes but are named like a
    field or identifier type in another case or spelling (``Email``, ``Card ID``): they would be read if named
    as the field is.

    >>> for w in unread_columns(["transaction_id", "Email", "Card ID", "note"], ("email",)): print(w)
    column 'Email' is kept as an attribute; name it 'email' to read it as that field
    column 'Card ID' is kept as an attribute; name it 'card_id' to read it as that field
    """
    known = (*CANONICAL, *extra_types)
    by_key = {k.replace("_", ""): k for k in known}
    out = []
    for c in columns:
        want = by_key.get("".join(ch for ch in str(c).lower() if ch.isalnum()))
        if want is not None and c != want and c not in known:
            out.append(f"column {c!r} is kept as an attribute; name it {want!r} to read it as that field")
    return out


def default_rejects_path(path: str | os.PathLike[str]) -> Path:
    """``<input name>.rejects.csv`` in the current directory (``data/tx.csv.gz`` -> ``tx.rejects.csv``,
    ``tx.parquet`` -> ``tx.parquet.rejects.csv``, ``tx.jsonl.gz`` -> ``tx.jsonl.rejects.csv``).

    >>> [default_rejects_path(p).name for p in ("data/tx.csv.gz", "tx.parquet", "tx.jsonl.gz", "TX.CSV")]
    ['tx.rejects.csv', 'tx.parquet.rejects.csv', 'tx.jsonl.rejects.csv', 'TX.rejects.csv']
    """
    return Path.cwd() / f"{base_name(path)}.rejects.csv"


def load_file(path: str | os.PathLike[str], store: GraphStore, *, mapping: str | os.PathLike[str] | Mapping | dict[str, Any]
              | None = None, rejects_path: str | os.PathLike[str] | None = None, chunk_size: int | None = None,
              progress: Callable[[int, float | None], None] | bool | None = None, fold_links: bool = True) -> LoadSummary:
    """Load a CSV, gzip CSV, Parquet or JSON-lines file of transactions into ``store``, chunk by chunk.

    Each chunk is read as text, mapped (when a mapping is given), validated by
    :func:`graphfraud.schema.validate_frame` and written with ``store.write_transactions`` in one atomic
    write; memory is bounded by ``chunk_size``, not by the file. A bad row never stops the load: it goes
    to the rejects file with its reason and original fields. Rows whose id is stored already with other
    content (conflicts) go there too.

    Parameters
    ----------
    path : path-like
        The file; its format comes from the name (``.csv``, ``.csv.gz``/``.gz``, ``.parquet``,
        ``.jsonl``/``.ndjson``, optionally ``.gz``).
    store : GraphStore
        An open store (:func:`graphfraud.storage.open_store`).
    mapping : str, path-like, Mapping or dict, optional
        A shipped mapping's name (``"aws_transactions"``), a TOML mapping file, or a parsed mapping;
        without one the file must use the canonical column names, and other columns become attributes.
    rejects_path : path-like, optional
        Where rejected rows go; default ``<input name>.rejects.csv`` in the current directory. Written only
        when there are rejects.
    chunk_size : int, optional
        Rows per chunk (one atomic write); default the ``chunk_size`` setting (100,000).
    progress : callable, bool or None
        ``progress(rows_read, fraction)`` after each chunk, ``fraction`` being the share of the file read (0
        to 1, or ``None`` when it cannot be told); ``None`` reports through the command's
        :func:`graphfraud.progress.reporting` when one is on, else draws a bar when standard error is a
        terminal; ``False`` is always silent.
    fold_links : bool, default True
        Fold the new transactions into the link table at the end. ``False`` leaves it to the first reader of
        links (every reader folds what is behind first): a backtest's temporary store never reads them.

    Returns
    -------
    LoadSummary
        Counts, time taken and the rejects path.

    Raises
    ------
    graphfraud.errors.ValidationError
        With ``code="missing_column"`` when a required column is missing (before anything is written),
        ``"empty_file"`` for a file without even a header, ``"unknown_format"`` or ``"unreadable_file"``.
    graphfraud.errors.ConfigError
        When the mapping cannot be found or makes no sense.

    Notes
    -----
    Row numbers in the rejects file are 1-based data rows: the header is not a row, and a quoted field
    spanning several lines is still one row; in JSON lines they are line numbers. A CSV record with
    more or fewer fields than the header cannot be placed among the parsed rows by the parser, so it is
    rejected with an empty row number and its text in the reason.

    Examples
    --------
    >>> import tempfile, os
    >>> from graphfraud.storage import open_store
    >>> d = tempfile.mkdtemp()
    >>> with open(os.path.join(d, "tx.csv"), "w") as f:
    ...     _ = f.write("transaction_id,timestamp,user_id,amount\\nt1,2026-01-02 10:00:00,u1,12.5\\n")
    >>> store = open_store(os.path.join(d, "gf.db"))
    >>> load_file(os.path.join(d, "tx.csv"), store, progress=False).inserted
    1
    >>> store.close()
    """
    started = time.perf_counter()
    mp = load_mapping(mapping) if mapping is not None else None
    size = int(chunk_size if chunk_size is not None else settings.get("chunk_size"))
    max_id = int(settings.get("max_id_length"))
    reader = ChunkReader(path, size)
    out = RejectWriter(rejects_path if rejects_path is not None else default_rejects_path(path))
    if progress is True:  # the same as leaving it out; False is none
        progress = None
    shown = contextlib.ExitStack()
    if progress is None:
        if not gf_progress.is_reporting():  # a library caller on a terminal still sees the bar
            shown.enter_context(gf_progress.reporting("load", plain=False))
        bar = shown.enter_context(gf_progress.phase(f"loading {Path(path).name}", unit="rows"))
    summary = LoadSummary()
    extra_types = file_extra_types(mp)
    first = True
    # one writer thread: while it writes chunk k (SQLite and the Neo4j driver wait without the GIL), this
    # thread reads and validates chunk k+1; results and rejects are still accounted in file order
    writer = ThreadPoolExecutor(1, thread_name_prefix="graphfraud-load-writer")
    pending: _Pending | None = None
    links = _LinkFold(store)
    totals = fold_links and links.enabled
    deferred = False  # the store's secondary indexes are built at the end (a first load)
    try:
        for chunk in reader:
            if first:
                if reader.format == "jsonl" and not len(chunk.frame.columns) and not chunk.rejects:
                    break  # no records at all: nothing to check or load
                if mp is not None:
                    summary.warnings.extend(mp.check_columns(reader.columns))
                else:
                    summary.warnings.extend(unread_columns(list(reader.columns), extra_types))
            summary.rows_read += chunk.n_records
            prepared = None
            if len(chunk.frame) or first:  # an empty first chunk still has its header checked
                prepared = _prepare_chunk(chunk.frame, chunk.rows, mp, extra_types, max_id, totals)
            if pending is not None:
                pending.finish(out, summary, links)
                pending = None
            if prepared is not None:
                if not deferred and len(prepared.good):  # a chunk passed validation: rows will be written
                    deferred = store.begin_bulk_load()
                pending = prepared.submit(writer, store, out, summary)
            if chunk.rejects:
                rows, reasons, texts = zip(*chunk.rejects)
                out.write_raw(rows, reasons, texts, reader.columns)
                summary.rejected += len(chunk.rejects)
                summary.first_reject = summary.first_reject or \
                    f"{'a record' if rows[0] is None else f'row {rows[0]}'}: {reasons[0]}"
            first = False
            if progress is None:
                bar.update(summary.rows_read, fraction=reader.fraction())
            elif callable(progress):
                progress(summary.rows_read, reader.fraction())
        if pending is not None:
            pending.finish(out, summary, links)
            pending = None
        if deferred:  # the writer builds the indexes while this thread adds up the links
            built = writer.submit(store.end_bulk_load)
            deferred = False
            if fold_links:
                links.merge()
            built.result()
    except BaseException:
        links.close()
        raise
    finally:
        writer.shutdown(wait=True)  # a chunk being written is committed or rolled back, never cut
        out.close()
        if deferred:  # stopped by an error: the indexes still get built, unless the user interrupted
            with contextlib.suppress(Exception):  # the error in flight is the one to report
                store.end_bulk_load(build=isinstance(sys.exc_info()[1], Exception))
        shown.__exit__(*sys.exc_info())  # the phase ends as done, or stopped by the error in flight
    if fold_links:  # fold the new transactions into the links once, at the end
        with gf_progress.phase("folding links") if progress is None else gf_progress.SILENT:
            links.finish()
    summary.warnings.extend(summary.label_warnings(mp.label_column if mp is not None else None))
    if out.dropped_columns:
        summary.warnings.append("columns first seen after the first reject are not in the rejects file: "
                                + ", ".join(sorted(out.dropped_columns)))
    summary.rejects_path = out.path if out.written else None
    summary.seconds = time.perf_counter() - started
    return summary


def read_transactions(path: str | os.PathLike[str], *, mapping: Any = None, chunk_size: int | None = None
                      ) -> Iterator[Transaction | tuple[int, str, str]]:
    """Read a file like :func:`load_file` but yield each valid row as a :class:`Transaction` (in file
    order) and each bad row as ``(row, reason, transaction_id)``, without writing anything: for scoring
    a file through the online path (``graphfraud score``)."""
    mp = load_mapping(mapping) if mapping is not None else None
    size = int(chunk_size if chunk_size is not None else settings.get("chunk_size"))
    max_id = int(settings.get("max_id_length"))
    extra_types = file_extra_types(mp)
    for chunk in ChunkReader(path, size):
        for row, reason, _text in chunk.rejects:
            yield (int(row) if row is not None else 0, reason, "")
        if not len(chunk.frame):
            continue
        canon, map_errors = mp.apply(chunk.frame, chunk.rows) if mp is not None else (chunk.frame, {})
        good, rejects = validate_frame(canon, extra_types=extra_types, max_id_length=max_id, first_row=1)
        bad = {r - 1: why for r, why in rejects}
        for pos, why in map_errors.items():
            bad[pos] = why
        ids = canon["transaction_id"].tolist() if "transaction_id" in canon.columns else [""] * len(canon)
        by_pos = dict(zip((good["row"].to_numpy() - 1).tolist(), frame_to_transactions(good)))
        for pos in range(len(canon)):
            if pos in bad:
                yield (int(chunk.rows[pos]), bad[pos], str(ids[pos] or ""))
            elif pos in by_pos:
                yield by_pos[pos]


@dataclass
class _Prepared:
    """A mapped and validated chunk: the rows to write and the rejects to report."""

    frame: pd.DataFrame
    rows: np.ndarray
    good: pd.DataFrame
    reasons: dict[int, list[str]]
    totals: Any = None  # the good rows' links (graphfraud.storage.base.link_rows), when wanted
    labels: tuple[int, int] = (0, 0)  # the good rows' fraud and not-fraud labels
    unlisted: dict[str, int] = field(default_factory=dict)  # Mapping.unlisted_labels of the chunk

    def submit(self, writer: ThreadPoolExecutor, store: GraphStore, out: RejectWriter, summary: LoadSummary
               ) -> _Pending | None:
        """Report the rejects, then start writing the good rows (``None`` when there are none)."""
        summary.fraud_labels += self.labels[0]
        summary.legit_labels += self.labels[1]
        summary.unlisted_labels.update(self.unlisted)
        if self.reasons:
            pos = sorted(self.reasons)
            why = ["; ".join(dict.fromkeys(self.reasons[p])) for p in pos]
            out.write(self.frame, pos, [int(self.rows[p]) for p in pos], why)
            summary.rejected += len(pos)
            summary.first_reject = summary.first_reject or f"row {int(self.rows[pos[0]])}: {why[0]}"
        if not len(self.good):
            return None
        return _Pending(writer.submit(store.write_transactions, self.good), self.frame, self.rows, len(self.good),
                        self.totals)


@dataclass
class _Pending:
    """A chunk being written by the writer thread."""

    future: Future[Any]
    frame: pd.DataFrame
    rows: np.ndarray
    n: int
    totals: Any

    def finish(self, out: RejectWriter, summary: LoadSummary, links: _LinkFold) -> None:
        """Wait for the write (its error is raised here) and account for every row of it."""
        res = self.future.result()
        links.add(self.totals, res, self.n)
        summary.inserted += res.inserted
        summary.duplicates += res.duplicates
        summary.labelled += res.labelled
        if res.conflicts:
            nums = [int(r) for r, _ in res.conflicts]
            pos = np.searchsorted(self.rows, nums).tolist()
            out.write(self.frame, pos, nums, [f"conflict: {why}" for _, why in res.conflicts])
            summary.conflicts += len(res.conflicts)


def _prepare_chunk(frame: pd.DataFrame, rows: np.ndarray, mp: Mapping | None, extra_types: tuple[str, ...],
                   max_id: int, totals: bool = False) -> _Prepared:
    """Map and validate one chunk; every row ends up in ``good`` or in ``reasons``."""
    if mp is not None:
        canon, map_errors = mp.apply(frame, rows)
    else:
        canon, map_errors = frame, {}
    # validate by position (1..n) and renumber afterwards: the chunk's rows need not be contiguous
    good, rejects = validate_frame(canon, extra_types=extra_types, max_id_length=max_id, first_row=1)
    reasons: dict[int, list[str]] = {pos: [why] for pos, why in map_errors.items()}
    for r, why in rejects:
        if r - 1 in map_errors:  # a field the mapping could not read is not "required" a second time
            said = map_errors[r - 1].split("; ")
            why = "; ".join(p for p in why.split("; ") if not (p.endswith(" is required") and any(
                m.startswith(p[:-len("is required")]) for m in said)))
            if not why:
                continue
        reasons.setdefault(r - 1, []).append(why)
    if map_errors and len(good):
        good = good[~np.isin(good["row"].to_numpy() - 1, list(map_errors))].reset_index(drop=True)
    labels = (0, 0)
    if len(good):
        good["row"] = rows[good["row"].to_numpy() - 1]
        flag = good["is_fraud"]
        labels = (int((flag == 1).sum()), int((flag == 0).sum()))
    return _Prepared(frame, rows, good, reasons, link_rows(good) if totals and len(good) else None, labels,
                     mp.unlisted_labels(frame) if mp is not None else {})


class _LinkFold:
    """The link totals of a run of chunks that were stored whole, one after another, folded into the
    store's links in one sorted upsert (``store.fold_link_totals``) instead of re-reading ``tx``.

    A chunk that was not stored whole (duplicates, conflicts, labels added to stored rows) or a gap in the
    sequence (another process wrote in between) ends the run: what was gathered is folded, and the rows the
    totals do not cover are folded from ``tx`` by the store. Stores whose writes keep their links
    (``folds_link_totals`` false: Neo4j) are handed nothing. Past ``MAX_ROWS`` gathered rows they are merged;
    if still more than half of that, they go to disk (:class:`loaders.linkruns.LinkRuns`) and memory stays
    bounded; the run is then folded range by range of the link key, each link once, in the order of the
    store's index.
    """

    MAX_ROWS = 4_000_000  # gathered link rows (about 60 bytes each) before they are merged, and spilled if still

    def __init__(self, store: GraphStore):
        self.store = store
        self.enabled = store.folds_link_totals
        self.tables: list[Any] = []
        self.rows = 0
        self.first = self.last = 0
        self.merged = False  # tables is one merged table
        self.runs = LinkRuns()

    def add(self, totals: Any, res: Any, n: int) -> None:
        whole = totals is not None and res.inserted == n and not (res.duplicates or res.labelled or res.conflicts)
        if (self.tables or self.runs.runs) and (not whole or res.first_seq != self.last + 1):
            self.fold()
        if not whole:
            return
        if not self.tables and not self.runs.runs:
            self.first = res.first_seq
        self.tables.append(totals)
        self.merged = False
        self.last = res.last_seq
        self.rows += len(totals)
        if self.rows > self.MAX_ROWS:
            self.merge()
            if self.rows > self.MAX_ROWS // 2:  # half as many
                self._spill()

    def merge(self) -> None:
        """Add up what was gathered into one table, one row a link (Arrow works without the GIL: a load does
        this while its writer thread builds the store's indexes)."""
        if self.tables and not self.merged:
            self.tables = [merge_link_totals(self.tables, sort=False)]
            self.rows = len(self.tables[0])
            self.merged = True

    def fold(self) -> None:
        try:
            if self.runs.runs:
                if self.tables:
                    self._spill()
                self.store.fold_link_totals(self.runs.parts(), self.first, self.last)
            elif self.tables:
                self.merge()
                self.store.fold_link_totals(sort_link_totals(self.tables[0]), self.first, self.last)
        finally:
            self.close()

    def _spill(self) -> None:
        """What is gathered, merged, to disk as one more run."""
        self.merge()
        self.runs.write(self.tables[0])
        self.tables, self.rows, self.merged = [], 0, False

    def close(self) -> None:
        """Forget what was gathered (the files too)."""
        self.runs.close()
        self.tables, self.rows, self.merged = [], 0, False

    def finish(self) -> None:
        """Fold everything stored (what was gathered, and anything else behind the watermark)."""
        self.fold()
        self.store.refresh_links()
