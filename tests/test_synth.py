"""The synthetic data generator: file contract, determinism, planted fraud and decoys."""
from __future__ import annotations

import hashlib
import importlib
import json
import re
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from graphfraud.cli import PROFILES, main
from graphfraud.errors import ValidationError
from graphfraud.synth import (COLUMNS, DEFAULT_DEVICE_IDS, PROFILE_SHAPES, SHAPES, base, classic, generate,
                              generate_mules, generate_world, write_dataset, write_mixed)
from graphfraud.synthcard import generate_card
from graphfraud.testing import make_transactions, ring_of_user


@pytest.fixture(scope="module")
def small():
    return make_transactions(seed=0)


@pytest.fixture(scope="module")
def medium():
    """Big enough for population-level rates and for defaults shared by 100+ users."""
    return generate(4000, seed=3)


def _read(path):
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def test_same_seed_gives_identical_files(tmp_path):
    a = write_dataset(tmp_path / "a" / "tx.csv", 300, seed=7, days=30)
    b = write_dataset(tmp_path / "b" / "tx.csv", 300, seed=7, days=30)
    assert (tmp_path / "a" / "tx.csv").read_bytes() == (tmp_path / "b" / "tx.csv").read_bytes()
    assert (tmp_path / "a" / "truth.json").read_bytes() == (tmp_path / "b" / "truth.json").read_bytes()
    assert {k: v for k, v in a.items() if k != "path"} == {k: v for k, v in b.items() if k != "path"}


def test_different_seeds_differ():
    df1, truth1 = make_transactions(seed=1)
    df2, truth2 = make_transactions(seed=2)
    assert not df1.equals(df2)
    assert set(df1["user_id"]) != set(df2["user_id"])
    assert truth1["rings"] != truth2["rings"]


def test_columns_and_types(small):
    df, _ = small
    assert list(df.columns) == list(COLUMNS)
    assert df["is_fraud"].isin([0, 1]).all()
    assert (df["amount"] >= 0).all()
    assert np.allclose(df["amount"], df["amount"].round(2))
    assert df["transaction_id"].is_unique
    patterns = {"timestamp": r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "user_id": r"U\d{8}", "currency": r"[A-Z]{3}",
                "country": r"[A-Z]{2}", "merchant_id": r"M\d+", "card_id": r"C\d+",
                "device_id": r"D\d+|" + "|".join(DEFAULT_DEVICE_IDS) + "|",
                "ip": r"(\d{1,3}\.){3}\d{1,3}|"}
    for col, pattern in patterns.items():
        bad = df.loc[~df[col].astype(str).str.fullmatch(pattern), col]
        assert bad.empty, (col, bad.head().tolist())


def test_some_optional_values_are_absent(small):
    df, _ = small
    for col in ("device_id", "ip"):
        share = (df[col] == "").mean()
        assert 0.005 < share < 0.1, (col, share)


def test_csv_layout(tmp_path):
    write_dataset(tmp_path / "tx.csv", 300, seed=0, days=30)
    text = (tmp_path / "tx.csv").read_text()
    assert text.splitlines()[0] == ",".join(COLUMNS)
    df = _read(tmp_path / "tx.csv")
    assert df["amount"].str.fullmatch(r"\d+\.\d\d").all()
    assert df["is_fraud"].isin(["0", "1"]).all()
    assert (df["device_id"] == "").any()


def test_rows_are_in_time_order(tmp_path):
    write_dataset(tmp_path / "tx.csv", 300, seed=4, days=30)
    stamps = pd.to_datetime(_read(tmp_path / "tx.csv")["timestamp"])
    assert stamps.is_monotonic_increasing
    assert stamps.min() >= pd.Timestamp("2026-01-01", tz="UTC")
    assert stamps.max() < pd.Timestamp("2026-01-31", tz="UTC")


def test_every_ring_user_transacts_and_commits_fraud(small):
    df, truth = small
    fraud_users = set(df.loc[df["is_fraud"] == 1, "user_id"])
    assert truth["rings"]
    for ring_id, ring in truth["rings"].items():
        assert re.fullmatch(r"ring-\d{4}", ring_id)
        assert 3 <= len(ring["users"]) <= 40
        assert set(ring["users"]) <= fraud_users, ring_id
    members = ring_of_user(truth)
    assert len(members) == sum(len(r["users"]) for r in truth["rings"].values())  # rings are disjoint


def test_takeover_victims_are_established_users(small):
    df, truth = small
    assert truth["takeover_users"]
    members = ring_of_user(truth)
    for user in truth["takeover_users"]:
        rows = df[df["user_id"] == user]
        assert user not in members
        first_fraud = rows.loc[rows["is_fraud"] == 1, "timestamp"].min()
        assert (rows.loc[rows["is_fraud"] == 0, "timestamp"] < first_fraud).any()
        new_devices = set(rows.loc[rows["is_fraud"] == 1, "device_id"]) - {""}
        assert new_devices and not new_devices & set(rows.loc[rows["is_fraud"] == 0, "device_id"])


def test_only_planted_users_have_fraud(small):
    df, truth = small
    planted = set(ring_of_user(truth)) | set(truth["takeover_users"])
    assert set(df.loc[df["is_fraud"] == 1, "user_id"]) <= planted


def _users_by(df, users, col):
    rows = df[df["user_id"].isin(users) & (df[col] != "")]
    return rows.groupby(col)["user_id"].agg(set)


@pytest.mark.parametrize("seed", [0, 5], ids=["seed0", "seed5"])
def test_ring_shapes_have_their_structure(seed):
    df, truth = make_transactions(seed=seed)
    by_shape = defaultdict(list)
    for ring in truth["rings"].values():
        by_shape[ring["shape"]].append(set(ring["users"]))
    assert set(by_shape) == set(SHAPES)
    for users in by_shape["device_farm"]:
        per_device = _users_by(df, users, "device_id")
        assert per_device.map(len).max() >= max(2, len(users) // 2)
    for users in by_shape["card_pool"]:
        cards = df[df["user_id"].isin(users) & (df["is_fraud"] == 1)].groupby("user_id")["card_id"].nunique()
        assert (cards >= 2).any()
        assert _users_by(df, users, "card_id").map(len).max() >= 2
    for users in by_shape["chain"]:
        # Connected through shared cards and devices, but no single card or device joins everyone.
        links = pd.concat([_users_by(df, users, "card_id"), _users_by(df, users, "device_id")])
        links = [s for s in links if len(s) > 1]
        assert links and max(map(len, links)) < len(users)
        reach = set(links[0])
        for _ in users:
            reach |= set().union(*[s for s in links if s & reach])
        assert reach == users
    for users in by_shape["sleeper"]:
        rows = df[df["user_id"].isin(users)]
        first_fraud = pd.to_datetime(rows.loc[rows["is_fraud"] == 1, "timestamp"])
        early = pd.to_datetime(rows.loc[rows["is_fraud"] == 0, "timestamp"])
        assert (early < first_fraud.min() - pd.Timedelta(days=3)).sum() >= len(users)
        assert first_fraud.max() - first_fraud.min() <= pd.Timedelta(days=3)


def test_decoys_share_devices_and_ips(medium):
    df, truth = medium
    legit = df[df["is_fraud"] == 0]
    per_device = legit[legit["device_id"] != ""].groupby("device_id")["user_id"].nunique()
    assert per_device.max() >= 100
    assert per_device.idxmax() in DEFAULT_DEVICE_IDS
    per_ip = legit[legit["ip"] != ""].groupby("ip")["user_id"].nunique()
    assert (per_ip >= 100).sum() >= 3  # carrier NAT and office IPs
    members = ring_of_user(truth)
    sharing = 0
    for house in truth["decoys"]["households"]:
        assert not set(house["users"]) & set(members)
        if house["device"] and per_device.get(house["device"], 0) >= 2:
            sharing += 1
    assert sharing >= 10


def test_ips_alone_do_not_separate_rings(medium):
    df, truth = medium
    ring_ips = set(df.loc[df["user_id"].isin(ring_of_user(truth)) & (df["is_fraud"] == 1), "ip"]) - {""}
    legit_ips = set(df.loc[df["is_fraud"] == 0, "ip"])
    assert len(ring_ips & legit_ips) >= 5


def test_fraud_amounts_overlap_legitimate_ones(medium):
    df, _ = medium
    fraud, legit = df.loc[df["is_fraud"] == 1, "amount"], df.loc[df["is_fraud"] == 0, "amount"]
    assert fraud.quantile(0.25) < legit.quantile(0.95)
    assert legit.quantile(0.999) > fraud.median()


def test_population_rates(medium):
    df, truth = medium
    n_users = truth["params"]["n_users"]
    assert 0.01 <= df["is_fraud"].mean() <= 0.03
    assert 0.01 <= len(ring_of_user(truth)) / n_users <= 0.03
    assert 0.002 <= len(truth["takeover_users"]) / n_users <= 0.005
    assert 300 <= n_users / len(truth["rings"]) <= 400
    assert 10 <= len(df) / n_users <= 18
    assert 0.6 <= (df["currency"] == "USD").mean() < 0.95
    assert {"EUR", "GBP"} <= set(df["currency"])


def test_users_join_through_the_period(medium):
    df, _ = medium
    first = pd.to_datetime(df.groupby("user_id")["timestamp"].min())
    late = first > pd.Timestamp("2026-02-15", tz="UTC")
    assert 0.1 < late.mean() < 0.5


def test_truth_file_is_written_beside_the_csv(tmp_path):
    out = tmp_path / "nested" / "tx.csv"
    summary = write_dataset(out, 300, seed=0, days=30)
    truth = json.loads((out.parent / "truth.json").read_text())
    df = _read(out)
    assert summary == {"n_transactions": len(df), "n_users": 300, "n_rings": len(truth["rings"]),
                       "n_fraud": int((df["is_fraud"] == "1").sum()), "path": str(out)}
    assert set(truth) >= {"rings", "takeover_users"}
    assert {"shape", "users"} <= set(next(iter(truth["rings"].values())))


@pytest.mark.parametrize(("kw", "field"), [({"n_users": 10}, "n_users"), ({"n_users": 300, "days": 2}, "days"),
                                         ({"n_users": 300, "start": "soon"}, "start")],
                         ids=["few-users", "short-period", "bad-start"])
def test_bad_arguments_are_refused(kw, field):
    with pytest.raises(ValidationError) as info:
        generate(**kw)
    assert info.value.errors[0].startswith(field)


# --- typology worlds (stars, chains, bipartite, sleepers, merchants, mixed) ----------------------------

TYPOLOGY_PROFILES = tuple(PROFILE_SHAPES)
DEFAULT_PROFILE_SHA256 = {  # `--profile rings`, 2000 users, seed 0, 45 days: other checks are calibrated on it
    "transactions.csv": "c3e9c8f157ba3cefa94b42784be9fb9dd7974efbae83679df31f60fdd185c8ca",
    "truth.json": "a3babb90132310c78c148924845d75b82dc235d2a10027e173151b0c6d34f0d3",
}


@pytest.fixture(scope="module")
def worlds():
    """One small world per typology profile (1,500 users over 90 days, a few tenths of a second each)."""
    return {profile: generate_world(profile, 1500, seed=2) for profile in TYPOLOGY_PROFILES}


@pytest.fixture(scope="module")
def mixed_big():
    """Big enough for offices, campuses and carrier NAT to reach their sizes."""
    return generate_world("mixed", 6000, seed=4)


def _fraud_rows(df, truth):
    ids = set(truth["fraud_transactions"]) if "fraud_transactions" in truth else None
    return df["transaction_id"].isin(ids) if ids is not None else df["is_fraud"] == 1


def test_default_profile_output_is_unchanged(tmp_path):
    write_dataset(tmp_path / "transactions.csv", 2000, seed=0, days=45)
    digests = {name: hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() for name in DEFAULT_PROFILE_SHA256}
    assert digests == DEFAULT_PROFILE_SHA256


@pytest.mark.parametrize("profile", TYPOLOGY_PROFILES + ("rings",), ids=TYPOLOGY_PROFILES + ("rings",))
def test_every_profile_is_a_cli_profile_and_repeats_byte_for_byte(tmp_path, profile):
    module, func = PROFILES[profile].split(":")
    write = getattr(importlib.import_module(module, "graphfraud"), func)
    kw = {"labelled_share": 0.7, "label_delay_days": 20.0}
    a = write(tmp_path / "a" / "tx.csv", 400, seed=9, days=40, **kw)
    b = write(tmp_path / "b" / "tx.csv", 400, seed=9, days=40, **kw)
    for name in ("tx.csv", "truth.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert {k: v for k, v in a.items() if k != "path"} == {k: v for k, v in b.items() if k != "path"}
    other = write(tmp_path / "c" / "tx.csv", 400, seed=10, days=40, **kw)
    assert (tmp_path / "c" / "tx.csv").read_bytes() != (tmp_path / "a" / "tx.csv").read_bytes()
    assert other["n_users"] == 400


@pytest.mark.parametrize("profile", TYPOLOGY_PROFILES, ids=TYPOLOGY_PROFILES)
def test_typology_world_contract(worlds, profile):
    df, truth = worlds[profile]
    assert list(df.columns) == list(COLUMNS)
    assert df["transaction_id"].is_unique and pd.to_datetime(df["timestamp"]).is_monotonic_increasing
    assert {r["shape"] for r in truth["rings"].values()} == set(PROFILE_SHAPES[profile])
    members = ring_of_user(truth)
    assert len(members) == sum(len(r["users"]) for r in truth["rings"].values())  # rings are disjoint
    fraud_users = set(df.loc[df["is_fraud"] == 1, "user_id"])
    for ring in truth["rings"].values():
        assert 3 <= len(ring["users"]) <= 30
        assert set(ring["users"]) <= fraud_users
    assert truth["takeover_users"] and not set(truth["takeover_users"]) & set(members)
    assert fraud_users <= set(members) | set(truth["takeover_users"])
    assert truth["profile"] == profile and truth["knobs"]["labelled_share"] == 1.0
    assert "fraud_transactions" not in truth  # every label is in the CSV, on time
    assert truth["n_fraud"] == int(df["is_fraud"].sum())


def test_ring_sizes_span_3_to_30():
    _, truth = generate_world("stars", 10000, seed=1, fraud_rate=0.04)
    sizes = [len(r["users"]) for r in truth["rings"].values()]
    assert min(sizes) == 3 and max(sizes) >= 25 and max(sizes) <= 30


def test_ids_carry_no_order(worlds):
    df, truth = worlds["mixed"]
    users = sorted(set(df["user_id"]))
    rank = {u: i for i, u in enumerate(users)}
    for ring in truth["rings"].values():
        ranks = sorted(rank[u] for u in ring["users"])
        assert ranks[-1] - ranks[0] > len(ranks) * 5  # members are not neighbours in id order
    first_seen = df.drop_duplicates("ip")["ip"].head(200).tolist()
    assert first_seen != sorted(first_seen)


def test_star_rings_share_one_identifier(worlds):
    df, truth = worlds["stars"]
    column = {"card": "card_id", "device": "device_id", "ip": "ip"}
    kinds = set()
    for ring in truth["rings"].values():
        hub = ring["hub"]
        kinds.add(hub["type"])
        users = set(ring["users"])
        on_hub = set(df.loc[df[column[hub["type"]]] == hub["id"], "user_id"])
        assert users <= on_hub
        if hub["type"] != "ip":  # a datacenter hub is also a VPN exit; cards and devices are the ring's (and
            assert len(on_hub - users) <= 1  # at most the customer whose card was stolen)
    assert len(kinds) >= 2


def test_chain_pairs_share_a_different_type_each_step(worlds):
    df, truth = worlds["chains"]
    column = {"card": "card_id", "device": "device_id", "ip": "ip"}
    for ring in truth["rings"].values():
        order, links = ring["order"], ring["links"]
        assert len(links) == len(order) - 1
        for i, link in enumerate(links):
            assert link["users"] == order[i:i + 2]
            assert set(df.loc[df[column[link["type"]]] == link["id"], "user_id"]) == set(link["users"])
            if i:
                assert link["type"] != links[i - 1]["type"]
        if len(order) >= 4:  # the ends share nothing of the ring's
            ends = [df[df["user_id"] == u] for u in (order[0], order[-1])]
            for col in ("card_id", "device_id"):
                assert not (set(ends[0][col]) & set(ends[1][col])) - {"", *DEFAULT_DEVICE_IDS}


def test_bipartite_rings_are_many_users_by_many_cards(worlds):
    df, truth = worlds["bipartite"]
    for ring in truth["rings"].values():
        rows = df[df["user_id"].isin(ring["users"]) & (df["is_fraud"] == 1)]
        assert (rows.groupby("user_id")["card_id"].nunique() >= 2).all()
        per_card = rows.groupby("card_id")["user_id"].nunique()
        assert set(per_card.index) == set(ring["card_pool"]) and (per_card >= 2).all()
        first = rows.drop_duplicates("card_id")  # rows are in time order: each card is tested first
        assert (first["amount"] <= 5).all()


def test_sleepers_live_for_weeks_then_burst_together(worlds):
    df, truth = worlds["sleepers"]
    ts = pd.to_datetime(df["timestamp"])
    for ring in truth["rings"].values():
        mine = df["user_id"].isin(ring["users"])
        fraud = ts[mine & (df["is_fraud"] == 1)]
        assert fraud.max() - fraud.min() <= pd.Timedelta(hours=48)
        for user in ring["users"]:
            rows = df["user_id"] == user
            ordinary = ts[rows & (df["is_fraud"] == 0) & (ts < fraud.min())]
            assert len(ordinary) >= 3
            assert fraud.min() - ordinary.min() >= pd.Timedelta(days=20)


def test_merchant_rings_spread_over_many_merchants_and_stay_linked(worlds):
    df, truth = worlds["merchants"]
    column = {"card": "card_id", "device": "device_id", "ip": "ip"}
    for ring in truth["rings"].values():
        rows = df[df["user_id"].isin(ring["users"]) & (df["is_fraud"] == 1)]
        assert rows["merchant_id"].nunique() >= min(10, len(rows) // 2)
        assert rows["merchant_id"].value_counts(normalize=True).iloc[0] < 0.3
        reach = {ring["users"][0]}
        for _ in ring["users"]:
            for link in ring["links"]:
                assert set(df.loc[df[column[link["type"]]] == link["id"], "user_id"]) == set(link["users"])
                if reach & set(link["users"]):
                    reach |= set(link["users"])
        assert reach == set(ring["users"])


def test_look_alikes_are_there(mixed_big):
    df, truth = mixed_big
    decoys = truth["decoys"]
    per_ip = df[df["ip"] != ""].groupby("ip")["user_id"].nunique()
    per_device = df[df["device_id"] != ""].groupby("device_id")["user_id"].nunique()
    houses = decoys["households"]
    assert {len(h["users"]) for h in houses} == {2, 3, 4, 5, 6}
    assert sum(per_ip.get(h["ip"], 0) >= 2 for h in houses) >= 0.9 * len(houses)  # some never buy anything
    assert sum(h["device"] is not None and per_device.get(h["device"], 0) >= 2 for h in houses) >= 0.4 * len(houses)
    family = [h for h in houses if h["card"]]
    assert len(family) >= 0.2 * len(houses)
    assert sum(df.loc[df["card_id"] == h["card"], "user_id"].nunique() >= 2 for h in family) >= 0.8 * len(family)
    assert any(h["joined_together"] for h in houses)
    offices = [per_ip.get(o["ip"], 0) for o in decoys["offices"]]
    assert min(offices) >= 5 and 12 <= np.median(offices) <= 80
    n_users = truth["params"]["n_users"]
    assert all(c["n_users"] >= 0.015 * n_users and per_ip[c["ip"]] >= 0.7 * c["n_users"] for c in decoys["campuses"])
    nat = max(c["n_users"] for c in decoys["carrier_ips"])
    assert nat >= 0.15 * n_users and nat == per_ip.max()  # thousands at 10,000 users
    assert per_device.idxmax() in DEFAULT_DEVICE_IDS and per_device.max() >= 100
    web_only = df[df["user_id"].isin(decoys["web_only_users"]) & (df["is_fraud"] == 0)]
    assert len(web_only) and (web_only["device_id"] == "").all()
    assert 0.03 < (df["device_id"] == "").mean() < 0.15
    assert decoys["flash_sales"] and decoys["big_spenders"]
    members = set(ring_of_user(truth))
    assert not members & {u for h in houses for u in h["users"]}


def test_takeovers_are_lone_and_on_established_accounts(worlds):
    df, truth = worlds["mixed"]
    for user in truth["takeover_users"]:
        rows = df[df["user_id"] == user]
        first_fraud = rows.loc[rows["is_fraud"] == 1, "timestamp"].min()
        assert (rows.loc[rows["is_fraud"] == 0, "timestamp"] < first_fraud).sum() >= 2
        fraud_devices = set(rows.loc[rows["is_fraud"] == 1, "device_id"])
        assert not (fraud_devices - {"", *DEFAULT_DEVICE_IDS}) & set(rows.loc[rows["is_fraud"] == 0, "device_id"])


@pytest.mark.parametrize("rate", [0.002, 0.01, 0.04], ids=["0.2%", "1%", "4%"])
def test_fraud_rate_is_honoured(rate):
    df, truth = generate_world("mixed", 5000, seed=6, fraud_rate=rate)
    assert 0.75 * rate <= df["is_fraud"].mean() <= 1.35 * rate
    assert truth["knobs"]["fraud_rate"] == rate


def test_partial_and_late_labels_leave_the_world_alone():
    full, truth_full = generate_world("mixed", 1500, seed=8)
    part, truth = generate_world("mixed", 1500, seed=8, labelled_share=0.6, label_delay_days=30)
    assert part.drop(columns=["is_fraud", "labelled_at"]).equals(full.drop(columns=["is_fraud"]))
    assert truth["rings"] == truth_full["rings"]
    fraud = full["is_fraud"] == 1
    assert set(truth["fraud_transactions"]) == set(full.loc[fraud, "transaction_id"])
    assert truth["knobs"] == {"fraud_rate": 0.015, "label_delay_days": 30.0, "labelled_share": 0.6}
    blank = part["is_fraud"].isna()
    for rows in (fraud, ~fraud):  # a blank label says nothing about the row
        assert 0.3 <= blank[rows].mean() <= 0.5
    assert (part.loc[~blank, "is_fraud"] == full.loc[~blank, "is_fraud"]).all()
    assert (part.loc[blank, "labelled_at"] == "").all()
    late = pd.to_datetime(part.loc[~blank, "labelled_at"]) - pd.to_datetime(part.loc[~blank, "timestamp"])
    assert (late >= pd.Timedelta(0)).all()
    assert 20 <= late.dt.total_seconds().mean() / 86400 <= 45


def test_partial_labels_reach_the_csv_and_truth_file(tmp_path):
    summary = write_mixed(tmp_path / "tx.csv", 600, seed=3, days=40, labelled_share=0.5)
    df = _read(tmp_path / "tx.csv")
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert list(df.columns) == list(COLUMNS)  # no labelled_at without a delay
    assert (df["is_fraud"] == "").any() and set(df["is_fraud"]) == {"", "0", "1"}
    assert len(truth["fraud_transactions"]) == summary["n_fraud"] > summary["n_fraud_labelled"]
    assert set(df.loc[df["is_fraud"] == "1", "transaction_id"]) <= set(truth["fraud_transactions"])
    assert truth["profile"] == "mixed" and set(truth) >= {"rings", "takeover_users", "knobs", "params"}


def test_default_profile_takes_label_knobs_on_the_same_world(tmp_path):
    write_dataset(tmp_path / "a" / "tx.csv", 400, seed=5, days=30)
    write_dataset(tmp_path / "b" / "tx.csv", 400, seed=5, days=30, labelled_share=0.5, label_delay_days=10)
    a, b = _read(tmp_path / "a" / "tx.csv"), _read(tmp_path / "b" / "tx.csv")
    assert a.drop(columns="is_fraud").equals(b.drop(columns=["is_fraud", "labelled_at"]))
    truth = json.loads((tmp_path / "b" / "truth.json").read_text())
    assert set(truth["fraud_transactions"]) == set(a.loc[a["is_fraud"] == "1", "transaction_id"])
    assert truth["profile"] == "rings" and (b["is_fraud"] == "").any()


@pytest.mark.parametrize(("profile", "knobs", "name"), [
    ("rings", {"fraud_rate": 0.01}, "fraud_rate"),
    ("mixed", {"fraud_rate": 0.2}, "fraud_rate"),
    ("stars", {"label_delay_days": 90}, "label_delay_days"),
    ("chains", {"labelled_share": 1.5}, "labelled_share"),
    ("sleepers", {"colour": "red"}, "colour"),
], ids=["rings-rate", "rate-too-high", "delay-too-long", "share-above-1", "unknown-knob"])
def test_unsupported_knobs_are_refused_by_name(tmp_path, profile, knobs, name):
    module, func = PROFILES[profile].split(":")
    write = getattr(importlib.import_module(module, "graphfraud"), func)
    with pytest.raises(ValidationError) as info:
        write(tmp_path / "tx.csv", 300, seed=0, days=30, **knobs)
    assert name in str(info.value) and info.value.errors[0].startswith(name)
    assert not (tmp_path / "tx.csv").exists()


def test_cli_refuses_an_unsupported_knob(tmp_path):
    result = CliRunner().invoke(main, ["generate", str(tmp_path / "tx.csv"), "--users", "300", "--days", "30",
                                       "--fraud-rate", "0.01"])
    assert result.exit_code == 1 and "fraud_rate" in result.output


@pytest.mark.parametrize("profile", TYPOLOGY_PROFILES, ids=TYPOLOGY_PROFILES)
def test_every_profile_loads_without_rejects(tmp_path, profile):
    runner = CliRunner()
    out = tmp_path / "tx.csv"
    made = runner.invoke(main, ["generate", str(out), "--profile", profile, "--users", "400", "--seed", "1",
                                "--days", "45", "--label-delay-days", "5", "--labelled-share", "0.8"])
    assert made.exit_code == 0, made.output
    n = json.loads(made.stdout)["n_transactions"]
    store, rejects = tmp_path / "s.db", tmp_path / "rejects.csv"
    loaded = runner.invoke(main, ["load", str(out), "--store", str(store), "--rejects", str(rejects)])
    assert loaded.exit_code == 0, loaded.output
    assert f"{n:,} inserted" in loaded.output and " 0 rejected" in loaded.output
    info = runner.invoke(main, ["info", "--json", "--store", str(store)])
    assert json.loads(info.output)["transactions"] == n


# --- the block writer (#16): files written a block of rows at a time ------------------------------------

GENERATORS = {"rings": generate, "mules": generate_mules, "card": generate_card,
              **{p: (lambda p: lambda *a, **kw: generate_world(p, *a, **kw))(p) for p in PROFILE_SHAPES}}
# (profile, seed, knobs) -> first 16 hex digits of the SHA-256 of tx.csv, truth.json and labels.csv (mules)
# written by the whole-frame writer before #16 (commit 4b53efc), 400 users over 30 days.
WRITTEN_BEFORE = [
    ("rings", 1, {}, "4f29504260b65c81", "ad6bc4970f069ec5", None),
    ("rings", 2, {"label_delay_days": 30.0, "labelled_share": 0.5}, "2a8baf8d82ba00a7", "5a9f3ac016284944", None),
    ("rings", 3, {"label_delay_days": 0.0}, "6ac55268e384d6d9", "659a01970b7a1e8d", None),
    ("mixed", 4, {"labelled_share": 0.6, "label_delay_days": 20.0}, "ea06a68cd15bea7e", "0ec3637d40094aea", None),
    ("stars", 5, {}, "2d4a0ebf1c56e606", "bf5b27abc263c3b9", None),
    ("sleepers", 6, {"fraud_rate": 0.01, "label_delay_days": 5.0}, "c55953e9179a8813", "05fc5bfcb42492ae", None),
    ("mules", 7, {"label_delay_days": 10.0}, "6c7882eb7a7fb28d", "0903694ee7fb52cd", "74df45da2bcc27c5"),
    ("mules", 8, {"labelled_share": 0.3}, "52ecded9fccb4f22", "cb976873c0e99fa0", "d5791112c48617c8"),
    ("card", 9, {"labelled_share": 0.7, "label_delay_days": 5.0, "card_numbers": "pan"}, "e8bebad017dc504f",
     "972a2c7ba5e9eacc", None),
    ("card", 10, {}, "095966d5c146bf54", "96ec6a5e3840ffed", None),
]
WRITTEN_IDS = [f"{p}-{seed}-{'-'.join(k) or 'plain'}" for p, seed, k, *_ in WRITTEN_BEFORE]


def _write(tmp_path, profile, seed, knobs):
    module, func = PROFILES[profile].split(":")
    write = getattr(importlib.import_module(module, "graphfraud"), func)
    return write(tmp_path / "tx.csv", 400, seed=seed, days=30, **knobs)


@pytest.mark.parametrize(("profile", "seed", "knobs", "csv", "truth", "labels"), WRITTEN_BEFORE, ids=WRITTEN_IDS)
def test_block_writer_writes_the_generators_frame_byte_for_byte(tmp_path, monkeypatch, profile, seed, knobs, csv,
                                                                truth, labels):
    monkeypatch.setattr(base, "BLOCK_ROWS", 293)  # several blocks, boundaries anywhere in a day
    summary = _write(tmp_path, profile, seed, knobs)
    if profile == "rings" and knobs:  # the label knobs are the writer's, on generate's world
        cols, ids, t0, want = classic._world(400, seed, "2026-01-01", 30)
        df = base.table(cols, ids, t0, *classic._relabel(cols, ids, t0, want, seed, knobs)).frame()
    else:
        made = GENERATORS[profile](400, seed=seed, days=30, **knobs)
        df, want = made[0], made[-1]
    expected = df.to_csv(index=False, float_format="%.2f", lineterminator="\n").encode()
    assert len(df) > 5 * 293 and summary["n_transactions"] == len(df)
    assert (tmp_path / "tx.csv").read_bytes() == expected
    assert (tmp_path / "truth.json").read_bytes() == (json.dumps(want, indent=1) + "\n").encode()


@pytest.mark.parametrize(("profile", "seed", "knobs", "csv", "truth", "labels"), WRITTEN_BEFORE, ids=WRITTEN_IDS)
def test_block_writer_keeps_the_bytes_of_the_whole_frame_writer(tmp_path, profile, seed, knobs, csv, truth, labels):
    _write(tmp_path, profile, seed, knobs)
    digests = {name: hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()[:16]
               for name in ("tx.csv", "truth.json", "labels.csv") if (tmp_path / name).exists()}
    assert digests == {"tx.csv": csv, "truth.json": truth, **({"labels.csv": labels} if labels else {})}

