"""Sign-in for the investigator pages: accounts, server-side sessions, roles, CSRF tokens and sign-in
throttling.

* Accounts are made by ``graphfraud user create`` and hashed with scrypt (:mod:`graphfraud.accounts`).
* Sessions live in the store. Signing in makes a random 256-bit session id; the store keeps its SHA-256
  with the account, the time of sign-in and of the latest request (``store.create_session``), and the
  browser's cookie (Flask's signed cookie: HttpOnly, SameSite=Lax) holds only the id and a CSRF token.
  Every request looks the session up in the store, so a session ended there is ended at once for every
  worker and host sharing the store: signing out deletes it; changing an account's password or disabling
  it (``graphfraud user passwd``, ``graphfraud user disable``) deletes all of the account's sessions; a
  session ends ``session_idle`` after its latest request and ``session_max_age`` after sign-in. The
  account is re-read on every request, so a changed role takes effect at once. A cookie signed with the
  secret but naming no stored session signs nobody in.
* Every POST carries the session's CSRF token (a hidden ``csrf_token`` field, or the ``X-CSRF-Token``
  header for scripts) compared in constant time; a missing or wrong token is refused with 400.
* Failed sign-ins are throttled through the store (:func:`login_blocked`), so every worker and host
  counts the same failures, per account *and* address: ``UI_LOGIN_ATTEMPTS`` failures for one account from
  one address block that pair, four times as many from one address block the address, and twenty times as
  many for one account (a spread-out guessing attack) block that account only from addresses it has not
  signed in from during the past 30 days. Guessing from elsewhere never locks the real user out of the
  address they use.
* Roles: ``analyst`` investigates; ``admin`` also changes settings (identifier masking) and re-runs ring
  detection. Analysts see identifiers of the masked types masked when masking is on (:mod:`webui.masking`).
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

from flask import abort, current_app, g, redirect, request, session, url_for
from markupsafe import Markup

from graphfraud.accounts import verify_password

_DUMMY_HASH = "scrypt$16384$8$1$" + "00" * 16 + "$" + "00" * 32  # same work when the account is unknown
#: a session's latest request is written to the store at most this often (idle timeouts are this coarse)
TOUCH_SECONDS = 60
#: a successful sign-in makes its address known for the account this long (see the module's notes)
KNOWN_ADDRESS_SECONDS = 30 * 86400


def store() -> Any:
    return current_app.extensions["graphfraud"].store


def _now_ms() -> int:
    return int(time.time() * 1000)


def _sid_hash(sid: str) -> str:
    return hashlib.sha256(sid.encode("utf-8", "surrogatepass")).hexdigest()


def _limits() -> tuple[float, float]:
    """(absolute, idle) session lifetimes in milliseconds."""
    cfg = current_app.config
    return float(cfg["SESSION_MAX_AGE"]) * 1000, float(cfg["SESSION_IDLE"]) * 1000


# ---------------------------------------------------------------- users and sessions
def current_user() -> dict[str, Any] | None:
    """The signed-in account (``name``, ``role``) or ``None``; cached on ``g`` for the request."""
    if "ui_user" in g:
        return g.ui_user  # type: ignore[no-any-return]
    sid = session.get("sid")
    g.ui_user = _session_user(sid) if isinstance(sid, str) and sid else None
    return g.ui_user  # type: ignore[no-any-return]


def _session_user(sid: str) -> dict[str, Any] | None:
    st, h, now = store(), _sid_hash(sid), _now_ms()
    row = st.get_session(h)
    if row is None:
        return None
    max_age, idle = _limits()
    account = st.get_app_user(row["user"])
    if (now - int(row["created_at"]) >= max_age or now - int(row["last_seen"]) >= idle or account is None
            or account.get("disabled")):
        st.delete_session(h)
        return None
    if now - int(row["last_seen"]) >= TOUCH_SECONDS * 1000:
        st.touch_session(h, now)
    return {"name": account["name"], "role": account["role"]}


def authenticate(name: str, password: str) -> dict[str, Any] | None:
    """The account when ``password`` is right, else ``None`` (as slow for unknown names as for known)."""
    row = store().get_app_user(name) if name else None
    ok = verify_password(row["password_hash"] if row else _DUMMY_HASH, password)
    return {"name": row["name"], "role": row["role"]} if row and ok and not row.get("disabled") else None


def sign_in(user: dict[str, Any]) -> None:
    """Start a stored session for ``user`` (a fresh one: nothing from before survives, no fixation)."""
    st, now = store(), _now_ms()
    old = session.get("sid")
    if isinstance(old, str) and old:
        st.delete_session(_sid_hash(old))
    max_age, idle = _limits()
    st.prune_sessions(created_before=int(now - max_age), seen_before=int(now - idle))
    sid = secrets.token_urlsafe(32)
    st.create_session(_sid_hash(sid), user["name"], now)
    session.clear()
    session.permanent = True
    session["sid"] = sid
    session["csrf"] = secrets.token_urlsafe(32)
    g.ui_user = user


def sign_out() -> None:
    """End the session in the store (for every worker and host) and drop the cookie."""
    sid = session.get("sid")
    if isinstance(sid, str) and sid:
        store().delete_session(_sid_hash(sid))
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
def csrf_token() -> Markup:
    """The session's CSRF token (created for anonymous sessions too, so the sign-in form has one); URL-safe
    characters only, so templates print it as it is."""
    tok = session.get("csrf")
    if not isinstance(tok, str) or not re.fullmatch(r"[A-Za-z0-9_-]{20,100}", tok):
        tok = session["csrf"] = secrets.token_urlsafe(32)
    return Markup(tok)


def check_csrf() -> None:
    """Refuse a state-changing request whose token is missing or is not the session's."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    good = session.get("csrf") or ""
    if not good or not hmac.compare_digest(str(sent).encode(), str(good).encode()):
        abort(400, description="csrf")


# ---------------------------------------------------------------- sign-in throttling
def _throttle_keys(name: str, address: str) -> dict[str, str]:
    acct = name.strip().lower()
    return {"pair": f"pair:{acct}|{address}", "addr": f"addr:{address}", "acct": f"acct:{acct}",
            "known": f"known:{acct}|{address}"}


def _throttle_limits() -> tuple[int, int, int, float]:
    """(per account and address, per address, per account from unknown addresses, window in ms)."""
    n = int(current_app.config.get("UI_LOGIN_ATTEMPTS", 5))
    return n, 4 * n, 20 * n, float(current_app.config.get("UI_LOGIN_WINDOW", 300)) * 1000


def login_blocked(name: str, address: str) -> bool:
    """Whether a sign-in as ``name`` from ``address`` must wait (failures counted in the store)."""
    k = _throttle_keys(name, address)
    per_pair, per_address, per_account, window = _throttle_limits()
    now = _now_ms()
    n = store().count_throttle([k["pair"], k["addr"], k["acct"]], since=int(now - window))
    if n[k["pair"]] >= per_pair or n[k["addr"]] >= per_address:
        return True
    if n[k["acct"]] >= per_account:  # a spread-out attack on the account: only known addresses get through
        known = store().count_throttle([k["known"]], since=int(now - KNOWN_ADDRESS_SECONDS * 1000))
        return bool(known[k["known"]] == 0)
    return False


def login_failed(name: str, address: str) -> None:
    k = _throttle_keys(name, address)
    now = _now_ms()
    store().add_throttle([k["pair"], k["addr"], k["acct"]], now, forget_before=int(now - KNOWN_ADDRESS_SECONDS * 1000))


def login_succeeded(name: str, address: str) -> None:
    """Forget the pair's failures and remember the address as one the account signs in from."""
    k = _throttle_keys(name, address)
    st, now = store(), _now_ms()
    st.clear_throttle([k["pair"], k["known"]])
    st.add_throttle([k["known"]], now, forget_before=int(now - KNOWN_ADDRESS_SECONDS * 1000))
