"""The Neo4j store: the same contract as the embedded store, on a Neo4j 5 server (local, cluster or hosted).

Graph model (every value a query parameter; the Cypher lives in the ``cypher`` package, one query a file):

- ``(:User {id})-[:USED {first_seen, last_seen, n}]->(identifier)``, identifiers being ``(:Card {id})``,
  ``(:Device {id})``, ``(:IP {id})``, ``(:Merchant {id})`` and, for mapped extra types,
  ``(:Entity {type, id})``. Links are folded in the same write transaction as the transactions.
- ``(:User)-[:MADE]->(:Transaction {transaction_id, seq, ts, user_id, amount, ...})``; ``extra`` and
  ``attrs`` are JSON text, absent values are absent properties.
- ``(:Label)``, ``(:Decision)``, ``(:Model)`` (bytes as a byte array), ``(:Event)``, ``(:Ring)``,
  ``(:RingMember)``, ``(:RingHistory)``, ``(:Case)``, ``(:Note)``, ``(:AppUser)``, ``(:ApiKey)`` (hashes
  only), ``(:Audit)`` and ``(:Meta {key, value})`` holding the sequence counter and small settings.

Every write runs in one Neo4j transaction that first locks the ``seq`` Meta node, so writers are
serialised the way ``BEGIN IMMEDIATE`` serialises the embedded store, and sequence numbers are handed
out without gaps between concurrent writers. This module is the only one importing :mod:`neo4j`; it does
so lazily, keeps one driver per process and URL, and turns every driver error into
:class:`~graphfraud.errors.StorageError` without the driver's text.
"""
from __future__ import annotations

import atexit
import base64
import json
import math
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from ..errors import Conflict, GraphFraudError, NotFound, StorageError
from ..schema import ENTITY_COLUMNS, MORE_FIELDS, Label, Transaction
from .base import (TX_COLUMNS, Event, WriteResult, load_record, same_value, to_json, transaction_from_row,
                   transactions_from_rows)
from .cypher import query
from .neo4j_registry import Neo4jRegistryMixin

__all__ = ["Neo4jStore", "query"]

BATCH = 10_000  # rows per UNWIND statement
SOURCE_RANK = {"file": 0, "chargeback": 1, "investigator": 2}
# merge_user_activity's positional lists: a transaction is [transaction_id, seq, ts, *_TX_PROPS]; a link's kind
# is its type's place in _LINK_TYPES (the query's $cards, $devices, $ips, $merchants)
_TX_PROPS = ("amount", "card_id", "device_id", "ip", "merchant_id", "currency", "country", "is_fraud",
             "labelled_at", "extra", "attrs", *MORE_FIELDS)
_LINK_TYPES = ("card_id", "device_id", "ip", "merchant_id")
_COMPARED = ("ts", "user_id", "amount", "card_id", "device_id", "ip", "merchant_id", "currency", "country",
             "extra", "attrs", "counterparty_id", "auth_result", "decline_reason")
# erase_list_texts properties that are plain text (the others are JSON)
_PLAIN_TEXT = ("ref", "title", "target")
_LINK_COLUMNS = ["type", "entity_id", "user_id", "first_seen", "last_seen", "n"]

_DRIVERS: dict[tuple[Any, ...], Any] = {}
_DRIVERS_LOCK = threading.Lock()


def _statements(name: str) -> list[str]:
    """The statements of a DDL script (``create_schema.cypher``), comments dropped."""
    text = "\n".join(ln for ln in query(name).splitlines() if not ln.lstrip().startswith("//"))
    return [s.strip() for s in text.split(";") if s.strip()]


def _now() -> int:
    return int(time.time() * 1000)


def _dump(d: Any) -> str | None:
    return json.dumps(d, sort_keys=True, ensure_ascii=False, separators=(",", ":")) if d else None


def _clean(v: Any) -> Any:
    """``None`` for missing values (``None``, NaN, pandas NA), plain Python scalars otherwise."""
    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    try:
        import pandas as pd

        if v is pd.NA or v is pd.NaT:
            return None
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        return v.item()
    return v




class _Rows(list[Any]):
    """A list parameter with a short ``repr``: the driver formats every RUN's parameters for its debug log
    before checking whether debug logging is on, which for a 10,000-row batch cost ~0.15 s of client time."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"<{len(self)} rows>"


def _chunks(seq: Sequence[Any], size: int = BATCH) -> Iterator[Sequence[Any]]:
    for k in range(0, len(seq), size):
        yield seq[k:k + size]


def _label(r: Any) -> Label:
    return Label(r["subject"], r["subject_id"], r["value"], r["known_at"], r["source"], r.get("fraud_type"))


def _split_url(url: str) -> tuple[str, str | None, str | None, str | None]:
    """``(url without credentials, user, password, database)`` from ``bolt://user:pass@host:port/db``."""
    parts = urlsplit(url)
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    host = parts.hostname or "localhost"
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    database = parts.path.strip("/") or None
    return urlunsplit((parts.scheme, netloc, "", parts.query, "")), user, password, database


def _shared_driver(url: str, user: str | None, password: str | None) -> Any:
    """One driver per process and server (a forked worker makes its own: sockets are not shared)."""
    key = (os.getpid(), url, user, password)
    with _DRIVERS_LOCK:
        drv = _DRIVERS.get(key)
        if drv is None:
            import neo4j

            from .. import settings

            auth = (user, password or "") if user else None
            # an outage answers within neo4j_retry seconds: retries of a transaction, and connecting
            retry = max(0.0, float(settings.get("neo4j_retry")))
            drv = neo4j.GraphDatabase.driver(url, auth=auth, max_connection_lifetime=3600, notifications_min_severity="OFF",
                                             connection_acquisition_timeout=60.0, max_transaction_retry_time=retry,
                                             connection_timeout=max(1.0, retry))
            if not _DRIVERS:
                atexit.register(_close_drivers)
            _DRIVERS[key] = drv
        return drv


def _close_drivers() -> None:
    with _DRIVERS_LOCK:
        for drv in _DRIVERS.values():
            try:
                drv.close()
            except Exception:  # noqa: BLE001 - closing at exit: nothing left to tell
                pass
        _DRIVERS.clear()


class Neo4jStore(Neo4jRegistryMixin):
    """The store on a Neo4j 5 server; the same methods and semantics as
    :class:`~graphfraud.storage.embedded.EmbeddedStore`.

    Parameters
    ----------
    url : str
        ``bolt://``, ``bolt+s://``, ``neo4j://`` or ``neo4j+s://`` (cluster routing, hosted servers) URL,
        optionally with ``user:password@`` and a ``/database`` path.
    user, password : str, optional
        Default: from the URL, else ``NEO4J_USER`` / ``NEO4J_PASSWORD``; none means auth is off.
    database : str, optional
        Default: from the URL path, else ``NEO4J_DATABASE``, else the server's default database.
    """

    backend = "neo4j"
    folds_link_totals = False  # each write folds its own links (see LinkStore)

    def __init__(self, url: str, user: str | None = None, password: str | None = None,
                 database: str | None = None, **_: Any) -> None:
        plain, url_user, url_password, url_db = _split_url(url)
        self.location = plain + (f"/{url_db}" if url_db else "")
        self._url = plain
        self._user = user or url_user or os.environ.get("NEO4J_USER") or None
        self._password = password or url_password or os.environ.get("NEO4J_PASSWORD") or None
        if self._password and not self._user:
            self._user = "neo4j"
        self._database = database or url_db or os.environ.get("NEO4J_DATABASE") or None
        self._guard("open", self._open)

    # ------------------------------------------------------------ connection and errors
    def _open(self) -> None:
        self._driver = _shared_driver(self._url, self._user, self._password)
        self._driver.verify_connectivity()
        with self._session() as s:
            for stmt in _statements("create_schema"):
                s.run(stmt).consume()
            s.run("MERGE (m:Meta {key: 'seq'}) ON CREATE SET m.value = 0").consume()

    def after_fork(self) -> None:
        """In a process forked from the one that opened this store: a driver of this process's own (drivers
        are kept per process, so the parent's sockets are not touched)."""
        self._driver = _shared_driver(self._url, self._user, self._password)

    def _session(self) -> Any:
        return self._driver.session(database=self._database) if self._database else self._driver.session()

    def _guard(self, what: str, fn: Callable[[], Any]) -> Any:
        """Run ``fn``; driver and network errors become :class:`StorageError` (no driver text leaves)."""
        import neo4j.exceptions as ne

        try:
            return fn()
        except GraphFraudError:
            raise
        except ne.AuthError:
            raise StorageError(f"The Neo4j server at {self.location} refused the credentials; set NEO4J_USER and "
                               "NEO4J_PASSWORD or put them in the store URL.", code="store_unavailable") from None
        except (ne.ServiceUnavailable, ne.SessionExpired, OSError):
            raise StorageError(f"The Neo4j server at {self.location} cannot be reached; check that it is running "
                               "and the URL is right.", code="store_unavailable") from None
        except ne.Neo4jError as e:
            code = getattr(e, "code", "") or ""
            raise StorageError(f"The Neo4j store at {self.location} could not {what} ({code or 'server error'}); "
                               "see the server's log for the cause.") from None
        except ne.DriverError:
            raise StorageError(f"The connection to the Neo4j store at {self.location} failed while trying to "
                               f"{what}; try again.") from None

    def _read(self, query_name: str, /, **params: Any) -> list[dict[str, Any]]:
        """Run one read query from ``cypher/``; rows as dicts."""
        def fn() -> list[dict[str, Any]]:
            with self._session() as s:
                return s.execute_read(  # type: ignore[no-any-return]
                    lambda tx: [r.data() for r in tx.run(query(query_name), params)])

        return self._guard("read", fn)  # type: ignore[no-any-return]

    def _write(self, fn: Callable[[Any, int], tuple[Any, int]], what: str = "write") -> Any:
        """Run ``fn(tx, base_seq) -> (result, new_seq)`` in one write transaction holding the store lock."""
        def work(tx: Any) -> Any:
            base = tx.run(query("lock_sequence")).single()["value"]
            result, new_seq = fn(tx, int(base))
            tx.run(query("set_sequence"), value=int(new_seq)).consume()
            return result

        def run() -> Any:
            with self._session() as s:
                return s.execute_write(work)

        return self._guard(what, run)

    @staticmethod
    def _next_ids(tx: Any, counter: str, n: int = 1) -> int:
        """Take ``n`` ids from a counter (fixed names only); returns the last one."""
        return int(tx.run(query("next_id"), key=f"id:{counter}", n=n).single()["last"])

    def clear(self) -> None:
        """Delete everything in the database (every node, not only graphfraud's) and start the sequence
        again. For tests and for starting over; no command calls it."""
        def run() -> None:
            with self._session() as s:
                s.run(query("clear_database")).consume()
                s.run("MERGE (m:Meta {key: 'seq'}) ON CREATE SET m.value = 0").consume()

        self._guard("clear the database", run)

    def close(self) -> None:
        """Nothing to release per store: the process's driver is shared (closed at exit)."""

    def last_seq(self) -> int:
        rows = self._read("get_meta", key="seq")
        return int(rows[0]["value"]) if rows and rows[0]["value"] is not None else 0

    def refresh_links(self, wait: bool = True) -> bool:
        """Links are folded in the same transaction as the transactions: nothing to catch up."""
        return True

    def begin_bulk_load(self) -> bool:
        """Nothing to defer: the server keeps its own indexes (the loader writes in batches); ``False``."""
        return False

    def end_bulk_load(self, build: bool = True) -> None:
        """Nothing deferred (see :meth:`begin_bulk_load`)."""

    def fold_link_totals(self, totals: Any, first_seq: int, last_seq: int) -> bool:
        """Uses nothing (``folds_link_totals`` is false: each write keeps its links); returns ``False``."""
        return False

    def checkpoint_in_background(self, every: float = 1.0) -> None:
        """Nothing to move off the requests: the server does its own housekeeping."""

    # ------------------------------------------------------------ bulk transactions
    def write_transactions(self, frame: Any) -> WriteResult:
        """Write a validated chunk (from :func:`graphfraud.schema.validate_frame`).

        Rows go in batches of 10,000, each one server transaction (all or nothing): a lookup of the ids
        already stored, then one statement (``merge_user_activity``) for the new rows' nodes, transactions
        and links. A larger chunk is several batches: after a crash, the
        batches written are whole, and loading the file again counts them as duplicates.
        An id stored with the same content is a duplicate (or a label event when it brings a label the
        stored row lacked); an id stored with other content is a conflict naming the fields.
        """
        n = len(frame)
        if n == 0:
            return WriteResult()
        if n > BATCH:
            # one server transaction per batch: the server bounds a transaction's memory (1 GiB on the
            # bundled server), and 100,000 rows with their nodes and links exceed it
            total = WriteResult()
            for k in range(0, n, BATCH):
                part = self.write_transactions(frame.iloc[k:k + BATCH])
                total.inserted += part.inserted
                total.duplicates += part.duplicates
                total.labelled += part.labelled
                total.conflicts += part.conflicts
                total.first_seq = total.first_seq or part.first_seq
                total.last_seq = part.last_seq
            return total
        names = ("transaction_id", "ts", "user_id", "amount", "card_id", "device_id", "ip", "merchant_id",
                 "currency", "country")
        # validated columns are mostly plain str/int already: _clean only what is not
        cols = {c: [v if v.__class__ is str else _clean(v) for v in frame[c].tolist()] for c in names}
        cols["ts"] = [int(v) for v in cols["ts"]]
        cols["amount"] = [float(v) for v in cols["amount"]]
        cols["is_fraud"] = [v if v.__class__ is int else None if _clean(v) is None else int(v)
                            for v in frame["is_fraud"].tolist()]
        cols["labelled_at"] = [v if v.__class__ is int else None if _clean(v) is None else int(v)
                               for v in frame["labelled_at"].tolist()]
        cols["extra"] = [_dump(d) if isinstance(d, dict) else None for d in frame["extra"].tolist()]
        cols["attrs"] = [_dump(d) if isinstance(d, dict) else None for d in frame["attrs"].tolist()]
        for c in MORE_FIELDS:
            cols[c] = [_clean(v) for v in frame[c].tolist()] if c in frame.columns else [None] * n
        extras = [d if isinstance(d, dict) else {} for d in frame["extra"].tolist()]
        rows_no = frame["row"].tolist() if "row" in frame.columns else list(range(1, n + 1))
        tids = cols["transaction_id"]
        first: dict[str, int] = {}
        for i, t in enumerate(tids):
            first.setdefault(t, i)

        def work(tx: Any, base: int) -> tuple[WriteResult, int]:
            res = WriteResult(first_seq=base + 1, last_seq=base + n)
            stored: dict[str, dict[str, Any]] = {}
            for part in _chunks(list(first)):
                for r in tx.run(query("match_transactions"), ids=_Rows(part)):
                    stored[r["t"]["transaction_id"]] = r["t"]
            new = [i for t, i in first.items() if t not in stored]
            self._insert(tx, new, base, cols, extras)
            res.inserted = len(new)
            ignored = [i for i in range(n) if first[tids[i]] != i or tids[i] in stored]
            next_seq = base + n
            if ignored:
                next_seq = self._reconcile(tx, ignored, first, stored, cols, rows_no, res, next_seq)
            return res, next_seq

        return self._write(work, "write transactions")  # type: ignore[no-any-return]

    def _insert(self, tx: Any, new: list[int], base: int, cols: dict[str, list[Any]],
                extras: list[dict[str, str]]) -> None:
        """New transactions in one statement (``merge_user_activity``): identifier nodes, each user with its
        transactions (MADE) and its USED links, folded here to one per user and identifier (first and last
        seen, count); then the nodes and links of extra identifier types, if any."""
        if not new:
            return
        every = len(new) == len(cols["transaction_id"])  # the usual case: no duplicates in the batch
        users, ts = (cols["user_id"], cols["ts"]) if every else ([cols["user_id"][i] for i in new],
                                                                 [cols["ts"][i] for i in new])
        seqs = [base + 1 + i for i in new]

        def pick(name: str) -> list[Any]:
            return cols[name] if every else [cols[name][i] for i in new]

        # user -> [user_id, transactions, links]; a transaction is a tuple in the query's column order
        groups: dict[str, list[Any]] = {}
        for u, row in zip(users, zip(pick("transaction_id"), seqs, ts, *[pick(k) for k in _TX_PROPS])):
            g = groups.get(u)
            if g is None:
                groups[u] = [u, [row], {}]
            else:
                g[1].append(row)
        # per identifier type: each identifier once in the query's list, and the (user, identifier) links
        # folded to [kind, position, first_seen, last_seen, n]
        ids: list[list[str]] = []
        for kind, name in enumerate(_LINK_TYPES):
            position: dict[str, int] = {}
            for u, v, t in zip(users, pick(name), ts):
                if v is None:
                    continue
                p = position.get(v)
                if p is None:
                    p = position[v] = len(position)
                links = groups[u][2]
                a = links.get((kind, p))
                if a is None:
                    links[(kind, p)] = [kind, p, t, t, 1]
                else:
                    if t < a[2]:
                        a[2] = t
                    if t > a[3]:
                        a[3] = t
                    a[4] += 1
            ids.append(_Rows(position))
        for g in groups.values():
            g[2] = list(g[2].values())
        # one statement: write_transactions hands over at most BATCH rows (one server transaction)
        tx.run(query("merge_user_activity"), cards=ids[0], devices=ids[1], ips=ids[2], merchants=ids[3],
               users=_Rows(groups.values())).consume()
        users, ts = cols["user_id"], cols["ts"]
        if not any(extras[i] for i in new):
            return
        extra_nodes = list(dict.fromkeys((k, v) for i in new for k, v in extras[i].items()))
        for part in _chunks(extra_nodes):
            tx.run(query("merge_extra_entities"), rows=[{"type": k, "id": v} for k, v in part]).consume()
        xagg: dict[tuple[str, str, str], list[int]] = {}
        for i in new:
            for k, v in extras[i].items():
                a = xagg.get((k, users[i], v))
                if a is None:
                    xagg[(k, users[i], v)] = [ts[i], ts[i], 1]
                else:
                    a[0], a[1], a[2] = min(a[0], ts[i]), max(a[1], ts[i]), a[2] + 1
        xrows = [{"type": k, "user_id": u, "entity_id": e, "first_seen": a[0], "last_seen": a[1], "n": a[2]}
                 for (k, u, e), a in xagg.items()]
        for part in _chunks(xrows):
            tx.run(query("merge_extra_links"), rows=list(part)).consume()

    def _reconcile(self, tx: Any, ignored: list[int], first: dict[str, int], stored: dict[str, dict[str, Any]],
                   cols: dict[str, list[Any]], rows_no: list[int], res: WriteResult, seq: int) -> int:
        """Rows whose id was stored already (or earlier in the chunk): same content is a duplicate (a new
        label is added), other content is a conflict."""
        tids = cols["transaction_id"]
        ids = list({tids[i] for i in ignored if tids[i] in stored})
        file_labels: set[tuple[str, str]] = set()
        for part in _chunks(ids):
            for r in tx.run(query("list_file_labels"), ids=list(part)):
                file_labels.add((r["subject_id"], r["value"]))
        labels: list[dict[str, Any]] = []
        now = _now()
        for i in ignored:
            tid = tids[i]
            if tid in stored:
                old = stored[tid]
            else:
                j = first[tid]
                old = {k: cols[k][j] for k in (*_COMPARED, "is_fraud")}
            diff = [k for k in _COMPARED if not same_value(old.get(k), cols[k][i])]
            if diff:
                res.conflicts.append((rows_no[i], f"transaction_id {tid!r} is already stored with a different "
                                      f"{', '.join(diff)}"))
                continue
            fraud = cols["is_fraud"][i]
            if fraud is not None and old.get("is_fraud") is None and (tid, str(fraud)) not in file_labels:
                seq += 1
                labels.append({"seq": seq, "subject": "transaction", "subject_id": tid, "value": str(fraud),
                               "known_at": cols["labelled_at"][i], "source": "file", "created_at": now,
                               "fraud_type": cols["fraud_type"][i]})
                file_labels.add((tid, str(fraud)))
                res.labelled += 1
            else:
                res.duplicates += 1
        for part in _chunks(labels):
            tx.run(query("create_labels"), rows=list(part)).consume()
        return seq

    # ------------------------------------------------------------ one transaction (the API)
    def add_transaction(self, tx: Transaction, decision: dict[str, Any] | None = None
                        ) -> tuple[int, dict[str, Any] | None]:
        """Store one transaction and its decision record atomically (see the embedded store)."""
        props = {"transaction_id": tx.transaction_id, "ts": tx.ts, "user_id": tx.user_id, "amount": tx.amount,
                 "card_id": tx.card_id, "device_id": tx.device_id, "ip": tx.ip, "merchant_id": tx.merchant_id,
                 "currency": tx.currency, "country": tx.country, "is_fraud": tx.is_fraud,
                 "labelled_at": tx.labelled_at, "extra": _dump(tx.extra), "attrs": _dump(tx.attrs),
                 **{k: getattr(tx, k) for k in MORE_FIELDS}}

        def work(dtx: Any, base: int) -> tuple[tuple[int, dict[str, Any] | None], int]:
            old = dtx.run(query("get_transaction"), transaction_id=tx.transaction_id).single()
            if old is not None:
                diff = transaction_from_row(old["t"]).differs_from(tx)
                if diff:
                    raise Conflict(f"Transaction {tx.transaction_id!r} is already stored with other values of "
                                   f"{', '.join(diff)}; use a new transaction_id for a new transaction (a retry "
                                   "must send what was sent first, attributes included).",
                                   [f"transaction_id: {tx.transaction_id!r} exists with other values"],
                                   code="transaction_conflict")
                d = dtx.run(query("get_decision"), transaction_id=tx.transaction_id).single()
                return (int(old["t"]["seq"]), load_record(d["body"]) if d else {}), base
            cols = {k: [v] for k, v in props.items()}
            self._insert(dtx, [0], base, cols, [dict(tx.extra)])
            seq = base + 1
            if decision is not None:
                seq += 1
                dtx.run(query("create_decision"), seq=seq, transaction_id=tx.transaction_id, created_at=_now(),
                        score=decision.get("score"), decision=decision.get("decision"),
                        body=to_json(decision, sort_keys=True)).consume()
            return (base + 1, None), seq

        return self._write(work, "store the transaction")  # type: ignore[no-any-return]

    def add_labels(self, labels: Sequence[Label]) -> int:
        """Store label events atomically; returns how many were stored."""
        if not labels:
            return 0

        def work(tx: Any, base: int) -> tuple[int, int]:
            t = _now()
            rows = [{"seq": base + i + 1, "subject": lb.subject, "subject_id": lb.subject_id, "value": lb.value,
                     "known_at": lb.known_at, "source": lb.source, "created_at": t, "fraud_type": lb.fraud_type}
                    for i, lb in enumerate(labels)]
            for part in _chunks(rows):
                tx.run(query("create_labels"), rows=list(part)).consume()
            return len(labels), base + len(labels)

        return self._write(work, "store labels")  # type: ignore[no-any-return]

    def add_event(self, kind: str, data: dict[str, Any]) -> int:
        def work(tx: Any, base: int) -> tuple[int, int]:
            tx.run(query("create_event"), seq=base + 1, kind=kind, data=json.dumps(data, sort_keys=True)).consume()
            return base + 1, base + 1

        return self._write(work, "store an event")  # type: ignore[no-any-return]

    # ------------------------------------------------------------ reads
    def get_transaction(self, transaction_id: str) -> dict[str, Any] | None:
        rows = self._read("get_transaction", transaction_id=transaction_id)
        if not rows:
            return None
        p = rows[0]["t"]
        d = transaction_from_row(p).as_dict()
        d["seq"] = p["seq"]
        d["labels"] = self._read("list_subject_labels", subject="transaction", subject_id=transaction_id)
        return d

    def transaction_times(self, transaction_ids: Sequence[str]) -> dict[str, int]:
        """The time (epoch ms) of each of these transactions the store holds, by id (one read per 5,000)."""
        ids = list(dict.fromkeys(transaction_ids))
        out: dict[str, int] = {}
        for k in range(0, len(ids), 5000):
            out.update((r["transaction_id"], int(r["ts"])) for r in
                       self._read("list_transaction_times", ids=ids[k:k + 5000]))
        return out

    def transactions_of(self, column: str, value: str, limit: int = 100) -> list[dict[str, Any]]:
        """Newest transactions where ``column`` (``user_id`` or an entity column) equals ``value``."""
        if column == "user_id":
            rows = self._read("list_user_transactions", user_id=value, limit=int(limit))
        elif column in ENTITY_COLUMNS:
            rows = self._read("list_entity_transactions", type=ENTITY_COLUMNS[column], entity_id=value,
                              column=column, limit=int(limit))
        else:
            rows = self._read("list_entity_transactions", type=column, entity_id=value, column=None,
                              limit=1_000_000)
            rows = [r for r in rows if json.loads(r["t"].get("extra") or "{}").get(column) == value][:limit]
        return [transaction_from_row(r["t"]).as_dict() for r in rows]

    def info(self) -> dict[str, Any]:
        c = self._read("count_store")[0]
        labelled, fraud = int(c["labelled"]), int(c["fraud"] or 0)
        eff: dict[str, tuple[int, int, str]] = {}
        for r in self._read("list_transaction_labels"):
            key = (SOURCE_RANK.get(r["source"], 0), r["seq"])
            sid = r["subject_id"]
            if sid not in eff or key > eff[sid][:2]:
                eff[sid] = (key[0], key[1], r["value"])
        if eff:
            for part in _chunks(list(eff)):
                for r in self._read("list_file_fraud", ids=list(part)):
                    old = r["is_fraud"]
                    new = int(eff[r["transaction_id"]][2])
                    labelled += old is None
                    fraud += (new == 1) - (old == 1)
        entities: dict[str, int] = {"user": int(c["users"])}
        found = {"card": c["cards"], "device": c["devices"], "ip": c["ips"], "merchant": c["merchants"]}
        found.update({r["type"]: r["n"] for r in self._read("count_extra_entities")})
        for typ in sorted(found):
            if found[typ]:
                entities[typ] = int(found[typ])
        users = {r["value"]: int(r["n"]) for r in self._read("count_user_labels", ranks=SOURCE_RANK)}
        return {"store": self.location, "backend": "neo4j", "transactions": int(c["transactions"]),
                "labelled": labelled, "fraud": fraud, "entities": entities, "links": int(c["links"]),
                "user_labels": users, "last_seq": self.last_seq()}

    def _stream(self, query_name: str, /, **params: Any) -> Iterator[list[Any]]:
        """Rows of a read query as value lists, streamed (the session stays open while iterating)."""
        import neo4j.exceptions as ne

        try:
            with self._session() as s:
                for rec in s.run(query(query_name), params):
                    yield rec.values()
        except (ne.Neo4jError, ne.DriverError, OSError):
            raise StorageError(f"Reading from the Neo4j store at {self.location} failed; check that the server "
                               "is running and try again.") from None

    def iter_transaction_frames(self, chunk_size: int = 200_000, after_seq: int = 0) -> Iterator[Any]:
        """Transactions in sequence order as DataFrames (for rebuilding the engine)."""
        import pandas as pd

        rows: list[list[Any]] = []
        for r in self._stream("stream_transactions", after_seq=int(after_seq), limit=2**62):
            rows.append(r)
            if len(rows) >= chunk_size:
                yield pd.DataFrame.from_records(rows, columns=list(TX_COLUMNS))
                rows = []
        if rows:
            yield pd.DataFrame.from_records(rows, columns=list(TX_COLUMNS))

    def iter_transactions(self, after_seq: int = 0, attributes: bool = False) -> Iterator[tuple[Transaction, int]]:
        """Transactions in sequence order with their sequence numbers, without free attributes unless
        ``attributes``."""
        return transactions_from_rows(self._stream("stream_transactions", after_seq=int(after_seq), limit=2**62),
                                      attributes)

    def labels(self, after_seq: int = 0) -> list[tuple[int, Label]]:
        return [(r["seq"], _label(r)) for r in self._read("list_labels", after_seq=int(after_seq), limit=2**62)]

    def events_since(self, seq: int, limit: int = 10_000) -> list[Event]:
        """Everything stored after ``seq``, in sequence order (at most ``limit`` events).

        The three reads run one after another under read-committed isolation, so each keeps only what is at
        or below the sequence's committed end read first: writers are serialised and hand out numbers in
        commit order, so everything up to that end is visible to every read, and a later label cannot be
        returned without the transaction committed before it.
        """
        hi = self.last_seq()
        out: list[Event] = []
        for r in self._stream("stream_transactions", after_seq=int(seq), limit=int(limit)):
            out.append(Event(r[0], "transaction", transaction=transaction_from_row(r[1:])))
        for s, lb in [(r["seq"], _label(r)) for r in self._read("list_labels", after_seq=int(seq), limit=int(limit))]:
            out.append(Event(s, "label", label=lb))
        for e in self._read("list_events", after_seq=int(seq), limit=int(limit)):
            out.append(Event(e["seq"], e["kind"], data=json.loads(e["data"])))
        out = sorted((e for e in out if e.seq <= hi), key=lambda e: e.seq)
        return out[:limit]

    def links_frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame.from_records(list(self._stream("stream_links")), columns=_LINK_COLUMNS)

    def neighbours(self, node_type: str, node_id: str, limit: int) -> list[dict[str, Any]]:
        """Links touching one node: a user's entities, or an entity's users (at most ``limit``)."""
        if node_type == "user":
            return self._read("list_user_links", user_id=node_id, limit=int(limit))
        return self._read("list_entity_links", type=node_type, entity_id=node_id, limit=int(limit))

    def transfers_of(self, user_id: str, limit: int) -> list[dict[str, Any]]:
        """Money between one user and others, both ways: one row per payer and payee (``TRANSFER_COLUMNS``),
        most recent first, at most ``limit`` rows."""
        return self._read("list_user_transfers", user_id=user_id, limit=int(limit))

    def transfers_among(self, user_ids: Sequence[str], limit: int) -> list[dict[str, Any]]:
        """Transfers whose payer and payee are both among ``user_ids``, oldest first (``TRANSFER_ROW_COLUMNS``)."""
        return self._read("list_transfers_among", user_ids=sorted(set(user_ids)), limit=int(limit))

    def count_links(self, node_type: str, node_id: str) -> int:
        if node_type == "user":
            return len(self.neighbours("user", node_id, 1_000_000))
        rows = self._read("count_entity_links", type=node_type, entity_id=node_id)
        return int(rows[0]["n"] or 0) if rows else 0

    # ------------------------------------------------------------ decisions
    def add_decision(self, transaction_id: str, record: dict[str, Any]) -> dict[str, Any]:
        """Store the decision of a stored transaction that has none yet; returns the decision that is
        stored (an earlier one wins: a decision is never overwritten)."""

        def work(tx: Any, base: int) -> tuple[dict[str, Any], int]:
            old = tx.run(query("get_decision"), transaction_id=transaction_id).single()
            if old is not None:
                return load_record(old["body"]), base
            tx.run(query("create_decision"), seq=base + 1, transaction_id=transaction_id, created_at=_now(),
                   score=record.get("score"), decision=record.get("decision"),
                   body=to_json(record, sort_keys=True)).consume()
            return record, base + 1

        return self._write(work, "store the decision")  # type: ignore[no-any-return]

    def get_decision(self, transaction_id: str) -> dict[str, Any] | None:
        rows = self._read("get_decision", transaction_id=transaction_id)
        return load_record(rows[0]["body"]) if rows else None

    def decisions_frame(self, limit: int | None = None) -> Any:
        import pandas as pd

        rows = self._read("list_decisions", limit=int(limit) if limit else 2**62)
        return pd.DataFrame.from_records([list(r.values()) for r in rows],
                                         columns=["transaction_id", "created_at", "score", "decision", "body"])

    # ------------------------------------------------------------ models
    def save_model(self, version: str, meta: dict[str, Any], blob: bytes) -> None:
        import hashlib

        def work(tx: Any, base: int) -> tuple[None, int]:
            tx.run(query("create_model"), version=version, created_at=_now(), meta=json.dumps(meta, sort_keys=True),
                   sha256=hashlib.sha256(blob).hexdigest(), blob=bytearray(blob)).consume()
            return None, base

        self._write(work, "save the model")

    def set_model_status(self, version: str, status: str) -> None:
        def work(tx: Any, base: int) -> tuple[None, int]:
            if not tx.run(query("set_model_status"), version=version, status=status).single()["found"]:
                raise NotFound(f"There is no model version {version!r}; `graphfraud model list` shows them.")
            tx.run(query("create_event"), seq=base + 1, kind="model",
                   data=json.dumps({"version": version, "status": status})).consume()
            return None, base + 1

        self._write(work, "change the model's status")

    def list_models(self) -> list[dict[str, Any]]:
        return [{"version": r["version"], "created_at": r["created_at"], "status": r["status"], "sha256": r["sha256"],
                 **json.loads(r["meta"])} for r in self._read("list_models")]

    def load_model(self, version: str) -> tuple[dict[str, Any], bytes]:
        rows = self._read("get_model", version=version)
        if not rows:
            raise NotFound(f"There is no model version {version!r}; `graphfraud model list` shows them.")
        meta = json.loads(rows[0]["meta"])
        meta["sha256"] = rows[0]["sha256"]
        blob = rows[0]["blob"]
        return meta, base64.b64decode(blob) if isinstance(blob, str) else bytes(blob)

    # ------------------------------------------------------------ erasure
    def erase_user(self, user_id: str, actor: str) -> dict[str, Any]:
        """Replace a user's personal data by pseudonyms, keeping every count of :meth:`info`.

        The same semantics as the embedded store (see :mod:`graphfraud.storage.erase`), in one write
        transaction: the user id becomes ``erased:<hash>`` on the User node, its transactions, user labels,
        ring memberships, and in decision records, rings, ring history, cases and earlier audit rows;
        identifiers only this user used, and personal (extra) identifier types wherever they appear, are
        renamed in place (nodes and links stay); the user's transaction attributes are dropped. Records an
        audit row (naming the pseudonym only) and an ``erase`` event (serving processes rebuild their engine).
        Returns a summary with the ``pseudonym``; raises :class:`NotFound` when the store has no such user.
        The engine snapshot is the graph layer's: erase through :func:`graphfraud.erasure.erase_user`, which
        removes it too.
        """
        from .erase import _CONTEXT, _SHARED_KEPT, _replacer, begin_erasure, pseudonym, text_needles

        columns = {t: c for c, t in ENTITY_COLUMNS.items() if t not in _CONTEXT}  # card -> card_id, ...

        def work(tx: Any, base: int) -> tuple[dict[str, Any], int]:
            found = tx.run(query("erase_find_user"), user_id=user_id).single()
            tx_ids, n_lab, rings = list(found["transaction_ids"]), int(found["n_labels"]), list(found["ring_ids"])
            salt, pseudo, mapping = begin_erasure(user_id, bool(tx_ids or n_lab or rings or found["n_received"]))
            renamed: dict[tuple[str, str], str] = {}
            for r in sorted(tx.run(query("erase_list_identifiers"), user_id=user_id).data(),
                            key=lambda r: (r["type"], r["entity_id"])):
                typ, value = r["type"], r["entity_id"]
                if typ in _SHARED_KEPT and int(r["n_users"]) > 1:
                    continue  # the other users' history as well
                p = pseudonym(f"{typ}\x1f{value}", salt)
                renamed[(typ, value)] = p
                mapping[str(value)] = p
            # identifier values in every transaction holding them (an extra type's value may be shared)
            rows = [{"type": t, "id": v, "pseudonym": p} for (t, v), p in renamed.items()]
            if rows:
                changes = []
                for r in tx.run(query("erase_list_identifier_transactions"), rows=rows).data():
                    props: dict[str, Any] = {}
                    for typ, col in columns.items():
                        to = renamed.get((typ, r[col])) if r[col] is not None else None
                        if to is not None:
                            props[col] = to
                    extra = json.loads(r["extra"]) if r["extra"] else {}
                    new = {k: renamed.get((k, v), v) if isinstance(v, str) else v for k, v in extra.items()}
                    if new != extra:
                        props["extra"] = _dump(new)
                    if props:
                        changes.append({"transaction_id": r["transaction_id"], "props": props})
                for part in _chunks(changes):
                    tx.run(query("erase_set_transactions"), rows=list(part)).consume()
                tx.run(query("erase_rename_identifiers"), rows=rows).consume()
            tx.run(query("erase_rename_user"), user_id=user_id, pseudonym=pseudo).consume()
            # decision records, rings, ring history, cases and audit rows naming the user or a renamed value
            walk = _replacer(mapping)
            updates = []
            for r in tx.run(query("erase_list_texts"), transaction_ids=tx_ids, needles=text_needles(mapping)).data():
                old = r["props"]
                new_props: dict[str, Any] = {}
                for key, text in old.items():
                    if text is None:
                        continue
                    if key in _PLAIN_TEXT:
                        new_props[key] = walk(text)
                    else:
                        new_props[key] = json.dumps(walk(json.loads(text)), sort_keys=True)
                if r["kind"] == "decision" or any(new_props[k] != old[k] for k in new_props):
                    updates.append({"node": r["node"], "props": new_props})
            for part in _chunks(updates):
                tx.run(query("erase_set_texts"), rows=list(part)).consume()
            summary = {"pseudonym": pseudo, "transactions": len(tx_ids), "user_labels": n_lab, "rings": len(rings),
                       "identifiers_pseudonymised": len(renamed)}
            # the audit row names the pseudonym only; the event tells serving processes to rebuild their engine
            self._q_add_audit(tx, _now(), actor, "user.erase", f"user:{pseudo}", json.dumps(summary, sort_keys=True))
            tx.run(query("create_event"), seq=base + 1, kind="erase",
                   data=json.dumps({"pseudonym": pseudo})).consume()
            return summary, base + 1

        summary: dict[str, Any] = self._write(work, "erase the user")
        return summary

    # ------------------------------------------------------------ meta
    def get_meta(self, key: str) -> str | None:
        rows = self._read("get_meta", key=key)
        return None if not rows or rows[0]["value"] is None else str(rows[0]["value"])

    def set_meta(self, key: str, value: str) -> None:
        if key == "seq":
            raise ValueError("The sequence counter is not a setting; it moves only with stored events.")

        def work(tx: Any, base: int) -> tuple[None, int]:
            tx.run(query("set_meta"), key=key, value=value).consume()
            return None, base

        self._write(work, "save a setting")

    def delete_meta(self, key: str) -> None:
        """Remove a setting (the server's store files keep the old value until they are compacted)."""
        if key == "seq" or key.startswith("id:"):
            raise ValueError(f"{key} is part of the store's bookkeeping, not a setting.")

        def work(tx: Any, base: int) -> tuple[None, int]:
            tx.run(query("delete_meta"), key=key).consume()
            return None, base

        self._write(work, "remove a setting")
