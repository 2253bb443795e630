"""Mapping files: how a source file's columns become canonical transaction fields.

A mapping is a small TOML file (format and examples in ``docs/mappings.md``)::

    extra_entities = ["email", "phone"]
    timestamp_format = "%d/%m/%Y %H:%M"      # optional; ISO 8601 otherwise
    timezone = "Europe/Paris"                # optional; for timestamps without an offset
    attributes = ["user_agent"]              # source columns kept as attributes

    [columns]
    transaction_id = {hash = ["email_address", "EVENT_TIMESTAMP"]}
    timestamp = "EVENT_TIMESTAMP"
    user_id = "email_address"
    amount = {constant = 0}
    email = "email_address"
    address = {join = ["street", "zip"], sep = ", "}
    # for simulators: ids from the row number, times as steps from an origin
    # transaction_id = {row_number = true, prefix = "T"}
    # timestamp = {step = "time", origin = "2020-01-01T00:00:00Z", unit = "1d"}

    [labels]
    column = "EVENT_LABEL"
    fraud = 1
    legit = 0

:meth:`Mapping.apply` turns one chunk of text columns into canonical text columns, column by column
(no Python work per row), for :func:`graphfraud.schema.validate_frame` to judge. It is given the chunk's
1-based data row numbers in the file, so the sources that read them (``row_number``, ``step``) give the
same values whatever the chunking.
"""
from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from graphfraud.errors import ConfigError, ValidationError
from graphfraud.schema import BIN_TYPE, BUILTIN_TYPES, CANONICAL, FRAUD_TYPES, REQUIRED, check_name
from graphfraud.settings import parse_duration

_TOP_KEYS = ("name", "description", "columns", "labels", "extra_entities", "timestamp_format", "timezone",
             "attributes", "strip")
_TIME_FIELDS = ("timestamp", "labelled_at")
# two independent 64-bit keyed hashes make one 128-bit id (pandas' siphash; keys are exactly 16 bytes)
_HASH_KEYS = ("graphfraud-id-k1", "graphfraud-id-k2")
_KINDS = ("constant", "hash", "join", "column", "row_number", "step")
_OPTIONS = {"join": {"sep"}, "row_number": {"prefix"}, "step": {"origin", "unit"}}
# step times: inside numpy's datetime64[ms] range with four-digit years; the schema judges the real range
_STEP_LIMIT_MS = 2.5e14


@dataclass(frozen=True)
class Source:
    """Where one canonical field comes from: a ``column``, a ``constant``, a ``hash``, a ``join``, the
    ``row_number`` (text ``prefix`` + number) or a ``step`` column (``origin_ms`` + step x ``unit_ms``)."""

    kind: str
    column: str | None = None
    columns: tuple[str, ...] = ()
    value: str | None = None
    sep: str = " "
    whole_row: bool = False
    prefix: str = ""
    origin_ms: int = 0
    unit_ms: int = 0


@dataclass
class Mapping:
    """A parsed, checked mapping. Build one with :func:`load_mapping` or :func:`parse_mapping`."""

    columns: dict[str, Source] = field(default_factory=dict)
    extra_entities: tuple[str, ...] = ()
    label_column: str | None = None
    label_values: dict[str, str] = field(default_factory=dict)
    label_types: dict[str, str] = field(default_factory=dict)  # label value -> fraud type (fraud values only)
    timestamp_format: str | None = None
    timezone: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)  # attribute name -> source column
    name: str = "mapping"
    strip: str | None = None  # characters taken off both ends of every value before mapping (quotes: BankSim)

    # ------------------------------------------------------------ checks against a file's header
    def check_columns(self, file_columns: Sequence[str]) -> list[str]:
        """Raise ``ValidationError(code="missing_column")`` if the file lacks a column the mapping needs.

        Returns warnings for optional columns the file lacks (those fields are left empty).
        """
        have = set(file_columns)
        missing: list[str] = []
        warnings: list[str] = []
        for target, src in self.columns.items():
            need = ([src.column] if src.kind in ("column", "step") else
                    list(src.columns) if src.kind in ("hash", "join") else [])
            absent = [c for c in need if c is not None and c not in have]
            if not absent:
                continue
            if target in REQUIRED or src.kind in ("hash", "step"):
                missing.append(f"{target} (from {', '.join(map(repr, absent))})")
            else:
                warnings.append(f"the file has no column {', '.join(map(repr, absent))} for {target}; "
                                f"{target} is left empty")
        for c in REQUIRED:
            if c not in self.columns and c not in have:
                missing.append(c)
        if self.label_column is not None and self.label_column not in have:
            warnings.append(f"the file has no label column {self.label_column!r}; rows are loaded unlabelled")
        for a, c in self.attributes.items():
            if c not in have:
                warnings.append(f"the file has no column {c!r} for attribute {a}")
        if missing:
            raise ValidationError(f"Required column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                                  f"missing in the file; it has {', '.join(map(str, file_columns)) or 'no columns'}."
                                  f" Fix the [columns] table of mapping {self.name}.",
                                  [f"{m}: column missing" for m in missing], code="missing_column")
        return warnings

    # ------------------------------------------------------------ one chunk
    def _label_key(self, df: pd.DataFrame) -> pd.Series:
        """The label column's values as ``[labels]`` compares them: without case, surrounding spaces and
        ``strip``'s characters."""
        key = df[self.label_column]
        if self.strip:
            key = key.str.strip(self.strip)
        return key.str.strip().str.casefold()

    def unlisted_labels(self, df: pd.DataFrame) -> dict[str, int]:
        """How many rows of the chunk ``df`` carry each label value that ``[labels]`` does not list (empty
        values aside): those rows load unlabelled, which is what a mistyped value or column looks like.

        >>> mp = parse_mapping({"columns": {}, "labels": {"column": "f", "yes": 1, "no": 0}})
        >>> mp.unlisted_labels(pd.DataFrame({"f": ["yes", "True", " true", "", None, "NO"]}))
        {'true': 2}
        """
        if self.label_column is None or self.label_column not in df.columns:
            return {}
        key = self._label_key(df)
        odd = key[key.notna() & (key != "") & ~key.isin(list(self.label_values))]
        return {str(k): int(v) for k, v in odd.value_counts(sort=False).items()} if len(odd) else {}

    def apply(self, df: pd.DataFrame, rows: Sequence[int] | np.ndarray | None = None
              ) -> tuple[pd.DataFrame, dict[int, str]]:
        """Map one chunk of source text columns to canonical text columns.

        ``rows`` are the chunk's 1-based data row numbers in the file (the readers' ``Chunk.rows``); without
        them the chunk is taken to be the whole file (rows 1..n). ``row_number`` and ``step`` sources read
        them, so their values do not depend on the chunking.

        Returns ``(frame, errors)``: ``errors`` maps a 0-based position in the chunk to a reason, for
        values the mapping itself could not read (a timestamp not matching ``timestamp_format``, a step
        that is not a number).
        """
        n = len(df)
        if self.strip:
            df = df.apply(lambda c: c.str.strip(self.strip))
        row_no = np.arange(1, n + 1, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
        if len(row_no) != n:
            raise ValueError(f"apply got {len(row_no)} row numbers for a chunk of {n} rows")
        out: dict[str, Any] = {}
        errors: dict[int, list[str]] = {}
        for target, src in self.columns.items():
            if src.kind == "step":
                out[target], bad = self._steps(df, src, row_no, target)
                for i, reason in bad:
                    errors.setdefault(i, []).append(reason)
            elif src.kind == "row_number":
                out[target] = pd.Series(np.char.add(src.prefix, row_no.astype(str)).astype(object), dtype="str")
            else:
                out[target] = self._source(df, src, n)
        for c in (*CANONICAL, BIN_TYPE):  # canonical columns the mapping does not mention pass through
            if c not in out and c in df.columns:
                out[c] = df[c]
        for t in self.extra_entities:
            if t not in out and t in df.columns:
                out[t] = df[t]
        if self.label_column is not None:
            if self.label_column in df.columns:
                key = self._label_key(df)
                out["is_fraud"] = key.map(self.label_values)
                if self.label_types:
                    out["fraud_type"] = key.map(self.label_types)
            else:
                out["is_fraud"] = _empty(n)
        for a, c in self.attributes.items():
            if c in df.columns:
                out[a] = df[c]
        if self.timestamp_format or self.timezone:
            for f in _TIME_FIELDS:  # step times are UTC already
                if f in out and not (f in self.columns and self.columns[f].kind == "step"):
                    out[f], bad = self._times(pd.Series(out[f], dtype="str").reset_index(drop=True), f)
                    for i, reason in bad:
                        errors.setdefault(i, []).append(reason)
        frame = pd.DataFrame({k: (v.reset_index(drop=True) if isinstance(v, pd.Series) else v)
                              for k, v in out.items()}, index=range(n))
        return frame, {i: "; ".join(r) for i, r in errors.items()}

    def _source(self, df: pd.DataFrame, src: Source, n: int) -> Any:
        if src.kind == "constant":
            return pd.Series(np.full(n, src.value, dtype=object), dtype="str")
        if src.kind == "column":
            return df[src.column] if src.column in df.columns else _empty(n)
        cols = list(df.columns) if src.whole_row else [c for c in src.columns if c in df.columns]
        if not cols:
            return _empty(n)
        part = df[cols].astype(object).where(df[cols].notna(), "")
        if src.kind == "hash":
            return stable_hash(part)
        # join: non-empty parts joined by sep; nothing at all stays empty
        parts = [part[c].astype(str).str.strip() for c in cols]
        parts = [p.where(p != "", None) for p in parts]
        joined = parts[0].str.cat(parts[1:], sep=src.sep, na_rep="") if len(parts) > 1 else parts[0]
        if len(parts) > 1:  # drop separators left by empty parts
            joined = joined.str.replace(f"^(?:{_re(src.sep)})+|(?:{_re(src.sep)})+$", "", regex=True)
            joined = joined.str.replace(f"(?:{_re(src.sep)}){{2,}}", src.sep, regex=True)
        return joined.where(joined.fillna("") != "", None)

    @staticmethod
    def _steps(df: pd.DataFrame, src: Source, rows: np.ndarray, fieldname: str
               ) -> tuple[pd.Series, list[tuple[int, str]]]:
        """Times ``origin + step x unit``, plus one millisecond per file row before this one (at most the
        step's last millisecond), so the rows of one step keep their file order; ISO text and per-row errors."""
        n = len(df)
        result = pd.Series(np.full(n, None, dtype=object), dtype="str")
        if src.column not in df.columns or not n:
            return result, []
        text = df[src.column].astype(object).where(df[src.column].notna(), "").astype(str).str.strip()
        present = (text != "").to_numpy()
        steps = pd.to_numeric(text.where(present, None), errors="coerce").to_numpy(dtype=float)
        offset = np.minimum(rows - 1, src.unit_ms - 1).astype(float)
        with np.errstate(invalid="ignore", over="ignore"):
            ms = src.origin_ms + np.round(steps * src.unit_ms) + offset
        ok = present & np.isfinite(ms) & (np.abs(ms) < _STEP_LIMIT_MS)
        if ok.any():
            stamps = np.datetime_as_string(ms[ok].astype(np.int64).astype("datetime64[ms]"), unit="ms")
            result.iloc[np.flatnonzero(ok)] = np.char.add(stamps.astype(str), "Z").astype(object)
        bad_pos = np.flatnonzero(present & ~ok)
        vals = text.to_numpy()[bad_pos]
        bad = [(int(i), f"{fieldname} {_show(str(v))} is not a number of steps in range (column {src.column!r})")
               for i, v in zip(bad_pos, vals)]
        return result, bad

    def _times(self, s: pd.Series, fieldname: str) -> tuple[pd.Series, list[tuple[int, str]]]:
        """Read timestamps with ``timestamp_format``/``timezone``; return ISO text and per-row errors."""
        stripped = s.str.strip()
        present = (stripped.notna() & (stripped != "")).to_numpy()
        result = pd.Series(np.full(len(s), None, dtype=object), dtype="str")
        if not present.any():
            return result, []
        sp = stripped[present]
        tz = self.timezone or "UTC"
        if self.timestamp_format:
            aware_fmt = "%z" in self.timestamp_format or "%Z" in self.timestamp_format
            parsed = pd.to_datetime(sp, format=self.timestamp_format, errors="coerce", utc=aware_fmt)
            read = parsed.notna().to_numpy()
            if not aware_fmt:
                parsed = parsed.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
            why = f"does not match the format {self.timestamp_format!r}"
        else:  # ISO 8601 text; only values without an offset take the mapping's timezone
            has_zone = sp.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$", regex=True).fillna(False).to_numpy(dtype=bool)
            parts = []
            if has_zone.any():
                parts.append(pd.to_datetime(sp[has_zone], format="ISO8601", utc=True, errors="coerce"))
            read = np.ones(len(sp), dtype=bool)
            if (~has_zone).any():
                naive = pd.to_datetime(sp[~has_zone], format="ISO8601", errors="coerce")
                read[~has_zone] = naive.notna().to_numpy()
                parts.append(naive.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC"))
            parsed = pd.concat(parts).reindex(sp.index)  # concat also unifies time units
            if has_zone.any():
                read[has_zone] = parsed[has_zone].notna().to_numpy()
            why = "is not an ISO 8601 timestamp"
        ok = parsed.notna().to_numpy()
        iso = parsed[ok].dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        pos = np.flatnonzero(present)
        result.iloc[pos[ok]] = iso.to_numpy()
        # read, but no such local time: the hour skipped when clocks go forward, or one passed twice after
        dst = "is a local time that does not exist, or exists twice, at a daylight-saving change"
        zone = f" in time zone {tz}" if self.timezone else ""
        bad = [(int(i), f"{fieldname} {_show(v)} {dst if r else why}{zone}")
               for i, v, r in zip(pos[~ok], sp[~ok].tolist(), read[~ok].tolist())]
        return result, bad

    @property
    def extra_types(self) -> tuple[str, ...]:
        return self.extra_entities


def _re(s: str) -> str:
    import re

    return re.escape(s)


def _show(s: str, n: int = 40) -> str:
    return repr(s if len(s) <= n else s[:n] + "...")


def _empty(n: int) -> pd.Series:
    return pd.Series(np.full(n, None, dtype=object), dtype="str")


def stable_hash(frame: pd.DataFrame) -> pd.Series:
    """A 128-bit hex id per row of text, the same for the same values in the same column order.

    Vectorised (pandas' keyed SipHash over each value, combined per row, twice with two keys). Columns
    are hashed separately, so ``("ab", "c")`` and ``("a", "bc")`` differ.

    >>> stable_hash(pd.DataFrame({"a": ["x"], "b": ["y"]})).iloc[0] == stable_hash(
    ...     pd.DataFrame({"a": ["x"], "b": ["y"]})).iloc[0]
    True
    """
    obj = frame.astype(object)
    h = [pd.util.hash_pandas_object(obj, index=False, hash_key=k).to_numpy(dtype=np.uint64) for k in _HASH_KEYS]
    both = np.stack(h, axis=1).astype(">u8")
    hexed = both.tobytes().hex().encode("ascii")
    ids = np.frombuffer(hexed, dtype="S32").astype("U32").astype(object) if len(frame) else np.array([], dtype=object)
    return pd.Series(ids, dtype="str")


# ---------------------------------------------------------------- reading and checking
def shipped_mappings() -> list[str]:
    """Names of the mappings shipped with the package (``loaders/mappings/*.toml``)."""
    d = resources.files("loaders") / "mappings"
    return sorted(p.name[:-5] for p in d.iterdir() if p.name.endswith(".toml"))


_SHIPPED_NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")


def _looks_like_name(text: str) -> bool:
    """A bare word (no folder separator, no ``.toml``) names a shipped mapping."""
    return os.sep not in text and "/" not in text and not text.lower().endswith(".toml")


def load_mapping(ref: str | os.PathLike[str] | Mapping | dict[str, Any]) -> Mapping:
    """Read a mapping given by shipped name (``"aws_transactions"``), by path, or as a parsed dict.

    Raises :class:`~graphfraud.errors.ConfigError` when it cannot be found, read, or makes no sense.

    >>> load_mapping("aws_registrations").columns["amount"].value
    '0'
    """
    if isinstance(ref, Mapping):
        return ref
    if isinstance(ref, dict):
        return parse_mapping(ref)
    text: str
    name = str(ref)
    path = Path(name)
    if isinstance(ref, str) and _looks_like_name(name):
        # a shipped mapping is named by a plain word; anything with separators or dots must be a .toml file
        # the caller points at, never a name that climbs out of the package (``../../etc/passwd``)
        if not _SHIPPED_NAME.match(name):
            raise ConfigError(f"{name[:80]!r} is not a shipped mapping name (letters, digits and _ only); "
                              f"shipped: {', '.join(shipped_mappings())}. To use your own mapping, give the "
                              "path of a .toml file.", code="invalid_mapping_name")
    elif path.suffix.lower() != ".toml":
        raise ConfigError(f"Mapping file {name[:200]} is not a .toml file; give a TOML mapping file or the name "
                          f"of a shipped mapping ({', '.join(shipped_mappings())}).", code="invalid_mapping_name")
    if not (isinstance(ref, str) and _looks_like_name(name)) and path.is_file():
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"Mapping file {path} cannot be read: {e}.") from None
        name = path.stem
    elif os.sep not in name and "/" not in name and not name.endswith(".toml"):
        res = resources.files("loaders") / "mappings" / f"{name}.toml"
        if not res.is_file():
            raise ConfigError(f"There is no mapping file {name!r} and no shipped mapping of that name; shipped: "
                              f"{', '.join(shipped_mappings())}.")
        text = res.read_text(encoding="utf-8")
    else:
        raise ConfigError(f"There is no mapping file {name}; check the path.")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"Mapping {name} is not valid TOML: {e}.") from None
    return parse_mapping(data, name=name)


def parse_mapping(data: dict[str, Any], name: str = "mapping") -> Mapping:
    """Check a mapping read from TOML and build a :class:`Mapping`; each error names the key at fault."""
    def bad(key: str, why: str) -> ConfigError:
        return ConfigError(f"Mapping {name}: {key} {why}.", [f"{key}: {why}"])

    for k in data:
        if k not in _TOP_KEYS:
            raise bad(k, f"is not a mapping key; use {', '.join(_TOP_KEYS)}")
    extra = data.get("extra_entities", [])
    if not isinstance(extra, list) or not all(isinstance(e, str) for e in extra):
        raise bad("extra_entities", "must be a list of entity type names")
    for e in extra:
        if e in CANONICAL or e in BUILTIN_TYPES:
            raise bad("extra_entities", f"lists {e!r}, which is a built-in field, not an extra entity type")
        try:
            check_name(e)
        except ValidationError as err:
            raise bad("extra_entities", f"lists {e!r}, not a valid name ({err.message})") from None
    columns: dict[str, Source] = {}
    table = data.get("columns", {})
    if not isinstance(table, dict):
        raise bad("columns", "must be a table of canonical_field = \"source column\"")
    for target, spec in table.items():
        key = f"columns.{target}"
        if target not in CANONICAL and target not in extra and target != BIN_TYPE:
            raise bad(key, "is neither a canonical field nor listed in extra_entities")
        columns[target] = _source_of(spec, key, bad)
        if columns[target].kind == "step" and target not in _TIME_FIELDS:
            raise bad(key, f"is not a time; a step source gives {' or '.join(_TIME_FIELDS)} only")
    labels = data.get("labels")
    label_column, label_values, label_types = None, {}, {}
    if labels is not None:
        if not isinstance(labels, dict):
            raise bad("labels", "must be a table with column = \"...\" and value = 0 or 1 pairs")
        label_column = labels.get("column")
        if not isinstance(label_column, str) or not label_column:
            raise bad("labels.column", "must name the source column holding the labels")
        default_type = labels.get("fraud_type")
        if default_type is not None and default_type not in FRAUD_TYPES:
            raise bad("labels.fraud_type", f"must be one of {', '.join(FRAUD_TYPES)}")
        for v, flag in labels.items():
            if v in ("column", "fraud_type"):
                continue
            if isinstance(flag, str) and flag in FRAUD_TYPES:  # fraud of that type
                label_values[v.strip().casefold()] = "1"
                label_types[v.strip().casefold()] = flag
                continue
            if isinstance(flag, bool) or flag not in (0, 1):
                raise bad(f"labels.{v}", f"must be 1 (fraud), 0 (not fraud) or a fraud type "
                                         f"({', '.join(FRAUD_TYPES)})")
            label_values[v.strip().casefold()] = str(int(flag))
            if flag == 1 and default_type is not None:
                label_types[v.strip().casefold()] = default_type
        if not label_values:
            raise bad("labels", "maps no values; add lines such as fraud = 1 and legit = 0")
        if "is_fraud" in columns:
            raise bad("labels", "and columns.is_fraud both set is_fraud; keep one")
    fmt = data.get("timestamp_format")
    if fmt is not None and (not isinstance(fmt, str) or "%" not in fmt):
        raise bad("timestamp_format", "must be a strptime format such as \"%Y-%m-%d %H:%M:%S\"")
    if fmt is not None:
        try:  # the parser's own check of its directives, on one value (a format it refuses fails every row)
            pd.to_datetime(pd.Series(["2020-01-02"]), format=fmt, errors="coerce")
        except ValueError as e:
            hint = (" (times in seconds or another unit since an origin: timestamp = {step = \"COLUMN\", origin = "
                    "\"1970-01-01T00:00:00Z\", unit = \"1s\"})" if "%s" in fmt else "")
            raise bad("timestamp_format", f"{fmt!r} is not a format the parser reads: {e}{hint}") from None
    tz = data.get("timezone")
    if tz is not None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            if not isinstance(tz, str):
                raise ValueError
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise bad("timezone", f"{tz!r} is not a known time zone such as \"UTC\" or \"Europe/Paris\"") from None
    attrs_raw = data.get("attributes", [])
    if isinstance(attrs_raw, list) and all(isinstance(a, str) for a in attrs_raw):
        attributes = {a: a for a in attrs_raw}
    elif isinstance(attrs_raw, dict) and all(isinstance(v, str) for v in attrs_raw.values()):
        attributes = dict(attrs_raw)
    else:
        raise bad("attributes", "must be a list of source columns or a table of name = \"source column\"")
    for a in attributes:
        if a in CANONICAL or a in extra:
            raise bad(f"attributes.{a}", "is a canonical field or extra entity; map it in [columns] instead")
    for k in ("name", "description"):
        if k in data and not isinstance(data[k], str):
            raise bad(k, "must be text")
    strip = data.get("strip")
    if strip is not None and (not isinstance(strip, str) or not strip):
        raise bad("strip", "must be the characters to take off both ends of every value, such as \"'\"")
    return Mapping(columns=columns, extra_entities=tuple(extra), label_column=label_column,
                   label_values=label_values, label_types=label_types, timestamp_format=fmt, timezone=tz, attributes=attributes,
                   name=str(data.get("name", name)), strip=strip)


def _source_of(spec: Any, key: str, bad: Any) -> Source:
    if isinstance(spec, str):
        if not spec:
            raise bad(key, "names an empty source column")
        return Source("column", column=spec)
    if not isinstance(spec, dict) or not (set(spec) & set(_KINDS)):
        raise bad(key, "must be a source column name, {constant = ...}, {hash = [...]}, {join = [...]}, "
                       "{column = \"...\"}, {row_number = true, prefix = \"...\"} or "
                       "{step = \"...\", origin = \"...\", unit = \"1d\"}")
    kinds = set(spec) & set(_KINDS)
    kind = sorted(kinds)[0]
    if len(kinds) > 1 or set(spec) - {kind} - _OPTIONS.get(kind, set()):
        raise bad(key, f"mixes {', '.join(sorted(spec))}; give one of {', '.join(_KINDS)}"
                       + (f" (with {', '.join(sorted(_OPTIONS[kind]))})" if kind in _OPTIONS else ""))
    v = spec[kind]
    if kind == "column":
        return _source_of(v, key, bad)
    if kind == "row_number":
        if v is not True:
            raise bad(key, "row_number must be true (ids from the 1-based row number in the file)")
        prefix = spec.get("prefix", "")
        if not isinstance(prefix, str):
            raise bad(key, "prefix must be text")
        return Source("row_number", prefix=prefix)
    if kind == "step":
        return _step_source(spec, key, bad)
    if kind == "constant":
        if isinstance(v, bool):
            return Source("constant", value="1" if v else "0")
        if isinstance(v, (int, float, str)):
            return Source("constant", value=str(v))
        raise bad(key, "constant must be text or a number")
    if kind == "hash" and v == "row":
        return Source("hash", whole_row=True)
    if not isinstance(v, list) or not v or not all(isinstance(c, str) and c for c in v):
        raise bad(key, f"{kind} must be a non-empty list of source column names" +
                  (" or \"row\"" if kind == "hash" else ""))
    sep = spec.get("sep", " ")
    if not isinstance(sep, str):
        raise bad(key, "sep must be text")
    return Source(kind, columns=tuple(v), sep=sep)


def _step_source(spec: dict[str, Any], key: str, bad: Any) -> Source:
    """``{step = "COLUMN", origin = "ISO time", unit = "1d"}``: checked, origin and unit in milliseconds."""
    column, origin, unit = spec["step"], spec.get("origin"), spec.get("unit")
    if not isinstance(column, str) or not column:
        raise bad(key, "step must name the source column holding the step number")
    if origin is None or unit is None:
        raise bad(key, "step needs origin (the time of step 0, such as \"2020-01-01T00:00:00Z\") and unit "
                       "(the length of one step, such as \"1d\")")
    try:
        if not isinstance(origin, str):
            raise ValueError
        t0 = pd.Timestamp(origin)
    except ValueError:
        raise bad(key, f"origin {str(origin)[:40]!r} is not an ISO 8601 time such as \"2020-01-01T00:00:00Z\""
                  ) from None
    t0 = t0.tz_localize("UTC") if t0.tzinfo is None else t0.tz_convert("UTC")
    try:
        if isinstance(unit, bool) or not isinstance(unit, (str, int, float)):
            raise ConfigError("not a duration")
        unit_ms = parse_duration(unit) * 1000.0
    except ConfigError:
        raise bad(key, f"unit {unit!r} is not a duration such as \"1d\", \"1h\" or \"15m\"") from None
    if unit_ms < 1 or unit_ms != int(unit_ms):
        raise bad(key, f"unit {unit!r} must be a whole number of milliseconds, at least 1ms")
    return Source("step", column=column, origin_ms=int(t0.value // 10**6), unit_ms=int(unit_ms))
