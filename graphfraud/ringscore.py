"""Scoring one cluster of linked users: how much it looks like a fraud ring rather than a household.

:func:`score_cluster` reads a :class:`ClusterStats` of plain numbers, so the batch detector
(:func:`graphfraud.rings.detect_rings`) and the live engine (which keeps the same numbers up to date as
transactions arrive) score a cluster the same way.

Why these signals: size alone says little, and neither does sharing (families, flatmates and offices
share devices, cards and addresses, and shop at the same places). What separates organised fraud is that,
once labels arrive, *several* of its accounts are confirmed fraud; that its accounts are *new*, *arrive
together* and *go quiet* once used; that they *act together* (buying at the same merchant on the same day,
one synchronised burst); that they spend *more than usual at the same merchants*; and that they use *more
cards per account* and share one device or card among *more accounts than a family has*. Each signal adds
bounded evidence, so no single one (a lone takeover victim in a family, a big spender, a new household)
decides.

Examples
--------
>>> stats = ClusterStats(n_users=6, n_identifiers=9, n_shared_identifiers=2, n_known_fraud_users=0,
...                      n_fraud_tx=0, n_tx=60, total_amount=9000.0, median_account_age_days=3.0,
...                      first_activity_span_days=0.8, active_span_days=4.0, burst_tx_share=0.9,
...                      burst_user_share=1.0, max_users_per_identifier=6, mean_amount_ratio=2.4,
...                      merchant_concentration=0.7, top_identifier_type="device",
...                      top_identifier_id="D123")
>>> score, reasons = score_cluster(stats)
>>> score > 0.8, reasons[0]
(True, 'device D123 is shared by 6 users')
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from .output import one

__all__ = ["ClusterStats", "score_cluster"]


@dataclass
class ClusterStats:
    """Plain numbers describing one cluster of linked users, as of one moment.

    Times are in days; ratios are plain floats. The ``top_*`` fields only feed the wording of reasons.
    """

    n_users: int
    n_identifiers: int = 0  # cards in the cluster's transactions plus its other linking identifiers
    n_shared_identifiers: int = 0  # of them, used by two or more of the cluster's users
    n_known_fraud_users: int = 0
    n_fraud_tx: int = 0
    n_fraud_tx_users: int = 0  # users with a confirmed fraud transaction
    n_tx: int = 0
    total_amount: float = 0.0
    median_account_age_days: float = 365.0  # per user: last activity - first activity; median over users
    first_activity_span_days: float = 365.0  # latest user first activity - earliest one
    active_span_days: float = 365.0  # cluster's last activity - first activity
    burst_tx_share: float = 0.0  # largest share of the cluster's transactions within one burst window
    burst_user_share: float = 0.0  # share of users with a transaction inside that window
    max_users_per_identifier: int = 0
    cards_per_user: float = 1.0  # distinct cards / users
    identifier_arrival_span_days: float = 365.0  # median over shared identifiers: spread of their users' first use
    mean_amount_ratio: float = 1.0  # geometric mean of amount / typical amount at the same merchant
    merchant_concentration: float = 0.0  # share of transactions at the top 3 merchants, less their usual share
    top_merchant_users: int = 0  # users who bought at the cluster's top merchant
    median_idle_days: float = 0.0  # per user: days from their last transaction to the end of the data; median
    median_user_tx: float = 0.0  # transactions per user, median
    together_tx_share: float = 0.0  # share of transactions at a merchant where another member bought that day
    together_user_share: float = 0.0  # share of users with such a transaction
    together_merchant_id: str = ""  # the merchant where most members bought on the same day as another
    together_merchant_users: int = 0
    censored_start: bool = False  # most users were already active when the data begins (ages unknown)
    median_seen_days: float = 365.0  # per user: days from their first transaction to the end of the data; median
    top_identifier_type: str = ""
    top_identifier_id: str = ""
    top_identifier_fraud_users: int = 0
    top_identifier_opened: int = 0  # of its users, those whose account's first purchase was its one use (ringlinks)
    top_merchant_id: str = ""
    # money between members (graphfraud.ringflows.cluster_flow)
    flow_users: int = 0  # members in a transfer with another member
    flow_transfers: int = 0
    flow_amount: float = 0.0
    flow_cycle: bool = False  # money returns to where it started, through members
    mule_id: str = ""  # the member who received most transfers from known fraud accounts
    mule_fraud_transfers: int = 0
    mule_fraud_senders: int = 0
    mule_forwarded: float = 0.0  # share of what they received that they sent on within a day
    mule_lag_hours: float = float("nan")  # median time from a receipt to their next send
    collector_id: str = ""  # the member paid by most other members (ringflows.cluster_flows)
    collector_payers: int = 0  # members who paid them
    collector_transfers: int = 0
    shared_cards: int = 0  # cards used by two or more members
    tested_cards: int = 0  # of them, first used in the cluster for a tenth of the usual amount, then for more

    def to_dict(self) -> dict[str, Any]:
        """The fields as JSON can carry them: a number that is not known (NaN) is ``None``."""
        return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in asdict(self).items()}


def _clip(x: float, lo: float = 0.0, hi: float = 1.0) -> float:
    return lo if x < lo else hi if x > hi else x


def _days(d: float) -> str:
    return f"{d * 24:.0f} hours" if d < 2 else f"{d:.0f} days"


#: Confirmed fraud transactions (of a cluster without known fraud users) weigh ``WEIGHTS["fraud_tx"]`` per member
#: who made them, up to this many members: accomplices whose own spending is mostly legitimate (a collusive
#: merchant's customers, a refund service's buyers) are not "known fraud", yet several of them with confirmed
#: fraud is not a family with one stolen card (the fifth generator's worlds: one ring more in the top 2R of one,
#: no change on ours)
FRAUD_TX_USERS = 5

#: A member paid by at least this many other members collects the cluster's money (a mule network's cash-out
#: account; a household's rent is paid by one or two). The reasons name it; the evidence does not weigh it
#: beyond ``money_flow`` (weighing it up to 2 lost a ring from the top R of a mules world, and found none more
#: on the fifth generator's five worlds or our mules seeds 31-34).
COLLECTOR_PAYERS = 3
#: The weight of a term that is named among the reasons and adds (next to) nothing to the evidence.
NAMED_ONLY = 0.06

#: The largest weight of each term of the evidence (see :func:`score_cluster`).
WEIGHTS: dict[str, float] = {
    "fraud_users": 4.5,  # two or more users confirmed fraud ...
    "fraud_share": 2.0,  # ... plus this much as their share reaches half the cluster
    "fraud_user": 1.5,  # one user confirmed fraud (a takeover in a family is one)
    "fraud_tx": 0.8,  # confirmed fraud transactions of users not fraudsters themselves, per such user (FRAUD_TX_USERS)
    "new_accounts": 2.5,  # median account age (first to last transaction) well under a month
    "first_seen_together": 1.5,  # the accounts' first transactions within days of each other
    "arrived_together": 2.0,  # shared identifiers reached all their users within days
    "bought_together": 3.5,  # members buying at the same merchant on the same day
    "burst": 1.5,  # most transactions, from most users, within one 3-day window
    "amounts": 2.5,  # amounts against the usual at the same merchants (down to -half of it when lower)
    "gone_quiet": 2.0,  # members silent for weeks since their last transaction
    "cards_per_user": 2.0,  # several cards per account
    "shared_identifier": 1.0,  # one card or device shared by more accounts than a family has
    "merchant_concentration": 0.3,  # spending concentrated on 3 merchants (families do that too)
    "size": 1.5,  # log of the number of users, up to 16
    "money_flow": 1.5,  # most members pass money to one another (families do too, a little)
    "cycle": 1.0,  # money returns to where it started
    "pass_through": 2.5,  # a member receives from known fraud and sends most of it on within a day
    "card_tests": 2.5,  # shared cards tested with a tiny purchase before the spending
}
#: Evidence (sum of the terms below) at which a cluster scores 0.5.
EVIDENCE_MIDPOINT = 6.0
#: A device or card shared by more accounts than a large family has is not a family's.
FAMILY_SIZE = 6
#: A short life and one burst are evidence in full when the data watched the accounts (first transaction to
#: the end of the data, median) this many days; in proportion below it, down to ``SEEN_FLOOR`` of it.
SEEN_DAYS = 14.0
SEEN_FLOOR = 0.4


def score_cluster(stats: ClusterStats) -> tuple[float, list[str]]:
    """Score one cluster in [0, 1] (higher: more like a fraud ring), with reasons in plain words.

    Parameters
    ----------
    stats : ClusterStats
        The cluster's numbers; see the class for each field.

    Returns
    -------
    score : float
        ``1 / (1 + exp(-(evidence - EVIDENCE_MIDPOINT)))`` where evidence is a sum of bounded terms, one
        per signal.
    reasons : list of str
        What links the cluster (its most shared identifier, by id) first, then the signals that
        contributed, strongest first.

    Notes
    -----
    The terms and their largest weights: confirmed fraud (several users 4.5, one 1.5, fraud transactions of users
    not known as fraud 0.8 per such user, up to 4.0); new accounts 2.5; accounts first seen together 1.5; shared
    identifiers reached all their users together 2; members buying at the same merchant on the same day 3.5; one
    synchronised burst 1.5; amounts above the usual at the same merchants 2.5 (below the usual counts against,
    -1.25); members gone quiet 2; several cards per account 2; one identifier shared by more accounts than a family
    has 1; size 1.5; money between members (share of members in transfers with one another) 1.5, a cycle 1, a member
    passing on within a day what known fraud accounts sent 2.5; shared cards tested with a tiny purchase before the
    spending 2.5 (at half of the shared cards tested). New accounts and the burst count in full only for accounts
    the data watched ``SEEN_DAYS`` or more (down to ``SEEN_FLOOR`` of their weight for accounts that opened in the
    last days: every account that opened last week looks new and bursty). Households, offices and campuses share
    devices, cards, addresses and merchants too, so sharing and merchant concentration alone weigh little; what they
    lack is confirmed fraud, new throwaway accounts, coordination in time and money. The weights were chosen on the
    matrix of ``bench/generalise.py`` (every typology, several seeds), never on one world.

    Examples
    --------
    >>> family = ClusterStats(n_users=4, n_identifiers=8, n_shared_identifiers=2, n_tx=120,
    ...                       median_account_age_days=80, first_activity_span_days=20, active_span_days=89,
    ...                       burst_tx_share=0.08, burst_user_share=0.5, max_users_per_identifier=4)
    >>> score_cluster(family)[0] < 0.2
    True
    """
    s, W = stats, WEIGHTS
    n = max(1, s.n_users)
    terms: list[tuple[float, str]] = []
    top = f"{s.top_identifier_type} {s.top_identifier_id}".strip()

    # the shared identifier itself: it says what links the cluster (reasons put it first); it weighs only
    # when more accounts share it than a family has
    if s.top_identifier_id and s.max_users_per_identifier >= 2:
        txt = f"{top} is shared by {s.max_users_per_identifier} users"
        if s.top_identifier_fraud_users:
            txt += f", {s.top_identifier_fraud_users} of them confirmed fraud"
        if s.top_identifier_opened:  # accounts opened on one device: what a default id or a terminal lacks
            txt += (f"; {s.top_identifier_opened} of them made their account's first purchase on it and never "
                    f"used it again")
        terms.append((W["shared_identifier"] * _clip((s.max_users_per_identifier - FAMILY_SIZE) / FAMILY_SIZE) + 1e-3,
                      txt))
    if s.cards_per_user >= 1.5:
        terms.append((W["cards_per_user"] * _clip((s.cards_per_user - 1.3) / 1.2), f"{s.cards_per_user:.1f} cards per user"))
    # card testing: a stolen card is tried with a tiny purchase before it is spent, and a ring passes its
    # cards around; a family's shared card starts with an ordinary purchase
    if s.tested_cards and s.shared_cards:
        terms.append((W["card_tests"] * _clip(s.tested_cards / s.shared_cards / 0.5),
                      f"{s.tested_cards} of {s.shared_cards} shared cards were first used for a tiny amount, "
                      f"then for more"))

    # known fraud: one confirmed account (a takeover in a family) is weak, several are strong
    if s.n_known_fraud_users >= 2:
        share = s.n_known_fraud_users / n
        terms.append((W["fraud_users"] + W["fraud_share"] * _clip(share / 0.5),
                      f"{s.n_known_fraud_users} of {n} users confirmed fraud"))
    elif s.n_known_fraud_users == 1:
        terms.append((W["fraud_user"], f"1 of {n} users confirmed fraud"))
    elif s.n_fraud_tx:  # per member with confirmed fraud transactions, up to FRAUD_TX_USERS of them
        k = max(1, min(FRAUD_TX_USERS, s.n_fraud_tx_users))
        of = f" of {s.n_fraud_tx_users} users" if s.n_fraud_tx_users >= 2 else ""
        terms.append((W["fraud_tx"] * k, f"{s.n_fraud_tx} transactions{of} confirmed fraud"))

    # newness: ages are only meaningful when the data saw the accounts start
    age_w = 0.4 if s.censored_start else 1.0
    # ... and a short life or a burst only when the data watched the accounts for longer than that: every
    # account that opened last week is new, and did all its buying in the last few days
    seen_w = max(SEEN_FLOOR, _clip(s.median_seen_days / SEEN_DAYS))
    if s.median_account_age_days < 30:
        terms.append((age_w * seen_w * W["new_accounts"] * math.exp(-s.median_account_age_days / 15),
                      f"accounts are new: median {_days(s.median_account_age_days)} of activity"))
    if s.first_activity_span_days < 10 and n >= 2:
        terms.append((age_w * W["first_seen_together"] * math.exp(-s.first_activity_span_days / 4),
                      f"{n} accounts first seen within {_days(s.first_activity_span_days)}"))
    if s.identifier_arrival_span_days < 7:
        terms.append((age_w * W["arrived_together"] * math.exp(-s.identifier_arrival_span_days / 2),
                      f"shared identifiers reached all their users within {_days(s.identifier_arrival_span_days)}"))

    # coordination: members at the same merchant on the same day, and one synchronised burst
    together = _clip(s.together_tx_share / 0.3) * _clip(s.together_user_share)
    if together > 0:
        txt = (f"{s.together_user_share:.0%} of users bought at the same merchant on the same day as another "
               f"member ({s.together_tx_share:.0%} of transactions)")
        if s.together_merchant_id and s.together_merchant_users >= 2:
            txt = f"{s.together_merchant_users} of {n} users bought at merchant {s.together_merchant_id} on the same day; " + txt
        terms.append((W["bought_together"] * together, txt))
    burst = _clip((s.burst_tx_share - 0.25) / 0.5) * _clip((s.burst_user_share - 0.3) / 0.5)
    if burst > 0:
        terms.append((seen_w * W["burst"] * burst, f"{s.burst_tx_share:.0%} of transactions from {s.burst_user_share:.0%} of "
                                   f"users fall within 3 days"))

    # money: amounts against what the same merchants usually see
    if s.mean_amount_ratio > 0:
        amt = max(-0.5, min(1.0, math.log(s.mean_amount_ratio) / math.log(2.5)))
        if amt > 0.1:
            terms.append((W["amounts"] * amt, f"amounts are {s.mean_amount_ratio:.1f}x the usual at the same "
                                              "merchants (else in the same currency)"))
        elif amt < 0:
            terms.append((W["amounts"] * amt, ""))
    if s.merchant_concentration > 0.15:
        txt = f"{s.merchant_concentration:.0%} more of the spending than usual goes to 3 merchants"
        if s.top_merchant_id and s.top_merchant_users >= 2:
            txt = f"{s.top_merchant_users} of {n} users bought at merchant {s.top_merchant_id}; " + txt
        terms.append((W["merchant_concentration"] * _clip((s.merchant_concentration - 0.15) / 0.45), txt))

    # throwaway accounts go quiet once used; customers keep buying
    if s.median_idle_days > 7:
        terms.append((W["gone_quiet"] * _clip((s.median_idle_days - 7) / 30),
                      f"accounts went quiet: median {s.median_idle_days:.0f} days since their last transaction"))

    # money: members paying one another, in a cycle, and a member passing on what known fraud sent
    if s.flow_users >= 2:
        txt = f"{min(s.flow_users, n)} of {n} users moved {s.flow_amount:,.0f} between them in {s.flow_transfers} transfers"
        terms.append((W["money_flow"] * _clip(s.flow_users / n), txt))
    if s.flow_cycle:
        terms.append((W["cycle"], "money returned to where it started through members"))
    if s.mule_id and s.mule_fraud_transfers:
        lag = "" if math.isnan(s.mule_lag_hours) else f" (median {_days(s.mule_lag_hours / 24)} after a receipt)"
        txt = one("{m} received {n} transfers from {k} known fraud accounts and forwarded {f:.0%} within a day{lag}",
                  n=s.mule_fraud_transfers, k=s.mule_fraud_senders).format(
            m=s.mule_id, n=s.mule_fraud_transfers, k=s.mule_fraud_senders, f=s.mule_forwarded, lag=lag)
        terms.append((W["pass_through"] * _clip((s.mule_forwarded - 0.2) / 0.6) + 1e-3, txt))

    if s.collector_id and s.collector_payers >= COLLECTOR_PAYERS:  # named, not weighed (see COLLECTOR_PAYERS)
        terms.append((NAMED_ONLY, f"{s.collector_id} was paid by {s.collector_payers} members in "
                                  f"{s.collector_transfers} transfers"))

    # a little for size, never deciding
    terms.append((W["size"] * _clip(math.log2(n / 2) / 3), ""))
    evidence = sum(w for w, _ in terms)
    score = 1.0 / (1.0 + math.exp(-(evidence - EVIDENCE_MIDPOINT)))
    ordered = sorted((t for t in terms if t[1] and t[0] > 0.05), key=lambda t: -t[0])
    reasons = [txt for _, txt in ordered]
    link = [txt for _, txt in terms if txt.startswith(top + " is shared")] if s.top_identifier_id else []
    if link:  # what links the cluster comes first, then the evidence
        reasons = link + [r for r in reasons if r != link[0]]
    return score, reasons
