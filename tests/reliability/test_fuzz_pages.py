"""Page-route fuzzing: every route of the app's URL map, hostile path parameters, every method it takes,
signed out, as an analyst (masking on) and as an admin: no answer is a server error.

In the spirit of schemathesis for the API (``test_fuzz_api.py``): the routes come from the app itself, so a
route added later is fuzzed without a change here. Path parameters are a fixed list of hostile values (huge
and negative numbers, encodings, traversal, markup, format characters, masked-looking tokens, very long
ids) plus values hypothesis generates (``FUZZ_MAX_EXAMPLES`` per route, default 30); query strings get
hostile values for the parameters the pages read.

Reproduce: ``.venv/bin/python -m pytest tests/reliability/test_fuzz_pages.py -q``
"""
from __future__ import annotations

import os
import re
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphfraud.accounts import hash_password
from graphfraud.storage import open_store
from loaders import load_file
from webui import create_app
from webui.auth import create_api_key

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "30"))
PASSWORD = "correct-horse-9"
HOSTILE = ["99999999999999999999999", "9223372036854775808", "-1", "0", "1e999", "-9999999999999999999999",
           "NaN", "..", "../../etc/passwd", "%2e%2e%2f", "%00", "\u202euser", "~", "~AAAA", "~" + "A" * 40,
           "card:x", "<script>alert(1)</script>", "' OR 1=1 --", "x" * 5000, "\ud800", "\x00", "\t", " ", "é",
           "a/b/c", "%", "%zz", "?", "#", "\\"]
QUERY = {"since": ["9999-99-99", "0000-01-01", "x"], "until": ["99999-01-01"], "hops": ["99999999999999999999"],
         "limit": ["-99999999999999999999"], "min_score": ["1e999", "nan"], "min_size": ["99999999999999999999999"],
         "status": ["<x>"], "sort": ["\u202e"], "q": ["x" * 5000, "\x00"], "via": ["~AAAA"], "next": ["//evil"],
         "page": ["99999999999999999999", "-1", "x"], "known": ["<x>"]}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzzpages")
    path = str(folder / "p.db")
    csv = folder / "seed.csv"
    # every third row a transfer to another user (or to an account that never pays), so money edges are fuzzed
    csv.write_text("transaction_id,timestamp,user_id,amount,card_id,device_id,ip,counterparty_id\n" + "".join(
        f"S{i},2026-01-0{1 + i % 9}T10:00:00Z,U{i % 6},{5 + i},C{i % 3},D{i % 4},10.0.0.{i % 5},"
        f"{('U' + str((i + 1) % 6)) if i % 3 == 0 else ('X9' if i % 3 == 1 else '')}\n" for i in range(30)))
    st = open_store(path)
    load_file(str(csv), st, progress=False, rejects_path=str(folder / "r.csv"))
    st.create_app_user("ada", "admin", hash_password(PASSWORD))
    st.create_app_user("ann", "analyst", hash_password(PASSWORD))
    st.set_meta("mask_identifiers", "1")
    st.close()
    app = create_app({"STORE": path, "SCORER_EAGER": True, "TESTING": True, "RATE_LIMIT": 0,
                      "UI_LOGIN_ATTEMPTS": 10**6})
    app.extensions["fuzz_key"] = create_api_key(app.extensions["graphfraud"].store, "fuzz", "admin")
    yield app
    app.extensions["graphfraud"].store.close()


def _client(app, who):
    c = app.test_client()
    if who != "anonymous":
        tok = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)
        r = c.post("/login", data={"username": who, "password": PASSWORD, "csrf_token": tok})
        assert r.status_code == 302
    return c


@pytest.fixture(scope="module")
def clients(app):
    return {who: _client(app, who) for who in ("anonymous", "ann", "ada")}


def _csrf(client):
    with client.session_transaction() as s:
        return s.get("csrf", "")


def _routes(app):
    """(rule, method) for every route of the app but static files."""
    return [(rule.rule, method) for rule in app.url_map.iter_rules() if rule.endpoint != "static"
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})]


def _url(rule: str, value: str) -> str:
    """The rule with every path parameter set to ``value`` (percent-encoded as a browser would)."""
    return re.sub(r"<(?:[^:<>]+:)?[^<>]+>", lambda m: quote(value, safe="" if "path:" not in m.group(0) else "/",
                                                            errors="surrogatepass"),
                  rule)


def _send(app, clients, rule: str, method: str, value: str) -> list[tuple[str, int]]:
    url = _url(rule, value)
    key = app.extensions["fuzz_key"]
    statuses = []
    for who, c in clients.items():
        headers = {"Authorization": f"Bearer {key}"} if rule.startswith("/api/") else {}
        if method == "GET":
            r = c.get(url, headers=headers)
        else:
            data = {"csrf_token": _csrf(c), "kind": "entity", "ref": value[:600], "status": "open",
                    "assignee": value[:200], "note": value[:200], "username": value[:200], "password": value[:200],
                    "mask_identifiers": "0"}
            if rule.startswith("/api/"):
                r = c.open(url, method=method, json={"transaction_id": value[:300], "is_fraud": 1}, headers=headers)
            else:  # as a browser sends it: lone surrogates become the (invalid UTF-8) bytes they stand for
                r = c.open(url, method=method, data=urlencode(data, errors="surrogatepass"), headers=headers,
                           content_type="application/x-www-form-urlencoded")
        statuses.append((who, r.status_code))
        assert r.status_code < 500, (method, url[:200], who, r.status_code, r.get_data(as_text=True)[:300])
    return statuses


def pytest_generate_tests(metafunc):
    """Every route of a real app, read at collection: a route added later is fuzzed without a change here."""
    if "route" in metafunc.fixturenames:
        import shutil
        import tempfile

        folder = tempfile.mkdtemp(prefix="graphfraud-routes-")
        app = create_app({"STORE": os.path.join(folder, "r.db"), "SCORER_FACTORY": lambda s: None,
                          "SCORER_EAGER": True, "TESTING": True})
        routes = _routes(app)
        app.extensions["graphfraud"].store.close()
        shutil.rmtree(folder, ignore_errors=True)
        metafunc.parametrize("route", routes, ids=[f"{m} {r}" for r, m in routes])


def test_every_route_survives_hostile_path_values(app, clients, route):
    rule, method = route
    values = HOSTILE if "<" in rule else [""]
    for value in values:
        _send(app, clients, rule, method, value)


@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(value=st.text(min_size=1, max_size=300))
def test_generated_path_values(app, clients, route, value):
    rule, method = route
    if "<" not in rule:
        return
    _send(app, clients, rule, method, value)


@pytest.mark.parametrize("path", ["/", "/rings", "/search", "/cases", "/login", "/ui/graph/entity/user/U1",
                                  "/ui/graph/ring/R-x", "/entities/user/U1", "/suspects", "/entities/user/X9"])
def test_hostile_query_strings(clients, path):
    for name, values in QUERY.items():
        for v in values:
            for who, c in clients.items():
                r = c.get(f"{path}?{name}={quote(v, safe='', errors='surrogatepass')}")
                assert r.status_code < 500, (path, name, v[:40], who, r.status_code)
