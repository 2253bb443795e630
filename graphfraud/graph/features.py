"""Point-in-time features: one function, read before the transaction joins the graph.

:func:`feature_row` is the only implementation of every feature: it returns the values in the order of
:func:`feature_names`. :func:`compute_features` is the same row keyed by name. Training replays history
through the engine and reads each transaction's row; a backtest keeps replaying; the API calls
:func:`compute_features` for each request. Nothing it reads happened after the transaction (labels count
only once known).

Feature names are stable; ``NaN`` means "not known" (an absent identifier, a user with no history, a node
born after the last snapshot). The backtest's two baselines read fewer of them: :func:`tabular_names`, the
transaction's own fields (the issue's "tabular-only": no feature of the graph, whose list includes user
velocity, account age and identifiers new to the user), and :func:`user_history_names`, the transaction and
its own user's history (no other user).
"""
from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from typing import TYPE_CHECKING, Any

from ..schema import Transaction
from .activity import LONG_RUN, holds
from .components import decay

if TYPE_CHECKING:
    from .engine import GraphEngine

NAN = math.nan
DAY = 86_400_000.0
HOUR = 3_600_000
WINDOWS = (("1h", HOUR), ("1d", 24 * HOUR), ("7d", 7 * 24 * HOUR), ("30d", 30 * 24 * HOUR))
#: Per identifier type ``t``, as ``t_<name>``: users sharing it, known-fraud users on it, its age, new for this
#: user, hub; its transactions in the last day and week; confirmed fraud blamed on it that became known in
#: the last 1/7/30 days, and that fraud's share of the labels that became known in the same windows (NaN
#: with none: "as known at scoring time", so a label delay shifts these windows back as it does for an
#: issuer); declined attempts with it in the last hour and day.
ENTITY_FEATURES = ("users", "fraud_users", "age_days", "new_for_user", "hub", "tx_1d", "tx_7d",
                   "fraud_1d", "fraud_7d", "fraud_30d", "fraud_share_1d", "fraud_share_7d", "fraud_share_30d",
                   "declines_1h", "declines_1d")
USER_FEATURES = (
    "amount", "log_amount", "amount_ratio_user_mean", "amount_z_user", "amount_ratio_user_max",
    "account_age_days", "is_new_user", "user_n_tx", "secs_since_last_tx",
    *(f"tx_{w}" for w, _ in WINDOWS), *(f"amount_{w}" for w, _ in WINDOWS),
    "amount_mean_1d", "amount_mean_7d", "amount_mean_30d", "amount_max_1d", "amount_max_30d",
    "spend_1d_vs_usual", "user_declines_1h", "user_declines_1d",
    "user_n_card", "user_n_device", "user_n_ip", "user_n_merchant", "n_new_identifiers",
    "country_differs_user", "country_differs_card", "hour_of_day", "day_of_week",
)
#: ``comp_recent_tx`` / ``comp_recent_users``: what the *other* accounts of the transaction's clusters did in the
#: last hours (transactions, and accounts turning active after being idle, each fading with
#: :func:`graphfraud.graph.components.decay`): linked accounts striking together. ``merchant_tx_6h`` and
#: ``merchant_burst_6h``: the merchant's payments in the last 6 hours, and those against its usual 6 hours
#: over the last week (smoothed: ``(n_6h + 1) / (n_7d * 6 / 168 + 1)``): many accounts striking one merchant.
#: ``opened_on_device_users`` / ``opened_on_device_recent_users``: the other accounts first used on the device
#: this account was first used on, and how many of them turned active in the last hours. They hold past the
#: hub limit, where such a device no longer links the accounts: a batch of accounts opened on one device and
#: waking up together. ``opened_on_device_recent_share`` is the second over the first: the same share of a
#: batch of 30 as of a batch of 8, and next to nothing for a default device id that opened thousands.
GRAPH_FEATURES = (
    "user_known_fraud", "user_victim", "comp_users", "comp_identifiers", "comp_fraud_users", "comp_fraud_tx",
    "comp_tx", "comp_age_days", "comp_first_span_days", "fraud_users_2hop", "n_hub_identifiers",
    "pagerank", "fraud_proximity", "fraud_proximity_max_identifier", "comp_recent_tx", "comp_recent_users",
    "merchant_tx_6h", "merchant_burst_6h", "opened_on_device_users", "opened_on_device_recent_users",
    "opened_on_device_recent_share",
)
#: The card's own spending (whoever used it) against its long-run baseline, and common points of purchase:
#: ``merchant_cpp_30d`` counts cards confirmed compromised in the last 30 days that paid at this merchant in
#: the 30 days before their fraud; ``card_cpp_exposure`` is the most such cards at a merchant this card
#: paid at in the last 30 days.
CARD_FEATURES = (
    "card_tx_1h", "card_tx_30d", "card_amount_1d", "card_amount_7d", "card_amount_30d", "card_mean_1d",
    "card_mean_7d", "card_mean_30d", "card_max_1d", "card_max_30d", "amount_ratio_card_mean",
    "amount_ratio_card_max", "amount_z_card", "card_cpp_exposure", "merchant_cpp_30d",
)
#: Money between users (:mod:`graphfraud.graph.flows`), NaN for data without transfers. The user's transfers
#: out and in, partners on each side, how much of what they received in the week left again, time since they
#: last received, money from accounts known as fraud (directly, and through one account), money sent to known
#: fraud, PageRank over the transfer graph (weighted by amount) and the same restarted at known fraud.
#: ``cp_*``: the same about the transfer's receiver (the counterparty), so a payment to a mule can be stopped;
#: ``cycle_2`` / ``cycle_3``: the receiver paid the user (or paid someone who paid the user) in 30 days.
FLOW_FEATURES = (
    "out_tx_1d", "out_tx_7d", "out_amount_7d", "out_amount_30d", "in_tx_7d", "in_amount_7d", "in_amount_30d",
    "fan_in", "fan_out", "flow_through_7d", "secs_since_received", "in_from_fraud_amount",
    "in_from_fraud_accounts", "in_2hop_fraud_amount", "out_to_fraud_amount", "transfer_pagerank",
    "transfer_fraud_proximity",
    "is_transfer", "self_transfer", "cp_known_fraud", "cp_account_age_days", "cp_new_for_payer", "cp_in_tx_1d",
    "cp_in_tx_7d", "cp_in_amount_7d", "cp_out_amount_7d", "cp_fan_in", "cp_fan_out", "cp_flow_through_7d",
    "cp_secs_since_received", "cp_in_from_fraud_amount", "cp_in_2hop_fraud_amount", "cp_transfer_pagerank",
    "cp_transfer_fraud_proximity", "cycle_2", "cycle_3",
)
# the windows, longest first: each bisect starts where the longer window's ended
_W30, _W7, _W1D, _W1H = (span for _, span in reversed(WINDOWS))
_BURST = 6 * HOUR  # a merchant's last hours (merchant_burst_6h: against its usual 6 hours in the last week)
_N_USER, _N_GRAPH = len(USER_FEATURES), len(GRAPH_FEATURES)
_CARD = _N_USER + _N_GRAPH
_FLOW = _CARD + len(CARD_FEATURES)
_PAYER = _FLOW + FLOW_FEATURES.index("is_transfer")
_HEAD = _FLOW + len(FLOW_FEATURES)
_PER_TYPE = len(ENTITY_FEATURES)
# an identifier the graph has never seen: no users, new, not a hub, no activity, no labels known
_UNSEEN = (0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, NAN, NAN, NAN, 0.0, 0.0)
_NO_CARD = (0.0, 0.0, 0.0, 0.0, 0.0, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, 0.0)  # an unseen card (CPP apart)


def feature_names(entity_types: tuple[str, ...], attributes: tuple[str, ...] = ()) -> list[str]:
    """All feature names, in the order models see them (``attributes``: the engine's ``feature_attributes``,
    last, as ``attr_<name>``)."""
    names = list(USER_FEATURES) + list(GRAPH_FEATURES) + list(CARD_FEATURES) + list(FLOW_FEATURES)
    for t in entity_types:
        names += [f"{t}_{f}" for f in ENTITY_FEATURES]
    return names + attribute_names(attributes)


def attribute_names(attributes: tuple[str, ...]) -> list[str]:
    """The features of the attributes the model learns from as they are (the ``feature_attributes`` setting)."""
    return [f"attr_{a}" for a in attributes]


TRANSACTION_FEATURES = ("amount", "log_amount", "hour_of_day", "day_of_week")


def tabular_names(entity_types: tuple[str, ...], attributes: tuple[str, ...] = ()) -> list[str]:
    """Features of the transaction's own fields, with no history of anyone (the tabular-only baseline): the
    amount, the time, and the attributes learnt from as they are."""
    return list(TRANSACTION_FEATURES) + attribute_names(attributes)


def user_history_names(entity_types: tuple[str, ...], attributes: tuple[str, ...] = ()) -> list[str]:
    """Features that use no other user: the transaction and its own user's history only."""
    names = list(USER_FEATURES)
    for t in entity_types:
        names.append(f"{t}_new_for_user")
    return names + attribute_names(attributes)


class _Layout:
    """Where each entity type's features sit in a row (per link policy and entity types, built once)."""

    __slots__ = ("policy", "types", "names", "slot", "template", "attrs", "attr_at")

    def __init__(self, engine: "GraphEngine"):
        self.policy = engine.policy
        self.types = engine.entity_types
        self.attrs = engine.feature_attributes
        self.names = feature_names(self.types, self.attrs)
        self.slot = {t: _HEAD + _PER_TYPE * k for k, t in enumerate(self.types)}
        self.template = [NAN] * len(self.names)
        self.attr_at = len(self.names) - len(self.attrs)


#: The layouts of the engines' settings seen in this process (a link policy and entity types each; a
#: handful at most), here rather than on the engine: the engine holds graph state only.
_LAYOUTS: dict[tuple[int, tuple[str, ...], tuple[str, ...]], _Layout] = {}


def _layout(engine: "GraphEngine") -> _Layout:
    key = (id(engine.policy), engine.entity_types, engine.feature_attributes)
    lay = _LAYOUTS.get(key)
    if lay is None or lay.policy is not engine.policy:  # an id reused by a new policy object
        if len(_LAYOUTS) > 64:
            _LAYOUTS.clear()
        lay = _LAYOUTS[key] = _Layout(engine)
    return lay


def row_names(engine: "GraphEngine") -> list[str]:
    """The names of :func:`feature_row`'s values for this engine (``feature_names(engine.entity_types)``)."""
    return _layout(engine).names


def compute_features(engine: "GraphEngine", tx: Transaction) -> dict[str, float]:
    """The features of ``tx`` as of its own time, before it is applied, keyed by name.

    The same values as :func:`feature_row`, which see.

    Examples
    --------
    >>> from graphfraud.graph.engine import GraphEngine
    >>> from graphfraud.schema import validate_record
    >>> e = GraphEngine()
    >>> tx = validate_record({"transaction_id": "t1", "timestamp": "2026-01-01", "user_id": "a", "amount": 5,
    ...                       "device_id": "D1"})
    >>> e.advance(tx.ts)
    >>> f = compute_features(e, tx)
    >>> f["is_new_user"], f["device_new_for_user"], f["comp_users"]
    (1.0, 1.0, 1.0)
    """
    row = feature_row(engine, tx)
    return dict(zip(_layout(engine).names, row))


def feature_row(engine: "GraphEngine", tx: Transaction) -> list[Any]:
    """The features of ``tx`` as of its own time, before it is applied, in :func:`row_names` order.

    The caller must have called ``engine.advance(tx.ts)`` (labels and snapshots due by then);
    :meth:`graphfraud.scoring.Scorer.score` and the replay loop do. Entity types the engine was not
    configured with have no features of their own (they still count as identifiers of the transaction).
    Windows count what happened up to and including this transaction's millisecond (events applied before
    it), and labels known by then.

    Complexity: O(identifiers of the transaction x log of their recent activity + the user's and the card's
    transactions in the last 30 days + known-fraud users on the user's identifiers).
    """
    lay = _layout(engine)
    ts = tx.ts
    lo1h, lo1d, lo7, lo30 = ts - _W1H, ts - _W1D, ts - _W7, ts - _W30
    u = engine.user_ix.get(tx.user_id)
    cur = tx.currency
    if cur is None or cur == engine.base_currency:
        grp = engine.base_currency
        amt = tx.amount
    else:
        grp = engine.group_of(cur)
        amt = engine.base_amount(tx.amount, cur)
    row = lay.template.copy()
    snap = engine.snapshot
    prox = snap.proximity if snap is not None else None
    n_prox = len(prox) if prox is not None else 0
    # ---- identifiers of this transaction
    roots: set[int] = set()
    near: set[int] | None = None  # known-fraud users on the linking identifiers around this transaction
    n_new = n_hub = 0
    prox_max = -math.inf
    card_e = merchant_e = None
    ents = engine.u_ents[u] if u is not None else None
    ent_ix, e_nusers, e_fraud, e_first, e_node, e_hub = (engine.ent_ix, engine.e_nusers, engine.e_fraud,
                                                          engine.e_first, engine.e_node, engine.e_hub)
    e_times, e_rev, e_decl = engine.e_times, engine.e_rev, engine.e_decl
    find = engine.find
    slot, is_hub_for = lay.slot, engine.is_hub_for
    for typ, name in tx.entities():
        o = slot.get(typ)
        names = ent_ix.get(typ)
        e = names.get(name) if names is not None else None
        if e is None:
            if o is not None:
                row[o:o + _PER_TYPE] = _UNSEEN
            n_new += 1
            continue
        if typ == "card":
            card_e = e
        elif typ == "merchant":
            merchant_e = e
        n_users = e_nusers[e]
        mine = ents is not None and holds(ents, e)
        fr = e_fraud[e]
        node = e_node[e]
        hub = is_hub_for(e, mine)
        if o is not None:
            # every event the engine holds happened (or became known) by now: the windows' upper end is the
            # end of each list
            times = e_times[e]
            t_hi = len(times)
            i7 = bisect_left(times, lo7)
            tx1d = t_hi - bisect_left(times, lo1d, i7)
            rv = e_rev[e]
            if rv is not None:
                rt = rv.times
                r_n = len(rt)
                r30 = bisect_left(rt, lo30)
                r7 = bisect_left(rt, lo7, r30)
                r1 = bisect_left(rt, lo1d, r7)
                nl, nf, before = rv.n_labels, rv.n_frauds, rv.before
                if r30 < r_n:
                    bl, bf = before(r30)
                    n30, fn30 = nl - bl, nf - bf
                    s30 = fn30 / n30 if n30 else NAN
                else:
                    n30 = fn30 = 0
                    s30 = NAN
                if r7 < r_n:
                    bl, bf = before(r7)
                    n7, fn7 = nl - bl, nf - bf
                    s7 = fn7 / n7 if n7 else NAN
                else:
                    fn7 = 0
                    s7 = NAN
                if r1 < r_n:
                    bl, bf = before(r1)
                    n1, fn1 = nl - bl, nf - bf
                    s1 = fn1 / n1 if n1 else NAN
                else:
                    fn1 = 0
                    s1 = NAN
            else:
                fn30 = fn7 = fn1 = 0
                s30 = s7 = s1 = NAN
            dec = e_decl[e]
            if dec:
                d_hi = len(dec)
                d1 = bisect_left(dec, lo1d)
                dn1d, dn1h = d_hi - d1, d_hi - bisect_left(dec, lo1h, d1)
            else:
                dn1d = dn1h = 0
            row[o:o + _PER_TYPE] = (n_users - 1 if mine else n_users,
                                    (len(fr) - (1 if u is not None and u in fr else 0)) if fr else 0,
                                    (ts - e_first[e]) / DAY, 0.0 if mine else 1.0, 1.0 if hub else 0.0,
                                    tx1d, t_hi - i7, fn1, fn7, fn30, s1, s7, s30, dn1h, dn1d)
        if not mine:
            n_new += 1
        if node < 0:
            continue
        if hub:
            n_hub += 1
            continue
        roots.add(find(node))
        if fr:
            if near is None:
                near = set(fr)
            else:
                near |= fr
        if node < n_prox:
            p = float(prox[node])  # type: ignore[index]
            if p > prox_max:
                prox_max = p
    if prox_max == -math.inf:
        prox_max = NAN
    # ---- the merchant's last hours against its week
    if merchant_e is not None:
        times = e_times[merchant_e]
        t_hi = len(times)
        i7 = bisect_left(times, lo7)
        m6 = t_hi - bisect_left(times, ts - _BURST, i7)
        m_burst = (m6 + 1.0) / ((t_hi - i7) * (_BURST / _W7) + 1.0)
    else:
        m6, m_burst = 0, NAN
    # ---- the card's spending and common points of purchase
    m_cpp = engine.m_cpp
    cpp_here = 0.0
    if merchant_e is not None and m_cpp:
        marks = m_cpp.get(merchant_e)
        if marks:
            cpp_here = float(len(marks) - bisect_left(marks, lo30))
    if card_e is not None:
        track = engine.cards[card_e]
        times = track.times
        c_hi = len(times)
        c30 = bisect_left(times, lo30)
        c7 = bisect_left(times, lo7, c30)
        c1d = bisect_left(times, lo1d, c7)
        c1h = bisect_left(times, lo1h, c1d)
        cum, amounts = track.cum, track.amounts
        top = cum[c_hi - 1] if c_hi else 0.0
        s30 = top - (cum[c30 - 1] if c30 else 0.0)
        s7 = top - (cum[c7 - 1] if c7 else 0.0)
        s1 = top - (cum[c1d - 1] if c1d else 0.0)
        n30, n7, n1 = c_hi - c30, c_hi - c7, c_hi - c1d
        # the largest payments: a pass over a short window, the card's SuffixMax for a long one
        x1 = (max(amounts[c1d:c_hi]) if n1 <= LONG_RUN else track.max_since(lo1d, c1d)) if n1 else NAN
        x30 = (max(amounts[c30:c_hi]) if n30 <= LONG_RUN else track.max_since(lo30, c30)) if n30 else NAN
        exposure = 0
        if m_cpp and n30:
            # the most marks in 30 days at one merchant of the card's last 30 days; a merchant with no more marks
            # in all than the best so far, or none since lo30, cannot beat it
            get_marks = m_cpp.get
            for m in set(track.merchants[c30:c_hi]):
                marks = get_marks(m)
                if marks is not None and len(marks) > exposure and marks[-1] >= lo30:
                    k = len(marks) - bisect_left(marks, lo30)
                    if k > exposure:
                        exposure = k
        if track.n:
            mean = track.total / track.n
            var = max(track.total_sq / track.n - mean * mean, 0.0)
            c_ratio = amt / mean if mean > 0 else NAN
            c_z = (amt - mean) / math.sqrt(var) if var > 1e-9 else NAN
            c_rmax = amt / track.largest if track.largest > 0 else NAN
        else:
            c_ratio = c_z = c_rmax = NAN
        row[_CARD:_FLOW] = (
            float(c_hi - c1h), float(n30), s1, s7, s30, s1 / n1 if n1 else NAN, s7 / n7 if n7 else NAN,
            s30 / n30 if n30 else NAN, x1, x30,
            c_ratio, c_rmax, c_z, float(exposure), cpp_here)
    elif tx.card_id is not None:
        row[_CARD:_FLOW - 1] = _NO_CARD
        row[_FLOW - 1] = cpp_here
    else:
        row[_FLOW - 1] = cpp_here
    if engine.flows is not None:
        _flow_features(engine, tx, u, row)
    # card country
    country = tx.country
    differs_card = NAN
    if card_e is not None and country is not None:
        home = engine.card_home.get(card_e)
        if home is not None:
            differs_card = 0.0 if home == country else 1.0
    # ---- the user's own history
    if u is None:
        account_age = 0.0
        is_new = 1.0
        user_n_tx = 0.0
        secs = ratio_mean = z = ratio_max = differs_user = pr = px = NAN
        t1h = t1d = t7d = t30d = a1h = a1d = a7d = a30d = 0.0
        m1d = m7d = m30d = x1d = x30d = vs_usual = NAN
        ud1h = ud1d = 0.0
        n_card = n_device = n_ip = n_merchant = 0.0
        known_fraud = victim = 0.0
    else:
        account_age = max(ts - engine.u_first[u], 0) / DAY
        is_new = 0.0
        user_n_tx = float(engine.u_ntx[u])
        times = engine.u_times[u]
        # windows end at this transaction's time: live traffic may carry earlier times than stored ones
        n_t = bisect_right(times, ts)
        secs = (ts - times[n_t - 1]) / 1000.0 if n_t else NAN
        i30 = bisect_left(times, lo30, 0, n_t)
        i7 = bisect_left(times, lo7, i30, n_t)
        i1d = bisect_left(times, lo1d, i7, n_t)
        i1h = bisect_left(times, lo1h, i1d, n_t)
        t30d, t7d, t1d, t1h = float(n_t - i30), float(n_t - i7), float(n_t - i1d), float(n_t - i1h)
        gt = engine.group_times(u, grp)
        st = engine.amount_stats(u, grp)
        if gt is None:
            a1h = a1d = a7d = a30d = 0.0
            m1d = m7d = m30d = x1d = x30d = vs_usual = NAN
        else:
            gtimes, gcum, gamt = gt
            g_hi = bisect_right(gtimes, ts)
            g_top = gcum[g_hi - 1] if g_hi else 0.0
            j30 = bisect_left(gtimes, lo30, 0, g_hi)
            j7 = bisect_left(gtimes, lo7, j30, g_hi)
            j1d = bisect_left(gtimes, lo1d, j7, g_hi)
            j1h = bisect_left(gtimes, lo1h, j1d, g_hi)
            a30d = g_top - (gcum[j30 - 1] if j30 else 0.0)
            a7d = g_top - (gcum[j7 - 1] if j7 else 0.0)
            a1d = g_top - (gcum[j1d - 1] if j1d else 0.0)
            a1h = g_top - (gcum[j1h - 1] if j1h else 0.0)
            g30, g7, g1 = g_hi - j30, g_hi - j7, g_hi - j1d
            m30d = a30d / g30 if g30 else NAN
            m7d = a7d / g7 if g7 else NAN
            m1d = a1d / g1 if g1 else NAN
            if g30 > LONG_RUN and g_hi == len(gtimes):  # every event of a long run is in the window's past
                runmax = engine.u_gmax[u, grp]
                x1d = runmax.since(lo1d) if g1 else NAN
                x30d = runmax.since(lo30)
            else:
                x1d = max(gamt[j1d:g_hi]) if g1 else NAN
                x30d = max(gamt[j30:g_hi]) if g30 else NAN
            vs_usual = a1d / (st[1] / account_age) if st is not None and account_age >= 1.0 and st[1] > 0 else NAN
        dec = engine.u_decl[u]
        if dec:
            d_hi = len(dec)
            d1 = bisect_left(dec, lo1d)
            ud1d, ud1h = float(d_hi - d1), float(d_hi - bisect_left(dec, lo1h, d1))
        else:
            ud1d = ud1h = 0.0
        if st is not None and st[0] > 0:
            mean = st[1] / st[0]
            var = max(st[2] / st[0] - mean * mean, 0.0)
            ratio_mean = amt / mean if mean > 0 else NAN
            z = (amt - mean) / math.sqrt(var) if var > 1e-9 else NAN
            ratio_max = amt / st[3] if st[3] > 0 else NAN
        else:
            ratio_mean = z = ratio_max = NAN
        nt = engine.u_ntype
        n_card = float(nt["card"][u]) if "card" in nt else 0.0
        n_device = float(nt["device"][u]) if "device" in nt else 0.0
        n_ip = float(nt["ip"][u]) if "ip" in nt else 0.0
        n_merchant = float(nt["merchant"][u]) if "merchant" in nt else 0.0
        for e in engine.u_links[u]:
            fr = e_fraud[e]
            if fr and not e_hub[e]:
                if near is None:
                    near = set(fr)
                else:
                    near |= fr
        home = engine.u_home[u]
        differs_user = (0.0 if home == country else 1.0) if country is not None and home is not None else NAN
        known_fraud = 1.0 if engine.u_fraud[u] else 0.0
        victim = 1.0 if engine.u_victim[u] else 0.0
        unode = engine.u_node[u]
        roots.add(find(unode))
        if snap is not None:
            pra = snap.pagerank
            pr = float(pra[unode]) if unode < len(pra) else NAN
            px = float(prox[unode]) if unode < n_prox else NAN  # type: ignore[index]
        else:
            pr = px = NAN
    # ---- the component this transaction belongs to (merged over what it touches)
    cu = ci = cfu = cft = ctx = 0
    first_min, first_max = math.inf, -math.inf
    comp = engine.comp
    rtx = rus = 0.0
    for r in roots:
        c = comp[r]
        if c is None:
            continue
        if c.recent_tx:
            r_tx, r_users = c.recent_at(ts)
            rtx += r_tx
            rus += r_users
        cu += c.users
        ci += c.idents
        cfu += c.fraud_users
        cft += c.fraud_tx
        ctx += c.tx
        if c.first_min < first_min:
            first_min = c.first_min
        if c.first_max > first_max:
            first_max = c.first_max
    if u is None:
        cu += 1
        first_min, first_max = min(first_min, ts), max(first_max, ts)
    elif rtx:  # the others': the user's own recent activity is in its windows
        w = decay(ts - engine.u_last[u])
        rtx -= engine.u_recent_tx[u] * w
        rus -= engine.u_recent_users[u] * w
        if rtx < 1e-9:  # the user alone (what is left is rounding)
            rtx = rus = 0.0
        elif rus < 0.0:
            rus = 0.0
    if first_min != math.inf:
        comp_age = (ts - first_min) / DAY
        comp_span = (first_max - first_min) / DAY
    else:
        comp_age = comp_span = 0.0
    if near is None:
        n_near = 0.0
    else:
        if u is not None:
            near.discard(u)
        n_near = float(len(near))
    row[:_CARD] = (
        amt, math.log1p(amt), ratio_mean, z, ratio_max, account_age, is_new, user_n_tx, secs,
        t1h, t1d, t7d, t30d, a1h, a1d, a7d, a30d, m1d, m7d, m30d, x1d, x30d, vs_usual, ud1h, ud1d,
        n_card, n_device, n_ip, n_merchant, float(n_new),
        differs_user, differs_card, (ts // HOUR) % 24, (ts // _W1D + 3) % 7,
        known_fraud, victim, float(cu), float(ci), float(cfu), float(cft), float(ctx), comp_age, comp_span,
        n_near, float(n_hub), pr, px, prox_max, rtx, rus, float(m6), m_burst, *_opened_on(engine, tx, u, ts),
    )
    if lay.attrs:
        given, at = tx.attrs, lay.attr_at
        for k, a in enumerate(lay.attrs):
            row[at + k] = _number(given.get(a))
    return row


def _number(text: str | None) -> float:
    """An attribute's value as a feature: its number, or NaN (missing) when empty, not a number or infinite.

    >>> _number("-1.5e3"), _number(" 7 "), _number("n/a"), _number(None), _number("inf")
    (-1500.0, 7.0, nan, nan, nan)
    """
    if text is None:
        return NAN
    try:
        v = float(text)
    except ValueError:
        return NAN
    return v if math.isfinite(v) else NAN


def _opened_on(engine: "GraphEngine", tx: Transaction, u: int | None, ts: int) -> tuple[float, float, float]:
    """The other accounts first used on the device this user was first used on (or, for a user with none
    yet, on this transaction's device): how many, how many of them became active in the last hours, and
    the second over the first."""
    d = engine.u_first_device[u] if u is not None else -1
    own = d >= 0
    if not own:
        if tx.device_id is None:
            return 0.0, 0.0, 0.0
        names = engine.ent_ix.get("device")
        d = names.get(tx.device_id, -1) if names is not None else -1
        if d < 0:
            return 0.0, 0.0, 0.0
    c = engine.opened_on.get(d)
    if c is None:
        return 0.0, 0.0, 0.0
    recent = c.recent_at(ts)[1]
    if own:
        recent -= engine.u_recent_users[u] * decay(ts - engine.u_last[u])  # type: ignore[index]
    n = float(c.users - 1 if own else c.users)
    recent = recent if recent > 1e-9 else 0.0  # what is left is rounding
    return n, recent, recent / n if n > 0 else 0.0


def _flow_features(engine: "GraphEngine", tx: Transaction, u: int | None, row: list[Any]) -> None:
    """Fill the :data:`FLOW_FEATURES` of ``row`` (the engine has seen transfers)."""
    flows = engine.flows
    assert flows is not None
    ts = tx.ts
    lo1d, lo7, lo30 = ts - _W1D, ts - _W7, ts - _W30
    snap = engine.snapshot
    fpr = snap.flow_pagerank if snap is not None else None
    fprox = snap.flow_proximity if snap is not None else None
    acc = flows.accounts.get(u) if u is not None else None
    if acc is None:
        row[_FLOW:_PAYER] = _NO_FLOWS
    else:
        o1, o7, oa7, oa30 = acc.out.windows(lo1d, lo7, lo30)
        _, i7, ia7, ia30 = acc.inn.windows(lo1d, lo7, lo30)
        last_in = acc.inn.times[-1] if acc.inn.times else None
        row[_FLOW:_PAYER] = (
            float(o1), float(o7), oa7, oa30, float(i7), ia7, ia30, float(acc.fan_in()), float(acc.fan_out()),
            oa7 / ia7 if ia7 > 0 else NAN, (ts - last_in) / 1000.0 if last_in is not None else NAN,
            acc.fraud_in, float(acc.fraud_senders), acc.hop2_in, acc.fraud_out,
            _at(fpr, u), _at(fprox, u))
    cp = tx.counterparty_id
    if cp is None:
        row[_PAYER] = 0.0
        return
    v = engine.user_ix.get(cp)
    rec = flows.accounts.get(v) if v is not None else None
    two, three = flows.cycle(u, v, lo30) if u is not None and v is not None else (0.0, 0.0)
    new_for_payer = 0.0 if u is not None and v is not None and flows.paid(u, v) else 1.0
    if rec is None:
        age = (ts - engine.u_first[v]) / DAY if v is not None else 0.0
        row[_PAYER:_HEAD] = (1.0, 1.0 if cp == tx.user_id else 0.0,
                             1.0 if v is not None and engine.u_fraud[v] else 0.0, age, new_for_payer,
                             0.0, 0.0, 0.0, 0.0, 0.0, 0.0, NAN, NAN, 0.0, 0.0, _at(fpr, v), _at(fprox, v), two, three)
        return
    i1, i7, ia7, _ = rec.inn.windows(lo1d, lo7, lo30)
    _, _, oa7, _ = rec.out.windows(lo1d, lo7, lo30)
    last_in = rec.inn.times[-1] if rec.inn.times else None
    row[_PAYER:_HEAD] = (
        1.0, 1.0 if cp == tx.user_id else 0.0, 1.0 if engine.u_fraud[v] else 0.0,  # type: ignore[index]
        (ts - engine.u_first[v]) / DAY, new_for_payer, float(i1), float(i7), ia7, oa7,  # type: ignore[index]
        float(rec.fan_in()), float(rec.fan_out()), oa7 / ia7 if ia7 > 0 else NAN,
        (ts - last_in) / 1000.0 if last_in is not None else NAN, rec.fraud_in, rec.hop2_in,
        _at(fpr, v), _at(fprox, v), two, three)


_NO_FLOWS = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, NAN, NAN, 0.0, 0.0, 0.0, 0.0, NAN, NAN)


def _at(values: Any, i: int | None) -> float:
    """A snapshot value for user index ``i`` (NaN for none, or for a user born after the snapshot)."""
    if values is None or i is None or i >= len(values):
        return NAN
    return float(values[i])
