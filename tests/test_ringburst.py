"""Bust-outs (graphfraud.ringburst): accounts that strike together are linked by the strike itself."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from graphfraud.ringburst import MAX_BUSTOUT_GROUP, bustout_edges, bustouts, read_bustout_edges, surges
from graphfraud.ringlinks import poisson_sf
from graphfraud.rings import detect_rings
from graphfraud.storage import open_store

from tests.test_rings import _rows, _write

DAY = 86_400_000
HOUR = 3_600_000


def _tx(rows):
    return pd.DataFrame(rows, columns=["user_id", "ts", "merchant_id", "amount"])


def _life(user, days=range(0, 56, 7), shop="grocer"):
    """A customer's ordinary life: one purchase a week."""
    return [(user, d * DAY + 10 * HOUR, shop, 30.0) for d in days]


def _strike(user, day, shops, start_hour=18.0, n=4, amount=400.0):
    return [(user, int(day * DAY + (start_hour + k * 0.7) * HOUR), shops[k % len(shops)], amount) for k in range(n)]


@pytest.mark.parametrize(("rows", "expected"), [
    (_life("a") + _strike("a", 60, ["E1", "E2"]), ["a"]),
    # a customer who shops every day does several purchases a day without bursting
    ([("b", int(d * DAY / 3), f"s{d % 4}", 25.0) for d in range(3 * 60)], []),
    # a busy day of small purchases is not where the account's money went
    (_life("c", shop="car dealer") + _strike("c", 60, ["E1", "E2"], amount=5.0), []),
    # two purchases are a busy day, not a bust-out
    (_life("d") + _strike("d", 60, ["E1", "E2"], n=2), []),
], ids=["dormant-account-strikes", "daily-shopper", "small-purchases", "two-purchases"])
def test_a_bust_out_is_far_more_than_the_account_own_rate(rows, expected):
    assert sorted(set(bustouts(_tx(rows))["user_id"])) == expected


def test_bust_outs_that_meet_at_two_merchants_within_hours_are_linked():
    rows = []
    for u in ("s0", "s1", "s2"):  # a sleeper ring: same evening, same two shops
        rows += _life(u) + _strike(u, 60, ["E1", "E2"], start_hour=18 + int(u[1]) * 0.3)
    rows += _life("x") + _strike("x", 60, ["E1", "G7"])  # one shop in common: chance
    rows += _life("y") + _strike("y", 40, ["E1", "E2"])  # the same shops another day: chance
    e = bustout_edges(_tx(rows), 100)
    pairs = sorted(tuple(sorted(g["user_id"])) for _, g in e.groupby("ent"))
    assert pairs == [("s0", "s1"), ("s0", "s2"), ("s1", "s2")]
    assert set(e["ent"]) == {100, 101, 102} and e["thin"].all() and (e["type"] == "bustout").all()


def test_a_crowd_at_a_sale_is_not_a_ring():
    rows = []
    for i in range(MAX_BUSTOUT_GROUP + 1):
        rows += _life(f"c{i}") + _strike(f"c{i}", 60, ["E1", "E2"], start_hour=18 + i * 0.05)
    assert len(bustout_edges(_tx(rows), 0)) == 0


def _store_rows(rings, customers=12):
    """(user, day, amount, card, device, ip, merchant) rows: customers, and sleepers who share nothing but
    the evening they strike."""
    rows = []
    for i in range(customers):  # customers, each with a busy day of their own now and then
        rows += [(f"c{i}", d + 0.4, 35.0, f"cc{i}", f"cd{i}", f"10.0.0.{i}", f"shop{(i + d) % 6}")
                 for d in range(0, 80, 5)]
        rows += [(f"c{i}", 30 + i * 3 + k * 0.1, 120.0, f"cc{i}", f"cd{i}", f"10.0.0.{i}", "E1" if k % 2 else "E2")
                 for k in range(3)]
    for name, members, shared_dev in rings:
        for j in range(members):
            u = f"{name}{j}"
            rows += [(u, d + 0.5, 30.0, f"{u}-card", shared_dev or f"{u}-dev", f"20.{ord(name)}.{j}.1", "grocer")
                     for d in range(10, 60, 6)]
            rows += [(u, 62 + (18 + j * 0.2 + k * 0.5) / 24, 450.0, f"{u}-card", shared_dev or f"{u}-dev",
                      f"20.{ord(name)}.{j}.1", ("E1", "E2", "G3")[k % 3]) for k in range(5)]
    return rows


def test_a_sleeper_ring_that_shares_nothing_but_its_strike_is_found(tmp_path):
    store = open_store(str(tmp_path / "gf.db"))
    _write(store, _rows(_store_rows([("s", 4, None)])))
    rings = detect_rings(store)
    store.close()
    assert [r.users for r in rings] == [["s0", "s1", "s2", "s3"]]
    assert any("on the same day" in txt for txt in rings[0].reasons)
    assert all(x["type"] != "bustout" for x in rings[0].shared_identifiers)


def test_bust_outs_never_merge_two_rings_that_strike_the_same_evening(tmp_path):
    store = open_store(str(tmp_path / "gf.db"))
    _write(store, _rows(_store_rows([("a", 4, "dev-a"), ("b", 4, "dev-b")])))
    found = sorted(r.users for r in detect_rings(store))
    store.close()
    assert found == [["a0", "a1", "a2", "a3"], ["b0", "b1", "b2", "b3"]]


def test_a_ring_found_through_its_proxy_is_not_absorbed_by_another_that_struck_the_same_evening(tmp_path):
    rows = _store_rows([("a", 4, "dev-a")])
    # seven sleepers whose only shared identifier is the proxy they strike through (more users than a home
    # has, for a few hours: a crew's proxy, a thin link like the bust-outs that tie them to ring a as well)
    for j in range(7):
        u = f"x{j}"
        rows += [(u, d + 0.5, 30.0, f"{u}-card", f"{u}-dev", f"30.0.{j}.1", "grocer") for d in range(10, 60, 6)]
        rows += [(u, 62 + (18 + j * 0.8 + k * 0.15) / 24, 450.0, f"{u}-card", f"{u}-dev", "9.9.9.9",
                  ("E1", "E2", "G3")[k % 3]) for k in range(5)]
    store = open_store(str(tmp_path / "gf.db"))
    _write(store, _rows(rows))
    found = sorted(r.users for r in detect_rings(store))
    store.close()
    assert found == [["a0", "a1", "a2", "a3"], [f"x{j}" for j in range(7)]]


def test_bust_outs_do_not_depend_on_the_order_rows_come_in():
    rows = _life("a") + _strike("a", 60, ["E1", "E2"]) + _life("b", shop="E1") + _strike("b", 30, ["E2", "E3"])
    rows += [("b", 30 * DAY + 18 * HOUR, "E9", 400.0)]  # two purchases at the same time: ties keep their order
    want = bustouts(_tx(rows))
    for seed in range(3):
        shuffled = _tx(rows).sample(frac=1.0, random_state=seed).reset_index(drop=True)
        got = bustouts(shuffled)
        assert sorted(map(tuple, got.to_numpy().tolist())) == sorted(map(tuple, want.to_numpy().tolist()))
    assert list(want["user_id"]) == sorted(want["user_id"]) and set(want["user_id"]) == {"a", "b"}


def test_bust_outs_keep_the_other_columns_of_their_rows():
    t = _tx(_life("a") + _strike("a", 60, ["E1", "E2"]) + [("a", 60 * DAY + 21 * HOUR, "E1", -50.0)])
    t = t.drop(columns="merchant_id")
    t["seq"] = np.arange(len(t)) * 10
    got = bustouts(t)
    assert list(got.columns) == ["user_id", "ts", "amount", "seq"] and got["seq"].tolist() == [80, 90, 100, 110, 120]
    assert got["amount"].tolist() == [400.0] * 4 + [-50.0]  # a refund keeps its amount


def test_reading_merchants_only_for_the_bust_outs_gives_the_same_links():
    rows = []
    for u in ("s0", "s1", "s2"):
        rows += _life(u) + _strike(u, 60, ["E1", "E2"], start_hour=18 + int(u[1]) * 0.3)
    rows += _life("x") + _strike("x", 60, ["E1", "G7"]) + _life("q")
    rows += _life("v") + _spree("v", 60, ["R1", "R2"])  # a surge, no bust-out
    frame = _tx(rows).assign(seq=np.arange(1, len(rows) + 1))
    asked = []

    def transactions_of_users(users, columns):
        asked.append((None if users is None else sorted(users), list(columns)))
        t = frame if users is None else frame[frame["user_id"].isin(list(users))]
        return t[list(columns)].reset_index(drop=True)

    def customers(merchants):
        return frame.groupby("merchant_id")["user_id"].nunique().reindex(merchants).to_numpy()

    got = read_bustout_edges(transactions_of_users, customers, 7)
    pd.testing.assert_frame_equal(got, bustout_edges(_tx(rows), 7))
    assert len(got) == 6
    # every account's transactions without their merchants; merchants for the accounts that burst or surged only
    assert asked == [(None, ["seq", "user_id", "ts", "amount"]),
                     (["s0", "s1", "s2", "v", "x"], ["seq", "merchant_id"])]


def test_a_merchant_counts_at_least_the_customers_seen_striking_there():
    rows = _town(shops=("P1",))
    for u in ("v0", "v1"):  # two customers on a spree, the same days, at the popular shop and a new one
        rows += _life(u) + _spree(u, 60, ["P1", "Q"])
    frame = _tx(rows).assign(seq=np.arange(1, len(rows) + 1))

    def transactions_of_users(users, columns):
        t = frame if users is None else frame[frame["user_id"].isin(list(users))]
        return t[list(columns)].reset_index(drop=True)

    def stale(merchants):  # counts that lag the transactions: the new shop not counted yet
        return frame[frame["merchant_id"] != "Q"].groupby("merchant_id")["user_id"].nunique().reindex(
            merchants).fillna(0).to_numpy()

    assert len(bustout_edges(_tx(rows), 0)) == 0
    assert len(read_bustout_edges(transactions_of_users, stale, 0)) == 0


def _spree(user, day, shops, n=6, amount=900.0):
    """A strike spread over three days: two purchases a day, at ``shops`` in turn."""
    return [(user, int((day + k // 2) * DAY + (9 + 7 * (k % 2)) * HOUR), shops[k % len(shops)], amount)
            for k in range(n)]


@pytest.mark.parametrize(("rows", "expected"), [
    (_life("a") + _spree("a", 60, ["E1", "E2"]), ["a"]),
    # a big spender whose usual purchases are as large
    ([("b", d * DAY, "car dealer", 900.0) for d in range(0, 70, 3)], []),
    # a few busy days of small purchases are not where the account's money went
    (_life("c", shop="car dealer") + _spree("c", 60, ["E1", "E2"], amount=20.0), []),
    # a new account has no history to surge above
    (_life("d", days=[0, 7]) + _spree("d", 10, ["E1", "E2"]), []),
], ids=["spread-strike", "big-spender", "small-purchases", "no-history"])
def test_a_surge_is_far_more_spending_than_the_account_own_rate(rows, expected):
    assert sorted(set(surges(_tx(rows))["user_id"])) == expected
    if expected:  # two purchases a day: no bust-out
        assert len(bustouts(_tx(rows))) == 0


def _town(n=200, shops=("P1", "P2")):
    """``n`` customers with a weekly grocery run, who also shop at ``shops`` now and then."""
    rows = []
    for i in range(n):
        rows += _life(f"c{i}", shop=f"grocer{i % 5}") + [(f"c{i}", (3 + i % 40) * DAY, s, 40.0) for s in shops]
    return rows


def test_surges_that_meet_at_rare_merchants_on_the_same_days_are_linked():
    rows = _town()
    for u in ("s0", "s1", "s2"):  # a crew cashing out over three days at two shops only it uses
        rows += _life(u) + _spree(u, 60, ["E1", "E2"])
    for u in ("v0", "v1"):  # two customers on a spree at the town's popular shops, the same days
        rows += _life(u) + _spree(u, 60, ["P1", "P2"])
    rows += _life("w") + _spree("w", 60, ["E1", "P1"])  # one rare shop in common: chance
    for u, hour in (("b0", 2.0), ("b1", 14.0)):  # two bust-outs at rare shops, the same day but 12 hours apart
        rows += _life(u) + _strike(u, 70, ["F1", "F2"], start_hour=hour)
    e = bustout_edges(_tx(rows), 0)
    pairs = sorted(tuple(sorted(g["user_id"])) for _, g in e.groupby("ent"))
    assert pairs == [("s0", "s1"), ("s0", "s2"), ("s1", "s2")]
    assert e["thin"].all() and (e["type"] == "bustout").all()


def test_a_sleeper_ring_whose_strike_spreads_over_days_is_found(tmp_path):
    rows = [(u, ts / DAY, amount, f"{u}-card", f"{u}-dev", f"10.1.{i % 250}.{i // 250}", m)
            for i, (u, ts, m, amount) in enumerate(_town())]
    for j in range(4):
        u = f"s{j}"
        rows += [(u, ts / DAY, amount, f"{u}-card", f"{u}-dev", f"20.0.{j}.1", m)
                 for u, ts, m, amount in _life(u) + _spree(u, 60, ["E1", "E2", "E3"], n=7)]
    store = open_store(str(tmp_path / "gf.db"))
    _write(store, _rows(rows))
    rings = detect_rings(store)
    store.close()
    assert [r.users for r in rings] == [["s0", "s1", "s2", "s3"]]


@pytest.mark.parametrize("mu", [0.0, 1e-6, 0.3, 2.5, 40.0], ids=lambda m: f"mu={m}")
def test_poisson_tail_is_scipy_stats(mu):
    from scipy.stats import poisson

    k = np.arange(-2, 60)
    assert np.array_equal(poisson_sf(k, np.full(len(k), mu)), poisson.sf(k, mu))
