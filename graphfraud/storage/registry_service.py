"""The registry both stores keep (rings and their history, cases and their notes, investigator accounts, API
keys, the audit trail), written once over a small set of backend queries.

:class:`RegistryService` holds what the registry means: a ring's stored body and the columns kept beside it,
a case change and its audit entry in one transaction, a disabled account's ``!``, which account changes end
its sessions, what is not found and what conflicts. Each backend mixes it in and supplies the ``_q_*``
queries, which only read or write rows: :class:`~graphfraud.storage.registry.RegistryMixin` (SQLite) and
:class:`~graphfraud.storage.neo4j_registry.Neo4jRegistryMixin` (Cypher). A write query takes ``h``, the
handle of the write transaction it runs in (a SQLite connection, a Neo4j transaction), so that several run
all or nothing inside :meth:`RegistryService._registry_write`. Registry reads with nothing to decide (the
session, throttle and API-key rows, the case list) are the backends' own methods.

A disabled account keeps its password hash behind a ``!`` (as ``/etc/shadow`` locks accounts), so no
password matches it and no column had to be added.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from ..errors import Conflict, NotFound

DISABLED = "!"
T = TypeVar("T")
RING_COLUMNS = ("body", "status", "merged_into", "created_at", "updated_at")


def _now() -> int:
    return int(time.time() * 1000)


def _json(d: Any) -> str:
    return json.dumps(d, sort_keys=True)


class RegistryService:
    """The registry's public methods, over the ``_q_*`` queries a backend supplies."""

    #: How many user ids one :meth:`_q_ring_members` call takes.
    _ring_lookup_chunk = 500

    # ------------------------------------------------------------ what a backend supplies
    def _registry_write(self, fn: Callable[[Any], T], what: str) -> T:  # pragma: no cover - the backend's
        """Run ``fn(h)`` in one write transaction; its result."""
        raise NotImplementedError

    def _q_add_audit(self, h: Any, at: int, actor: str, action: str, target: str | None,
                     detail: str) -> None:  # pragma: no cover
        raise NotImplementedError

    def _q_audit(self, limit: int, target: str | None) -> Iterable[Sequence[Any]]:  # pragma: no cover
        """``(at, actor, action, target, detail)`` rows, newest first."""
        raise NotImplementedError

    def _q_app_user(self, name: str) -> Sequence[Any] | None:  # pragma: no cover
        """``(name, role, password_hash)``."""
        raise NotImplementedError

    def _q_app_user_hash(self, h: Any, name: str) -> str | None:  # pragma: no cover
        raise NotImplementedError

    def _q_insert_app_user(self, h: Any, name: str, role: str, password_hash: str,
                           at: int) -> None:  # pragma: no cover
        raise NotImplementedError

    def _q_set_app_user_hash(self, h: Any, name: str, password_hash: str) -> None:  # pragma: no cover
        raise NotImplementedError

    def _q_delete_user_sessions(self, h: Any, user: str) -> int:  # pragma: no cover
        raise NotImplementedError

    def _q_throttle_counts(self, keys: list[str], since: int) -> Iterable[Sequence[Any]]:  # pragma: no cover
        """``(key, n)`` for the keys with events at or after ``since``."""
        raise NotImplementedError

    def _q_revoke_api_key(self, h: Any, name: str, at: int) -> int:  # pragma: no cover
        raise NotImplementedError

    def _q_save_ring(self, h: Any, row: dict[str, Any], members: list[str]) -> None:  # pragma: no cover
        """Insert or update one ring (``row``: ``ring_id, created_at`` (kept when it exists), ``updated_at,
        status, merged_into, score, size, users, body``) and replace its members with ``members``."""
        raise NotImplementedError

    def _q_add_ring_history(self, h: Any, rows: list[dict[str, Any]]) -> None:  # pragma: no cover
        """Append ``ring_id, at, change, detail`` rows in order."""
        raise NotImplementedError

    def _q_rings(self, status: str | None, limit: int) -> Iterable[Sequence[Any]]:  # pragma: no cover
        """:data:`RING_COLUMNS` rows, highest score first."""
        raise NotImplementedError

    def _q_ring(self, ring_id: str) -> tuple[Sequence[Any], Iterable[Sequence[Any]]] | None:  # pragma: no cover
        """The ring's :data:`RING_COLUMNS` and its ``(at, change, detail)`` history in order."""
        raise NotImplementedError

    def _q_ring_members(self, users: list[str]) -> Iterable[Sequence[Any]]:  # pragma: no cover
        """``(user_id, ring_id)`` for the given users in an active ring."""
        raise NotImplementedError

    def _q_insert_case(self, h: Any, kind: str, ref: str, title: str, assignee: str | None, at: int,
                       actor: str) -> int:  # pragma: no cover
        """A new open case; its id."""
        raise NotImplementedError

    def _q_open_case(self, h: Any, kind: str, ref: str) -> int | None:  # pragma: no cover
        """Inside a write: the id of the case open or in review on ``(kind, ref)`` (the oldest), if any; no
        other write may create one on it until this one commits."""
        raise NotImplementedError

    def _q_case(self, case_id: int) -> dict[str, Any] | None:  # pragma: no cover
        """The case's columns and ``notes`` (``at, author, text``, in order)."""
        raise NotImplementedError

    def _q_case_state(self, h: Any, case_id: int) -> tuple[str, str, str, str | None] | None:  # pragma: no cover
        """``(kind, ref, status, assignee)`` of a case, read inside the write ``h``; ``None`` without one."""
        raise NotImplementedError

    def _q_update_case(self, h: Any, case_id: int, status: str | None, assignee: str | None,
                       at: int) -> bool:  # pragma: no cover
        """Set what is not ``None`` (``assignee`` ``""``: none) and ``updated_at`` when anything is; whether the
        case exists."""
        raise NotImplementedError

    def _q_add_note(self, h: Any, case_id: int, at: int, author: str, text: str) -> None:  # pragma: no cover
        raise NotImplementedError

    # ------------------------------------------------------------ audit
    def audit(self, actor: str, action: str, target: str | None = None, detail: dict[str, Any] | None = None) -> None:
        at = _now()
        self._registry_write(lambda h: self._q_add_audit(h, at, actor, action, target, _json(detail or {})),
                             "write the audit trail")

    def audit_log(self, limit: int = 200, target: str | None = None) -> list[dict[str, Any]]:
        return [{"at": a, "actor": b, "action": c, "target": d, "detail": json.loads(e or "{}")}
                for a, b, c, d, e in self._q_audit(int(limit), target)]

    # ------------------------------------------------------------ investigator accounts
    def create_app_user(self, name: str, role: str, password_hash: str) -> None:
        def work(h: Any) -> None:
            if self._q_app_user_hash(h, name) is not None:
                raise Conflict(f"A user named {name!r} exists already.", code="user_exists")
            self._q_insert_app_user(h, name, role, password_hash, _now())

        self._registry_write(work, "create the user")

    def get_app_user(self, name: str) -> dict[str, Any] | None:
        r = self._q_app_user(name)
        return {"name": r[0], "role": r[1], "password_hash": r[2], "disabled": str(r[2]).startswith(DISABLED)} \
            if r else None

    def update_app_user(self, name: str, *, password_hash: str | None = None, disabled: bool | None = None) -> int:
        """Change an account's password hash and/or disable (or enable) it. Either change ends every session
        of the account in the same transaction; returns how many. Raises :class:`NotFound` for no account."""

        def work(h: Any) -> int:
            old = self._q_app_user_hash(h, name)
            if old is None:
                raise NotFound(f"There is no account named {name!r}; `graphfraud user list` shows them.",
                               code="user_not_found")
            off = old.startswith(DISABLED) if disabled is None else disabled
            self._q_set_app_user_hash(h, name, (DISABLED if off else "") + (password_hash or old).lstrip(DISABLED))
            if password_hash is None and not disabled:
                return 0  # enabling an account leaves its (no) sessions alone
            return int(self._q_delete_user_sessions(h, name))

        return int(self._registry_write(work, "change the account"))

    # ------------------------------------------------------------ sign-in throttling (shared by every process)
    def count_throttle(self, keys: list[str], since: int) -> dict[str, int]:
        """Events per key at or after ``since`` (keys without events count 0)."""
        out = dict.fromkeys(keys, 0)
        for k, n in self._q_throttle_counts(list(keys), int(since)):
            out[k] = int(n)
        return out

    # ------------------------------------------------------------ API keys (hashes only)
    def revoke_api_key(self, name: str) -> int:
        at = _now()
        n = int(self._registry_write(lambda h: self._q_revoke_api_key(h, name, at), "revoke the API key"))
        if not n:
            raise NotFound(f"There is no active API key named {name!r}.")
        return n

    # ------------------------------------------------------------ rings
    #: Most ring members one write transaction of :meth:`save_rings` holds (a ring is never split): scores
    #: write to the same store, and a million-transaction store's first ring set (1,305 rings) saved in one
    #: transaction held them up to 95 ms; in transactions of 1,000 members each held them 5-33 ms, and the
    #: p99 at 300 scores/s of the second they were saved in was 75-216 ms (docs/scale.md).
    _ring_save_batch = 250

    def save_rings(self, rings: list[dict[str, Any]], history: list[dict[str, Any]]) -> None:
        """Save rings (each replaces the row and members of its ``ring_id``) and append ``history`` rows.

        Each ring dict has ``ring_id``, ``status``, ``merged_into``, ``score``, ``size``, ``users`` (list)
        and the rest of its body; rings not in ``rings`` keep their rows (merged or dissolved ones).

        Saved in short transactions of whole rings, active ones first, history with the last: a reader meanwhile
        sees each ring as before or as after, and a user who moved may be in both rings for a moment but
        never drops out of every ring. A failure part way leaves the batches before it saved; the next
        detection saves the rest (the registry is derived from the store).
        """
        now = _now()
        rows: list[tuple[dict[str, Any], list[str]]] = []
        for r in sorted(rings, key=lambda r: r.get("status", "active") != "active"):  # stable: order kept
            status = r.get("status", "active")
            rows.append(({"ring_id": r["ring_id"], "created_at": r.get("created_at", now), "updated_at": now,
                          "status": status, "merged_into": r.get("merged_into"), "score": r.get("score"),
                          "size": r.get("size"), "users": json.dumps(r.get("users", [])),
                          "body": json.dumps(r, sort_keys=True, default=str)},
                         list(dict.fromkeys(r.get("users", []))) if status == "active" else []))
        events = [{"ring_id": x["ring_id"], "at": now, "change": x["change"], "detail": _json(x.get("detail", {}))}
                  for x in history]
        if not rows and not events:
            return
        batches: list[list[tuple[dict[str, Any], list[str]]]] = [[]]
        members = 0
        for row in rows:
            if batches[-1] and members + len(row[1]) > self._ring_save_batch:
                batches.append([])
                members = 0
            batches[-1].append(row)
            members += len(row[1]) + 1
        for i, batch in enumerate(batches):
            last = i == len(batches) - 1

            def work(h: Any, batch: list[tuple[dict[str, Any], list[str]]] = batch, last: bool = last) -> None:
                for row, users in batch:
                    self._q_save_ring(h, row, users)
                if last and events:
                    self._q_add_ring_history(h, events)

            if i:
                time.sleep(0.001)  # the writers that queued meanwhile (scores) go first
            self._registry_write(work, "save rings")

    @staticmethod
    def _ring(r: Sequence[Any]) -> dict[str, Any]:
        d: dict[str, Any] = json.loads(r[0])
        d.update(zip(RING_COLUMNS[1:], r[1:]))
        return d

    def list_rings(self, status: str | None = "active", limit: int = 1000) -> list[dict[str, Any]]:
        return [self._ring(r) for r in self._q_rings(status, int(limit))]

    def get_ring(self, ring_id: str) -> dict[str, Any]:
        found = self._q_ring(ring_id)
        if found is None:
            raise NotFound(f"There is no ring {ring_id!r}; `graphfraud rings` lists the current ones.",
                           code="ring_not_found")
        d = self._ring(found[0])
        d["history"] = [{"at": a, "change": c, "detail": json.loads(x)} for a, c, x in found[1]]
        return d

    def ring_of_users(self, users: list[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        ids = list(dict.fromkeys(users))
        for k in range(0, len(ids), self._ring_lookup_chunk):
            for u, r in self._q_ring_members(ids[k:k + self._ring_lookup_chunk]):
                out[u] = r
        return out

    # ------------------------------------------------------------ cases
    def create_case(self, kind: str, ref: str, title: str, actor: str,
                    assignee: str | None = None) -> tuple[int, bool]:
        now = _now()

        def work(h: Any) -> tuple[int, bool]:
            # one case at a time on a thing: the check and the insert in one write, so that two tabs, a
            # double submit or two investigators at once get the one case
            same = self._q_open_case(h, kind, ref)
            if same is not None:
                return same, False
            cid = self._q_insert_case(h, kind, ref, title, assignee, now, actor)
            self._q_add_audit(h, now, actor, "case.create", f"case:{cid}", _json({"kind": kind, "ref": ref}))
            return cid, True

        cid, created = self._registry_write(work, "create the case")
        return int(cid), bool(created)

    def get_case(self, case_id: int) -> dict[str, Any]:
        d = self._q_case(int(case_id))
        if d is None:
            raise NotFound(f"There is no case {case_id}.", code="case_not_found")
        return d

    def update_case(self, case_id: int, actor: str, status: str | None = None, assignee: str | None = None,
                    note: str | None = None, *, expect: dict[str, str] | None = None) -> dict[str, Any]:
        """Change a case's status and assignee and add a note, in one write; what was applied.

        ``expect`` is the ``status`` and ``assignee`` (``""``: nobody) the investigator's form showed: a change
        is applied only while the case still has what the form showed, so two investigators deciding at once,
        or a page left open while someone else decided, cannot undo a decision unseen. A closed case is reopened
        only while no other case on the same thing is open. The note is kept either way. Returns ``{"status":
        applied or None, "assignee": applied or None, "refused": [{"field", "now", "why"}...]}``."""
        now = _now()

        def work(h: Any) -> dict[str, Any]:
            cur = self._q_case_state(h, int(case_id))
            if cur is None:
                raise NotFound(f"There is no case {case_id}.", code="case_not_found")
            kind, ref, cur_status, cur_assignee = cur
            refused: list[dict[str, Any]] = []
            new_status = status if status is not None and status != cur_status else None
            new_assignee = assignee if assignee is not None and assignee != (cur_assignee or "") else None
            if expect is not None and new_status is not None and expect.get("status") != cur_status:
                refused.append({"field": "status", "now": cur_status, "why": "changed"})
                new_status = None
            if expect is not None and new_assignee is not None and expect.get("assignee") != (cur_assignee or ""):
                refused.append({"field": "assignee", "now": cur_assignee or "", "why": "changed"})
                new_assignee = None
            if new_status in _OPEN_STATUSES and cur_status not in _OPEN_STATUSES:
                other = self._q_open_case(h, kind, ref)
                if other is not None and other != int(case_id):
                    refused.append({"field": "status", "now": cur_status, "why": "open_elsewhere", "case": other})
                    new_status = None
            if new_status is not None or new_assignee is not None:
                self._q_update_case(h, int(case_id), new_status, new_assignee, now)
            if note:
                self._q_add_note(h, int(case_id), now, actor, note)
            self._q_add_audit(h, now, actor, "case.update", f"case:{case_id}",
                              _json({"status": new_status, "assignee": new_assignee, "note": bool(note),
                                     **({"refused": [r["field"] for r in refused]} if refused else {})}))
            return {"status": new_status, "assignee": new_assignee, "refused": refused}

        return self._registry_write(work, "update the case")


#: Statuses of a case still being worked (one such case at a time on a thing).
_OPEN_STATUSES = ("open", "in_review")


__all__ = ["RegistryService", "DISABLED", "RING_COLUMNS"]
