"""The graph engine, its snapshots and point-in-time features; networkx is the correctness reference."""
from __future__ import annotations

import pickle
import random
from collections.abc import Callable, Iterable
from typing import Any

import networkx as nx
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from array import array

from graphfraud.graph.engine import GraphEngine, _tally
from graphfraud.graph.features import compute_features, feature_names, feature_row, row_names
from graphfraud.graph.policy import LinkPolicy
from graphfraud.graph.snapshot import pagerank
from graphfraud.schema import Label, Transaction, format_ts, validate_record

T0 = 1767348000000  # 2026-01-02T10:00:00Z
MIN = 60_000
HOUR = 3_600_000
DAY = 86_400_000
LINKING = frozenset({"card", "device", "ip"})


# ---------------------------------------------------------------- factories
def make_tx(tid: str, user: str, ts: int, amount: float = 10.0, **fields: Any) -> Transaction:
    data = {"transaction_id": tid, "timestamp": format_ts(ts), "user_id": user, "amount": amount}
    data.update({k: (format_ts(v) if k == "labelled_at" else v) for k, v in fields.items()})
    return validate_record(data)


def make_engine(limit: int = 10**6, limits: dict[str, int] | None = None, **kw: Any) -> GraphEngine:
    kw.setdefault("snapshot_interval_ms", DAY)
    kw.setdefault("label_delay_ms", DAY)
    return GraphEngine(policy=LinkPolicy(LINKING, {"default": limit, **(limits or {})}), **kw)


def replay(engine: GraphEngine, txs: Iterable[Transaction]) -> list[dict[str, float]]:
    """The online pattern: advance to the transaction's time, read its features, then apply it."""
    out = []
    for tx in txs:
        engine.advance(tx.ts)
        out.append(compute_features(engine, tx))
        engine.apply(tx)
    return out


def features_at(engine: GraphEngine, tx: Transaction) -> dict[str, float]:
    return replay(engine, [tx])[0]


def random_world(seed: int, n_users: int = 30) -> list[Transaction]:
    """Users with 1-3 transactions on small pools of cards, devices and IPs (plus a context merchant)."""
    rng = random.Random(seed)
    txs = []
    for i in range(n_users * 2):
        fields: dict[str, Any] = {"merchant_id": f"m{rng.randrange(3)}"}
        for col, pool in (("card_id", 25), ("device_id", 20), ("ip", 40)):
            if rng.random() < 0.6:
                fields[col] = f"10.0.0.{rng.randrange(pool)}" if col == "ip" else f"{col[0]}{rng.randrange(pool)}"
        txs.append(make_tx(f"t{i}", f"u{rng.randrange(n_users)}", T0 + i * MIN, **fields))
    return txs


def reference_graph(txs: Iterable[Transaction], linking: frozenset[str] = LINKING) -> nx.Graph:
    g = nx.Graph()
    for tx in txs:
        g.add_node(("user", tx.user_id))
        for typ, name in tx.entities():
            if typ in linking:
                g.add_edge(("user", tx.user_id), (typ, name))
    return g


# ---------------------------------------------------------------- components and PageRank vs networkx
@pytest.mark.parametrize("seed", range(8), ids=[f"seed{s}" for s in range(8)])
def test_component_users_match_networkx(seed: int) -> None:
    txs = random_world(seed)
    engine = make_engine()
    for tx in txs:
        engine.apply(tx)
    g = reference_graph(txs)
    sizes = {}
    for comp in nx.connected_components(g):
        n_users = sum(1 for kind, _ in comp if kind == "user")
        for kind, name in comp:
            if kind == "user":
                sizes[name] = n_users
    assert len(set(sizes.values())) > 1 or len(sizes) > 1  # a graph with structure, not one blob of one
    assert {u: engine.component_of(u).users for u in sizes} == sizes


def test_merchant_is_context_and_does_not_link() -> None:
    engine = make_engine()
    for i in range(3):
        engine.apply(make_tx(f"t{i}", f"u{i}", T0 + i, merchant_id="m1"))
    assert [engine.component_of(f"u{i}").users for i in range(3)] == [1, 1, 1]


def _random_edges(rng: np.random.Generator, n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    pairs = {tuple(sorted(p)) for p in rng.integers(0, n, size=(m, 2)).tolist() if p[0] != p[1]}
    arr = np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2)
    return arr[:, 0], arr[:, 1]


@pytest.mark.parametrize(("n", "m", "seeded"), [(10, 12, False), (40, 60, False), (60, 40, False), (40, 80, True),
                                                (60, 50, True)],
                         ids=["small", "medium", "sparse-with-isolated", "personalised", "personalised-sparse"])
def test_pagerank_matches_networkx(n: int, m: int, seeded: bool) -> None:
    rng = np.random.default_rng(n * 1000 + m)
    src, dst = _random_edges(rng, n, m)
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(zip(src.tolist(), dst.tolist()))
    pers = None
    nx_pers = None
    if seeded:
        seeds = rng.choice(n, size=3, replace=False).tolist()
        pers = np.zeros(n)
        pers[seeds] = 1.0
        nx_pers = {i: (1.0 if i in seeds else 0.0) for i in range(n)}
    ours = pagerank(n, src, dst, personalization=pers)
    ref = nx.pagerank(g, alpha=0.85, personalization=nx_pers, tol=1e-12, max_iter=10_000)
    assert np.abs(ours - np.array([ref[i] for i in range(n)])).max() < 1e-6
    assert abs(ours.sum() - 1.0) < 1e-9


def test_snapshot_pagerank_feature_matches_networkx() -> None:
    txs = random_world(3, n_users=20)
    engine = make_engine()
    for tx in txs:
        engine.apply(tx)
    engine.take_snapshot(txs[-1].ts)
    g = reference_graph(txs)
    ref = nx.pagerank(g, tol=1e-12, max_iter=10_000)
    n = g.number_of_nodes()
    probe = make_tx("probe", "u1", txs[-1].ts + MIN)
    f = compute_features(engine, probe)
    # snapshots stop iterating at an L1 change of n * SNAPSHOT_TOL: features agree to about 1e-4
    assert abs(f["pagerank"] - ref[("user", "u1")] * n) < 2e-4


# ---------------------------------------------------------------- hubs
def test_ip_hub_splits_after_snapshot_and_is_a_feature() -> None:
    engine = make_engine(limit=10**6, limits={"ip": 25})
    txs = [make_tx(f"t{i}", f"u{i}", T0 + i * MIN, ip="100.64.0.1", device_id=f"d{i}") for i in range(30)]
    for tx in txs:
        engine.apply(tx)
    engine.queue_label(Label("user", "u3", "fraudster", T0, "investigator"))
    engine.take_snapshot(txs[-1].ts)
    sizes = [engine.component_of(f"u{i}").users for i in range(30)]
    assert max(sizes) == 1, sizes
    f = features_at(engine, make_tx("t30", "u30", T0 + 31 * MIN, ip="100.64.0.1", device_id="d30"))
    assert f["ip_hub"] == 1.0
    assert f["n_hub_identifiers"] == 1.0
    assert f["ip_users"] == 30.0
    assert f["fraud_users_2hop"] == 0.0  # a hub does not carry known fraud to its users
    assert f["comp_users"] == 1.0


def test_below_the_hub_limit_users_are_linked() -> None:
    engine = make_engine(limits={"ip": 25})
    for i in range(25):
        engine.apply(make_tx(f"t{i}", f"u{i}", T0 + i * MIN, ip="100.64.0.1"))
    engine.take_snapshot(T0 + HOUR)
    assert engine.component_of("u0").users == 25
    f = features_at(engine, make_tx("t25", "u0", T0 + HOUR, ip="100.64.0.1"))
    assert f["ip_hub"] == 0.0


# ---------------------------------------------------------------- point in time
FRAUD_VIEW = ("device_fraud_users", "fraud_users_2hop", "comp_fraud_users")


def _seen(f: dict[str, float]) -> tuple[float, ...]:
    return tuple(f[k] for k in FRAUD_VIEW)


@pytest.mark.parametrize(("labelled_at", "later", "visible"), [
    (None, HOUR, False),
    (None, 2 * DAY, True),
    (None, DAY - MIN, False),
    (3 * HOUR, 2 * HOUR, False),
    (3 * HOUR, 4 * HOUR, True),
], ids=["delay-1h-later", "delay-2d-later", "delay-just-before", "explicit-before", "explicit-after"])
def test_fraud_label_visible_only_once_known(labelled_at: int | None, later: int, visible: bool) -> None:
    engine = make_engine()
    fields = {"labelled_at": T0 + labelled_at} if labelled_at is not None else {}
    a = make_tx("A", "ua", T0, device_id="D1", is_fraud="1", **fields)
    b = make_tx("B", "ub", T0 + later, device_id="D1")
    _, fb = replay(engine, [a, b])
    assert _seen(fb) == ((1.0, 1.0, 1.0) if visible else (0.0, 0.0, 0.0))


def test_features_never_see_a_later_transaction() -> None:
    engine = make_engine()
    fa, fb = replay(engine, [make_tx("A", "ua", T0, device_id="D1"), make_tx("B", "ub", T0 + MIN, device_id="D1")])
    assert fa["device_users"] == 0.0 and fa["comp_users"] == 1.0
    assert fb["device_users"] == 1.0 and fb["comp_users"] == 2.0


def test_victim_is_not_known_fraud() -> None:
    engine = make_engine()
    replay(engine, [make_tx("A", "ua", T0, device_id="D1", is_fraud="1")])
    engine.queue_label(Label("user", "ua", "victim", T0 + HOUR, "investigator"))
    f_other = features_at(engine, make_tx("B", "ub", T0 + 2 * DAY, device_id="D1"))
    assert _seen(f_other) == (0.0, 0.0, 0.0)
    f_self = features_at(engine, make_tx("C", "ua", T0 + 2 * DAY + MIN, device_id="D1"))
    assert (f_self["user_known_fraud"], f_self["user_victim"]) == (0.0, 1.0)


def test_fraudster_label_makes_the_user_known_fraud_from_its_time() -> None:
    engine = make_engine()
    replay(engine, [make_tx("A", "ua", T0, device_id="D1")])
    engine.queue_label(Label("user", "ua", "fraudster", T0 + 2 * HOUR, "investigator"))
    before = features_at(engine, make_tx("B", "ub", T0 + HOUR, device_id="D1"))
    after = features_at(engine, make_tx("C", "uc", T0 + 3 * HOUR, device_id="D1"))
    own = features_at(engine, make_tx("D", "ua", T0 + 4 * HOUR))
    assert _seen(before) == (0.0, 0.0, 0.0)
    assert _seen(after) == (1.0, 1.0, 1.0)
    assert own["user_known_fraud"] == 1.0


@pytest.mark.parametrize("how", ["live", "rebuilt", "replayed"])
def test_of_two_labels_of_one_source_the_later_one_holds_however_the_engine_took_them(how: str) -> None:
    """A probe: an investigator said 'fraudster' (known 06-10), then corrected it with 'legitimate' dated
    06-05. A worker that took both live cleared the user; one rebuilt from the store applied them by date and
    made the user a fraudster again, while the pages said legitimate. Now each way the later label holds."""
    first = Label("user", "ua", "fraudster", T0 + 10 * DAY, "investigator")
    fix = Label("user", "ua", "legitimate", T0 + 5 * DAY, "investigator")
    engine = make_engine()
    replay(engine, [make_tx("A", "ua", T0, device_id="D1")])
    if how == "live":
        engine.advance(T0 + 11 * DAY)
        engine.apply_label_now(first)
        engine.apply_label_now(fix)
    elif how == "rebuilt":  # graph.build: every label deferred in the store's order, then all revealed
        engine.defer_label(first)
        engine.defer_label(fix)
        engine.advance(T0 + 11 * DAY)
        engine.reveal_all()
    else:  # training's replay: each label revealed when its time comes
        engine.queue_label(first)
        engine.queue_label(fix)
    own = features_at(engine, make_tx("B", "ua", T0 + 12 * DAY))
    assert own["user_known_fraud"] == 0.0
    # a stronger source still holds against a later, weaker one
    engine.apply_label_now(Label("user", "ua", "fraudster", None, "file"))
    assert features_at(engine, make_tx("C", "ua", T0 + 13 * DAY))["user_known_fraud"] == 0.0


def test_a_legitimate_transaction_label_does_not_make_fraud() -> None:
    engine = make_engine()
    replay(engine, [make_tx("A", "ua", T0, device_id="D1", is_fraud="0")])
    f = features_at(engine, make_tx("B", "ub", T0 + 2 * DAY, device_id="D1"))
    assert _seen(f) == (0.0, 0.0, 0.0)


# ---------------------------------------------------------------- velocity and amounts
def test_velocity_windows_on_a_hand_made_sequence() -> None:
    engine = make_engine()
    seq = [(0, 10.0), (30 * MIN, 20.0), (2 * HOUR, 40.0), (25 * HOUR, 80.0)]
    replay(engine, [make_tx(f"t{i}", "u1", T0 + dt, amount=a) for i, (dt, a) in enumerate(seq)])
    f = features_at(engine, make_tx("probe", "u1", T0 + 25 * HOUR + 10 * MIN, amount=1.0))
    # 1 h back reaches 24:10 -> only the 25:00 one; 1 day back reaches 1:10 -> 2:00 and 25:00
    assert (f["tx_1h"], f["amount_1h"]) == (1.0, 80.0)
    assert (f["tx_1d"], f["amount_1d"]) == (2.0, 120.0)
    assert (f["tx_7d"], f["amount_7d"]) == (4.0, 150.0)
    assert f["user_n_tx"] == 4.0
    assert f["secs_since_last_tx"] == 600.0
    first = features_at(make_engine(), make_tx("x", "new", T0))
    assert (first["tx_1h"], first["amount_1d"], first["is_new_user"]) == (0.0, 0.0, 1.0)


@pytest.mark.parametrize(("rates", "expected_1h", "eur_amount"), [(None, 100.0, 50.0), ({"EUR": 1.1}, 155.0, 55.0)],
                         ids=["no-rates", "eur-rate"])
def test_currency_groups(rates: dict[str, float] | None, expected_1h: float, eur_amount: float) -> None:
    engine = make_engine(rates=rates)
    f_usd, f_eur = replay(engine, [make_tx("a", "u1", T0, amount=100.0, currency="USD"),
                                   make_tx("b", "u1", T0 + MIN, amount=50.0, currency="EUR")])
    assert f_eur["amount"] == pytest.approx(eur_amount)
    f = features_at(engine, make_tx("c", "u1", T0 + 2 * MIN, amount=1.0, currency="USD"))
    assert f["amount_1h"] == pytest.approx(expected_1h)
    assert f["tx_1h"] == 2.0  # counts are not split by currency
    if rates is None:
        g = features_at(engine, make_tx("d", "u1", T0 + 3 * MIN, amount=1.0, currency="EUR"))
        assert g["amount_1h"] == pytest.approx(50.0)  # EUR only with EUR


def test_new_for_user_and_age_days() -> None:
    engine = make_engine()
    f1, f2, f3 = replay(engine, [make_tx("a", "u1", T0, device_id="D1"),
                                 make_tx("b", "u2", T0 + 2 * DAY, device_id="D1"),
                                 make_tx("c", "u2", T0 + 3 * DAY, device_id="D1")])
    assert (f1["device_new_for_user"], f1["device_age_days"], f1["device_users"]) == (1.0, 0.0, 0.0)
    assert (f2["device_new_for_user"], f2["device_age_days"], f2["device_users"]) == (1.0, 2.0, 1.0)
    assert (f3["device_new_for_user"], f3["device_age_days"], f3["device_users"]) == (0.0, 3.0, 1.0)
    assert f3["account_age_days"] == 1.0 and f2["account_age_days"] == 0.0
    assert np.isnan(f3["card_new_for_user"])  # an absent identifier is unknown, not "new"


def test_same_features_whatever_the_snapshot_calls_between() -> None:
    """Features depend on event time only: an extra advance() to the same time changes nothing."""
    txs = random_world(5, n_users=15)

    def run(extra: Callable[[GraphEngine, Transaction], None]) -> list[dict[str, float]]:
        engine = make_engine(snapshot_interval_ms=HOUR)
        out = []
        for tx in txs:
            engine.advance(tx.ts)
            extra(engine, tx)
            out.append(compute_features(engine, tx))
            engine.apply(tx)
        return out

    a = run(lambda e, t: None)
    b = run(lambda e, t: e.advance(t.ts))
    assert [sorted((k, round(v, 9)) for k, v in f.items() if v == v) for f in a] == \
        [sorted((k, round(v, 9)) for k, v in f.items() if v == v) for f in b]


# ---------------------------------------------------------------- one feature function, two forms
def test_feature_row_is_compute_features_in_name_order() -> None:
    txs = random_world(6, n_users=20)
    engine = make_engine(limits={"ip": 3})
    names = row_names(engine)
    assert names == feature_names(engine.entity_types)
    for tx in txs:
        engine.advance(tx.ts)
        row = feature_row(engine, tx)
        f = compute_features(engine, tx)
        assert list(f) == names and len(row) == len(names)
        assert all(a == b or (a != a and b != b) for a, b in zip(row, f.values()))
        engine.apply(tx)


def test_engine_holds_graph_state_only_and_reads_the_same_after_a_pickle() -> None:
    """The features' layout is the feature module's cache, never written into the engine (#17)."""
    txs = random_world(7, n_users=15)
    engine = make_engine()
    replay(engine, txs[:-1])
    engine.advance(txs[-1].ts)
    names = set(vars(engine))
    before = feature_row(engine, txs[-1])
    assert set(vars(engine)) == names
    copy = pickle.loads(pickle.dumps(engine))
    after = feature_row(copy, txs[-1])
    assert [x for x in before if x == x] == [x for x in after if x == x]


# ---------------------------------------------------------------- re-splitting only what new hubs glued
def _component_view(engine: GraphEngine) -> list[tuple[Any, ...]]:
    out = []
    for x in range(len(engine.parent)):
        c = engine.comp[engine.find(x)]
        assert c is not None
        out.append((c.users, c.idents, c.fraud_users, c.fraud_tx, c.tx, round(c.amount, 6), float(c.first_min),
                    float(c.first_max), float(c.last), c.oldest))
    return out


@pytest.mark.parametrize("seed", range(6), ids=[f"seed{s}" for s in range(6)])
def test_split_components_equals_a_full_rebuild(seed: int) -> None:
    """Snapshots re-split only the components with new hubs; a full rebuild of a copy agrees every time."""
    txs = random_world(seed, n_users=40) + random_world(seed + 100, n_users=40)
    engine = make_engine(limits={"ip": 3, "device": 4, "card": 5}, snapshot_interval_ms=10 * MIN)
    compared = 0
    for i, tx in enumerate(sorted(txs, key=lambda t: (t.ts, t.transaction_id))):
        if tx.ts >= engine.next_snapshot and engine.new_hubs:
            full = pickle.loads(pickle.dumps(engine))
            full.rebuild_components()
            engine.advance(tx.ts)  # takes the snapshot: components.split
            assert engine.new_hubs == [] and not engine.hubs_since_rebuild
            assert _component_view(engine) == _component_view(full)
            compared += 1
        engine.advance(tx.ts)
        if i % 7 == 0:
            engine.queue_label(Label("user", tx.user_id, "fraudster", tx.ts, "investigator"))
        engine.apply(tx)
    assert compared >= 2


def test_an_engine_saved_before_new_hubs_were_tracked_rebuilds_in_full() -> None:
    engine = make_engine(limits={"ip": 2})
    for i in range(3):
        engine.apply(make_tx(f"t{i}", f"u{i}", T0 + i * MIN, ip="10.0.0.1"))
    state = engine.__getstate__()
    del state["new_hubs"]
    old = GraphEngine.__new__(GraphEngine)
    old.__setstate__(state)  # as unpickled from a file written before
    for i in range(3, 6):  # a second hub, which the loaded engine does track
        old.apply(make_tx(f"t{i}", f"u{i}", T0 + i * MIN, ip="10.0.0.2"))
    assert [old.component_of(f"u{i}").users for i in range(6)] == [2, 2, 1, 2, 2, 1]  # glued until a snapshot
    old.take_snapshot(T0 + HOUR)
    assert [old.component_of(f"u{i}").users for i in range(6)] == [1] * 6
    assert old.new_hubs == []


@pytest.mark.parametrize(("n", "m", "seeded"), [(12, 20, False), (50, 60, False), (50, 90, True)],
                         ids=["small", "sparse-with-dangling", "personalised"])
def test_directed_pagerank_matches_networkx_on_weighted_money(n: int, m: int, seeded: bool) -> None:
    """The transfer graph's PageRank: directed, amounts as weights, parallel transfers adding up."""
    from graphfraud.pagerank import directed_pagerank

    rng = np.random.default_rng(n * 7 + m)
    src, dst = rng.integers(0, n, size=m), rng.integers(0, n, size=m)
    keep = src != dst
    src, dst = src[keep], dst[keep]
    w = rng.uniform(1, 500, size=len(src))
    g = nx.DiGraph()
    g.add_nodes_from(range(n))
    for a, b, x in zip(src.tolist(), dst.tolist(), w.tolist()):
        g.add_edge(a, b, weight=g.get_edge_data(a, b, {"weight": 0.0})["weight"] + x)
    pers = nx_pers = None
    if seeded:
        seeds = rng.choice(n, size=4, replace=False).tolist()
        pers = np.zeros(n)
        pers[seeds] = 1.0
        nx_pers = {i: (1.0 if i in seeds else 0.0) for i in range(n)}
    ours = directed_pagerank(n, src, dst, w, personalization=pers, tol=1e-12, max_iter=10_000)
    ref = nx.pagerank(g, alpha=0.85, personalization=nx_pers, weight="weight", tol=1e-12, max_iter=10_000)
    assert np.abs(ours - np.array([ref[i] for i in range(n)])).max() < 1e-9


@given(st.lists(st.sampled_from("ABC"), max_size=30))
def test_usual_country_is_the_most_frequent_and_first_to_get_there(seen: list[str]) -> None:
    """A user's or card's usual country as the engine tallies it (no table while one country is all it saw)
    against counting every country and breaking ties by who reached the count first."""
    tables: list[dict[str, int] | None] = [None]
    top: str | None = None
    n = array("i", [0])
    for k, key in enumerate(seen):
        top = _tally(tables, top, n, 0, key)
        counts = {c: seen[:k + 1].count(c) for c in set(seen[:k + 1])}
        best = max(counts.values())
        # first to get there: the country whose best-th sighting came earliest
        reached = {c: [j for j, x in enumerate(seen[:k + 1]) if x == c][best - 1] for c in counts if counts[c] == best}
        assert top == min(reached, key=reached.__getitem__)
        assert (tables[0] is None) == (len(counts) == 1)


@pytest.mark.parametrize("text", ["EUR=nan", "EUR=inf", "EUR=0", "GBP=-2", "EUR=abc"])
def test_a_conversion_rate_that_is_not_a_positive_number_is_refused(text: str) -> None:
    """A NaN rate would make every amount in that currency NaN, and a user's statistics with it."""
    from graphfraud.errors import ConfigError
    from graphfraud.graph.build import new_engine

    with pytest.raises(ConfigError, match=text.split("=")[0]):
        new_engine({"rates": f"JPY=0.0067,{text}"})
    assert new_engine({"rates": "JPY=0.0067"}).rates == {"JPY": 0.0067}
