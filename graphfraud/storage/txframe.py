"""Rows of the embedded store's ``tx`` table as a pandas DataFrame, read a chunk at a time."""
from __future__ import annotations

import sqlite3
from typing import Any

#: columns of ``tx`` that are never NULL and of one type (the primary key, NOT NULL columns whose SQLite type
#: converts what is stored, and the timestamp the schema makes an integer): read straight into arrays
_TX_ARRAYS: dict[str, Any] = {"seq": "int64", "ts": "int64", "amount": "float64", "user_id": object,
                              "transaction_id": object}
_TX_CHUNK = 100_000  # rows fetched at a time


def tx_frame(cursor: sqlite3.Cursor, columns: list[str]) -> Any:
    """``pd.DataFrame.from_records(cursor.fetchall(), columns=columns)`` for rows of ``tx``, the same frame,
    built a chunk and a column at a time when :data:`_TX_ARRAYS` knows every column's type: ``from_records``
    infers types from objects (at a million rows, as costly as reading them), and a whole store's rows as
    tuples take about 200 bytes a row (2 GB at 10 million), where a frame's columns take a few tens (pandas
    keeps text in Arrow buffers). A chunk with a value of another type than the schema's goes through
    ``from_records``."""
    import pandas as pd

    if not all(c in _TX_ARRAYS for c in columns):
        return pd.DataFrame.from_records(cursor.fetchall(), columns=columns)
    parts = []
    while True:
        rows = cursor.fetchmany(_TX_CHUNK)
        if not rows:
            break
        parts.append(_tx_arrays(rows, columns))
    if not parts:
        return pd.DataFrame.from_records([], columns=columns)
    return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)


def _tx_arrays(rows: list[tuple[Any, ...]], columns: list[str]) -> Any:
    """One chunk of :func:`tx_frame`."""
    import numpy as np
    import pandas as pd

    data: dict[str, Any] = {}
    try:
        for i, c in enumerate(columns):
            if _TX_ARRAYS[c] is object:  # (strings become a string column, as from_records makes them)
                data[c] = np.fromiter((r[i] for r in rows), object, len(rows))
                continue
            # integers through floats (exact below 2**53), so that a float, a NULL or a huge integer shows
            values = np.fromiter((r[i] for r in rows), float, len(rows))
            if _TX_ARRAYS[c] == "int64":
                if not (np.isfinite(values).all() and (values == np.round(values)).all()
                        and np.abs(values).max() < 2**53):
                    raise ValueError(c)
                values = values.astype(np.int64)
            elif np.isnan(values).any():
                raise ValueError(c)
            data[c] = values
    except (TypeError, ValueError):  # not the type the schema promises (a store written by other means)
        return pd.DataFrame.from_records(rows, columns=columns)
    return pd.DataFrame(data)
