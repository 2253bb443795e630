"""Erasing one user's personal data from the embedded store while keeping every aggregate count.

The user id becomes a pseudonym (``erased:<hash>``) everywhere it appears: transactions, links, user labels,
decision records, ring membership and ring bodies, cases, earlier audit rows and models' meta (the account
model's out-of-fold scores are kept by user id). Identifiers that only this
user used (card, device, IP) get pseudonyms too, and personal identifier types (email, phone, address and
other extra types) are pseudonymised wherever they appear, with one pseudonym per value, so the graph keeps
its shape: ``info()`` counts (transactions, labels, fraud, entities per type, links) do not change.
Attributes of the user's transactions (free text that may hold anything) are dropped. Shared card, device
and IP identifiers stay (they belong to the other users' history too), and merchants are not personal.

Pseudonyms come from a random salt that is not kept, so they cannot be reversed by trying user ids.
The store writes with ``secure_delete`` and checkpoints its write-ahead log afterwards, so the old values do
not linger in free pages or in the log.
"""
from __future__ import annotations

import hashlib
import json
import re
import secrets
import sqlite3
from typing import Any

from ..errors import NotFound
from ..schema import ENTITY_COLUMNS

#: Identifier types kept when other users share them (they are the other users' history as well).
_SHARED_KEPT = ("card", "device", "ip")
_CONTEXT = ("merchant",)


def pseudonym(value: str, salt: str) -> str:
    return "erased:" + hashlib.sha256((salt + "\x1f" + value).encode("utf-8")).hexdigest()[:20]


def begin_erasure(user_id: str, exists: bool) -> tuple[str, str, dict[str, str]]:
    """``(salt, pseudonym, mapping)`` for erasing ``user_id``; :class:`NotFound` when there is nothing."""
    if not exists:
        raise NotFound("There is no user with that id in the store (or it was erased already).",
                       code="user_not_found")
    salt = secrets.token_hex(16)
    pseudo = pseudonym(user_id, salt)
    return salt, pseudo, {user_id: pseudo}


def text_needles(values: Any) -> list[str]:
    """What to look for in stored texts to find each of ``values``: the value itself (plain text columns) and
    its forms inside JSON text, escaped as ``json.dumps`` writes it (``jos\\u00e9``, ``o\\"brien``) and as
    a UTF-8 writer does (``o\\"brien``). Matching rows are then rewritten from their parsed JSON.

    >>> text_needles(["josé", "plain"]) == ["josé", "jos" + chr(92) + "u00e9", "plain"]
    True
    """
    out: dict[str, None] = {}
    for v in values:
        for form in (v, json.dumps(v)[1:-1], json.dumps(v, ensure_ascii=False)[1:-1]):
            out[form] = None
    return list(out)


def _replacer(mapping: dict[str, str]) -> Any:
    """A function replacing each mapped value inside JSON-like data: whole strings, and whole words in text."""
    if not mapping:
        return lambda x: x
    # longest first, bounded so that "u1" does not match inside "u10"
    pat = re.compile(r"(?<![\w@.-])(" + "|".join(re.escape(k) for k in sorted(mapping, key=len, reverse=True))
                     + r")(?![\w@.-])")

    def walk(x: Any) -> Any:
        if isinstance(x, str):
            if x in mapping:
                return mapping[x]
            return pat.sub(lambda m: mapping[m.group(1)], x)
        if isinstance(x, list):
            return [walk(v) for v in x]
        if isinstance(x, dict):
            return {walk(k) if isinstance(k, str) else k: walk(v) for k, v in x.items()}
        return x

    return walk


def erase_user(con: sqlite3.Connection, base: int, user_id: str, actor: str, now: int
               ) -> tuple[dict[str, Any], int]:
    """Inside a write transaction: erase ``user_id``; returns ``(summary, new_seq)``."""
    n_tx = con.execute("SELECT COUNT(*) FROM tx WHERE user_id=?", (user_id,)).fetchone()[0]
    n_lab = con.execute("SELECT COUNT(*) FROM label WHERE subject='user' AND subject_id=?", (user_id,)).fetchone()[0]
    rings = [r[0] for r in con.execute("SELECT ring_id FROM ring_user WHERE user_id=?", (user_id,))]
    n_received = con.execute("SELECT COUNT(*) FROM tx WHERE counterparty_id=?", (user_id,)).fetchone()[0]
    salt, pseudo, mapping = begin_erasure(user_id, bool(n_tx or n_lab or rings or n_received))
    # every identifier of the user's transactions, with how many users share it
    idents: set[tuple[str, str]] = set()
    for col, typ in ENTITY_COLUMNS.items():
        if typ in _CONTEXT:
            continue
        idents.update((typ, v) for (v,) in con.execute(
            f"SELECT DISTINCT {col} FROM tx WHERE user_id=? AND {col} IS NOT NULL", (user_id,)))
    idents.update((k, v) for k, v in con.execute(
        "SELECT DISTINCT j.key, j.value FROM tx, json_each(tx.extra) j WHERE tx.user_id=? AND tx.extra IS NOT NULL",
        (user_id,)))
    renamed: dict[tuple[str, str], str] = {}
    for typ, value in sorted(idents):
        n_users = con.execute("SELECT COUNT(DISTINCT user_id) FROM link WHERE type=? AND entity_id=?",
                              (typ, value)).fetchone()[0]
        if typ in _SHARED_KEPT and n_users > 1:
            continue
        p = pseudonym(f"{typ}\x1f{value}", salt)
        renamed[(typ, value)] = p
        mapping[str(value)] = p
    cols = {t: c for c, t in ENTITY_COLUMNS.items()}
    # identifiers: everywhere they appear (an extra type's value may be shared; one pseudonym keeps the shape)
    for (typ, value), p in renamed.items():
        users = [u for (u,) in con.execute("SELECT user_id FROM link WHERE type=? AND entity_id=?", (typ, value))]
        users = list(dict.fromkeys(users + [user_id]))
        if typ in cols:
            c = cols[typ]  # from the fixed ENTITY_COLUMNS table, never from input
            con.execute(f"UPDATE tx SET {c}=? WHERE user_id IN (SELECT value FROM json_each(?)) AND {c}=?",
                        (p, json.dumps(users), value))
        else:
            con.execute("UPDATE tx SET extra=json_set(extra, '$.' || ?, ?) WHERE user_id IN "
                        "(SELECT value FROM json_each(?)) AND json_extract(extra, '$.' || ?)=?",
                        (typ, p, json.dumps(users), typ, value))
        con.execute("UPDATE link SET entity_id=? WHERE type=? AND entity_id=?", (p, typ, value))
    # the user's own rows
    tx_ids = [t for (t,) in con.execute("SELECT transaction_id FROM tx WHERE user_id=?", (user_id,))]
    con.execute("UPDATE tx SET user_id=?, attrs=NULL WHERE user_id=?", (pseudo, user_id))
    # transfers the user received name them as the counterparty: the same pseudonym there
    con.execute("UPDATE tx SET counterparty_id=? WHERE counterparty_id=?", (pseudo, user_id))
    con.execute("UPDATE link SET user_id=? WHERE user_id=?", (pseudo, user_id))
    con.execute("UPDATE label SET subject_id=? WHERE subject='user' AND subject_id=?", (pseudo, user_id))
    walk = _replacer(mapping)
    # decision records: the user's own, and any other that names the user or a renamed identifier
    needles = text_needles(mapping)
    for k in range(0, len(tx_ids), 500):
        part = tx_ids[k:k + 500]
        for tid, body in con.execute(f"SELECT transaction_id, body FROM decision WHERE transaction_id IN "
                                     f"({','.join('?' * len(part))})", part).fetchall():
            con.execute("UPDATE decision SET body=? WHERE transaction_id=?",
                        (json.dumps(walk(json.loads(body)), sort_keys=True), tid))
    for needle in needles:
        for tid, body in con.execute("SELECT transaction_id, body FROM decision WHERE instr(body, ?) > 0",
                                     (needle,)).fetchall():
            new = json.dumps(walk(json.loads(body)), sort_keys=True)
            if new != body:
                con.execute("UPDATE decision SET body=? WHERE transaction_id=?", (new, tid))
    # rings: membership, member lists and bodies, history
    con.execute("UPDATE ring_user SET user_id=? WHERE user_id=?", (pseudo, user_id))
    for needle in needles:
        for rid, users, body in con.execute("SELECT ring_id, users, body FROM ring WHERE instr(users, ?) > 0 "
                                            "OR instr(body, ?) > 0", (needle, needle)).fetchall():
            con.execute("UPDATE ring SET users=?, body=? WHERE ring_id=?",
                        (json.dumps(walk(json.loads(users))), json.dumps(walk(json.loads(body)), sort_keys=True),
                         rid))
        for hid, detail in con.execute("SELECT id, detail FROM ring_history WHERE instr(detail, ?) > 0",
                                       (needle,)).fetchall():
            con.execute("UPDATE ring_history SET detail=? WHERE id=?",
                        (json.dumps(walk(json.loads(detail)), sort_keys=True), hid))
        # cases about the user and earlier audit rows naming the user
        for cid, ref, title in con.execute("SELECT id, ref, title FROM gcase WHERE instr(ref, ?) > 0 "
                                           "OR instr(title, ?) > 0", (needle, needle)).fetchall():
            con.execute("UPDATE gcase SET ref=?, title=? WHERE id=?", (walk(ref), walk(title), cid))
        for aid, target, detail in con.execute("SELECT id, target, detail FROM audit WHERE instr(target, ?) > 0 "
                                               "OR instr(detail, ?) > 0", (needle, needle)).fetchall():
            con.execute("UPDATE audit SET target=?, detail=? WHERE id=?",
                        (walk(target) if target else target,
                         json.dumps(walk(json.loads(detail or "{}")), sort_keys=True), aid))
        # models' meta (the account model keeps its out-of-fold scores by user id)
        for version, meta in con.execute("SELECT version, meta FROM model WHERE instr(meta, ?) > 0",
                                         (needle,)).fetchall():
            con.execute("UPDATE model SET meta=? WHERE version=?",
                        (json.dumps(walk(json.loads(meta)), sort_keys=True), version))
    summary = {"pseudonym": pseudo, "transactions": n_tx, "user_labels": n_lab, "rings": len(rings),
               "identifiers_pseudonymised": len(renamed)}
    # the audit row names the pseudonym only; the event tells serving processes to rebuild their engine
    con.execute("INSERT INTO audit(at, actor, action, target, detail) VALUES (?,?,?,?,?)",
                (now, actor, "user.erase", f"user:{pseudo}", json.dumps(summary, sort_keys=True)))
    con.execute("INSERT INTO event VALUES (?,?,?)", (base + 1, "erase", json.dumps({"pseudonym": pseudo})))
    return summary, base + 1
