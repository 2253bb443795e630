"""Ring detection, ranking and the ring registry."""
from __future__ import annotations

import csv
import importlib
import json

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from graphfraud.cli import PROFILES, main
from graphfraud.graph.policy import LinkPolicy
from graphfraud.rings import Ring, WholeReads, detect_rings, find_clusters, ring_id_for, sync_rings
from graphfraud.ringscore import ClusterStats, score_cluster
from graphfraud.schema import validate_frame
from graphfraud.storage import open_store
from graphfraud.testing import make_transactions
from loaders import load_file
from tests.ringcases import DAY, T0, _ring_users, _rings_of_frame, _rows, _transfers, _write


def _jaccard(a, b):
    a, b = set(a), set(b)
    return len(a & b) / len(a | b)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    df, truth = make_transactions(n_users=400, seed=4)
    store = open_store(str(tmp_path_factory.mktemp("rings") / "gf.db"))
    _write(store, df)
    yield store, truth
    store.close()


def test_planted_rings_are_found_and_ranked_above_households(world):
    store, truth = world
    rings = detect_rings(store)
    planted = [r["users"] for r in truth["rings"].values() if len(r["users"]) >= 3]
    top = rings[:2 * len(planted)]
    found = [p for p in planted if any(_jaccard(p, r.users) >= 0.5 for r in top)]
    assert len(found) >= 0.75 * len(planted)
    households = [h["users"] for h in truth["decoys"]["households"] if len(h["users"]) >= 3]
    rank = {i: r for i, r in enumerate(rings)}
    ring_ranks = [i for i, r in rank.items() if any(_jaccard(p, r.users) >= 0.5 for p in planted)]
    house_ranks = [i for i, r in rank.items() if any(_jaccard(h, r.users) >= 0.5 for h in households)]
    assert ring_ranks and house_ranks
    assert np.median(ring_ranks) < np.median(house_ranks)


def test_rings_are_sorted_and_well_formed(world):
    store, _ = world
    rings = detect_rings(store)
    assert [r.score for r in rings] == sorted((r.score for r in rings), reverse=True)
    r = rings[0]
    d = r.to_dict()
    assert d["size"] == len(d["users"]) >= 3
    assert {m["id"] for m in d["members"] if m["type"] == "user"} == set(d["users"])
    assert all(m["type"] != "user" for m in d["members"][d["size"]:])
    assert d["first_activity"] <= d["last_activity"]
    assert d["reasons"] and all(isinstance(x, str) for x in d["reasons"])
    json.dumps(d)


def test_hub_does_not_glue_users_into_one_ring(tmp_path):
    # 200 users behind one IP (a carrier NAT), each with their own card and device
    # (shopping at their own merchants, so no two of them act together through it)
    rows = [(f"u{i}", i * 0.3, 20.0, f"c{i}", f"d{i}", "10.0.0.1", f"m{i}") for i in range(200)]
    rows += [(f"u{i}", i * 0.3 + 1, 25.0, f"c{i}", f"d{i}", "10.0.0.1", f"n{i}") for i in range(200)]
    # and one real group of three sharing a device
    rows += [(f"r{i}", 50 + i * 0.01, 300.0, f"rc{i}", "shared-dev", f"9.9.9.{i}", "m3") for i in range(3)]
    store = open_store(str(tmp_path / "gf.db"))
    _write(store, _rows(rows))
    rings = detect_rings(store)
    assert max(r.size for r in rings) == 3
    assert [sorted(r.users) for r in rings] == [["r0", "r1", "r2"]]


@pytest.mark.parametrize("seed", [0, 1, 2], ids=["seed0", "seed1", "seed2"])
def test_component_sizes_agree_with_networkx(seed):
    rng = np.random.default_rng(seed)
    n = 300
    # personal identifiers join whoever shares them (IPs need more evidence: see the tests below)
    links = pd.DataFrame({"type": rng.choice(["card", "device", "email"], size=n),
                          "entity_id": rng.integers(0, 120, size=n).astype(str),
                          "user_id": [f"u{x}" for x in rng.integers(0, 200, size=n)]}).drop_duplicates()
    policy = LinkPolicy(frozenset({"card", "device", "email"}), {"default": 1000})
    ours = sorted(len(c) for c in find_clusters(links, policy, min_size=2, max_component=10**6))
    g = nx.Graph()
    g.add_edges_from(zip(links["user_id"], links["type"] + ":" + links["entity_id"]))
    ref = sorted(k for k in (sum(1 for x in c if x.startswith("u")) for c in nx.connected_components(g)) if k >= 2)
    assert ours == ref


def test_large_component_is_split_into_communities():
    # two dense groups of 30 joined by one user who shares a card with each
    rows = []
    for grp in ("a", "b"):
        for i in range(30):
            rows += [("device", f"{grp}-dev{i % 3}", f"{grp}{i}"), ("card", f"{grp}-card{i % 5}", f"{grp}{i}")]
    rows += [("card", "a-card0", "x"), ("card", "b-card0", "x")]
    links = pd.DataFrame(rows, columns=["type", "entity_id", "user_id"])
    policy = LinkPolicy(frozenset({"card", "device"}), {"default": 1000})
    whole = find_clusters(links, policy, max_component=1000)
    split = find_clusters(links, policy, max_component=40)
    assert [len(c) for c in whole] == [61]
    assert len(split) >= 2 and max(len(c) for c in split) <= 31


def test_score_separates_new_bursty_group_from_old_family():
    ring = ClusterStats(n_users=5, n_identifiers=8, n_shared_identifiers=1, n_tx=50, median_account_age_days=3,
                        first_activity_span_days=1, active_span_days=4, burst_tx_share=0.8, burst_user_share=1.0,
                        max_users_per_identifier=5, mean_amount_ratio=2.2, merchant_concentration=0.6,
                        top_identifier_type="device", top_identifier_id="D1")
    family = ClusterStats(n_users=5, n_identifiers=10, n_shared_identifiers=2, n_tx=200, median_account_age_days=85,
                          first_activity_span_days=12, active_span_days=89, burst_tx_share=0.06,
                          burst_user_share=0.6, max_users_per_identifier=5, mean_amount_ratio=1.0,
                          merchant_concentration=0.1, top_identifier_type="device", top_identifier_id="D2")
    (s_ring, reasons), (s_family, _) = score_cluster(ring), score_cluster(family)
    assert s_ring > 0.7 > 0.3 > s_family
    assert reasons[0] == "device D1 is shared by 5 users"
    # size alone does not decide: a much bigger family still scores low
    family.n_users, family.max_users_per_identifier = 40, 40
    assert score_cluster(family)[0] < 0.3


def test_accounts_opened_in_the_last_days_are_not_new_and_bursty_by_that_alone():
    # a household that opened its accounts together four days before the end of the data: every such account
    # is new, and did all its buying within days
    home = dict(n_users=5, n_identifiers=7, n_shared_identifiers=1, n_tx=9, median_account_age_days=3,
                first_activity_span_days=1.1, active_span_days=4, burst_tx_share=0.9, burst_user_share=1.0,
                identifier_arrival_span_days=0.9, max_users_per_identifier=5, top_identifier_type="ip",
                top_identifier_id="1.2.3.4")
    watched_four_days = score_cluster(ClusterStats(**home, median_seen_days=4))[0]
    assert watched_four_days < 0.5 < score_cluster(ClusterStats(**home, median_seen_days=60))[0]
    # a crew that struck in those same last days still shows: amounts, buying together, cards
    crew = ClusterStats(**home, median_seen_days=4, mean_amount_ratio=2.4, together_tx_share=0.4,
                        together_user_share=1.0, cards_per_user=2.2)
    assert score_cluster(crew)[0] > 0.9


def test_known_fraud_raises_the_score():
    base = dict(n_users=4, n_tx=40, median_account_age_days=40, first_activity_span_days=20, active_span_days=60)
    clean, _ = score_cluster(ClusterStats(**base))
    fraud, reasons = score_cluster(ClusterStats(**base, n_known_fraud_users=3, n_fraud_tx=10))
    assert fraud > clean + 0.3
    assert "3 of 4 users confirmed fraud" in reasons


def test_several_members_with_confirmed_fraud_transactions_weigh_more_than_one(tmp_path):
    """A collusive merchant's accomplices (a fifth generator written apart from ours) spend legitimately too, so
    none is "known fraud"; that five of them have confirmed fraud transactions says more than one member with as
    many (a family with one stolen card)."""
    base = dict(n_users=8, n_tx=100, n_fraud_tx=10, median_account_age_days=120, first_activity_span_days=50,
                active_span_days=170)
    one, _ = score_cluster(ClusterStats(**base, n_fraud_tx_users=1))
    five, reasons = score_cluster(ClusterStats(**base, n_fraud_tx_users=5))
    assert five > one + 0.1
    assert "10 transactions of 5 users confirmed fraud" in reasons
    rows = [(f"a{i}", 10 + i * 0.3 + day, 60.0, f"card{i}", "shared-dev", f"3.3.3.{i}", f"m{day % 3}")
            for i in range(4) for day in range(0, 40, 5)]
    df = _rows(rows)
    df["is_fraud"] = "0"
    df.loc[df.index % 8 == 0, "is_fraud"] = "1"  # each member's first purchase is confirmed fraud, the rest not
    store = open_store(str(tmp_path / "gf.db"))
    _write(store, df)
    ring = detect_rings(store)[0]
    store.close()
    assert ring.stats.n_known_fraud_users == 0 and ring.stats.n_fraud_tx_users == 4 and ring.stats.n_fraud_tx == 4


def _small_store(tmp_path, extra_rows=()):
    rows = [(f"r{i}", 10 + i * 0.1, 400.0, f"card{i}", "dev-A", f"1.1.1.{i}", "m1") for i in range(4)]
    rows += [(f"s{i}", 30 + i * 0.1, 400.0, f"scard{i}", "dev-B", f"2.2.2.{i}", "m2") for i in range(3)]
    rows += list(extra_rows)
    store = open_store(str(tmp_path / "gf.db"))
    _write(store, _rows(rows))
    return store, rows


def test_labels_given_after_the_load_reach_the_rings(tmp_path):
    """A transaction labelled after it was stored (a chargeback file, a confirmed case, POST /labels) is a
    label event: detection reads it (it once failed writing into a read-only column pandas handed out)."""
    from graphfraud.schema import validate_label

    store, _ = _small_store(tmp_path)
    before = {frozenset(r.users): r for r in detect_rings(store)}
    assert all(not r.known_fraud_transactions for r in before.values())
    store.add_labels([validate_label({"transaction_id": "T000001", "is_fraud": 1}, source="chargeback"),
                      validate_label({"transaction_id": "T000001", "is_fraud": 0}, source="file")])
    after = {frozenset(r.users): r for r in detect_rings(store)}
    ring = after[frozenset({"r0", "r1", "r2", "r3"})]
    assert ring.known_fraud_transactions == ["T000001"] and ring.known_fraud_users == ["r1"]


def test_ids_are_stable_across_runs_and_new_transactions(tmp_path):
    store, rows = _small_store(tmp_path)
    first = {frozenset(r.users): r.ring_id for r in sync_rings(store, detect_rings(store))}
    again = {frozenset(r.users): r.ring_id for r in sync_rings(store, detect_rings(store))}
    assert first == again and len(first) == 2
    # a new member joins the first ring: same id, history says it grew
    more = _rows(rows + [("r9", 12, 50.0, "card9", "dev-A", "1.1.1.9", "m1")]).iloc[len(rows):]
    _write(store, more)
    grown = sync_rings(store, detect_rings(store))
    by_id = {r.ring_id: set(r.users) for r in grown}
    rid = first[frozenset({"r0", "r1", "r2", "r3"})]
    assert by_id[rid] == {"r0", "r1", "r2", "r3", "r9"}
    assert [h["change"] for h in store.get_ring(rid)["history"]] == ["formed", "grew"]


def test_content_ids_agree_between_processes(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a, _ = _small_store(tmp_path / "a")
    b, _ = _small_store(tmp_path / "b")
    assert sorted(r.ring_id for r in sync_rings(a, detect_rings(a))) == \
        sorted(r.ring_id for r in sync_rings(b, detect_rings(b)))
    assert ring_id_for("r0") == ring_id_for("r0") != ring_id_for("r1")


def test_merge_keeps_the_older_id(tmp_path):
    store, rows = _small_store(tmp_path)
    before = {frozenset(r.users): r.ring_id for r in sync_rings(store, detect_rings(store))}
    old_a, old_b = before[frozenset({"r0", "r1", "r2", "r3"})], before[frozenset({"s0", "s1", "s2"})]
    older = min((store.get_ring(x)["created_at"], x) for x in (old_a, old_b))[1]
    # a bridge account uses both devices: one cluster now
    bridge = [("x", 40, 30.0, "xc", "dev-A", "3.3.3.3", "m1"), ("x", 41, 30.0, "xc", "dev-B", "3.3.3.3", "m1")]
    _write(store, _rows(rows + bridge).iloc[len(rows):])
    after = sync_rings(store, detect_rings(store))
    assert len(after) == 1 and after[0].ring_id == older
    gone = old_b if older == old_a else old_a
    assert store.get_ring(gone)["status"] == "merged"
    assert store.get_ring(gone)["merged_into"] == older


def test_merge_prefers_created_first(tmp_path):
    store = open_store(str(tmp_path / "gf.db"))
    a = Ring("R-a", 0.5, 3, [], ["a1", "a2", "a3"], [], [], [], 0, 1, 1.0, [])
    sync_rings(store, [a])
    b = Ring("R-b", 0.5, 3, [], ["b1", "b2", "b3"], [], [], [], 0, 1, 1.0, [])
    a_again = Ring("R-a", 0.5, 3, [], ["a1", "a2", "a3"], [], [], [], 0, 1, 1.0, [])
    sync_rings(store, [a_again, b])
    both = Ring("R-b", 0.5, 6, [], ["a1", "a2", "a3", "b1", "b2", "b3"], [], [], [], 0, 1, 1.0, [])
    assert sync_rings(store, [both])[0].ring_id == "R-a"
    assert store.get_ring("R-b")["merged_into"] == "R-a"


def test_a_ring_that_grew_keeps_its_id(tmp_path):
    """All three first members are still there among nine: the same ring grown, although the Jaccard
    similarity of the two user sets is only 1/3 (a ring caught early by a periodic refresh)."""
    store = open_store(str(tmp_path / "gf.db"))
    small = Ring("R-s", 0.5, 3, [], ["u1", "u2", "u3"], [], [], [], 0, 1, 1.0, [])
    sync_rings(store, [small])
    big = Ring("R-s", 0.5, 9, [], [f"u{k}" for k in range(1, 10)], [], [], [], 0, 1, 1.0, [])
    other = Ring("R-o", 0.5, 3, [], ["v1", "v2", "v3"], [], [], [], 0, 1, 1.0, [])
    out = sync_rings(store, [other, big])
    assert out[1].ring_id == "R-s" and out[0].ring_id == "R-o"
    ring = store.get_ring("R-s")
    assert ring["status"] == "active" and ring["size"] == 9
    assert [h["change"] for h in ring["history"]][-1] == "grew"
    # a cluster holding fewer than half of an old ring's users is a new ring, and the old one dissolves
    late = Ring("R-s", 0.5, 5, [], ["u1", "u2", "w1", "w2", "w3"], [], [], [], 0, 1, 1.0, [])
    assert sync_rings(store, [late])[0].ring_id != "R-s"
    assert store.get_ring("R-s")["status"] == "dissolved"


def test_split_is_recorded(tmp_path):
    store = open_store(str(tmp_path / "gf.db"))
    whole = Ring("R-w", 0.5, 6, [], ["a1", "a2", "a3", "a4", "b1", "b2"], [], [], [], 0, 1, 1.0, [])
    sync_rings(store, [whole])
    left = Ring("R-l", 0.5, 4, [], ["a1", "a2", "a3", "a4"], [], [], [], 0, 1, 1.0, [])
    right = Ring("R-r", 0.5, 2, [], ["b1", "b2"], [], [], [], 0, 1, 1.0, [])
    out = sync_rings(store, [left, right])
    assert out[0].ring_id == "R-w" and out[1].ring_id == "R-r"
    changes = [h["change"] for h in store.get_ring("R-w")["history"]]
    assert "split" in changes
    assert store.get_ring("R-r")["history"][0]["detail"]["split_from"] == ["R-w"]


def test_cli_rings_json_and_csv(tmp_path):
    store, _ = _small_store(tmp_path)
    store.close()
    runner = CliRunner()
    res = runner.invoke(main, ["rings", "--format", "json", "--store", str(tmp_path / "gf.db")])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert len(out) == 2 and out[0]["score"] >= out[1]["score"]
    assert {"type": "user", "id": "r0"} in out[0]["members"] + out[1]["members"]
    res = runner.invoke(main, ["rings", "--format", "csv", "--top", "1", "--store", str(tmp_path / "gf.db")])
    assert res.exit_code == 0 and len(res.stdout.strip().splitlines()) == 2
    res = runner.invoke(main, ["rings", "--min-size", "4", "--store", str(tmp_path / "gf.db")])
    assert res.exit_code == 0 and len(res.stdout.strip().splitlines()) == 2  # header + the 4-user ring


def test_an_ip_links_only_users_who_adopted_it_together_or_use_it_together(tmp_path):
    # a proxy address used by three strangers months apart joins nobody; three new accounts that all
    # start on one address within a day are linked by it
    rows = [(f"v{i}", i * 30 + k, 20.0, f"vc{i}", f"vd{i}", "7.7.7.7", f"vm{i}{k}") for i in range(3) for k in range(3)]
    rows += [(f"n{i}", 40 + i * 0.2 + k * 0.5, 200.0, f"nc{i}", f"nd{i}", "8.8.8.8", f"nm{i}{k}")
             for i in range(3) for k in range(3)]
    # and three accounts that share nothing personal but shop together through one address, twice
    rows += [(f"s{i}", 70 + day + i * 0.01, 90.0, f"sc{i}", f"sd{i}", ("6.6.6.6" if day else f"5.5.5.{i}"), f"sm{day}")
             for i in range(3) for day in range(3)]
    store = open_store(str(tmp_path / "gf.db"))
    _write(store, _rows(rows))
    found = sorted(sorted(r.users) for r in detect_rings(store))
    assert found == [["n0", "n1", "n2"], ["s0", "s1", "s2"]]


def test_a_farm_above_the_hub_limit_adopted_together_stays_one_ring(tmp_path):
    # 30 accounts created within a day on one device (above the device hub limit of 20)
    rows = [(f"f{i:02d}", 20 + i * 0.03 + k * 0.2, 150.0, f"fc{i}", "farm-dev", f"4.4.{i}.1", "m1")
            for i in range(30) for k in range(3)]
    # a household active since the data began (adoption in the first days of the data says nothing)
    rows += [(f"h{i}", day, 30.0, f"hc{i}", "home-laptop", "3.3.3.3", f"hm{day}") for i in range(2) for day in (0, 40)]
    store = open_store(str(tmp_path / "gf.db"))
    _write(store, _rows(rows))
    rings = detect_rings(store)
    assert [r.size for r in rings] == [30]  # the household has two users: below the ring minimum


def test_whole_reads_give_the_same_rings_as_the_narrow_queries(world):
    store, _ = world

    class Plain:  # only the whole reads (WholeSource)
        def links_frame(self):
            return store.links_frame()

        def iter_transaction_frames(self, *a, **k):
            return store.iter_transaction_frames(*a, **k)

        def labels(self, *a):
            return store.labels(*a)

        def last_seq(self):
            return store.last_seq()

    narrow, plain = detect_rings(store), detect_rings(WholeReads(Plain()))
    assert [(r.users, round(r.score, 9)) for r in narrow] == [(r.users, round(r.score, 9)) for r in plain]


def test_detection_reads_an_embedded_store_through_a_memory_map_and_unmaps_it_after(world, monkeypatch):
    store, _ = world
    mapped = []
    read = store.transactions_of_users

    def reading(*a, **k):
        mapped.append(store._con().execute("PRAGMA mmap_size").fetchone()[0])
        return read(*a, **k)

    monkeypatch.setattr(store, "transactions_of_users", reading)
    assert detect_rings(store)
    assert mapped and min(mapped) > 0  # (the narrow reads above give the same rings as unmapped whole reads)
    assert store._con().execute("PRAGMA mmap_size").fetchone()[0] == 0


def test_live_ring_score_is_the_batch_score_of_the_component_totals():
    from graphfraud.graph.engine import Comp
    from graphfraud.scoring import live_ring_score

    now = T0 + 2 * DAY
    comp = Comp()
    comp.users, comp.idents, comp.fraud_users, comp.tx, comp.amount = 5, 6, 2, 40, 8000.0
    comp.first_min, comp.first_max, comp.last = T0, T0 + DAY // 2, now
    score, n_fraud = live_ring_score([comp], now, 5)
    expected, _ = score_cluster(ClusterStats(n_users=5, n_identifiers=6, n_known_fraud_users=2, n_tx=40,
                                             total_amount=8000.0, median_account_age_days=2.0,
                                             first_activity_span_days=0.5, active_span_days=2.0,
                                             burst_tx_share=1.0, burst_user_share=1.0))
    assert n_fraud == 2 and score == pytest.approx(expected)
    # the same people, active for three months: no burst, no newness, a lower score
    comp.first_min = now - 90 * DAY
    assert live_ring_score([comp], now, 5)[0] < score


# ------------------------------------------------------------------------------------- typology worlds
#: (profile, seed) of small generated worlds whose every planted ring ranks above every household: the
#: seeds are fixed so the expected answer can be stated; each world takes about a second
TYPOLOGY_WORLDS = [("stars", 3), ("chains", 2), ("sleepers", 3), ("bipartite", 2)]


def _world(tmp_path, profile, seed, users=2000):
    """A generated world loaded with labels for the first half of its rows only, as ``checks.sh rings``
    does; returns the store, truth.json and the users seen on each office or campus address."""
    module, func = PROFILES[profile].split(":")
    write = getattr(importlib.import_module(module, "graphfraud"), func)
    write(str(tmp_path / "tx.csv"), users, seed=seed)
    with open(tmp_path / "tx.csv", newline="") as f:
        rows = list(csv.reader(f))
    head = rows[0]
    cut = 1 + (len(rows) - 1) // 2
    for r in rows[cut:]:
        r[head.index("is_fraud")] = ""
    with open(tmp_path / "half.csv", "w", newline="") as f:
        csv.writer(f).writerows(rows)
    truth = json.loads((tmp_path / "truth.json").read_text())
    office_ips = {g["ip"] for k in ("offices", "campuses") for g in truth["decoys"].get(k, [])}
    offices: dict[str, set[str]] = {}
    for r in rows[1:]:
        if r[head.index("ip")] in office_ips:
            offices.setdefault(r[head.index("ip")], set()).add(r[head.index("user_id")])
    store = open_store(str(tmp_path / "gf.db"))
    load_file(str(tmp_path / "half.csv"), store, progress=None, rejects_path=str(tmp_path / "rejects.csv"))
    return store, truth, offices


@pytest.fixture(scope="module", params=TYPOLOGY_WORLDS, ids=[f"{p}-seed{s}" for p, s in TYPOLOGY_WORLDS])
def typology(request, tmp_path_factory):
    profile, seed = request.param
    store, truth, offices = _world(tmp_path_factory.mktemp(profile), profile, seed)
    yield profile, detect_rings(store), truth, offices
    store.close()


def test_every_planted_ring_ranks_above_households_and_offices(typology):
    _, rings, truth, offices = typology
    planted = [set(r["users"]) for r in truth["rings"].values() if len(r["users"]) >= 3]
    n_r = len(planted)
    ranks = [min((i for i, r in enumerate(rings) if _jaccard(p, r.users) >= 0.5), default=None) for p in planted]
    assert None not in ranks, "every planted ring is found"
    assert max(ranks) < 2 * n_r, "every planted ring is among the top 2R clusters"
    homes = [set(h["users"]) for h in truth["decoys"]["households"]]
    home_ranks = [i for i, r in enumerate(rings) if any(_jaccard(h, r.users) >= 0.5 for h in homes)]
    assert home_ranks, "households sharing devices and addresses form clusters too"
    assert min(home_ranks) > max(ranks), "every household ranks below every planted ring"
    # clusters of colleagues (most users on one office or campus address) rank below the rings too
    office_ranks = [i for i, r in enumerate(rings)
                    if any(len(set(r.users) & staff) * 2 >= len(r.users) for staff in offices.values())]
    assert min(office_ranks, default=len(rings)) > max(ranks)


def test_reasons_name_the_linking_identifier_and_the_evidence(typology):
    profile, rings, truth, _ = typology
    evidence = ("confirmed fraud", "accounts are new", "first seen within", "reached all their users",
                "on the same day", "fall within 3 days", "the usual at the same merchants", "went quiet",
                "cards per user")
    for ring in truth["rings"].values():
        best = max(rings, key=lambda r: _jaccard(ring["users"], r.users))
        ids = [f"{x['type']} {x['id']}" for x in best.shared_identifiers]
        assert best.reasons[0].split(" is shared by ")[0] in ids  # what links them, by id
        assert any(e in txt for txt in best.reasons[1:] for e in evidence)
        if profile == "stars":  # the hub every member used is named first
            assert best.reasons[0].startswith(f"{ring['hub']['type']} {ring['hub']['id']} is shared by")


def test_the_holder_of_a_stolen_card_is_not_a_ring_member(tmp_path):
    # a customer and her partner (one laptop, one home address) since the data began; she keeps using
    # her card throughout
    rows = [("v", day, 40.0, "cv", "dv", "1.2.3.4", f"g{day % 5}") for day in range(0, 90, 3)]
    rows += [("w", day + 1, 30.0, "cw", "dv", "1.2.3.4", f"g{day % 5}") for day in range(0, 90, 6)]
    # four new accounts on one device; one of them uses her card number twice
    rows += [(f"r{i}", 41 + i * 0.1 + k * 0.5, 450.0, "cv" if i == 0 and k < 2 else f"rc{i}", "dR",
              f"9.9.{i}.{k}", "big") for i in range(4) for k in range(3)]
    store = open_store(str(tmp_path / "gf.db"))
    _write(store, _rows(rows))
    rings = detect_rings(store)
    assert [r.users for r in rings] == [["r0", "r1", "r2", "r3"]]


def test_two_crews_arriving_on_one_proxy_stay_two_rings(tmp_path):
    # a proxy address VPN customers use all year (more users than an address's hub limit)
    rows = [(f"p{i}", (i * 3.1 + k * 30) % 90, 15.0, f"pc{i}", f"pd{i}", "5.5.5.5", f"pm{i}")
            for i in range(28) for k in range(3)]
    # two crews, each on its own device, both start on the proxy the same day
    for crew in ("a", "b"):
        rows += [(f"{crew}{i}", 50 + i * 0.05 + k * 0.3, 300.0, f"{crew}c{i}", f"{crew}-dev", "5.5.5.5",
                  f"{crew}-shop") for i in range(4) for k in range(3)]
    store = open_store(str(tmp_path / "gf.db"))
    _write(store, _rows(rows))
    found = sorted(r.users for r in detect_rings(store))
    assert found == [["a0", "a1", "a2", "a3"], ["b0", "b1", "b2", "b3"]]


def test_a_crews_proxy_joins_those_who_used_it_at_the_same_time_not_a_crew_weeks_later(tmp_path):
    # one crew in two cells, each on its own device, both through one proxy exit nobody else uses, in the
    # same days; a second crew on its own device reaches the same exit three weeks later
    rows = [(f"a{i}", 30 + i * 0.2 + k * 0.4, 250.0, f"ac{i}", f"a-dev{i // 3}", "6.6.6.6", f"am{i}{k}")
            for i in range(6) for k in range(3)]
    rows += [(f"b{i}", 52 + i * 0.2 + k * 0.4, 250.0, f"bc{i}", "b-dev", "6.6.6.6", f"bm{i}{k}")
             for i in range(3) for k in range(3)]
    # three months of data around them (a couple sharing a laptop): in a month of data every busy address
    # looks brief
    rows += [(f"q{j}", day + j, 20.0, f"qc{j}", "qd", "1.1.1.1", "qm") for j in range(2) for day in range(0, 91, 5)]
    found = sorted(_ring_users(tmp_path, rows))
    assert found == [["a0", "a1", "a2", "a3", "a4", "a5"], ["b0", "b1", "b2"]]


def test_in_a_month_of_data_a_carriers_address_joins_no_two_crews(tmp_path):
    # a month of data: a carrier's address 15 customers use all month looks like a crew's proxy (nobody before
    # or after), and two crews on their own devices use it too; it must not make them one cluster
    rows = [(f"p{i:02d}", (i * 1.3 + k * 9) % 29, 15.0, f"pc{i}", f"pd{i}", "9.9.9.9", f"pm{i}")
            for i in range(15) for k in range(3)]
    for crew in ("a", "b"):
        rows += [(f"{crew}{i}", (10 if crew == "a" else 20) + i * 0.2 + k * 0.4, 300.0, f"{crew}c{i}",
                  f"{crew}-dev", "9.9.9.9", f"{crew}m{i}{k}") for i in range(3) for k in range(3)]
    found = _ring_users(tmp_path, rows)
    assert ["a0", "a1", "a2"] in found and ["b0", "b1", "b2"] in found


def test_two_crews_that_each_passed_through_one_familys_address_stay_two_rings(tmp_path):
    # a family of two on its home address all along; two crews, each on its own device, each send one member
    # out through that address (a residential proxy's exit), four days apart
    rows = [(f"h{j}", day + j, 35.0, f"hc{j}", f"hd{j}", "10.2.2.2", f"hm{day % 4}") for j in range(2)
            for day in range(0, 88, 4)]
    for crew, start in (("a", 40), ("b", 44)):
        rows += [(f"{crew}{i}", start + i * 0.2 + k * 0.4, 300.0, f"{crew}c{i}", f"{crew}-dev",
                  "10.2.2.2" if i == 0 and k else f"7.{ord(crew)}.{i}.{k}", f"{crew}m{i}{k}")
                 for i in range(3) for k in range(3)]
    found = sorted(_ring_users(tmp_path, rows))
    assert found == [["a0", "a1", "a2"], ["b0", "b1", "b2"]]


def test_a_crew_through_families_home_addresses_is_one_ring_without_the_families(tmp_path):
    # 24 short-lived accounts on three emulators (8 each) paying with a pool of four cards, each through a
    # different family's home address (a residential proxy) where the two residents have lived all along:
    # one component of 72 users,
    # in which no device reaches half. The families are cut off before the component is split, so the
    # crew's members are not drawn into their hosts' communities.
    rows = []
    for i in range(24):
        home = f"10.1.{i}.1"
        rows += [(f"h{i}-{j}", day + j, 35.0, f"hc{i}-{j}", f"hd{i}-{j}", home, f"hm{day % 4}")
                 for j in range(2) for day in range(0, 88, 4)]
        rows += [(f"c{i:02d}", 40 + i * 0.1 + k * 0.8, 300.0, f"pool{i % 4}", f"emu{i % 3}",
                  home if k else f"7.7.{i}.9", f"cm{i}{k}") for k in range(3)]
    found = _ring_users(tmp_path, rows)
    crew = sorted(f"c{i:02d}" for i in range(24))
    assert crew in found
    assert not any(set(r) & set(crew) for r in found if r != crew)


def test_meetings_link_a_crew_that_strikes_together_not_colleagues_who_lunch_together(tmp_path):
    # carrier NAT: hundreds of strangers, each at their own shops
    rows = [(f"n{i}", (i * 0.29) % 90, 20.0, f"nc{i}", f"nd{i}", "100.64.0.1", f"nm{i}") for i in range(300)]
    # three accounts sharing nothing but the NAT buy at the same shops within the same hour, twice in two
    # days
    for day, hour, shop in ((60, 10, "mx"), (61, 14, "my")):
        rows += [(f"s{i}", day + (hour * 60 + 5 + 5 * i) / 1440, 380.0, f"sc{i}", f"sd{i}", "100.64.0.1", shop)
                 for i in range(3)]
    rows += [(f"s{i}", 20 + i, 25.0, f"sc{i}", f"sd{i}", f"7.7.7.{i}", "corner") for i in range(3)]
    # an office of 30 on one address; three colleagues lunch at one place every week, all year
    rows += [(f"o{i}", (i * 2.9) % 90, 12.0, f"oc{i}", f"od{i}", "8.8.8.8", f"om{i}") for i in range(30)]
    rows += [(f"c{i}", week * 7 + (12 * 60 + 5 + 5 * i) / 1440, 11.0, f"cc{i}", f"cd{i}", "8.8.8.8", "canteen")
             for i in range(3) for week in range(13)]
    store = open_store(str(tmp_path / "gf.db"))
    _write(store, _rows(rows))
    rings = detect_rings(store)
    assert [r.users for r in rings] == [["s0", "s1", "s2"]]
    assert any("on the same day" in txt for txt in rings[0].reasons)


def test_json_shape_is_kept(tmp_path):
    store, _ = _small_store(tmp_path)
    store.close()
    res = CliRunner().invoke(main, ["rings", "--format", "json", "--store", str(tmp_path / "gf.db")])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert isinstance(out, list) and [r["score"] for r in out] == sorted((r["score"] for r in out), reverse=True)
    keys = {"ring_id", "score", "size", "members", "users", "known_fraud_users", "known_fraud_transactions",
            "shared_identifiers", "first_activity", "last_activity", "total_amount", "reasons", "status",
            "merged_into", "stats"}
    for r in out:
        assert set(r) == keys
        assert all(set(m) == {"type", "id"} for m in r["members"])
        assert [m["id"] for m in r["members"] if m["type"] == "user"] == r["users"]
        assert set(ClusterStats.__dataclass_fields__) == set(r["stats"])


def test_a_mule_chain_is_one_ring_and_its_reasons_name_the_flow(tmp_path):
    """Known fraud accounts pay two mules that pass the money on within hours; victims who paid a known
    fraud account and a shop the mules pay join nobody."""
    rows = []
    for k in range(6):  # two fraudsters (each confirmed by a fraudulent transfer it received) pay m1
        d = 10 + k
        rows += [(f"victim{k}", d, 900.0, "f1" if k % 2 else "f2", f"vc{k}", "1"),
                 ("f1" if k % 2 else "f2", d + 0.05, 800.0, "m1", None, ""),
                 ("m1", d + 0.15, 760.0, "m2", None, ""), ("m2", d + 0.3, 720.0, "shop", None, "")]
    rows += [(f"cust{k}", 5 + k * 3, 40.0, "shop", f"cc{k}", "") for k in range(25)]  # the shop's customers
    store = open_store(str(tmp_path / "gf.db"))
    _write(store, _transfers(rows))
    rings = detect_rings(store)
    assert [r.users for r in rings] == [["f1", "f2", "m1", "m2"]]
    ring = rings[0]
    assert ring.stats.flow_users == 4 and ring.stats.mule_id == "m1"
    assert ring.stats.mule_fraud_senders == 2 and ring.stats.mule_forwarded == pytest.approx(0.95)
    assert any(r.startswith("m1 received 6 transfers from 2 known fraud accounts and forwarded 95% within a day")
               for r in ring.reasons), ring.reasons
    assert not ring.shared_identifiers  # money is described by its own numbers, not as identifiers
    json.dumps([r.to_dict() for r in rings], allow_nan=False)  # strict JSON (the API's): no NaN anywhere


def test_an_unlabelled_mule_network_is_one_ring_without_the_mules_families(tmp_path):
    """No label at all: victims pay four mules, each living with a family of two on one device; the mules pass
    the money on to three new cash-out accounts (on one device) within hours, one of them a day and a half
    late. Savers who sweep their salary into one savings account are no network."""
    buys = []
    for j in range(4):  # families: the mule and two relatives share a device and a network address
        buys += [(who, d + 0.1 * k, 35.0, f"{who}-card", f"home{j}", f"10.0.{j}.1", f"grocer{d % 3}")
                 for k, who in enumerate((f"m{j}", f"r{j}a", f"r{j}b")) for d in range(0, 90, 5)]
    buys += [(f"c{i}", 41 + d + i * 0.2, 300.0, f"c{i}-card", "herder", "66.6.6.6", "atm") for i in range(3)
             for d in range(0, 40, 6)]
    pays = []
    for k in range(12):  # each victim pays a mule once; the mule forwards 90 % to the collectors
        m, d = k % 4, 40 + 3 * k
        late = 1.5 if m == 3 else 0.25
        pays += [(f"v{k}", d, 1000.0, f"m{m}", f"v{k}-card", ""),
                 (f"m{m}", d + late, 500.0, f"c{k % 3}", None, ""),
                 (f"m{m}", d + late + 0.05, 400.0, f"c{(k + 1) % 3}", None, "")]
    for k in range(5):  # savers: one employer pays each, who sweeps it on to the same savings account
        for month in range(3):
            pays += [("employer", 30 * month + 1 + k * 0.01, 2500.0, f"s{k}", None, ""),
                     (f"s{k}", 30 * month + 1.2 + k * 0.01, 2000.0, "savings", None, "")]
    store = open_store(str(tmp_path / "gf.db"))
    _write(store, pd.concat([_rows(buys), _transfers(pays)], ignore_index=True))
    rings = detect_rings(store)
    store.close()
    assert [sorted(r.users) for r in rings] == [["c0", "c1", "c2", "m0", "m1", "m2", "m3"]]
    assert rings[0].stats.flow_users == 7
    assert rings[0].stats.collector_payers == 4  # every mule paid each cash-out account
    assert f"{rings[0].stats.collector_id} was paid by 4 members in 8 transfers" in rings[0].reasons, rings[0].reasons


def test_users_who_paid_each_other_and_share_a_card_are_linked():
    """The peer-to-peer rule: a payment (either way) between users who share a card links them; a payment
    between strangers does not, nor does a payment between two accounts that are no suspects."""
    from graphfraud.ringflows import transfer_edges

    pairs = pd.DataFrame({"src": ["a", "c", "x"], "dst": ["b", "a", "y"], "n": [1, 2, 1],
                          "amount": [50.0, 70.0, 5.0], "first_ts": [1, 2, 3], "last_ts": [1, 4, 3]})
    cards = pd.DataFrame({"user_id": ["a", "b", "q"], "entity_id": ["c1", "c1", "c1"]})
    e = transfer_edges(pairs, set(), cards, 100)
    assert sorted(e["user_id"]) == ["a", "b"] and set(e["entity_id"]) == {"a>b"}
    assert not e["thin"].any() and set(e["ent"]) == {100}
    e = transfer_edges(pairs, {"c", "a"}, cards, 100)  # two suspects: a thin link
    assert sorted(e["entity_id"].unique()) == ["a>b", "c>a"]
    assert e.loc[e["entity_id"] == "c>a", "thin"].all()


def test_shared_cards_tested_with_a_tiny_purchase_are_evidence_a_family_card_is_not(tmp_path):
    # a family of three sharing one card for their groceries all along
    rows = [(f"f{i}", d + i * 0.1, 45.0, "family-card", f"fd{i}", f"3.3.3.{i}", f"grocer{d % 3}")
            for i in range(3) for d in range(0, 80, 4)]
    # three older accounts pass two cards around: each card's first use is a tiny test at a web shop, then
    # ordinary purchases (no new accounts, no burst: only the tests tell)
    for j, card in enumerate(("pool-1", "pool-2")):
        rows += [(f"r{j}", 30 + j * 5 + 0.01, 1.0, card, f"rd{j}", f"4.4.4.{j}", "webshop")]
        rows += [(f"r{k}", 31 + j * 5 + k * 9 + 0.5, 45.0, card, f"rd{k}", f"4.4.4.{k}", f"grocer{k}")
                 for k in range(3)]
    rows += [(f"r{k}", d + 0.3, 45.0, f"own{k}", f"rd{k}", f"4.4.4.{k}", f"grocer{d % 3}")
             for k in range(3) for d in range(0, 80, 6)]
    store = open_store(str(tmp_path / "gf.db"))
    _write(store, _rows(rows))
    rings = {tuple(r.users): r for r in detect_rings(store)}
    store.close()
    ring, family = rings[("r0", "r1", "r2")], rings[("f0", "f1", "f2")]
    assert ring.stats.tested_cards == 2 and family.stats.tested_cards == 0
    assert ring.score > family.score
    assert any("first used for a tiny amount" in txt for txt in ring.reasons)


def _opened_rows(shared_first_only):
    """24 accounts (above the device hub limit of 20) that each made one purchase on device ``kiosk``
    2.5 days apart (never a burst of arrivals) and then lived on their own device, card and address;
    ``shared_first_only=False``: they keep using ``kiosk`` now and then, as strangers do a default id."""
    rows = []
    for j in range(24):
        u, start = f"a{j}", 1 + j * 2.5
        rows.append((u, start, 40.0, f"{u}-card", "kiosk", f"30.0.{j}.1", "shop1"))
        for d in range(1, 8):
            dev = "kiosk" if not shared_first_only and d % 3 == 0 else f"{u}-dev"
            rows.append((u, start + d * 4 + 0.3, 35.0, f"{u}-card", dev, f"30.0.{j}.1", f"shop{d % 5}"))
    return rows


@pytest.mark.parametrize(("first_only", "expected"), [
    (True, [[f"a{j}" for j in range(24)]]),
    (False, []),
], ids=["accounts-opened-on-one-device", "a-default-device-id-used-again"])
def test_accounts_opened_on_one_device_above_its_hub_limit_are_a_ring(tmp_path, first_only, expected):
    store = open_store(str(tmp_path / "gf.db"))
    _write(store, _rows(_opened_rows(first_only)))
    found = [sorted(r.users, key=lambda u: int(u[1:])) for r in detect_rings(store)]
    store.close()
    assert found == expected


def test_a_ring_of_accounts_opened_on_one_device_says_so(tmp_path):
    """What separates it from a default device id: its users opened their accounts on it and left."""
    store = open_store(str(tmp_path / "gf.db"))
    _write(store, _rows(_opened_rows(True)))
    (ring,) = detect_rings(store)
    store.close()
    assert ring.stats.top_identifier_id == "kiosk" and ring.stats.top_identifier_opened == 24
    assert ring.reasons[0] == ("device kiosk is shared by 24 users; 24 of them made their account's first purchase "
                               "on it and never used it again")


def test_the_tables_on_a_terminal_show_the_invisible_characters_of_ids(tmp_path):
    """A hostile probe: an address holding U+202E (right-to-left override) was printed as it is by
    ``rings --format table``, so the rest of the line read backwards on a terminal. Tables show it as a
    marker, as the web pages do; JSON keeps the id exactly."""
    from graphfraud.suspects import Suspect, format_suspects

    addr = "12 Elm St \u202egpj.exe"
    rows = [(f"u{i}", 10 + i * 0.2 + k * 0.1, 300.0, f"card{i}", f"dev{i}", f"7.7.7.{i}", "shop") for i in range(3)
            for k in range(3)]
    df = _rows(rows)
    df["address"] = addr
    df["is_fraud"] = "1"
    good, rejects = validate_frame(df, extra_types=("address",))
    assert not rejects
    store = open_store(str(tmp_path / "gf.db"))
    store.write_transactions(good)
    store.close()
    runner = CliRunner()
    env = {"GRAPHFRAUD_STORE": str(tmp_path / "gf.db")}
    table = runner.invoke(main, ["rings", "--format", "table"], env=env)
    assert table.exit_code == 0, table.output
    assert "12 Elm St ⟨U+202E⟩gpj.exe" in table.output and "\u202e" not in table.output
    as_json = runner.invoke(main, ["rings", "--format", "json"], env=env)
    assert any(s["id"] == addr for s in json.loads(as_json.stdout)[0]["shared_identifiers"])
    shown = format_suspects([Suspect("u\u202e1", 0.5, [f"uses address {addr}"])], "table")
    assert "\u202e" not in shown and "u⟨U+202E⟩1" in shown


def test_customers_who_ordered_on_a_crews_device_and_paid_it_weeks_apart_join_it_before_any_label(tmp_path):
    """A refund service no one has labelled yet (the fifth generator's later half): the crew places
    orders of each customer from its own device, and the customer pays the crew its fee twice, two weeks
    apart. The victim rules cut a long-lived customer's one use of the crew's device; the fees, paid on
    separate days to an account that shares that device, keep the customer in. A takeover's victim, used on
    the crew's device once and drained in that evening, stays out."""
    buys = []
    for i in range(3):  # the crew: days 20-70 on one device, their own cards
        buys += [(f"o{i}", 20 + i * 0.3 + day, 150.0, f"oc{i}", "svc", f"6.6.6.{i}", f"atm{day % 2}")
                 for day in range(0, 50, 2)]
    for c in range(4):  # the customers: a hundred days on their own device and card, two orders placed by the crew
        buys += [(f"c{c}", c + day, 40.0, f"cc{c}", f"cd{c}", f"7.7.{c}.1", "grocer") for day in range(0, 100, 6)]
        buys += [(f"c{c}", 30 + 5 * c + k * 0.5, 900.0, f"cc{c}", "svc", "6.6.6.9", "luxe") for k in range(2)]
    buys += [("v", day, 30.0, "vc", "vd", "8.8.8.8", "grocer") for day in range(0, 100, 7)]
    buys += [("v", 45.0 + k * 0.01, 700.0, "vc", "svc", "6.6.6.8", "luxe") for k in range(2)]  # the takeover's evening
    fees = [(f"c{c}", 32 + 5 * c + k * 14, 120.0, f"o{c % 3}", None, "") for c in range(4) for k in range(2)]
    fees += [("v", 45.02 + k * 0.01, 500.0, "o0", None, "") for k in range(2)]
    rings = _rings_of_frame(tmp_path, pd.concat([_rows(buys), _transfers(fees)], ignore_index=True))
    assert rings == [["c0", "c1", "c2", "c3", "o0", "o1", "o2"]]


def test_a_refund_services_customers_join_its_ring_by_the_fees_they_pay_it(tmp_path):
    """A refund service (the fifth generator): its crew, labelled fraud, shares a device. Its customers live
    months of their own lives, order once for a refund the crew obtains (that order is confirmed fraud) and
    pay the crew its fee, twice, a fortnight apart. They share no identifier with the crew that counts, and a
    customer is no suspect, so they were in no ring. A scam's victim paying the crew twice, all of its confirmed
    fraud those payments, still joins nobody."""
    buys = []
    for i in range(3):  # the crew: days 20-70 on one device, their own cards
        buys += [(f"o{i}", 20 + i * 0.3 + day, 150.0, f"oc{i}", "svc", f"6.6.6.{i}", f"atm{day % 2}")
                 for day in range(0, 50, 2)]
    for c in range(4):  # the customers: a hundred days on their own device and card, one order for a refund
        buys += [(f"c{c}", c + day, 40.0, f"cc{c}", f"cd{c}", f"7.7.{c}.1", "grocer") for day in range(0, 100, 6)]
        buys += [(f"c{c}", 30 + 5 * c, 900.0, f"cc{c}", f"cd{c}", f"7.7.{c}.1", "luxe")]
    buys += [("s", day, 30.0, "sc", "sd", "8.8.8.8", "grocer") for day in range(0, 100, 7)]
    df = _rows(buys)
    df["is_fraud"] = np.where(df["user_id"].str.startswith("o") | (df["merchant_id"] == "luxe"), "1", "0")
    fees = [(f"c{c}", 32 + 5 * c + k * 14, 120.0, f"o{c % 3}", None, "") for c in range(4) for k in range(2)]
    fees += [("s", 40 + k * 14, 500.0, "o0", None, "1") for k in range(2)]
    rings = _rings_of_frame(tmp_path, pd.concat([df, _transfers(fees)], ignore_index=True))
    assert rings == [["c0", "c1", "c2", "c3", "o0", "o1", "o2"]]


def test_the_regulars_of_a_crews_merchant_are_a_ring_and_card_testers_there_stay_two_crews(tmp_path):
    """A crew laundering through a small merchant of its own shares no card, device or address: the merchant,
    whose regulars are the crew and whose labelled charges are fraud, links them (a generator written apart from
    ours). A cafe's regulars are no ring; two crews of card testers (each on its own device) who tried stolen
    cards at one small site stay two rings: the merchant's link gathers loners, it never merges rings."""
    rows = []
    for i in range(5):  # each on their own card, phone and home; ordinary shopping, then charges at the crew's shop
        rows += [(f"c{i}", day + i, 40.0, f"own{i}", f"ph{i}", f"7.7.{i}.1", f"g{day % 5}") for day in range(0, 40, 4)]
        rows += [(f"c{i}", 20 + i * 1.3 + k * 3.1, 250.0, f"own{i}", f"ph{i}", f"7.7.{i}.1", "shop") for k in range(4)]
    rows += [(f"x{i}", 30 + i, 35.0, f"xc{i}", f"xd{i}", f"6.6.{i}.6", "shop") for i in range(3)]  # one-off buyers
    rows += [("h", 3 + k * 9, 30.0, "hc", "hd", "4.4.4.4", "shop") for k in range(4)]  # a regular, labelled legitimate
    for i in range(5):  # a cafe's regulars
        rows += [(f"q{i}", 5 + i + k * 6, 4.5, f"qc{i}", f"qd{i}", f"5.5.{i}.5", "cafe") for k in range(5)]
    for crew in "ab":  # two crews of card testers, each on one laptop, trying stolen cards at one small site
        rows += [(f"{crew}{i}", 10 + i + k * 0.2 + (crew == "b") * 9, 1.0, f"{crew}stolen{i}{k}", f"lap-{crew}",
                  f"8.8.{i}.{k}", "tiny") for i in range(3) for k in range(4)]
    df = _rows(rows)
    df["is_fraud"] = np.where(df["merchant_id"].isin(["tiny"]), "1", "0")
    shop = df.index[df["merchant_id"] == "shop"]
    df.loc[shop[df.loc[shop, "user_id"].str.startswith("c")], "is_fraud"] = "1"
    got = _rings_of_frame(tmp_path, df)
    assert sorted(got) == [["a0", "a1", "a2"], ["b0", "b1", "b2"], ["c0", "c1", "c2", "c3", "c4"]]


def test_a_crew_charging_stolen_cards_through_its_merchant_before_any_label_is_one_ring(tmp_path):
    """Collusive merchants of a seventh generator written apart from ours: five new accounts, each on its own
    device and home address, charge a shop of theirs with stolen cards, four each, twice a card. Thirty customers
    shop there once or twice with their own card, and four more twice with each of three ids of theirs (a phone
    wallet, a watch wallet and the plastic card; a reviewer's case), which they pay the grocer with too. Nothing is
    labelled yet, and the accounts share nothing but the shop: regulars who each cycled three cards through it
    that paid nowhere else, five of them, are its crew; the customers are not."""
    rows = []
    for i in range(5):
        rows += [(f"c{i}", 50 + i * 0.7 + k * 1.3 + h, 199.0, f"stolen{i}-{k}", f"cd{i}", f"8.8.{i}.1", "shop")
                 for k in range(4) for h in (0.0, 0.2)]
    for u in range(34):
        cards = [f"uc{u}"] if u < 30 else [f"phone{u}", f"watch{u}", f"uc{u}"]
        rows += [(f"u{u}", 10 + u + h, 49.0, card, f"ud{u}", f"7.7.{u}.1", "shop") for h in range(1 + u % 2)
                 for card in cards]
        rows += [(f"u{u}", day + u * 0.1, 20.0, card, f"ud{u}", f"7.7.{u}.1", "grocer") for day in (5, 45, 85)
                 for card in cards]
    assert _ring_users(tmp_path, rows) == [[f"c{i}" for i in range(5)]]


@pytest.mark.parametrize("everywhere", [True, False], ids=["every-shop", "one-shop"])
def test_regulars_whose_every_payment_carries_its_own_card_token_are_no_crew(tmp_path, everywhere):
    """Card ids that name a payment, not a card: thirty customers pay a small shop three times each, every
    payment with a new card id (per-payment tokens), and a grocer twice, with tokens too (``every-shop``) or
    beside six cafes whose hundred and twenty customers pay with their own card (``one-shop``, a reviewer's
    case: the store's other shops must not decide it). Each looks like a regular cycling three cards through the
    shop, but so do all of its regulars: their cards there were used once, so cycling says nothing, and no
    ring is made of the shop's customers."""
    rows = []
    for u in range(30):
        rows += [(f"u{u}", 10 + u + h, 49.0, f"tok{u}-s{h}", f"ud{u}", f"7.7.{u}.1", "shop") for h in range(3)]
        if everywhere:
            rows += [(f"u{u}", 50 + u + h, 20.0, f"tok{u}-g{h}", f"ud{u}", f"7.7.{u}.1", "grocer") for h in range(2)]
    for cafe in range(0 if everywhere else 6):
        rows += [(f"n{cafe}-{u}", 10 + u + h * 5, 12.0, f"nc{cafe}-{u}", f"nd{cafe}-{u}", f"4.{cafe}.{u}.1",
                  f"cafe{cafe}") for u in range(20) for h in range(3)]
    assert _ring_users(tmp_path, rows) == []


@pytest.mark.parametrize("tokens", [False, True], ids=["cards", "tokens"])
def test_crews_cycling_stolen_cards_through_a_big_marketplace_are_rings_each_in_its_weeks(tmp_path, tokens):
    """Triangulation and card testing (a generator written apart from ours): new accounts, each on its own device
    and home address, buy at a marketplace of 120 customers with a stolen card a payment, one crew in January and
    another in March. They share nothing but the marketplace, whose customers pay it and a grocer with their own
    cards: each crew is a ring of its own. Where the marketplace's card ids name payments (``tokens``: every
    customer's payments there too), every regular cycles cards, and no ring is made."""
    rows = []
    for crew, start in (("a", 10), ("b", 60)):
        rows += [(f"{crew}{i}", start + i * 0.9 + k * 2.3, 310.0, f"st{crew}{i}-{k}", f"d{crew}{i}",
                  f"9.{ord(crew)}.{i}.1", "market") for i in range(4) for k in range(5)]
    for u in range(120):
        cards = [f"uc{u}"] if u % 3 else [f"uc{u}", f"ux{u}"]
        rows += [(f"u{u}", 5 + u * 0.7 + h * 9, 45.0, f"tok{u}-{h}" if tokens else cards[h % len(cards)],
                  f"ud{u}", f"7.7.{u}.1", "market") for h in range(3)]
        rows += [(f"u{u}", 8 + u * 0.7 + h * 11, 20.0, card, f"ud{u}", f"7.7.{u}.1", "grocer") for h in range(2)
                 for card in cards]
    expected = [] if tokens else [[f"a{i}" for i in range(4)], [f"b{i}" for i in range(4)]]
    assert sorted(_ring_users(tmp_path, rows)) == expected


@pytest.mark.parametrize("case", ["virtual-cards", "a-virtual-card-regular-among-crews", "one-shop"])
def test_honest_customers_with_many_cards_at_a_big_merchant_are_no_crew(tmp_path, case):
    """A reviewer's cases. ``virtual-cards``: 15 of a marketplace's 135 customers pay it for months with a
    single-use virtual card a payment, and the grocer with their own card. ``a-virtual-card-regular-among-crews``:
    one such customer pays it every four days across the weeks of two crews that cycle stolen cards through it.
    ``one-shop``: a shop's own data, where no card pays another merchant, and 12 of its 100 customers take turns
    with three cards over weeks. A crew's stolen card is charged and dropped within days, and its accounts have no
    card of their own; a customer's cards are used over weeks, or beside one of their own: no customer is in a
    ring, and the two crews stay two."""
    rows, expected = [], []
    if case == "one-shop":
        for u in range(100):
            cards = [f"c{u}-{j}" for j in range(3 if u < 12 else 1)]
            rows += [(f"u{u}", u * 0.5 + 7 * h, 40.0, cards[h % len(cards)], f"d{u}", f"7.7.{u}.1", "shop")
                     for h in range(6)]
        assert _ring_users(tmp_path, rows) == []
        return
    for u in range(120):
        rows += [(f"u{u}", 5 + u * 0.7 + h * 9, 45.0, f"uc{u}", f"ud{u}", f"7.7.{u}.1", "market") for h in range(3)]
        rows += [(f"u{u}", 8 + u * 0.7 + h * 11, 20.0, f"uc{u}", f"ud{u}", f"7.7.{u}.1", "grocer") for h in range(2)]
    virtual = range(15) if case == "virtual-cards" else range(1)
    for v in virtual:  # over months, a new card number each payment at the marketplace
        rows += [(f"v{v}", 3 + v * 2 + 4 * k, 55.0, f"vv{v}-{k}", f"vd{v}", f"6.6.{v}.1", "market") for k in range(21)]
        rows += [(f"v{v}", 4 + v * 2 + 9 * k, 25.0, f"vc{v}", f"vd{v}", f"6.6.{v}.1", "grocer") for k in range(8)]
    if case == "a-virtual-card-regular-among-crews":
        for crew, start in (("a", 10), ("b", 60)):
            rows += [(f"{crew}{i}", start + i * 0.9 + k * 2.3, 310.0, f"st{crew}{i}-{k}", f"d{crew}{i}",
                      f"9.{ord(crew)}.{i}.1", "market") for i in range(4) for k in range(5)]
        expected = [[f"a{i}" for i in range(4)], [f"b{i}" for i in range(4)]]
    assert sorted(_ring_users(tmp_path, rows)) == expected


def test_the_pieces_of_a_crew_its_merchant_links_are_one_ring(tmp_path):
    """A crew recruited among customers (a generator written apart from ours) comes out of the clusters in pieces,
    each held by a device a few members share; the crew's merchant, whose regulars they all are over the same
    weeks, makes them one ring. A family whose one member shopped there too stays out."""
    rows = []
    for i in range(6):  # each piece of three shares a phone; ordinary shopping, then charges at the crew's shop
        dev = f"ph{i // 3}"
        rows += [(f"c{i}", day + i, 40.0, f"own{i}", dev, f"7.7.{i}.1", f"g{day % 5}") for day in range(0, 60, 4)]
        rows += [(f"c{i}", 30 + i * 0.9 + k * 3.1, 250.0, f"own{i}", dev, f"7.7.{i}.1", "shop") for k in range(4)]
    for i in range(3):  # a family on one tablet: f0 paid the shop twice, legitimately
        rows += [(f"f{i}", day + i, 30.0, f"fc{i}", "tab", "4.4.4.4", f"g{day % 5}") for day in range(0, 60, 5)]
    rows += [("f0", 33 + k * 4, 30.0, "fc0", "tab", "4.4.4.4", "shop") for k in range(2)]
    df = _rows(rows)
    df["is_fraud"] = np.where((df["merchant_id"] == "shop") & df["user_id"].str.startswith("c"), "1", "0")
    got = _rings_of_frame(tmp_path, df)
    assert sorted(got) == [[f"c{i}" for i in range(6)], ["f0", "f1", "f2"]]


def test_crews_at_one_merchant_join_only_in_the_same_weeks_and_when_they_are_its_regulars():
    from graphfraud.ringmerchants import join_crews

    uids = np.array([f"u{i}" for i in range(12)], dtype=object)
    groups = [np.arange(0, 3), np.arange(3, 6), np.arange(6, 9), np.arange(9, 12)]

    def link(users, first, last):
        return pd.DataFrame({"type": "crew_merchant", "ent": 5, "user_id": users, "first_seen": first,
                             "last_seen": last})

    day = 86_400_000
    pieces = pd.concat([link(["u0", "u1", "u2"], 10 * day, 30 * day), link(["u3", "u4", "u5"], 25 * day, 40 * day),
                        link(["u6", "u7", "u8"], 60 * day, 70 * day),  # another crew, weeks later
                        link(["u9", "u10"], 12 * day, 20 * day)])  # two of a group of three: under 80 %
    got = sorted(g.tolist() for g in join_crews(groups, uids, pieces))
    assert got == [[0, 1, 2, 3, 4, 5], [6, 7, 8], [9, 10, 11]]
    assert [g.tolist() for g in join_crews(groups, uids, pieces[:0])] == [g.tolist() for g in groups]
    assert [g.tolist() for g in join_crews(groups, uids, pieces[-2:])] == [g.tolist() for g in groups]
    # a user linked twice to the merchant spans both links, whatever order they come in
    twice = pd.concat([link(["u0", "u1", "u2"], 10 * day, 12 * day), link(["u3", "u4", "u5"], 25 * day, 40 * day),
                       link(["u2"], 20 * day, 30 * day)])
    for order in (twice, twice.iloc[::-1]):
        assert sorted(g.tolist() for g in join_crews(groups[:2], uids, order)) == [[0, 1, 2, 3, 4, 5]]


def test_a_crews_piece_too_small_to_be_read_is_not_joined(tmp_path):
    # with min_size 4 the piece of three is never read: joining it would describe members without transactions
    rows = []
    for i in range(7):
        dev = "ph0" if i < 4 else "ph1"
        rows += [(f"c{i}", day + i, 40.0, f"own{i}", dev, f"7.7.{i}.1", f"g{day % 5}") for day in range(0, 60, 4)]
        rows += [(f"c{i}", 30 + i * 0.9 + k * 3.1, 250.0, f"own{i}", dev, f"7.7.{i}.1", "shop") for k in range(4)]
    df = _rows(rows)
    df["is_fraud"] = np.where(df["merchant_id"] == "shop", "1", "0")
    store = open_store(str(tmp_path / "gf.db"))
    _write(store, df)
    rings = detect_rings(store, min_size=4)
    store.close()
    assert [(r.users, r.stats.n_tx) for r in rings] == [(["c0", "c1", "c2", "c3"], 76)]


def test_a_merchant_chosen_as_a_link_type_is_still_a_shared_identifier(tmp_path):
    # four customers who share only a club they all pay: with merchants among the link types, the club links
    # them and is named as what they share (the crew's-merchant link has a type of its own)
    rows = [(f"u{i}", 2 + i + k * 7, 25.0, f"c{i}", f"d{i}", f"3.3.{i}.3", "club") for i in range(4) for k in range(3)]
    store = open_store(str(tmp_path / "gf.db"))
    _write(store, _rows(rows))
    rings = detect_rings(store, policy=LinkPolicy({"card", "device", "merchant"}))
    store.close()
    assert [r.users for r in rings] == [["u0", "u1", "u2", "u3"]]
    assert [s["id"] for s in rings[0].shared_identifiers] == ["club"]
