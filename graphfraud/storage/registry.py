"""The embedded store's registry tables: rings and their history, cases, investigator accounts, their
sessions and sign-in throttling, API keys and the audit trail. Mixed into
:class:`~graphfraud.storage.embedded.EmbeddedStore`.

A disabled account keeps its password hash behind a ``!`` (as ``/etc/shadow`` locks accounts), so no
password matches it and no column had to be added. Sessions and throttling rows live in tables that
stores made by earlier versions lack: they are created by the first write that needs them, and reads
before that find nothing.
"""
from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from ..errors import Conflict, NotFound

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
DISABLED = "!"


def _now() -> int:
    return int(time.time() * 1000)


class RegistryMixin:
    """Registry methods; expects ``_con()`` and ``_write()`` from the store class."""

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

    # ------------------------------------------------------------ audit
    def audit(self, actor: str, action: str, target: str | None = None, detail: dict[str, Any] | None = None) -> None:
        self._simple("INSERT INTO audit(at, actor, action, target, detail) VALUES (?,?,?,?,?)",
                     (_now(), actor, action, target, json.dumps(detail or {}, sort_keys=True)))

    def audit_log(self, limit: int = 200, target: str | None = None) -> list[dict[str, Any]]:
        q = "SELECT at, actor, action, target, detail FROM audit"
        args: tuple[Any, ...] = ()
        if target is not None:
            q += " WHERE target=?"
            args = (target,)
        q += " ORDER BY id DESC LIMIT ?"
        return [{"at": a, "actor": b, "action": c, "target": d, "detail": json.loads(e or "{}")}
                for a, b, c, d, e in self._con().execute(q, (*args, limit))]

    # ------------------------------------------------------------ investigator accounts
    def create_app_user(self, name: str, role: str, password_hash: str) -> None:
        try:
            self._simple("INSERT INTO app_user VALUES (?,?,?,?)", (name, role, password_hash, _now()))
        except Exception as e:
            if "UNIQUE" in str(e) or "constraint" in str(e).lower():
                raise Conflict(f"A user named {name!r} exists already.", code="user_exists") from None
            raise

    def get_app_user(self, name: str) -> dict[str, Any] | None:
        r = self._con().execute("SELECT name, role, password_hash FROM app_user WHERE name=?", (name,)).fetchone()
        return {"name": r[0], "role": r[1], "password_hash": r[2], "disabled": r[2].startswith(DISABLED)} if r else None

    def list_app_users(self) -> list[dict[str, Any]]:
        return [{"name": a, "role": b, "disabled": h.startswith(DISABLED)} for a, b, h in self._con().execute(
            "SELECT name, role, password_hash FROM app_user ORDER BY name")]

    def update_app_user(self, name: str, *, password_hash: str | None = None, disabled: bool | None = None) -> int:
        """Change an account's password hash and/or disable (or enable) it. Either change ends every session
        of the account in the same transaction; returns how many. Raises :class:`NotFound` for no account."""

        def work(con: sqlite3.Connection) -> int:
            r = con.execute("SELECT password_hash FROM app_user WHERE name=?", (name,)).fetchone()
            if r is None:
                raise NotFound(f"There is no account named {name!r}; `graphfraud user list` shows them.",
                               code="user_not_found")
            off = r[0].startswith(DISABLED) if disabled is None else disabled
            new = (DISABLED if off else "") + (password_hash or r[0]).lstrip(DISABLED)
            con.execute("UPDATE app_user SET password_hash=? WHERE name=?", (new, name))
            if password_hash is None and not disabled:
                return 0  # enabling an account leaves its (no) sessions alone
            return int(con.execute("DELETE FROM ui_session WHERE user=?", (name,)).rowcount)

        return int(self._write_security(work))

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

    def count_throttle(self, keys: list[str], since: int) -> dict[str, int]:
        """Events per key at or after ``since`` (keys without events count 0)."""
        out = dict.fromkeys(keys, 0)
        for k, n in self._read_security("SELECT key, COUNT(*) FROM throttle WHERE key IN (SELECT value FROM "
                                        "json_each(?)) AND at >= ? GROUP BY key", (json.dumps(list(keys)), since)):
            out[k] = int(n)
        return out

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

    def revoke_api_key(self, name: str) -> int:
        n = self._simple("UPDATE apikey SET revoked_at=? WHERE name=? AND revoked_at IS NULL", (_now(), name))
        if not n:
            raise NotFound(f"There is no active API key named {name!r}.")
        return n

    # ------------------------------------------------------------ rings
    def save_rings(self, rings: list[dict[str, Any]], history: list[dict[str, Any]]) -> None:
        """Replace the current ring set in one transaction; ``history`` rows are appended.

        Each ring dict has ``ring_id``, ``status``, ``merged_into``, ``score``, ``size``, ``users`` (list)
        and the rest of its body; rings not in ``rings`` keep their rows (merged or dissolved ones).
        """
        now = _now()

        def work(con: sqlite3.Connection, base: int) -> tuple[None, int]:
            for r in rings:
                body = json.dumps(r, sort_keys=True, default=str)
                con.execute("INSERT INTO ring VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(ring_id) DO UPDATE SET "
                            "updated_at=excluded.updated_at, status=excluded.status, merged_into=excluded.merged_into,"
                            " score=excluded.score, size=excluded.size, users=excluded.users, body=excluded.body",
                            (r["ring_id"], r.get("created_at", now), now, r.get("status", "active"),
                             r.get("merged_into"), r.get("score"), r.get("size"), json.dumps(r.get("users", [])),
                             body))
                con.execute("DELETE FROM ring_user WHERE ring_id=?", (r["ring_id"],))
                if r.get("status", "active") == "active":
                    con.executemany("INSERT OR IGNORE INTO ring_user VALUES (?,?)",
                                    [(u, r["ring_id"]) for u in r.get("users", [])])
            con.executemany("INSERT INTO ring_history(ring_id, at, change, detail) VALUES (?,?,?,?)",
                            [(h["ring_id"], now, h["change"], json.dumps(h.get("detail", {}), sort_keys=True))
                             for h in history])
            return None, base

        self._write(work)

    def list_rings(self, status: str | None = "active", limit: int = 1000) -> list[dict[str, Any]]:
        q = "SELECT body, status, merged_into, created_at, updated_at FROM ring"
        args: tuple[Any, ...] = ()
        if status is not None:
            q += " WHERE status=?"
            args = (status,)
        q += " ORDER BY score DESC LIMIT ?"
        out = []
        for body, st, merged, created, updated in self._con().execute(q, (*args, limit)):
            d = json.loads(body)
            d.update(status=st, merged_into=merged, created_at=created, updated_at=updated)
            out.append(d)
        return out

    def get_ring(self, ring_id: str) -> dict[str, Any]:
        r = self._con().execute("SELECT body, status, merged_into, created_at, updated_at FROM ring WHERE ring_id=?",
                                (ring_id,)).fetchone()
        if r is None:
            raise NotFound(f"There is no ring {ring_id!r}; `graphfraud rings` lists the current ones.",
                           code="ring_not_found")
        d = json.loads(r[0])
        d.update(status=r[1], merged_into=r[2], created_at=r[3], updated_at=r[4])
        d["history"] = [{"at": a, "change": c, "detail": json.loads(x)} for a, c, x in self._con().execute(
            "SELECT at, change, detail FROM ring_history WHERE ring_id=? ORDER BY id", (ring_id,))]
        return d  # type: ignore[no-any-return]

    def ring_of_users(self, users: list[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for k in range(0, len(users), 500):
            part = users[k:k + 500]
            for u, r in self._con().execute(f"SELECT user_id, ring_id FROM ring_user WHERE user_id IN "
                                            f"({','.join('?' * len(part))})", part):
                out[u] = r
        return out

    # ------------------------------------------------------------ cases
    def create_case(self, kind: str, ref: str, title: str, actor: str, assignee: str | None = None) -> int:
        now = _now()

        def work(con: sqlite3.Connection, base: int) -> tuple[int, int]:
            cur = con.execute("INSERT INTO gcase(kind, ref, title, status, assignee, created_at, updated_at, "
                              "created_by) VALUES (?,?,?,?,?,?,?,?)", (kind, ref, title, "open", assignee, now, now,
                                                                       actor))
            cid = int(cur.lastrowid or 0)
            con.execute("INSERT INTO audit(at, actor, action, target, detail) VALUES (?,?,?,?,?)",
                        (now, actor, "case.create", f"case:{cid}", json.dumps({"kind": kind, "ref": ref})))
            return cid, base

        return int(self._write(work))

    def get_case(self, case_id: int) -> dict[str, Any]:
        r = self._con().execute("SELECT id, kind, ref, title, status, assignee, created_at, updated_at, created_by "
                                "FROM gcase WHERE id=?", (case_id,)).fetchone()
        if r is None:
            raise NotFound(f"There is no case {case_id}.", code="case_not_found")
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

    def update_case(self, case_id: int, actor: str, status: str | None = None, assignee: str | None = None,
                    note: str | None = None) -> None:
        now = _now()

        def work(con: sqlite3.Connection, base: int) -> tuple[None, int]:
            if con.execute("SELECT 1 FROM gcase WHERE id=?", (case_id,)).fetchone() is None:
                raise NotFound(f"There is no case {case_id}.", code="case_not_found")
            if status is not None:
                con.execute("UPDATE gcase SET status=?, updated_at=? WHERE id=?", (status, now, case_id))
            if assignee is not None:
                con.execute("UPDATE gcase SET assignee=?, updated_at=? WHERE id=?", (assignee or None, now, case_id))
            if note:
                con.execute("INSERT INTO case_note(case_id, at, author, text) VALUES (?,?,?,?)",
                            (case_id, now, actor, note))
            con.execute("INSERT INTO audit(at, actor, action, target, detail) VALUES (?,?,?,?,?)",
                        (now, actor, "case.update", f"case:{case_id}",
                         json.dumps({"status": status, "assignee": assignee, "note": bool(note)})))
            return None, base

        self._write(work)


def _security_tables(con: sqlite3.Connection) -> None:
    for stmt in SECURITY_TABLES:
        con.execute(stmt)
