"""Sign-in for the investigator pages: sessions, roles, CSRF tokens, login rate limiting and masking.

* Accounts are made by ``graphfraud user create`` and hashed with scrypt (:mod:`graphfraud.accounts`).
* The session is Flask's signed cookie (HttpOnly, SameSite=Lax, secret kept in the store). It holds the
  user name, the time of sign-in and a random CSRF token; the account is re-read on every request, so a
  deleted account or a changed role takes effect at once. Sessions expire after ``UI_SESSION_HOURS``.
* Every POST carries the session's CSRF token (a hidden ``csrf_token`` field, or the ``X-CSRF-Token``
  header for scripts) compared in constant time; a missing or wrong token is refused with 400.
* Failed sign-ins are counted per client address and per account name in a sliding window; past the
  limit the form answers 429 until the window has passed (per worker process: a bound, not a ledger).
* Roles: ``analyst`` investigates; ``admin`` also changes settings (identifier masking) and re-runs ring
  detection. Analysts see card, email and phone identifiers masked when masking is on.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from flask import abort, current_app, g, redirect, request, session, url_for

from graphfraud.accounts import verify_password

#: identifier types masked for analysts when masking is on
MASKED_TYPES = frozenset(("card", "email", "phone"))
MASK_META_KEY = "mask_identifiers"
_DUMMY_HASH = "scrypt$16384$8$1$" + "00" * 16 + "$" + "00" * 32  # same work when the account is unknown


def store() -> Any:
    return current_app.extensions["graphfraud"].store


# ---------------------------------------------------------------- users and sessions
def current_user() -> dict[str, Any] | None:
    """The signed-in account (``name``, ``role``) or ``None``; cached on ``g`` for the request."""
    if "ui_user" in g:
        return g.ui_user  # type: ignore[no-any-return]
    user = None
    name = session.get("user")
    started = session.get("at", 0)
    max_age = float(current_app.config.get("UI_SESSION_HOURS", 12)) * 3600
    if name and time.time() - float(started) < max_age:
        row = store().get_app_user(name)
        if row is not None:
            user = {"name": row["name"], "role": row["role"]}
    g.ui_user = user
    return user


def authenticate(name: str, password: str) -> dict[str, Any] | None:
    """The account when ``password`` is right, else ``None`` (as slow for unknown names as for known)."""
    row = store().get_app_user(name) if name else None
    ok = verify_password(row["password_hash"] if row else _DUMMY_HASH, password)
    return {"name": row["name"], "role": row["role"]} if row and ok else None


def sign_in(user: dict[str, Any]) -> None:
    session.clear()  # a fresh session on sign-in: nothing from before survives (no fixation)
    session.permanent = True
    session["user"] = user["name"]
    session["at"] = int(time.time())
    session["csrf"] = secrets.token_urlsafe(32)
    g.ui_user = user


def sign_out() -> None:
    session.clear()
    g.ui_user = None


def login_required(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Pages redirect to the sign-in form; ``/ui/`` JSON endpoints answer 401."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            if request.path.startswith("/ui/"):
                abort(401)
            nxt = request.full_path if request.query_string else request.path
            return redirect(url_for("pages.login", next=nxt))
        return fn(*args, **kwargs)

    return wrapper


def admin_required(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    @login_required
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if (current_user() or {}).get("role") != "admin":
            abort(403)
        return fn(*args, **kwargs)

    return wrapper


# ---------------------------------------------------------------- CSRF
def csrf_token() -> str:
    """The session's CSRF token (created for anonymous sessions too, so the sign-in form has one)."""
    tok = session.get("csrf")
    if not tok:
        tok = session["csrf"] = secrets.token_urlsafe(32)
    return str(tok)


def check_csrf() -> None:
    """Refuse a state-changing request whose token is missing or is not the session's."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    good = session.get("csrf") or ""
    if not good or not hmac.compare_digest(str(sent).encode(), str(good).encode()):
        abort(400, description="csrf")


# ---------------------------------------------------------------- login rate limiting
class LoginLimiter:
    """At most ``per_key`` failures per account name, and ``per_address`` per client address (several people
    may share one behind a proxy), in ``window`` seconds."""

    def __init__(self, per_key: int = 5, window: float = 300.0, max_keys: int = 10_000, per_address: int = 20):
        self.per_key, self.window, self.max_keys, self.per_address = per_key, window, max_keys, per_address
        self._fails: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._fails.get(key)
        if q is None:
            return deque()
        while q and now - q[0] > self.window:
            q.popleft()
        return q

    def blocked(self, *keys: str) -> bool:
        now = time.monotonic()
        with self._lock:
            return any(len(self._recent(k, now)) >= (self.per_address if k.startswith("ip:") else self.per_key)
                       for k in keys)

    def fail(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._fails) > self.max_keys:  # forget the oldest entries rather than grow forever
                for k in list(self._fails)[: self.max_keys // 2]:
                    del self._fails[k]
            for k in keys:
                self._recent(k, now)
                self._fails.setdefault(k, deque()).append(now)

    def reset(self, *keys: str) -> None:
        with self._lock:
            for k in keys:
                self._fails.pop(k, None)


def limiter() -> LoginLimiter:
    ext = current_app.extensions
    lim = ext.get("graphfraud_login_limiter")
    if lim is None:
        n = int(current_app.config.get("UI_LOGIN_ATTEMPTS", 5))
        lim = ext["graphfraud_login_limiter"] = LoginLimiter(n, per_address=4 * n)
    return lim  # type: ignore[no-any-return]


# ---------------------------------------------------------------- masking
def masking_on() -> bool:
    v = store().get_meta(MASK_META_KEY)
    if v is None:
        return bool(current_app.config.get("MASK_IDENTIFIERS"))
    return v == "1"


def masks_for_user() -> bool:
    """Whether identifiers are masked for the current request's user."""
    if "ui_mask" not in g:
        user = current_user()
        g.ui_mask = bool(user and user["role"] != "admin" and masking_on())
    return bool(g.ui_mask)


def mask_token(node_type: str, node_id: str) -> str:
    """A stable opaque stand-in for a masked identifier (keyed hash; not reversible)."""
    key = str(current_app.secret_key or "").encode()
    return "~" + hmac.new(key, f"{node_type}\x00{node_id}".encode("utf-8", "surrogatepass"),
                          hashlib.sha256).hexdigest()[:24]


def mask_text(node_type: str, value: Any) -> Any:
    """What an analyst sees of a masked identifier: its type and at most its last 2-4 characters."""
    if value is None or value == "":
        return value
    s = str(value)
    if node_type == "email" and "@" in s:
        return "•••@" + s.rsplit("@", 1)[1][-12:]
    tail = s[-4:] if len(s) >= 10 else s[-2:] if len(s) >= 6 else ""
    return "••••" + tail
