"""Rows of the embedded store's ``tx`` table as a pandas DataFrame, read a chunk at a time, by index or by a
scan of the whole table, whichever reads fewer pages out of order."""
from __future__ import annotations

import gc
import json
import sqlite3
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import Any

from .base import TRANSFER_TOTAL_COLUMNS

#: columns of ``tx`` that are never NULL and of one type (the primary key, NOT NULL columns whose SQLite type
#: converts what is stored, and the timestamp the schema makes an integer): read straight into arrays
_TX_ARRAYS: dict[str, Any] = {"seq": "int64", "ts": "int64", "amount": "float64", "user_id": object,
                              "transaction_id": object}
_TX_CHUNK = 100_000  # rows fetched at a time
#: The transactions of this many users or more, when they are at least ``USERS_SCAN_SHARE`` of the store's
#: users, are read by one scan of the table, filtered in Python (:func:`users_frame`): a lookup per user in
#: ``tx_user`` reads pages out of order, about 2.3 times the cost per row of a scan (2,556,164 rows of 292,147
#: accounts, every account in a transfer: 12.5 s through the index, 5.4 s scanning all 2,559,650).
USERS_SCAN_MIN = 20_000
USERS_SCAN_SHARE = 0.4
#: A store whose rows are transfers in this share or more sums them after one scan of the table
#: (:func:`transfer_sums`): 1,454,735 transfers of 2,559,650 rows, 10.2 s through the partial index, 4.7 s.
TRANSFERS_SCAN_SHARE = 0.2


#: Bulk reads (ring detection) read the file through a memory map of up to this many bytes (``PRAGMA
#: mmap_size``): no copy of each page out of the page cache. Detection over 986,031 rows, three runs each,
#: alternating: 9.40-10.08 s CPU without it, 8.62-9.00 s with it. The pages are the page cache's, shared
#: and given back under pressure, but they count in the reading process's resident size while mapped.
MAPPED_READ_BYTES = 1 << 30


@contextmanager
def mapped_reads(con: sqlite3.Connection) -> Iterator[None]:
    """Read ``con``'s file through a memory map meanwhile (:data:`MAPPED_READ_BYTES`); then as before.

    >>> import os, tempfile
    >>> con = sqlite3.connect(os.path.join(tempfile.mkdtemp(), "m.db"))
    >>> with mapped_reads(con):
    ...     con.execute("PRAGMA mmap_size").fetchone()[0] > 0
    True
    >>> con.execute("PRAGMA mmap_size").fetchone()[0]
    0
    """
    con.execute(f"PRAGMA mmap_size={MAPPED_READ_BYTES}")
    try:
        yield
    finally:
        con.execute("PRAGMA mmap_size=0")


def users_frame(con: sqlite3.Connection, columns: list[str], user_ids: list[str] | None) -> Any:
    """``columns`` of the transactions of ``user_ids`` (``None``: every user's), in no particular order: through
    ``tx_user``, or for most of the store's users (``USERS_SCAN_MIN``, ``USERS_SCAN_SHARE``) one scan filtered
    here. ``columns`` must be columns of ``tx``."""
    q = f"SELECT {', '.join(columns)} FROM tx"
    if user_ids is None:
        return tx_frame(con.execute(q), columns)
    if len(user_ids) >= USERS_SCAN_MIN:
        n_users = con.execute("SELECT COUNT(*) FROM (SELECT DISTINCT user_id FROM tx)").fetchone()[0]
        if len(user_ids) >= USERS_SCAN_SHARE * n_users:
            return tx_frame(con.execute(f"SELECT user_id, {', '.join(columns)} FROM tx"), columns, keep=user_ids)
    return tx_frame(con.execute(q + " WHERE user_id IN (SELECT value FROM json_each(?))", (json.dumps(user_ids),)),
                    columns)


def transfer_sums(con: sqlite3.Connection) -> Any:
    """The transfer totals (``src, dst, n, amount, first_ts, last_ts`` per payer and receiver, sorted by both)
    summed after one scan of the table when ``TRANSFERS_SCAN_SHARE`` or more of its rows are transfers, else
    ``None`` (SQLite sums fewer through the partial index of transfer rows)."""
    n_transfers = con.execute("SELECT COUNT(*) FROM tx INDEXED BY tx_counterparty "
                              "WHERE counterparty_id IS NOT NULL").fetchone()[0]
    if not n_transfers or n_transfers < TRANSFERS_SCAN_SHARE * (con.execute("SELECT MAX(seq) FROM tx").fetchone()[0]
                                                                 or 0):
        return None
    cols = ["user_id", "counterparty_id", "ts", "amount"]
    t = tx_frame(con.execute(f"SELECT {', '.join(cols)} FROM tx NOT INDEXED WHERE counterparty_id IS NOT NULL"), cols)
    out = t.groupby(["user_id", "counterparty_id"], sort=True).agg(
        n=("ts", "size"), amount=("amount", "sum"), first_ts=("ts", "min"), last_ts=("ts", "max"))
    return out.reset_index().set_axis(list(TRANSFER_TOTAL_COLUMNS), axis=1)


def tx_frame(cursor: sqlite3.Cursor, columns: list[str], keep: Collection[str] | None = None) -> Any:
    """``pd.DataFrame.from_records(cursor.fetchall(), columns=columns)`` for rows of ``tx``, the same frame,
    built a chunk and a column at a time: ``from_records`` converts every row to objects (at a million rows,
    as costly as reading them), and a whole store's rows as tuples take about 200 bytes a row (2 GB at 10
    million), where a frame's columns take a few tens (pandas keeps text in Arrow buffers). Columns whose type
    :data:`_TX_ARRAYS` knows are read straight into arrays; the others (nullable ones), and a typed column with
    a value of another type somewhere, are typed once over all their values, as ``from_records`` types them.

    With ``keep``, the cursor's rows carry ``user_id`` first, before ``columns``, and only the rows of users in
    ``keep`` are kept (a scan of the whole table, filtered here, is cheaper than an index lookup per user when
    the users hold most of it).
    """
    import numpy as np
    import pandas as pd

    wanted = None if keep is None else set(keep)
    skip = 0 if wanted is None else 1
    chunks: dict[str, list[Any]] = {c: [] for c in columns}
    numeric = {c for c in columns if c in _TX_ARRAYS and _TX_ARRAYS[c] is not object}  # read straight into arrays
    mixed: set[str] = set()  # of them, those with a value of another type: typed as from_records does
    # (millions of row tuples, none in a reference cycle: the collector would walk them all, again and again)
    collecting = gc.isenabled()
    gc.disable()
    try:
        while True:
            rows = cursor.fetchmany(_TX_CHUNK)
            if not rows:
                break
            if wanted is not None:
                rows = [r for r in rows if r[0] in wanted]
                if not rows:
                    continue
            by_column = list(zip(*rows))  # (one transposition in C, not a pass over the rows per column)
            for i, c in enumerate(columns, skip):
                raw = np.empty(len(rows), dtype=object)
                raw[:] = by_column[i]
                part = _typed(raw, c) if c in numeric else raw
                if c in numeric and part is raw:
                    mixed.add(c)
                chunks[c].append(part)
    finally:
        if collecting:
            gc.enable()
    if not columns or not chunks[columns[0]]:
        return pd.DataFrame.from_records([], columns=columns)
    data: dict[str, Any] = {}
    for c, parts in chunks.items():
        if c in numeric - mixed:
            data[c] = parts[0] if len(parts) == 1 else np.concatenate(parts)
        else:
            values = parts[0] if len(parts) == 1 else np.concatenate([p.astype(object) for p in parts])
            data[c] = pd.Series(values, dtype=object).infer_objects()
    return pd.DataFrame(data)


def _typed(raw: Any, column: str) -> Any:
    """One chunk of a typed column as its array, or ``raw`` itself when a value is not of the schema's type
    (a store written by other means): integers through floats (exact below 2**53), so that a float, a NULL
    or a huge integer shows."""
    import numpy as np

    try:
        values = np.fromiter(raw, float, len(raw))
    except (TypeError, ValueError):
        return raw
    if _TX_ARRAYS[column] == "int64":
        if not (np.isfinite(values).all() and (values == np.round(values)).all()
                and (not len(values) or np.abs(values).max() < 2**53)):
            return raw
        return values.astype(np.int64)
    if np.isnan(values).any():
        return raw
    return values
