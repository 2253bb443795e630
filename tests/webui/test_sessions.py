"""Server-side sessions, secrets out of the store, and sign-in throttling shared by every worker.

Two apps over one store stand for two workers (or two hosts sharing a store and GRAPHFRAUD_SECRET_KEY).
Time is moved by patching the clock the session code reads, never by sleeping.
"""
from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.sessions import SecureCookieSessionInterface

from graphfraud.accounts import hash_password
from graphfraud.cli import main
from graphfraud.graph.persist import save_engine, snapshot_path
from graphfraud.keys import derive
from graphfraud.scoring import build_engine
from graphfraud.storage import open_store
from webui import create_app, uiauth

ADMIN, ANALYST, PASSWORD = "ada", "ann", "correct-horse-9"
HOUR = 3_600_000


@pytest.fixture
def store_path(tmp_path, monkeypatch):
    monkeypatch.delenv("GRAPHFRAUD_SECRET_KEY", raising=False)
    path = str(tmp_path / "ui.db")
    st = open_store(path)
    st.create_app_user(ADMIN, "admin", hash_password(PASSWORD))
    st.create_app_user(ANALYST, "analyst", hash_password(PASSWORD))
    st.close()
    return path


def make_app(path, **cfg):
    app = create_app({"STORE": path, "SCORER_FACTORY": lambda s: None, "SCORER_EAGER": True, "TESTING": True,
                      **cfg})
    return app


@pytest.fixture
def apps(store_path):
    """Two workers over the same store."""
    a, b = make_app(store_path), make_app(store_path)
    yield a, b
    for app in (a, b):
        app.extensions["graphfraud"].store.close()


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token in the form"
    return m.group(1)


def sign_in(client, name=ADMIN, password=PASSWORD, address="10.1.1.1"):
    client.environ_base["REMOTE_ADDR"] = address
    tok = csrf_of(client.get("/login").text)
    return client.post("/login", data={"username": name, "password": password, "csrf_token": tok})


def cookie_of(client) -> str:
    return client.get_cookie("session").value


def with_cookie(app, value):
    c = app.test_client()
    c.set_cookie("session", value)
    return c


def signed_in(client) -> bool:
    return client.get("/").status_code == 200


def masking(path) -> str | None:
    st = open_store(path)
    try:
        return st.get_meta("mask_identifiers")
    finally:
        st.close()


@pytest.fixture
def clock(monkeypatch):
    """The session code's clock, moved by hand."""
    now = {"ms": uiauth._now_ms()}
    monkeypatch.setattr(uiauth, "_now_ms", lambda: now["ms"])
    return now


# ---------------------------------------------------------------- sign-out and revocation
def test_a_kept_cookie_is_dead_after_sign_out(apps, store_path):
    a, _ = apps
    browser = a.test_client()
    assert sign_in(browser).status_code == 302
    kept = cookie_of(browser)
    tok = csrf_of(browser.get("/").text)
    assert browser.post("/logout", data={"csrf_token": tok}).status_code == 302
    thief = with_cookie(a, kept)
    assert not signed_in(thief)
    r = thief.post("/settings/masking", data={"mask_identifiers": "1", "csrf_token": tok})
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert masking(store_path) is None  # the admin setting was not changed


def test_sign_out_on_one_worker_is_honoured_by_the_other(apps):
    a, b = apps
    browser = a.test_client()
    sign_in(browser)
    kept = cookie_of(browser)
    assert signed_in(with_cookie(b, kept))  # the session is the store's, not a worker's
    browser.post("/logout", data={"csrf_token": csrf_of(browser.get("/").text)})
    assert not signed_in(with_cookie(b, kept))


def test_two_hosts_with_one_configured_secret_share_sessions(store_path, monkeypatch):
    monkeypatch.setenv("GRAPHFRAUD_SECRET_KEY", "s" * 40)
    a, b = make_app(store_path), make_app(store_path)
    browser = a.test_client()
    sign_in(browser)
    kept = cookie_of(browser)
    assert signed_in(with_cookie(b, kept))
    browser.post("/logout", data={"csrf_token": csrf_of(browser.get("/").text)})
    assert not signed_in(with_cookie(b, kept))
    for app in (a, b):
        app.extensions["graphfraud"].store.close()


@pytest.mark.parametrize("command", [["user", "passwd", ADMIN, "--password-stdin"], ["user", "disable", ADMIN]],
                         ids=["password-change", "disable"])
def test_password_change_and_disabling_end_every_session(apps, store_path, command):
    a, b = apps
    one, two = a.test_client(), b.test_client()
    sign_in(one)
    sign_in(two, address="10.9.9.9")
    r = CliRunner().invoke(main, [*command, "--store", store_path], input="another-secret-9\n")
    assert r.exit_code == 0 and "2 session(s) ended" in r.output, r.output
    assert not signed_in(one) and not signed_in(two)
    if command[1] == "disable":
        assert sign_in(a.test_client()).status_code == 401  # the right password no longer opens it
        assert CliRunner().invoke(main, ["user", "enable", ADMIN, "--store", store_path]).exit_code == 0
        assert sign_in(a.test_client()).status_code == 302
        assert "(disabled)" not in CliRunner().invoke(main, ["user", "list", "--store", store_path]).output
    else:
        assert sign_in(a.test_client()).status_code == 401
        assert sign_in(a.test_client(), password="another-secret-9").status_code == 302


def test_idle_and_absolute_timeouts(apps, clock):
    a, _ = apps
    idle = a.test_client()
    sign_in(idle)
    clock["ms"] += 59 * 60_000
    assert signed_in(idle)  # 59 minutes idle: still in (session_idle is 1h)
    clock["ms"] += 61 * 60_000
    assert not signed_in(idle)  # 61 minutes since the last request
    busy = a.test_client()
    sign_in(busy)
    for _ in range(23):  # a request every half hour for 11.5 hours
        clock["ms"] += HOUR // 2
        assert signed_in(busy)
    clock["ms"] += HOUR  # 12.5 hours after sign-in (session_max_age is 12h)
    assert not signed_in(busy)


def test_a_forged_cookie_signs_nobody_in(apps):
    a, _ = apps
    # even knowing the secret, a cookie naming an account (the old format) or an unknown session is refused
    signer = SecureCookieSessionInterface().get_signing_serializer(a)
    for payload in ({"user": ADMIN, "at": 2_000_000_000, "csrf": "x"}, {"sid": "made-up", "csrf": "x"}):
        assert not signed_in(with_cookie(a, signer.dumps(payload)))


# ---------------------------------------------------------------- secrets out of the store
def test_no_secret_sits_in_the_store(apps, store_path):
    a, _ = apps
    st = a.extensions["graphfraud"].store
    sign_in(a.test_client())
    save_engine(st, build_engine(st))
    con = sqlite3.connect(store_path)
    meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    con.close()
    assert not {"secret_key", "engine_snapshot_key"} & set(meta)
    secret = a.secret_key
    files = b"".join(p.read_bytes() for p in (Path(store_path), Path(store_path + "-wal")) if p.exists())
    for value in (secret.encode(), derive(secret, "engine-snapshot").hex().encode(), derive(secret, "engine-snapshot")):
        assert value not in files
    assert Path(store_path + ".key").read_text().strip() == secret


def test_secrets_an_older_version_kept_in_the_store_are_removed_and_useless(store_path):
    import hashlib
    import hmac
    import json
    import pickle

    st = open_store(store_path)
    st.set_meta("secret_key", "old-secret-from-the-store")
    st.set_meta("engine_snapshot_key", "ab" * 32)
    st.close()
    app = make_app(store_path)
    st = app.extensions["graphfraud"].store
    assert st.get_meta("secret_key") is None and st.get_meta("engine_snapshot_key") is None
    # a cookie signed with the old stored secret is refused
    app_old = make_app(store_path, SECRET_KEY="old-secret-from-the-store" + "x" * 10)
    forged = SecureCookieSessionInterface().get_signing_serializer(app_old).dumps({"user": ADMIN, "at": 2e9})
    assert not signed_in(with_cookie(app, forged))
    # a snapshot signed with the old stored key is not loaded
    engine = build_engine(st)
    head = json.dumps({"seq": 0, "fingerprint": "x"}).encode() + b"\n"
    body = pickle.dumps(engine)
    mac = hmac.new(bytes.fromhex("ab" * 32), head + body, hashlib.sha256).hexdigest().encode() + b"\n"
    with open(snapshot_path(st), "wb") as fh:
        fh.write(b"GFENGINE1\n" + mac + head + body)
    from graphfraud.graph.persist import load_engine
    from graphfraud.scoring import new_engine

    assert load_engine(st, new_engine()) is None
    for x in (app, app_old):
        x.extensions["graphfraud"].store.close()


def test_a_short_configured_secret_is_refused(store_path, monkeypatch):
    from graphfraud.errors import ConfigError

    monkeypatch.setenv("GRAPHFRAUD_SECRET_KEY", "short")
    with pytest.raises(ConfigError, match="at least 32"):
        make_app(store_path)


# ---------------------------------------------------------------- throttling
def test_guessing_from_elsewhere_does_not_lock_the_real_user_out(apps):
    a, b = apps
    attacker = a.test_client()
    codes = [sign_in(attacker, ADMIN, "wrong-password", address="203.0.113.7").status_code for _ in range(8)]
    assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}
    assert sign_in(attacker, ADMIN, PASSWORD, address="203.0.113.7").status_code == 429  # that pair waits
    assert sign_in(b.test_client(), ADMIN, PASSWORD, address="198.51.100.1").status_code == 302


def test_failures_are_counted_across_workers(apps):
    a, b = apps
    for i in range(5):
        app = (a, b)[i % 2]  # alternate workers: a per-process counter would allow 10
        assert sign_in(app.test_client(), ANALYST, "wrong", address="203.0.113.9").status_code == 401
    assert sign_in(a.test_client(), ANALYST, PASSWORD, address="203.0.113.9").status_code == 429
    assert sign_in(b.test_client(), ANALYST, PASSWORD, address="203.0.113.9").status_code == 429


def test_one_address_guessing_many_accounts_is_blocked(apps):
    a, _ = apps
    codes = [sign_in(a.test_client(), f"nobody{i}", "wrong", address="203.0.113.5").status_code for i in range(21)]
    assert codes[:20] == [401] * 20 and codes[20] == 429


def test_a_spread_out_attack_spares_the_addresses_the_user_signs_in_from(apps):
    a, _ = apps
    assert sign_in(a.test_client(), ANALYST, PASSWORD, address="198.51.100.20").status_code == 302  # known address
    for i in range(100):  # 100 addresses, one failure each: no pair and no address reaches its limit
        assert sign_in(a.test_client(), ANALYST, "wrong", address=f"192.0.2.{i}").status_code == 401
    assert sign_in(a.test_client(), ANALYST, PASSWORD, address="198.51.100.20").status_code == 302
    assert sign_in(a.test_client(), ANALYST, PASSWORD, address="198.51.100.99").status_code == 429  # a new one waits


@pytest.mark.neo4j
def test_sessions_and_throttling_on_neo4j(neo4j_url, tmp_path, monkeypatch):
    """The same revocation and shared throttling with the store on a real Neo4j server."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    st = open_store(neo4j_url)
    st.create_app_user(ADMIN, "admin", hash_password(PASSWORD))
    a, b = make_app(neo4j_url), make_app(neo4j_url)
    browser = a.test_client()
    assert sign_in(browser).status_code == 302
    kept = cookie_of(browser)
    assert signed_in(with_cookie(b, kept))
    browser.post("/logout", data={"csrf_token": csrf_of(browser.get("/").text)})
    assert not signed_in(with_cookie(b, kept))
    for i in range(5):
        assert sign_in((a, b)[i % 2].test_client(), ADMIN, "wrong", address="203.0.113.9").status_code == 401
    assert sign_in(b.test_client(), ADMIN, PASSWORD, address="203.0.113.9").status_code == 429
    assert sign_in(a.test_client(), ADMIN, PASSWORD, address="198.51.100.1").status_code == 302
    assert st.get_meta("secret_key") is None


@pytest.mark.parametrize(("hops", "shared"), [(0, True), (1, False)], ids=["headers-ignored", "one-proxy"])
def test_behind_a_proxy_the_forwarded_address_is_throttled(store_path, hops, shared):
    """Every request comes from the proxy's address; with proxy_hops=1, X-Forwarded-For names the client."""
    app = make_app(store_path, PROXY_HOPS=hops)
    try:
        for i in range(20):  # one client guessing made-up names
            c = app.test_client()
            c.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.66"
            assert sign_in(c, f"nobody{i}", "wrong", address="127.0.0.1").status_code == 401
        other = app.test_client()
        other.environ_base["HTTP_X_FORWARDED_FOR"] = "198.51.100.3"
        assert sign_in(other, ANALYST, PASSWORD, address="127.0.0.1").status_code == (429 if shared else 302)
        rows = app.extensions["graphfraud"].store.audit_log(50)
        assert {r["detail"]["address"] for r in rows if r["action"] == "login.fail"} == \
            {"127.0.0.1" if shared else "203.0.113.66"}
    finally:
        app.extensions["graphfraud"].store.close()
