"""Streaming readers: a file in, chunks of text columns out, whatever the format.

Every reader yields :class:`Chunk` objects holding at most ``chunk_size`` rows as a pandas DataFrame whose
values are all text (``str``) or ``None``, so ``007`` stays ``007`` and the one place that judges values is
:func:`graphfraud.schema.validate_frame`. Memory is bounded by the chunk size, not the file size.

Formats are chosen by the file name: ``.csv``; ``.csv.gz`` or ``.gz`` (gzip CSV); ``.parquet`` or ``.pq``;
``.jsonl`` or ``.ndjson``, optionally followed by ``.gz``.

Row numbers are 1-based data rows: the CSV header is not a row, and a record whose quoted field spans
several lines is one row. JSONL rows are line numbers (blank lines are skipped but keep their number).

Files are judged before their rows: a CSV or JSON lines file must be UTF-8 text (:class:`TextCheck` reads
it as it streams, so a binary file is refused at its first bad byte with one line, ``x.csv is not a text
CSV (byte N)``, and no byte of it is echoed); a header naming a column twice is refused, naming the
column; a JSON line naming a key twice is rejected like any other bad line.
"""
from __future__ import annotations

import codecs
import gzip
import io
import itertools
import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, cast

import numpy as np
import pandas as pd
import pyarrow as pa

from graphfraud.errors import ValidationError

FORMATS = ("csv", "parquet", "jsonl")
# pyarrow parses CSV in blocks of this many bytes; blocks are regrouped into chunks of exactly chunk_size rows
_BLOCK_SIZE = 4 << 20


@dataclass
class Chunk:
    """One chunk of a file.

    ``frame`` holds the parsed rows as text; ``rows`` their 1-based data row numbers (ascending);
    ``rejects`` the records that could not even be split into fields, as ``(row or None, reason, text)``.
    """

    frame: pd.DataFrame
    rows: np.ndarray
    rejects: list[tuple[int | None, str, str]] = field(default_factory=list)

    @property
    def n_records(self) -> int:
        return len(self.frame) + len(self.rejects)


def detect_format(path: str | os.PathLike[str]) -> tuple[str, bool]:
    """Return ``(format, gzipped)`` from the file name, or raise ``ValidationError(code="unknown_format")``.

    >>> detect_format("tx.csv.gz")
    ('csv', True)
    >>> detect_format("events.ndjson")
    ('jsonl', False)
    """
    name = Path(path).name.lower()
    gz = name.endswith(".gz")
    if gz:
        name = name[:-3]
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl", gz
    if name.endswith((".parquet", ".pq")) and not gz:
        return "parquet", False
    if name.endswith(".csv") or (gz and "." not in name):
        return "csv", gz
    if gz:  # a bare .gz is read as gzip CSV
        return "csv", True
    raise ValidationError(f"Cannot tell the format of {Path(path).name}: name it .csv, .csv.gz, .parquet, "
                          ".jsonl or .ndjson (optionally .gz).", code="unknown_format")


def base_name(path: str | os.PathLike[str]) -> str:
    """The file name without ``.gz`` and ``.csv`` (``tx.csv.gz`` -> ``tx``); other formats keep their suffix
    (``tx.parquet`` -> ``tx.parquet``), so that ``tx.csv`` and ``tx.parquet`` in one folder name different
    rejects files."""
    name = Path(path).name
    for suffix in (".gz", ".csv"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return name or "input"


class ChunkReader:
    """Iterate over a file in chunks of text; ``columns`` and :meth:`fraction` are valid once iteration starts.

    Parameters
    ----------
    path : path-like
        The file to read.
    chunk_size : int
        Most rows per chunk.
    """

    def __init__(self, path: str | os.PathLike[str], chunk_size: int):
        if chunk_size < 1:
            raise ValidationError(f"The chunk size must be at least 1, not {chunk_size}.", code="invalid_input")
        self.path = Path(path)
        if not self.path.is_file():
            raise ValidationError(f"There is no file {self.path}; check the path.", code="file_not_found")
        self.format, self.gzipped = detect_format(self.path)
        self.chunk_size = int(chunk_size)
        self.columns: list[str] = []
        self.size = self.path.stat().st_size
        self._raw: Any = None
        self._rows_done = 0
        self._total_rows: int | None = None

    def fraction(self) -> float | None:
        """How much of the file has been read, from 0 to 1, or ``None`` when it cannot be told."""
        if self._total_rows is not None:
            return self._rows_done / self._total_rows if self._total_rows else 1.0
        try:
            return min(1.0, self._raw.tell() / self.size) if self._raw is not None and self.size else None
        except (OSError, ValueError, AttributeError):
            return None

    def __iter__(self) -> Iterator[Chunk]:
        gen = {"csv": self._csv, "parquet": self._parquet, "jsonl": self._jsonl}[self.format]
        for chunk in gen():
            self._rows_done += chunk.n_records
            yield chunk

    # ------------------------------------------------------------ CSV
    def _open_bytes(self) -> Any:
        """The (decompressed) bytes, checked to be text as they are read; ``self._raw`` tracks the position on
        disk."""
        self._raw = pa.OSFile(str(self.path), "rb")
        inner = pa.CompressedInputStream(self._raw, "gzip") if self.gzipped else self._raw
        return TextCheck(inner, self.path.name, "CSV")

    def _csv_header(self) -> list[str]:
        import pyarrow.csv as pacsv

        stream = self._open_bytes()
        try:
            reader = pacsv.open_csv(stream, read_options=pacsv.ReadOptions(block_size=1 << 20),
                                    parse_options=pacsv.ParseOptions(newlines_in_values=True,
                                                                     invalid_row_handler=lambda row: "skip"))
            names = list(reader.schema.names)
        except pa.ArrowInvalid as e:
            if "Empty CSV file" in str(e):
                raise ValidationError(f"The file {self.path.name} is empty: it has no header row, so there is "
                                      "nothing to load.", code="empty_file") from None
            raise ValidationError(f"The header of {self.path.name} cannot be read: {_plain(e)}.",
                                  code="unreadable_file") from None
        except (OSError, EOFError, gzip.BadGzipFile) as e:
            raise ValidationError(f"The file {self.path.name} cannot be read: {_plain(e)}.",
                                  code="unreadable_file") from None
        finally:
            stream.close()
        return _dedupe([n.strip() for n in names], self.path.name)

    def _csv(self) -> Iterator[Chunk]:
        import pyarrow.csv as pacsv

        names = self._csv_header()
        self.columns = names
        ragged: list[tuple[int | None, str, str]] = []

        def on_invalid(row: Any) -> str:
            # pyarrow's streaming reader cannot say where such a row sits: _regroup numbers it
            ragged.append((None, f"the record has {row.actual_columns} fields but the header has "
                                 f"{row.expected_columns}", row.text))
            return "skip"

        stream = self._open_bytes()
        try:
            reader = pacsv.open_csv(
                stream,
                read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=_BLOCK_SIZE),
                parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_invalid),
                convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                     strings_can_be_null=False,
                                                     quoted_strings_can_be_null=False))
            batches = _batches(reader)
            yield from self._regroup(batches, names, ragged)
        except pa.ArrowInvalid as e:
            raise ValidationError(f"The file {self.path.name} cannot be parsed as CSV: {_plain(e)}.",
                                  code="unreadable_file") from None
        finally:
            stream.close()

    def _regroup(self, batches: Iterator[pa.RecordBatch], names: list[str],
                 ragged: list[tuple[int | None, str, str]]) -> Iterator[Chunk]:
        """Turn Arrow batches of any size into chunks of ``chunk_size`` rows, numbering rows as they come."""
        pending: list[pa.RecordBatch] = []
        n_pending = 0
        next_row = 1  # the next parsed row's number, counting parsed rows only
        emitted = False
        exhausted = False
        skipped: np.ndarray | None = None  # the ragged records' numbers, once one was met
        n_ragged = 0
        while not exhausted:
            try:
                b = next(batches)
                if b.num_rows:
                    pending.append(b)
                    n_pending += b.num_rows
            except StopIteration:
                exhausted = True
            while n_pending >= self.chunk_size or (exhausted and (n_pending or ragged or not emitted)):
                table = pa.Table.from_batches(pending, schema=pending[0].schema) if pending else None
                take = min(self.chunk_size, n_pending)
                if table is not None:
                    head, rest = table.slice(0, take), table.slice(take)
                    frame = _to_text_frame(head)
                    pending, n_pending = (rest.to_batches() if rest.num_rows else []), rest.num_rows
                else:
                    frame = _empty(names)
                rows = np.arange(next_row, next_row + take, dtype=np.int64)
                next_row += take
                bad, ragged[:] = list(ragged), []
                if exhausted and not n_pending and len(frame) and any(
                        isinstance(v, str) and "\n" in v for v in frame.iloc[-1].tolist()):
                    self._check_quotes_closed()  # the last value runs over lines: maybe to the end of the file
                if bad and skipped is None:
                    skipped = self._ragged_records(len(names))
                if skipped is not None and len(skipped):
                    # the k-th parsed row is record k plus the ragged records before it
                    rows += np.searchsorted(skipped - np.arange(len(skipped)), rows, side="right")
                    bad = [(int(skipped[n_ragged + i]) if n_ragged + i < len(skipped) else None, why, text)
                           for i, (_, why, text) in enumerate(bad)]
                n_ragged += len(bad)
                emitted = True
                yield Chunk(frame, rows, bad)

    def _text(self) -> io.TextIOWrapper:
        """The file's (decompressed) text, for a second read by Python's ``csv`` module."""
        raw: Any = gzip.open(self.path, "rb") if self.gzipped else open(self.path, "rb")  # noqa: SIM115
        return io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")

    def _ragged_records(self, n_fields: int) -> np.ndarray | None:
        r"""The 1-based numbers of the records whose count of fields is not ``n_fields``, from a second read of
        the file by Python's ``csv`` module; it runs only once a load met such a record (pyarrow's streaming
        reader skips them without a position, which shifted every later row's number). ``None`` (rows are
        then numbered among the parsed ones, as before) when the second read cannot tell.

        >>> import tempfile
        >>> d = tempfile.mkdtemp(); p = os.path.join(d, "t.csv")
        >>> with open(p, "w") as f:
        ...     _ = f.write('a,b\n1,2\n1,2,3\n\n"x\ny",2\n4\n5,6\n')
        >>> ChunkReader(p, 10)._ragged_records(2).tolist()
        [2, 4]
        """
        import csv

        n = 0
        out = []
        try:
            with self._text() as text:
                records = csv.reader(text)
                next(records, None)  # the header
                for fields in records:
                    if not fields:  # a blank line, which pyarrow skips too
                        continue
                    n += 1
                    if len(fields) != n_fields:
                        out.append(n)
        except (csv.Error, OSError, EOFError, ValueError):
            return None
        return np.array(out, dtype=np.int64)

    def _check_quotes_closed(self) -> None:
        r"""Refuse a file in which a quoted value is never closed: the parser takes the rest of the file as
        that one value, and every later row would be lost without a word. Read again by Python's ``csv``
        (strict), only when the file's last value runs over several lines.

        >>> import tempfile
        >>> d = tempfile.mkdtemp(); p = os.path.join(d, "t.csv")
        >>> with open(p, "w") as f:
        ...     _ = f.write('a,b\n1,"x\ny"\n2,"27"" monitor\n3,ok\n')
        >>> try:
        ...     ChunkReader(p, 10)._check_quotes_closed()
        ... except ValidationError as e:
        ...     print(e.errors)
        ['line 4: a quote is never closed']
        """
        import csv
        import sys

        limit = csv.field_size_limit(sys.maxsize)
        last = 0
        try:
            with self._text() as text:
                records = csv.reader(text, strict=True)
                while True:
                    try:
                        next(records)
                    except StopIteration:
                        return
                    except csv.Error as e:
                        if "unexpected end of data" in str(e):
                            raise ValidationError(
                                f"In {self.path.name}, the record on line {last + 1} opens a quoted value that is "
                                "never closed, so the rest of the file would be read as that one value; close it "
                                '(a quote inside a quoted value is written twice: "") and load the file again (rows '
                                "stored before the stop count as duplicates).",
                                [f"line {last + 1}: a quote is never closed"], code="unreadable_file") from None
                    last = records.line_num
        except (OSError, EOFError) as e:
            raise ValidationError(f"The file {self.path.name} cannot be read: {_plain(e)}.",
                                  code="unreadable_file") from None
        finally:
            csv.field_size_limit(limit)

    # ------------------------------------------------------------ Parquet
    def _parquet(self) -> Iterator[Chunk]:
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(str(self.path))
        except (pa.ArrowInvalid, OSError) as e:
            raise ValidationError(f"The file {self.path.name} cannot be read as Parquet: {e}.",
                                  code="unreadable_file") from None
        self.columns = _dedupe(list(pf.schema_arrow.names), self.path.name)
        self._total_rows = pf.metadata.num_rows
        next_row = 1
        emitted = False
        for batch in pf.iter_batches(batch_size=self.chunk_size):
            if not batch.num_rows:
                continue
            table = pa.Table.from_batches([batch]).rename_columns(self.columns)
            frame = _to_text_frame(table)
            yield Chunk(frame, np.arange(next_row, next_row + len(frame), dtype=np.int64))
            next_row += len(frame)
            emitted = True
        if not emitted:
            yield Chunk(_empty(self.columns),
                        np.arange(0, dtype=np.int64))

    # ------------------------------------------------------------ JSON lines
    def _jsonl(self) -> Iterator[Chunk]:
        self._raw = open(self.path, "rb")  # noqa: SIM115 - closed in finally
        try:
            binary = cast(BinaryIO, gzip.GzipFile(fileobj=self._raw)) if self.gzipped else self._raw
            checked = io.BufferedReader(TextCheck(binary, self.path.name, "JSON lines file"), 1 << 20)
            text = io.TextIOWrapper(checked, encoding="utf-8-sig", newline=None)
            line_no = 0
            emitted = False
            while True:
                try:
                    lines = list(itertools.islice(text, self.chunk_size))
                except (OSError, EOFError, UnicodeDecodeError) as e:
                    raise ValidationError(f"The file {self.path.name} cannot be read: {_plain(e)}.",
                                          code="unreadable_file") from None
                if not lines:
                    break
                numbers = np.arange(line_no + 1, line_no + 1 + len(lines), dtype=np.int64)
                line_no += len(lines)
                keep = np.fromiter((bool(s.strip()) for s in lines), dtype=bool, count=len(lines))
                lines = [s for s, k in zip(lines, keep) if k]
                numbers = numbers[keep]
                frame, rows, bad = _parse_json_lines(lines, numbers)
                for c in frame.columns:
                    if c not in self.columns:
                        self.columns.append(c)
                frame = frame.reindex(columns=self.columns)
                emitted = True
                yield Chunk(_text_frame(frame), rows, bad)
            if not emitted:
                yield Chunk(pd.DataFrame(), np.arange(0, dtype=np.int64))
        finally:
            self._raw.close()


def _empty(names: list[str]) -> pd.DataFrame:
    return pd.DataFrame({n: pd.Series([], dtype="str") for n in names})


def _batches(reader: Any) -> Iterator[pa.RecordBatch]:
    while True:
        try:
            yield reader.read_next_batch()
        except StopIteration:
            return


def _dedupe(names: list[str], file_name: str) -> list[str]:
    """Empty header cells become ``column_<i>``; a name given twice refuses the file, naming the column
    (which of two values would be the row's is a guess the loader does not make)."""
    out: list[str] = []
    first: dict[str, int] = {}
    twice: list[str] = []
    for i, n in enumerate(names, 1):
        n = n or f"column_{i}"
        if n in first:
            twice.append(f"{n!r} (columns {first[n]} and {i})")
        first.setdefault(n, i)
        out.append(n)
    if twice:
        raise ValidationError(f"The header of {file_name} names {', '.join(twice)} more than once; rename or "
                              "remove the repeated column so each field has one source.",
                              [f"{t.split(' (')[0]}: column named more than once" for t in twice],
                              code="duplicate_column")
    return out


class TextCheck(io.RawIOBase):
    """A byte stream that refuses to deliver anything but UTF-8 text: the first invalid byte (or a NUL in
    the first line, where a text file has its header) raises :class:`ValidationError` saying where, in one
    line, without the bytes. (A NUL further on is a bad value of one row, rejected as such.)

    Validation is incremental (a character split between two reads is fine) and runs at C speed.
    """

    def __init__(self, inner: Any, name: str, kind: str):
        self.inner = inner
        self.name = name
        self.kind = kind
        self.offset = 0
        self._header_done = False
        self._decoder = codecs.getincrementaldecoder("utf-8")()

    def readable(self) -> bool:
        return True

    def _refuse(self, at: int) -> ValidationError:
        return ValidationError(f"{self.name} is not a text {self.kind} (byte {at}); save it as UTF-8 text.",
                               [f"file: not UTF-8 text at byte {at}"], code="not_text")

    def read(self, size: int = -1) -> bytes:
        data = self.inner.read(size) if size is not None and size >= 0 else self.inner.read()
        data = bytes(data)
        pending = len(self._decoder.getstate()[0])
        try:
            self._decoder.decode(data, final=not data)
        except UnicodeDecodeError as e:
            raise self._refuse(self.offset - pending + e.start) from None
        if not self._header_done:  # a NUL in the header line: no text file starts so (in rows it is a bad value)
            end = data.find(b"\n")
            nul = data.find(b"\x00", 0, end if end >= 0 else len(data))
            if nul >= 0:
                raise self._refuse(self.offset + nul)
            self._header_done = end >= 0
        self.offset += len(data)
        return data

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)

    def close(self) -> None:
        try:
            self.inner.close()
        finally:
            super().close()


def _plain(e: BaseException) -> str:
    """An error's text without raw bytes of the file: non-printable characters become ``?``."""
    return "".join(c if c.isprintable() else "?" for c in str(e))[:300]


def _to_text_frame(table: pa.Table) -> pd.DataFrame:
    """Arrow table to a DataFrame of pandas text (``str``) columns, casting non-text columns to text.

    Arrow-backed text is both the cheapest to build and the fastest for the string kernels downstream.
    """
    arrays = []
    for col in table.columns:
        typ = col.type
        if pa.types.is_dictionary(typ):
            col = col.cast(typ.value_type)
            typ = col.type
        if pa.types.is_string(typ) or pa.types.is_large_string(typ):
            arrays.append(col.cast(pa.large_string()) if pa.types.is_large_string(typ) else col)
        elif pa.types.is_floating(typ):
            arrays.append(pa.array(_float_text(col.to_numpy(zero_copy_only=False).astype("float64")),
                                   type=pa.string()))
        elif pa.types.is_boolean(typ):
            arrays.append(pa.array([None if v is None else ("true" if v else "false") for v in col.to_pylist()],
                                   type=pa.string()))
        elif pa.types.is_timestamp(typ) and typ.unit == "ns":  # nine decimals are no ISO 8601 the loader reads:
            arrays.append(col.cast(pa.timestamp("us", tz=typ.tz), safe=False).cast(pa.string()))  # microseconds
        elif (pa.types.is_integer(typ) or pa.types.is_timestamp(typ) or pa.types.is_date(typ)
              or pa.types.is_decimal(typ) or pa.types.is_time(typ)):
            arrays.append(col.cast(pa.string()))
        else:  # nested, binary: plain Python text per value (rare columns)
            arrays.append(pa.array([_value_text(v) for v in col.to_pylist()], type=pa.string()))
    if not arrays:
        return pd.DataFrame(index=range(table.num_rows))
    return pa.table(arrays, names=table.column_names).to_pandas()


def _float_text(a: np.ndarray) -> np.ndarray:
    """Floats to text; whole numbers lose their ``.0`` (a JSON id ``7`` read as ``7.0`` next to a missing value)."""
    out = np.full(len(a), None, dtype=object)
    fin = np.isfinite(a)
    whole = fin & (np.floor(a) == a) & (np.abs(a) < 2**53)
    out[whole] = a[whole].astype(np.int64).astype(str)
    rest = ~np.isnan(a) & ~whole
    out[rest] = [repr(float(v)) if math.isfinite(v) else ("Infinity" if v > 0 else "-Infinity")
                 for v in a[rest]]
    return out


def _value_text(v: Any) -> str | None:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 2**53 else repr(v)
    if isinstance(v, (dict, list)):
        return json.dumps(v, sort_keys=True, ensure_ascii=False)
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return str(v)


def _text_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Every column of a parsed JSON chunk to text, vectorised where the column allows it."""
    out = {}
    for c in df.columns:
        s = df[c]
        if pd.api.types.is_bool_dtype(s.dtype):
            out[c] = np.where(s.to_numpy(dtype=bool), "true", "false").astype(object)
        elif pd.api.types.is_integer_dtype(s.dtype):
            out[c] = s.astype(str).to_numpy(dtype=object)
        elif pd.api.types.is_float_dtype(s.dtype):
            out[c] = _float_text(s.to_numpy(dtype="float64"))
        else:
            vals = s.to_numpy(dtype=object)
            kind = pd.api.types.infer_dtype(vals, skipna=True)
            if kind in ("string", "empty"):
                out[c] = np.asarray(np.where(pd.isna(vals), None, vals)).astype(object) if kind == "string" \
                    else np.full(len(vals), None, dtype=object)
            else:
                out[c] = np.array([_value_text(v) for v in vals], dtype=object)
    if not out:
        return pd.DataFrame(index=range(len(df)))
    return pa.table({c: pa.array(v, type=pa.string(), from_pandas=True) for c, v in out.items()}).to_pandas()


class _DuplicateKey(ValueError):
    pass


class _Constant(str):
    """``NaN``, ``Infinity`` or ``-Infinity`` in a JSON line: Python's encoder writes them, JSON has none."""


def _constant_key(obj: dict[str, Any]) -> tuple[str, str] | None:
    """The first key whose value is one of those constants, with the constant."""
    for k, v in obj.items():
        if isinstance(v, _Constant):
            return k, str(v)
    return None


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object that names each key once (``json.loads`` would keep the last value silently)."""
    d = dict(pairs)
    if len(d) != len(pairs):
        seen: set[str] = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise _DuplicateKey(dup)
    return d


def _lone_surrogate(obj: Any) -> bool:
    """Whether a parsed JSON value holds a lone surrogate (``"\\ud800"`` parses, but is no character).

    >>> _lone_surrogate(json.loads('{"a": ["x", "\\ud800"]}')), _lone_surrogate(json.loads('{"a": "\\u00e9"}'))
    (True, False)
    """
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _parse_json_lines(lines: list[str], numbers: np.ndarray
                      ) -> tuple[pd.DataFrame, np.ndarray, list[tuple[int | None, str, str]]]:
    """Parse JSON lines one by one, so one bad line costs only itself (a line naming a key twice is bad)."""
    if not lines:
        return pd.DataFrame(), numbers, []
    records, rows, bad = [], [], []
    for s, n in zip(lines, numbers.tolist()):
        try:
            obj = json.loads(s, object_pairs_hook=_object, parse_constant=_Constant)
        except _DuplicateKey as e:
            bad.append((n, f"the line names the key {str(e)[:60]!r} more than once", s.rstrip("\r\n")))
            continue
        except ValueError as e:
            msg = f"{e.msg} at column {e.colno}" if isinstance(e, json.JSONDecodeError) else str(e)[:80]
            bad.append((n, f"the line is not valid JSON ({msg})", s.rstrip("\r\n")))
            continue
        if not isinstance(obj, dict):
            bad.append((n, f"the line is a JSON {type(obj).__name__}, not an object", s.rstrip("\r\n")))
            continue
        const = _constant_key(obj) if "NaN" in s or "Infinity" in s else None  # a scan only when one may be there
        if const is not None:
            bad.append((n, f"{const[0][:60]} is {const[1]}, which JSON does not have (write a number, or null "
                           f"for none)", s.rstrip("\r\n")))
            continue
        if "\\u" in s and _lone_surrogate(obj):  # an escape like \ud800: text UTF-8 cannot hold
            bad.append((n, "the line holds a lone surrogate escape (such as \\ud800), which is no character",
                        s.rstrip("\r\n")))
            continue
        records.append(obj)
        rows.append(n)
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
    return frame, np.asarray(rows, dtype=np.int64), bad
