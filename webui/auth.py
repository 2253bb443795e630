"""API keys for ``/api/v1``: creation, lookup, scopes and a per-key rate limit.

A key is ``gf_`` + 32 random bytes (:func:`secrets.token_urlsafe`). Only its SHA-256 is stored
(``store.create_api_key``); a request's key is hashed and looked up by hash, and the stored hash is
compared with :func:`hmac.compare_digest`. A fast hash is right here: the key has 256 bits of entropy, so
there is nothing to brute-force, unlike a password.

Scopes: ``score`` may score, send batches and read its transactions back; ``admin`` may do everything
(labels, rings, entities). A missing or wrong key is 401; a key without the scope is 403.

Lookups are cached per process for ``API_KEY_CACHE_SECONDS`` (default 5 s): a revoked key stops working
within that bound. Unknown keys are cached too (as unknown), so a flood of wrong keys costs no store reads.

The rate limit is a token bucket per key and per worker process holding ``rate_limit / workers`` tokens a
second (the server tells each worker how many there are), so the whole server allows about
``rate_limit`` requests a second per key when its load balances across workers.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from graphfraud.errors import AuthError, Forbidden, RateLimited, ValidationError
from graphfraud.storage.roles import AccountStore

SCOPES = ("score", "admin")
KEY_PREFIX = "gf_"
_CACHE_MAX = 10_000


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def create_api_key(store: AccountStore, name: str, scope: str = "score") -> str:
    """Create a key, store its hash and return the key itself (the only time it exists in clear).

    >>> import os, tempfile
    >>> from graphfraud.storage import open_store
    >>> store = open_store(os.path.join(tempfile.mkdtemp(), "k.db"))
    >>> key = create_api_key(store, "payments", "score")
    >>> key.startswith("gf_") and store.api_key_by_hash(hash_key(key))["scope"]
    'score'
    """
    name = (name or "").strip()
    if not name or len(name) > 100 or any(ord(c) < 32 for c in name):
        raise ValidationError("An API key needs a name of 1 to 100 printable characters.",
                              [f"name: {name[:40]!r} is not acceptable"], code="invalid_name")
    if scope not in SCOPES:
        raise ValidationError(f"Scope {scope!r} is not one of {', '.join(SCOPES)}.",
                              [f"scope: {scope!r} is not one of {', '.join(SCOPES)}"], code="invalid_scope")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    store.create_api_key(name, scope, hash_key(key))
    return key


@dataclass(frozen=True)
class KeyRecord:
    id: int
    name: str
    scope: str

    def allows(self, scope: str) -> bool:
        return self.scope == "admin" or self.scope == scope


def key_from_headers(headers: Any) -> str | None:
    """The key from ``Authorization: Bearer KEY`` or ``X-API-Key: KEY``; ``None`` when neither is given."""
    auth = headers.get("Authorization")
    if auth:
        kind, _, value = auth.strip().partition(" ")
        if kind.lower() == "bearer" and value.strip():
            return str(value).strip()
        raise AuthError("The Authorization header must be 'Bearer <API key>'.",
                        ["Authorization: expected 'Bearer <API key>'"], code="unauthorized")
    key = headers.get("X-API-Key")
    return key.strip() if key and key.strip() else None


class KeyCache:
    """Hash -> key record (or ``None`` for unknown/revoked), each kept for ``ttl`` seconds."""

    def __init__(self, store: AccountStore, ttl: float = 5.0):
        self.store = store
        self.ttl = ttl
        self._entries: dict[str, tuple[float, KeyRecord | None]] = {}
        self._lock = threading.Lock()

    def lookup(self, key: str) -> KeyRecord | None:
        h = hash_key(key)
        now = time.monotonic()
        hit = self._entries.get(h)
        if hit is not None and hit[0] > now:
            return hit[1]
        row = self.store.api_key_by_hash(h)
        rec = None
        if row is not None and row.get("revoked_at") is None and hmac.compare_digest(str(row["key_hash"]), h):
            rec = KeyRecord(int(row["id"]), str(row["name"]), str(row["scope"]))
        with self._lock:
            if len(self._entries) >= _CACHE_MAX:
                self._entries.clear()
            self._entries[h] = (now + self.ttl, rec)
        return rec

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class RateLimiter:
    """A token bucket per key: ``rate`` tokens a second, at most ``rate`` (one second's worth) banked."""

    def __init__(self, rate: float):
        self.rate = float(rate)
        self._buckets: dict[int, list[float]] = {}
        self._lock = threading.Lock()

    def check(self, key_id: int) -> None:
        if self.rate <= 0:
            return
        now = time.monotonic()
        with self._lock:
            b = self._buckets.get(key_id)
            if b is None:
                b = self._buckets[key_id] = [self.rate, now]
            tokens = min(self.rate, b[0] + (now - b[1]) * self.rate)
            b[1] = now
            if tokens < 1.0:
                b[0] = tokens
                wait = max(1, int((1.0 - tokens) / self.rate + 0.999))
                raise RateLimited(f"This API key is over its limit of {self.rate:g} requests a second; "
                                  f"retry in {wait} s.", [f"rate_limit: {self.rate:g} per second"])
            b[0] = tokens - 1.0


def authenticate(headers: Any, cache: KeyCache, limiter: RateLimiter, scope: str) -> KeyRecord:
    """Check the request's key and scope and take one token; raise 401/403/429 errors otherwise."""
    key = key_from_headers(headers)
    if key is None:
        raise AuthError("An API key is required: send 'Authorization: Bearer <API key>' "
                        "(create one with `graphfraud apikey create`).",
                        ["Authorization: missing"], code="unauthorized")
    rec = cache.lookup(key) if len(key) <= 200 else None
    if rec is None:
        raise AuthError("The API key is not valid or has been revoked.", ["Authorization: unknown API key"],
                        code="invalid_api_key")
    if not rec.allows(scope):
        raise Forbidden(f"The API key {rec.name!r} has scope {rec.scope!r}; this action needs {scope!r}.",
                        [f"scope: {scope} required"], code="forbidden")
    limiter.check(rec.id)
    return rec
