"""The synthetic data generator: file contract, determinism, planted fraud and decoys."""
from __future__ import annotations

import json
import re
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest

from graphfraud.errors import ValidationError
from graphfraud.synth import COLUMNS, DEFAULT_DEVICE_IDS, SHAPES, generate, write_dataset
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
