"""What the stores share: the records a write returns and reads give, and helpers both backends use
(the contract itself, one protocol per role, is :mod:`graphfraud.storage.roles`).

A store is the durable truth; the in-memory graph engine is a cache of it. Every stored event
(transaction, label, decision, model change, erasure) gets a number from one monotonic sequence, so a
process can ask for everything after the last number it saw
(:meth:`~graphfraud.storage.roles.EventStore.events_since`).
"""
from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import orjson

from ..schema import MORE_FIELDS, Label, Transaction

#: A stored transaction's fields in the order stores keep them (free attributes last: a read may leave them out).
STORED_FIELDS = ("transaction_id", "ts", "user_id", "amount", "card_id", "device_id", "ip", "merchant_id",
                 "currency", "country", "is_fraud", "labelled_at", "extra", *MORE_FIELDS, "attrs")


def _mapping(v: Any) -> dict[str, str]:
    return json.loads(v) if isinstance(v, str) else dict(v) if v else {}  # JSON text as stored, or a dict


def transaction_from_row(row: Sequence[Any] | Mapping[str, Any]) -> Transaction:
    """A stored transaction (values in :data:`STORED_FIELDS` order, perhaps without ``attrs``, or a mapping by
    those names) as a :class:`Transaction`; how every store and loader rebuilds one. NaN is absent.

    >>> tx = transaction_from_row({"transaction_id": "t1", "ts": 1767348000000, "user_id": "u1", "amount": 12,
    ...                            "extra": '{"email": "ann@x.org"}', "is_fraud": float("nan")})
    >>> tx.amount, tx.is_fraud, tx.extra
    (12.0, None, {'email': 'ann@x.org'})
    """
    if not isinstance(row, (tuple, list)):  # a mapping (the tuple test first: this runs once per stored row)
        row = [cast(Mapping[str, Any], row).get(k) for k in STORED_FIELDS]
    tid, ts, uid, amt, card, dev, ip, mer, cur, cty, fr, la, ex, cp, ft, ar, dr = row[:17]
    return Transaction(tid, int(ts), uid, float(amt), card, dev, ip, mer, cur, cty,
                       None if fr is None or fr != fr else int(fr), None if la is None or la != la else int(la),
                       _mapping(ex), _mapping(row[17]) if len(row) > 17 else {}, cp if cp == cp else None,
                       ft if ft == ft else None, ar if ar == ar else None, dr if dr == dr else None)


def frame_to_transactions(good: Any) -> list[Transaction]:
    """The rows of a validated chunk (from :func:`graphfraud.schema.validate_frame`) as :class:`Transaction`
    objects."""
    cols = [good[c].to_numpy(dtype=object, na_value=None).tolist() if c in ("is_fraud", "labelled_at") else
            good[c].tolist() if c in good.columns else [None] * len(good) for c in STORED_FIELDS]
    return [transaction_from_row(r) for r in zip(*cols)]


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


_JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def to_json(obj: Any, *, sort_keys: bool = False) -> str:
    r"""``obj`` as compact JSON text, unknown numbers (NaN, infinities) as null: decision records as both
    stores keep them, and the API's replies.

    orjson writes a scoring decision's record (about 150 features, 4.4 KB) in 4 µs where the standard
    library takes 43 µs; a text it cannot encode (a lone surrogate, an integer past 64 bits) falls back to
    the standard library, with the same nulls. Sets become sorted lists, numpy scalars numbers.

    >>> to_json({"score": 0.5, "features": {"pagerank": float("nan"), "n": 2}})
    '{"score":0.5,"features":{"pagerank":null,"n":2}}'
    >>> to_json({"id": "\ud800x", "p": float("inf")})
    '{"id":"\\ud800x","p":null}'
    """
    try:
        return orjson.dumps(obj, default=_plain, option=_JSON_OPTIONS | (orjson.OPT_SORT_KEYS if sort_keys else 0)
                            ).decode("utf-8")
    except orjson.JSONEncodeError:
        return json.dumps(_finite(obj), sort_keys=sort_keys, separators=(",", ":"), default=_plain)


def load_record(text: str | bytes) -> dict[str, Any]:
    """A decision record from its JSON text (orjson reads one about 4x faster than the standard library).
    A record an earlier version wrote with a bare ``NaN`` (which the standard library allowed) still reads.

    >>> load_record('{"score": NaN, "decision": "allow"}')
    {'score': nan, 'decision': 'allow'}
    """
    try:
        out = orjson.loads(text)
    except orjson.JSONDecodeError:
        out = json.loads(text)
    if not isinstance(out, dict):
        raise ValueError("a decision record is a JSON object")
    return out


def _plain(o: Any) -> Any:
    if isinstance(o, (set, frozenset)):
        return sorted(o, key=str)
    item = getattr(o, "item", None)  # numpy scalars orjson does not take
    if callable(item):
        return item()
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")


def _finite(o: Any) -> Any:
    """``o`` with every non-finite float replaced by None (what orjson writes for them)."""
    if isinstance(o, float):
        return o if math.isfinite(o) else None
    if isinstance(o, dict):
        return {k: _finite(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_finite(v) for v in o]
    return o


def same_value(a: Any, b: Any) -> bool:
    """Whether a stored value and a new one are the same (floats within a relative 1e-9)."""
    if isinstance(a, float) or isinstance(b, float):
        try:
            return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(a)))
        except (TypeError, ValueError):
            return False
    return bool(a == b)


#: A stored transaction's columns, in the order stores read them: its sequence number, then
#: :data:`STORED_FIELDS` (free attributes last, so a read can leave them out).
TX_COLUMNS = ("seq", *STORED_FIELDS)


def transactions_from_rows(rows: Iterator[Sequence[Any]], attributes: bool = False
                           ) -> Iterator[tuple[Transaction, int]]:
    """Stored transaction rows (``TX_COLUMNS`` order) as ``(transaction, seq)``, without their free attributes
    unless ``attributes`` (only the ``feature_attributes`` setting's features read them): how every store's
    :meth:`EventStore.iter_transactions` builds them."""
    end = 19 if attributes else 18
    for r in rows:
        yield transaction_from_row(r[1:end]), int(r[0])


#: A user's transfers, one row per payer and payee (:meth:`LinkStore.transfers_of`): money from ``payer`` to
#: ``payee`` in ``n`` transactions carrying a ``counterparty_id``, ``amount`` their total (as stored, whatever the
#: currency), between ``first_seen`` and ``last_seen``.
TRANSFER_COLUMNS = ("payer", "payee", "n", "amount", "first_seen", "last_seen")
#: One transfer (:meth:`LinkStore.transfers_among`).
TRANSFER_ROW_COLUMNS = ("transaction_id", "payer", "payee", "amount", "currency", "ts")

LINK_TOTAL_COLUMNS = ("type", "entity_id", "user_id", "first_seen", "last_seen", "n")
#: The columns of :meth:`transfer_totals`: one row per (payer, receiver) pair of transfers.
TRANSFER_TOTAL_COLUMNS = ("src", "dst", "n", "amount", "first_ts", "last_ts")


def link_rows(frame: Any) -> Any:
    """The user-identifier links of a validated chunk (:func:`graphfraud.schema.validate_frame`), as a
    ``pyarrow.Table`` of :data:`LINK_TOTAL_COLUMNS`: one row per transaction and identifier, not yet added
    up (``first_seen`` and ``last_seen`` its time, ``n`` 1). :func:`merge_link_totals` adds up what the
    store's link table holds for these rows, once over many chunks: a chunk of a long file repeats few of
    its links, so adding up each chunk as well cost time and saved little (``docs/scale.md``).

    >>> import pandas as pd
    >>> f = pd.DataFrame({"ts": [5, 9, 7], "user_id": ["a", "a", "b"], "card_id": ["c", "c", None],
    ...                   "device_id": [None] * 3, "ip": [None] * 3, "merchant_id": [None] * 3,
    ...                   "extra": [None, {"email": "x@y.org"}, None]})
    >>> sorted(tuple(r.values()) for r in merge_link_totals([link_rows(f)]).to_pylist())
    [('card', 'c', 'a', 5, 9, 2), ('email', 'x@y.org', 'a', 9, 9, 1)]
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from ..schema import ENTITY_COLUMNS

    ts = pa.array(frame["ts"].to_numpy(), pa.int64())
    users = pa.Array.from_pandas(frame["user_id"], type=pa.string())
    parts: list[Any] = []
    for col, typ in ENTITY_COLUMNS.items():
        ent = pa.Array.from_pandas(frame[col], type=pa.string())  # NaN and None are absent
        if ent.null_count == len(ent):
            continue
        t = pa.table({"entity_id": ent, "user_id": users, "ts": ts}).filter(pc.is_valid(ent))
        parts.append(t.append_column("type", pa.array([typ] * len(t), pa.string())))
    extra = [d if isinstance(d, dict) else None for d in frame["extra"].tolist()]
    if any(extra):
        rows = [(k, v, u, t) for d, u, t in zip(extra, frame["user_id"].tolist(), frame["ts"].tolist()) if d
                for k, v in d.items()]
        k, v, u, t = zip(*rows)
        parts.append(pa.table({"entity_id": pa.array(v, pa.string()), "user_id": pa.array(u, pa.string()),
                               "ts": pa.array(t, pa.int64()), "type": pa.array(k, pa.string())}))
    if not parts:
        return merge_link_totals([])
    t = pa.concat_tables(parts)
    return pa.table({"type": t["type"], "entity_id": t["entity_id"], "user_id": t["user_id"], "first_seen": t["ts"],
                     "last_seen": t["ts"], "n": pa.array(np.ones(len(t), np.int64))})


def merge_link_totals(tables: Sequence[Any], sort: bool = True) -> Any:
    """Several :func:`link_rows` (or merged) tables as one (the same link's rows added up), ordered by the link
    table's key (:func:`sort_link_totals`) unless ``sort`` is false."""
    import pyarrow as pa

    if not tables:
        return pa.table({c: pa.array([], pa.int64() if c in ("first_seen", "last_seen", "n") else pa.string())
                         for c in LINK_TOTAL_COLUMNS})
    t = pa.concat_tables(tables)
    g = t.group_by(["type", "entity_id", "user_id"], use_threads=False).aggregate(
        [("first_seen", "min"), ("last_seen", "max"), ("n", "sum")])
    g = g.rename_columns({"first_seen_min": "first_seen", "last_seen_max": "last_seen", "n_sum": "n"})
    g = g.select(list(LINK_TOTAL_COLUMNS))
    return sort_link_totals(g) if sort else g


def link_keys(totals: Any) -> Any:
    """Each row's link key ``type, entity_id, user_id`` as one string, joined by NUL: ids hold no control
    character (:mod:`graphfraud.schema`), so these strings sort as the keys do."""
    import pyarrow.compute as pc

    return pc.binary_join_element_wise(totals["type"], totals["entity_id"], totals["user_id"], "\x00")


def sort_link_totals(totals: Any) -> Any:
    """``totals`` in the link table's key order (one string key: a third faster than sorting by three)."""
    import pyarrow.compute as pc

    return totals.take(pc.sort_indices(link_keys(totals)))
