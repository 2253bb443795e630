"""Ring detection against the victims of a crew: cards, devices and accounts a crew used or took over, whose
owners and families are not its ring (``graphfraud.ringlinks.split_lifetimes``), and the rings that must stay
whole beside those rules."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from graphfraud.rings import detect_rings
from graphfraud.schema import validate_frame
from graphfraud.storage import open_store
from tests.ringcases import _ring_users, _rings_of_frame, _rows, _transfers, _write


@pytest.mark.parametrize(("goes_on", "expected"), [(False, ["a", "r0", "r1", "r2"]), (True, ["r0", "r1", "r2"])],
                         ids=["aged-account-busts-out", "victim-goes-on"])
def test_an_aged_account_that_takes_up_a_card_with_new_accounts_and_goes_quiet_is_one_of_them(
        tmp_path, goes_on, expected):
    # an account with two months of ordinary shopping on its own card, laptop and home address
    rows = [("a", day, 35.0, "ca", "da", "7.7.7.7", f"g{day % 4}") for day in range(0, 60, 3)]
    # on day 61 it takes up a new card, and a new account of a crew on one phone uses that card the same day
    rows += [("a", 61 + k * 0.2, 480.0, "cx", "da", "7.7.7.7", "big") for k in range(3)]
    rows += [(f"r{i}", 61.5 + i * 0.1 + k * 0.4, 450.0, "cx" if i == 0 and k < 2 else f"rc{i}", "dR",
              f"9.9.{i}.{k}", "big") for i in range(3) for k in range(3)]
    if goes_on:  # the card was skimmed: its holder goes on using it for weeks, as before
        rows += [("a", day, 35.0, "cx", "da", "7.7.7.7", f"g{day % 4}") for day in range(63, 90, 3)]
    store = open_store(str(tmp_path / "gf.db"))
    _write(store, _rows(rows))
    rings = detect_rings(store)
    assert [r.users for r in rings] == [expected]
    # how long the data watched the members: from their first purchase to the last one in the store, median
    assert rings[0].stats.median_seen_days == pytest.approx(25.4 if goes_on else 0.95, abs=0.01)


@pytest.mark.parametrize(("crew_days", "expected"), [(20, ["a", "r0", "r1", "r2"]), (1, ["r0", "r1", "r2"])],
                         ids=["stops-with-the-crew", "goes-on-after-the-crew"])
def test_an_aged_account_busting_out_over_weeks_with_new_accounts_is_one_of_them(tmp_path, crew_days, expected):
    # two months of ordinary shopping, then from day 61 a new card shared with a crew's new account; the aged
    # account spends on it for three weeks, the crew for `crew_days`: an accomplice stops with the crew, a
    # victim of a skimmed card goes on after it
    rows = [("a", day, 35.0, "ca", "da", "7.7.7.7", f"g{day % 4}") for day in range(0, 60, 3)]
    rows += [("a", 61 + k, 480.0, "cx", "da", "7.7.7.7", "big") for k in range(0, 21, 2)]
    step = crew_days / 3
    rows += [(f"r{i}", 61.5 + i * 0.1 + k * step, 450.0, "cx" if i == 0 and k < 2 else f"rc{i}", "dR",
              f"9.9.{i}.{k}", "big") for i in range(3) for k in range(4)]
    store = open_store(str(tmp_path / "gf.db"))
    _write(store, _rows(rows))
    rings = detect_rings(store)
    store.close()
    assert [r.users for r in rings] == [expected]


def test_the_owners_of_the_cards_bought_accounts_used_are_not_in_their_ring(tmp_path):
    """Accounts bought with months of history (a generator written apart from ours) bust out on one phone,
    each with another customer's card: their lifetimes are as long as the card owners', so it is when the
    owner used the card, 30 days and more before anyone in the cluster did, that tells the owner from the
    crew; otherwise each owner, and the partner on their home address and family tablet, joined the ring."""
    rows = []
    for i in range(3):  # bought accounts: two months on their own card, laptop and home, then the bust-out
        rows += [(f"b{i}", day + i, 30.0, f"own{i}", f"lap{i}", f"7.7.{i}.1", f"g{day % 4}") for day in range(0, 60, 4)]
        rows += [(f"b{i}", 70 + i * 0.2 + k * 0.5, 480.0, f"stolen{i}", "burner", f"9.9.{i}.{k}", "big")
                 for k in range(3)]
        rows += [(f"h{i}", day, 40.0, f"stolen{i}", f"tab{i}", f"5.5.{i}.5", f"g{day % 4}") for day in range(1, 61, 3)]
        rows += [(f"p{i}", day + 1, 25.0, f"pc{i}", f"tab{i}", f"5.5.{i}.5", f"g{day % 3}") for day in range(0, 60, 5)]
    store = open_store(str(tmp_path / "gf.db"))
    _write(store, _rows(rows))
    rings = detect_rings(store)
    store.close()
    assert [sorted(r.users) for r in rings] == [["b0", "b1", "b2"]]


def test_the_homes_whose_addresses_a_crew_used_as_proxies_are_not_in_its_ring(tmp_path):
    """A crew of new accounts on one emulator pays through residential proxies: the addresses of two homes
    whose families used them for months (a third generator written apart from ours). Every user of such an
    address used it within days of the others, so it counted as one home, and each family joined the ring;
    now a long-standing customer is not joined through an address to accounts that live a few days."""
    rows = []
    for h in range(2):  # two homes, two residents each, two months on their address
        for r in range(2):
            rows += [(f"h{h}{r}", day + r, 35.0, f"card{h}{r}", f"phone{h}{r}", f"5.5.{h}.5", f"g{day % 5}")
                     for day in range(0, 62, 3)]
    for i in range(4):  # the crew: days 40-41, one emulator, stolen cards, each through one of the homes
        rows += [(f"c{i}", 40 + i * 0.3 + k * 0.2, 420.0, f"stolen{i}", "emu", f"5.5.{i % 2}.5", "gift")
                 for k in range(3)]
    assert _ring_users(tmp_path, rows) == [["c0", "c1", "c2", "c3"]]


def test_a_sleeper_crew_passing_through_family_addresses_is_not_joined_to_the_families(tmp_path):
    """Sleeper accounts, opened together and aged for two months on addresses of their own, strike at once
    through the addresses of two homes whose families have used them all along (residential proxies). They
    live long enough that lifetimes do not set them apart; what does is that they arrived on each address in
    a burst, weeks after its residents settled there. A ring whose members reach their own address over a
    few days, with nobody there before them, stays whole."""
    rows = []
    for h in range(2):  # two homes, two residents each, all three months on their address
        for r in range(2):
            rows += [(f"h{h}{r}", day + r, 35.0, f"card{h}{r}", f"phone{h}{r}", f"5.5.{h}.5", f"g{day % 5}")
                     for day in range(0, 90, 3)]
    for i in range(8):  # the crew: opened days 0-4, ageing alone, then days 60-61 on one device
        rows += [(f"s{i}", i * 0.5 + k * 9, 12.0, f"prepaid{i}", f"own{i}", f"9.9.9.{i}", f"g{k}") for k in range(3)]
        rows += [(f"s{i}", 60 + i * 0.1 + k * 0.2, 420.0, f"stolen{i}", "farm", f"5.5.{i % 2}.5", "gift")
                 for k in range(3)]
    for i in range(5):  # a ring on an address of its own, reached over four days
        rows += [(f"r{i}", 30 + i + k * 0.3, 300.0, f"rc{i}", f"rd{i}", "7.7.7.7", "shop") for k in range(3)]
    store = open_store(str(tmp_path / "gf.db"))
    _write(store, _rows(rows))
    rings = sorted(sorted(r.users) for r in detect_rings(store))
    store.close()
    assert rings == [[f"r{i}" for i in range(5)], [f"s{i}" for i in range(8)]]


def test_the_ranking_learns_from_this_datas_confirmed_rings_only_when_it_has_enough_of_them():
    from graphfraud.ringlearn import MIN_POSITIVE, learn_from_labels
    from graphfraud.ringscore import ClusterStats

    crew = dict(n_users=6, median_account_age_days=4.0, together_user_share=1.0, together_tx_share=0.5,
                mean_amount_ratio=3.0)
    family = dict(n_users=4, median_account_age_days=90.0, together_user_share=0.25, together_tx_share=0.05,
                  mean_amount_ratio=1.0)

    def world(n_rings):
        stats = [ClusterStats(n_known_fraud_users=5, **crew)] * n_rings + [ClusterStats(**family)] * 40
        stats += [ClusterStats(**crew), ClusterStats(**family)]  # labels for neither yet
        return stats, [0.3] * len(stats), [True] * (n_rings + 40) + [False, False]

    assert learn_from_labels(*world(MIN_POSITIVE - 1)) is None  # too few to learn from: scores stay
    scores, why = learn_from_labels(*world(MIN_POSITIVE))
    assert scores[-2] > 0.3 > scores[-1]  # the unlabelled crew up, the unlabelled family down
    assert why[-2].startswith("behaves like the rings confirmed in this data") and why[-1] is None
    # learnt from clusters with labels only: an unlabelled cluster is no example of "not fraud"
    stats, base, labelled = world(MIN_POSITIVE)
    unlabelled_crews = stats + [ClusterStats(**crew)] * 30
    again, _ = learn_from_labels(unlabelled_crews, base + [0.3] * 30, labelled + [False] * 30)
    assert again[-1] > 0.3


def test_a_cluster_unlike_the_labelled_rings_moves_down_a_bounded_step_only():
    """A bust-out's accounts are old and do not buy together, where this data's known rings are young
    crews: the ranking learnt from those must not bury a cluster that the fixed evidence ranks high (the
    learnt log-odds are held within ``CLIP``)."""
    from graphfraud.ringlearn import CLIP, MIN_POSITIVE, WEIGHT, learn_from_labels
    from graphfraud.ringscore import ClusterStats

    crew = dict(n_users=6, median_account_age_days=4.0, together_user_share=1.0, together_tx_share=0.5)
    family = dict(n_users=4, median_account_age_days=90.0, together_user_share=0.25, together_tx_share=0.05)
    bust_out = dict(n_users=6, median_account_age_days=3000.0, together_user_share=0.0, together_tx_share=0.0,
                    median_user_tx=5000.0)
    stats = [ClusterStats(n_known_fraud_users=5, **crew)] * MIN_POSITIVE + [ClusterStats(**family)] * 40
    stats += [ClusterStats(**bust_out)]
    scores, _ = learn_from_labels(stats, [0.6] * len(stats), [True] * (len(stats) - 1) + [False])
    logit = lambda p: math.log(p / (1 - p))  # noqa: E731
    assert scores[-1] < 0.6  # it still moves down ...
    assert logit(scores[-1]) >= logit(0.6) - WEIGHT * CLIP - 1e-9  # ... by no more than the cap


def test_a_crew_shipping_to_customers_homes_is_not_joined_to_the_families(tmp_path):
    """Triangulation (a fourth generator written apart from ours): a fake shop's accounts, on one browser,
    ship the goods to real customers' homes. A postal address is a home like a home's network address: the
    families there, who have lived at it for months, are not joined to accounts that live a day."""
    rows = []
    for h in range(2):  # two homes, two residents each, two months at their address, each on their own things
        for r in range(2):
            rows += [(f"h{h}{r}", day + r, 35.0, f"card{h}{r}", f"phone{h}{r}", f"5.5.{h}.{r}", f"g{day % 5}")
                     for day in range(0, 62, 3)]
    for i in range(4):  # the crew: days 40-41, one browser, stolen cards, each order shipped to one of the homes
        rows += [(f"c{i}", 40 + i * 0.3 + k * 0.2, 420.0, f"stolen{i}{k}", "web", f"9.9.9.{i}", "shop")
                 for k in range(3)]
    df = _rows(rows)
    df["address"] = [f"{u[1]} Main St" if u[0] == "h" else f"{int(u[1]) % 2} Main St" for u in df["user_id"]]
    good, rejects = validate_frame(df, extra_types=("address",))
    assert not rejects
    store = open_store(str(tmp_path / "gf.db"))
    store.write_transactions(good)
    rings = detect_rings(store)
    store.close()
    assert [sorted(r.users) for r in rings] == [["c0", "c1", "c2", "c3"]]


@pytest.mark.parametrize(("labelled", "expected"), [(True, ["a0", "a1", "a2", "a3"]), (False, [])],
                         ids=["known-fraud", "no-labels"])
def test_an_account_known_as_fraud_is_no_ones_victim(tmp_path, labelled, expected):
    """A loose ring (a fourth generator): its accounts come and go in bursts weeks apart, each sharing one
    identifier with the one that stays. By lifetimes alone that one looked like the others' victim (seen 4x
    longer), and the ring fell apart; once its own fraud is confirmed, it is no one's victim."""
    rows = [("a0", day + k * 0.1, 300.0, f"c0{day}", f"d0{day}", f"8.8.{day}.1", "gift") for day in (0, 50, 100)
            for k in range(3)]
    for i, (day, shared) in enumerate([(0, "card"), (50, "device"), (100, "card")], start=1):
        rows += [(f"a{i}", day + 0.5 + k * 0.1, 300.0, f"c0{day}" if shared == "card" else f"c{i}",
                  f"d0{day}" if shared == "device" else f"d{i}", f"7.7.{i}.1", "gift") for k in range(3)]
    df = _rows(rows)
    df["is_fraud"] = "1" if labelled else ""
    store = open_store(str(tmp_path / "gf.db"))
    _write(store, df)
    rings = detect_rings(store)
    store.close()
    assert [sorted(r.users) for r in rings] == ([expected] if expected else [])


def test_accounts_a_crew_took_over_for_a_day_are_not_in_its_ring(tmp_path):
    """Account takeover (a fifth generator written apart from ours): a crew's accounts live on two devices of
    theirs for six weeks; on one day each, the crew logs into a customer's account from one of those devices.
    The customers, who lived months on their own card, phone and home network before and after, and their
    families, are the crew's victims: the ring is the crew."""
    rows = []
    for i in range(4):  # the crew: days 20-62, two devices of theirs, their own cards
        rows += [(f"c{i}", 20 + i + day, 250.0, f"cc{i}", f"crew{day % 2}", f"9.9.9.{i}", f"g{day % 3}")
                 for day in range(0, 42, 4)]
    for v in range(3):  # customers on their own things for three months, each with a partner on the home network
        for r in range(2):
            rows += [(f"v{v}{r}", day + r, 40.0, f"card{v}{r}", f"phone{v}{r}", f"5.5.{v}.1", f"s{day % 4}")
                     for day in range(0, 92, 5)]
        takeover = 30 + 7 * v  # the crew on the account for an afternoon: the owner's card, the crew's device
        rows += [(f"v{v}0", takeover + k * 0.05, 480.0, f"card{v}0", f"crew{v % 2}", f"9.9.9.{v}", "gifts")
                 for k in range(3)]
    assert _ring_users(tmp_path, rows) == [["c0", "c1", "c2", "c3"]]


def test_the_owners_of_cards_a_crew_tested_are_not_in_its_ring(tmp_path):
    """Card testing (a fifth generator written apart from ours): a crew of four accounts on two devices of theirs
    tries stolen cards for ten days, two of them each card once. The cards' owners had used them for a few days
    before (a customer the data sees rarely) and went on with them for weeks after, beside a partner on the home
    network. The owners and their partners are the crew's victims: the ring is the crew."""
    rows = []
    for i in range(4):  # the crew: days 40-50, two devices, their own cards
        rows += [(f"c{i}", 40 + i * 0.1 + day, 30.0, f"cc{i}", f"crew{day % 2}", f"9.9.9.{i}", f"g{day % 3}")
                 for day in range(0, 10, 2)]
    for v in range(3):  # owners: their card from two to four days before the crew tried it, on for six weeks
        start = 38 - v
        for r in range(2):
            rows += [(f"v{v}{r}", start + r + day, 40.0, f"card{v}{r}", f"phone{v}{r}", f"5.5.{v}.1", f"s{day % 4}")
                     for day in range(0, 50, 6)]
        rows += [(f"c{(v + k) % 4}", 42 + v + k * 0.5, 1.0, f"card{v}0", f"crew{k}", f"9.9.9.{v}", "tests")
                 for k in range(2)]  # two of the crew each try the owner's card once
    assert _ring_users(tmp_path, rows) == [["c0", "c1", "c2", "c3"]]


def test_the_owners_of_cards_a_triangulation_crew_charged_once_are_not_in_its_ring(tmp_path):
    """Triangulation (a seventh generator written apart from ours): a crew of four accounts on one laptop buys at
    a marketplace for six weeks, a stolen card a purchase. Three of the cards' owners are in the data, each using
    theirs for five weeks or more at their own shops: one from days after the crew charged it (the data saw the
    owner late), one up to weeks before it (the owner stopped using it), one around it. A crew that lives as long
    as its owners is no shorter-lived than they are; one charge against weeks of the owner's own use makes them
    the crew's victims, not its members: the ring is the crew."""
    rows = []
    for i in range(4):  # the crew: days 10-52, one laptop, a new card each purchase
        rows += [(f"c{i}", 10 + i * 0.3 + k * 3.5, 300.0, f"st{i}-{k}", "laptop", f"9.9.{i}.1", "market")
                 for k in range(13)]
    for v, (start, charged) in enumerate([(30, 20), (0, 45), (5, 25)]):  # owners: their first use, the crew's charge
        rows += [(f"o{v}", start + day, 40.0, f"card{v}", f"phone{v}", f"5.5.{v}.1", f"s{day % 4}")
                 for day in range(0, 40, 5)]
        rows += [(f"c{v}", charged + 0.5, 280.0, f"card{v}", "laptop", f"9.9.{v}.1", "market")]
    assert _ring_users(tmp_path, rows) == [["c0", "c1", "c2", "c3"]]


def test_a_crew_whose_members_each_test_charged_the_next_ones_card_stays_one_ring(tmp_path):
    """A reviewer's case: four accounts on their own devices, held together by their cards only: each spends a
    card of the crew's for five weeks, and the next member charged it once the day before (a test charge). Each
    is a card's owner by use and another's one-off charger: no one's victim, and the crew stays one ring."""
    rows = []
    for i in range(4):
        rows += [(f"c{i}", 10 + i + 5 * k, 350.0, f"crew{i}", f"cd{i}", f"9.9.{i}.1", f"m{k % 3}") for k in range(8)]
        rows += [(f"c{(i + 1) % 4}", 9 + i, 1.0, f"crew{i}", f"cd{(i + 1) % 4}", f"9.9.{(i + 1) % 4}.1", "test")]
    assert _ring_users(tmp_path, rows) == [["c0", "c1", "c2", "c3"]]


def test_a_family_whose_card_a_crew_charged_once_is_not_in_its_ring(tmp_path):
    """Triangulation and stolen family cards (a fifth generator written apart from ours): a crew of three that
    lives six weeks on two devices of theirs charges a card, an email or a home address a family has used for
    months, once. The family (two people on the card, each with their own device, the home network) goes on
    after; it is the crew's victim, not in its ring."""
    rows = []
    for i in range(3):  # the crew: days 40-80, two devices, their own cards
        rows += [(f"c{i}", 40 + i * 0.3 + day, 120.0, f"cc{i}", f"crew{day % 2}", f"9.9.9.{i}", f"g{day % 3}")
                 for day in range(0, 40, 3)]
    for r in range(2):  # the family card, from day 0 to 90
        rows += [(f"f{r}", r + day, 45.0, "family", f"phone{r}", "5.5.5.1", f"s{day % 4}") for day in range(0, 90, 5)]
    rows.append(("c1", 55.2, 380.0, "family", "crew1", "9.9.9.1", "gifts"))
    assert _ring_users(tmp_path, rows) == [["c0", "c1", "c2"]]


def test_customers_whose_cards_a_card_tester_took_over_are_not_in_its_ring(tmp_path):
    """The taker rule (card testing in a sixth generator written apart from ours): three testers on one device
    each try the card numbers of three customers, weeks after those customers last used them. The customers were
    seen for three weeks only, each with a partner on their device, and stopped before the testers came (no rule
    about long-standing holders applies). A tester who took over three cards is trying stolen ones: their former
    holders are victims, not members."""
    rows = []
    for v in range(9):  # a customer and their partner, days 0-20; the customer's card three times
        rows += [(f"v{v}", v * 0.2 + day, 40.0, f"card{v}", f"vd{v}", f"5.5.{v}.1", f"s{day % 4}")
                 for day in range(0, 21, 10)]
        rows += [(f"p{v}", v * 0.2 + day + 1, 30.0, f"pc{v}", f"vd{v}", f"5.5.{v}.1", f"s{day % 3}")
                 for day in range(0, 21, 10)]
    for i in range(3):  # the testers: days 35-55 on one device; each tries three customers' cards twice
        rows += [(f"t{i}", 35 + i * 0.3 + day, 150.0, f"tc{i}", "tester-dev", f"9.9.9.{i}", f"g{day % 3}")
                 for day in range(0, 20, 4)]
        rows += [(f"t{i}", 40 + i + k * 0.1 + j * 0.01, 1.0, f"card{3 * i + k}", "tester-dev", f"9.9.9.{i}", "tests")
                 for k in range(3) for j in range(2)]
    assert _ring_users(tmp_path, rows) == [["t0", "t1", "t2"]]


def test_a_crew_handing_its_cards_on_stays_one_ring(tmp_path):
    """What the taker rule leaves alone. Card drops: four recruits each activate a new card in a few days, and an
    organiser (sharing a laptop with a partner) spends on all four from three weeks later (accounts seen a few
    days are no former holders). A chain: four members seen for weeks, each pair sharing cards; the third took a
    card over from each of the first two (two holders, not many)."""
    (tmp_path / "drops").mkdir()
    (tmp_path / "chain").mkdir()
    drops = []
    for i in range(4):  # the recruits: a new card each, activated on two days
        drops += [(f"m{i}", i * 0.5 + d, 5.0, f"drop{i}", f"mphone{i}", f"5.6.{i}.1", "atm") for d in (0, 3)]
    drops += [("o0", 20 + d + 0.1 * i, 400.0, f"drop{i}", "olaptop", "8.8.8.0", f"elec{i % 2}")
              for d in range(0, 10, 2) for i in range(4)]
    drops += [("o1", 20.3 + d, 60.0, "o1card", "olaptop", "8.8.8.1", "food") for d in range(0, 10, 2)]
    assert _ring_users(tmp_path / "drops", drops) == [["m0", "m1", "m2", "m3", "o0", "o1"]]
    chain = []
    for i in range(4):  # members seen for 25 days, from day 20 * i, each on their own device and card
        chain += [(f"c{i}", 20 * i + day, 90.0, f"own{i}", f"cd{i}", f"6.6.{i}.1", f"m{day % 3}")
                  for day in range(0, 25, 4)]
    chain += [("c0", 21 + d, 80.0, "shared01", "cd0", "6.6.0.1", "m1") for d in (0, 2)]  # c0 and c1 at once
    chain += [("c1", 22 + d, 80.0, "shared01", "cd1", "6.6.1.1", "m1") for d in (0, 2)]
    for k in range(2):  # a card of c0's and one of c1's, which c2 took over weeks later, once they had stopped
        chain += [(f"c{k}", 20 * k + 0.5 + d, 70.0, f"handed{k}", f"cd{k}", f"6.6.{k}.1", "m2") for d in (0, 1)]
        chain += [("c2", 42 + k + d, 70.0, f"handed{k}", "cd2", "6.6.2.1", "m2") for d in (0, 1)]
    chain += [(u, 62 + d + 0.5 * (u == "c3"), 80.0, "shared23", f"cd{u[1]}", f"6.6.{u[1]}.1", "m0")
              for u in ("c2", "c3") for d in (0, 2)]
    assert _ring_users(tmp_path / "chain", chain) == [["c0", "c1", "c2", "c3"]]


def test_one_identifier_a_member_and_a_stranger_each_used_once_is_no_tie(tmp_path):
    """The leaf rule (triangulation in a fifth generator written apart from ours): a crew of three shares two
    devices; one of them charges, once, a card a customer seen for two weeks also used once. Neither lifetime
    rule applies (both are young); one identifier used once by each is too little to make the customer a member."""
    rows = []
    for i in range(3):  # the crew: days 40-80, two devices, their own cards
        rows += [(f"c{i}", 40 + i * 0.3 + day, 120.0, f"cc{i}", f"crew{day % 2}", f"9.9.9.{i}", f"g{day % 3}")
                 for day in range(0, 40, 5)]
    rows += [("buyer", 45 + day, 60.0, "bc" if day == 4 else f"b{day}", "bd", "5.5.5.1", "s1")
             for day in range(0, 20, 4)]
    rows.append(("c1", 51, 380.0, "bc", "crew1", "9.9.9.1", "tv-shop"))
    assert _ring_users(tmp_path, rows) == [["c0", "c1", "c2"]]


def test_accounts_a_crew_took_over_for_an_evening_are_not_in_its_ring(tmp_path):
    """The session rule (account-takeover crews in a fifth generator written apart from ours): three drops
    share two devices for a month. In one evening the crew logs into each of four customers, seen for a few days
    only, from its first device, and pays a drop from the account (labelled fraud: the payer is the victim).
    The victims used the device within their confirmed fraud alone: it is the crew's, not theirs."""
    buys = []
    for i in range(3):  # the drops: days 20-50 on two devices, their own cards
        buys += [(f"d{i}", 20 + i * 0.3 + day, 150.0, f"dc{i}", f"crew{day % 2}", f"6.6.6.{i}", f"atm{day % 2}")
                 for day in range(0, 30, 3)]
    for v in range(4):  # the victims: a few days of their own, on their own device
        buys += [(f"v{v}", 30 + v + day, 40.0, f"vc{v}", f"vd{v}", f"7.7.{v}.1", "grocer") for day in range(0, 6, 2)]
    pays = [(f"v{v}", 31 + v + 0.9, 800.0, f"d{v % 3}", None, "1") for v in range(4)]
    df = pd.concat([_rows(buys), _transfers(pays)], ignore_index=True)
    df.loc[df["user_id"].str.startswith("v") & df["counterparty_id"].notna(), "device_id"] = "crew0"
    assert _rings_of_frame(tmp_path, df) == [["d0", "d1", "d2"]]


@pytest.mark.parametrize("labelled", [True, False, "first_party"])
def test_customers_a_crew_took_over_on_its_own_devices_are_not_in_its_ring(tmp_path, labelled):
    """Account-takeover crews of a seventh generator written apart from ours: three accounts of a crew spend on
    two devices of theirs for 25 days. One evening each, the crew logs into five customers from its first device
    and buys with their accounts (no transfer to find the session by). Labelled, that evening is each customer's
    only confirmed fraud and most of what is labelled of theirs (labels reach day 40), so they count as known
    fraud, though they went on for seven weeks after it on their own devices: taken over, the crew's victims.
    Unlabelled, the crew's weeks on its device hold each customer's evening (the crew used it 5-13 days before
    and 11-19 days after): visitors still. Typed first-party, the evening's fraud is the customers' own: they are
    the crew's accomplices, in its ring."""
    rows, fraud = [], []
    for i in range(3):  # the crew, days 20-44 on two devices, their own cards
        rows += [(f"c{i}", 20 + i * 0.3 + day, 150.0, f"cc{i}", f"crew{day % 2}", f"6.6.6.{i}", f"atm{day % 2}")
                 for day in range(0, 25, 3)]
        fraud += ["1" if day < 20 else "" for day in range(0, 25, 3)]
    for v in range(5):  # the customers: two purchases before, the evening on the crew's device, seven weeks after
        rows += [(f"v{v}", day + v * 0.2, 40.0, f"vc{v}", f"vd{v}", f"7.7.{v}.1", "grocer") for day in (5, 15)]
        fraud += ["0", "0"]
        rows += [(f"v{v}", 25 + 2 * v + h, 300.0, f"vc{v}", "crew0", f"6.6.6.{v % 3}", f"shop{h * 20:.0f}")
                 for h in (0.1, 0.15, 0.2)]
        fraud += ["1", "1", "1"]
        rows += [(f"v{v}", day + v * 0.2, 40.0, f"vc{v}", f"vd{v}", f"7.7.{v}.1", "grocer") for day in range(42, 92, 7)]
        fraud += [""] * len(range(42, 92, 7))
    df = _rows(rows)
    df["is_fraud"] = fraud if labelled else ""
    if labelled == "first_party":
        df["fraud_type"] = ["first_party" if f == "1" and u.startswith("v") else ""
                            for f, u in zip(fraud, df["user_id"])]
    expected = ["c0", "c1", "c2"] + ([f"v{v}" for v in range(5)] if labelled == "first_party" else [])
    assert _rings_of_frame(tmp_path, df) == [expected]


def test_customers_a_crew_took_over_in_turn_up_to_the_datas_end_are_not_in_its_ring(tmp_path):
    """The seventh generator's crews near the data's end: three accounts of a crew spend on two devices of theirs
    for two weeks (days 60-76). Every four days it logs into one of five customers, seen for two months, from its
    first device and its proxy, and buys with the account and a card of the crew's. The data ends a few days after
    the last of them, so no customer went on for weeks after their evening, as the episode rule asks: five
    customers' evenings on one device, 16 days from the first to the last, are a crew taking them over in turn.
    They lose the device, and the crew's card and proxy they used only that evening. Nothing is labelled."""
    rows = []
    for i in range(3):  # the crew, days 60-76 on two devices, their own cards and a card they lend the customers
        rows += [(f"c{i}", 60 + i * 0.3 + day, 150.0, "crewcard" if day == 0 else f"cc{i}", f"crew{day % 2}",
                  f"6.6.6.{i}", f"atm{day % 2}") for day in range(0, 17, 2)]
    for v in range(5):  # the customers: two months before, the evening on the crew's device, days after
        rows += [(f"v{v}", day + v * 0.2, 40.0, f"vc{v}", f"vd{v}", f"7.7.{v}.1", "grocer") for day in range(0, 60, 10)]
        rows += [(f"v{v}", 61 + 4 * v + h, 300.0, "crewcard", "crew0", "6.6.6.0", f"shop{h * 20:.0f}")
                 for h in (0.1, 0.15, 0.2)]
        rows += [(f"v{v}", 79.5 + v * 0.2, 40.0, f"vc{v}", f"vd{v}", f"7.7.{v}.1", "grocer")]
    assert _ring_users(tmp_path, rows) == [["c0", "c1", "c2"]]


@pytest.mark.parametrize("case", ["alone", "labelled", "herded"])
def test_a_rings_aged_accounts_each_burned_once_weeks_apart_stay_one_ring(tmp_path, case):
    """A reviewer's cases against the in-turn rule: four accounts shop on their own devices for 40 days, then each
    is burned in one evening on one device and address, six days apart. ``alone``: no one else used the device,
    so no crew took anyone over on it, though each account shops once more five days after. ``labelled``: a
    herder used the device throughout and three of the accounts are labelled fraudsters, every transaction
    confirmed fraud: known fraud is no customer taken over, so the fourth is no victim among three. ``herded``:
    the herder again, the accounts never seen after their evening while the data goes on for weeks: burned by
    their crew, not taken over from their owners."""
    rows, fraud = [], []
    for i in range(4):
        rows += [(f"a{i}", d + i * 0.1, 30.0, f"ac{i}", f"own{i}", f"9.9.{i}.1", f"grocer{i}")
                 for d in range(0, 40, 5)]
        rows += [(f"a{i}", 40 + 6 * i + h, 900.0, f"ac{i}", "bo-dev", "5.5.5.5", f"elec{k}")
                 for k, h in enumerate((0.0, 0.1, 0.2))]
        fraud += ["1" if case == "labelled" and i < 3 else ""] * 11
        if case != "herded":  # once more, five days after
            rows += [(f"a{i}", 45 + 6 * i, 30.0, f"ac{i}", f"own{i}", f"9.9.{i}.1", f"grocer{i}")]
            fraud += ["1" if case == "labelled" and i < 3 else ""]
    ring = [f"a{i}" for i in range(4)]
    if case != "alone":
        rows += [("h", 38 + d, 50.0, "hc", "bo-dev", "5.5.5.6", "atm") for d in range(0, 24, 2)]
        fraud += [""] * 12
        ring.append("h")
    if case == "herded":
        rows += [("x", d, 20.0, "xc", "xd", "7.7.7.7", "grocer0") for d in range(0, 100, 10)]  # the data goes on
        fraud += [""] * 10
    df = _rows(rows)
    df["is_fraud"] = fraud
    assert _rings_of_frame(tmp_path, df) == [ring]


def test_a_herders_mules_each_used_for_an_evening_over_a_week_stay_one_ring(tmp_path):
    """A sixth generator's mule herds: four recruits, each shopping on their own device for three months, are
    each used for one evening on their herder's device, three days apart, spending stolen cards, and go on after.
    One after another like a crew's takeovers, but within nine days: the in-turn rule asks for two weeks between
    the first evening and the last (at 7 days, two of the sixth generator's mule herds fell apart). Nothing is
    labelled."""
    rows = []
    for m in range(4):
        rows += [(f"m{m}", day + m * 0.3, 30.0, f"own{m}", f"dev{m}", f"9.9.{m}.1", "grocer")
                 for day in range(0, 90, 5)]
        rows += [(f"m{m}", 40 + 3 * m + h, 400.0, f"stolen{m}-{h}", "herd", "5.5.5.5", f"elec{m}") for h in (0.1, 0.2)]
    assert _ring_users(tmp_path, rows) == [["m0", "m1", "m2", "m3"]]


def test_a_bust_out_whose_members_went_on_after_it_stays_one_ring(tmp_path):
    """Not taken over: four accounts, each on its own device for weeks, bust out together for an evening on one
    device and address (their only confirmed fraud), then go on shopping on their own devices for seven weeks,
    unlabelled. That device was shared for a day, not used by a crew for weeks around the evening."""
    rows, fraud = [], []
    for i in range(4):
        rows += [(f"b{i}", d + i * 0.1, 30.0, f"bc{i}", f"own{i}", f"9.9.{i}.1", "grocer") for d in (10, 25)]
        rows += [(f"b{i}", 40 + i * 0.05 + h, 900.0, f"bc{i}", "bo-dev", "5.5.5.5", f"elec{k}")
                 for k, h in enumerate((0.0, 0.1, 0.2))]
        rows += [(f"b{i}", d + i * 0.1, 30.0, f"bc{i}", f"own{i}", f"9.9.{i}.1", "grocer") for d in range(50, 90, 5)]
        fraud += ["0", "0", "1", "1", "1"] + [""] * len(range(50, 90, 5))
    df = _rows(rows)
    df["is_fraud"] = fraud
    assert _rings_of_frame(tmp_path, df) == [["b0", "b1", "b2", "b3"]]


def test_customers_a_crew_took_over_before_anyone_labelled_it_are_not_in_its_ring(tmp_path):
    """Paid sessions (account-takeover crews in the fifth generator, in the half of the data no one has
    labelled yet): three drops share two devices for ten days. One evening each, the crew logs into four
    customers seen for three months from its first device and pays a drop from the account. Nothing is labelled,
    and the crew came and went within the episode rule's weeks: the customers paid the cluster in one session
    and lived on outside it, so the device is the crew's."""
    buys = []
    for i in range(3):  # the drops: days 30-40 on two devices, their own cards
        buys += [(f"d{i}", 30 + i * 0.3 + day, 150.0, f"dc{i}", f"crew{day % 2}", f"6.6.6.{i}", f"atm{day % 2}")
                 for day in range(0, 10)]
    for v in range(4):  # the customers: three months on their own device and card
        buys += [(f"v{v}", v + day, 40.0, f"vc{v}", f"vd{v}", f"7.7.{v}.1", "grocer") for day in range(0, 90, 12)]
        buys += [(f"v{v}", 31 + v + 0.9 + h / 24, 300.0, f"vc{v}", "crew0", "6.6.6.9", "gadgets") for h in (1, 2)]
    pays = [(f"v{v}", 31 + v + 0.9, 800.0, f"d{v % 3}", None, "") for v in range(4)]
    df = pd.concat([_rows(buys), _transfers(pays)], ignore_index=True)
    crew = df["user_id"].str.startswith("v") & df["counterparty_id"].notna()
    df.loc[crew, "device_id"] = "crew0"
    assert _rings_of_frame(tmp_path, df) == [["d0", "d1", "d2"]]


def test_customers_whose_labelled_fraud_is_all_one_takeover_are_not_in_the_crews_ring(tmp_path):
    """Taken over (the fifth generator's crews, in the labelled half): the drops are labelled fraud, and so is
    everything the crew did from each customer's account in one evening, which is most of what the data holds
    of those customers (seen again two months later). Most of their labelled transactions are
    fraud, so they counted as known fraud, whose links no victim rule cuts, and their payment to a drop was a
    money link between known fraud. Their every confirmed fraud is one session they went on after: victims."""
    buys = []
    for i in range(3):  # the drops: days 30-40 on two devices, their own cards, labelled fraud
        buys += [(f"d{i}", 30 + i * 0.3 + day, 150.0, f"dc{i}", f"crew{day % 2}", f"6.6.6.{i}", f"atm{day % 2}")
                 for day in range(0, 10)]
    for v in range(4):  # the customers: the evening, then once two months after
        buys += [(f"v{v}", v + 95, 40.0, f"vc{v}", f"vd{v}", f"7.7.{v}.1", "grocer")]
        buys += [(f"v{v}", 31 + v + 0.9 + h / 24, 300.0, f"vc{v}", "crew0", "6.6.6.9", "gadgets") for h in (1, 2)]
    df = _rows(buys)
    df["is_fraud"] = np.where(df["user_id"].str.startswith("d") | (df["merchant_id"] == "gadgets"), "1", "0")
    pays = _transfers([(f"v{v}", 31 + v + 0.9, 800.0, f"d{v % 3}", None, "1") for v in range(4)])
    pays["device_id"] = "crew0"
    assert _rings_of_frame(tmp_path, pd.concat([df, pays], ignore_index=True)) == [["d0", "d1", "d2"]]


def test_a_shop_shipping_to_its_buyers_once_stays_one_ring_beside_the_buyers_families(tmp_path):
    """The community split weighs an email by its uses (triangulation shops in the fifth generator): eight
    operators work from one device and each places six orders with stolen cards under a buyer's email, once.
    Each buyer uses their email every week and shares a device with kin who also use the next buyer's card, so
    the component holds 104 users and is split into communities. An email used once is no tie to its owner:
    the shop is one community."""
    rows, emails = [], []
    for i in range(8):  # the shop: one device; each order a stolen card and a buyer's email, once
        rows += [(f"op{i}", 40 + i * 0.2 + day, 250.0, f"own{i}", "shop", f"5.5.5.{i}", "gadgets")
                 for day in range(0, 30, 10)]
        emails += [None] * 3
        rows += [(f"op{i}", 42 + i * 0.2 + 4 * c, 400.0, f"stolen{i}-{c}", "shop", f"5.5.5.{i}", "gadgets")
                 for c in range(6)]
        emails += [f"buyer{i}-{c}@mail" for c in range(6)]
        for c in range(6):  # each buyer: months of weekly shopping, a device shared with kin
            home = f"home{i}-{c}"
            rows += [(f"buyer{i}-{c}", day + c, 30.0, f"bc{i}-{c}", home, f"9.{i}.{c}.1", "grocer")
                     for day in range(0, 100, 7)]
            emails += [f"buyer{i}-{c}@mail"] * len(range(0, 100, 7))
            # ... kin who also use the next buyer's card: the buyers of one operator are one town
            rows += [(f"kin{i}-{c}", day + 3, 30.0, f"bc{i}-{(c + 1) % 6}", home, f"9.{i}.{c}.1", "grocer")
                     for day in range(0, 100, 9)]
            emails += [None] * len(range(0, 100, 9))
    df = _rows(rows)
    df["email"] = [e or "" for e in emails]
    store = open_store(str(tmp_path / "gf.db"))
    good, rejects = validate_frame(df.replace({"": None}), extra_types=("email",))
    assert not rejects
    store.write_transactions(good)
    rings = [set(r.users) for r in detect_rings(store)]
    store.close()
    assert {f"op{i}" for i in range(8)} in rings, rings


def test_a_customer_who_went_on_long_after_a_crew_on_its_device_is_not_in_its_ring(tmp_path):
    """A crew of aged accounts takes up one device together and busts out on it; a customer of long standing
    used it for an evening in those days (the crew logged into the account) and went on for months. The bust-out
    exception (accounts that took an identifier up together late in their lives and went quiet) compared
    each user with the sum of the others' last days, so with three or more it kept every such customer."""
    rows = []
    for i in range(3):  # aged accounts, then a month on the crew's device, then nothing
        rows += [(f"r{i}", day + i, 30.0, f"own{i}", f"lap{i}", f"7.7.{i}.1", f"g{day % 4}") for day in range(0, 40, 4)]
        rows += [(f"r{i}", 40 + i * 0.3 + k * 3, 450.0, f"card{i}", "crewdev", f"9.9.{i}.{k}", "big")
                 for k in range(10)]
    rows += [("v", day, 35.0, "vcard", "vphone", "5.5.5.5", f"g{day % 5}") for day in range(0, 120, 3)]
    rows += [("v", 41.2 + k * 0.2, 600.0, "vcard", "crewdev", f"9.9.9.{k}", "big") for k in range(3)]
    assert _ring_users(tmp_path, rows) == [["r0", "r1", "r2"]]


def test_the_owners_of_cards_a_thief_charged_once_are_not_in_its_ring_though_they_used_them_little(tmp_path):
    """The thief rule (triangulation in a seventh generator written apart from ours): the crew's accounts each
    burn a stolen card a purchase. Where the data saw a card's owner use it once or twice, for two weeks, and
    stop before the charge, no rule of holders, owners or lifetimes applies, and the owners with their partners
    made the crew's cluster 15 users where it has 3. A thief's one use of a card or a home network others use is
    no tie to them: the ring is the crew."""
    rows = []
    for i in range(3):  # the crew: days 30-72 on one laptop, a stolen card and a proxy's address each purchase
        rows += [(f"c{i}", 30 + i * 0.3 + k * 3.5, 300.0, f"st{i}-{k}", "laptop", f"10.7.{i}.{k + 1}", "market")
                 for k in range(13)]
    for j in range(6):  # owners seen days 2j to 2j + 15, twice on their card, a partner at home
        rows += [(f"o{j}", j * 2 + d, 40.0, f"card{j}", f"od{j}", f"5.5.{j}.1", f"s{j % 4}") for d in (0, 15)]
        rows += [(f"p{j}", j * 2 + d, 30.0, f"pc{j}", f"od{j}", f"5.5.{j}.1", f"s{d % 3}") for d in (1, 6, 11)]
        # a crew member charges the card once, every other time through the owner's home network (a proxy's exit)
        rows.append((f"c{j // 2}", 31 + j, 280.0, f"card{j}", "laptop", f"5.5.{j}.1" if j % 2 else f"10.8.{j}.1",
                     "market"))
    assert _ring_users(tmp_path, rows) == [["c0", "c1", "c2"]]


def test_thieves_passing_stolen_cards_among_themselves_stay_one_ring(tmp_path):
    """Three accounts on their own devices, each burning stolen cards, hand cards on: one tries a card once through
    a proxy's address, the next spends it once through the same exit. Each is a thief, and what thieves share is
    theirs: the ring stays whole."""
    rows = []
    for i in range(3):
        rows += [(f"c{i}", 30 + i * 0.3 + k * 2.5, 200.0, f"st{i}-{k}", f"cd{i}", f"10.7.{i}.{k + 1}", f"m{k % 4}")
                 for k in range(8)]
    for a, b in ((0, 1), (1, 2)):
        rows += [(f"c{a}", 32 + a, 1.0, f"pass{a}", f"cd{a}", f"10.9.{a}.1", "test"),
                 (f"c{b}", 32.5 + a, 250.0, f"pass{a}", f"cd{b}", f"10.9.{a}.1", "m1")]
    assert _ring_users(tmp_path, rows) == [["c0", "c1", "c2"]]


@pytest.mark.parametrize("own", [[("c0-card", 7)], [("c0-a", 2), ("c0-b", 2)]], ids=["own card", "reused cards"])
def test_a_member_who_tested_the_others_cards_once_each_is_no_thief(tmp_path, own):
    """Four accounts on their own devices, each spending cards of its own for three weeks, held together by one
    member's test charge on each of the others' cards. That member used three cards once, but has a card of its
    own (used 7 times), or used two more cards twice each: three of its four or five cards used once are no
    thief's burnt cards, and the ring stays whole."""
    rows = []
    for i in range(1, 4):
        rows += [(f"c{i}", 30 + i * 0.2 + k * 3, 300.0, f"crew{i}", f"cd{i}", f"10.7.{i}.1", f"m{k % 3}")
                 for k in range(7)]
    rows += [("c0", 30 + k * 3 + j * 0.5, 300.0, card, "cd0", "10.7.0.1", f"m{k % 3}")
             for j, (card, n) in enumerate(own) for k in range(n)]
    rows += [("c0", 29 + i, 1.0, f"crew{i}", "cd0", "10.7.0.1", "test") for i in range(1, 4)]
    assert _ring_users(tmp_path, rows) == [["c0", "c1", "c2", "c3"]]


def test_a_thief_spending_a_rings_pool_of_cards_stays_in_the_ring(tmp_path):
    """A bipartite ring of ours: three accounts share a pool of cards, and a fourth burns cards, some stolen, some the
    pool's, each once. It shares two of the pool's cards with two members: an accomplice's, not a victim's, and it
    stays in the ring (though one member shares one card with it only)."""
    rows = []
    for i, (own, pool) in enumerate([("X", None), ("Y", "X"), ("W", "Y")]):
        rows += [(f"a{i}", 30 + i * 0.2 + k * 2, 200.0, own, f"ad{i}", f"10.7.{i}.1", f"m{k % 3}") for k in range(5)]
        if pool:
            rows += [(f"a{i}", 31 + i * 0.2 + k * 3, 150.0, pool, f"ad{i}", f"10.7.{i}.1", "m1") for k in range(2)]
    rows += [("t", 32 + k, 250.0, card, "td", f"10.8.0.{k + 1}", "m2")
             for k, card in enumerate(["X", "Y", "W", "s1", "s2"])]
    assert _ring_users(tmp_path, rows) == [["a0", "a1", "a2", "t"]]


def test_a_card_tester_handing_the_cards_it_tried_to_spenders_stays_one_ring(tmp_path):
    """A reviewer's case: a tester tries twelve stolen cards for $1 each, once; four spenders, each on their own
    device, max one tried card out over four days. The spenders took the cards up after the test and were done
    with them within days: the tester's crew, not the cards' owners, and the ring stays whole."""
    rows = [("t", 30 + k * 0.5, 1.0, f"s{k}", "tdev", f"10.9.0.{k + 1}", "testshop") for k in range(12)]
    for i in range(4):
        rows += [(f"sp{i}", 31 + i + d, 400.0, f"s{i}", f"spdev{i}", f"10.20.{i}.1", f"elec{d % 2}") for d in range(4)]
    assert _ring_users(tmp_path, rows) == [["sp0", "sp1", "sp2", "sp3", "t"]]


def test_thieves_passing_round_cards_whose_owners_the_data_saw_stay_together(tmp_path):
    """A reviewer's case: four thieves pass stolen cards round (one tries a card once, the next spends it once),
    and the cards' owners used them twice, weeks before. A card two thieves used is theirs: cutting each thief's
    side of it cut the crew apart."""
    rows = []
    for i in range(4):
        rows += [(f"c{i}", 30 + i * 0.3 + k * 2.5, 200.0, f"st{i}-{k}", f"cd{i}", f"10.7.{i}.{k + 1}", f"m{k % 4}")
                 for k in range(8)]
    for a in range(4):
        b = (a + 1) % 4
        rows += [(f"c{a}", 32 + a, 1.0, f"P{a}", f"cd{a}", f"10.9.{a}.1", "test"),
                 (f"c{b}", 32.5 + a, 250.0, f"P{a}", f"cd{b}", f"10.9.{a}.2", "m1")]
        rows += [(f"o{a}", a * 2 + d, 40.0, f"P{a}", f"od{a}", f"5.5.{a}.1", f"s{a % 4}") for d in (0, 15)]
        rows += [(f"p{a}", a * 2 + d, 30.0, f"pc{a}", f"od{a}", f"5.5.{a}.1", f"s{d % 3}") for d in (1, 6, 11)]
    assert any({"c0", "c1", "c2", "c3"} <= set(r) for r in _ring_users(tmp_path, rows))


def test_a_carder_who_used_its_crews_laptop_once_stays_in_the_crews_ring(tmp_path):
    """A reviewer's case: four reshippers share a laptop and a flat's network for three weeks, each with a card of
    their own; their carder burns eight stolen cards from its own phone, one of them once from the crew's laptop.
    Two of the cards' owners live with a family. The carder is a thief, and the crew shares no card with it; a
    device or an address it used once is no cut (a crew's laptop looks no different from a victim's home), so the
    carder stays in its crew's ring."""
    rows = []
    for i in range(4):
        rows += [(f"r{i}", 40 + i * 0.3 + k * 2, 500.0, f"rc{i}", "crewlap", "5.5.9.1", f"elec{k % 3}")
                 for k in range(10)]
    rows += [("c", 42 + k * 1.5, 300.0, f"st{k}", "cphone", f"10.7.0.{k + 1}", "market") for k in range(7)]
    rows.append(("c", 45.1, 320.0, "st7", "crewlap", "10.7.1.1", "market"))
    for j in range(2):  # the owners, each with a partner and a teen on the home's device and network
        for m, (who, card) in enumerate([(f"o{j}", f"st{j}"), (f"p{j}", f"pc{j}"), (f"q{j}", f"qc{j}")]):
            rows += [(who, 1 + m + j + d * 7, 40.0, card, f"od{j}", f"6.6.{j}.1", f"groc{d % 2}") for d in range(12)]
    assert ["c", "r0", "r1", "r2", "r3"] in _ring_users(tmp_path, rows)


def test_where_every_payment_has_a_card_id_of_its_own_the_thief_rule_cuts_nothing(tmp_path):
    """A reviewer's case: token data (a new card id each payment). Three accounts of a promo farm pay on one
    device; one of them made four purchases, only one on the farm's device. Its four card ids are used once each
    (a thief's mark), but no card is anyone else's, and the device is no card: nothing is cut, and the farm stays
    whole."""
    rows = [(f"b{i}", 30 + i * 0.2 + k, 60.0, f"tok-b{i}-{k}", "farm", f"10.66.0.{i + 1}", f"promo{k}")
            for i in range(2) for k in range(2)]
    rows += [("a0", 33 + k, 60.0, f"tok-a0-{k}", "farm" if k == 0 else "ph-a0", "10.66.0.9", f"promo{k % 2}")
             for k in range(4)]
    assert _ring_users(tmp_path, rows) == [["a0", "b0", "b1"]]
