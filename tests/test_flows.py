"""Money between users: the engine's transfer bookkeeping against brute force, transfer features and label
semantics, and suspect accounts through the CLI on a generated mules world."""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import example, given, settings
from hypothesis import strategies as st

from graphfraud.cli import main
from graphfraud.graph.engine import GraphEngine
from graphfraud.graph.features import compute_features
from graphfraud.graph.flows import FlowGraph
from graphfraud.schema import Label, format_ts, validate_record

DAY = 86_400_000
T0 = 1767225600000  # 2026-01-01


def _expected(transfers: list[tuple[int, int, float]], fraud: set[int], u: int) -> tuple[float, int, float, float]:
    """(received from fraud, fraud senders, received from accounts that received from fraud, sent to fraud)."""
    exposed = {v for s, v, _ in transfers if s in fraud}
    return (sum(a for s, v, a in transfers if v == u and s in fraud),
            len({s for s, v, _ in transfers if v == u and s in fraud}),
            sum(a for s, v, a in transfers if v == u and s in exposed),
            sum(a for s, v, a in transfers if s == u and v in fraud))


#: Amounts whose sums round differently in different orders (cents, as money is), and nothing.
_AMOUNTS = st.one_of(st.integers(1, 50).map(float), st.integers(0, 100_000).map(lambda c: c / 100))


@settings(max_examples=150, deadline=None)
@example(events=[("f", 2, True, 0.0), ("t", 2, 2, 1.0)])  # a known fraud account paying itself
@example(events=[("f", 0, True, 0.0), ("f", 1, True, 0.0), ("t", 0, 5, 810.22), ("t", 1, 5, 902.17),
                 ("t", 0, 5, 310.15), ("t", 1, 5, 729.83), ("t", 0, 5, 898.84), ("t", 1, 5, 683.98),
                 ("t", 5, 6, 50.0), ("f", 0, False, 0.0), ("f", 1, False, 0.0)])  # a residue of 4.5e-13
@given(st.lists(st.one_of(st.tuples(st.just("t"), st.integers(0, 6), st.integers(0, 6), _AMOUNTS),
                          st.tuples(st.just("f"), st.integers(0, 6), st.booleans(), st.just(0.0))), max_size=40))
def test_exposure_to_known_fraud_is_kept_exact_as_transfers_and_labels_arrive(events: list[tuple[Any, ...]]) -> None:
    """The running amounts, each pair's total and last time, and each side's partners equal brute force; an
    amount with no known fraud (any more) behind it is exactly zero and the account is not exposed: labels
    taken back leave no rounding residue behind."""
    g = FlowGraph()
    transfers: list[tuple[int, int, float]] = []
    fraud: set[int] = set()
    for i, (kind, a, b, amount) in enumerate(events):
        if kind == "t":
            g.transfer(a, b, amount, i)
            transfers.append((a, b, amount))
        else:
            g.set_fraud(a, b)
            (fraud.add if b else fraud.discard)(a)
    exposed = {v for s, v, _ in transfers if s in fraud}
    times = {(s, v): i for i, (kind, s, v, _) in enumerate(events) if kind == "t"}  # the last of each pair
    for (s, v), last in times.items():
        assert g.total(s, v) == pytest.approx(sum(a for x, y, a in transfers if (x, y) == (s, v)))
        assert g.last(s, v) == last and g.paid(s, v)
    for u, acc in g.accounts.items():
        assert list(acc.out.partners) == list(dict.fromkeys(v for s, v, _ in transfers if s == u))
        assert list(acc.inn.partners) == list(dict.fromkeys(s for s, v, _ in transfers if v == u))
        fi, fs, h2, fo = _expected(transfers, fraud, u)
        assert acc.fraud_in == pytest.approx(fi) and acc.fraud_senders == fs
        assert acc.hop2_in == pytest.approx(h2) and acc.fraud_out == pytest.approx(fo)
        assert acc.exposed() == (u in exposed)
        if not fs:
            assert acc.fraud_in == 0.0
        if not any(v == u and s in exposed for s, v, _ in transfers):
            assert acc.hop2_in == 0.0
        if not any(s == u and v in fraud for s, v, _ in transfers):
            assert acc.fraud_out == 0.0


def test_a_fraud_label_taken_back_leaves_no_exposure_in_the_transfer_features() -> None:
    """Two accounts known as fraud pay a third in amounts whose running sum rounds differently from each
    sender's total; both labels are taken back. The money columns then read exactly zero, as in an engine
    that never had the labels (a residue of 1e-13 kept the third account "exposed", so what it sent on still
    counted as money two hops from fraud)."""
    amounts = [810.22, 902.17, 310.15, 729.83, 898.84, 683.98]
    engines = []
    for labelled in (True, False):
        e = GraphEngine(label_delay_ms=DAY)
        e.apply(_tx(0, "f", 1))
        e.apply(_tx(1, "g", 1))
        if labelled:
            for who in ("f", "g"):
                e.apply_label_now(Label("user", who, "fraudster", None, "investigator"))
        for i, amount in enumerate(amounts):
            e.apply(_tx(10 + i, "fg"[i % 2], 1.1 + i / 100, "m", amount=amount))
        e.apply(_tx(20, "m", 1.2, "x", amount=50.0))
        if labelled:
            assert e.flows is not None and e.flows.accounts[e.user_ix["x"]].hop2_in == 50.0
            for who in ("f", "g"):
                e.apply_label_now(Label("user", who, "legitimate", None, "investigator"))
        engines.append(e)
    money = ("in_from_fraud_amount", "in_from_fraud_accounts", "in_2hop_fraud_amount", "out_to_fraud_amount",
             "cp_known_fraud", "cp_in_from_fraud_amount", "cp_in_2hop_fraud_amount")
    for probe in (_tx(30, "m", 1.3, "x", amount=10.0), _tx(31, "x", 1.3, "y"), _tx(32, "y", 1.3, "m")):
        rows = []
        for e in engines:
            e.advance(probe.ts)
            f = compute_features(e, probe)
            rows.append([f[c] for c in money])
        assert rows[0] == rows[1] == [0.0] * len(money), rows
    withdrawn, never = (e.flows.accounts[e.user_ix["m"]] for e in engines if e.flows is not None)
    assert withdrawn.fraud_in == never.fraud_in == 0.0 and not withdrawn.exposed()


def _tx(i: int, user: str, day: float, to: str | None = None, **kw: Any) -> Any:
    return validate_record({"transaction_id": f"t{i}", "timestamp": format_ts(T0 + round(day * DAY)), "user_id": user,
                            "amount": kw.pop("amount", 100.0), "counterparty_id": to, **kw})


def test_a_transfer_reads_its_receivers_money_and_cycles() -> None:
    e = GraphEngine(label_delay_ms=DAY)
    e.apply(_tx(1, "a", 1, "m"))
    e.apply(_tx(2, "b", 1.1, "m"))
    e.apply(_tx(3, "m", 1.2, "x", amount=180.0))  # m forwards what it received within hours
    e.apply(_tx(4, "x", 1.3, "c"))
    probe = _tx(5, "c", 1.4, "m")  # c -> m closes m -> x -> c -> m
    e.advance(probe.ts)
    f = compute_features(e, probe)
    assert (f["is_transfer"], f["cp_fan_in"], f["cp_fan_out"], f["cp_in_amount_7d"]) == (1, 2, 1, 200)
    assert f["cp_flow_through_7d"] == pytest.approx(0.9) and f["cycle_3"] == 1 and f["cycle_2"] == 0
    assert f["cp_new_for_payer"] == 1 and f["in_amount_7d"] == 100 and f["fan_in"] == 1
    plain = _tx(6, "a", 1.5)
    assert compute_features(e, plain)["is_transfer"] == 0


def test_a_fraudulent_transfer_belongs_to_its_receiver() -> None:
    """Untyped fraud on a transfer makes the receiver known fraud (a mule) and the payer a victim; what the
    mule sends on then counts as money from known fraud at its recipients."""
    e = GraphEngine(label_delay_ms=DAY)
    for i in range(5):
        e.apply(_tx(i, f"victim{i}", 1 + i / 10, "mule", is_fraud=1))
    e.apply(_tx(10, "mule", 1.6, "boss", amount=450.0))
    e.advance(T0 + 3 * DAY)
    m, b = e.user_ix["mule"], e.user_ix["boss"]
    assert e.u_fraud[m] and e.u_victim[e.user_ix["victim0"]] and not e.u_fraud[e.user_ix["victim0"]]
    assert e.flows is not None and e.flows.accounts[b].fraud_in == 450.0
    probe = _tx(11, "someone", 3.1, "mule")
    assert compute_features(e, probe)["cp_known_fraud"] == 1
    e.apply_label_now(Label("user", "mule", "legitimate", None, "investigator"))
    assert not e.u_fraud[m] and e.flows.accounts[b].fraud_in == 0.0


@pytest.fixture(scope="module")
def mules_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("mules")
    res = CliRunner().invoke(main, ["generate", str(d / "tx.csv"), "--profile", "mules", "--users", "800", "--seed", "5",
                                    "--days", "45"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return d


def _run(args: list[str], store: Path) -> Any:
    res = CliRunner().invoke(main, args, env={"GRAPHFRAUD_STORE": str(store)}, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res


def test_suspects_rank_hidden_mules_from_account_labels_alone(mules_world: Path, tmp_path: Path) -> None:
    """Half the known mules are labelled; transactions carry no label; `train` fits the account model and
    `suspects` ranks every account, the hidden mules well above their share."""
    from sklearn.metrics import average_precision_score

    truth = json.loads((mules_world / "truth.json").read_text())
    mules = sorted(truth["mules"])
    rng = np.random.default_rng(0)
    known = set(rng.choice(mules, len(mules) // 2, replace=False).tolist())
    src = pd.read_csv(mules_world / "tx.csv", dtype=str)
    src.drop(columns=["is_fraud"]).to_csv(tmp_path / "tx.csv", index=False)
    pd.DataFrame({"user_id": sorted(known), "user_label": "mule"}).to_csv(tmp_path / "known.csv", index=False)
    store = tmp_path / "gf.db"
    _run(["load", str(tmp_path / "tx.csv")], store)
    _run(["label", str(tmp_path / "known.csv"), "--source", "investigator"], store)
    out = _run(["train"], store).output
    assert "no transaction model" in out and "account model" in out
    rows = list(csv.DictReader(_run(["suspects", "--top", "0", "--format", "csv"], store).stdout.splitlines()))
    users = set(src["user_id"]) | set(src["counterparty_id"].dropna())
    assert {r["user_id"] for r in rows} == users and list(rows[0]) == ["user_id", "score", "reasons", "ring_id",
                                                                         "known_fraud"]
    scores = [float(r["score"]) for r in rows]
    assert scores == sorted(scores, reverse=True)
    assert {r["user_id"] for r in rows if r["known_fraud"] == "1"} == known
    rest = [r for r in rows if r["user_id"] not in known]
    y = [r["user_id"] in set(mules) for r in rest]
    ap = average_precision_score(y, [float(r["score"]) for r in rest])
    base = sum(y) / len(y)
    assert ap >= 5 * base, (ap, base)
    assert any(r["reasons"] for r in rows[:10])
    top = json.loads(_run(["suspects", "--top", "3", "--format", "json"], store).stdout)
    assert len(top) == 3 and set(top[0]) == {"user_id", "score", "reasons", "ring_id", "known_fraud"}


def test_suspects_without_an_account_model_says_what_to_do(tmp_path: Path) -> None:
    store = tmp_path / "gf.db"
    (tmp_path / "t.csv").write_text("transaction_id,timestamp,user_id,amount,counterparty_id\nt1,2026-01-01,a,5,b\n")
    _run(["load", str(tmp_path / "t.csv")], store)
    res = CliRunner().invoke(main, ["suspects"], env={"GRAPHFRAUD_STORE": str(store)})
    assert res.exit_code == 1 and "graphfraud train" in res.output and "Traceback" not in res.output


def _bookkept(engine: GraphEngine) -> np.ndarray:
    """The money columns of every account as the engine's incremental bookkeeping (:class:`Account`) holds
    them: what the vectorised :func:`graphfraud.suspects.account_features` must reproduce."""
    from graphfraud.suspects import ACCOUNT_FEATURES

    cols = ACCOUNT_FEATURES[:ACCOUNT_FEATURES.index("flow_proximity")]
    assert engine.flows is not None
    now, fraud = int(engine.clock), engine.u_fraud
    out = np.full((len(engine.u_name), len(cols)), np.nan)
    for u, acc in engine.flows.accounts.items():
        o, i = acc.out, acc.inn
        v: dict[str, float] = {}
        for side, key in ((o, "out"), (i, "in")):
            v[f"n_{key}"], v[f"amount_{key}"] = side.n, side.amount
            v[f"amount_{key}_7d"] = side.windows(now, now - 7 * DAY, now - 7 * DAY)[2]
            if side.n:
                mean = side.amount / side.n
                v[f"mean_{key}"], v[f"min_{key}"], v[f"max_{key}"] = mean, side.smallest, side.largest
                v[f"std_{key}"] = max(side.amount_sq / side.n - mean * mean, 0.0) ** 0.5
        partners = set(o.partners) | set(i.partners)
        first = min(t for t in (o.first_ts, i.first_ts) if t >= 0)
        last = max(o.last_ts, i.last_ts)
        big = max(o.amount, i.amount)
        v.update(fan_out=len(o.partners), fan_in=len(i.partners),
                 reciprocal_partners=len(set(o.partners) & set(i.partners)),
                 flow_balance=min(o.amount, i.amount) / big if big > 0 else np.nan, active_days=(last - first) / DAY,
                 days_since_first=(now - first) / DAY, days_since_last=(now - last) / DAY,
                 fraud_in_amount=acc.fraud_in, fraud_senders=acc.fraud_senders, hop2_in_amount=acc.hop2_in,
                 fraud_out_amount=acc.fraud_out, fraud_recipients=acc.fraud_recipients,
                 fraud_partner_share=sum(fraud[p] for p in partners) / len(partners))
        out[u] = [v.get(c, np.nan) for c in cols]
    return out


def test_account_features_are_the_engines_bookkeeping_and_hiding_labels_is_not_knowing_them(
        mules_world: Path, tmp_path: Path) -> None:
    """The vectorised account features equal what the engine's incremental bookkeeping holds for every account;
    and features with some labels hidden (out-of-fold training) equal those of a store that never had them."""
    from graphfraud.graph.build import build_engine
    from graphfraud.storage import open_store
    from graphfraud.suspects import ACCOUNT_FEATURES, account_features

    mules = sorted(json.loads((mules_world / "truth.json").read_text())["mules"])
    known, hidden = mules[: len(mules) // 2], mules[: len(mules) // 6]
    assert len(hidden) >= 3
    src = pd.read_csv(mules_world / "tx.csv", dtype=str)
    src.drop(columns=["is_fraud"]).to_csv(tmp_path / "tx.csv", index=False)
    engines = []
    for name, labelled in (("all", known), ("fewer", sorted(set(known) - set(hidden)))):
        pd.DataFrame({"user_id": labelled, "user_label": "mule"}).to_csv(tmp_path / f"{name}.csv", index=False)
        _run(["load", str(tmp_path / "tx.csv")], tmp_path / f"{name}.db")
        _run(["label", str(tmp_path / f"{name}.csv"), "--source", "investigator"], tmp_path / f"{name}.db")
        engines.append(build_engine(open_store(str(tmp_path / f"{name}.db"))))
    full, fewer = engines
    assert full.u_name == fewer.u_name
    users = list(range(len(full.u_name)))
    money = len(ACCOUNT_FEATURES[:ACCOUNT_FEATURES.index("flow_proximity")])
    for engine in engines:
        got = account_features(engine, users)
        np.testing.assert_allclose(got[:, :money], _bookkept(engine), rtol=1e-9, atol=1e-9)
        assert np.nansum(got[:, ACCOUNT_FEATURES.index("fraud_in_amount")]) > 0
        assert np.nansum(got[:, ACCOUNT_FEATURES.index("partner_proximity")]) > 0
    as_if = account_features(full, users, hidden=[full.user_ix[u] for u in hidden])
    np.testing.assert_allclose(as_if, account_features(fewer, users), rtol=1e-9, atol=1e-9)
    assert not np.allclose(as_if, account_features(full, users), equal_nan=True)


#: Bursts of transfers: how many, the time between them (late ones come with a negative step: live
#: traffic), their amount; then a pause before the next burst.
_BURSTS = st.lists(st.tuples(st.integers(1, 40), st.integers(-DAY // 24, DAY), _AMOUNTS,
                             st.one_of(st.integers(0, 3 * DAY), st.integers(20 * DAY, 45 * DAY))), min_size=1, max_size=8)


@settings(max_examples=100, deadline=None)
@example(bursts=[(70, DAY // 100, 1.0, 40 * DAY), (1, 0, 2.0, 0)], spans=[30 * DAY] * 3)  # a burst, then a pause
@given(_BURSTS, st.lists(st.integers(0, 30 * DAY), min_size=3, max_size=3))
def test_a_sides_windows_are_the_brute_force_sums_after_trimming(bursts: list[tuple[int, int, float, int]],
                                                              spans: list[int]) -> None:
    """Transfers arrive in bursts, some late (live traffic), with pauses between; the clock is the latest time
    seen. Every window the features read (up to 30 days back from the clock) counts and sums what brute force
    finds, however much of the list was trimmed (a window holding every kept entry used to add the trimmed
    amounts too)."""
    from graphfraud.graph.flows import Side

    side = Side()
    seen: list[tuple[int, float]] = []
    t = now = T0
    for n, step, amount, pause in bursts:
        for _ in range(n):
            t = max(t + step, T0)
            now = max(now, t)
            side.add(amount, t, now)
            seen.append((t, amount))
            lo30, lo7, lo1 = sorted(now - span for span in spans)
            n1, n7, a7, a30 = side.windows(lo1, lo7, lo30)
            assert (n1, n7) == (sum(1 for ts, _ in seen if ts >= lo1), sum(1 for ts, _ in seen if ts >= lo7))
            assert a7 == pytest.approx(sum(a for ts, a in seen if ts >= lo7), abs=1e-6)
            assert a30 == pytest.approx(sum(a for ts, a in seen if ts >= lo30), abs=1e-6)
        t += pause


def test_a_direction_not_used_stays_empty_for_every_account_after_a_pickle_round_trip() -> None:
    """Accounts that only sent or only received share one empty side; after a pickle round trip (a saved
    engine) the shared side is a new object, and a first transfer the other way still gets a side of its own
    instead of writing into the one every other account reads."""
    import pickle

    g = FlowGraph()
    g.transfer(0, 1, 5.0, 10)
    g.transfer(2, 3, 7.0, 11)
    g = pickle.loads(pickle.dumps(g))
    g.transfer(1, 4, 2.0, 12)  # 1 had only received
    g.transfer(5, 0, 3.0, 13)  # 0 had only sent
    for u, side in ((3, "out"), (2, "inn"), (4, "out"), (5, "inn")):
        s = getattr(g.accounts[u], side)
        assert (s.n, list(s.partners), s.amount) == (0, [], 0.0), (u, side)
    assert (g.accounts[1].out.n, list(g.accounts[1].out.partners)) == (1, [4])
    assert (g.accounts[0].inn.n, list(g.accounts[0].inn.partners), g.accounts[0].fan_in()) == (1, [5], 1)


def test_a_users_unlabelled_recent_transactions_do_not_count_against_their_confirmed_fraud():
    from graphfraud.ringflows import known_users

    # "ring": 4 labelled fraud rows, then 6 rows whose labels are still to come (the acceptance check blanks
    # the later half): 4 of 10 was "not mostly fraud"; "victim": 3 fraud rows among 40 labelled legitimate
    # ones, then 20 unlabelled; "chargebacks": a victim in a feed that labels only fraud (2 fraud rows in the
    # middle of 30 unlabelled ones) stays a victim
    rows = ([("ring", 1.0)] * 4 + [("ring", np.nan)] * 6
            + [("victim", 0.0)] * 20 + [("victim", 1.0)] * 3 + [("victim", 0.0)] * 20 + [("victim", np.nan)] * 20
            + [("chargebacks", np.nan)] * 15 + [("chargebacks", 1.0)] * 2 + [("chargebacks", np.nan)] * 15)
    # the frame in reverse: a user's history is read in the order of seq, not of the rows
    tx = pd.DataFrame({"user_id": [u for u, _ in rows], "seq": np.arange(len(rows))}).iloc[::-1]
    tx = tx.reset_index(drop=True)
    value = np.array([v for _, v in rows])[::-1]
    fraud, typ, labelled = value == 1, np.full(len(rows), None, dtype=object), ~np.isnan(value)
    kf = known_users(tx, fraud, typ, {}, labelled=labelled)["kf"]
    assert kf.to_dict() == {"chargebacks": False, "ring": True, "victim": False}
    assert not known_users(tx, fraud, typ, {})["kf"]["ring"]  # counted over every row, as before
