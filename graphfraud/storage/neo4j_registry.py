"""The Neo4j store's registry queries (rings, cases, investigator accounts, API keys, audit) and the narrow
reads ring detection asks for. Mixed into :class:`~graphfraud.storage.neo4j.Neo4jStore`; what the registry
means is :class:`~graphfraud.storage.registry_service.RegistryService`, shared with the embedded store.

This module does not import :mod:`neo4j`: it runs the store's queries through ``_read``, ``_write`` and
``_stream``, which own the driver and its errors.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from ..schema import ENTITY_COLUMNS
from .base import TRANSFER_TOTAL_COLUMNS, TX_COLUMNS
from .cypher import query
from .registry_service import RING_COLUMNS, RegistryService, _now

T = TypeVar("T")


class Neo4jRegistryMixin(RegistryService):
    """The registry's Cypher and ring-detection reads; expects ``_read``, ``_write``, ``_stream`` and
    ``_next_ids`` from the store class."""

    _ring_lookup_chunk = 10_000

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

    def _registry_write(self, fn: Callable[[Any], T], what: str) -> T:
        return self._write(lambda tx, base: (fn(tx), base), what)  # type: ignore[no-any-return]

    # ------------------------------------------------------------ audit
    def _q_add_audit(self, h: Any, at: int, actor: str, action: str, target: str | None, detail: str) -> None:
        h.run(query("create_audit"), id=self._next_ids(h, "audit"), at=at, actor=actor, action=action,
              target=target, detail=detail).consume()

    def _q_audit(self, limit: int, target: str | None) -> Iterable[Sequence[Any]]:
        return [(r["at"], r["actor"], r["action"], r["target"], r["detail"])
                for r in self._read("list_audit", target=target, limit=limit)]

    # ------------------------------------------------------------ investigator accounts
    def _q_app_user(self, name: str) -> Sequence[Any] | None:
        rows = self._read("get_app_user", name=name)
        return (rows[0]["name"], rows[0]["role"], rows[0]["password_hash"]) if rows else None

    def _q_app_user_hash(self, h: Any, name: str) -> str | None:
        row = h.run(query("get_app_user"), name=name).single()
        return None if row is None else str(row["password_hash"])

    def _q_insert_app_user(self, h: Any, name: str, role: str, password_hash: str, at: int) -> None:
        h.run(query("create_app_user"), name=name, role=role, password_hash=password_hash, created_at=at).consume()

    def _q_set_app_user_hash(self, h: Any, name: str, password_hash: str) -> None:
        h.run(query("set_app_user_password"), name=name, password_hash=password_hash).consume()

    def _q_delete_user_sessions(self, h: Any, user: str) -> int:
        return int(h.run(query("delete_user_sessions"), user=user).single()["n"])

    def list_app_users(self) -> list[dict[str, Any]]:
        return self._read("list_app_users")

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

    def _q_throttle_counts(self, keys: list[str], since: int) -> Iterable[Sequence[Any]]:
        return [(r["key"], r["n"]) for r in self._read("count_throttle", keys=keys, since=since)]

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

    def _q_revoke_api_key(self, h: Any, name: str, at: int) -> int:
        return int(h.run(query("revoke_api_key"), name=name, at=at).single()["n"])

    # ------------------------------------------------------------ rings
    def _q_save_ring(self, h: Any, row: dict[str, Any], members: list[str]) -> None:
        h.run(query("merge_ring"), **row, members=members).consume()

    def _q_add_ring_history(self, h: Any, rows: list[dict[str, Any]]) -> None:
        last = self._next_ids(h, "ring_history", len(rows))
        h.run(query("create_ring_history"), rows=[{"id": last - len(rows) + 1 + k, **r}
                                                  for k, r in enumerate(rows)]).consume()

    def _q_rings(self, status: str | None, limit: int) -> Iterable[Sequence[Any]]:
        return [[r[c] for c in RING_COLUMNS] for r in self._read("list_rings", status=status, limit=limit)]

    def _q_ring(self, ring_id: str) -> tuple[Sequence[Any], Iterable[Sequence[Any]]] | None:
        rows = self._read("get_ring", ring_id=ring_id)
        if not rows:
            return None
        return ([rows[0][c] for c in RING_COLUMNS],
                [(x["at"], x["change"], x["detail"]) for x in rows[0]["history"]])

    def _q_ring_members(self, users: list[str]) -> Iterable[Sequence[Any]]:
        return [(r["user_id"], r["ring_id"]) for r in self._read("list_ring_members", user_ids=users)]

    # ------------------------------------------------------------ cases
    def _q_insert_case(self, h: Any, kind: str, ref: str, title: str, assignee: str | None, at: int,
                       actor: str) -> int:
        cid = self._next_ids(h, "case")
        h.run(query("create_case"), id=cid, kind=kind, ref=ref, title=title, assignee=assignee, at=at,
              created_by=actor).consume()
        return cid

    def _q_open_case(self, h: Any, kind: str, ref: str) -> int | None:
        # every write holds the store's lock from its start (the sequence node): nobody creates one meanwhile
        row = h.run(query("open_case"), kind=kind, ref=ref).single()
        return None if row is None else int(row["id"])

    def _q_case(self, case_id: int) -> dict[str, Any] | None:
        rows = self._read("get_case", id=case_id)
        return rows[0] if rows else None

    def list_cases(self, status: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
        return self._read("list_cases", status=status or None, limit=int(limit))

    def _q_case_state(self, h: Any, case_id: int) -> tuple[str, str, str, str | None] | None:
        r = h.run(query("get_case"), id=case_id).single()  # under the store's lock: as of this write
        return None if r is None else (r["kind"], r["ref"], r["status"], r["assignee"])

    def _q_update_case(self, h: Any, case_id: int, status: str | None, assignee: str | None, at: int) -> bool:
        return bool(h.run(query("update_case"), id=case_id, status=status, assignee=assignee, at=at).single()["found"])

    def _q_add_note(self, h: Any, case_id: int, at: int, author: str, text: str) -> None:
        h.run(query("create_note"), id=self._next_ids(h, "note"), case_id=case_id, at=at, author=author,
              text=text).consume()

    # ------------------------------------------------------------ ring detection reads (read only what's needed)
    def shared_links_frame(self, types: Sequence[str], min_users: int = 2, max_users: int | None = None) -> Any:
        """Links of identifiers of ``types`` used by ``min_users`` to ``max_users`` users, with ``n_users``."""
        import pandas as pd

        rows = list(self._stream("stream_shared_links", types=list(types), min_users=int(min_users),
                                 max_users=int(max_users) if max_users is not None else 2**62))
        return pd.DataFrame.from_records(rows, columns=["type", "entity_id", "user_id", "first_seen", "last_seen",
                                                        "n", "n_users"])

    def users_with_links(self, node_type: str, min_links: int) -> list[str]:
        """The users linked to ``min_links`` identifiers of ``node_type`` or more."""
        return [r[0] for r in self._stream("users_with_links", type=node_type, min_links=int(min_links))]

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

    def transactions_of_users(self, user_ids: Sequence[str] | None, columns: Sequence[str]) -> Any:
        """The given columns of every transaction of the given users (``None``: of every user), in sequence
        order."""
        import pandas as pd

        bad = [c for c in columns if c not in TX_COLUMNS]
        if bad:
            raise ValueError(f"Unknown transaction columns {bad}; choose from {list(TX_COLUMNS)}.")
        if user_ids is None:
            frames = [f[list(columns)] for f in self.iter_transaction_frames()]  # type: ignore[attr-defined]
            return (pd.concat(frames, ignore_index=True) if frames
                    else pd.DataFrame({c: pd.Series(dtype=object) for c in columns}))
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
