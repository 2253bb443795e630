"""End to end in real headless Chromium: sign in, open a ring, the network renders with the ring's nodes,
click a node for the side panel, double-click to expand in place, confirm a case and see the labels change,
hostile ids stay text, nothing is fetched from another site. Screenshots go to test-artifacts/."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest


pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
HOSTILE = "<img src=x onerror=alert(1)>"
N_NODES = "() => window.gfNetwork.body.data.nodes.length"


def wait_ready(page, timeout=15000):
    page.wait_for_selector("#graph[data-ready='1']", state="attached", timeout=timeout)


def node_point(page, node_id):
    """Screen coordinates of a node, from vis-network's own positions."""
    box = page.locator("#graph").bounding_box()
    p = page.evaluate("""(id) => { const n = window.gfNetwork; n.focus(id, {scale: 1.4, animation: false});
        return n.canvasToDOM(n.getPosition(id)); }""", node_id)
    return box["x"] + p["x"], box["y"] + p["y"]


def ring_with_outside_links(world):
    """A ring whose users have identifiers beyond the ring's members (so expanding adds nodes)."""
    return next(r for r in world["rings"] if HOSTILE not in r["users"])


def test_sign_in_open_ring_click_expand_and_confirm(page, server, world):
    ring = ring_with_outside_links(world)
    expected = len({(m["type"], m["id"]) for m in ring["members"]})

    page.goto(server + "/rings")
    page.click(f"a[href='/rings/{ring['ring_id']}']")
    wait_ready(page)
    assert page.evaluate(N_NODES) == expected
    page.screenshot(path=str(ARTIFACTS / "ring.png"))

    # click a user node: the side panel shows its details and transactions
    user = next(u for u in ring["users"])
    x, y = node_point(page, f"user:{user}")
    page.mouse.click(x, y)
    panel = page.locator("[data-role=panel]")
    panel.locator("h3").filter(has_text=user).wait_for(timeout=5000)
    panel.locator("ul.txs li").first.wait_for(timeout=5000)
    assert "Transactions" in panel.inner_text()
    assert ring["ring_id"] in panel.inner_text()

    # double-click: neighbours fetched as JSON and added in place (no page load)
    url_before, n_before = page.url, page.evaluate(N_NODES)
    with page.expect_response(lambda r: "/ui/graph/entity/user/" in r.url) as resp:
        x, y = node_point(page, f"user:{user}")
        page.mouse.dblclick(x, y)
    assert resp.value.status == 200
    page.wait_for_function(f"() => window.gfNetwork.body.data.nodes.length > {n_before}", timeout=5000)
    assert page.url == url_before
    page.screenshot(path=str(ARTIFACTS / "ring-expanded.png"))

    # exports
    with page.expect_download() as dl:
        page.click("[data-export=csv]")
    assert dl.value.suggested_filename.endswith(".csv")
    with page.expect_download() as dl:
        page.click("[data-export=png]")
    assert dl.value.suggested_filename.endswith(".png")

    # confirm a case: the members' labels change on the ring page and in the network
    assert "fraudster" not in page.locator("table.members").inner_text()
    page.click("[data-role=open-case]")
    page.wait_for_url("**/cases/*")
    page.select_option("select[name=status]", "confirmed")
    page.fill("textarea[name=note]", "shared devices and cards")
    page.click(".caseform button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("[data-role=case-status]").inner_text() == "Confirmed fraud"
    labels = page.locator("table.members td.label").all_inner_texts()
    assert labels and all(t == "fraudster" for t in labels)
    page.screenshot(path=str(ARTIFACTS / "case-confirmed.png"))
    page.goto(f"{server}/rings/{ring['ring_id']}")
    wait_ready(page)
    assert set(page.locator("table.members td.label").all_inner_texts()) == {"fraudster"}
    marked = page.evaluate("() => window.gfNetwork.body.data.nodes.get().filter(n => n.gf.type === 'user')"
                           ".every(n => n.gf.fraud === true)")
    assert marked

    assert page.external == [] and page.dialogs == [] and page.errors == []


def test_hostile_ids_stay_text(page, server):
    page.goto(f"{server}/entities/user/{quote(HOSTILE, safe='')}")
    wait_ready(page)
    assert page.locator("h1 .ident").inner_text() == HOSTILE
    n = page.evaluate(N_NODES)
    assert n >= 2
    # hover the hostile node so vis-network shows its tooltip
    x, y = node_point(page, f"user:{HOSTILE}")
    page.mouse.move(x, y)
    page.wait_for_timeout(600)
    page.mouse.click(x, y)
    page.locator("[data-role=panel] h3").filter(has_text=HOSTILE).wait_for(timeout=5000)
    page.goto(f"{server}/transactions/XSS1")
    page.goto(f"{server}/search?q={quote(HOSTILE, safe='')}")
    page.wait_for_timeout(300)
    assert page.locator("img").count() == 0
    page.screenshot(path=str(ARTIFACTS / "hostile.png"))
    assert page.dialogs == [] and page.external == [] and page.errors == []


def test_bidi_controls_in_the_side_panel_are_shown_not_obeyed(page, server):
    spoof = "U\u202egpj.exe"
    page.goto(f"{server}/entities/user/{quote(spoof, safe='')}")
    wait_ready(page)
    x, y = node_point(page, f"user:{spoof}")
    page.mouse.click(x, y)
    panel = page.locator("[data-role=panel]")
    panel.locator("ul.txs li").first.wait_for(timeout=5000)
    text = panel.inner_text()
    assert "\u202e" not in text
    assert "U\u27e8U+202E\u27e9gpj.exe" in text and "TX\u27e8U+202E\u27e9gpj.exe" in text  # the id, a transaction
    assert panel.locator("ul.txs a").first.get_attribute("href").endswith(quote("TX\u202egpj.exe", safe=""))


def test_dashboard_charts_and_time_filter(page, server, world):
    page.goto(server + "/")
    assert page.locator("canvas[data-chart]").count() >= 5
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"))
    ring = world["rings"][0]
    page.goto(f"{server}/rings/{ring['ring_id']}")
    wait_ready(page)
    full_edges = page.evaluate("() => window.gfNetwork.body.data.edges.length")
    page.fill("input[name=since]", "2100-01-01")
    page.click("[data-role=timefilter] button[type=submit]")
    page.wait_for_function("() => window.gfNetwork.body.data.edges.length === 0", timeout=5000)
    assert full_edges > 0
    assert page.dialogs == [] and page.external == [] and page.errors == []
