"""Money in real headless Chromium, on a mule world served by `graphfraud serve`: the suspects queue lists
accounts by risk and links to each account's network, where transfers are drawn as arrows from payer to
payee with their amounts; a ring page shows its money flow, in its tables and as arrows in its network.
Screenshots go to test-artifacts/."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TRANSFERS = """() => window.gfNetwork.body.data.edges.get().filter(e => e.gf.kind === 'transfer').map(e => ({
    from: e.from, to: e.to, n: e.gf.n, amount: e.gf.amount, label: e.label,
    arrow: !!(window.gfNetwork.body.edges[e.id] && window.gfNetwork.body.edges[e.id].options.arrows.to.enabled)}))"""


def wait_ready(page, timeout=20000):
    page.wait_for_selector("#graph[data-ready='1']", state="attached", timeout=timeout)


def totals(path, payer, payee):
    con = sqlite3.connect(path)
    try:
        return con.execute("SELECT COUNT(*), SUM(amount) FROM tx WHERE user_id=? AND counterparty_id=?",
                           (payer, payee)).fetchone()
    finally:
        con.close()


def test_suspects_queue_links_to_a_network_with_directed_transfers(mule_page, mule_server, mule_world):
    page = mule_page
    page.click("header nav a[href='/suspects']")
    page.wait_for_url("**/suspects")
    rows = page.locator("table.suspects tbody tr")
    assert rows.count() == 50  # a full first page of accounts, riskiest first
    scores = [float(t) for t in page.locator("table.suspects tbody td.num").all_inner_texts()]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0
    assert page.locator("nav.pager a[rel=next]").count() == 1
    page.screenshot(path=str(ARTIFACTS / "suspects.png"), full_page=True)

    # the first account's network: its transfers are arrows, payer to payee, labelled with their total
    user = rows.first.get_attribute("data-user")
    rows.first.locator("a[data-role=network]").click()
    page.wait_for_url("**/entities/user/**")
    wait_ready(page)
    edges = page.evaluate(TRANSFERS)
    assert edges and all(e["arrow"] for e in edges)
    assert any(e["from"] == f"user:{user}" or e["to"] == f"user:{user}" for e in edges)
    for e in edges[:10]:
        n, total = totals(mule_world["path"], e["from"].removeprefix("user:"), e["to"].removeprefix("user:"))
        assert e["n"] == n and e["amount"] == pytest.approx(total, abs=0.01)
        a = e["amount"]
        assert e["label"] == (f"{n}\u00d7 " if n > 1 else "") + (f"{a:,.2f}" if a % 1 else f"{a:,.0f}")
    # beside the identifiers the account used (undirected links)
    links = page.evaluate("() => window.gfNetwork.body.data.edges.get().filter(e => e.gf.kind !== 'transfer').length")
    assert links > 0
    assert page.locator("[data-role=money] table.partners tbody tr").count() > 0
    page.screenshot(path=str(ARTIFACTS / "account-transfers.png"), full_page=True)
    assert page.external == [] and page.dialogs == [] and page.errors == []


def test_ring_page_shows_its_money_flow(mule_page, mule_server, mule_world):
    page = mule_page
    page.goto(f"{mule_server}/rings/{mule_world['ring_id']}")
    wait_ready(page)
    flows = mule_world["ring_flows"]
    pairs = {(f"user:{a}", f"user:{b}") for a, b, _, _ in flows}
    assert page.locator("[data-role=money-flow] table.transfers tbody tr").count() == len(flows)
    assert page.locator("[data-role=money-flow] table.flows tbody tr").count() == len(pairs)
    edges = page.evaluate(TRANSFERS)
    assert {(e["from"], e["to"]) for e in edges} == pairs and all(e["arrow"] for e in edges)
    page.locator("[data-role=money-flow]").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "ring-money-flow.png"), full_page=True)
    assert page.external == [] and page.dialogs == [] and page.errors == []
