"""The embedded store: one SQLite file in WAL mode, the default.

Why SQLite (figures in ``docs/storage.md``): it is one file with no server, several processes can read
while one writes (WAL), a transaction is all-or-nothing across ``kill -9`` and power loss, and a bulk
chunk of 100,000 rows commits in a fraction of a second. DuckDB loads faster but lets only one process
open a file for writing and blocks readers in other processes while it does, which breaks server workers
reading during a load.

Layout: ``tx`` (one row per transaction, ``seq`` is the rowid), ``label`` (label events), ``link``
(user-entity links with first/last seen and count), ``decision`` (score records), ``model``, ``event``
(model changes, erasures), ``meta`` (the sequence counter and small settings). The registry tables
(rings, cases, users, API keys, audit) are in :mod:`graphfraud.storage.registry`.
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

from ..errors import Conflict, NotFound, StorageError
from ..output import create_private, tighten
from ..schema import ENTITY_COLUMNS, LABEL_SOURCES, MORE_FIELDS, Label, Transaction
from .base import (LINK_TOTAL_COLUMNS, TRANSFER_COLUMNS, TRANSFER_ROW_COLUMNS, TRANSFER_TOTAL_COLUMNS, TX_COLUMNS,
                   Event, WriteResult, load_record, same_value, to_json, transaction_from_row, transactions_from_rows)
from .bulkindex import BulkIndexMixin
from .registry import RegistryMixin
from .txframe import mapped_reads, transfer_sums, tx_frame, users_frame

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tx(
  seq INTEGER PRIMARY KEY, transaction_id TEXT NOT NULL, ts INTEGER NOT NULL, user_id TEXT NOT NULL,
  amount REAL NOT NULL, card_id TEXT, device_id TEXT, ip TEXT, merchant_id TEXT, currency TEXT,
  country TEXT, is_fraud INTEGER, labelled_at INTEGER, extra TEXT, attrs TEXT, counterparty_id TEXT,
  fraud_type TEXT, auth_result TEXT, decline_reason TEXT);
CREATE UNIQUE INDEX IF NOT EXISTS tx_id ON tx(transaction_id);
CREATE INDEX IF NOT EXISTS tx_user ON tx(user_id);
CREATE INDEX IF NOT EXISTS tx_counterparty ON tx(counterparty_id) WHERE counterparty_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS link(
  type TEXT NOT NULL, entity_id TEXT NOT NULL, user_id TEXT NOT NULL, first_seen INTEGER, last_seen INTEGER,
  n INTEGER NOT NULL, PRIMARY KEY(type, entity_id, user_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS label(
  seq INTEGER PRIMARY KEY, subject TEXT NOT NULL, subject_id TEXT NOT NULL, value TEXT NOT NULL,
  known_at INTEGER, source TEXT NOT NULL, created_at INTEGER NOT NULL, fraud_type TEXT);
CREATE INDEX IF NOT EXISTS label_subject ON label(subject, subject_id);
CREATE TABLE IF NOT EXISTS decision(
  seq INTEGER PRIMARY KEY, transaction_id TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL, score REAL,
  decision TEXT, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS model(
  version TEXT PRIMARY KEY, created_at INTEGER NOT NULL, status TEXT NOT NULL, meta TEXT NOT NULL,
  sha256 TEXT NOT NULL, blob BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS event(seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, data TEXT NOT NULL);
"""
SCHEMA_VERSION = "3"
#: Version 1 stores gain these columns when first opened for writing (``ALTER TABLE ... ADD COLUMN``).
_MIGRATE_2 = [f"ALTER TABLE tx ADD COLUMN {c} TEXT" for c in MORE_FIELDS] + [
    "ALTER TABLE label ADD COLUMN fraud_type TEXT"]
#: Version 2 stores gain the index that finds the transfers a user received (only rows with a counterparty).
_MIGRATE_3 = ["CREATE INDEX IF NOT EXISTS tx_counterparty ON tx(counterparty_id) WHERE counterparty_id IS NOT NULL"]
_LABEL_COLUMNS = "seq, subject, subject_id, value, known_at, source, created_at, fraud_type"

_LINK_SQL = """INSERT INTO link(type, entity_id, user_id, first_seen, last_seen, n)
SELECT '{typ}', {col}, user_id, MIN(ts), MAX(ts), COUNT(*) FROM tx
WHERE seq BETWEEN ? AND ? AND {col} IS NOT NULL GROUP BY {col}, user_id
ON CONFLICT(type, entity_id, user_id) DO UPDATE SET first_seen = MIN(first_seen, excluded.first_seen),
  last_seen = MAX(last_seen, excluded.last_seen), n = n + excluded.n"""
# the column names come from the fixed ENTITY_COLUMNS table, never from input
_LINK_STATEMENTS = [_LINK_SQL.format(typ=t, col=c) for c, t in ENTITY_COLUMNS.items()]
_LINK_EXTRA = """INSERT INTO link(type, entity_id, user_id, first_seen, last_seen, n)
SELECT j.key, j.value, tx.user_id, MIN(tx.ts), MAX(tx.ts), COUNT(*) FROM tx, json_each(tx.extra) AS j
WHERE tx.seq BETWEEN ? AND ? AND tx.extra IS NOT NULL GROUP BY j.key, j.value, tx.user_id
ON CONFLICT(type, entity_id, user_id) DO UPDATE SET first_seen = MIN(first_seen, excluded.first_seen),
  last_seen = MAX(last_seen, excluded.last_seen), n = n + excluded.n"""
_UPSERT_LINK = """INSERT INTO link(type, entity_id, user_id, first_seen, last_seen, n) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT(type, entity_id, user_id) DO UPDATE SET first_seen = MIN(first_seen, excluded.first_seen),
  last_seen = MAX(last_seen, excluded.last_seen), n = n + excluded.n"""
#: Scored transactions are folded into ``link`` in ranges of this many events (or by the next reader,
#: through :meth:`EmbeddedStore.refresh_links`): four grouped upserts per range instead of four per score
#: halve the pages a scoring commit writes.
LINK_FOLD_EVERY = 256
_INSERT_TX = f"INSERT OR IGNORE INTO tx({', '.join(TX_COLUMNS)}) VALUES ({', '.join('?' * len(TX_COLUMNS))})"
_SELECT_TX = f"SELECT {', '.join(TX_COLUMNS)} FROM tx"
#: An identifier used by this many users is read by one scan of the table (see ``transactions_of``).
HUB_SCAN_USERS = 2_000
_SELECT_TX_NO_ATTRS = f"SELECT {', '.join(TX_COLUMNS[:-1])} FROM tx"
_PAD = ", NULL" * (len(TX_COLUMNS) - 7)  # label and event rows padded to the width of a tx row
# one compound SELECT ordered by seq: SQLite merges the three index-ordered scans and stops at the limit
_EVENTS_SINCE = (f"SELECT 'transaction', {', '.join(TX_COLUMNS)} FROM tx WHERE seq > ? "
                 f"UNION ALL SELECT 'label', seq, subject, subject_id, value, known_at, source, fraud_type{_PAD} "
                 f"FROM label WHERE seq > ? UNION ALL SELECT kind, seq, data{_PAD}{', NULL' * 5} FROM event WHERE seq > ? "
                 "ORDER BY 2 LIMIT ?")
_COMPARED = ("ts", "user_id", "amount", "card_id", "device_id", "ip", "merchant_id", "currency", "country",
             "extra", "attrs", "counterparty_id", "auth_result", "decline_reason")
SOURCE_RANK = {s: i for i, s in enumerate(LABEL_SOURCES)}


def now_ms() -> int:
    return int(time.time() * 1000)


def _dump(d: Any) -> str | None:
    return json.dumps(d, sort_keys=True, ensure_ascii=False, separators=(",", ":")) if d else None


#: Connection state inherited across a fork (:meth:`EmbeddedStore.after_fork`), kept so it is never finalised.
_INHERITED: list[Any] = []


class _LockFile:
    """A thread's descriptor of the writers' lock file, closed when the thread's connection state goes
    (``close()``, or the thread ending: a loader's writer thread, say)."""

    __slots__ = ("fd",)

    def __init__(self, fd: int):
        self.fd = fd

    def __del__(self, _close: Any = os.close) -> None:  # (bound now: at interpreter exit ``os`` may be gone)
        try:
            _close(self.fd)
        except OSError:
            pass


class EmbeddedStore(BulkIndexMixin, RegistryMixin):
    """The SQLite-backed store. Safe to share between threads (one connection per thread).

    Parameters
    ----------
    path : str
        The store file; created owner-only (``0600``) when missing, and SQLite gives its ``-wal`` and
        ``-shm`` files the same mode. An existing store open to other users is tightened to ``0600``.
    durable : bool, optional
        ``True`` syncs every commit to disk (``synchronous=FULL``): an acknowledged write survives power
        loss. ``False`` (``synchronous=NORMAL``) commits to the write-ahead log without a sync: a commit
        survives ``kill -9`` of any process, and a power loss can lose only the last commits, never
        corrupt the file. Default: the ``durability`` setting (``process`` = ``False``).
    read_only : bool, default False
        Open for reading only (``PRAGMA query_only``: any write is refused), for a reader that must never
        hold the writers' lock, such as ring detection at idle priority. Reads then use the link table as the
        last fold left it (:meth:`refresh_links` folds nothing); the caller folds first.
    """

    folds_link_totals = True  # links are a view of tx, brought up to date after writes (see LinkStore)

    def __init__(self, path: str, durable: bool | None = None, timeout: float = 60.0, read_only: bool = False):
        from .. import settings

        self.location = os.path.abspath(path)
        self._timeout = timeout
        self._read_only = False  # until the file is open and its schema current
        if durable is None:
            durable = str(settings.get("durability")).lower() == "full"
        self._durable = durable
        self._local = threading.local()
        self._wal_pages = 1000  # SQLite's default automatic checkpoint (see checkpoint_in_background)
        self._checkpointer: tuple[threading.Thread, threading.Event] | None = None
        folder = os.path.dirname(self.location)
        if folder and not os.path.isdir(folder):
            raise StorageError(f"The folder {folder} for the store does not exist; create it or choose "
                               "another --store path.", code="store_unavailable")
        self._make_private()
        lock = self._lockfile()
        try:
            # opening queues on the writers' lock: two threads or workers opening one new store would
            # otherwise race to switch it to WAL and create the schema ("database is locked")
            if lock is not None:
                fcntl.flock(lock, fcntl.LOCK_EX)
            con = self._con()
            if not self._initialised(con):  # a new file: create it (an existing one opens read-only)
                with con:
                    con.executescript(SCHEMA)
                    con.execute("INSERT OR IGNORE INTO meta VALUES ('seq', '0')")
                    con.execute("INSERT OR IGNORE INTO meta VALUES ('links_seq', '0')")
                self._init_registry(con)
                with con:
                    con.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
            else:
                self._migrate(con)
                self._repair_indexes(con)
        except sqlite3.DatabaseError as e:
            raise StorageError(f"The store {self.location} cannot be opened: {e}. Is it a graphfraud store?",
                               code="store_unavailable") from None
        finally:
            if lock is not None:
                fcntl.flock(lock, fcntl.LOCK_UN)
        if read_only:
            self._read_only = True
            self._con().execute("PRAGMA query_only=ON")

    def _make_private(self) -> None:
        """Create the store file owner-only before SQLite does (SQLite would use the umask), or tighten an
        existing one and its log files (stores made by earlier versions were ``0644``)."""
        try:
            if create_private(self.location):
                return
        except OSError:  # a read-only folder: SQLite says what is wrong when it opens the file
            return
        for suffix in ("", "-wal", "-shm"):
            tighten(self.location + suffix)

    def _migrate(self, con: sqlite3.Connection) -> None:
        """Bring a store made by an earlier version up to :data:`SCHEMA_VERSION` (in one write transaction)."""
        version = con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0]
        if version == SCHEMA_VERSION:
            return

        def work(c: sqlite3.Connection, base: int) -> tuple[None, int]:
            current = c.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0]
            if current in ("1", "2"):
                for stmt in (_MIGRATE_2 if current == "1" else []) + _MIGRATE_3:
                    c.execute(stmt)
                c.execute("UPDATE meta SET value=? WHERE key='schema_version'", (SCHEMA_VERSION,))
            return None, base

        try:
            self._write(work)
        except StorageError as e:
            raise StorageError(f"The store {self.location} was made by an earlier graphfraud (schema version "
                               f"{version}) and could not be upgraded: {e} Open it once with write access.",
                               code="store_unavailable") from None

    @staticmethod
    def _initialised(con: sqlite3.Connection) -> bool:
        try:
            return con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() is not None
        except sqlite3.OperationalError:  # no meta table yet
            return False

    # ------------------------------------------------------------ connections
    def _con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(self.location, timeout=self._timeout, isolation_level=None,
                                  check_same_thread=True)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute(f"PRAGMA synchronous={'FULL' if self._durable else 'NORMAL'}")
            con.execute("PRAGMA foreign_keys=ON")
            con.execute("PRAGMA cache_size=-65536")
            con.execute("PRAGMA temp_store=MEMORY")
            con.execute(f"PRAGMA wal_autocheckpoint={self._wal_pages}")
            if self._read_only:
                con.execute("PRAGMA query_only=ON")
            self._local.con = con
        return con

    def after_fork(self) -> None:
        """In a process forked from the one that opened this store: every thread opens a new connection;
        the parent's stay referenced and untouched (closing a copy could checkpoint or remove the write-ahead
        log the parent is using)."""
        _INHERITED.append(self._local)
        self._local = threading.local()
        self._checkpointer = None  # the parent's thread; it does not run here

    def close(self) -> None:
        if self._checkpointer is not None:
            thread, stop = self._checkpointer
            stop.set()
            if thread is not threading.current_thread():
                thread.join(10)
            self._checkpointer = None
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None
        self._local.lockfd = None  # closes this thread's lock file (see _LockFile)

    def checkpoint_in_background(self, every: float = 1.0) -> None:
        """Copy the write-ahead log into the database from a thread of its own, every ``every`` seconds,
        instead of inside the commit that crosses SQLite's 1,000-page mark.

        SQLite checkpoints in the committing connection by default, so one commit in about ninety scores
        paid for copying the log (a p99 of 6.0 ms in process on a 1M store, 1.3 ms with the checkpoints
        moved out; ``bench/bench_api.py``). The server's workers call this. The thread runs PASSIVE
        checkpoints, which never block readers or writers; this store's connections still checkpoint by
        themselves past 10,000 pages, in case the thread cannot keep up.
        """
        if self._checkpointer is not None:
            return
        self._wal_pages = 10_000
        con = getattr(self._local, "con", None)
        if con is not None:
            con.execute(f"PRAGMA wal_autocheckpoint={self._wal_pages}")
        stop = threading.Event()

        def run() -> None:
            try:
                while not stop.wait(every):
                    try:
                        self._con().execute("PRAGMA wal_checkpoint(PASSIVE)")
                    except sqlite3.Error as e:  # the next round may work; writers checkpoint past the limit
                        log.warning("background checkpoint of %s failed: %s", self.location, e)
            finally:
                own = getattr(self._local, "con", None)
                if own is not None:
                    own.close()
                    self._local.con = None

        thread = threading.Thread(target=run, name="graphfraud-checkpoint", daemon=True)
        self._checkpointer = (thread, stop)
        thread.start()

    def _begin(self, con: sqlite3.Connection) -> int:
        """Start a write transaction; return the current end of the sequence."""
        con.execute("BEGIN IMMEDIATE")
        return int(con.execute("SELECT value FROM meta WHERE key='seq'").fetchone()[0])

    def _commit_seq(self, con: sqlite3.Connection, seq: int) -> None:
        con.execute("UPDATE meta SET value=? WHERE key='seq'", (str(seq),))
        con.execute("COMMIT")

    def _write(self, fn: Any, wait: bool = True) -> Any:
        """Run ``fn(con, base_seq) -> (result, new_seq)`` in one write transaction, all or nothing.

        Writers from all processes queue on an advisory file lock first: SQLite's own busy handler waits
        by sleeping in growing steps, which put hundreds of milliseconds on a score that arrived while
        another worker was writing; a kernel lock wakes the next writer as soon as the last one commits.
        """
        con = self._con()
        lock = self._lockfile()
        try:
            if lock is not None:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    lock = None
                    raise StorageError(f"The store {self.location} is busy with another write.",
                                       code="store_busy") from None
            base = self._begin(con)
            result, new_seq = fn(con, base)
            self._commit_seq(con, new_seq)
            return result
        except BaseException as e:
            if con.in_transaction:
                con.execute("ROLLBACK")
            if isinstance(e, sqlite3.DatabaseError):
                raise StorageError(f"Writing to the store {self.location} failed: {e}.") from None
            raise
        finally:
            if lock is not None:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _lockfile(self) -> int | None:
        held = getattr(self._local, "lockfd", None)
        if held is None:
            try:
                held = _LockFile(os.open(self.location + ".lock", os.O_RDWR | os.O_CREAT, 0o600))
            except OSError:  # a read-only folder: rely on SQLite's own locking
                return None
            self._local.lockfd = held
        return held.fd

    def last_seq(self) -> int:
        return int(self._con().execute("SELECT value FROM meta WHERE key='seq'").fetchone()[0])

    # ------------------------------------------------------------ bulk transactions
    def write_transactions(self, frame: Any) -> WriteResult:
        """Write a validated chunk (from :func:`graphfraud.schema.validate_frame`) in one transaction."""
        n = len(frame)
        if n == 0:
            return WriteResult()
        cols = [frame[c].tolist() for c in ("transaction_id", "ts", "user_id", "amount", "card_id",
                                               "device_id", "ip", "merchant_id", "currency", "country")]
        fraud = _ints(frame["is_fraud"])
        lab = _ints(frame["labelled_at"])
        extra = [_dump(d) for d in frame["extra"].tolist()]
        attrs = [_dump(d) for d in frame["attrs"].tolist()]
        more = [frame[c].tolist() if c in frame.columns else [None] * n for c in MORE_FIELDS]
        rows_no = frame["row"].tolist() if "row" in frame.columns else list(range(1, n + 1))

        # columns without a value in this chunk are left out of the statement (NULL by default): binding
        # fewer parameters per row is most of what the writer's Python side costs
        values = [*cols, fraud, lab, extra, *more, attrs]
        present = [k for k, v in enumerate(values) if v.count(None) < n]
        insert = (f"INSERT OR IGNORE INTO tx(seq, {', '.join(TX_COLUMNS[k + 1] for k in present)}) "
                  f"VALUES (?{', ?' * len(present)})")

        def work(con: sqlite3.Connection, base: int) -> tuple[WriteResult, int]:
            seqs = range(base + 1, base + n + 1)
            data = zip(seqs, *(values[k] for k in present))
            before = con.total_changes
            con.executemany(insert, data)
            inserted = con.total_changes - before
            res = WriteResult(inserted=inserted, first_seq=base + 1, last_seq=base + n)
            next_seq = base + n
            if inserted < n:
                kept = {r[0] for r in con.execute("SELECT seq FROM tx WHERE seq BETWEEN ? AND ?",
                                                  (base + 1, base + n))}
                ignored = [i for i in range(n) if base + 1 + i not in kept]
                next_seq = self._reconcile(con, ignored, cols, fraud, lab, extra, attrs, more, rows_no, res,
                                           next_seq)
            return res, next_seq

        return self._write(work)  # type: ignore[no-any-return]

    def _reconcile(self, con: sqlite3.Connection, ignored: list[int], cols: list[list[Any]], fraud: list[Any],
                   lab: list[Any], extra: list[Any], attrs: list[Any], more: list[list[Any]], rows_no: list[int],
                   res: WriteResult, seq: int) -> int:
        """Rows whose id was already stored: same content is a duplicate (a new label is added), other
        content is a conflict."""
        ids = list({cols[0][i] for i in ignored})
        stored: dict[str, tuple[Any, ...]] = {}
        for k in range(0, len(ids), 500):
            part = ids[k:k + 500]
            q = f"{_SELECT_TX} WHERE transaction_id IN ({','.join('?' * len(part))})"
            for r in con.execute(q, part):
                stored[r[1]] = r
        file_labels = {(r[0], r[1]) for r in con.execute(
            "SELECT subject_id, value FROM label WHERE subject='transaction' AND source='file'")} if ignored else set()
        for i in ignored:
            tid = cols[0][i]
            old = stored[tid]
            new = {"ts": cols[1][i], "user_id": cols[2][i], "amount": cols[3][i], "card_id": cols[4][i],
                   "device_id": cols[5][i], "ip": cols[6][i], "merchant_id": cols[7][i], "currency": cols[8][i],
                   "country": cols[9][i], "extra": extra[i], "attrs": attrs[i],
                   **{c: m[i] for c, m in zip(MORE_FIELDS, more)}}
            old_d = dict(zip(TX_COLUMNS, old))
            diff = [k for k in _COMPARED if not same_value(old_d[k], new[k])]
            if diff:
                res.conflicts.append((rows_no[i], f"transaction_id {tid!r} is already stored with a different "
                                      f"{', '.join(diff)}"))
                continue
            if fraud[i] is not None and old_d["is_fraud"] is None and (tid, str(fraud[i])) not in file_labels:
                seq += 1
                con.execute(f"INSERT INTO label({_LABEL_COLUMNS}) VALUES (?,?,?,?,?,?,?,?)",
                            (seq, "transaction", tid, str(fraud[i]), lab[i], "file", now_ms(), new["fraud_type"]))
                file_labels.add((tid, str(fraud[i])))
                res.labelled += 1
            else:
                res.duplicates += 1
        return seq

    # ------------------------------------------------------------ one transaction (the API)
    def add_transaction(self, tx: Transaction, decision: dict[str, Any] | None = None
                        ) -> tuple[int, dict[str, Any] | None]:
        """Store one transaction and its decision record atomically.

        Returns ``(seq, None)`` for a new transaction, or ``(seq, stored_decision)`` when the same id
        with the same content is stored already (a retry). Raises :class:`Conflict` when the id is
        stored with other content.
        """
        if decision is None:
            # a retry (the caller's engine has the id): answered from a read, without the write lock, when
            # the transaction is stored, as it then always is
            con = self._con()
            old = con.execute(f"{_SELECT_TX} WHERE transaction_id=?", (tx.transaction_id,)).fetchone()
            if old is not None:
                return self._stored(con, old, tx)
        row = (tx.transaction_id, tx.ts, tx.user_id, tx.amount, tx.card_id, tx.device_id, tx.ip,
               tx.merchant_id, tx.currency, tx.country, tx.is_fraud, tx.labelled_at, _dump(tx.extra),
               tx.counterparty_id, tx.fraud_type, tx.auth_result, tx.decline_reason, _dump(tx.attrs))
        # encoded before taking the write lock: other writers wait only for the statements
        body = to_json(decision) if decision is not None else None

        def work(con: sqlite3.Connection, base: int) -> tuple[tuple[int, dict[str, Any] | None], int]:
            seq = base + 1
            before = con.total_changes
            con.execute(_INSERT_TX, (seq, *row))  # OR IGNORE: a stored id changes nothing
            old = None
            if con.total_changes == before:
                old = con.execute(f"{_SELECT_TX} WHERE transaction_id=?", (tx.transaction_id,)).fetchone()
            if old is not None:
                return self._stored(con, old, tx), base
            end = seq + 1 if decision is not None else seq
            if end - self._links_seq(con) >= LINK_FOLD_EVERY:
                self._link_range(con, end)
            if decision is not None:
                con.execute("INSERT INTO decision VALUES (?,?,?,?,?,?)",
                            (end, tx.transaction_id, now_ms(), decision.get("score"), decision.get("decision"),
                             body))
            return (seq, None), end

        return self._write(work)  # type: ignore[no-any-return]

    @staticmethod
    def _stored(con: sqlite3.Connection, old: Sequence[Any], tx: Transaction) -> tuple[int, dict[str, Any]]:
        """``(seq, stored decision or {})`` for a transaction stored as ``old``; Conflict if it differs."""
        diff = transaction_from_row(old[1:]).differs_from(tx)
        if diff:
            raise Conflict(f"Transaction {tx.transaction_id!r} is already stored with other values of "
                           f"{', '.join(diff)}; use a new transaction_id for a new transaction (a retry must send "
                           "what was sent first, attributes included).",
                           [f"transaction_id: {tx.transaction_id!r} exists with other values"],
                           code="transaction_conflict")
        d = con.execute("SELECT body FROM decision WHERE transaction_id=?", (tx.transaction_id,)).fetchone()
        return int(old[0]), (load_record(d[0]) if d else {})

    # ------------------------------------------------------------ links: a view of tx, kept up to a watermark
    @staticmethod
    def _links_seq(con: sqlite3.Connection) -> int:
        return int(con.execute("SELECT value FROM meta WHERE key='links_seq'").fetchone()[0])

    @staticmethod
    def _link_range(con: sqlite3.Connection, upto: int) -> None:
        """Fold transactions after the links watermark (up to ``upto``) into ``link``; inside a write.

        Bulk loads write transactions only and fold links once at the end: one sorted pass is about
        twice as fast as upserting per chunk, and a crash in between leaves the watermark behind, so the
        next fold picks the rows up (nothing is counted twice, nothing missed). Scores fold every
        :data:`LINK_FOLD_EVERY` events; every reader of ``link`` calls :meth:`refresh_links` first.
        """
        lo = EmbeddedStore._links_seq(con)
        if lo >= upto:
            return
        for stmt in _LINK_STATEMENTS:
            con.execute(stmt, (lo + 1, upto))
        if con.execute("SELECT 1 FROM tx WHERE seq BETWEEN ? AND ? AND extra IS NOT NULL LIMIT 1",
                       (lo + 1, upto)).fetchone():
            con.execute(_LINK_EXTRA, (lo + 1, upto))
        con.execute("UPDATE meta SET value=? WHERE key='links_seq'", (str(upto),))

    def refresh_links(self, wait: bool = True) -> bool:
        """Bring the ``link`` table up to date with every stored transaction.

        With ``wait=False`` a reader never queues behind a writer: when another process holds the write
        lock (a load in progress), it returns ``False`` and the links stay as of the watermark. A store opened
        ``read_only`` folds nothing: it returns whether the links are current.
        """
        if self.get_meta("links_seq") == str(self.last_seq()):
            return True
        if self._read_only:
            return False
        if not wait:
            con = self._con()
            con.execute("PRAGMA busy_timeout=0")
            try:
                self._write(lambda c, base: (self._link_range(c, base), base), wait=False)
                return True
            except StorageError:
                return False
            finally:
                con.execute(f"PRAGMA busy_timeout={int(self._timeout * 1000)}")

        def work(c: sqlite3.Connection, base: int) -> tuple[None, int]:
            self._link_range(c, base)
            return None, base

        self._write(work)
        return True

    def fold_link_totals(self, totals: Any, first_seq: int, last_seq: int) -> bool:
        """Bring ``link`` up to date, adding ``totals`` (:func:`graphfraud.storage.base.merge_link_totals` of
        the links of exactly the transactions stored as ``first_seq..last_seq``, as one table or as tables of
        disjoint ranges of the key, in its order) instead of re-reading those rows.

        A bulk load computes its chunks' totals while it reads them, so folding a million rows is one sorted
        upsert instead of four grouped scans of ``tx``. The totals are used only when the watermark has not
        entered their range (nobody folded any of those rows yet); rows stored before the range, or the
        whole range when the totals cannot be used, are folded from ``tx`` as :meth:`refresh_links` does.
        Rows after ``last_seq`` are left for the next fold. Returns whether the totals were used.
        """
        def rows() -> Iterator[tuple[Any, ...]]:  # Python values a slice at a time: memory stays flat
            for table in [totals] if hasattr(totals, "to_batches") else totals:
                for batch in table.select(list(LINK_TOTAL_COLUMNS)).to_batches(max_chunksize=65_536):
                    yield from zip(*(col.to_pylist() for col in batch.columns))

        def work(con: sqlite3.Connection, base: int) -> tuple[bool, int]:
            used = self._links_seq(con) < first_seq
            if used:
                self._link_range(con, first_seq - 1)  # whatever was stored before the range
                con.executemany(_UPSERT_LINK, rows())
                con.execute("UPDATE meta SET value=? WHERE key='links_seq'", (str(last_seq),))
            else:
                self._link_range(con, last_seq)
            return used, base

        return bool(self._write(work))

    def add_labels(self, labels: Sequence[Label]) -> int:
        """Store label events atomically; returns how many were stored."""
        if not labels:
            return 0

        def work(con: sqlite3.Connection, base: int) -> tuple[int, int]:
            t = now_ms()
            con.executemany(f"INSERT INTO label({_LABEL_COLUMNS}) VALUES (?,?,?,?,?,?,?,?)",
                            [(base + i + 1, lb.subject, lb.subject_id, lb.value, lb.known_at, lb.source, t,
                              lb.fraud_type) for i, lb in enumerate(labels)])
            return len(labels), base + len(labels)

        return self._write(work)  # type: ignore[no-any-return]

    def add_event(self, kind: str, data: dict[str, Any]) -> int:
        def work(con: sqlite3.Connection, base: int) -> tuple[int, int]:
            con.execute("INSERT INTO event VALUES (?,?,?)", (base + 1, kind, json.dumps(data, sort_keys=True)))
            return base + 1, base + 1

        return self._write(work)  # type: ignore[no-any-return]

    # ------------------------------------------------------------ reads
    def get_transaction(self, transaction_id: str) -> dict[str, Any] | None:
        r = self._con().execute(f"{_SELECT_TX} WHERE transaction_id=?", (transaction_id,)).fetchone()
        if r is None:
            return None
        d = transaction_from_row(r[1:]).as_dict()
        d["seq"] = r[0]
        d["labels"] = [{"value": v, "known_at": k, "source": s, "fraud_type": f} for v, k, s, f in self._con().execute(
            "SELECT value, known_at, source, fraud_type FROM label WHERE subject='transaction' AND subject_id=? "
            "ORDER BY seq", (transaction_id,))]
        return d

    def transaction_times(self, transaction_ids: Sequence[str]) -> dict[str, int]:
        """The time (epoch ms) of each of these transactions the store holds, by id (one indexed read per 500)."""
        ids = list(dict.fromkeys(transaction_ids))
        out: dict[str, int] = {}
        con = self._con()
        for k in range(0, len(ids), 500):
            part = ids[k:k + 500]
            out.update(con.execute(f"SELECT transaction_id, ts FROM tx WHERE transaction_id IN "
                                   f"({','.join('?' * len(part))})", part).fetchall())
        return out

    def transactions_of(self, column: str, value: str, limit: int = 100) -> list[dict[str, Any]]:
        """Newest transactions where ``column`` (``user_id`` or an entity column) equals ``value``."""
        if column == "user_id":
            q = f"{_SELECT_TX} WHERE user_id=? ORDER BY ts DESC LIMIT ?"
            rows = self._con().execute(q, (value, limit)).fetchall()
        elif column in ENTITY_COLUMNS:
            self.refresh_links(wait=False)
            con = self._con()
            n_users = con.execute("SELECT COUNT(*) FROM link WHERE type=? AND entity_id=?",
                                  (ENTITY_COLUMNS[column], value)).fetchone()[0]
            if n_users >= HUB_SCAN_USERS:
                # a hub (a merchant of 100,000 users): one scan of the table keeping the newest (through its users
                # it read every transaction of all of them, several times over: seconds)
                rows = con.execute(f"{_SELECT_TX} WHERE {column}=? ORDER BY ts DESC LIMIT ?", (value, limit)).fetchall()
            else:
                # through the users linked to the entity, so no index per entity column is needed
                q = (f"{_SELECT_TX} WHERE user_id IN (SELECT user_id FROM link WHERE type=? AND entity_id=?) "
                     f"AND {column}=? ORDER BY ts DESC LIMIT ?")
                rows = con.execute(q, (ENTITY_COLUMNS[column], value, value, limit)).fetchall()
        else:
            self.refresh_links(wait=False)
            q = (f"{_SELECT_TX} WHERE user_id IN (SELECT user_id FROM link WHERE type=? AND entity_id=?) "
                 "AND json_extract(extra, '$.' || ?) = ? ORDER BY ts DESC LIMIT ?")
            rows = self._con().execute(q, (column, value, column, value, limit)).fetchall()
        return [transaction_from_row(r[1:]).as_dict() for r in rows]

    def info(self) -> dict[str, Any]:
        links_current = self.refresh_links(wait=False)
        con = self._con()
        n_tx, labelled, fraud = con.execute(
            "SELECT COUNT(*), COUNT(is_fraud), COALESCE(SUM(is_fraud = 1), 0) FROM tx").fetchone()
        # later labels override the file's: resolve them per transaction
        eff: dict[str, tuple[int, int, str]] = {}
        for sid, value, source, seq in con.execute(
                "SELECT subject_id, value, source, seq FROM label WHERE subject='transaction'"):
            key = (SOURCE_RANK.get(source, 0), seq)
            if sid not in eff or key > eff[sid][:2]:
                eff[sid] = (key[0], key[1], value)
        if eff:
            ids = list(eff)
            for k in range(0, len(ids), 500):
                part = ids[k:k + 500]
                for tid, old in con.execute(f"SELECT transaction_id, is_fraud FROM tx WHERE transaction_id IN "
                                            f"({','.join('?' * len(part))})", part):
                    new = int(eff[tid][2])
                    labelled += old is None
                    fraud += (new == 1) - (old == 1)
        entities = {"user": con.execute("SELECT COUNT(*) FROM (SELECT DISTINCT user_id FROM tx)").fetchone()[0]}
        for typ, cnt in con.execute("SELECT type, COUNT(*) FROM (SELECT DISTINCT type, entity_id FROM link) "
                                    "GROUP BY type ORDER BY type"):
            entities[typ] = cnt
        links = con.execute("SELECT COUNT(*) FROM link").fetchone()[0]
        # each user's label in force: the strongest source's latest (as the engine and the pages read it)
        rank = " ".join(f"WHEN '{src}' THEN {r}" for src, r in SOURCE_RANK.items())
        users = {v: c for v, c in con.execute(
            "SELECT value, COUNT(*) FROM (SELECT subject_id, value, MAX((CASE source " + rank + " ELSE 0 END) "
            "* 281474976710656 + seq) FROM label WHERE subject='user' GROUP BY subject_id) GROUP BY value")}
        return {"store": self.location, "backend": "embedded", "transactions": n_tx, "labelled": labelled,
                "fraud": fraud, "entities": entities, "links": links, "user_labels": users,
                "last_seq": self.last_seq(), "links_current": links_current}

    def iter_transaction_frames(self, chunk_size: int = 200_000, after_seq: int = 0) -> Iterator[Any]:
        """Transactions in sequence order as DataFrames (for rebuilding the engine)."""
        import pandas as pd

        cur = self._con().execute(f"{_SELECT_TX} WHERE seq > ? ORDER BY seq", (after_seq,))
        while True:
            rows = cur.fetchmany(chunk_size)
            if not rows:
                return
            yield pd.DataFrame.from_records(rows, columns=list(TX_COLUMNS))

    def iter_transactions(self, after_seq: int = 0, attributes: bool = False) -> Iterator[tuple[Transaction, int]]:
        """Transactions in sequence order with their sequence numbers, without free attributes unless
        ``attributes`` (rebuilding the engine, training and backtests read them all: straight from the cursor,
        no frame between)."""
        select = _SELECT_TX if attributes else _SELECT_TX_NO_ATTRS
        return transactions_from_rows(self._con().execute(f"{select} WHERE seq > ? ORDER BY seq", (after_seq,)),
                                      attributes)

    def labels(self, after_seq: int = 0) -> list[tuple[int, Label]]:
        return [(r[0], Label(r[1], r[2], r[3], r[4], r[5], r[6])) for r in self._con().execute(
            "SELECT seq, subject, subject_id, value, known_at, source, fraud_type FROM label WHERE seq > ? "
            "ORDER BY seq", (after_seq,))]

    def events_since(self, seq: int, limit: int = 10_000) -> list[Event]:
        """Everything stored after ``seq``, in sequence order (at most ``limit`` events).

        One statement, so one read snapshot: separate reads of transactions, labels and events could
        see a label committed after a transaction that the first read missed, and skip that transaction.
        """
        out: list[Event] = []
        for r in self._con().execute(_EVENTS_SINCE, (seq, seq, seq, limit)):
            kind = r[0]
            if kind == "transaction":
                out.append(Event(r[1], kind, transaction=transaction_from_row(r[2:])))
            elif kind == "label":
                out.append(Event(r[1], kind, label=Label(r[2], r[3], r[4], r[5], r[6], r[7])))
            else:
                out.append(Event(r[1], kind, data=json.loads(r[2])))
        return out

    def links_frame(self) -> Any:
        import pandas as pd

        self.refresh_links()
        rows = self._con().execute("SELECT type, entity_id, user_id, first_seen, last_seen, n FROM link").fetchall()
        return pd.DataFrame.from_records(rows, columns=["type", "entity_id", "user_id", "first_seen",
                                                        "last_seen", "n"])

    def neighbours(self, node_type: str, node_id: str, limit: int) -> list[dict[str, Any]]:
        """Links touching one node: a user's entities, or an entity's users (at most ``limit``)."""
        self.refresh_links()
        cols = "type, entity_id, user_id, first_seen, last_seen, n"
        if node_type == "user":
            # from the user's transactions (indexed by user), so link needs no second index
            parts = [f"SELECT '{t}', {c}, user_id, MIN(ts), MAX(ts), COUNT(*) FROM tx WHERE user_id=:u AND {c} IS "
                     f"NOT NULL GROUP BY {c}" for c, t in ENTITY_COLUMNS.items()]
            parts.append("SELECT j.key, j.value, user_id, MIN(ts), MAX(ts), COUNT(*) FROM tx, json_each(tx.extra) j "
                         "WHERE user_id=:u AND extra IS NOT NULL GROUP BY j.key, j.value")
            q = " UNION ALL ".join(parts) + " ORDER BY 5 DESC LIMIT :lim"
            rows = self._con().execute(q, {"u": node_id, "lim": limit}).fetchall()
        else:
            q = f"SELECT {cols} FROM link WHERE type=? AND entity_id=? ORDER BY last_seen DESC LIMIT ?"
            rows = self._con().execute(q, (node_type, node_id, limit)).fetchall()
        return [dict(zip(("type", "entity_id", "user_id", "first_seen", "last_seen", "n"), r)) for r in rows]

    def transfers_of(self, user_id: str, limit: int) -> list[dict[str, Any]]:
        """Money between one user and others (transactions with a ``counterparty_id``), both ways: one row per
        payer and payee with ``n``, total ``amount``, ``first_seen`` and ``last_seen``; most recent first, at
        most ``limit`` rows."""
        q = ("SELECT user_id, counterparty_id, COUNT(*), SUM(amount), MIN(ts), MAX(ts) FROM tx WHERE user_id=:u "
             "AND counterparty_id IS NOT NULL GROUP BY counterparty_id UNION ALL "
             "SELECT user_id, counterparty_id, COUNT(*), SUM(amount), MIN(ts), MAX(ts) FROM tx "
             "WHERE counterparty_id=:u AND user_id<>:u GROUP BY user_id ORDER BY 6 DESC, 1, 2 LIMIT :lim")
        rows = self._con().execute(q, {"u": user_id, "lim": int(limit)}).fetchall()
        return [dict(zip(TRANSFER_COLUMNS, r)) for r in rows]

    def transfers_among(self, user_ids: Sequence[str], limit: int) -> list[dict[str, Any]]:
        """Transfers whose payer and payee are both among ``user_ids``, oldest first, at most ``limit``: each
        with ``transaction_id``, ``payer``, ``payee``, ``amount``, ``currency`` and ``ts``."""
        ids = json.dumps(sorted(set(user_ids)))
        q = ("SELECT transaction_id, user_id, counterparty_id, amount, currency, ts FROM tx "
             "WHERE user_id IN (SELECT value FROM json_each(:ids)) AND counterparty_id IN "
             "(SELECT value FROM json_each(:ids)) ORDER BY ts, transaction_id LIMIT :lim")
        rows = self._con().execute(q, {"ids": ids, "lim": int(limit)}).fetchall()
        return [dict(zip(TRANSFER_ROW_COLUMNS, r)) for r in rows]

    def count_links(self, node_type: str, node_id: str) -> int:
        if node_type == "user":
            return len(self.neighbours("user", node_id, 1_000_000))
        self.refresh_links()
        return int(self._con().execute("SELECT COUNT(*) FROM link WHERE type=? AND entity_id=?",
                                       (node_type, node_id)).fetchone()[0])

    # ------------------------------------------------------------ decisions
    def add_decision(self, transaction_id: str, record: dict[str, Any]) -> dict[str, Any]:
        """Store the decision of a stored transaction that has none yet; returns the decision that is
        stored (an earlier one wins: a decision is never overwritten)."""

        def work(con: sqlite3.Connection, base: int) -> tuple[dict[str, Any], int]:
            old = con.execute("SELECT body FROM decision WHERE transaction_id=?", (transaction_id,)).fetchone()
            if old is not None:
                return load_record(old[0]), base
            con.execute("INSERT INTO decision VALUES (?,?,?,?,?,?)",
                        (base + 1, transaction_id, now_ms(), record.get("score"), record.get("decision"),
                         to_json(record, sort_keys=True)))
            return record, base + 1

        return self._write(work)  # type: ignore[no-any-return]

    def get_decision(self, transaction_id: str) -> dict[str, Any] | None:
        r = self._con().execute("SELECT body FROM decision WHERE transaction_id=?", (transaction_id,)).fetchone()
        return load_record(r[0]) if r else None

    def decisions_frame(self, limit: int | None = None) -> Any:
        import pandas as pd

        q = "SELECT transaction_id, created_at, score, decision, body FROM decision ORDER BY seq DESC"
        rows = self._con().execute(q + (" LIMIT ?" if limit else ""), (limit,) if limit else ()).fetchall()
        return pd.DataFrame.from_records(rows, columns=["transaction_id", "created_at", "score", "decision", "body"])

    # ------------------------------------------------------------ models
    def save_model(self, version: str, meta: dict[str, Any], blob: bytes) -> None:
        import hashlib

        def work(con: sqlite3.Connection, base: int) -> tuple[None, int]:
            con.execute("INSERT INTO model VALUES (?,?,?,?,?,?)",
                        (version, now_ms(), "candidate", json.dumps(meta, sort_keys=True),
                         hashlib.sha256(blob).hexdigest(), blob))
            return None, base

        self._write(work)

    def set_model_status(self, version: str, status: str) -> None:
        def work(con: sqlite3.Connection, base: int) -> tuple[None, int]:
            if con.execute("SELECT 1 FROM model WHERE version=?", (version,)).fetchone() is None:
                raise NotFound(f"There is no model version {version!r}; `graphfraud model list` shows them.")
            if status == "promoted":
                con.execute("UPDATE model SET status='retired' WHERE status='promoted'")
            con.execute("UPDATE model SET status=? WHERE version=?", (status, version))
            con.execute("INSERT INTO event VALUES (?,?,?)", (base + 1, "model",
                                                              json.dumps({"version": version, "status": status})))
            return None, base + 1

        self._write(work)

    def list_models(self) -> list[dict[str, Any]]:
        return [{"version": v, "created_at": c, "status": s, "sha256": h, **json.loads(m)} for v, c, s, m, h in
                self._con().execute("SELECT version, created_at, status, meta, sha256 FROM model ORDER BY created_at")]

    def load_model(self, version: str) -> tuple[dict[str, Any], bytes]:
        r = self._con().execute("SELECT meta, sha256, blob FROM model WHERE version=?", (version,)).fetchone()
        if r is None:
            raise NotFound(f"There is no model version {version!r}; `graphfraud model list` shows them.")
        meta = json.loads(r[0])
        meta["sha256"] = r[1]
        return meta, bytes(r[2])

    # ------------------------------------------------------------ meta
    def get_meta(self, key: str) -> str | None:
        r = self._con().execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return r[0] if r else None

    def set_meta(self, key: str, value: str) -> None:
        def work(con: sqlite3.Connection, base: int) -> tuple[None, int]:
            con.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                        (key, value))
            return None, base

        self._write(work)

    def delete_meta(self, key: str) -> None:
        """Remove a setting; its old value is overwritten in the file (``secure_delete``), not just unlinked."""
        if key in ("seq", "links_seq", "schema_version"):
            raise ValueError(f"{key} is part of the store's bookkeeping, not a setting.")
        con = self._con()
        con.execute("PRAGMA secure_delete=ON")
        try:
            def work(c: sqlite3.Connection, base: int) -> tuple[None, int]:
                c.execute("DELETE FROM meta WHERE key=?", (key,))
                return None, base

            self._write(work)
            con.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            con.execute("PRAGMA secure_delete=OFF")

    # ------------------------------------------------------------ ring detection reads (read only what's needed)
    def shared_links_frame(self, types: Sequence[str], min_users: int = 2, max_users: int | None = None) -> Any:
        """Links of identifiers of ``types`` used by ``min_users`` to ``max_users`` users, with ``n_users``.

        Columns ``type, entity_id, user_id, first_seen, last_seen, n, n_users``. One pass over the link
        table's primary key (grouped by identifier), so hubs and single-user identifiers never leave SQLite.
        """
        import pandas as pd

        self.refresh_links()
        q = ("SELECT l.type, l.entity_id, l.user_id, l.first_seen, l.last_seen, l.n, g.k FROM "
             "(SELECT type, entity_id, COUNT(*) AS k FROM link WHERE type IN (SELECT value FROM json_each(?)) "
             "GROUP BY type, entity_id HAVING k BETWEEN ? AND ?) g "
             "JOIN link l ON l.type = g.type AND l.entity_id = g.entity_id")
        rows = self._con().execute(q, (json.dumps(list(types)), int(min_users),
                                       int(max_users) if max_users is not None else 2**62)).fetchall()
        return pd.DataFrame.from_records(rows, columns=["type", "entity_id", "user_id", "first_seen", "last_seen",
                                                        "n", "n_users"])

    def users_with_links(self, node_type: str, min_links: int) -> list[str]:
        """The users linked to ``min_links`` identifiers of ``node_type`` or more (one GROUP BY)."""
        self.refresh_links()
        q = "SELECT user_id FROM link WHERE type = ? GROUP BY user_id HAVING COUNT(*) >= ?"
        return [r[0] for r in self._con().execute(q, (node_type, int(min_links)))]

    def user_activity_frame(self, user_ids: Sequence[str] | None = None) -> Any:
        """Per user (all, or the given ones): ``user_id, first_ts, last_ts, n_tx, amount`` (one GROUP BY)."""
        import pandas as pd

        q = "SELECT user_id, MIN(ts), MAX(ts), COUNT(*), SUM(amount) FROM tx"
        args: tuple[Any, ...] = ()
        if user_ids is not None:
            q += " WHERE user_id IN (SELECT value FROM json_each(?))"
            args = (json.dumps(list(user_ids)),)
        rows = self._con().execute(q + " GROUP BY user_id", args).fetchall()
        return pd.DataFrame.from_records(rows, columns=["user_id", "first_ts", "last_ts", "n_tx", "amount"])

    def meetings_frame(self, column: str, bucket_ms: int, max_users: int,
                       entities: Sequence[str] | None = None) -> Any:
        """Users meeting at one identifier, one merchant and one time bucket, in groups of 2 to ``max_users``.

        ``column`` is ``ip``, ``device_id`` or ``card_id``; ``entities`` limits the identifiers (default:
        those of the column's type used by two or more users). Columns ``entity_id, merchant_id, bucket,
        user_id, first_ts`` (the meeting's first transaction), one row per user of each meeting.
        """
        import pandas as pd

        if column not in ENTITY_COLUMNS or column == "merchant_id":
            raise ValueError(f"Meetings are found through card_id, device_id or ip, not {column!r}.")
        if entities is None:
            which = "SELECT entity_id FROM link WHERE type = ? GROUP BY entity_id HAVING COUNT(*) >= 2"
            arg: Any = ENTITY_COLUMNS[column]
            self.refresh_links()
        else:
            which, arg = "SELECT value FROM json_each(?)", json.dumps(list(entities))
        # the column name comes from the fixed ENTITY_COLUMNS table, never from input; one GROUP BY, the
        # users of a meeting joined with the unit separator (the schema refuses control characters in ids)
        q = (f"SELECT {column}, merchant_id, ts / ?, group_concat(user_id, char(31)), MIN(ts) FROM tx "
             f"WHERE {column} IN ({which}) AND merchant_id IS NOT NULL GROUP BY 1, 2, 3 "
             f"HAVING COUNT(DISTINCT user_id) BETWEEN 2 AND ?")
        rows = self._con().execute(q, (int(bucket_ms), arg, int(max_users))).fetchall()
        out = [(h, m, d, u, f) for h, m, d, us, f in rows for u in dict.fromkeys(us.split("\x1f"))]
        return pd.DataFrame.from_records(out, columns=["entity_id", "merchant_id", "bucket", "user_id", "first_ts"])

    def mapped_reads(self) -> AbstractContextManager[None]:  # this thread's reads (ring detection): txframe
        return mapped_reads(self._con())

    def transactions_of_users(self, user_ids: Sequence[str] | None, columns: Sequence[str]) -> Any:
        """The given columns of every transaction of the given users (``None``: of every user), in no particular
        order (one SELECT; every user's is a plain scan, cheaper than looking each user up, and so is a scan
        filtered here for most of the users: :func:`graphfraud.storage.txframe.users_frame`)."""
        bad = [c for c in columns if c not in TX_COLUMNS]
        if bad:
            raise ValueError(f"Unknown transaction columns {bad}; choose from {list(TX_COLUMNS)}.")
        return users_frame(self._con(), list(columns), None if user_ids is None else list(user_ids))

    def transfer_totals(self) -> Any:
        """Money between users: one row per (payer, receiver) pair of transfers (``TRANSFER_TOTAL_COLUMNS``)."""
        import pandas as pd

        con = self._con()
        summed = transfer_sums(con)  # (a store of transfers: after one scan)
        if summed is not None:
            return summed
        # through the partial index of transfer rows: left to itself, SQLite walks every row in tx_user order
        # to save the GROUP BY's sort (2.4 s CPU at 1M transactions and no transfer, against 0.1 ms)
        rows = con.execute(
            "SELECT user_id, counterparty_id, COUNT(*), SUM(amount), MIN(ts), MAX(ts) FROM tx "
            "INDEXED BY tx_counterparty WHERE counterparty_id IS NOT NULL GROUP BY user_id, counterparty_id").fetchall()
        return pd.DataFrame.from_records(rows, columns=TRANSFER_TOTAL_COLUMNS)

    def amount_baseline_frame(self, sample_every: int = 1) -> Any:
        """Per (merchant, currency): ``merchant_id, currency, n, sum_log_amount, first_ts`` (one pass).

        ``sample_every`` > 1 aggregates only transactions whose ``seq`` is a multiple of it (a systematic
        sample: typical amounts need not read every row of a large store).
        """
        import pandas as pd

        rows = self._con().execute("SELECT merchant_id, currency, COUNT(*), SUM(LN(MAX(amount, 0.01))), MIN(ts) "
                                   "FROM tx WHERE seq % ? = 0 GROUP BY merchant_id, currency",
                                   (max(1, int(sample_every)),)).fetchall()
        return pd.DataFrame.from_records(rows, columns=["merchant_id", "currency", "n", "sum_log_amount", "first_ts"])

    # ------------------------------------------------------------ erasure (right to be forgotten)
    def erase_user(self, user_id: str, actor: str) -> dict[str, Any]:
        """Replace a user's personal data by pseudonyms, keeping every count of :meth:`info`.

        See :mod:`graphfraud.storage.erase`. Records an audit row (naming the pseudonym only) and an ``erase``
        event (serving processes rebuild their engine), and checkpoints the write-ahead log so the old values
        leave the files. Returns a summary with the ``pseudonym``; raises :class:`NotFound` when the store has
        no such user. The engine snapshot is the graph layer's: :func:`graphfraud.erasure.erase_user` erases both.
        """
        from .erase import erase_user

        con = self._con()
        con.execute("PRAGMA secure_delete=ON")  # freed space is zeroed, so old values do not linger
        try:
            def work(c: sqlite3.Connection, base: int) -> tuple[dict[str, Any], int]:
                self._link_range(c, base)
                return erase_user(c, base, user_id, actor, now_ms())

            summary: dict[str, Any] = self._write(work)
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            con.execute("PRAGMA secure_delete=OFF")
        return summary

def _ints(series: Any) -> list[int | None]:
    """A nullable integer column as Python ints and ``None``."""
    return [None if v is None else int(v) for v in series.to_numpy(dtype=object, na_value=None).tolist()]
