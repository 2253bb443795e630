"""Identifier risk windows, card spending, common points of purchase and declines, as of each transaction's
time: the engine's incremental answers against a brute-force count over the raw events."""
from __future__ import annotations

import bisect
import math
from bisect import bisect_left
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphfraud.graph.activity import KEEP_MS, Reveals
from graphfraud.graph.engine import CPP_LOOKBACK_MS, GraphEngine
from graphfraud.graph.features import compute_features
from graphfraud.schema import Label, validate_frame, validate_record
from graphfraud.storage import open_store
from graphfraud.testing import make_transactions
from graphfraud.training import load_history, queue_store_labels, replay

DAY = DAY_MS = 86_400_000
HOUR = 3_600_000
DELAY = DAY


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, list[dict[str, float]]]:
    """A generated world with declines added, replayed through the engine; the raw rows in replay order."""
    df, _ = make_transactions(n_users=300, seed=4, days=40)
    rng = np.random.default_rng(4)
    df["auth_result"] = np.where(rng.random(len(df)) < 0.08, "declined", "approved")
    good, rejects = validate_frame(df.astype(str).replace({"": None, "nan": None, "None": None}))
    assert not rejects
    store = open_store(str(tmp_path_factory.mktemp("activity") / "gf.db"))
    store.write_transactions(good)
    from graphfraud.scoring import new_engine

    engine = new_engine(label_delay_ms=DELAY)
    hist = load_history(store, DELAY)
    queue_store_labels(store, engine, hist)
    rows: list[dict[str, float]] = []
    txs: list[Any] = []

    def keep(i: int, tx: Any, f: dict[str, float]) -> None:
        rows.append(f)
        txs.append(tx)

    for _ in replay(store, hist, engine, on_row=keep):
        pass
    raw = pd.DataFrame([{"ts": t.ts, "card": t.card_id, "merchant": t.merchant_id, "device": t.device_id,
                         "amount": t.amount, "fraud": t.is_fraud, "declined": t.auth_result == "declined"}
                        for t in txs])
    store.close()
    return raw, rows


def _sample(n: int, k: int = 400) -> list[int]:
    return sorted(np.random.default_rng(1).choice(n, size=min(k, n), replace=False).tolist())


def test_fraud_and_label_windows_count_what_was_known(replayed: Any) -> None:
    raw, rows = replayed
    known = raw["ts"] + DELAY  # no labelled_at in the file: known one label delay after the transaction
    checked = 0
    for i in _sample(len(raw)):
        t, m = int(raw.at[i, "ts"]), raw.at[i, "merchant"]
        if m is None:
            continue
        before = raw.index < i
        at = before & (raw["merchant"] == m)
        for w, span in (("1d", DAY), ("7d", 7 * DAY), ("30d", 30 * DAY)):
            in_w = at & (known >= t - span) & (known <= t) & raw["fraud"].notna()
            n_fraud = int((in_w & (raw["fraud"] == 1)).sum())
            assert rows[i][f"merchant_fraud_{w}"] == n_fraud, (i, w)
            share = rows[i][f"merchant_fraud_share_{w}"]
            if in_w.sum():
                assert share == pytest.approx(n_fraud / int(in_w.sum()))
            else:
                assert np.isnan(share)
        assert rows[i]["merchant_tx_1d"] == int((at & (raw["ts"] >= t - DAY)).sum())
        checked += 1
    assert checked > 300


def test_card_spending_and_declines_match_the_raw_events(replayed: Any) -> None:
    raw, rows = replayed
    for i in _sample(len(raw)):
        t, c = int(raw.at[i, "ts"]), raw.at[i, "card"]
        if c is None:
            continue
        prev = raw[(raw.index < i) & (raw["card"] == c)]
        w30 = prev[prev["ts"] >= t - 30 * DAY]
        w1 = prev[prev["ts"] >= t - DAY]
        f = rows[i]
        assert f["card_tx_30d"] == len(w30) and f["card_tx_1h"] == int((prev["ts"] >= t - HOUR).sum())
        assert f["card_amount_30d"] == pytest.approx(w30["amount"].sum())
        if len(w1):
            assert f["card_max_1d"] == pytest.approx(w1["amount"].max())
            assert f["card_mean_1d"] == pytest.approx(w1["amount"].mean())
        if len(prev):
            assert f["amount_ratio_card_mean"] == pytest.approx(raw.at[i, "amount"] / prev["amount"].mean())
        assert f["card_declines_1d"] == int((w1["declined"]).sum())


def test_common_points_of_purchase(replayed: Any) -> None:
    """A merchant's count of cards confirmed compromised (known in the last 30 days) that paid there in the
    30 days before their first fraud."""
    raw, rows = replayed
    fraud = raw[raw["fraud"] == 1]
    first = fraud.groupby("card")["ts"].min()
    marks: dict[str, list[int]] = {}
    for card, f_ts in first.items():
        visits = raw[(raw["card"] == card) & (raw["ts"] >= f_ts - CPP_LOOKBACK_MS) & (raw["ts"] < f_ts)]
        for m in set(visits["merchant"].dropna()):
            marks.setdefault(m, []).append(int(f_ts) + DELAY)
    for v in marks.values():
        v.sort()
    assert marks, "the world has compromised cards that paid somewhere before their fraud"
    hits = 0
    for i in _sample(len(raw), 800):
        t, m = int(raw.at[i, "ts"]), raw.at[i, "merchant"]
        v = marks.get(m, [])
        expected = bisect_left(v, t + 1) - bisect_left(v, t - 30 * DAY)
        assert rows[i]["merchant_cpp_30d"] == expected, i
        hits += expected > 0
    assert hits > 0


def _tx(i: int, user: str, day: float, card: str, merchant: str = "M1", **kw: Any) -> Any:
    from graphfraud.schema import format_ts

    ts = format_ts(int(pd.Timestamp("2026-01-01", tz="UTC").timestamp() * 1000 + round(day * DAY)))
    return validate_record({"transaction_id": f"t{i}", "timestamp": ts, "user_id": user,
                            "amount": kw.pop("amount", 20.0), "card_id": card, "merchant_id": merchant, **kw})


def test_a_victims_fraud_blames_the_card_not_the_user() -> None:
    """Untyped fraud on a cardholder with a history: the card and merchant carry the fraud, the user is a
    victim, not a fraudster; a new account whose payments are all fraud is a fraudster; a typed label decides."""
    e = GraphEngine(label_delay_ms=DAY)
    for i in range(20):
        e.apply(_tx(i, "holder", i, "C1"))
    e.apply(_tx(20, "holder", 20.5, "C1", "M9", is_fraud=1))
    for i in range(3):
        e.apply(_tx(30 + i, "newbie", 20.5 + i / 10, "C7", "M9", is_fraud=1))
    e.advance(int(pd.Timestamp("2026-01-23", tz="UTC").timestamp() * 1000))
    h, n = e.user_ix["holder"], e.user_ix["newbie"]
    assert not e.u_fraud[h] and e.u_victim[h]
    assert e.u_fraud[n] and not e.u_victim[n]
    f = compute_features(e, _tx(40, "holder", 22.5, "C1", "M9"))
    assert f["card_fraud_7d"] == 1 and f["merchant_fraud_7d"] == 4 and f["user_known_fraud"] == 0
    assert f["user_victim"] == 1
    # typed: third-party fraud never makes the user a fraudster; first-party always does
    e.apply_label_now(Label("transaction", "t30", "1", None, "investigator", "third_party"))
    e.apply_label_now(Label("transaction", "t31", "1", None, "investigator", "third_party"))
    e.apply_label_now(Label("transaction", "t32", "1", None, "investigator", "third_party"))
    assert not e.u_fraud[n] and e.u_victim[n]
    e.apply_label_now(Label("transaction", "t5", "1", None, "investigator", "first_party"))
    assert e.u_fraud[h]
    e.apply_label_now(Label("user", "holder", "legitimate", None, "investigator"))
    assert not e.u_fraud[h] and not e.u_victim[h]
    e.apply_label_now(Label("user", "newbie", "mule", None, "investigator"))
    assert e.u_fraud[n]


def test_friendly_and_scam_fraud_blame_no_card() -> None:
    e = GraphEngine(label_delay_ms=DAY)
    e.apply(_tx(1, "a", 1, "C1", "M1", is_fraud=1, fraud_type="friendly"))
    e.apply(_tx(2, "b", 1, "C2", "M2", is_fraud=1, fraud_type="scam"))
    later = _tx(3, "c", 3, "C1", "M2")
    e.advance(later.ts)
    f = compute_features(e, later)
    assert f["card_fraud_7d"] == 0 and f["merchant_fraud_7d"] == 1
    assert e.u_fraud[e.user_ix["a"]] and not e.u_fraud[e.user_ix["b"]] and e.u_victim[e.user_ix["b"]]


def test_a_reversed_label_is_retracted_from_the_windows() -> None:
    e = GraphEngine(label_delay_ms=DAY)
    e.apply(_tx(1, "a", 1, "C1", "M1", is_fraud=1))
    probe = _tx(2, "b", 3, "C9", "M1")
    e.advance(probe.ts)
    assert compute_features(e, probe)["merchant_fraud_7d"] == 1
    e.apply_label_now(Label("transaction", "t1", "0", None, "investigator"))
    f = compute_features(e, probe)
    assert f["merchant_fraud_7d"] == 0 and f["merchant_fraud_share_7d"] == 0


def test_a_full_card_number_gives_its_bin_before_it_is_hashed() -> None:
    tx = validate_record({"transaction_id": "t", "timestamp": "2026-01-01", "user_id": "u", "amount": 5,
                          "card_id": "4111 1111 1111 1111"})
    assert tx.card_id.startswith("h:") and tx.extra == {"card_bin": "411111"}
    e = GraphEngine()
    e.apply(tx)
    later = validate_record({"transaction_id": "t2", "timestamp": "2026-01-02", "user_id": "v", "amount": 5,
                             "card_id": "4111 1111 1111 1129"})
    e.advance(later.ts)
    f = compute_features(e, later)
    assert f["card_bin_users"] == 1 and f["card_bin_tx_1d"] == 1 and f["card_new_for_user"] == 1


class _PlainReveals:
    """What :class:`Reveals` answers, kept the plain way: every event's time and the counts before it, both
    count columns always (what the class did before it kept them only once they say something)."""

    def __init__(self) -> None:
        self.times: list[int] = []
        self.labels: list[int] = []
        self.frauds: list[int] = []
        self.n_labels = self.n_frauds = 0

    def add(self, when: int, d_label: int, d_fraud: int) -> None:
        when = max(when, self.times[-1]) if self.times else when
        self.times.append(when)
        self.labels.append(self.n_labels)
        self.frauds.append(self.n_frauds)
        self.n_labels += d_label
        self.n_frauds += d_fraud
        if len(self.times) > 64 and self.times[0] < when - KEEP_MS:
            cut = bisect.bisect_left(self.times, when - KEEP_MS)
            del self.times[:cut], self.labels[:cut], self.frauds[:cut]

    def retract_fraud(self, when: int) -> None:
        for k in range(bisect.bisect_left(self.times, when) + 1, len(self.frauds)):
            self.frauds[k] -= 1
        self.n_frauds -= 1

    def since(self, lo: int) -> tuple[int, int]:
        i = bisect.bisect_left(self.times, lo)
        if i == len(self.times):
            return 0, 0
        return self.n_labels - self.labels[i], self.n_frauds - self.frauds[i]


#: events of three kinds of identifier: only first labels (no count column is ever kept), first labels with
#: some fraud (the fraud column only), and verdicts changed later (both columns)
_KINDS = [[(1, 0)], [(1, 0)] * 6 + [(1, 1)], [(1, 0), (1, 1), (0, 1), (0, -1), (0, 0)]]
_STEPS = st.sampled_from(_KINDS).flatmap(lambda kind: st.lists(
    st.tuples(st.integers(0, 3 * DAY_MS), st.sampled_from(kind)), min_size=66, max_size=200))  # 64 before trims


@settings(max_examples=300, deadline=None)
@given(_STEPS, st.lists(st.integers(0, 120 * DAY_MS), min_size=1, max_size=8))
def test_reveals_answer_as_the_plain_columns_do(steps: list, probes: list[int]) -> None:
    """First labels, fraud verdicts added and taken back (some through retract_fraud), time gaps long enough
    for trimming: every window count equals the plain version's, whether or not the count columns exist."""
    r, plain = Reveals(), _PlainReveals()
    now = 0
    counted: list[int] = []
    for gap, (d_label, d_fraud) in steps:
        now += gap
        if d_fraud < 0:  # a fraud verdict taken back
            if counted:
                when = counted.pop()
                r.retract_fraud(when)
                plain.retract_fraud(when)
            continue
        r.add(now, d_label, d_fraud)
        plain.add(now, d_label, d_fraud)
        if d_fraud > 0:
            counted.append(now)
        assert list(r.times) == plain.times
        for lo in [now - p for p in probes] + [0, now, now + 1]:
            assert r.since(lo) == plain.since(lo), (lo, r.labels, r.frauds, r.base)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.one_of(st.floats(0.01, 1e6), st.sampled_from([0.0, -0.0, 1.0])),
                          st.booleans()), min_size=1, max_size=150),
       st.lists(st.integers(0, 200), min_size=1, max_size=6))
def test_suffix_max_answers_as_a_slice_maximum(steps: list, probes: list[int]) -> None:
    """Pushes (ties in time and amount included, zeros of both signs) and trims: the largest amount since any
    time is the maximum of the plain events kept, the very float max() gives (the first of equal ones)."""
    from graphfraud.graph.activity import SuffixMax

    m, kept = SuffixMax(), []
    now = 0
    for gap, amount, trim in steps:
        now += gap
        m.push(now, amount)
        kept.append((now, amount))
        if trim:
            lo = now - 3
            m.drop_before(lo)
            kept = [(t, a) for t, a in kept if t >= lo]
        for lo in [now - p for p in probes] + [now + 1]:
            plain = [a for t, a in kept if t >= lo]
            got = m.since(lo)
            if plain:
                want = max(plain)
                assert got == want and math.copysign(1.0, got) == math.copysign(1.0, want), (got, want)
            else:
                assert math.isnan(got)


def test_a_long_run_of_transactions_has_the_maxima_of_its_windows() -> None:
    """An account with hundreds of transactions a month (a payroll or marketplace account) on one company
    card, in two currency groups, with late (out of order) transactions, trims and four quiet months: every row's
    largest amounts of the last day and 30 days, the user's and the card's, equal a brute-force maximum over
    the transactions applied before it."""
    rng = np.random.default_rng(7)
    e = GraphEngine()
    applied: list[tuple[int, str, float]] = []
    t = 0
    for i in range(2000):
        t += int(rng.exponential(HOUR)) if i != 1200 else 120 * DAY  # four quiet months
        late = rng.random() < 0.05
        ts = t - int(rng.integers(1, 6 * HOUR)) if late else t
        cur = "EUR" if rng.random() < 0.3 else "USD"
        amount = float(round(rng.lognormal(3, 1.2), 2))
        stamp = pd.Timestamp(1_767_225_600_000 + ts, unit="ms").strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        tx = validate_record({"transaction_id": f"t{i}", "timestamp": stamp, "user_id": "payroll",
                              "amount": amount, "currency": cur, "merchant_id": f"m{i % 40}",
                              "card_id": "company-card"})
        e.advance(tx.ts)
        f = compute_features(e, tx)
        for span, name, card_name in ((DAY, "amount_max_1d", "card_max_1d"),
                                      (30 * DAY, "amount_max_30d", "card_max_30d")):
            # the user's windows end at this transaction's time; the card's hold every payment applied
            plain = [a for when, c, a in applied if c == cur and tx.ts - span <= when <= tx.ts]
            card = [a for when, _, a in applied if tx.ts - span <= when]
            for got, want in ((f[name], max(plain) if plain else math.nan),
                              (f[card_name], max(card) if card else math.nan)):
                assert got == want or (math.isnan(got) and math.isnan(want)), (i, span, got, want)
        e.apply(tx)
        applied.append((tx.ts, cur, amount))
    usd = sum(c == "USD" for _, c, _ in applied)
    gt = e.u_gt[e.user_ix["payroll"]]
    assert gt is not None and len(gt) < usd // 2, "the run was long enough to be trimmed"
    assert {g for _, g in e.u_gmax} == {"USD", "EUR"}, "both groups' runs were long enough"
    track = e.cards[e.entity("card", "company-card")]  # type: ignore[index]
    assert track.runmax is not None and len(track.times) < len(applied) // 2, "the card's run was trimmed"


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0, HOUR] * 40 + [DAY] * 4 + [101 * DAY]), st.floats(0.01, 1e4),
                          st.integers(0, 20)), min_size=150, max_size=400),
       st.lists(st.sampled_from([0, HOUR, DAY, 30 * DAY]), min_size=1, max_size=4))
def test_a_card_answers_its_window_maxima_from_what_it_keeps(steps: list, spans: list[int]) -> None:
    """Payments in order and late (one in twenty), bursts and long quiet spells (trims down to a few payments
    and back over LONG_RUN): the card's largest payment since any time is the maximum of the payments it
    keeps since then."""
    from graphfraud.graph.activity import CardTrack

    track = CardTrack()
    now = 0
    for gap, amount, late in steps:
        now += gap
        track.add(now - (HOUR if late == 0 else 0), amount, -1, now)
        for lo in [now - s for s in spans]:
            start = bisect_left(track.times, lo)
            got = track.max_since(lo, start)
            want = max(track.amounts[start:]) if start < len(track.times) else math.nan
            assert got == want or (math.isnan(got) and math.isnan(want))
