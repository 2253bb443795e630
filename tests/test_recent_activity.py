"""``comp_recent_tx`` and ``comp_recent_users``: the recent activity of the other accounts in a transaction's
cluster, each transaction fading by ``graph.components.decay``; the accounts opened on one device
(``opened_on_device_*``), which hold past the hub limit; a merchant's last 6 hours against its week. Checked by hand on small clusters, and on a
generated world against a brute-force sum over every member's transactions (what the engine keeps as running
totals at union-find roots, merged on union and recomputed when hubs split components)."""
from __future__ import annotations

import copy
import csv
import math
from pathlib import Path

import pytest

from graphfraud.graph import components
from graphfraud.graph.components import ACTIVITY_TAU_MS, decay
from graphfraud.graph.engine import GraphEngine
from graphfraud.graph.features import compute_features
from graphfraud.schema import Transaction, validate_record

HOUR = 3_600_000
T0 = 1_700_000_000_000


def _tx(i: int, user: str, hours: float, device: str | None = None) -> Transaction:
    return Transaction(f"t{i}", T0 + int(hours * HOUR), user, 10.0, device_id=device, merchant_id="m1")


def _recent(engine: GraphEngine, tx: Transaction) -> tuple[float, float]:
    engine.advance(tx.ts)
    f = compute_features(engine, tx)
    return f["comp_recent_tx"], f["comp_recent_users"]


def test_a_lone_account_has_no_recent_cluster_activity() -> None:
    e = GraphEngine()
    for i in range(5):
        tx = _tx(i, "alone", i * 0.5, device="d-alone")
        assert _recent(e, tx) == (0.0, 0.0)
        e.apply(tx)


def test_linked_accounts_count_each_others_recent_transactions_fading_with_time() -> None:
    e = GraphEngine()
    e.apply(_tx(1, "a", 0.0, device="shared"))
    e.apply(_tx(2, "a", 0.5, device="shared"))  # a's second purchase half an hour later: hardly a new user
    tx = _tx(3, "b", 2.0, device="shared")  # b, on the same device, two hours after a's first purchase
    rtx, rus = _recent(e, tx)
    w1, w2 = math.exp(-2.0 * HOUR / ACTIVITY_TAU_MS), math.exp(-1.5 * HOUR / ACTIVITY_TAU_MS)
    assert rtx == pytest.approx(w1 + w2)
    assert rus == pytest.approx(w1 + (1 - math.exp(-0.5 * HOUR / ACTIVITY_TAU_MS)) * w2)
    # a day later it has all but faded; an account on another device sees none of it
    assert _recent(e, _tx(4, "b", 26.0, device="shared"))[0] == pytest.approx((w1 + w2) * decay(24 * HOUR))
    assert _recent(e, _tx(5, "c", 2.0, device="other")) == (0.0, 0.0)


def test_a_transaction_joining_two_clusters_sees_both() -> None:
    e = GraphEngine()
    e.apply(_tx(1, "a", 0.0, device="d1"))
    e.apply(_tx(2, "b", 1.0, device="d2"))
    both = Transaction("t3", T0 + 3 * HOUR, "c", 5.0, device_id="d1", ip="9.9.9.9")
    e.apply(Transaction("t0", T0 + 1 * HOUR, "c", 5.0, ip="9.9.9.9"))  # c's own earlier purchase
    e.advance(both.ts)
    f = compute_features(e, both)
    # c's own purchase is not counted; a's (3 h ago) is, through d1
    assert f["comp_recent_tx"] == pytest.approx(decay(3 * HOUR))
    e.apply(both)
    f = compute_features(e, _tx(4, "d", 3.0, device="d2"))  # d reaches b only
    assert f["comp_recent_tx"] == pytest.approx(decay(2 * HOUR))
    e.apply(Transaction("t5", T0 + 4 * HOUR, "b", 1.0, device_id="d2", ip="9.9.9.9"))  # b joins a and c
    f = compute_features(e, _tx(6, "z", 5.0, device="d1"))
    want = decay(5 * HOUR) + decay(4 * HOUR) + decay(2 * HOUR) + decay(4 * HOUR) + decay(1 * HOUR)
    assert f["comp_recent_tx"] == pytest.approx(want)


def _world(tmp_path: Path) -> list[Transaction]:
    from graphfraud.synth.worlds import write_world

    out = tmp_path / "w.csv"
    write_world(out, 800, seed=3, profile="sleepers")
    with open(out, newline="", encoding="utf-8") as fh:
        txs = [validate_record(r) for r in csv.DictReader(fh)]
    txs.sort(key=lambda t: t.ts)
    return txs


def test_cluster_totals_equal_a_brute_force_sum_over_members(tmp_path: Path) -> None:
    txs = _world(tmp_path)
    e = GraphEngine()
    for tx in txs:
        e.apply(tx)
    now = txs[-1].ts
    e.take_snapshot(now)  # components glued by identifiers that became hubs are split again
    by_user: dict[str, list[int]] = {}
    for tx in txs:
        by_user.setdefault(tx.user_id, []).append(tx.ts)
    want_tx: dict[int, float] = {}
    want_users: dict[int, float] = {}
    for uid, times in by_user.items():
        root = e.find(e.u_node[e.user_ix[uid]])
        want_tx[root] = want_tx.get(root, 0.0) + sum(decay(now - t) for t in times)
        fresh = [1.0] + [1.0 - decay(b - a) for a, b in zip(times, times[1:])]
        want_users[root] = want_users.get(root, 0.0) + sum(w * decay(now - t) for w, t in zip(fresh, times))
    assert len(want_tx) > 100 and max(want_tx.values()) > 1.0  # clusters, some of them active at the end
    for root, rtx in want_tx.items():
        c = e.comp[root]
        assert c is not None
        got = c.recent_at(now)
        assert got[0] == pytest.approx(rtx, rel=1e-9, abs=1e-12), root
        assert got[1] == pytest.approx(want_users[root], rel=1e-9, abs=1e-12), root
    # and a full rebuild of the components from the links makes the same totals
    rebuilt = copy.deepcopy(e)
    components.rebuild(rebuilt)
    for root in want_tx:
        c = rebuilt.comp[rebuilt.find(root)]
        assert c is not None
        assert c.recent_at(now)[0] == pytest.approx(want_tx[root], rel=1e-9, abs=1e-12)


def test_a_merchants_last_six_hours_against_its_week() -> None:
    e = GraphEngine()
    k = 0
    for h in range(7 * 24):  # a week of one payment an hour from different customers
        k += 1
        e.apply(Transaction(f"w{k}", T0 + h * HOUR, f"u{k}", 20.0, merchant_id="shop"))
    now = T0 + 7 * 24 * HOUR
    usual = Transaction("x1", now, "someone", 20.0, merchant_id="shop")
    e.advance(now)
    f = compute_features(e, usual)
    # the last six hours hold 6 of the week's 168 payments: as usual
    assert f["merchant_tx_6h"] == 6.0
    assert f["merchant_burst_6h"] == pytest.approx((6 + 1) / (168 * 6 / (7 * 24) + 1))
    for j in range(30):  # then thirty accounts pay there within the hour
        e.apply(Transaction(f"b{j}", now + j * 60_000, f"ring{j}", 300.0, merchant_id="shop"))
    late = Transaction("x2", now + HOUR, "someone", 20.0, merchant_id="shop")
    e.advance(late.ts)
    f = compute_features(e, late)
    # (now + 1 h - 6 h, now + 1 h] holds the hourly payments of hours 163-167 and the thirty
    assert f["merchant_tx_6h"] == 35.0
    assert f["merchant_burst_6h"] == pytest.approx(36 / (197 * 6 / (7 * 24) + 1))
    assert f["merchant_burst_6h"] > 4.0
    # no merchant: nothing to compare
    g = compute_features(e, Transaction("x3", late.ts, "someone", 1.0))
    assert g["merchant_tx_6h"] == 0.0 and math.isnan(g["merchant_burst_6h"])


def test_accounts_opened_on_one_device_count_each_other_even_past_the_hub_limit() -> None:
    e = GraphEngine()
    for k in range(25):  # 25 accounts first used on one device: more than the device hub limit (20)
        e.apply(_tx(k, f"acct{k}", k * 0.01, device="farm"))
        e.apply(_tx(100 + k, f"acct{k}", 1.0 + k * 0.01, device=f"own{k}"))
    e.apply(_tx(500, "other", 0.0, device="own-other"))
    e.apply(_tx(501, "other", 48.0, device="farm"))  # first used elsewhere: not one of them
    # three weeks later, ten of them wake up within the hour, each on its own device
    for k in range(10):
        e.apply(_tx(200 + k, f"acct{k}", 21 * 24 + k * 0.1, device=f"own{k}"))
    tx = _tx(300, "acct20", 21 * 24 + 1.0, device="own20")
    e.advance(tx.ts)
    f = compute_features(e, tx)
    assert f["opened_on_device_users"] == 24.0
    want = sum(decay((1.0 - k * 0.1) * HOUR) * (1 - decay((21 * 24 + k * 0.1 - 1.0 - k * 0.01) * HOUR))
               for k in range(10))
    assert f["opened_on_device_recent_users"] == pytest.approx(want)
    assert 9.0 < want < 10.0
    assert f["opened_on_device_recent_share"] == pytest.approx(want / 24.0)
    # the cluster view cannot see them: the device is a hub
    assert f["comp_recent_users"] == 0.0
    # an account with no device so far, about to be first used on the farm, sees all 25
    g = compute_features(e, _tx(301, "newcomer", 21 * 24 + 1.0, device="farm"))
    assert g["opened_on_device_users"] == 25.0
    assert g["opened_on_device_recent_users"] == pytest.approx(want)
    assert g["opened_on_device_recent_share"] == pytest.approx(want / 25.0)
    assert compute_features(e, _tx(302, "nodevice", 21 * 24 + 1.0))["opened_on_device_users"] == 0.0
