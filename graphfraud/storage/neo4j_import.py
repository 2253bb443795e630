"""The first load of history into Neo4j through Neo4j's offline importer (``neo4j-admin database import full``).

:class:`ImportWriter` turns validated chunks (:func:`graphfraud.schema.validate_frame`) into the importer's
CSV files: the same nodes, relationships and properties as the Bolt loader
(:meth:`~graphfraud.storage.neo4j.Neo4jStore.write_transactions`) writes for the same rows, and the store's
``(:Meta {key: 'seq'})`` counter, so that a server started on the imported database opens as a graphfraud
store (``open_store("bolt://...")`` creates the constraints and indexes of ``create_schema.cypher``, IF NOT
EXISTS) and later Bolt loads add to it. :func:`run_import` runs the importer into a new database and removes
what it wrote when it fails.

Files (``--id-type=integer``: a node's id is its place in its file, a transaction's its sequence number, in
one id group per label; the store's ids are plain properties)::

    users.csv            :ID(User),id                                       label User
    transactions.csv     :ID(Transaction),transaction_id,seq:long,ts:long,...  label Transaction
    cards.csv ...        :ID(Card),id                                       labels Card, Device, IP, Merchant
    entities.csv         :ID(Entity),type,id                                label Entity (mapped extra types)
    meta.csv             key,value:long,locked:boolean                      label Meta
    made.csv             :START_ID(User),:END_ID(Transaction)               type MADE
    used_cards.csv ...   :START_ID(User),:END_ID(Card),first_seen:long,last_seen:long,n:long   type USED
    transferred.csv      :START_ID(User),:END_ID(User),transaction_id,ts:long,amount:double    type TRANSFERRED

The rows are held in memory as Arrow tables until :meth:`ImportWriter.finish` (about 250 bytes a
transaction): the importer needs every node before any relationship, and a repeated transaction id is
checked against its first row.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import StorageError, ValidationError
from ..schema import ENTITY_COLUMNS, MORE_FIELDS
from .base import link_rows, merge_link_totals, same_value
from .neo4j import _COMPARED, _dump

__all__ = ["ImportWriter", "ImportFiles", "ImportRun", "run_import", "TX_HEADER"]

#: transactions.csv: (column, importer header) in the order of the file; a missing value is an empty field,
#: which the importer leaves out (the Bolt loader leaves null properties unset too).
TX_HEADER = (("transaction_id", "transaction_id"), ("seq", "seq:long"), ("ts", "ts:long"),
             ("user_id", "user_id"), ("amount", "amount:double"), ("card_id", "card_id"),
             ("device_id", "device_id"), ("ip", "ip"), ("merchant_id", "merchant_id"), ("currency", "currency"),
             ("country", "country"), ("is_fraud", "is_fraud:long"), ("labelled_at", "labelled_at:long"),
             ("extra", "extra"), ("attrs", "attrs"), *((c, c) for c in MORE_FIELDS))
#: identifier type -> node label (the extra types of a mapping are ``(:Entity {type, id})``)
LABELS = {"card": "Card", "device": "Device", "ip": "IP", "merchant": "Merchant"}
_TEXT = ("transaction_id", "user_id", "card_id", "device_id", "ip", "merchant_id", "currency", "country", "extra",
         "attrs", *MORE_FIELDS)


@dataclass
class ImportFiles:
    """The importer's input: ``(label, path)`` node files, ``(type, path)`` relationship files, and counts."""

    directory: Path
    nodes: list[tuple[str, Path]] = field(default_factory=list)
    relationships: list[tuple[str, Path]] = field(default_factory=list)
    multiline: bool = False  # a free-text field holds a line break: the importer must be told (it is slower then)
    rows: int = 0  # valid rows handed over (each took a sequence number)
    transactions: int = 0  # transactions written (rows less repeated identical ones)
    duplicates: int = 0
    n_nodes: int = 0
    n_relationships: int = 0

    def arguments(self, database: str, report: Path) -> list[str]:
        """``neo4j-admin`` arguments for a full import of these files into ``database`` (named before the
        options: ``--nodes`` and ``--relationships`` take several files, and would take it as one)."""
        args = ["database", "import", "full", database, "--id-type=integer", "--bad-tolerance=0",
                "--skip-bad-relationships=false", "--skip-duplicate-nodes=false", f"--report-file={report}"]
        if self.multiline:
            args.append("--multiline-fields=true")
        args += [f"--nodes={label}={path}" for label, path in self.nodes]
        args += [f"--relationships={typ}={path}" for typ, path in self.relationships]
        return args


@dataclass
class ImportRun:
    """What :func:`run_import` did: the database folder and the importer's own counts and time."""

    database_dir: Path
    nodes: int
    relationships: int
    seconds: float
    output: str


class ImportWriter:
    """Collect validated chunks in file order, then write the importer's files (:meth:`finish`).

    Sequence numbers are handed out as the Bolt loader does on an empty store: one per valid row, in file
    order, from 1. A row repeating an earlier transaction id with the same content is skipped (its number
    stays unused, as the loader's duplicates do); with other content, or bringing a label the first row
    lacked, it is a :class:`~graphfraud.errors.ValidationError` naming both rows: the offline import takes
    each transaction once (load such rows over Bolt afterwards, where they become conflicts or labels).

    Examples
    --------
    >>> import tempfile, pyarrow as pa
    >>> from graphfraud.schema import validate_frame
    >>> good, _ = validate_frame(pa.table({"transaction_id": ["t1", "t2"], "timestamp": ["2026-01-02"] * 2,
    ...                                    "user_id": ["u1", "u2"], "amount": ["5", "7"], "card_id": ["c1", "c1"]}))
    >>> w = ImportWriter(tempfile.mkdtemp())
    >>> w.add(good)
    >>> files = w.finish()
    >>> files.transactions, files.n_nodes, files.n_relationships   # 2 users, 2 tx, 1 card, meta; 2 MADE, 2 USED
    (2, 6, 4)
    """

    def __init__(self, directory: str | os.PathLike[str], source: str = "the file"):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.source = source
        self._tables: list[Any] = []
        self._links: list[Any] = []
        self._seen: set[str] = set()
        self._seq = 0
        self._duplicates = 0

    # ------------------------------------------------------------ chunks
    def add(self, frame: Any) -> None:
        """Add a validated chunk (``validate_frame``'s ``good``, its ``row`` column the file's row numbers)."""
        import pyarrow as pa

        n = len(frame)
        if n == 0:
            return
        base, self._seq = self._seq, self._seq + n
        table = self._table(frame, base)
        ids = table.column("transaction_id").to_pylist()
        seen = self._seen
        again = [i for i, t in enumerate(ids) if t in seen]
        before = len(seen)
        seen.update(ids)
        if again or len(seen) - before != n:  # an id seen in an earlier chunk, or twice in this one
            keep = self._drop_repeats(table, ids, set(again))
            table = table.filter(pa.array(keep))
            frame = frame[keep]
        self._tables.append(table)
        self._links.append(link_rows(frame))

    @staticmethod
    def _table(frame: Any, base: int) -> Any:
        """The chunk's transaction properties as an Arrow table (``TX_HEADER`` columns, then ``row``)."""
        import numpy as np
        import pyarrow as pa

        n = len(frame)
        cols: dict[str, Any] = {}
        for c, _ in TX_HEADER:
            if c == "seq":
                cols[c] = pa.array(np.arange(base + 1, base + n + 1, dtype=np.int64))
            elif c in ("extra", "attrs"):
                cols[c] = pa.array([_dump(d) if isinstance(d, dict) else None for d in frame[c].tolist()], pa.string())
            elif c not in frame.columns:
                cols[c] = pa.nulls(n, pa.string())
            elif c in ("ts", "is_fraud", "labelled_at"):
                cols[c] = pa.Array.from_pandas(frame[c].astype("float64") if c != "ts" else frame[c], type=pa.int64())
            elif c == "amount":
                cols[c] = pa.Array.from_pandas(frame[c], type=pa.float64())
            else:
                cols[c] = pa.Array.from_pandas(frame[c], type=pa.string())
        rows = frame["row"].to_numpy() if "row" in frame.columns else np.arange(base + 1, base + n + 1)
        cols["row"] = pa.array(np.asarray(rows, dtype=np.int64))
        return pa.table(cols)

    def _drop_repeats(self, table: Any, ids: list[str], earlier: set[int]) -> list[bool]:
        """Which rows of the chunk to keep: a repeated id with the same content is dropped (a duplicate);
        other content is an error naming both rows. Rare, so plain Python rows are fine here."""
        import pyarrow as pa
        import pyarrow.compute as pc

        rows = table.to_pylist()
        first: dict[str, dict[str, Any]] = {}
        wanted = pa.array(sorted({ids[i] for i in earlier}), pa.string())
        for t in self._tables if len(wanted) else ():
            for r in t.filter(pc.is_in(t.column("transaction_id"), wanted)).to_pylist():
                first.setdefault(r["transaction_id"], r)
        keep = [True] * len(ids)
        for i, tid in enumerate(ids):
            old = first.get(tid)
            if old is None:
                first[tid] = rows[i]
                continue
            self._check_same(old, rows[i])
            keep[i] = False
            self._duplicates += 1
        return keep

    def _check_same(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        diff = [k for k in _COMPARED if not same_value(old.get(k), new.get(k))]
        if not diff and new.get("is_fraud") is not None and old.get("is_fraud") is None:
            diff = ["is_fraud (a label the first row lacks)"]
        if diff:
            raise ValidationError(
                f"Row {new['row']} of {self.source} repeats transaction_id {new['transaction_id']!r} of row "
                f"{old['row']} with a different {', '.join(diff)}; the offline import takes each transaction once. "
                "Fix the file, or import without that row and load it over Bolt afterwards (graphfraud load), "
                "where it becomes a conflict or a label.",
                [f"row {new['row']}: transaction_id {new['transaction_id']!r} repeats row {old['row']} "
                 f"with a different {', '.join(diff)}"], code="invalid_transaction")

    # ------------------------------------------------------------ files
    def finish(self) -> ImportFiles:
        """Write every node and relationship file; returns them with the importer's arguments' parts."""
        import pyarrow as pa
        import pyarrow.compute as pc

        out = ImportFiles(self.directory, rows=self._seq, duplicates=self._duplicates)
        tx = pa.concat_tables(self._tables) if self._tables else ImportWriter._table(_empty_frame(), 0)
        self._tables = []
        out.transactions = tx.num_rows
        for c in ("decline_reason", "fraud_type", "auth_result", "counterparty_id", "currency", "country"):
            col = tx.column(c)
            if col.null_count < len(col) and pc.any(pc.match_substring_regex(col, "[\r\n]")).as_py():
                out.multiline = True
        # nodes: users (payers and payees), transactions, identifiers, the sequence counter. Node ids are
        # integers (a node's place in its file; a transaction's sequence number): the importer maps them much
        # faster than strings, and the store's own ids are ordinary properties
        users = pc.unique(pa.concat_arrays([tx.column("user_id").combine_chunks(),
                                            pc.drop_null(tx.column("counterparty_id")).combine_chunks()]))

        def user(col: Any) -> Any:
            return pc.index_in(col, value_set=users)

        self._write(out, "node", "User", "users.csv", pa.table({":ID(User)": _positions(users), "id": users}))
        self._write(out, "node", "Transaction", "transactions.csv",
                    tx.select([c for c, _ in TX_HEADER]).rename_columns([h for _, h in TX_HEADER])
                    .add_column(0, ":ID(Transaction)", tx.column("seq")))
        links = merge_link_totals(self._links)
        self._links = []
        used: list[tuple[str, Any, Any]] = []  # label, links, the linked node's id per link
        for typ, label in LABELS.items():
            part = links.filter(pc.equal(links.column("type"), typ))
            if part.num_rows:
                ids = pc.unique(part.column("entity_id"))
                self._write(out, "node", label, f"{label.lower()}s.csv",
                            pa.table({f":ID({label})": _positions(ids), "id": ids}))
                used.append((label, part, pc.index_in(part.column("entity_id"), value_set=ids)))
        extra = links.filter(pc.invert(pc.is_in(links.column("type"), pa.array(list(LABELS)))))
        if extra.num_rows:
            key = pc.binary_join_element_wise(extra.column("type"), extra.column("entity_id"), "\x1f")
            nodes = pa.table({"key": key, "type": extra.column("type"), "id": extra.column("entity_id")})
            nodes = nodes.group_by(["key", "type", "id"], use_threads=False).aggregate([])
            self._write(out, "node", "Entity", "entities.csv",
                        pa.table({":ID(Entity)": _positions(nodes.column("key")), "type": nodes.column("type"),
                                  "id": nodes.column("id")}))
            used.append(("Entity", extra, pc.index_in(key, value_set=nodes.column("key"))))
        meta = pa.table({"key": ["seq"], "value:long": pa.array([self._seq], pa.int64()),
                         "locked:boolean": [False]})
        self._write(out, "node", "Meta", "meta.csv", meta)
        # relationships
        self._write(out, "rel", "MADE", "made.csv",
                    pa.table({":START_ID(User)": user(tx.column("user_id")), ":END_ID(Transaction)": tx.column("seq")}))
        for label, part, end in used:
            self._write(out, "rel", "USED", f"used_{label.lower()}s.csv",
                        pa.table({":START_ID(User)": user(part.column("user_id")), f":END_ID({label})": end,
                                  "first_seen:long": part.column("first_seen"),
                                  "last_seen:long": part.column("last_seen"), "n:long": part.column("n")}))
        tr = tx.filter(pc.is_valid(tx.column("counterparty_id")))
        if tr.num_rows:
            self._write(out, "rel", "TRANSFERRED", "transferred.csv",
                        pa.table({":START_ID(User)": user(tr.column("user_id")),
                                  ":END_ID(User)": user(tr.column("counterparty_id")),
                                  "transaction_id": tr.column("transaction_id"), "ts:long": tr.column("ts"),
                                  "amount:double": tr.column("amount")}))
        return out

    def _write(self, out: ImportFiles, kind: str, name: str, filename: str, table: Any) -> None:
        import pyarrow.csv as pcsv

        path = self.directory / filename
        # strings are always quoted (an inner quote doubled): an id may start or end with a space, or hold the
        # delimiter; an absent value is an empty field, which the importer leaves out
        pcsv.write_csv(table, path, pcsv.WriteOptions(quoting_style="needed"))
        if kind == "node":
            out.nodes.append((name, path))
            out.n_nodes += table.num_rows
        else:
            out.relationships.append((name, path))
            out.n_relationships += table.num_rows


def _positions(values: Any) -> Any:
    import pyarrow as pa

    return pa.array(range(len(values)), pa.int64())


def _empty_frame() -> Any:
    import pandas as pd

    return pd.DataFrame({c: pd.Series([], dtype="object") for c, _ in TX_HEADER if c != "seq"})


def run_import(files: ImportFiles, home: str | os.PathLike[str], *, database: str = "neo4j",
               admin: Sequence[str] | str = "neo4j-admin", timeout: float | None = None) -> ImportRun:
    """Run ``neo4j-admin database import full`` on ``files`` into a new database under ``home``.

    ``home`` is the Neo4j home the importer writes into (``NEO4J_HOME``: databases in ``home/data/databases``)
    and the folder a server is then started on (``scripts/neo4j-server --data HOME``, or a Neo4j installation
    with the default data directory). The server must be stopped. The database must not exist yet: the
    importer makes new databases only. When the importer fails, the database and transaction-log folders it
    was writing are removed, so no half database is left to start.

    Raises
    ------
    graphfraud.errors.StorageError
        ``code="database_exists"`` when the database folder is there already, ``"import_failed"`` when the
        importer cannot be started or fails (the message ends with its last lines).
    """
    home = Path(home).resolve()
    targets = [home / "data" / "databases" / database, home / "data" / "transactions" / database]
    there = [p for p in targets if p.exists() and any(p.iterdir())]
    if there:
        raise StorageError(f"The database folder {there[0]} exists already; the offline import makes a new database. "
                           "Choose a new Neo4j home (or database name), or remove that database first.",
                           code="database_exists")
    command = [admin] if isinstance(admin, str) else list(admin)
    report = files.directory / "import.report"
    env = {**os.environ, "NEO4J_HOME": str(home)}
    started = time.perf_counter()
    home.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run([*command, *files.arguments(database, report)], env=env, capture_output=True,
                              text=True, errors="replace", timeout=timeout, check=False)
        output, ok = done.stdout + done.stderr, done.returncode == 0 and "IMPORT DONE" in done.stdout + done.stderr
    except (OSError, subprocess.TimeoutExpired) as e:
        output, ok = f"{type(e).__name__}: {e}", False
    seconds = time.perf_counter() - started
    if not ok:
        for p in targets:
            shutil.rmtree(p, ignore_errors=True)
        lines = [ln.strip() for ln in output.splitlines() if ln.strip() and not ln.strip().startswith(("at ", "..."))]
        tail = " | ".join(([ln for ln in lines if "Exception" in ln or "rror" in ln] or lines)[-3:])
        raise StorageError(f"The Neo4j importer ({command[0]}) failed; nothing was kept of database {database!r} "
                           f"under {home}. Its last lines: {tail or 'none'}", code="import_failed")
    return ImportRun(targets[0], _count(output, "nodes"), _count(output, "relationships"), seconds, output)


def _count(output: str, what: str) -> int:
    """The importer's ``Imported: N nodes / M relationships`` summary lines."""
    for line in reversed(output.splitlines()):
        parts = line.split()
        if len(parts) == 2 and parts[1] == what and parts[0].isdigit():
            return int(parts[0])
    return -1
