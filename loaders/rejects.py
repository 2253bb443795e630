"""The rejects file: every row a load did not store, with its reason and its original fields."""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import pandas as pd

from graphfraud.errors import ValidationError
from graphfraud.output import csv_writer, open_private


class RejectWriter:
    """Write ``row,reason,<original columns...>`` lines to ``path``, creating the file at the first reject.

    The file is created owner-only (it holds the input's rows) and written by
    :func:`graphfraud.output.csv_writer`, so a cell that a spreadsheet would run as a formula is neutralised.

    Rows from later chunks with columns the header lacks (possible in JSON lines) keep the header's
    columns only; ``dropped_columns`` tells which were left out.
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        if not self.path.parent.is_dir():  # found out now, not after half the file is stored
            raise ValidationError(f"The folder {self.path.parent} for the rejects file does not exist; create it "
                                  "or give another rejects path.", code="invalid_input")
        self.n_written = 0
        self.dropped_columns: set[str] = set()
        self._file: IO[Any] | None = None
        self._writer: Any = None
        self._columns: list[str] = []

    def write(self, frame: pd.DataFrame, positions: Sequence[int], rows: Sequence[int | None],
              reasons: Sequence[str]) -> None:
        """Write rejects taken from ``frame`` at 0-based ``positions``, numbered ``rows``."""
        if not len(positions):
            return
        self._open(list(frame.columns))
        self.dropped_columns.update(c for c in frame.columns if c not in self._columns)
        sub = frame.iloc[list(positions)].reindex(columns=self._columns)
        sub = sub.astype(object).where(sub.notna(), "")
        for row, reason, values in zip(rows, reasons, sub.itertuples(index=False, name=None)):
            self._writer.writerow(["" if row is None else row, reason, *values])
        self.n_written += len(positions)

    def write_raw(self, rows: Sequence[int | None], reasons: Sequence[str], texts: Sequence[str],
                  columns: Sequence[str]) -> None:
        """Write records that could not be split into fields: their raw text goes in the reason."""
        if not len(rows):
            return
        self._open(list(columns))
        for row, reason, text in zip(rows, reasons, texts):
            shown = text if len(text) <= 200 else text[:200] + "..."
            self._writer.writerow(["" if row is None else row, f"{reason}: {shown}"] + [""] * len(self._columns))
        self.n_written += len(rows)

    def _open(self, columns: list[str]) -> None:
        if self._file is None:
            self._columns = columns
            self._file = open_private(self.path, "w", newline="", encoding="utf-8")  # closed in close()
            self._writer = csv_writer(self._file)
            self._writer.writerow(["row", "reason", *columns])

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    @property
    def written(self) -> bool:
        return self.n_written > 0
