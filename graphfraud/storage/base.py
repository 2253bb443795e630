"""The store contract shared by the embedded and the Neo4j backends.

A store is the durable truth; the in-memory graph engine is a cache of it. Every stored event
(transaction, label, decision, model change, erasure) gets a number from one monotonic sequence, so a
process can ask for everything after the last number it saw (:meth:`GraphStore.events_since`).
"""
from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..schema import Label, Transaction


@dataclass
class WriteResult:
    """What one bulk write did. ``conflicts`` lists ``(row, reason)`` for ids stored with other content."""

    inserted: int = 0
    duplicates: int = 0
    labelled: int = 0
    conflicts: list[tuple[int, str]] = field(default_factory=list)
    first_seq: int = 0
    last_seq: int = 0


@dataclass
class Event:
    """One stored event: ``kind`` is ``transaction``, ``label``, ``model`` or ``erase``."""

    seq: int
    kind: str
    transaction: Transaction | None = None
    label: Label | None = None
    data: dict[str, Any] | None = None


def same_value(a: Any, b: Any) -> bool:
    """Whether a stored value and a new one are the same (floats within a relative 1e-9)."""
    if isinstance(a, float) or isinstance(b, float):
        try:
            return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(a)))
        except (TypeError, ValueError):
            return False
    return bool(a == b)


TX_COLUMNS = ("seq", "transaction_id", "ts", "user_id", "amount", "card_id", "device_id", "ip", "merchant_id",
              "currency", "country", "is_fraud", "labelled_at", "extra", "attrs")


def transactions_from_rows(rows: Iterator[Sequence[Any]]) -> Iterator[tuple[Transaction, int]]:
    """Stored transaction rows (``TX_COLUMNS`` order) as ``(transaction, seq)``, without their free attributes
    (which no feature reads): how every store's :meth:`GraphStore.iter_transactions` builds them."""
    loads = json.loads
    for seq, tid, ts, uid, amt, card, dev, ip, mer, cur, cty, fr, la, ex, *_ in rows:
        yield Transaction(tid, int(ts), uid, float(amt), card, dev, ip, mer, cur, cty,
                          None if fr is None or fr != fr else int(fr), None if la is None or la != la else int(la),
                          loads(ex) if isinstance(ex, str) and ex else (ex or {}), {}), int(seq)


class GraphStore(Protocol):
    """What every backend provides. Methods raise :class:`~graphfraud.errors.StorageError` on I/O trouble."""

    location: str

    def close(self) -> None: ...

    # transactions and labels
    def write_transactions(self, frame: Any) -> WriteResult: ...
    def add_transaction(self, tx: Transaction, decision: dict[str, Any] | None = None
                        ) -> tuple[int, dict[str, Any] | None]: ...
    def add_labels(self, labels: Sequence[Label]) -> int: ...
    def get_transaction(self, transaction_id: str) -> dict[str, Any] | None: ...
    def transactions_of(self, column: str, value: str, limit: int = 100) -> list[dict[str, Any]]: ...
    def info(self) -> dict[str, Any]: ...
    def last_seq(self) -> int: ...
    def events_since(self, seq: int, limit: int = 10_000) -> list[Event]: ...
    def iter_transaction_frames(self, chunk_size: int = 200_000, after_seq: int = 0) -> Iterator[Any]: ...
    def iter_transactions(self, after_seq: int = 0) -> Iterator[tuple[Transaction, int]]: ...
    def labels(self, after_seq: int = 0) -> list[tuple[int, Label]]: ...
    def links_frame(self) -> Any: ...
    def neighbours(self, node_type: str, node_id: str, limit: int) -> list[dict[str, Any]]: ...

    # decisions and models
    def get_decision(self, transaction_id: str) -> dict[str, Any] | None: ...
    def decisions_frame(self, limit: int | None = None) -> Any: ...
    def save_model(self, version: str, meta: dict[str, Any], blob: bytes) -> None: ...
    def set_model_status(self, version: str, status: str) -> None: ...
    def list_models(self) -> list[dict[str, Any]]: ...
    def load_model(self, version: str) -> tuple[dict[str, Any], bytes]: ...

    # small key/value settings kept in the store (secret keys, masking, rules text)
    def get_meta(self, key: str) -> str | None: ...
    def set_meta(self, key: str, value: str) -> None: ...
