"""The mule world (``--profile mules``): file contract, determinism, each typology's structure, the
look-alikes, partial labels, and loading through the CLI."""
from __future__ import annotations

import importlib
import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from graphfraud.cli import PROFILES, main
from graphfraud.errors import ValidationError
from graphfraud.synth import MULE_COLUMNS, MULE_SHAPES, generate_mules, write_mules


@pytest.fixture(scope="module")
def world():
    """2,000 customers over 90 days (about a second); every shape appears at least once."""
    return generate_mules(2000, seed=5)


def _transfers(df):
    return df[df["counterparty_id"] != ""]


def _dirty(df, truth):
    return df[df["transaction_id"].isin(set(truth["fraud_transactions"]))]


def _groups(truth, shape):
    out = [g for g in truth["rings"].values() if g["shape"] == shape]
    assert out, f"no {shape} group planted"
    return out


# ---------------------------------------------------------------- contract and determinism
def test_same_seed_gives_identical_files_and_another_seed_does_not(tmp_path):
    kw = {"days": 45, "label_delay_days": 10.0, "labelled_share": 0.6}
    a = write_mules(tmp_path / "a" / "tx.csv", 400, seed=9, **kw)
    b = write_mules(tmp_path / "b" / "tx.csv", 400, seed=9, **kw)
    for name in ("tx.csv", "labels.csv", "truth.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert {k: v for k, v in a.items() if k not in ("path", "labels")} == \
        {k: v for k, v in b.items() if k not in ("path", "labels")}
    write_mules(tmp_path / "c" / "tx.csv", 400, seed=10, **kw)
    assert (tmp_path / "c" / "tx.csv").read_bytes() != (tmp_path / "a" / "tx.csv").read_bytes()


def test_mules_is_a_cli_profile():
    module, func = PROFILES["mules"].split(":")
    assert getattr(importlib.import_module(module, "graphfraud"), func) is write_mules


def test_world_contract(world):
    df, labels, truth = world
    assert list(df.columns) == list(MULE_COLUMNS)
    assert df["transaction_id"].is_unique and pd.to_datetime(df["timestamp"]).is_monotonic_increasing
    assert set(df["is_fraud"].unique()) <= {0, 1}
    assert {g["shape"] for g in truth["rings"].values()} == set(MULE_SHAPES)
    members = [u for g in truth["rings"].values() for u in g["users"]]
    assert len(members) == len(set(members))  # groups are disjoint
    assert sorted(members) == truth["mules"] == sorted(truth["typologies"])
    assert all(truth["typologies"][u] == g["shape"] for g in truth["rings"].values() for u in g["users"])
    assert "takeover_users" in truth and not set(truth["takeover_users"]) & set(truth["mules"])
    assert not set(truth["victims"]) & set(truth["mules"])
    assert truth["n_fraud"] == len(truth["fraud_transactions"]) > 0
    # every mule moves dirty money, and every dirty row touches a mule
    dirty = _dirty(df, truth)
    touched = set(dirty["user_id"]) | set(dirty["counterparty_id"])
    assert set(truth["mules"]) <= touched
    mules = set(truth["mules"])
    assert (dirty["user_id"].isin(mules) | dirty["counterparty_id"].isin(mules)).all()
    # transfers are between accounts, purchases at merchants: never both, never neither
    assert ((df["counterparty_id"] != "") ^ (df["merchant_id"] != "")).all()
    assert (df.loc[df["user_id"].str.startswith("X"), "device_id"] == "").all()  # outside banks: no device


def test_the_fraud_rate_is_honoured_and_sets_the_number_of_mules():
    _, _, low = generate_mules(3000, seed=3, days=60, fraud_rate=0.004)
    _, _, high = generate_mules(3000, seed=3, days=60, fraud_rate=0.02)
    assert 0.002 < low["fraud_rate"] < 0.008 and 0.01 < high["fraud_rate"] < 0.03
    assert len(high["mules"]) > 2 * len(low["mules"])


@pytest.mark.parametrize(("knobs", "name"), [
    ({"fraud_rate": 0.2}, "fraud_rate"), ({"labelled_share": 1.5}, "labelled_share"),
    ({"label_delay_days": 90}, "label_delay_days"), ({"colour": "red"}, "colour"), ({"n_users": 100}, "n_users"),
], ids=["rate-too-high", "share-above-1", "delay-too-long", "unknown-knob", "too-few-users"])
def test_bad_knobs_are_refused_by_name(tmp_path, knobs, name):
    kw = {"n_users": 300, "seed": 0, "days": 30, **knobs}
    with pytest.raises(ValidationError) as info:
        write_mules(tmp_path / "tx.csv", **kw)
    assert name in str(info.value)
    assert not (tmp_path / "tx.csv").exists()


# ---------------------------------------------------------------- labels: part of the truth, no more
def test_labels_are_a_part_of_the_mules(world):
    df, labels, truth = world
    assert list(labels.columns) == ["user_id", "user_label"] and (labels["user_label"] == "mule").all()
    known = set(labels["user_id"])
    assert known and known < set(truth["mules"])  # some are known, not all
    assert sorted(known) == truth["known_mules"]
    for g in truth["rings"].values():
        assert set(g["known"]) <= set(g["users"]) and (g["known"] == [] or g["investigated"])
    labelled = set(df.loc[df["is_fraud"] == 1, "transaction_id"])
    dirty = set(truth["fraud_transactions"])
    assert labelled <= dirty | set(truth["false_reports"])
    assert dirty - labelled  # some dirty money is never reported
    assert truth["false_reports"] and not set(truth["false_reports"]) & dirty  # disputes that were not fraud


def test_label_knobs_leave_the_world_alone():
    a, la, ta = generate_mules(600, seed=4, days=45)
    b, lb, tb = generate_mules(600, seed=4, days=45, labelled_share=1.0, label_delay_days=20)
    c, lc, tc = generate_mules(600, seed=4, days=45, labelled_share=0.0)
    same = [col for col in MULE_COLUMNS if col != "is_fraud"]
    assert a[same].equals(b[same]) and a[same].equals(c[same])
    assert ta["mules"] == tb["mules"] == tc["mules"]
    assert len(lc) == 0 and set(c.loc[c["is_fraud"] == 1, "transaction_id"]) == set(tc["false_reports"])
    assert len(lb) > len(la) and "labelled_at" in b.columns and list(lb.columns)[-1] == "labelled_at"
    # labels arrive after what they label
    lab = b[b["labelled_at"] != ""]
    assert (pd.to_datetime(lab["labelled_at"]) >= pd.to_datetime(lab["timestamp"])).all()


# ---------------------------------------------------------------- each typology's defining structure
def _edges(dirty):
    t = _transfers(dirty)
    return t.groupby(["user_id", "counterparty_id"])["amount"].agg(["sum", "size"])


def test_chains_pass_money_down_the_line_minus_a_commission(world):
    df, _, truth = world
    dirty = _dirty(df, truth)
    edges = _edges(dirty)
    received = _transfers(dirty).groupby("counterparty_id")["amount"].sum()
    for g in _groups(truth, "chain"):
        order = g["order"]
        assert 3 <= len(order)
        hops = [(a, b) for a, b in zip(order, order[1:]) if (a, b) in edges.index]
        assert len(hops) >= 2  # the money walks the line (the period's end may cut the last hops)
        for a, b in hops:
            assert edges.loc[(a, b), "sum"] < received[a]  # each hop keeps a cut
        first = _transfers(dirty)
        t_in = pd.to_datetime(first.loc[first["counterparty_id"] == order[0], "timestamp"]).min()
        t_out = pd.to_datetime(first.loc[first["user_id"] == order[0], "timestamp"]).min()
        assert t_in < t_out  # received before it was passed on


def test_fan_ins_collect_from_many(world):
    df, _, truth = world
    t = _transfers(_dirty(df, truth))
    for g in _groups(truth, "fan_in"):
        feeders = set(g["users"]) - {g["collector"]}
        senders = set(t.loc[t["counterparty_id"] == g["collector"], "user_id"])
        assert len(senders & feeders) >= 4


def test_fan_outs_spread_one_account_s_money(world):
    df, _, truth = world
    t = _transfers(_dirty(df, truth))
    for g in _groups(truth, "fan_out"):
        out = t[t["user_id"] == g["distributor"]]
        assert out["counterparty_id"].isin(g["users"]).sum() >= 3
        assert out["counterparty_id"].nunique() >= 3


def test_cycles_return_to_where_they_started(world):
    df, _, truth = world
    edges = _edges(_dirty(df, truth))
    for g in _groups(truth, "cycle"):
        order = g["order"]
        ring = list(zip(order, order[1:] + order[:1]))
        assert all(e in edges.index for e in ring), (ring, edges.index.tolist())


def test_scatter_gather_goes_through_many_to_one(world):
    df, _, truth = world
    edges = _edges(_dirty(df, truth))
    for g in _groups(truth, "scatter_gather"):
        mids = set(g["users"]) - {g["distributor"], g["collector"]}
        scattered = {m for m in mids if (g["distributor"], m) in edges.index}
        gathered = {m for m in mids if (m, g["collector"]) in edges.index}
        assert len(scattered) >= 2 and len(gathered) >= 2 and gathered <= scattered


def test_dormant_accounts_wake_up_after_weeks_of_silence(world):
    df, _, truth = world
    dirty = set(truth["fraud_transactions"])
    ts = pd.to_datetime(df["timestamp"])
    for g in _groups(truth, "dormant"):
        assert set(g["accounts"].values()) == {"dormant"}
        for u in g["users"]:
            mine = (df["user_id"] == u) | (df["counterparty_id"] == u)
            woke = ts[mine & df["transaction_id"].isin(dirty)].min()
            before = ts[mine & (ts < woke)]
            assert len(before) >= 3  # a life before
            assert (woke - before.max()) >= pd.Timedelta(days=20)  # then weeks of nothing


def test_cash_out_leaves_for_atms_or_gift_cards(world):
    df, _, truth = world
    dirty = _dirty(df, truth)
    for g in _groups(truth, "cash_out"):
        for u in g["users"]:
            out = dirty[dirty["user_id"] == u]
            if not len(out):
                continue  # the period ended before the money came out
            assert (out["merchant_id"] != "").all() and (out["card_id"] != "").all()
            assert not out["counterparty_id"].isin(truth["mules"]).any()
        assert set(g["cash_out"].values()) <= {"atm", "gift_cards"}


def test_device_farms_run_many_accounts_from_one_device(world):
    df, _, truth = world
    dirty = _transfers(_dirty(df, truth))
    for g in _groups(truth, "device_farm"):
        assert len(g["users"]) + len(g["idle"]) >= 5 and set(g["accounts"].values()) == {"new"}
        out = dirty[dirty["user_id"].isin(g["users"])]
        assert len(out) and (out["device_id"] == g["device"]).all()
        assert out["user_id"].nunique() >= 3
        assert out["counterparty_id"].str.startswith("X").all()  # straight out of the bank


def test_scam_collectors_get_bursts_of_new_unrelated_senders(world):
    df, _, truth = world
    t = _transfers(df)
    ts = pd.to_datetime(t["timestamp"])
    dirty = set(truth["fraud_transactions"])
    for g in _groups(truth, "scam_collector"):
        for u in g["users"]:
            inbound = t["counterparty_id"] == u
            bad = inbound & t["transaction_id"].isin(dirty)
            senders = set(t.loc[bad, "user_id"])
            assert len(senders) >= 8
            first = ts[bad].min()
            assert ts[bad].max() - first <= pd.Timedelta(days=12)  # a burst
            earlier = set(t.loc[inbound & (ts < first), "user_id"])
            assert not senders & earlier  # none of them had paid this account before
            pairs = t[t["user_id"].isin(senders) & t["counterparty_id"].isin(senders)]
            assert len(pairs) <= len(senders) // 5  # strangers to each other (a few pay each other by chance)


# ---------------------------------------------------------------- the look-alikes
def test_legitimate_accounts_look_like_mules_too(world):
    df, _, truth = world
    t = _transfers(df[~df["transaction_id"].isin(set(truth["fraud_transactions"]))])
    mules = set(truth["mules"])
    senders_in = t.groupby("counterparty_id")["user_id"].nunique()
    d = truth["decoys"]
    # fan-in: landlords, shops; fan-out: payroll; many unrelated senders: shops and sellers
    assert senders_in.reindex(d["landlords"]).max() >= 5
    assert senders_in.reindex(d["shops"]).median() >= 20
    out_day = t.assign(day=t["timestamp"].str[:10]).groupby(["user_id", "day"])["counterparty_id"].nunique()
    assert out_day.max() >= 20 and out_day.idxmax()[0] not in mules  # a payroll run
    # money passed on within hours: savers' salaries, agencies' rent minus their fee
    assert d["savers"] and d["letting_agencies"] and d["remitters"]
    # a cycle of ordinary money: a savings circle pays each member in turn
    takers = [t.loc[t["user_id"].isin(c) & t["counterparty_id"].isin(c), "counterparty_id"].nunique()
              for c in d["savings_circles"]]
    assert max(takers) >= 2
    # the same crypto exchanges take mules' and customers' money
    to_exchange = t[t["counterparty_id"].isin(d["crypto_exchanges"])]
    assert to_exchange["user_id"].isin(d["crypto_users"]).sum() > 20
    # one device, many accounts: accountants' PCs, family tablets
    assert any(len(a["users"]) >= 3 for a in d["accountant_devices"])
    # dormant accounts that wake up for a house purchase
    assert d["woke_up"] and not {x["user"] for x in d["woke_up"]} & mules


# ---------------------------------------------------------------- through the product
def test_the_world_loads_and_its_labels_are_accepted(tmp_path):
    runner = CliRunner()
    out = tmp_path / "w" / "transactions.csv"
    made = runner.invoke(main, ["generate", str(out), "--profile", "mules", "--users", "400", "--seed", "1",
                                "--days", "45", "--label-delay-days", "5", "--labelled-share", "0.8"])
    assert made.exit_code == 0, made.output
    summary = json.loads(made.stdout)
    n = summary["n_transactions"]
    store, rejects = tmp_path / "s.db", tmp_path / "rejects.csv"
    loaded = runner.invoke(main, ["load", str(out), "--store", str(store), "--rejects", str(rejects)])
    assert loaded.exit_code == 0, loaded.output
    assert f"{n:,} inserted" in loaded.output and " 0 rejected" in loaded.output
    labels = out.parent / "labels.csv"
    assert summary["n_known_mules"] == len(pd.read_csv(labels)) > 0
    labelled = runner.invoke(main, ["label", str(labels), "--store", str(store), "--rejects", str(rejects)])
    assert labelled.exit_code == 0, labelled.output
    assert f"{summary['n_known_mules']} added, 0 rejected" in labelled.output
    info = json.loads(runner.invoke(main, ["info", "--json", "--store", str(store)]).output)
    assert info["transactions"] == n and info["user_labels"] == {"mule": summary["n_known_mules"]}
