"""The card-fraud world (``generate --profile card``): file contract, determinism, scenarios, knobs, loading."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from graphfraud.cli import main
from graphfraud.errors import ValidationError
from graphfraud.synthcard import COLUMNS, SCENARIOS, generate_card, write_card_dataset


@pytest.fixture(scope="module")
def world():
    """Small enough for seconds, big enough that every scenario and look-alike appears."""
    df, truth = generate_card(500, seed=5, days=45)
    df = df.assign(ts=pd.to_datetime(df["timestamp"]), scenario=df["transaction_id"].map(truth["fraud_transactions"]))
    return df, truth


def _read(path):
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _ts(text):
    return pd.Timestamp(text)


def test_same_seed_gives_identical_files(tmp_path):
    knobs = {"days": 30, "label_delay_days": 5, "labelled_share": 0.8}
    a = write_card_dataset(tmp_path / "a" / "tx.csv", 300, seed=7, **knobs)
    b = write_card_dataset(tmp_path / "b" / "tx.csv", 300, seed=7, **knobs)
    for name in ("tx.csv", "truth.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert {k: v for k, v in a.items() if k != "path"} == {k: v for k, v in b.items() if k != "path"}


def test_different_seeds_differ():
    a, ta = generate_card(200, seed=1, days=20)
    b, tb = generate_card(200, seed=2, days=20)
    assert not a.equals(b)
    assert set(a["user_id"]) != set(b["user_id"])
    assert ta["fraud_transactions"] != tb["fraud_transactions"]


def test_columns_and_types(world):
    df, _ = world
    df = df[list(COLUMNS)]
    assert list(df.columns) == list(COLUMNS)
    assert df["transaction_id"].is_unique
    assert df["is_fraud"].isin([0, 1]).all()
    assert (df["amount"] > 0).all() and np.allclose(df["amount"], df["amount"].round(2))
    patterns = {"transaction_id": r"T\d{12}", "timestamp": r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "user_id": r"U\d{8}",
                "card_id": r"C\d{12}", "merchant_id": r"M\d{7}", "currency": r"[A-Z]{3}", "country": r"[A-Z]{2}",
                "device_id": r"D\d{10}|", "ip": r"(\d{1,3}\.){3}\d{1,3}|", "auth_result": r"approved|declined",
                "decline_reason": r"[a-z_]*", "fraud_type": r"third_party|"}
    for col, pattern in patterns.items():
        bad = df.loc[~df[col].astype(str).str.fullmatch(pattern), col]
        assert bad.empty, (col, bad.head().tolist())
    assert ((df["decline_reason"] != "") == (df["auth_result"] == "declined")).all()
    assert ((df["fraud_type"] == "third_party") == (df["is_fraud"] == 1)).all()


def test_csv_layout_and_time_order(tmp_path):
    summary = write_card_dataset(tmp_path / "tx.csv", 200, seed=4, days=20)
    assert (tmp_path / "tx.csv").read_text().splitlines()[0] == ",".join(COLUMNS)
    df = _read(tmp_path / "tx.csv")
    assert len(df) == summary["n_transactions"]
    assert df["amount"].str.fullmatch(r"\d+\.\d\d").all()
    assert df["is_fraud"].isin(["0", "1"]).all()
    stamps = pd.to_datetime(df["timestamp"])
    assert stamps.is_monotonic_increasing
    assert stamps.min() >= _ts("2026-01-05T00:00:00Z") and stamps.max() < _ts("2026-01-25T00:00:00Z")


def test_ids_carry_no_order(world):
    df, _ = world
    # transaction ids are random, not a counter in time order; user ids are not in order of first payment
    assert not df["transaction_id"].is_monotonic_increasing
    first = df.drop_duplicates("user_id")["user_id"]
    assert not first.is_monotonic_increasing and not first.is_monotonic_decreasing


def test_device_and_ip_only_for_web_payments(world):
    df, truth = world
    assert ((df["device_id"] == "") == (df["ip"] == "")).all()
    online = set(df.loc[df["device_id"] != "", "merchant_id"])
    terminals = {w["merchant_id"] for w in truth["compromised_terminals"]}
    assert online and not online & terminals
    assert 0.1 < (df["device_id"] != "").mean() < 0.5


@pytest.mark.parametrize(("rate", "lo", "hi"), [(0.01, 0.007, 0.014), (0.004, 0.0025, 0.006)],
                         ids=["default", "low"])
def test_fraud_rate_follows_the_knob(rate, lo, hi):
    df, _ = generate_card(500, seed=3, days=45, fraud_rate=rate)
    assert lo < df["is_fraud"].mean() < hi


def test_truth_is_consistent_with_labels(world):
    df, truth = world
    fraud = df[df["is_fraud"] == 1]
    assert truth["profile"] == "card" and truth["rings"] == {} and truth["takeover_users"] == []
    assert set(truth["fraud_transactions"]) == set(fraud["transaction_id"])
    assert set(truth["fraud_transactions"].values()) == set(SCENARIOS)
    assert truth["scenarios"] == fraud["scenario"].value_counts().reindex(list(SCENARIOS), fill_value=0).to_dict()
    assert all(n > 0 for n in truth["scenarios"].values())
    assert set(truth["compromised_cards"]) == set(fraud["card_id"])
    skimmed = {w["merchant_id"] for w in truth["compromised_terminals"] + truth["common_points_of_purchase"]}
    assert set(truth["compromised_merchants"]) == skimmed


def test_victims_are_ordinary_cardholders(world):
    df, _ = world
    fraud_users = set(df.loc[df["is_fraud"] == 1, "user_id"])
    legit_users = set(df.loc[df["is_fraud"] == 0, "user_id"])
    assert fraud_users <= legit_users  # a label marks a victim who also pays for themselves


def test_every_payment_at_a_compromised_terminal_in_its_window_is_fraud(world):
    df, truth = world
    assert truth["compromised_terminals"]
    inside = pd.Series(False, index=df.index)
    for w in truth["compromised_terminals"]:
        hit = (df["merchant_id"] == w["merchant_id"]) & (df["ts"] >= _ts(w["start"])) & (df["ts"] < _ts(w["end"]))
        assert hit.any() and (df.loc[hit, "is_fraud"] == 1).all(), w
        inside |= hit
    assert inside[df["scenario"] == "compromised_terminal"].all()  # and that fraud happens nowhere else


def test_common_point_fraud_is_spent_elsewhere_after_the_visit(world):
    df, truth = world
    cpp = df[df["scenario"] == "common_point_of_purchase"]
    assert len(cpp)
    for point in truth["common_points_of_purchase"]:
        visits = df[(df["merchant_id"] == point["merchant_id"]) & (df["ts"] >= _ts(point["start"]))
                    & (df["ts"] < _ts(point["end"])) & df["card_id"].isin(point["cards"])]
        spent = cpp[cpp["card_id"].isin(point["cards"])]
        assert set(visits["card_id"]) == set(point["cards"]) == set(spent["card_id"])
        assert (spent["merchant_id"] != point["merchant_id"]).all()
        first_visit = spent.join(visits.groupby("card_id")["ts"].min().rename("visit"), on="card_id")["visit"]
        assert (spent["ts"] > first_visit + pd.Timedelta(hours=12)).all()
    assert (cpp["amount"].median() > 3 * df.loc[df["is_fraud"] == 0, "amount"].median())


def test_card_testing_is_small_payments_and_declines_before_a_large_one(world):
    df, truth = world
    ct = df[df["scenario"] == "card_testing"]
    assert truth["card_testing"] and len(ct)
    tests = ct[ct["merchant_id"].isin({m for c in truth["card_testing"] for m in c["merchants"]})]
    large = ct.drop(tests.index)
    assert (tests["amount"] < 10).all() and len(large)
    assert (tests["auth_result"] == "declined").mean() > 0.2
    assert (large["amount"] >= 50).all()
    pairs = large.reset_index().merge(tests[["card_id", "ts"]], on="card_id", suffixes=("", "_test"))
    before = pairs[(pairs["ts_test"] < pairs["ts"]) & (pairs["ts_test"] > pairs["ts"] - pd.Timedelta(days=3))]
    assert set(before["index"]) == set(large.index)  # every large one follows tests of its card
    assert set(ct["device_id"]) != {""} and (ct["device_id"] != "").all()  # web payments


def test_stolen_details_are_larger_and_mixed_with_the_holders_payments(world):
    df, _ = world
    stolen = df[df["scenario"] == "stolen_details"]
    span = stolen.groupby("card_id")["ts"].agg(["min", "max"])
    own = df[(df["is_fraud"] == 0) & df["card_id"].isin(span.index)].join(span, on="card_id")
    mixed = own[(own["ts"] >= own["min"]) & (own["ts"] <= own["max"])]["card_id"].nunique()
    assert mixed >= len(span) // 3
    holders = own.groupby("card_id")["amount"].median()
    assert (stolen.groupby("card_id")["amount"].median() > holders.reindex(span.index)).mean() > 0.7


def test_high_amounts_are_high(world):
    df, _ = world
    high = df[df["scenario"] == "high_amount"]
    assert len(high) and (high["amount"] >= 300).all()


def test_look_alikes_are_there(world):
    df, _ = world
    legit = df[df["is_fraud"] == 0]
    assert {"insufficient_funds", "incorrect_pin"} <= set(legit["decline_reason"])  # legitimate declines
    assert (legit["amount"] > 1000).sum() > 5  # legitimate big purchases
    assert (legit["currency"].isin(["USD", "THB", "TRY", "AED", "CHF"])).any()  # travel abroad
    first = legit.groupby("user_id")["ts"].min()
    assert (first > first.min() + pd.Timedelta(days=10)).sum() > 10  # customers joining during the period
    cards = df.groupby("user_id")["card_id"].nunique()
    assert (cards > 1).mean() > 0.1  # second cards and replacements


def test_compromised_cards_are_replaced(world):
    df, truth = world
    fraud = df[df["is_fraud"] == 1]
    last_fraud = fraud.groupby("card_id")["ts"].max()
    owner = fraud.groupby("card_id")["user_id"].first()
    later = df.merge(owner.rename("victim"), left_on="user_id", right_on="victim")
    later = later[~later["card_id"].isin(truth["compromised_cards"])]
    replaced = [c for c in last_fraud.index
                if (later[(later["user_id"] == owner[c]) & (later["ts"] > last_fraud[c])]["card_id"].nunique() > 0)]
    assert len(replaced) > 10


def test_label_delay_adds_labelled_at_and_changes_nothing_else():
    base, _ = generate_card(300, seed=2, days=30)
    df, _ = generate_card(300, seed=2, days=30, label_delay_days=7)
    assert df.drop(columns="labelled_at").equals(base)
    assert (df["labelled_at"] != "").all()  # every row is labelled, so labelled_at does not mark fraud
    delay = (pd.to_datetime(df["labelled_at"]) - pd.to_datetime(df["timestamp"])) / pd.Timedelta(days=1)
    assert (delay >= 0).all()
    fraud = df["is_fraud"] == 1
    assert 2 < delay[fraud].mean() < 10 and 5 < delay[~fraud].mean() < 9
    # a victim's fraud is reported at once: later payments of an episode wait less
    first = df[fraud].groupby("card_id")["timestamp"].transform("min") == df.loc[fraud, "timestamp"]
    assert delay[fraud][first].mean() > delay[fraud][~first].mean()


def test_labelled_share_blanks_labels_of_fraud_and_legitimate_rows_alike(tmp_path):
    write_card_dataset(tmp_path / "tx.csv", 300, seed=2, days=30, labelled_share=0.5, label_delay_days=3)
    df = _read(tmp_path / "tx.csv")
    truth = json.loads((tmp_path / "truth.json").read_text())
    fraud = df["transaction_id"].isin(truth["fraud_transactions"])
    blank = df["is_fraud"] == ""
    assert (blank == (df["labelled_at"] == "")).all()
    assert (df.loc[blank, "fraud_type"] == "").all() and (df.loc[fraud & ~blank, "fraud_type"] == "third_party").all()
    assert 0.2 < blank[fraud].mean() < 0.8 and 0.45 < blank[~fraud].mean() < 0.55
    assert (df.loc[~fraud & ~blank, "is_fraud"] == "0").all() and (df.loc[fraud & ~blank, "is_fraud"] == "1").all()
    # a victim's fraud is labelled or not as a whole
    assert (df[fraud].groupby("card_id")["is_fraud"].nunique() == 1).mean() > 0.9


@pytest.mark.parametrize("knobs", [{"colour": "red"}, {"days": 30, "n_rings": 3}], ids=["unknown", "ring_knob"])
def test_unknown_knobs_are_refused(tmp_path, knobs):
    bad = next(k for k in knobs if k != "days")
    with pytest.raises(ValidationError, match=bad):
        write_card_dataset(tmp_path / "tx.csv", 100, **knobs)
    assert not (tmp_path / "tx.csv").exists()


@pytest.mark.parametrize("kw", [{"n_users": 10}, {"days": 5}, {"fraud_rate": 0.5}, {"labelled_share": 1.5},
                                {"label_delay_days": -1}, {"card_numbers": "luhn"}, {"start": "soon"}],
                         ids=["users", "days", "rate", "share", "delay", "numbers", "start"])
def test_bad_values_are_refused(kw):
    args = {"n_users": 100, **kw}
    with pytest.raises(ValidationError, match=next(iter(kw))):
        generate_card(args.pop("n_users"), **args)


def test_card_numbers_option_gives_luhn_pans_sharing_bins():
    df, truth = generate_card(300, seed=1, days=20, card_numbers="pan")
    base, _ = generate_card(300, seed=1, days=20)
    assert df.drop(columns="card_id").equals(base.drop(columns="card_id"))
    assert df["card_id"].nunique() == base["card_id"].nunique()
    pans = df["card_id"].drop_duplicates()
    assert pans.str.fullmatch(r"[45]\d{15}").all()
    digits = np.array([[int(c) for c in p] for p in pans])
    doubled = digits[:, -2::-2] * 2
    total = digits[:, ::-2].sum(1) + (doubled // 10 + doubled % 10).sum(1)
    assert (total % 10 == 0).all()
    assert pans.str[:6].nunique() <= 12 < len(pans)
    assert set(truth["compromised_cards"]) <= set(pans)


def test_generate_and_load_through_the_cli_keep_every_row(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    out = runner.invoke(main, ["generate", "card/tx.csv", "--profile", "card", "--users", "150", "--seed", "3",
                               "--days", "20", "--fraud-rate", "0.01", "--label-delay-days", "5",
                               "--labelled-share", "0.8"])
    assert out.exit_code == 0, out.output
    summary = json.loads(out.stdout)
    store = str(tmp_path / "gf.db")
    loaded = runner.invoke(main, ["load", "card/tx.csv", "--store", store])
    assert loaded.exit_code == 0, loaded.output
    assert not (tmp_path / "tx.rejects.csv").exists() and "0 rejected" in loaded.output
    info = json.loads(runner.invoke(main, ["info", "--json", "--store", store]).output)
    assert info["transactions"] == summary["n_transactions"]
    assert info["fraud"] == summary["n_labelled_fraud"] > 0
