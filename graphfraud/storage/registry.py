"""The embedded store's registry tables (rings and their history, cases, investigator accounts, their
sessions and sign-in throttling, API keys and the audit trail) and the SQL the registry runs on them. Mixed
into :class:`~graphfraud.storage.embedded.EmbeddedStore`; what the registry means is
:class:`~graphfraud.storage.registry_service.RegistryService`, shared with the Neo4j store.

Sessions and throttling rows live in tables that stores made by earlier versions lack: they are created by
the first write that needs them, and reads before that find nothing.
"""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from .registry_service import DISABLED, RegistryService, _now

REGISTRY_SCHEMA = """
CREATE TABLE IF NOT EXISTS ring(
  ring_id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, status TEXT NOT NULL,
  merged_into TEXT, score REAL, size INTEGER, users TEXT NOT NULL, body TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ring_user(user_id TEXT NOT NULL, ring_id TEXT NOT NULL,
  PRIMARY KEY(user_id, ring_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ring_user_ring ON ring_user(ring_id);
CREATE TABLE IF NOT EXISTS ring_history(id INTEGER PRIMARY KEY, ring_id TEXT NOT NULL, at INTEGER NOT NULL,
  change TEXT NOT NULL, detail TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS app_user(name TEXT PRIMARY KEY, role TEXT NOT NULL, password_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS apikey(id INTEGER PRIMARY KEY, name TEXT NOT NULL, scope TEXT NOT NULL,
  key_hash TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL, revoked_at INTEGER);
CREATE TABLE IF NOT EXISTS audit(id INTEGER PRIMARY KEY, at INTEGER NOT NULL, actor TEXT NOT NULL,
  action TEXT NOT NULL, target TEXT, detail TEXT);
CREATE TABLE IF NOT EXISTS gcase(id INTEGER PRIMARY KEY, kind TEXT NOT NULL, ref TEXT NOT NULL,
  title TEXT NOT NULL, status TEXT NOT NULL, assignee TEXT, created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL, created_by TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS case_note(id INTEGER PRIMARY KEY, case_id INTEGER NOT NULL REFERENCES gcase(id),
  at INTEGER NOT NULL, author TEXT NOT NULL, text TEXT NOT NULL);
"""
#: Investigator sessions (by the SHA-256 of their random id) and sign-in throttling events; one statement
#: each, so they can run inside a write transaction (``executescript`` would commit it).
SECURITY_TABLES = (
    "CREATE TABLE IF NOT EXISTS ui_session(sid_hash TEXT PRIMARY KEY, user TEXT NOT NULL, created_at INTEGER "
    "NOT NULL, last_seen INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS ui_session_user ON ui_session(user)",
    "CREATE TABLE IF NOT EXISTS throttle(id INTEGER PRIMARY KEY, key TEXT NOT NULL, at INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS throttle_key ON throttle(key, at)",
    "CREATE INDEX IF NOT EXISTS throttle_at ON throttle(at)",
)
T = TypeVar("T")


class RegistryMixin(RegistryService):
    """The registry's SQL; expects ``_con()`` and ``_write()`` from the store class."""

    def _con(self) -> sqlite3.Connection:  # pragma: no cover - provided by the store
        raise NotImplementedError

    def _write(self, fn: Any) -> Any:  # pragma: no cover - provided by the store
        raise NotImplementedError

    def _init_registry(self, con: sqlite3.Connection) -> None:
        with con:
            con.executescript(REGISTRY_SCHEMA)
        with con:
            _security_tables(con)

    def _read_security(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        """Rows of a sessions/throttle query; none when the store predates those tables."""
        try:
            return self._con().execute(sql, params).fetchall()
        except sqlite3.OperationalError as e:
            if "no such table" in str(e):
                return []
            raise

    def _write_security(self, fn: Any) -> Any:
        def work(con: sqlite3.Connection, base: int) -> tuple[Any, int]:
            _security_tables(con)
            return fn(con), base

        return self._write(work)

    def _simple(self, sql: str, params: tuple[Any, ...]) -> int:
        def work(con: sqlite3.Connection, base: int) -> tuple[int, int]:
            cur = con.execute(sql, params)
            # an INSERT answers with its new row id, an UPDATE or DELETE with how many rows it changed
            n = cur.lastrowid if sql.lstrip().upper().startswith("INSERT") else cur.rowcount
            return int(n or 0), base

        return int(self._write(work))

    def _registry_write(self, fn: Callable[[Any], T], what: str) -> T:
        return self._write(lambda con, base: (fn(con), base))  # type: ignore[no-any-return]

    # ------------------------------------------------------------ audit
    def _q_add_audit(self, h: Any, at: int, actor: str, action: str, target: str | None, detail: str) -> None:
        h.execute("INSERT INTO audit(at, actor, action, target, detail) VALUES (?,?,?,?,?)",
                  (at, actor, action, target, detail))

    def _q_audit(self, limit: int, target: str | None) -> Iterable[Sequence[Any]]:
        q = "SELECT at, actor, action, target, detail FROM audit"
        args: tuple[Any, ...] = ()
        if target is not None:
            q += " WHERE target=?"
            args = (target,)
        q += " ORDER BY id DESC LIMIT ?"
        return self._con().execute(q, (*args, limit)).fetchall()

    # ------------------------------------------------------------ investigator accounts
    def _q_app_user(self, name: str) -> Sequence[Any] | None:
        return self._con().execute(  # type: ignore[no-any-return]
            "SELECT name, role, password_hash FROM app_user WHERE name=?", (name,)).fetchone()

    def _q_app_user_hash(self, h: Any, name: str) -> str | None:
        r = h.execute("SELECT password_hash FROM app_user WHERE name=?", (name,)).fetchone()
        return None if r is None else str(r[0])

    def _q_insert_app_user(self, h: Any, name: str, role: str, password_hash: str, at: int) -> None:
        h.execute("INSERT INTO app_user VALUES (?,?,?,?)", (name, role, password_hash, at))

    def _q_set_app_user_hash(self, h: Any, name: str, password_hash: str) -> None:
        h.execute("UPDATE app_user SET password_hash=? WHERE name=?", (password_hash, name))

    def _q_delete_user_sessions(self, h: Any, user: str) -> int:
        _security_tables(h)
        return int(h.execute("DELETE FROM ui_session WHERE user=?", (user,)).rowcount)

    def list_app_users(self) -> list[dict[str, Any]]:
        return [{"name": a, "role": b, "disabled": h.startswith(DISABLED)} for a, b, h in self._con().execute(
            "SELECT name, role, password_hash FROM app_user ORDER BY name")]

    # ------------------------------------------------------------ investigator sessions (server side)
    def create_session(self, sid_hash: str, user: str, at: int) -> None:
        self._write_security(lambda con: con.execute("INSERT INTO ui_session VALUES (?,?,?,?)",
                                                     (sid_hash, user, at, at)))

    def get_session(self, sid_hash: str) -> dict[str, Any] | None:
        rows = self._read_security("SELECT user, created_at, last_seen FROM ui_session WHERE sid_hash=?", (sid_hash,))
        return dict(zip(("user", "created_at", "last_seen"), rows[0])) if rows else None

    def touch_session(self, sid_hash: str, at: int) -> None:
        self._write_security(lambda con: con.execute("UPDATE ui_session SET last_seen=? WHERE sid_hash=?",
                                                     (at, sid_hash)))

    def delete_session(self, sid_hash: str) -> None:
        self._write_security(lambda con: con.execute("DELETE FROM ui_session WHERE sid_hash=?", (sid_hash,)))

    def delete_sessions(self, user: str) -> int:
        """End every session of ``user``; returns how many there were."""
        return int(self._write_security(lambda con: con.execute("DELETE FROM ui_session WHERE user=?",
                                                                (user,)).rowcount))

    def prune_sessions(self, created_before: int, seen_before: int) -> int:
        """Delete sessions started before ``created_before`` or idle since before ``seen_before``."""
        return int(self._write_security(lambda con: con.execute(
            "DELETE FROM ui_session WHERE created_at < ? OR last_seen < ?", (created_before, seen_before)).rowcount))

    # ------------------------------------------------------------ sign-in throttling (shared by every process)
    def add_throttle(self, keys: list[str], at: int, forget_before: int) -> None:
        """Record one event for each key at ``at``; events before ``forget_before`` are dropped."""
        def work(con: sqlite3.Connection) -> None:
            con.executemany("INSERT INTO throttle(key, at) VALUES (?,?)", [(k, at) for k in keys])
            con.execute("DELETE FROM throttle WHERE at < ?", (forget_before,))

        self._write_security(work)

    def _q_throttle_counts(self, keys: list[str], since: int) -> Iterable[Sequence[Any]]:
        return self._read_security("SELECT key, COUNT(*) FROM throttle WHERE key IN (SELECT value FROM "
                                   "json_each(?)) AND at >= ? GROUP BY key", (json.dumps(keys), since))

    def clear_throttle(self, keys: list[str]) -> None:
        self._write_security(lambda con: con.execute("DELETE FROM throttle WHERE key IN (SELECT value FROM "
                                                     "json_each(?))", (json.dumps(list(keys)),)))

    # ------------------------------------------------------------ API keys (hashes only)
    def create_api_key(self, name: str, scope: str, key_hash: str) -> int:
        return self._simple("INSERT INTO apikey(name, scope, key_hash, created_at) VALUES (?,?,?,?)",
                            (name, scope, key_hash, _now()))

    def api_key_by_hash(self, key_hash: str) -> dict[str, Any] | None:
        r = self._con().execute("SELECT id, name, scope, key_hash, revoked_at FROM apikey WHERE key_hash=?",
                                (key_hash,)).fetchone()
        return dict(zip(("id", "name", "scope", "key_hash", "revoked_at"), r)) if r else None

    def list_api_keys(self) -> list[dict[str, Any]]:
        return [dict(zip(("id", "name", "scope", "created_at", "revoked_at"), r)) for r in self._con().execute(
            "SELECT id, name, scope, created_at, revoked_at FROM apikey ORDER BY id")]

    def _q_revoke_api_key(self, h: Any, name: str, at: int) -> int:
        return int(h.execute("UPDATE apikey SET revoked_at=? WHERE name=? AND revoked_at IS NULL",
                             (at, name)).rowcount)

    # ------------------------------------------------------------ rings
    def _q_save_ring(self, h: Any, row: dict[str, Any], members: list[str]) -> None:
        h.execute("INSERT INTO ring VALUES (:ring_id, :created_at, :updated_at, :status, :merged_into, :score, :size, "
                  ":users, :body) ON CONFLICT(ring_id) DO UPDATE SET updated_at=excluded.updated_at, "
                  "status=excluded.status, merged_into=excluded.merged_into, score=excluded.score, "
                  "size=excluded.size, users=excluded.users, body=excluded.body", row)
        h.execute("DELETE FROM ring_user WHERE ring_id=?", (row["ring_id"],))
        h.executemany("INSERT OR IGNORE INTO ring_user VALUES (?,?)", [(u, row["ring_id"]) for u in members])

    def _q_add_ring_history(self, h: Any, rows: list[dict[str, Any]]) -> None:
        h.executemany("INSERT INTO ring_history(ring_id, at, change, detail) VALUES (:ring_id, :at, :change, :detail)",
                      rows)

    def _q_rings(self, status: str | None, limit: int) -> Iterable[Sequence[Any]]:
        q = "SELECT body, status, merged_into, created_at, updated_at FROM ring"
        args: tuple[Any, ...] = ()
        if status is not None:
            q += " WHERE status=?"
            args = (status,)
        q += " ORDER BY score DESC LIMIT ?"
        return self._con().execute(q, (*args, limit)).fetchall()

    def _q_ring(self, ring_id: str) -> tuple[Sequence[Any], Iterable[Sequence[Any]]] | None:
        r = self._con().execute("SELECT body, status, merged_into, created_at, updated_at FROM ring WHERE ring_id=?",
                                (ring_id,)).fetchone()
        if r is None:
            return None
        return r, self._con().execute("SELECT at, change, detail FROM ring_history WHERE ring_id=? ORDER BY id",
                                      (ring_id,)).fetchall()

    def _q_ring_members(self, users: list[str]) -> Iterable[Sequence[Any]]:
        return self._con().execute(f"SELECT user_id, ring_id FROM ring_user WHERE user_id IN "
                                   f"({','.join('?' * len(users))})", users).fetchall()

    # ------------------------------------------------------------ cases
    def _q_insert_case(self, h: Any, kind: str, ref: str, title: str, assignee: str | None, at: int,
                       actor: str) -> int:
        return int(h.execute("INSERT INTO gcase(kind, ref, title, status, assignee, created_at, updated_at, "
                             "created_by) VALUES (?,?,?,?,?,?,?,?)",
                             (kind, ref, title, "open", assignee, at, at, actor)).lastrowid or 0)

    def _q_open_case(self, h: Any, kind: str, ref: str) -> int | None:
        # writers hold the store's write lock (BEGIN IMMEDIATE behind a file lock): nobody inserts meanwhile
        r = h.execute("SELECT id FROM gcase WHERE kind=? AND ref=? AND status IN ('open', 'in_review') "
                      "ORDER BY id LIMIT 1", (kind, ref)).fetchone()
        return None if r is None else int(r[0])

    def _q_case(self, case_id: int) -> dict[str, Any] | None:
        r = self._con().execute("SELECT id, kind, ref, title, status, assignee, created_at, updated_at, created_by "
                                "FROM gcase WHERE id=?", (case_id,)).fetchone()
        if r is None:
            return None
        d = dict(zip(("id", "kind", "ref", "title", "status", "assignee", "created_at", "updated_at",
                      "created_by"), r))
        d["notes"] = [{"at": a, "author": b, "text": c} for a, b, c in self._con().execute(
            "SELECT at, author, text FROM case_note WHERE case_id=? ORDER BY id", (case_id,))]
        return d

    def list_cases(self, status: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
        q = "SELECT id, kind, ref, title, status, assignee, created_at, updated_at FROM gcase"
        args: tuple[Any, ...] = ()
        if status:
            q += " WHERE status=?"
            args = (status,)
        q += " ORDER BY updated_at DESC LIMIT ?"
        return [dict(zip(("id", "kind", "ref", "title", "status", "assignee", "created_at", "updated_at"), r))
                for r in self._con().execute(q, (*args, limit))]

    def _q_case_state(self, h: Any, case_id: int) -> tuple[str, str, str, str | None] | None:
        r = h.execute("SELECT kind, ref, status, assignee FROM gcase WHERE id=?", (case_id,)).fetchone()
        return None if r is None else (r[0], r[1], r[2], r[3])

    def _q_update_case(self, h: Any, case_id: int, status: str | None, assignee: str | None, at: int) -> bool:
        if h.execute("SELECT 1 FROM gcase WHERE id=?", (case_id,)).fetchone() is None:
            return False
        if status is not None:
            h.execute("UPDATE gcase SET status=?, updated_at=? WHERE id=?", (status, at, case_id))
        if assignee is not None:
            h.execute("UPDATE gcase SET assignee=?, updated_at=? WHERE id=?", (assignee or None, at, case_id))
        return True

    def _q_add_note(self, h: Any, case_id: int, at: int, author: str, text: str) -> None:
        h.execute("INSERT INTO case_note(case_id, at, author, text) VALUES (?,?,?,?)", (case_id, at, author, text))


def _security_tables(con: sqlite3.Connection) -> None:
    for stmt in SECURITY_TABLES:
        con.execute(stmt)
