"""Masking for analysts at one place on the way out: a crawl of every page and JSON endpoint an analyst can
reach finds no identifier of a masked type in clear (fields, reasons, case titles, links, audit trail,
attributes, a future identifier type), while an admin sees them; masked identifiers still open; format
characters (U+202E) in ids are shown as visible markers."""
from __future__ import annotations

import json
import re
import sqlite3
from collections import deque
from html import unescape
from urllib.parse import quote

import pandas as pd
import pytest
from markupsafe import escape

from graphfraud.accounts import hash_password
from graphfraud.rings import detect_rings, sync_rings
from graphfraud.schema import validate_frame
from graphfraud.storage import open_store
from graphfraud.testing import make_transactions
from webui import create_app
from webui.masking import Masker, visible

ADMIN, ANALYST, PASSWORD = "ada", "ann", "correct-horse-9"
EXTRA = ("email", "iban")  # iban: a type the code has never heard of, masked by configuration alone
MASK_TYPES = "card,email,phone,address,bank_account,iban"
PAN_TEXT = "called about 4111 1111 1111 1111 twice"
SPOOF = "U\u202egpj.exe"
CARD_ELSEWHERE, EMAIL_ELSEWHERE = "CFAR239750826741", "victim.person@example.org"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("mask") / "m.db")
    df, _ = make_transactions(n_users=120, seed=4)
    df = df.astype(str)
    last = df.iloc[-1].to_dict()
    form = [dict(last, transaction_id=f"F{i}", user_id=f"UFORM{i}", card_id="CFORM1", device_id=f"DFORM{i}",
                 ip=f"192.0.2.{70 + i}",
                 email=f"ring{i}@example.org", iban="DE89370400440532013000", billing_email="pay@example.org",
                 note=PAN_TEXT, pan="5500005555555559", is_fraud="1") for i in range(3)]
    form.append(dict(last, transaction_id="F-FAR", user_id="UFAR", card_id=CARD_ELSEWHERE, device_id="DFAR",
                     ip="192.0.2.90", email=EMAIL_ELSEWHERE, is_fraud="0"))
    form.append(dict(last, transaction_id="F-SPOOF", user_id=SPOOF, card_id="CFORM1", device_id="DSPOOF",
                     ip="192.0.2.80", is_fraud="0"))
    df = pd.concat([df, pd.DataFrame(form)], ignore_index=True).fillna("")
    good, rejects = validate_frame(df.replace({"": None, "nan": None}), extra_types=EXTRA)
    assert not rejects
    # a store written before card numbers in attributes were protected: the note holds a card number in clear
    good["attrs"] = [dict(a, note=PAN_TEXT) if a and "note" in a else a for a in good["attrs"]]
    st = open_store(path)
    st.write_transactions(good)
    sync_rings(st, detect_rings(st, min_size=3))
    for i in range(3):
        st.add_decision(f"F{i}", {"transaction_id": f"F{i}", "score": 0.97, "decision": "block", "reasons": [
            {"code": "shared_card", "message": "card CFORM1 is used by 3 users, 2 of them confirmed fraud"},
            {"code": "email", "message": f"email ring{i}@example.org was seen on 3 accounts"}]})
    st.create_app_user(ADMIN, "admin", hash_password(PASSWORD))
    st.create_app_user(ANALYST, "analyst", hash_password(PASSWORD))
    secrets = {r[0] for r in sqlite3.connect(path).execute(
        f"SELECT DISTINCT entity_id FROM link WHERE type IN ({','.join('?' * 6)})", MASK_TYPES.split(","))}
    secrets |= {"pay@example.org", PAN_TEXT, "4111 1111 1111 1111", "4111111111111111"}
    hashed_pan = st.get_transaction("F0")["attributes"]["pan"]  # a keyed hash, not the transaction's card
    assert hashed_pan.startswith("h:")
    secrets.add(hashed_pan)
    st.close()
    assert {"CFORM1", "ring0@example.org", "DE89370400440532013000"} <= secrets
    return {"path": path, "secrets": secrets}


@pytest.fixture(scope="module")
def app(world):
    app = create_app({"STORE": world["path"], "SCORER_FACTORY": lambda s: None, "SCORER_EAGER": True,
                      "TESTING": True, "EXTRA_TYPES": EXTRA, "MASK_TYPES": MASK_TYPES, "MASK_IDENTIFIERS": True})
    admin = app.test_client()
    sign_in(admin, ADMIN)
    tok = csrf_of(admin.get("/").text)
    # a case on the card, opened by an admin: its title, link and audit trail name the card
    r = admin.post("/cases", data={"kind": "entity", "ref": "card:CFORM1", "csrf_token": tok})
    assert r.status_code == 302
    admin.post(r.headers["Location"], data={"note": "looked at card CFORM1", "assignee": ANALYST, "csrf_token": tok})
    # a case whose title names a card and an email that nothing else on its page shows
    r = admin.post("/cases", data={"kind": "transaction", "ref": "F-SPOOF", "csrf_token": tok,
                                   "title": f"Ring; also see card {CARD_ELSEWHERE} and {EMAIL_ELSEWHERE}"})
    assert r.status_code == 302
    yield app
    app.extensions["graphfraud"].store.close()


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sign_in(client, name):
    tok = csrf_of(client.get("/login").text)
    assert client.post("/login", data={"username": name, "password": PASSWORD, "csrf_token": tok}).status_code == 302


def forms(value: str) -> set[str]:
    """How a value can appear in a page or JSON body: raw, HTML-escaped, URL-encoded, JSON-escaped."""
    return {value, str(escape(value)), quote(value, safe=""), quote(value), json.dumps(value)[1:-1]}


def crawl(client, limit: int = 400) -> dict[str, str]:
    """Every page and JSON body reachable from the pages, as a signed-in user follows them."""
    start = ["/", "/rings?status=all", "/cases", "/search?q=UFORM0", "/entities/user/UFORM0", "/transactions/F0"]
    todo, seen, bodies = deque(start), set(start), {}
    while todo and len(bodies) < limit:
        url = todo.popleft()
        r = client.get(url)
        assert r.status_code < 500, url
        if r.status_code != 200:
            continue
        body = r.get_data(as_text=True)
        bodies[url] = body
        found: list[str] = []
        if r.mimetype == "text/html":
            found += [unescape(u) for u in re.findall(r'(?:href|data-src)="(/[^"#]*)"', body)]
        else:
            data = r.get_json()
            for n in data.get("nodes", []) if isinstance(data, dict) else []:
                if n.get("type") not in ("more", None):
                    key = quote(str(n["key"]), safe="")
                    found += [f"/ui/node/{n['type']}/{key}", f"/ui/graph/entity/{n['type']}/{key}",
                              f"/entities/{n['type']}/{key}"]
            found += [t.get("url") for t in data.get("transactions", []) if isinstance(t, dict)]
            found.append(data.get("url"))
        for u in found:
            if u and u.startswith("/") and not u.startswith(("/static", "/logout")) and u not in seen:
                seen.add(u)
                todo.append(u)
    return bodies


def test_an_analyst_sees_no_masked_identifier_anywhere(app, world):
    analyst = app.test_client()
    sign_in(analyst, ANALYST)
    bodies = crawl(analyst)
    kinds = {re.sub(r"/[^/]*$", "", u.split("?")[0]) for u in bodies}
    assert {"/rings", "/entities/card", "/entities/email", "/entities/iban", "/cases", "/transactions",
            "/ui/node/card", "/ui/graph/entity/card", "/ui/graph/ring"} <= kinds, sorted(kinds)
    leaks = {(url, v) for url, body in bodies.items() for v in world["secrets"] for f in forms(v) if f in body}
    assert not leaks, sorted(leaks)[:10]
    ring = next(u for u in bodies if u.startswith("/rings/") and "card ••••M1 is shared by" in bodies[u])
    assert "card ••••M1" in bodies[ring]  # the ring's reason and its shared identifiers, masked alike
    tx = bodies["/transactions/F0"]
    assert "card ••••M1 is used by 3 users" in tx and "email •••@example.org was seen" in tx
    cases = [u for u in bodies if re.fullmatch(r"/cases/\d+", u)]
    assert len(cases) == 2
    assert any("card:••••M1" in bodies[u] and "/entities/card/~" in bodies[u] for u in cases)  # title, link masked


def test_an_admin_sees_them(app, world):
    admin = app.test_client()
    sign_in(admin, ADMIN)
    bodies = crawl(admin, limit=60)
    text = "\n".join(bodies.values())
    assert "CFORM1" in text and "ring0@example.org" in text and "DE89370400440532013000" in text
    assert "card CFORM1 is used by 3 users" in text and PAN_TEXT in text


def test_a_masked_identifier_still_opens_by_its_token_and_nothing_else(app):
    analyst = app.test_client()
    sign_in(analyst, ANALYST)
    nodes = analyst.get("/ui/graph/entity/user/UFORM0").get_json()["nodes"]
    card = next(n for n in nodes if n["type"] == "card")
    assert card["key"].startswith("~") and card["label"] == "••••M1"
    d = analyst.get(f"/ui/node/card/{quote(card['key'], safe='')}").get_json()
    assert d["ok"] and d["masked"] and d["n_users"] == 4
    assert analyst.get(f"/entities/card/{quote(card['key'], safe='')}").status_code == 200
    forged = card["key"][:-2] + ("AA" if not card["key"].endswith("AA") else "BB")
    assert analyst.get(f"/ui/node/card/{quote(forged, safe='')}").status_code == 404
    # a token is bound to its type: as a device id it names nothing
    assert analyst.get(f"/ui/node/device/{quote(card['key'], safe='')}").get_json()["n_users"] == 0


def test_tokens_round_trip_and_are_opaque():
    m = Masker(["card"], "s" * 40, active=True)
    for value in ("CFORM1", "4111111111111111", "é ü\u202e", "x" * 256):
        tok = m.token("card", value)
        assert value not in tok and m.untoken("card", tok) == value and m.untoken("email", tok) is None
    assert Masker(["card"], "t" * 40, active=True).untoken("card", m.token("card", "CFORM1")) is None


def test_format_characters_are_shown_not_obeyed(app):
    admin = app.test_client()
    sign_in(admin, ADMIN)
    page = admin.get("/transactions/F-SPOOF").get_data(as_text=True)
    assert "\u202e" not in page and "U⟨U+202E⟩gpj.exe" in page
    assert f"/entities/user/{quote(SPOOF, safe='')}" in page  # the link still leads to the real user
    j = admin.get(f"/ui/graph/entity/user/{quote(SPOOF, safe='')}").get_data(as_text=True)
    assert "U⟨U+202E⟩gpj.exe" in j
    assert visible("a\u200bb\u2066c") == "a⟨U+200B⟩b⟨U+2066⟩c"


def test_a_case_title_is_masked_on_the_case_page_as_in_the_list(app):
    analyst = app.test_client()
    sign_in(analyst, ANALYST)
    listed = analyst.get("/cases").text
    url = re.search(r'href="(/cases/\d+)">\d+</a></td><td>Ring; also see', listed).group(1)
    h1 = re.search(r"<h1>(.*?)</h1>", analyst.get(url).text).group(1)
    for page in (listed, h1):
        assert CARD_ELSEWHERE not in page and EMAIL_ELSEWHERE not in page
    assert "card ••••6741 and •••@example.org" in h1


def test_a_hashed_value_in_an_attribute_is_masked_like_a_card_id(app):
    analyst = app.test_client()
    sign_in(analyst, ANALYST)
    page = analyst.get("/transactions/F0").text
    assert re.search(r"h:[0-9a-f]{32}", page) is None and "••••" in page
