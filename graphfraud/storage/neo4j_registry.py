"""The Neo4j store's registry (rings, cases, investigator accounts, API keys, audit) and the narrow reads
ring detection asks for. Mixed into :class:`~graphfraud.storage.neo4j.Neo4jStore`; the same methods and
semantics as :class:`~graphfraud.storage.registry.RegistryMixin` and the embedded store's reads.

This module does not import :mod:`neo4j`: it runs the store's queries through ``_read``, ``_write`` and
``_stream``, which own the driver and its errors.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ..errors import Conflict, NotFound
from ..schema import ENTITY_COLUMNS
from .base import TRANSFER_TOTAL_COLUMNS, TX_COLUMNS
from .cypher import query


_DISABLED = "!"  # a disabled account's password hash starts with it (as in /etc/shadow)


def _now() -> int:
    return int(time.time() * 1000)


class Neo4jRegistryMixin:
    """Registry methods and ring-detection reads; expects ``_read``, ``_write``, ``_stream`` and
    ``_next_ids`` from the store class."""

    location: str

    def _read(self, query_name: str, /, **params: Any) -> list[dict[str, Any]]:  # pragma: no cover - the store's
        raise NotImplementedError

    def _write(self, fn: Callable[[Any, int], tuple[Any, int]], what: str = "write") -> Any:  # pragma: no cover
        raise NotImplementedError

    def _stream(self, query_name: str, /, **params: Any) -> Iterator[list[Any]]:  # pragma: no cover
        raise NotImplementedError

    @staticmethod
    def _next_ids(tx: Any, counter: str, n: int = 1) -> int:  # pragma: no cover
        raise NotImplementedError

    # ------------------------------------------------------------ audit
    @classmethod
    def _audit_in(cls, tx: Any, at: int, actor: str, action: str, target: str | None,
                  detail: dict[str, Any] | None) -> None:
        aid = cls._next_ids(tx, "audit")
        tx.run(query("create_audit"), id=aid, at=at, actor=actor, action=action, target=target,
               detail=json.dumps(detail or {}, sort_keys=True)).consume()

    def audit(self, actor: str, action: str, target: str | None = None, detail: dict[str, Any] | None = None) -> None:
        def work(tx: Any, base: int) -> tuple[None, int]:
            self._audit_in(tx, _now(), actor, action, target, detail)
            return None, base

        self._write(work, "write the audit trail")

    def audit_log(self, limit: int = 200, target: str | None = None) -> list[dict[str, Any]]:
        return [{"at": r["at"], "actor": r["actor"], "action": r["action"], "target": r["target"],
                 "detail": json.loads(r["detail"] or "{}")}
                for r in self._read("list_audit", target=target, limit=int(limit))]

    # ------------------------------------------------------------ investigator accounts
    def create_app_user(self, name: str, role: str, password_hash: str) -> None:
        def work(tx: Any, base: int) -> tuple[None, int]:
            if tx.run(query("get_app_user"), name=name).single() is not None:
                raise Conflict(f"A user named {name!r} exists already.", code="user_exists")
            tx.run(query("create_app_user"), name=name, role=role, password_hash=password_hash,
                   created_at=_now()).consume()
            return None, base

        self._write(work, "create the user")

    def get_app_user(self, name: str) -> dict[str, Any] | None:
        rows = self._read("get_app_user", name=name)
        if not rows:
            return None
        return {**rows[0], "disabled": str(rows[0]["password_hash"]).startswith(_DISABLED)}

    def list_app_users(self) -> list[dict[str, Any]]:
        return self._read("list_app_users")

    def update_app_user(self, name: str, *, password_hash: str | None = None, disabled: bool | None = None) -> int:
        """Change an account's password hash and/or disable (or enable) it; either change ends every session
        of the account in the same transaction. Returns how many ended."""
        def work(tx: Any, base: int) -> tuple[int, int]:
            row = tx.run(query("get_app_user"), name=name).single()
            if row is None:
                raise NotFound(f"There is no account named {name!r}; `graphfraud user list` shows them.",
                               code="user_not_found")
            old = str(row["password_hash"])
            off = old.startswith(_DISABLED) if disabled is None else disabled
            new = (_DISABLED if off else "") + (password_hash or old).lstrip(_DISABLED)
            tx.run(query("set_app_user_password"), name=name, password_hash=new).consume()
            if password_hash is None and not disabled:
                return 0, base
            return int(tx.run(query("delete_user_sessions"), user=name).single()["n"]), base

        return int(self._write(work, "change the account"))

    # ------------------------------------------------------------ investigator sessions (server side)
    def _run(self, query_name: str, what: str, **params: Any) -> Any:
        """Run one write query; its ``n`` when the query returns a count (``RETURN ... AS n``)."""
        def work(tx: Any, base: int) -> tuple[Any, int]:
            result = tx.run(query(query_name), **params)
            if " AS n" not in query(query_name):
                result.consume()
                return None, base
            return result.single()["n"], base

        return self._write(work, what)

    def create_session(self, sid_hash: str, user: str, at: int) -> None:
        self._run("create_session", "start the session", sid_hash=sid_hash, user=user, at=int(at))

    def get_session(self, sid_hash: str) -> dict[str, Any] | None:
        rows = self._read("get_session", sid_hash=sid_hash)
        return rows[0] if rows else None

    def touch_session(self, sid_hash: str, at: int) -> None:
        self._run("touch_session", "record the session's activity", sid_hash=sid_hash, at=int(at))

    def delete_session(self, sid_hash: str) -> None:
        self._run("delete_session", "end the session", sid_hash=sid_hash)

    def delete_sessions(self, user: str) -> int:
        return int(self._run("delete_user_sessions", "end the sessions", user=user) or 0)

    def prune_sessions(self, created_before: int, seen_before: int) -> int:
        return int(self._run("prune_sessions", "delete expired sessions", created_before=int(created_before),
                             seen_before=int(seen_before)) or 0)

    # ------------------------------------------------------------ sign-in throttling (shared by every process)
    def add_throttle(self, keys: list[str], at: int, forget_before: int) -> None:
        self._run("create_throttle", "record the failed sign-in", keys=list(keys), at=int(at),
                  forget_before=int(forget_before))

    def count_throttle(self, keys: list[str], since: int) -> dict[str, int]:
        out = dict.fromkeys(keys, 0)
        for r in self._read("count_throttle", keys=list(keys), since=int(since)):
            out[r["key"]] = int(r["n"])
        return out

    def clear_throttle(self, keys: list[str]) -> None:
        self._run("delete_throttle", "forget failed sign-ins", keys=list(keys))

    # ------------------------------------------------------------ API keys (hashes only)
    def create_api_key(self, name: str, scope: str, key_hash: str) -> int:
        def work(tx: Any, base: int) -> tuple[int, int]:
            kid = self._next_ids(tx, "apikey")
            tx.run(query("create_api_key"), id=kid, name=name, scope=scope, key_hash=key_hash,
                   created_at=_now()).consume()
            return kid, base

        return int(self._write(work, "create the API key"))

    def api_key_by_hash(self, key_hash: str) -> dict[str, Any] | None:
        rows = self._read("get_api_key", key_hash=key_hash)
        return rows[0] if rows else None

    def list_api_keys(self) -> list[dict[str, Any]]:
        return self._read("list_api_keys")

    def revoke_api_key(self, name: str) -> int:
        def work(tx: Any, base: int) -> tuple[int, int]:
            return int(tx.run(query("revoke_api_key"), name=name, at=_now()).single()["n"]), base

        n = int(self._write(work, "revoke the API key"))
        if not n:
            raise NotFound(f"There is no active API key named {name!r}.")
        return n

    # ------------------------------------------------------------ rings
    def save_rings(self, rings: list[dict[str, Any]], history: list[dict[str, Any]]) -> None:
        """Replace the current ring set in one transaction; ``history`` rows are appended (see the
        embedded store)."""
        now = _now()

        def work(tx: Any, base: int) -> tuple[None, int]:
            for r in rings:
                status = r.get("status", "active")
                tx.run(query("merge_ring"), ring_id=r["ring_id"], created_at=r.get("created_at", now), updated_at=now,
                       status=status, merged_into=r.get("merged_into"), score=r.get("score"), size=r.get("size"),
                       users=json.dumps(r.get("users", [])), body=json.dumps(r, sort_keys=True, default=str),
                       members=list(dict.fromkeys(r.get("users", []))) if status == "active" else []).consume()
            if history:
                last = self._next_ids(tx, "ring_history", len(history))
                first = last - len(history) + 1
                rows = [{"id": first + k, "ring_id": h["ring_id"], "at": now, "change": h["change"],
                         "detail": json.dumps(h.get("detail", {}), sort_keys=True)} for k, h in enumerate(history)]
                tx.run(query("create_ring_history"), rows=rows).consume()
            return None, base

        self._write(work, "save rings")

    @staticmethod
    def _ring(r: dict[str, Any]) -> dict[str, Any]:
        d: dict[str, Any] = json.loads(r["body"])
        d.update(status=r["status"], merged_into=r["merged_into"], created_at=r["created_at"],
                 updated_at=r["updated_at"])
        return d

    def list_rings(self, status: str | None = "active", limit: int = 1000) -> list[dict[str, Any]]:
        return [self._ring(r) for r in self._read("list_rings", status=status, limit=int(limit))]

    def get_ring(self, ring_id: str) -> dict[str, Any]:
        rows = self._read("get_ring", ring_id=ring_id)
        if not rows:
            raise NotFound(f"There is no ring {ring_id!r}; `graphfraud rings` lists the current ones.",
                           code="ring_not_found")
        d = self._ring(rows[0])
        d["history"] = [{"at": h["at"], "change": h["change"], "detail": json.loads(h["detail"])}
                        for h in rows[0]["history"]]
        return d

    def ring_of_users(self, users: list[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        ids = list(dict.fromkeys(users))
        for k in range(0, len(ids), 10_000):
            for r in self._read("list_ring_members", user_ids=ids[k:k + 10_000]):
                out[r["user_id"]] = r["ring_id"]
        return out

    # ------------------------------------------------------------ cases
    def create_case(self, kind: str, ref: str, title: str, actor: str, assignee: str | None = None) -> int:
        now = _now()

        def work(tx: Any, base: int) -> tuple[int, int]:
            cid = self._next_ids(tx, "case")
            tx.run(query("create_case"), id=cid, kind=kind, ref=ref, title=title, assignee=assignee, at=now,
                   created_by=actor).consume()
            self._audit_in(tx, now, actor, "case.create", f"case:{cid}", {"kind": kind, "ref": ref})
            return cid, base

        return int(self._write(work, "create the case"))

    def get_case(self, case_id: int) -> dict[str, Any]:
        rows = self._read("get_case", id=int(case_id))
        if not rows:
            raise NotFound(f"There is no case {case_id}.", code="case_not_found")
        return rows[0]

    def list_cases(self, status: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
        return self._read("list_cases", status=status or None, limit=int(limit))

    def update_case(self, case_id: int, actor: str, status: str | None = None, assignee: str | None = None,
                    note: str | None = None) -> None:
        now = _now()

        def work(tx: Any, base: int) -> tuple[None, int]:
            found = tx.run(query("update_case"), id=int(case_id), status=status, assignee=assignee, at=now).single()
            if not found["found"]:
                raise NotFound(f"There is no case {case_id}.", code="case_not_found")
            if note:
                nid = self._next_ids(tx, "note")
                tx.run(query("create_note"), id=nid, case_id=int(case_id), at=now, author=actor, text=note).consume()
            self._audit_in(tx, now, actor, "case.update", f"case:{case_id}",
                           {"status": status, "assignee": assignee, "note": bool(note)})
            return None, base

        self._write(work, "update the case")

    # ------------------------------------------------------------ ring detection reads (read only what's needed)
    def shared_links_frame(self, types: Sequence[str], min_users: int = 2, max_users: int | None = None) -> Any:
        """Links of identifiers of ``types`` used by ``min_users`` to ``max_users`` users, with ``n_users``."""
        import pandas as pd

        rows = list(self._stream("stream_shared_links", types=list(types), min_users=int(min_users),
                                 max_users=int(max_users) if max_users is not None else 2**62))
        return pd.DataFrame.from_records(rows, columns=["type", "entity_id", "user_id", "first_seen", "last_seen",
                                                        "n", "n_users"])

    def user_activity_frame(self, user_ids: Sequence[str] | None = None) -> Any:
        """Per user (all, or the given ones): ``user_id, first_ts, last_ts, n_tx, amount``."""
        import pandas as pd

        ids = list(dict.fromkeys(user_ids)) if user_ids is not None else None
        rows = list(self._stream("stream_user_activity", user_ids=ids))
        return pd.DataFrame.from_records(rows, columns=["user_id", "first_ts", "last_ts", "n_tx", "amount"])

    def meetings_frame(self, column: str, bucket_ms: int, max_users: int,
                       entities: Sequence[str] | None = None) -> Any:
        """Users meeting at one identifier, one merchant and one time bucket, in groups of 2 to ``max_users``
        (see the embedded store)."""
        import pandas as pd

        if column not in ENTITY_COLUMNS or column == "merchant_id":
            raise ValueError(f"Meetings are found through card_id, device_id or ip, not {column!r}.")
        typ = ENTITY_COLUMNS[column]
        if entities is None:
            entities = [r["entity_id"] for r in self._read("list_shared_entities", type=typ)]
        ids = list(dict.fromkeys(entities))
        rows: list[list[Any]] = []
        for k in range(0, len(ids), 10_000):
            rows += self._stream("stream_meetings", type=typ, column=column, entity_ids=ids[k:k + 10_000],
                                 bucket_ms=int(bucket_ms), max_users=int(max_users))
        return pd.DataFrame.from_records(rows, columns=["entity_id", "merchant_id", "bucket", "user_id", "first_ts"])

    def transactions_of_users(self, user_ids: Sequence[str], columns: Sequence[str]) -> Any:
        """The given columns of every transaction of the given users, in sequence order."""
        import pandas as pd

        bad = [c for c in columns if c not in TX_COLUMNS]
        if bad:
            raise ValueError(f"Unknown transaction columns {bad}; choose from {list(TX_COLUMNS)}.")
        rows = list(self._stream("list_users_transactions", user_ids=list(dict.fromkeys(user_ids))))
        frame = pd.DataFrame.from_records(rows, columns=list(TX_COLUMNS))
        return frame[list(columns)].reset_index(drop=True)

    def transfer_totals(self) -> Any:
        """Money between users per (payer, receiver) pair (see the embedded store), from TRANSFERRED."""
        import pandas as pd

        return pd.DataFrame.from_records(list(self._stream("stream_transfer_totals")),
                                         columns=TRANSFER_TOTAL_COLUMNS)

    def amount_baseline_frame(self, sample_every: int = 1) -> Any:
        """Per (merchant, currency): ``merchant_id, currency, n, sum_log_amount, first_ts`` (one pass);
        ``sample_every`` > 1 reads only transactions whose ``seq`` is a multiple of it."""
        import pandas as pd

        rows = list(self._stream("stream_amount_baseline", sample_every=max(1, int(sample_every))))
        return pd.DataFrame.from_records(rows, columns=["merchant_id", "currency", "n", "sum_log_amount", "first_ts"])

    # ------------------------------------------------------------ investigator queries
    def users_linked_to_fraud(self, max_users: int = 50, limit: int = 1000) -> list[dict[str, Any]]:
        """Users sharing a non-hub identifier with a user who made a transaction labelled fraud in the file."""
        return self._read("list_users_linked_to_fraud", max_users=int(max_users), limit=int(limit))

    def shared_identifiers(self, user_id: str, other_user_id: str) -> list[dict[str, Any]]:
        """Identifiers two users share."""
        return self._read("list_shared_identifiers", user_id=user_id, other_user_id=other_user_id)

    def entity_neighbourhood(self, node_type: str, node_id: str, limit: int = 500) -> list[dict[str, Any]]:
        """An identifier's two-hop neighbourhood: its users and their other identifiers."""
        return self._read("list_entity_neighbourhood", type=node_type, entity_id=node_id, limit=int(limit))

    def ring_members(self, ring_id: str) -> list[dict[str, Any]]:
        """The members of one ring with their identifiers."""
        return self._read("list_ring_members_detail", ring_id=ring_id)


__all__ = ["Neo4jRegistryMixin"]
