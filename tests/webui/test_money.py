"""Money in the investigator pages, through Flask's test client: the suspects queue (ranked as `graphfraud
suspects` ranks, paginated, computed once per account model and store sequence), transfers as directed edges
with amounts and times in the entity and ring networks, a ring's money flow, an account's money on its page,
masking on all of it."""
from __future__ import annotations

import re
import sqlite3
from collections import deque
from html import unescape
from urllib.parse import quote

import pytest

from graphfraud.accounts import hash_password
from graphfraud.suspects import rank_suspects
from webui import create_app, risk

from muleworld import copy_store

ADMIN, ANALYST, PASSWORD = "ada", "ann", "correct-horse-9"
RING = "R-money-1"


@pytest.fixture(scope="module")
def world(mule_world, tmp_path_factory):
    """The mule world with two investigator accounts and one ring: the mule group that moved the most money
    among its own members (so its money flow is known from the file)."""
    path = copy_store(mule_world["path"], str(tmp_path_factory.mktemp("money") / "money.db"))
    con = sqlite3.connect(path)
    best, best_rows = None, []
    for group in mule_world["truth"]["rings"].values():
        users = group["users"] + group.get("sinks", [])
        marks = ",".join("?" * len(users))
        rows = con.execute(f"SELECT transaction_id, user_id, counterparty_id, amount, ts FROM tx WHERE user_id IN "
                           f"({marks}) AND counterparty_id IN ({marks}) ORDER BY ts, transaction_id",
                           users + users).fetchall()
        if len(rows) > len(best_rows):
            best, best_rows = users, rows
    con.close()
    assert best_rows, "the mule world has a group moving money among its members"
    from graphfraud.storage import open_store

    st = open_store(path)
    st.save_rings([{"ring_id": RING, "status": "active", "score": 0.9, "size": len(best), "users": best,
                    "first_activity": best_rows[0][4], "last_activity": best_rows[-1][4],
                    "members": [{"type": "user", "id": u} for u in best]}], [{"ring_id": RING, "change": "created"}])
    st.create_app_user(ADMIN, "admin", hash_password(PASSWORD))
    st.create_app_user(ANALYST, "analyst", hash_password(PASSWORD))
    st.close()
    return {**mule_world, "path": path, "ring_users": best, "ring_transfers": best_rows}


def make_app(world, **config):
    app = create_app({"STORE": world["path"], "SCORER_EAGER": True, "TESTING": True, "RATE_LIMIT": 0, **config})
    return app


@pytest.fixture(scope="module")
def app(world):
    app = make_app(world)
    yield app
    app.extensions["graphfraud"].store.close()


def sign_in(app, name=ADMIN):
    c = app.test_client()
    tok = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)
    assert c.post("/login", data={"username": name, "password": PASSWORD, "csrf_token": tok}).status_code == 302
    return c


@pytest.fixture(scope="module")
def admin(app):
    return sign_in(app)


def queue_users(html: str) -> list[str]:
    return [unescape(u) for u in re.findall(r'<tr data-user="([^"]+)"', html)]


# ---------------------------------------------------------------- the suspects queue
def test_queue_lists_accounts_as_suspects_ranks_them_a_page_at_a_time(app, admin):
    st, sc = app.extensions["graphfraud"].store, app.extensions["graphfraud"].scorer
    expected = rank_suspects(st, sc.engine, top=1000)
    r = admin.get("/suspects")
    assert r.status_code == 200
    first = queue_users(r.text)
    per_page = app.config["UI_SUSPECTS_PAGE"]
    assert first == [s.user_id for s in expected[:per_page]]
    top = expected[0]
    row = r.text.split(f'<tr data-user="{top.user_id}">', 1)[1].split("</tr>", 1)[0]
    assert f"{top.score:.3f}" in row and all(str(unescape(x)) in unescape(row) for x in top.reasons)
    assert f'href="/entities/user/{quote(top.user_id)}"' in row and f'/entities/user/{quote(top.user_id)}#graph' in row
    second = admin.get("/suspects?page=2")
    assert queue_users(second.text) == [s.user_id for s in expected[per_page:2 * per_page]]
    assert 'rel="prev"' in second.text
    # filters: accounts not yet known, a floor on the score; a page past the end is the last page
    new = queue_users(admin.get("/suspects?known=new").text)
    assert new == [s.user_id for s in expected if not s.known][:per_page]
    high = queue_users(admin.get(f"/suspects?min_score={expected[3].score}").text)
    assert high == [s.user_id for s in expected if s.score >= expected[3].score][:per_page]
    assert queue_users(admin.get("/suspects?page=999999").text)


def test_queue_links_rings_and_labels(world, admin, app):
    st, sc = app.extensions["graphfraud"].store, app.extensions["graphfraud"].scorer
    in_ring = [s for s in rank_suspects(st, sc.engine, top=1000) if s.ring_id == RING]
    assert in_ring
    pages = "".join(admin.get(f"/suspects?page={p}").text for p in range(1, 21))
    assert f'href="/rings/{RING}"' in pages


def test_ranking_is_computed_once_per_model_and_store_sequence(world, tmp_path):
    path = copy_store(world["path"], str(tmp_path / "q.db"))
    app = create_app({"STORE": path, "SCORER_EAGER": True, "TESTING": True, "RATE_LIMIT": 0,
                      "UI_SUSPECTS_REFRESH": 3600})
    try:
        c = sign_in(app)
        cache = risk.cache_of(app)
        c.get("/suspects")
        first = cache.ranking
        assert first is not None and first.seq == app.extensions["graphfraud"].store.last_seq()
        c.get("/suspects?page=2")
        assert cache.ranking is first  # same key: not recomputed
        _score_one(app)
        page = c.get("/suspects").text
        assert cache.ranking is first and "being computed" not in page  # changed, but recent enough
        app.config["UI_SUSPECTS_REFRESH"] = 0
        page = c.get("/suspects").text
        assert 'data-role="refreshing"' in page  # the older ranking, said to be older
        cache.join(60)
        assert cache.ranking is not first and cache.ranking.seq == app.extensions["graphfraud"].store.last_seq()
        assert 'data-role="refreshing"' not in c.get("/suspects").text
    finally:
        app.extensions["graphfraud"].store.close()


def _score_one(app, **fields):
    from webui.auth import create_api_key

    key = create_api_key(app.extensions["graphfraud"].store, "t", "admin")
    body = {"transaction_id": "Q1", "timestamp": "2026-01-30T12:00:00Z", "user_id": "UQ1", "amount": 5.0, **fields}
    r = app.test_client().post("/api/v1/score", json=body, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text


def test_queue_without_an_account_model_says_how_to_make_one(world, tmp_path):
    path = copy_store(world["path"], str(tmp_path / "nomodel.db"))
    con = sqlite3.connect(path)
    con.execute("UPDATE model SET status='retired' WHERE status='accounts'")
    con.commit()
    con.close()
    app = make_app({"path": path})
    try:
        r = sign_in(app).get("/suspects")
        assert r.status_code == 200 and 'data-role="no-model"' in r.text and "graphfraud train" in r.text
    finally:
        app.extensions["graphfraud"].store.close()


# ---------------------------------------------------------------- transfers in the networks
def _sums(world, payer, payee):
    con = sqlite3.connect(world["path"])
    try:
        return con.execute("SELECT COUNT(*), SUM(amount), MIN(ts), MAX(ts) FROM tx WHERE user_id=? AND "
                           "counterparty_id=?", (payer, payee)).fetchone()
    finally:
        con.close()


def test_entity_network_draws_transfers_as_directed_edges_with_amounts_and_times(world, admin):
    payer, payee = world["ring_transfers"][0][1:3]
    g = admin.get(f"/ui/graph/entity/user/{quote(payer)}?hops=1").get_json()
    transfers = [e for e in g["edges"] if e.get("kind") == "transfer"]
    edge = next(e for e in transfers if e["to"] == f"user:{payee}")
    n, total, first, last = _sums(world, payer, payee)
    assert edge["from"] == f"user:{payer}" and edge["id"] == f"user:{payer}>user:{payee}"
    assert (edge["n"], edge["first_seen"], edge["last_seen"]) == (n, first, last)
    assert edge["amount"] == pytest.approx(total, abs=0.01)
    assert f"user:{payee}" in {x["id"] for x in g["nodes"]}
    # beside the identifiers the user used
    assert any(e.get("kind") != "transfer" and e["from"] == f"user:{payer}" for e in g["edges"])
    # the time filter applies to money too
    none = admin.get(f"/ui/graph/entity/user/{quote(payer)}?hops=1&since=2100-01-01").get_json()
    assert not [e for e in none["edges"] if e.get("kind") == "transfer"]


def test_many_partners_fold_into_one_node(world, tmp_path):
    app = make_app(world, UI_HUB_LIMIT=2)
    try:
        c = sign_in(app)
        con = sqlite3.connect(world["path"])
        (busy, k), = con.execute("SELECT counterparty_id, COUNT(DISTINCT user_id) FROM tx WHERE counterparty_id IS NOT "
                                 "NULL GROUP BY 1 ORDER BY 2 DESC LIMIT 1").fetchall()
        con.close()
        assert k > 2
        g = c.get(f"/ui/graph/entity/user/{quote(busy)}?hops=1").get_json()
        partners = {e["from"] if e["to"] == f"user:{busy}" else e["to"] for e in g["edges"] if e.get("kind") == "transfer"}
        assert len(partners - {f"user:{busy}"}) <= 2
        more = next(x for x in g["nodes"] if x["id"] == f"more:transfers:user:{busy}")
        assert more["aggregate"] and "more partners" in more["label"] and more["url"].endswith("#money")
    finally:
        app.extensions["graphfraud"].store.close()


def test_ring_network_and_page_show_its_money_flow(world, admin):
    g = admin.get(f"/ui/graph/ring/{RING}").get_json()
    drawn = {(e["from"], e["to"]): e for e in g["edges"] if e.get("kind") == "transfer"}
    expected: dict[tuple[str, str], list[float]] = {}
    for _, payer, payee, amount, _ in world["ring_transfers"]:
        expected.setdefault((f"user:{payer}", f"user:{payee}"), []).append(amount)
    assert set(drawn) == set(expected)
    for k, amounts in expected.items():
        assert drawn[k]["n"] == len(amounts) and drawn[k]["amount"] == pytest.approx(sum(amounts), abs=0.01)
    page = admin.get(f"/rings/{RING}").text
    section = page.split('data-role="money-flow"', 1)[1].split("</section>\n</section>", 1)[0]
    assert f"{len(world['ring_transfers'])} transfers among the ring" in section
    for tid, payer, payee, amount, _ in world["ring_transfers"]:
        assert f'href="/transactions/{tid}"' in section and f"{amount:,.2f}" in section
    assert re.search(r'<tr data-payer="[^"]+" data-payee="[^"]+">', section)


def test_an_account_page_shows_its_money_and_risk(world, admin, app):
    admin.get("/suspects")
    top = risk.cache_of(app).ranking.rows[0]
    page = admin.get(f"/entities/user/{quote(top['user_id'])}").text
    assert 'data-role="money"' in page and 'data-role="risk"' in page
    assert "Rank 1 of the suspects queue" in page and f"{top['score']:.3f}" in page
    assert "Transfer partners" in page and ("→ paid" in page or "← paid by" in page)
    detail = admin.get(f"/ui/node/user/{quote(top['user_id'])}").get_json()
    assert detail["sent"]["n"] + detail["received"]["n"] > 0


def test_an_account_that_only_received_money_has_a_page(world, admin):
    con = sqlite3.connect(world["path"])
    (sink,), = con.execute("SELECT counterparty_id FROM tx WHERE counterparty_id NOT IN (SELECT user_id FROM tx) "
                           "LIMIT 1").fetchall()
    con.close()
    assert admin.get(f"/entities/user/{quote(sink)}").status_code == 200
    assert admin.get(f"/search?q={quote(sink)}").status_code == 302
    g = admin.get(f"/ui/graph/entity/user/{quote(sink)}").get_json()
    assert any(e.get("kind") == "transfer" and e["to"] == f"user:{sink}" for e in g["edges"])


# ---------------------------------------------------------------- masking
def test_an_analyst_sees_no_masked_identifier_on_the_money_pages(world):
    """Devices and IPs masked by configuration: nothing reached from the queue shows one in clear, while
    user ids (and so payers and payees) stay readable."""
    app = make_app(world, MASK_TYPES="card,device,ip", MASK_IDENTIFIERS=True)
    try:
        con = sqlite3.connect(world["path"])
        secrets = {r[0] for r in con.execute("SELECT DISTINCT entity_id FROM link WHERE type IN ('device', 'ip')")}
        con.close()
        analyst = sign_in(app, ANALYST)
        start = ["/suspects", f"/rings/{RING}", f"/ui/graph/ring/{RING}"]
        todo, seen, bodies = deque(start), set(start), {}
        while todo and len(bodies) < 120:
            url = todo.popleft()
            r = analyst.get(url)
            assert r.status_code < 500, url
            if r.status_code != 200:
                continue
            bodies[url] = body = r.get_data(as_text=True)
            if r.mimetype == "text/html":
                found = [unescape(u) for u in re.findall(r'(?:data-src|href)="(/[^"#]*)"', body)]
                found.sort(key=lambda u: not u.startswith("/ui/"))  # the network first
            else:
                data = r.get_json()
                found = [f"/ui/node/{n['type']}/{quote(str(n['key']), safe='')}" for n in data.get("nodes", [])
                         if n.get("type") not in ("more", None)]
            for u in found[:12]:  # a few of each page's links: deep rather than wide
                if u.startswith(("/entities/", "/ui/", "/rings/")) and u not in seen:
                    seen.add(u)
                    todo.append(u)
        assert any(u.startswith("/ui/node/device/") for u in bodies) and any("/entities/user/" in u for u in bodies), sorted(bodies)[:40]
        # whole values only: a default device id such as 00000000 is also part of a transaction id
        whole = {s: re.compile(r"(?<![\w.])" + re.escape(s) + r"(?![\w])") for s in secrets}
        leaks = {(u, s) for u, b in bodies.items() for s in secrets if whole[s].search(b)}
        assert not leaks, sorted(leaks)[:5]
        seen_by_admin = sign_in(app).get(f"/ui/graph/entity/user/{quote(world['ring_users'][0])}").text
        assert any(whole[s].search(seen_by_admin) for s in secrets)  # the check finds them where they are
        ring_page = bodies[f"/rings/{RING}"]
        assert world["ring_users"][0] in ring_page  # payers and payees are users: readable
    finally:
        app.extensions["graphfraud"].store.close()


def test_money_pages_have_nothing_a_strict_csp_would_block(world, admin):
    from test_pages import Tags

    payer = world["ring_transfers"][0][1]
    for url in ["/suspects", "/suspects?page=2", f"/rings/{RING}", f"/entities/user/{quote(payer)}"]:
        r = admin.get(url)
        tags = Tags()
        tags.feed(r.text)
        assert r.status_code == 200 and tags.seen > 20 and tags.bad == [], (url, tags.bad)
        assert "unsafe-inline" not in r.headers["Content-Security-Policy"]


def test_hostile_account_ids_in_transfers_stay_text(world, tmp_path):
    hostile = "<img src=x onerror=alert(1)>"
    path = copy_store(world["path"], str(tmp_path / "hostile.db"))
    app = make_app({"path": path})
    try:
        payer = world["ring_transfers"][0][1]
        _score_one(app, user_id=payer, counterparty_id=hostile, amount=77.0)
        c = sign_in(app)
        for url in [f"/entities/user/{quote(payer)}", f"/entities/user/{quote(hostile, safe='')}",
                    f"/search?q={quote(hostile, safe='')}"]:
            r = c.get(url, follow_redirects=True)
            assert r.status_code == 200 and hostile not in r.text and "&lt;img src=x" in r.text, url
        g = c.get(f"/ui/graph/entity/user/{quote(payer)}?hops=1").get_json()
        edge = next(e for e in g["edges"] if e.get("kind") == "transfer" and e["to"] == f"user:{hostile}")
        assert edge["amount"] == 77.0  # the id travels as JSON data; the script puts it in the DOM as text
    finally:
        app.extensions["graphfraud"].store.close()


@pytest.fixture
def short_ranking(app, monkeypatch):
    """The app with a worker ranking of ``limit`` accounts, and its usual ranking back afterwards."""
    from webui import risk

    def use(limit: int) -> None:
        monkeypatch.setitem(app.config, "UI_SUSPECTS_LIMIT", limit)
        risk.cache_of(app).ranking = None

    yield use
    risk.cache_of(app).join(30)
    risk.cache_of(app).ranking = None


def test_a_short_ranking_keeps_the_best_new_suspects_too(app, admin, short_ranking):
    """The worker keeps the best ``limit`` accounts and the best ``limit`` not known as fraud: where the top is
    all known fraud, 'not yet known' still lists new suspects, with their place among all accounts."""
    st, sc = app.extensions["graphfraud"].store, app.extensions["graphfraud"].scorer
    every = rank_suspects(st, sc.engine, top=0, reasons=0)
    assert any(s.known for s in every[:5]) and any(not s.known for s in every)
    got = rank_suspects(st, sc.engine, top=5, top_new=5, reasons=0)
    want = every[:5] + [s for s in every[5:] if not s.known and s.user_id in
                        {x.user_id for x in [t for t in every if not t.known][:5]}]
    assert [(s.user_id, s.rank) for s in got] == [(s.user_id, every.index(s) + 1) for s in want]
    short_ranking(5)
    new = queue_users(admin.get("/suspects?known=new").text)
    assert new == [s.user_id for s in every if not s.known][:5]


def test_an_account_below_the_kept_ranking_still_shows_its_score(app, admin, short_ranking):
    st, sc = app.extensions["graphfraud"].store, app.extensions["graphfraud"].scorer
    from webui import risk

    short_ranking(2)
    admin.get("/suspects")
    risk.cache_of(app).join(30)
    kept = {row["user_id"] for row in risk.cache_of(app).ranking.rows}
    every = rank_suspects(st, sc.engine, top=0, reasons=0)
    low = next(s for s in reversed(every) if s.user_id not in kept)
    page = admin.get(f"/entities/user/{quote(low.user_id, safe='')}").text
    risk_line = page.split('data-role="risk"', 1)[1].split("</p>", 1)[0]
    assert "Below the" in risk_line and f"{low.score:.3f}" in risk_line
    # while a ranking holds the engine, the page does not wait for it (it shows no score instead)
    with sc.lock:
        import threading

        got: list = []
        t = threading.Thread(target=lambda: got.append(admin.get(f"/entities/user/{quote(low.user_id, safe='')}")))
        t.start()
        t.join(10)
    assert got and got[0].status_code == 200 and "Below the" not in got[0].text
