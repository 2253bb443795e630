"""Indexes a first bulk load builds at its end: the part of :class:`~graphfraud.storage.embedded.EmbeddedStore`
that drops the secondary indexes of an empty ``tx`` for a load and builds them back, or after a crash."""
from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
from typing import Any

from ..errors import StorageError

log = logging.getLogger(__name__)

#: The secondary indexes of ``tx`` a first load builds once at its end instead of row by row (see
#: :meth:`EmbeddedStore.begin_bulk_load`); the unique ``tx_id`` stays, as it finds duplicates and conflicts.
_DEFERRABLE = {"tx_user": "CREATE INDEX IF NOT EXISTS tx_user ON tx(user_id)",
               "tx_counterparty":
               "CREATE INDEX IF NOT EXISTS tx_counterparty ON tx(counterparty_id) WHERE counterparty_id IS NOT NULL"}


class BulkIndexMixin:
    """Expects ``location``, ``_timeout``, ``_con()`` and ``_write()`` from the store class."""

    location: str
    _timeout: float
    _bulk_fd: int | None = None  # the .load lock of a bulk load that deferred indexes

    def _con(self) -> sqlite3.Connection:  # pragma: no cover - provided by the store
        raise NotImplementedError

    def _write(self, fn: Any, wait: bool = True) -> Any:  # pragma: no cover - provided by the store
        raise NotImplementedError

    @staticmethod
    def _missing_indexes(con: sqlite3.Connection) -> list[str]:
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='index' AND tbl_name='tx'")}
        return [n for n in _DEFERRABLE if n not in names]

    def _repair_indexes(self, con: sqlite3.Connection) -> None:
        """Build the secondary indexes a first load deferred, when that load is gone (``kill -9`` after some
        chunks): they only make reads fast, so this is done when it costs nobody a wait, and never while
        the load that deferred them is still running (it holds the ``.load`` lock)."""
        if not self._missing_indexes(con):
            return
        try:
            fd = os.open(self.location + ".load", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:  # a read-only folder: reads still work, more slowly
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # the load is running and builds them at its end
            os.close(fd)
            return
        con.execute("PRAGMA busy_timeout=0")
        try:
            self._write(lambda c, base: (self._create_indexes(c), base), wait=False)
            self._unlink_load_lock()
        except StorageError as e:  # busy or read-only: the next open or load tries again
            log.info("the store %s still lacks indexes of tx: %s", self.location, e)
        finally:
            con.execute(f"PRAGMA busy_timeout={int(self._timeout * 1000)}")
            os.close(fd)

    @staticmethod
    def _create_indexes(con: sqlite3.Connection) -> None:
        for name in BulkIndexMixin._missing_indexes(con):
            con.execute(_DEFERRABLE[name])

    def begin_bulk_load(self) -> bool:
        """A bulk load is about to write its first chunk: when ``tx`` is empty (the first load of history),
        drop its secondary indexes (``tx_user``, ``tx_counterparty``) so that each chunk maintains only the
        unique index on ``transaction_id``; :meth:`end_bulk_load` builds them from the whole table at once,
        which costs a fraction of keeping them up to date row by row.

        Duplicates and conflicts are found exactly as before (the unique index stays). Every chunk is still
        one transaction; reads by user work meanwhile, without an index. The store holds a lock on
        ``<store>.load`` until :meth:`end_bulk_load`: if the process dies first, the next process to open the
        store (or the next load) builds the missing indexes. Returns whether the indexes were dropped.
        """
        if self._bulk_fd is not None:
            return True
        con = self._con()
        if con.execute("SELECT 1 FROM tx LIMIT 1").fetchone() is not None:
            return False
        try:
            fd = os.open(self.location + ".load", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # another load into this store is starting: leave the indexes alone
            os.close(fd)
            return False

        def work(c: sqlite3.Connection, base: int) -> tuple[bool, int]:
            if c.execute("SELECT 1 FROM tx LIMIT 1").fetchone() is not None:
                return False, base  # another process wrote in between
            for name in _DEFERRABLE:  # names from the fixed table above
                c.execute(f"DROP INDEX IF EXISTS {name}")
            return True, base

        try:
            dropped = bool(self._write(work))
        except BaseException:
            os.close(fd)
            raise
        if not dropped:
            os.close(fd)
            return False
        self._bulk_fd = fd
        return True

    def end_bulk_load(self, build: bool = True) -> None:
        """End what :meth:`begin_bulk_load` started: build the secondary indexes it dropped (one sorted pass
        each, in one transaction) and release the load's lock. With ``build=False`` (a load interrupted by
        the user) the indexes are left to the next open of the store."""
        fd, self._bulk_fd = self._bulk_fd, None
        if fd is None:
            return
        try:
            if build:
                self._write(lambda c, base: (self._create_indexes(c), base))
                self._unlink_load_lock()
        finally:
            os.close(fd)

    def _unlink_load_lock(self) -> None:
        """Remove ``<store>.load`` while holding it (whoever opens a new one finds the indexes built)."""
        with contextlib.suppress(OSError):
            os.unlink(self.location + ".load")
