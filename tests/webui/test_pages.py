"""The investigator pages through Flask's test client: every page, sign-in, CSRF, CSP, escaping, roles,
masking, hubs, cases writing labels."""
from __future__ import annotations

import re
from html import escape as html_escape
from html import unescape
from html.parser import HTMLParser
from urllib.parse import quote

import pandas as pd
import pytest
from click.testing import CliRunner

from graphfraud.accounts import hash_password, verify_password
from graphfraud.cli import main
from graphfraud.rings import detect_rings, sync_rings
from graphfraud.schema import Label, protect_identifier, validate_frame, validate_record
from graphfraud.storage import open_store
from graphfraud.testing import make_transactions
from webui import create_app

HOSTILE = "<img src=x onerror=alert(1)>"
DOTTED = "slash/../x"  # linked as /entities/user/slash/../x, a browser would open /entities/user/x
ADMIN, ANALYST, PASSWORD = "ada", "ann", "correct-horse-9"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A store with a planted-ring world, its rings detected, two accounts, and hostile ids."""
    path = str(tmp_path_factory.mktemp("ui") / "ui.db")
    df, truth = make_transactions(n_users=150, seed=4)
    last = df.iloc[-1]
    extra = [dict(last, transaction_id="XSS1", user_id=HOSTILE, is_fraud=1),
             dict(last, transaction_id="XSS2", user_id=HOSTILE, card_id=HOSTILE, is_fraud=1),
             dict(last, transaction_id="DOT1", user_id=DOTTED, is_fraud=0)]
    df = pd.concat([df, pd.DataFrame(extra)], ignore_index=True)
    good, rejects = validate_frame(df.astype(str).replace({"": None, "nan": None, "None": None, "<NA>": None}))
    assert not rejects
    st = open_store(path)
    st.write_transactions(good)
    rings = sync_rings(st, detect_rings(st))
    st.create_app_user(ADMIN, "admin", hash_password(PASSWORD))
    st.create_app_user(ANALYST, "analyst", hash_password(PASSWORD))
    st.close()
    return {"path": path, "df": df, "truth": truth, "rings": rings}


@pytest.fixture
def app(world):
    app = create_app({"STORE": world["path"], "SCORER_FACTORY": lambda s: None, "SCORER_EAGER": True,
                      "TESTING": True})
    yield app
    app.extensions["graphfraud"].store.close()


@pytest.fixture
def store(app):
    return app.extensions["graphfraud"].store


@pytest.fixture(autouse=True)
def no_failed_sign_ins(world):
    """Failed sign-ins are kept in the store (shared by every worker): each test starts without any."""
    import sqlite3

    con = sqlite3.connect(world["path"])
    con.execute("DELETE FROM throttle")
    con.commit()
    con.close()


def plain_user(ring) -> str:
    return next(u for u in ring.users if u != HOSTILE)


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token in the form"
    return m.group(1)


def sign_in(client, name=ADMIN, password=PASSWORD):
    tok = csrf_of(client.get("/login").text)
    return client.post("/login", data={"username": name, "password": password, "csrf_token": tok})


@pytest.fixture
def admin(app):
    c = app.test_client()
    assert sign_in(c).status_code == 302
    return c


@pytest.fixture
def analyst(app):
    c = app.test_client()
    assert sign_in(c, ANALYST).status_code == 302
    return c


def page_token(client, path="/"):
    return csrf_of(client.get(path).text)


class Tags(HTMLParser):
    """Collects what a CSP without 'unsafe-inline' would block: inline scripts, styles, handlers; and img tags."""

    def __init__(self) -> None:
        super().__init__()
        self.bad: list[str] = []
        self.seen = 0

    def handle_starttag(self, tag, attrs):
        self.seen += 1
        names = {k for k, _ in attrs}
        if tag == "script" and "src" not in names:
            self.bad.append("inline script")
        if tag in ("style", "img"):
            self.bad.append(f"<{tag}> element")
        self.bad += [f"{tag} {k}=" for k in names if k == "style" or k.startswith("on")]


def assert_safe_html(resp):
    """No inline script, inline style or event handler; CSP without unsafe-inline; hostile text escaped."""
    html = resp.text
    csp = resp.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "script-src 'self'" in csp and "style-src 'self'" in csp
    tags = Tags()
    tags.feed(html)
    assert tags.seen and not tags.bad, tags.bad
    assert HOSTILE not in html
    assert not re.search(r"https?://(?!127\.0\.0\.1|localhost)", html.replace("http://www.w3.org", "")), \
        "a page refers to another site"


# ---------------------------------------------------------------- sign-in
def test_login_page_has_form_and_csp(app):
    r = app.test_client().get("/login")
    assert r.status_code == 200
    assert_safe_html(r)
    assert 'name="username"' in r.text and 'name="password"' in r.text and 'type="submit"' in r.text


@pytest.mark.parametrize("path", ["/", "/rings", "/cases", "/search?q=x", "/entities/user/U1"],
                         ids=["dashboard", "rings", "cases", "search", "entity"])
def test_pages_redirect_to_login(app, path):
    r = app.test_client().get(path)
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_ui_json_needs_a_session(app):
    r = app.test_client().get("/ui/graph/entity/user/U1")
    assert r.status_code == 401 and r.json["ok"] is False and r.json["code"] == "unauthorized"


def test_wrong_password_then_rate_limited(app):
    c = app.test_client()
    codes = [sign_in(c, ADMIN, "wrong-password").status_code for _ in range(6)]
    assert codes[:5] == [401] * 5 and codes[5] == 429
    assert sign_in(c).status_code == 429  # the right password waits for the window too


def test_one_address_guessing_many_names_is_limited(app):
    c = app.test_client()
    codes = [sign_in(c, f"nobody{i}", "wrong-password").status_code for i in range(21)]
    assert codes[:20] == [401] * 20 and codes[20] == 429


def test_login_without_csrf_is_refused(app):
    r = app.test_client().post("/login", data={"username": ADMIN, "password": PASSWORD})
    assert r.status_code == 400


def test_login_ignores_offsite_next(app):
    c = app.test_client()
    tok = csrf_of(c.get("/login").text)
    r = c.post("/login?next=//evil.example/x", data={"username": ADMIN, "password": PASSWORD, "csrf_token": tok})
    assert r.status_code == 302 and r.headers["Location"] == "/"


@pytest.mark.parametrize("target", ["/%0A", "/cases%0D%0ASet-Cookie:x=1", "/%09x", "/%7F"])
def test_login_with_a_control_character_in_next_goes_to_the_dashboard(app, target):
    c = app.test_client()
    tok = csrf_of(c.get("/login").text)
    r = c.post(f"/login?next={target}", data={"username": ADMIN, "password": PASSWORD, "csrf_token": tok})
    assert r.status_code == 302 and r.headers["Location"] == "/"
    assert c.get(f"/login?next={target}").headers["Location"] == "/"  # signed in already


def test_logout_needs_csrf_and_ends_the_session(admin):
    assert admin.post("/logout").status_code == 400
    tok = page_token(admin)
    assert admin.post("/logout", data={"csrf_token": tok}).status_code == 302
    assert admin.get("/").status_code == 302


# ---------------------------------------------------------------- every page
def test_every_page_renders_safely(admin, world, store):
    ring = world["rings"][0]
    user = plain_user(ring)
    tx = store.transactions_of("user_id", user, 1)[0]
    card = tx["card_id"]
    tok = page_token(admin)
    r = admin.post("/cases", data={"kind": "ring", "ref": ring.ring_id, "csrf_token": tok})
    assert r.status_code == 302
    case_url = r.headers["Location"]
    for path in ["/", "/rings", "/rings?sort=size&min_score=0.1&status=all", f"/rings/{ring.ring_id}",
                 f"/entities/user/{quote(user)}", f"/entities/card/{quote(card)}",
                 f"/transactions/{tx['transaction_id']}", "/search?q=nothing-has-this", "/cases", case_url]:
        resp = admin.get(path)
        assert resp.status_code == 200, path
        assert_safe_html(resp)
    assert "Ring " + ring.ring_id in admin.get(f"/rings/{ring.ring_id}").text


def test_rings_queue_links_each_ring(admin, world):
    html = admin.get("/rings").text
    links = re.findall(r'href="/rings/([^"?]+)"', html)
    assert links and set(links) <= {r.ring_id for r in world["rings"]}
    assert links[0] == world["rings"][0].ring_id  # best first


def test_search_redirects_to_the_one_match(admin, world):
    ring = world["rings"][0]
    r = admin.get(f"/search?q={plain_user(ring)}")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/entities/user/{plain_user(ring)}")
    assert admin.get("/search?q=XSS1").headers["Location"].endswith("/transactions/XSS1")


def test_links_to_an_id_with_slashes_and_dots_reach_that_id(admin, world):
    loc = admin.get(f"/search?q={DOTTED}").headers["Location"]
    assert loc.endswith("/entities/user/slash%2F..%2Fx")  # no dot segment for a browser to resolve
    page = admin.get(loc)
    assert page.status_code == 200 and "DOT1" in page.text and 'slash%2F..%2Fx' in page.text
    assert admin.get("/search?q=DOT1").headers["Location"].endswith("/transactions/DOT1")


def test_search_and_pages_find_an_identifier_written_as_people_write_it(admin, store):
    """A card number is stored only as a keyed hash; typed in clear (any grouping) it is still found."""
    pan = "4111 1111 1111 1111"
    store.add_transaction(validate_record({"transaction_id": "PAN1", "timestamp": "2026-03-01T12:00:00Z",
                                           "user_id": "PANUSER", "amount": 3, "card_id": pan}))
    stored = protect_identifier("card", "4111111111111111", None)
    assert stored.startswith("h:")
    r = admin.get("/search?q=4111-1111-1111-1111")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/entities/card/{stored}")
    page = admin.get("/entities/card/4111111111111111")
    assert page.status_code == 200 and "PANUSER" in page.text and "4111111111111111" not in page.text


def test_a_transactions_email_phone_and_address_and_a_rings_shared_identifiers_link_to_their_pages(admin, store,
                                                                                                  world):
    """A hostile probe: once files' email, phone and address columns linked users, the transaction page still
    printed them as plain fields, and a ring's shared identifiers were plain text: an investigator could not
    follow the address two members share."""
    store.add_transaction(validate_record({"transaction_id": "ADDR1", "timestamp": "2026-03-01T12:00:00Z",
                                           "user_id": "ADDRUSER", "amount": 3, "email": "Ann@X.org",
                                           "address": "12 High St/Flat 2"}, extra_types=("email", "address")))
    page = admin.get("/transactions/ADDR1").text
    for path in ("/entities/email/ann@x.org", "/entities/address/12%20High%20St%2FFlat%202"):
        assert f'href="{path}' in page, path
        assert admin.get(path).status_code == 200
    ring = world["rings"][0]
    html = admin.get(f"/rings/{ring.ring_id}").text
    shared = ring.shared_identifiers[0]
    assert re.search(rf'href="/entities/{shared["type"]}/[^"]+">{shared["type"]} ', html)


def test_unknown_things_are_404(admin):
    assert admin.get("/rings/R-nothing").status_code == 404
    assert admin.get("/transactions/nope").status_code == 404
    assert admin.get("/entities/device/nope").status_code == 404
    r = admin.get("/ui/graph/entity/device/nope")
    assert r.status_code == 404 and r.json["code"] == "entity_not_found"


# ---------------------------------------------------------------- escaping
def test_hostile_ids_are_escaped_in_pages(admin):
    q = quote(HOSTILE, safe="")
    for path in [f"/entities/user/{q}", "/transactions/XSS1", "/transactions/XSS2", f"/entities/card/{q}",
                 f"/search?q={q}"]:
        r = admin.get(path, follow_redirects=True)
        assert r.status_code == 200, path
        assert_safe_html(r)
        assert html_escape(HOSTILE, quote=False) in r.text or html_escape(HOSTILE) in r.text


def test_hostile_ids_are_escaped_in_json_titles(admin):
    r = admin.get(f"/ui/graph/entity/user/{quote(HOSTILE, safe='')}?hops=2")
    assert r.status_code == 200 and r.mimetype == "application/json"
    titles = [n["title"] for n in r.json["nodes"]]
    assert any("&lt;img" in t for t in titles)
    assert not any("<" in t for t in titles)
    d = admin.get(f"/ui/node/card/{quote(HOSTILE, safe='')}").json
    assert d["id"] == HOSTILE  # JSON carries the data; the scripts insert it with textContent only


def test_scripts_never_insert_html():
    from importlib.resources import files

    for name in ("network.js", "charts.js", "app.js"):
        js = (files("webui") / "static" / "js" / name).read_text()
        assert "innerHTML" not in js and "insertAdjacentHTML" not in js and "document.write" not in js, name
        assert "eval(" not in js and "new Function" not in js, name


def test_assets_are_served_by_the_app(app):
    c = app.test_client()
    for path in ["/static/vendor/vis-network.min.js", "/static/vendor/vis-network.css", "/static/js/network.js",
                 "/static/js/charts.js", "/static/app.css", "/static/vendor/LICENSE-vis-network.txt"]:
        r = c.get(path)
        assert r.status_code == 200, path
        r.close()


# ---------------------------------------------------------------- graphs
def test_ring_graph_has_members_typed_and_marked(admin, world):
    ring = world["rings"][0]
    j = admin.get(f"/ui/graph/ring/{ring.ring_id}").json
    ids = {n["id"] for n in j["nodes"]}
    assert {f"user:{u}" for u in ring.users} <= ids
    assert len(j["nodes"]) == len({(m["type"], m["id"]) for m in ring.members})
    assert all(n.get("suspicious") for n in j["nodes"] if n["type"] == "user")
    assert {n["type"] for n in j["nodes"]} - {"user"}
    e = j["edges"][0]
    assert e["n"] >= 1 and e["first_seen"] <= e["last_seen"]
    assert e["from"] in ids and e["to"] in ids


def test_time_filter_drops_links_outside_the_window(admin, world):
    user = plain_user(world["rings"][0])
    full = admin.get(f"/ui/graph/entity/user/{user}").json
    none = admin.get(f"/ui/graph/entity/user/{user}?since=2100-01-01").json
    assert len(full["edges"]) > 0 and none["edges"] == [] and len(none["nodes"]) == 1


def test_hubs_fold_into_one_node_that_opens(app, world, store):
    app.config["UI_HUB_LIMIT"] = 2
    c = app.test_client()
    sign_in(c)
    links = store.links_frame()
    counts = links.groupby(["type", "entity_id"]).size()
    (typ, ident), n = next(((k, v) for k, v in counts.items() if v > 3 and k[0] != "merchant"), (None, 0)) \
        if (counts > 3).any() else ((None, None), 0)
    assert typ is not None, "the world has no shared identifier"
    user = links[(links["type"] == typ) & (links["entity_id"] == ident)]["user_id"].iloc[0]
    j = c.get(f"/ui/graph/entity/user/{quote(user)}?hops=2").json
    hub = next(x for x in j["nodes"] if x["id"] == f"{typ}:{ident}")
    assert hub["hub"] and hub["n_users"] == n
    opened = c.get(f"/ui/graph/entity/{typ}/{quote(ident)}?hops=1").json
    users = [x for x in opened["nodes"] if x["type"] == "user"]
    more = [x for x in opened["nodes"] if x.get("aggregate")]
    assert len(users) == 2 and len(more) == 1 and more[0]["n_users"] == n - 2


def test_node_panel_json(admin, world):
    user = plain_user(world["rings"][0])
    d = admin.get(f"/ui/node/user/{user}").json
    assert d["ok"] and d["ring_id"] == world["rings"][0].ring_id and d["transactions"]
    assert d["transactions"][0]["url"].startswith("/transactions/")


# ---------------------------------------------------------------- roles and masking
def test_analyst_cannot_change_settings_or_rerun_detection(analyst):
    tok = page_token(analyst)
    assert analyst.post("/settings/masking", data={"mask_identifiers": "1", "csrf_token": tok}).status_code == 403
    assert analyst.post("/rings/detect", data={"csrf_token": tok}).status_code == 403
    assert "Mask card" not in analyst.get("/").text


def test_analyst_sees_cards_masked_when_the_admin_says_so(admin, analyst, store, world):
    tx = store.get_transaction("XSS2")
    user = plain_user(world["rings"][0])
    card = store.transactions_of("user_id", user, 1)[0]["card_id"]
    tok = page_token(admin)
    assert admin.post("/settings/masking", data={"mask_identifiers": "1", "csrf_token": tok}).status_code == 302
    try:
        assert card not in analyst.get(f"/transactions/{store.transactions_of('user_id', user, 1)[0]['transaction_id']}").text
        j = analyst.get(f"/ui/graph/entity/user/{user}").json
        cards = [n for n in j["nodes"] if n["type"] == "card"]
        assert cards and all(card not in n["id"] and card not in n["label"] for n in cards)
        masked = cards[0]
        # a masked node still opens, found through the user it hangs off
        d = analyst.get(f"/ui/node/card/{masked['key']}?via={quote(masked['via'])}").json
        assert d["ok"] and d["masked"] and d["n_users"] >= 1
        assert analyst.get(f"/ui/graph/entity/card/{masked['key']}?via={quote(masked['via'])}").status_code == 200
        # admins see everything
        assert any(n["label"] == card for n in admin.get(f"/ui/graph/entity/user/{user}").json["nodes"])
        assert tx["card_id"] == HOSTILE
    finally:
        tok = page_token(admin)
        admin.post("/settings/masking", data={"csrf_token": tok})
    assert any(n["label"] == card for n in analyst.get(f"/ui/graph/entity/user/{user}").json["nodes"])


# ---------------------------------------------------------------- cases
def test_case_needs_csrf(admin, world):
    r = admin.post("/cases", data={"kind": "ring", "ref": world["rings"][0].ring_id})
    assert r.status_code == 400
    assert "expired" in r.text


@pytest.mark.parametrize(("kind", "ref", "status"), [
    ("entity", "card:", 400), ("entity", "~junk", 400), ("entity", "nope:x", 400), ("entity", "card:nope", 404),
    ("entity", "user:nobody", 400), ("user", "nobody", 400), ("user", "user:nobody", 404), ("user", "card:x", 400),
], ids=["empty-id", "no-type", "unknown-type", "unknown-card", "user-as-entity", "bare-user", "unknown-user",
        "card-as-user"])
def test_cases_on_things_that_do_not_exist_are_refused(admin, store, kind, ref, status):
    tok = page_token(admin)
    n = len(store.list_cases(limit=5000))
    r = admin.post("/cases", data={"kind": kind, "ref": ref, "csrf_token": tok})
    assert r.status_code == status and len(store.list_cases(limit=5000)) == n
    assert "case" in r.text.lower() or "no " in r.text.lower()


def test_cases_on_existing_users_and_entities_open(admin, world, store):
    user = plain_user(world["rings"][0])
    card = store.transactions_of("user_id", user, 1)[0]["card_id"]
    tok = page_token(admin)
    for kind, ref in (("user", f"user:{user}"), ("entity", f"card:{card}")):
        first = admin.post("/cases", data={"kind": kind, "ref": ref, "csrf_token": tok})
        assert first.status_code == 302
        # the same thing again while that case is open: the open case, not a second one
        again = admin.post("/cases", data={"kind": kind, "ref": ref, "csrf_token": tok}, follow_redirects=True)
        assert again.request.path == first.headers["Location"] and "already" in again.text
        assert sum(1 for c in store.list_cases() if c["ref"] == ref) == 1
    assert any(c["title"] == f"user:{user}" for c in store.list_cases())


def test_confirming_a_case_labels_users_and_transactions(analyst, store, world):
    ring = world["rings"][1]
    tok = page_token(analyst, f"/rings/{ring.ring_id}")
    case_url = analyst.post("/cases", data={"kind": "ring", "ref": ring.ring_id, "csrf_token": tok}).headers["Location"]
    before = len(store.labels())
    r = analyst.post(case_url, data={"status": "confirmed", "assignee": ANALYST, "note": "same device farm",
                                     "csrf_token": tok})
    assert r.status_code == 302
    new = [lb for _, lb in store.labels()][before:]
    users = {lb.subject_id for lb in new if lb.subject == "user"}
    assert users == set(ring.users) and all(lb.value == "fraudster" and lb.source == "investigator"
                                            for lb in new if lb.subject == "user")
    n_tx = sum(len(store.transactions_of("user_id", u, 10_000)) for u in ring.users)
    assert sum(1 for lb in new if lb.subject == "transaction" and lb.value == "1") == n_tx
    page = analyst.get(case_url).text
    assert "Confirmed fraud" in page and "fraudster" in page and "same device farm" in page
    assert "fraudster" in analyst.get(f"/rings/{ring.ring_id}").text
    j = analyst.get(f"/ui/graph/ring/{ring.ring_id}").json
    assert all(n.get("fraud") for n in j["nodes"] if n["type"] == "user")
    trail = store.audit_log(50, target=case_url.replace("/cases/", "case:"))
    assert {"case.create", "case.update", "case.label"} <= {a["action"] for a in trail}
    assert all(a["actor"] == ANALYST for a in trail)
    # saving again with the same status does not label twice
    analyst.post(case_url, data={"status": "confirmed", "csrf_token": tok})
    assert len(store.labels()) == before + len(new)


def test_dismissing_a_ring_case_keeps_its_members_fraud_labels(analyst, store, world):
    """Dismissing says the case is not fraud; a member labelled fraud before (here by a chargeback, or a
    transaction labelled fraud in the file) keeps that label: the investigator's source would otherwise win
    over it silently, for every member at once."""
    ring = world["rings"][2]
    member = ring.users[0]
    store.add_labels([Label("user", member, "fraudster", 1, "chargeback")])
    tok = page_token(analyst, f"/rings/{ring.ring_id}")
    case_url = analyst.post("/cases", data={"kind": "ring", "ref": ring.ring_id, "csrf_token": tok}).headers["Location"]
    before = len(store.labels())
    r = analyst.post(case_url, data={"status": "dismissed", "csrf_token": tok}, follow_redirects=True)
    assert "keep their labels" in r.text
    new = [lb for _, lb in store.labels()][before:]
    cleared = {lb.subject_id for lb in new if lb.subject == "user"}
    frauds = {u for u in ring.users if any(t["is_fraud"] == 1 for t in store.transactions_of("user_id", u, 10_000))}
    assert member not in cleared and not cleared & frauds and cleared == set(ring.users) - frauds - {member}
    assert all(lb.value == "legitimate" for lb in new if lb.subject == "user")
    for lb in new:
        if lb.subject == "transaction":
            assert lb.value == "0" and store.get_transaction(lb.subject_id)["is_fraud"] != 1
    assert [a["detail"]["kept"] for a in store.audit_log(50, target=case_url.replace("/cases/", "case:"))
            if a["action"] == "case.label"] == [len(ring.users) - len(cleared)]


def test_dismissing_a_transaction_case_labels_it_legitimate(admin, store):
    tok = page_token(admin)
    url = admin.post("/cases", data={"kind": "transaction", "ref": "XSS1", "csrf_token": tok}).headers["Location"]
    before = len(store.labels())
    r = admin.post(url, data={"status": "dismissed", "csrf_token": tok}, follow_redirects=True)
    new = [(lb.subject, lb.subject_id, lb.value) for _, lb in store.labels()][before:]
    # the transaction is decided; its user keeps what XSS2, labelled fraud in the file, says of them
    assert new == [("transaction", "XSS1", "0")] and "keep their labels" in r.text
    assert "Dismissed" in admin.get(url).text


# ---------------------------------------------------------------- accounts and the CLI
def test_passwords_are_scrypt_hashed():
    h = hash_password("a-long-password")
    assert h.startswith("scrypt$") and "a-long-password" not in h
    assert verify_password(h, "a-long-password") and not verify_password(h, "a-long-passworD")
    assert not verify_password("junk", "x")


def test_cli_user_create_and_list(tmp_path):
    path = str(tmp_path / "u.db")
    runner = CliRunner()
    r = runner.invoke(main, ["user", "create", "zoe", "--role", "admin", "--password-stdin", "--store", path],
                      input="zoe-password-1\n")
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["user", "create", "zoe", "--password-stdin", "--store", path], input="another-pass\n")
    assert r.exit_code == 1 and "exists" in r.output
    r = runner.invoke(main, ["user", "create", "bo", "--password-stdin", "--store", path], input="short\n")
    assert r.exit_code == 1 and "too short" in r.output
    assert "zoe" in runner.invoke(main, ["user", "list", "--store", path]).output
    st = open_store(path)
    try:
        row = st.get_app_user("zoe")
        assert row["role"] == "admin" and verify_password(row["password_hash"], "zoe-password-1")
    finally:
        st.close()



def test_a_page_that_fails_is_an_html_page_with_a_reference(admin, monkeypatch):
    """A 500 on a page is a page (with the logged reference), not the API's JSON shown raw in the browser."""
    import webui.pages as pages

    def boom(*a, **k):
        raise RuntimeError("secret detail /srv/x")

    monkeypatch.setattr(pages, "ensure_rings", boom)
    r = admin.get("/rings")
    assert r.status_code == 500 and r.mimetype == "text/html"
    assert "reference" in r.text and "secret" not in r.text and "RuntimeError" not in r.text


def test_the_rings_list_pages_through_every_ring(admin, world, monkeypatch):
    import webui.pages as pages

    monkeypatch.setattr(pages, "RINGS_PAGE", 2)
    n = len(world["rings"])
    assert n > 4
    seen = []
    for page in range(1, -(-n // 2) + 1):
        text = admin.get(f"/rings?status=all&sort=first&page={page}").text
        seen += [r.ring_id for r in world["rings"] if f">{r.ring_id}</a>" in text]
        assert f"page {page} of {-(-n // 2)}" in text
    assert sorted(seen) == sorted(r.ring_id for r in world["rings"])


def test_pages_name_an_icon_the_server_has(app):
    """Without one the browser asks for /favicon.ico, a 404 and a console error on every first page."""
    c = app.test_client()
    login = c.get("/login").text
    href = login.split('rel="icon"', 1)[1].split('href="', 1)[1].split('"', 1)[0]
    r = c.get(href)
    assert r.status_code == 200 and r.mimetype == "image/svg+xml"
    r.close()


@pytest.mark.parametrize("value", ["%EF%BC%92", "x"])  # a full-width 2, which int() takes; not a number
def test_a_page_number_that_is_not_ascii_digits_is_a_400(admin, value):
    assert admin.get(f"/rings?page={value}").status_code == 400


def form_shown(client, url):
    """The case form's hidden fields: the status and assignee its page showed (a browser posts them back)."""
    html = client.get(url).text
    return {f"{k}_shown": unescape(re.search(rf'name="{k}_shown" value="([^"]*)"', html).group(1))
            for k in ("status", "assignee")}


def test_a_page_left_open_does_not_undo_another_investigators_decision(admin, analyst, store, world):
    """A probe: bob's page, loaded before alice confirmed, saved with only a note reopened the case and cleared
    its assignee; a decision from it now is refused, saying why, and labels nothing."""
    ring = world["rings"][3]
    tok_a = page_token(analyst, f"/rings/{ring.ring_id}")
    url = analyst.post("/cases", data={"kind": "ring", "ref": ring.ring_id, "csrf_token": tok_a}).headers["Location"]
    stale = form_shown(analyst, url)
    assert stale == {"status_shown": "open", "assignee_shown": ""}
    tok_b = page_token(admin)
    admin.post(url, data={"status": "confirmed", "assignee": ADMIN, "csrf_token": tok_b, **form_shown(admin, url)})
    n = len(store.labels())
    cid = int(url.rsplit("/", 1)[1])
    analyst.post(url, data={"status": "open", "assignee": "", "note": "seen it", "csrf_token": tok_a, **stale})
    c = store.get_case(cid)
    assert (c["status"], c["assignee"], c["notes"][-1]["text"]) == ("confirmed", ADMIN, "seen it")
    r = analyst.post(url, data={"status": "dismissed", "assignee": "", "csrf_token": tok_a, **stale},
                     follow_redirects=True)
    assert "was not saved" in r.text and "Confirmed fraud" in r.text
    assert store.get_case(cid)["status"] == "confirmed" and len(store.labels()) == n


def test_a_case_on_an_identifier_shared_by_too_many_users_is_not_decided_from_the_page(admin, store, world,
                                                                                       monkeypatch):
    """A probe confirmed a case on a merchant of 2,044 users: 500 of them were labelled fraudsters, the rest
    silently left out. Now no one is labelled, and the page says how to label them."""
    from webui import pages

    monkeypatch.setattr(pages, "CASE_LABEL_USERS", 2)
    user = plain_user(world["rings"][4])
    merchant = store.transactions_of("user_id", user, 1)[0]["merchant_id"]
    assert store.count_links("merchant", merchant) > 2
    tok = page_token(admin)
    url = admin.post("/cases", data={"kind": "entity", "ref": f"merchant:{merchant}", "csrf_token": tok}).headers[
        "Location"]
    n = len(store.labels())
    r = admin.post(url, data={"status": "confirmed", "csrf_token": tok, **form_shown(admin, url)},
                   follow_redirects=True)
    assert "The status was not changed" in r.text and "graphfraud label" in r.text
    assert store.get_case(int(url.rsplit("/", 1)[1]))["status"] == "open" and len(store.labels()) == n


def test_the_case_list_pages_past_its_first_hundred(admin, store, monkeypatch):
    from webui import pages

    monkeypatch.setattr(pages, "CASES_PAGE", 2)
    for k in range(5):
        store.create_case("ring", f"R-page-{k}", f"paged {k}", actor=ADMIN)
    first, last = admin.get("/cases").text, admin.get("/cases?page=999").text
    assert 'rel="next"' in first and "page 1 of" in first
    assert 'rel="prev"' in last and 'rel="next"' not in last
