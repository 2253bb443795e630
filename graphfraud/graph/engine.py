"""The graph engine: what scoring needs, in memory, updated per event in near-constant time.

The engine is a cache of the store. It is fed events in order (transactions, labels) and answers
point-in-time questions about the graph *before* the next transaction is applied. Training, backtests
and the live API all drive the same engine through :func:`graphfraud.graph.features.feature_row`,
so there is one implementation of every feature.

State, all keyed by small integers:

* users: first seen, identifiers used (with first-use time), recent transactions (for velocity), running
  amount statistics per currency group, usual country, declines;
* identifiers (card, device, ip, merchant, card BIN, extra types): distinct users, first seen, known-fraud
  users, and recent activity (:mod:`graphfraud.graph.activity`): transaction times, declines, and the
  times labels and confirmed fraud of their transactions became known; cards also keep their spending
  and the merchants they paid at, merchants the compromised cards that paid there before their fraud
  (common point of purchase);
* the accounts first used on each device (``opened_on``), with their recent activity;
* a union-find over users and *linking* identifiers; an identifier shared by more users than its type's
  hub limit stops linking (it is a hub); component totals are kept at the roots and merged on union;
* known fraud as it becomes known: a label is revealed at its ``known_at`` time (replays) or at once
  (live feedback); who a label blames follows :mod:`graphfraud.labels`;
* a snapshot (PageRank, fraud proximity, and a component rebuild that drops unions made through
  identifiers that later became hubs) recomputed whenever event time crosses a multiple of
  ``snapshot_interval``: the schedule is part of the point-in-time definition, identical everywhere.
"""
from __future__ import annotations

import heapq
import math
from array import array
from bisect import bisect_left, insort
from collections.abc import Iterable, Mapping
from typing import Any

from .. import labels as semantics
from ..schema import BIN_TYPE, ENTITY_COLUMNS, LABEL_SOURCES, Label, Transaction
from .activity import LONG_RUN, CardTrack, Reveals, SuffixMax, new_times, push_time
from . import components
from .components import Comp
from .flows import FlowGraph
from .policy import LinkPolicy
from .snapshot import build_snapshot
from .txlog import TxLog

DAY_MS = 86_400_000
WINDOW_MS = 30 * DAY_MS
#: Merchants a card paid at in this long before its first confirmed fraud are possible points of compromise.
CPP_LOOKBACK_MS = 30 * DAY_MS
_SOURCE_RANK = {s: i for i, s in enumerate(LABEL_SOURCES)}
__all__ = ["Comp", "GraphEngine"]  # Comp lives in graph.components; old imports of it keep working


def _tally(tables: list[dict[str, int] | None], top: str | None, top_n: array[int], i: int, key: str) -> str:
    """Count one more ``key`` in row ``i``; return the most frequent key (the one that got there first on a
    tie). A row that has only seen one key keeps no table: it is ``top``, seen ``top_n[i]`` times."""
    counts = tables[i]
    if counts is None:
        if top is None or key == top:
            top_n[i] += 1
            return key
        counts = tables[i] = {top: top_n[i]}
    n = counts.get(key, 0) + 1
    counts[key] = n
    return key if top is None or (key != top and n > counts[top]) else top


class GraphEngine:
    """The in-memory identifier graph.

    Parameters
    ----------
    policy : LinkPolicy
        Which types link users, and hub limits.
    snapshot_interval_ms : int
        Event time between snapshots (PageRank, fraud proximity, component rebuild).
    label_delay_ms : int
        When a label carries no time of its own, it becomes known this long after its transaction.
    rates : mapping of str to float, optional
        Conversion rates to the base currency; amounts in other currencies are compared only with
        amounts in the same currency.
    extra_types : iterable of str
        Declared extra entity types (email, phone, ...), which get their own features.
    feature_attributes : iterable of str
        Attributes whose numeric values are features as they are (``attr_<name>``); the engine keeps nothing of
        them, the feature row reads them from each transaction.

    Examples
    --------
    >>> from graphfraud.schema import validate_record
    >>> e = GraphEngine()
    >>> for i, u in enumerate(["a", "b", "c"]):
    ...     e.apply(validate_record({"transaction_id": f"t{i}", "timestamp": "2026-01-01", "user_id": u,
    ...                              "amount": 5, "device_id": "D1"}))
    >>> e.component_of("a").users
    3
    """

    def __init__(self, policy: LinkPolicy | None = None, *, snapshot_interval_ms: int = DAY_MS,
                 label_delay_ms: int = DAY_MS, rates: Mapping[str, float] | None = None,
                 base_currency: str = "USD", extra_types: Iterable[str] = (), feature_attributes: Iterable[str] = ()):
        self.policy = policy or LinkPolicy.from_settings()
        self.snapshot_interval_ms = int(snapshot_interval_ms)
        self.label_delay_ms = int(label_delay_ms)
        self.rates = {k.upper(): float(v) for k, v in (rates or {}).items()}
        self.base_currency = base_currency.upper()
        self.extra_types = tuple(t for t in extra_types if t != BIN_TYPE)
        self.entity_types = tuple(ENTITY_COLUMNS.values()) + (BIN_TYPE,) + self.extra_types
        self.feature_attributes = tuple(dict.fromkeys(feature_attributes))
        # users
        self.user_ix: dict[str, int] = {}
        self.u_name: list[str] = []
        self.u_first = array("q")
        self.u_last = array("q")
        self.u_recent_tx = array("d")  # the user's recent activity as of u_last (graph.components.decay)
        self.u_recent_users = array("d")
        self.u_first_device = array("i")  # the device of the user's first transaction with one, or -1
        #: device -> the accounts first used on it: how many (``users``) and their recent activity
        self.opened_on: dict[int, Comp] = {}
        self.u_node = array("i")
        self.u_ents: list[array[int]] = []  # the identifiers the user used (entity indices), sorted (activity.holds)
        self.u_links: list[array[int]] = []  # linking identifiers of the user (entity indices)
        self.u_ntype: dict[str, array[int]] = {}  # type -> distinct identifiers of the type, per user
        self.u_times: list[array[int]] = []  # transaction times, sorted (the last 30 days at least)
        # per currency group (group_times): times, cumulative amounts and amounts, the last 30 days at least;
        # the base currency's in three columns of arrays, other groups' by (user, group)
        self.u_gt: list[array[int] | None] = []
        self.u_gc: list[array[float] | None] = []
        self.u_ga: list[array[float] | None] = []
        self.u_gother: dict[tuple[int, str], tuple[array[int], array[float], array[float]]] = {}
        # the largest amounts of a (user, group)'s run while it holds more than LONG_RUN transactions
        self.u_gmax: dict[tuple[int, str], SuffixMax] = {}
        # amount statistics per currency group (amount_stats): n, sum, sum of squares, maximum; the base
        # currency's in four columns, other groups' by (user, group)
        self.u_an = array("d")
        self.u_asum = array("d")
        self.u_asq = array("d")
        self.u_amax = array("d")
        self.u_aother: dict[tuple[int, str], list[float]] = {}
        self.u_home: list[str | None] = []  # the user's usual country: the most frequent, first to get there
        self.u_country: list[dict[str, int] | None] = []  # country counts, once there are two (_tally)
        self.u_home_n = array("i")  # times u_home was seen, while it is the only country
        self.u_ntx = array("q")
        self.u_amount = array("d")
        self.u_fraud: list[bool] = []  # known fraud now
        self.u_victim: list[bool] = []
        self.u_fraudster: list[bool] = []
        self.u_fraud_tx: list[int] = []  # confirmed fraud transactions known now (any type)
        self.u_fp_tx: list[int] = []  # of those, typed first_party or friendly (the user's own fraud)
        self.u_vt_tx: list[int] = []  # of those, typed third_party or scam (done to the user)
        self.u_rx_fraud: list[int] = []  # fraudulent transfers received (labels.receiver_at_fault)
        self.u_decl: list[array[int] | None] = []  # times of the user's declined attempts
        # identifiers: per type, name -> index; then columns by index
        self.ent_ix: dict[str, dict[str, int]] = {}
        self.e_type: list[str] = []
        self.e_name: list[str] = []
        self.e_first = array("q")
        self.e_nusers = array("i")  # distinct users
        self.e_fraud: list[set[int] | None] = []
        self.e_node = array("i")  # union-find node, -1 for context types
        self.e_hub = bytearray()  # 1 once a hub
        self.card_home: dict[int, str] = {}  # a card's usual country, as u_home
        self.e_country: list[dict[str, int] | None] = []  # a card's country counts, once there are two
        self.e_home_n = array("i")  # times a card's usual country was seen, while it is the only one
        self.e_times: list[array[int]] = []  # transaction times at the identifier (the last 30 days at least)
        self.e_rev: list[Reveals | None] = []  # when labels of its transactions, and fraud blamed on it, became known
        self.e_decl: list[array[int] | None] = []  # times of declined attempts with it
        self.cards: dict[int, CardTrack] = {}  # card identifier -> spending and merchants paid at
        self.compromised: dict[int, int] = {}  # card identifier -> time of its first confirmed fraud
        self.m_cpp: dict[int, array[int]] = {}  # merchant -> when compromised cards that paid there became known
        self.flows: FlowGraph | None = None  # transfers between users, once there is one (graph.flows)
        # union-find over nodes (users and linking identifiers)
        self.parent: list[int] = []
        self.comp: list[Comp | None] = []
        self.node_user = array("i")  # user index or -1
        self.node_hub = bytearray()  # 1 for identifier nodes that became hubs
        self.edge_u = array("i")  # user node of each first-time link to a linking identifier
        self.edge_e = array("i")  # identifier node of that link
        self.hubs_since_rebuild = False
        # identifier nodes that became hubs since the last rebuild (None: unknown, rebuild everything)
        self.new_hubs: list[int] | None = []
        # labels
        # heap of (known_at, order, kind, id, value, source, fraud_type); order: the place of each label in the
        # order the engine took them (the store's), which settles two labels of one source
        self.pending: list[tuple[int, int, str, str, str, str, str | None]] = []
        self._pseq = 0
        # every applied transaction's user, time, identifiers, counterparty and label (graph.txlog)
        self.txs = TxLog()
        self.user_label: dict[int, tuple[int, str, int]] = {}
        self._order = 0  # labels revealed so far (a key for what reads the whole graph once per state)
        # time and snapshots
        self.clock = -math.inf  # latest event time applied
        self.next_snapshot: float = -math.inf
        self.snapshot: Any = None  # graph.snapshot.Snapshot
        self.snapshot_version = 0
        self.n_tx = 0
        self.seq = 0  # last store sequence number applied

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "new_hubs" not in state:  # saved before new hubs were tracked: None asks for a full rebuild
            state["new_hubs"] = None if state.get("hubs_since_rebuild") else []
        self.__dict__.update(state)

    # ------------------------------------------------------------------ union-find
    def _new_node(self, user: int) -> int:
        n = len(self.parent)
        self.parent.append(n)
        self.comp.append(Comp())
        self.node_user.append(user)
        self.node_hub.append(0)
        return n

    def find(self, x: int) -> int:
        parent = self.parent
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def _union(self, a: int, b: int) -> int:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ra
        ca, cb = self.comp[ra], self.comp[rb]
        assert ca is not None and cb is not None
        if (ca.users + ca.idents) < (cb.users + cb.idents):
            ra, rb, ca, cb = rb, ra, cb, ca
        self.parent[rb] = ra
        ca.absorb(cb)
        self.comp[rb] = None
        return ra

    def component_of(self, user_id: str) -> Comp:
        """The totals of a user's component (an empty one for an unknown user)."""
        u = self.user_ix.get(user_id)
        if u is None:
            return Comp()
        c = self.comp[self.find(self.u_node[u])]
        assert c is not None
        return c

    # ------------------------------------------------------------------ interning
    def _user(self, name: str, ts: int) -> int:
        u = self.user_ix.get(name)
        if u is not None:
            return u
        u = len(self.u_name)
        self.user_ix[name] = u
        self.u_name.append(name)
        self.u_first.append(ts)
        self.u_last.append(ts)
        self.u_recent_tx.append(0.0)
        self.u_recent_users.append(0.0)
        self.u_first_device.append(-1)
        self.u_ents.append(array("i"))
        self.u_links.append(array("i"))
        for col in self.u_ntype.values():
            col.append(0)
        self.u_times.append(new_times())
        self.u_gt.append(None)
        self.u_gc.append(None)
        self.u_ga.append(None)
        for stat in (self.u_an, self.u_asum, self.u_asq, self.u_amax):
            stat.append(0.0)
        self.u_country.append(None)
        self.u_home.append(None)
        self.u_home_n.append(0)
        self.u_ntx.append(0)
        self.u_amount.append(0.0)
        self.u_fraud.append(False)
        self.u_victim.append(False)
        self.u_fraudster.append(False)
        self.u_fraud_tx.append(0)
        self.u_fp_tx.append(0)
        self.u_vt_tx.append(0)
        self.u_rx_fraud.append(0)
        self.u_decl.append(None)
        node = self._new_node(u)
        self.u_node.append(node)
        c = self.comp[node]
        assert c is not None
        c.users = 1
        c.first_min = c.first_max = c.last = ts
        c.oldest = (ts, name)
        return u

    def is_hub_for(self, e: int, mine: bool) -> bool:
        """Whether identifier ``e`` is a hub for a transaction about to use it: one already, or (``mine``
        false: its user has not used it yet) one more user would make it one. Context types never are. The
        one hub test of features and ring context: a hub does not link the transaction to a cluster."""
        if self.e_node[e] < 0:
            return False
        if self.e_hub[e]:
            return True
        return not mine and self.policy.is_hub(self.e_type[e], self.e_nusers[e] + 1)

    def entity(self, typ: str, name: str) -> int | None:
        """The index of identifier ``name`` of type ``typ``, or None when the engine has not seen it."""
        names = self.ent_ix.get(typ)
        return names.get(name) if names is not None else None

    def _entity(self, typ: str, name: str, ts: int) -> int:
        names = self.ent_ix.get(typ)
        if names is None:
            names = self.ent_ix[typ] = {}
        e = names.get(name)
        if e is not None:
            return e
        e = len(self.e_name)
        names[name] = e
        self.e_type.append(typ)
        self.e_name.append(name)
        self.e_first.append(ts)
        self.e_nusers.append(0)
        self.e_fraud.append(None)
        self.e_hub.append(0)
        self.e_country.append(None)
        self.e_home_n.append(0)
        self.e_rev.append(None)
        self.e_decl.append(None)
        if typ == "card":
            track = self.cards[e] = CardTrack()
            self.e_times.append(track.times)  # one list: the card's spending keeps its transaction times
        else:
            self.e_times.append(new_times())
        if self.policy.links(typ):
            node = self._new_node(-1)
            c = self.comp[node]
            assert c is not None
            c.idents = 1
            self.e_node.append(node)
        else:
            self.e_node.append(-1)
        return e

    def group_of(self, currency: str | None) -> str:
        """The currency group amounts are compared in: the base currency when convertible."""
        if currency is None or currency == self.base_currency or currency in self.rates:
            return self.base_currency
        return currency

    def base_amount(self, amount: float, currency: str | None) -> float:
        if currency is None or currency == self.base_currency:
            return amount
        r = self.rates.get(currency)
        return amount * r if r is not None else amount

    # ------------------------------------------------------------------ time
    def advance(self, now: int, snapshots: bool = True, reveal: bool = True) -> None:
        """Move event time to ``now``: reveal labels known by then (unless ``reveal`` is false: a rebuild
        reveals them all at the end, in the order they became known), take due snapshots."""
        pending = self.pending
        while reveal and pending and pending[0][0] <= now:
            known, order, kind, sid, value, src, ftype = heapq.heappop(pending)
            self._reveal(kind, sid, value, src, ftype, known, order)
        if snapshots and now >= self.next_snapshot:
            if self.next_snapshot != -math.inf or self.n_tx:
                self.take_snapshot(now)
            iv = self.snapshot_interval_ms
            self.next_snapshot = (now // iv + 1) * iv
        if now > self.clock:
            self.clock = now

    def take_snapshot(self, now: int) -> None:
        """Re-split components glued by new hubs, then PageRank and fraud proximity (graph.snapshot)."""
        if self.hubs_since_rebuild:
            if self.new_hubs:
                components.split(self, self.new_hubs)
            else:  # an engine saved before new hubs were tracked
                components.rebuild(self)
        self.snapshot = build_snapshot(self)
        self.snapshot_version += 1

    def rebuild_components(self) -> None:
        """Recompute every component from the links that still link (the reference for the incremental
        re-split :meth:`take_snapshot` does)."""
        components.rebuild(self)

    # ------------------------------------------------------------------ transactions
    def apply(self, tx: Transaction, seq: int | None = None, snapshots: bool = True, reveal: bool = True) -> None:
        """Add a transaction to the graph (after its features were read); ``reveal`` as in :meth:`advance`."""
        ts = tx.ts
        self.advance(ts, snapshots, reveal)
        now = int(self.clock)
        u = self._user(tx.user_id, ts)
        last = self.u_last[u]
        if ts > last:
            self.u_last[u] = ts
        unode = self.u_node[u]
        ents = self.u_ents[u]
        policy = self.policy
        grp = self.group_of(tx.currency)
        amt = self.base_amount(tx.amount, tx.currency)
        declined = tx.auth_result == "declined"
        touched = []
        card_e = -1
        merchant_e = -1
        for typ, name in tx.entities():
            e = self._entity(typ, name, ts)
            touched.append(e)
            if typ == "card":
                card_e = e
            else:
                push_time(self.e_times[e], ts, now)
                if typ == "merchant":
                    merchant_e = e
                elif typ == "device" and self.u_first_device[u] < 0:
                    self.u_first_device[u] = e
                    opened = self.opened_on.get(e)
                    if opened is None:
                        opened = self.opened_on[e] = Comp()
                    opened.users += 1
            if declined:
                self._decline(self.e_decl, e, ts, now)
            k = bisect_left(ents, e)
            if k == len(ents) or ents[k] != e:
                ents.insert(k, e)
                nt = self.u_ntype.get(typ)
                if nt is None:
                    nt = self.u_ntype[typ] = array("i", bytes(4 * len(self.u_name)))
                nt[u] += 1
                n_users = self.e_nusers[e] + 1
                self.e_nusers[e] = n_users
                if self.u_fraud[u]:
                    fr = self.e_fraud[e]
                    if fr is None:
                        self.e_fraud[e] = {u}
                    else:
                        fr.add(u)
                node = self.e_node[e]
                if node >= 0:
                    self.u_links[u].append(e)
                    self.edge_u.append(unode)
                    self.edge_e.append(node)
                    if not self.e_hub[e]:
                        if policy.is_hub(typ, n_users):
                            self.e_hub[e] = 1
                            self.node_hub[node] = 1
                            self.hubs_since_rebuild = True
                            if self.new_hubs is not None:
                                self.new_hubs.append(node)
                        else:
                            self._union(unode, node)
            if typ == "card" and tx.country is not None:
                self.card_home[e] = _tally(self.e_country, self.card_home.get(e), self.e_home_n, e, tx.country)
        if card_e >= 0:
            self.cards[card_e].add(ts, amt, merchant_e, now)
        v = -1
        if tx.counterparty_id is not None:
            v = self._user(tx.counterparty_id, ts)
            if self.flows is None:
                self.flows = FlowGraph()
                self.flows.fraud.update(i for i, f in enumerate(self.u_fraud) if f)
            self.flows.transfer(u, v, amt, ts, now)
        if declined:
            self._decline(self.u_decl, u, ts, now)
        # velocity and amount statistics
        self._record_time(u, ts, amt, grp)
        if grp == self.base_currency:
            self.u_an[u] += 1
            self.u_asum[u] += amt
            self.u_asq[u] += amt * amt
            if amt > self.u_amax[u]:
                self.u_amax[u] = amt
        else:
            st = self.u_aother.get((u, grp))
            if st is None:
                self.u_aother[u, grp] = [1.0, amt, amt * amt, amt]
            else:
                st[0] += 1
                st[1] += amt
                st[2] += amt * amt
                if amt > st[3]:
                    st[3] = amt
        if tx.country is not None:
            self.u_home[u] = _tally(self.u_country, self.u_home[u], self.u_home_n, u, tx.country)
        self.u_ntx[u] += 1
        self.u_amount[u] += amt
        # recent activity: a transaction counts toward recent users by how long its user had been idle
        active = 1.0 if self.u_ntx[u] == 1 else 1.0 - components.decay(ts - last)
        self.u_recent_tx[u], self.u_recent_users[u] = components.fold(self.u_recent_tx[u], self.u_recent_users[u],
                                                                      last, 1.0, active, ts)
        if self.u_fraud_tx[u]:  # a user's share of fraud changes with each transaction
            self._update_user(u)
        root = self.find(unode)
        c = self.comp[root]
        assert c is not None
        c.tx += 1
        c.amount += amt
        c.add_recent(ts, active)
        d = self.u_first_device[u]
        if d >= 0:
            self.opened_on[d].add_recent(ts, active)
        self.txs.add(tx.transaction_id, u, ts, touched, v)
        self.n_tx += 1
        if seq is not None and seq > self.seq:
            self.seq = seq
        if tx.is_fraud is not None:  # queue_label(Label("transaction", id, value, known, "file")), inlined
            known = tx.labelled_at if tx.labelled_at is not None else ts + self.label_delay_ms
            if reveal and known <= self.clock:
                self._reveal("transaction", tx.transaction_id, str(tx.is_fraud), "file", tx.fraud_type, int(known))
            else:
                self._pseq += 1
                heapq.heappush(self.pending, (int(known), self._pseq, "transaction", tx.transaction_id,
                                              str(tx.is_fraud), "file", tx.fraud_type))

    @staticmethod
    def _decline(table: list[array[int] | None], i: int, ts: int, now: int) -> None:
        times = table[i]
        if times is None:
            table[i] = new_times(ts)
        else:
            push_time(times, ts, now)

    def _record_time(self, u: int, ts: int, amt: float, grp: str) -> None:
        """Keep the user's transaction times sorted, with cumulative amounts and amounts per currency group.

        While all of a user's transactions are in the base currency group, its times and the group's are the
        same array (``u_times[u] is u_gt[u]``); a transaction in another group gives the user its own copy."""
        times = self.u_times[u]
        base = grp == self.base_currency
        g = self.group_times(u, grp)
        if g is None and base and not times:  # the user's first transaction, in the base group: share times
            times.append(ts)
            self.u_gt[u], self.u_gc[u], self.u_ga[u] = times, array("d", (amt,)), array("d", (amt,))
            return
        if not base and times is self.u_gt[u]:  # a second group: the user's times part from the base group's
            times = self.u_times[u] = array("q", times)
        if g is None or g[0] is not times:
            if not times or ts >= times[-1]:
                times.append(ts)
            else:
                insort(times, ts)
            if len(times) > 512 and times[0] < ts - WINDOW_MS:
                del times[:bisect_left(times, ts - WINDOW_MS)]
        if g is None:
            g = (new_times(ts), array("d", (amt,)), array("d", (amt,)))
            if base:
                self.u_gt[u], self.u_gc[u], self.u_ga[u] = g
            else:
                self.u_gother[u, grp] = g
            return
        gt, gc, ga = g
        in_order = ts >= gt[-1]
        if in_order:
            gt.append(ts)
            gc.append(gc[-1] + amt)
            ga.append(amt)
        else:  # out of order (live traffic): insert and shift the sums after it
            i = bisect_left(gt, ts)
            gt.insert(i, ts)
            gc.insert(i, (gc[i - 1] if i else 0.0) + amt)
            ga.insert(i, amt)
            for k in range(i + 1, len(gc)):
                gc[k] += amt
        cut = 0
        if len(gt) > 512 and gt[0] < ts - WINDOW_MS:
            cut = bisect_left(gt, ts - WINDOW_MS)
            del gt[:cut], gc[:cut], ga[:cut]
        if len(ga) > LONG_RUN or cut:  # a long run: its window maxima from a SuffixMax, kept in step
            m = SuffixMax.follow(self.u_gmax.get((u, grp)), gt, ga, ts, amt, in_order,
                                 ts - WINDOW_MS if cut else None)
            if m is None:
                self.u_gmax.pop((u, grp), None)
            else:
                self.u_gmax[u, grp] = m

    def group_times(self, u: int, grp: str) -> tuple[array[int], array[float], array[float]] | None:
        """User ``u``'s transaction times, cumulative amounts and amounts in currency group ``grp``, sorted by
        time (the last 30 days at least); None before the user's first transaction in the group."""
        if grp == self.base_currency:
            gt, gc, ga = self.u_gt[u], self.u_gc[u], self.u_ga[u]
            return None if gt is None or gc is None or ga is None else (gt, gc, ga)
        return self.u_gother.get((u, grp))

    def amount_stats(self, u: int, grp: str) -> tuple[float, float, float, float] | None:
        """User ``u``'s amounts in currency group ``grp`` over all history: (count, sum, sum of squares,
        maximum); None before the user's first transaction in the group."""
        if grp == self.base_currency:
            n = self.u_an[u]
            return (n, self.u_asum[u], self.u_asq[u], self.u_amax[u]) if n else None
        st = self.u_aother.get((u, grp))
        return None if st is None else (st[0], st[1], st[2], st[3])

    # ------------------------------------------------------------------ labels
    def queue_label(self, label: Label, default_known_at: int | None = None) -> None:
        """Reveal ``label`` once event time reaches its ``known_at`` (or ``default_known_at``)."""
        known = label.known_at if label.known_at is not None else default_known_at
        if known is None and label.subject == "transaction":
            i = self.txs.find(label.subject_id)
            known = int(self.txs.ts[i] + self.label_delay_ms) if i is not None else int(self.clock)
        if known is None or known <= self.clock:
            self._reveal(label.subject, label.subject_id, label.value, label.source, label.fraud_type,
                         self._now() if known is None else int(known))
            return
        self._pseq += 1
        heapq.heappush(self.pending, (int(known), self._pseq, label.subject, label.subject_id, label.value,
                                      label.source, label.fraud_type))

    def defer_label(self, label: Label) -> None:
        """Queue ``label`` for :meth:`reveal_all`, at its ``known_at`` or the label delay after its transaction."""
        known = label.known_at
        if known is None and label.subject == "transaction":
            i = self.txs.find(label.subject_id)
            known = (self.txs.ts[i] + self.label_delay_ms) if i is not None else None
        self._pseq += 1
        heapq.heappush(self.pending, (int(known if known is not None else self._now()), self._pseq, label.subject,
                                      label.subject_id, label.value, label.source, label.fraud_type))

    def _now(self) -> int:
        return int(self.clock) if self.clock != -math.inf else 0

    def apply_label_now(self, label: Label) -> None:
        """Live feedback: the label is known from this moment."""
        self._reveal(label.subject, label.subject_id, label.value, label.source, label.fraud_type, self._now())

    def reveal_all(self) -> None:
        """Make every pending label known (a serving process rebuilt from history knows them all); each is
        dated by its own ``known_at`` when that has passed, else now."""
        now = self._now()
        while self.pending:
            known, order, kind, sid, value, src, ftype = heapq.heappop(self.pending)
            self._reveal(kind, sid, value, src, ftype, min(int(known), now), order)

    def forget_transactions(self) -> None:
        """Let the transaction log go (about 90 bytes a transaction): it serves only labels that name a
        transaction, which this engine can then no longer take. For an engine read once more after
        :meth:`reveal_all` and then dropped (``train``'s account model)."""
        self.txs = TxLog()

    def _reveal(self, kind: str, sid: str, value: str, source: str, fraud_type: str | None = None,
                when: int | None = None, order: int | None = None) -> None:
        """Make a label known at ``when``. Between two labels of one subject, the stronger source holds, and of
        one source the one that came in later (``order``: the engine took labels in the store's order), even
        when it is dated earlier: as the store, the pages and a worker that took them live read them. A label
        revealed as it comes in takes the next number here; a queued one took it when queued."""
        rank = _SOURCE_RANK.get(source, 0)
        self._order += 1
        if order is None:
            self._pseq += 1
            order = self._pseq
        when = self._now() if when is None else when
        if kind == "transaction":
            txs = self.txs
            i = txs.find(sid)
            if i is None:
                return
            old = txs.label(i)
            if old is not None and (old[0], old[2]) > (rank, order):
                return
            is_fraud = value == "1"
            if not is_fraud:
                fraud_type = None
            if old is not None and old[1] == value and old[3] == fraud_type:
                txs.set_label(i, rank, value, order, fraud_type, old[4])
                return
            u, ts, touched, v = txs.record(i)
            if old is not None and old[1] == "1":
                self._blame(u, ts, touched, v, old[3], old[4], -1, False)
            txs.set_label(i, rank, value, order, fraud_type, when if is_fraud else -1)
            if is_fraud:
                self._blame(u, ts, touched, v, fraud_type, when, +1, old is None)
            elif old is None:  # the transaction's first label: one more label known at its identifiers
                for e in touched:
                    self._reveals(e).add(when, 1, 0)
            self._update_user(u)
        else:
            u2 = self.user_ix.get(sid)
            if u2 is None:
                u2 = self._user(sid, self._now())
            old_u = self.user_label.get(u2)
            if old_u is not None and (old_u[0], old_u[2]) > (rank, order):
                return
            self.user_label[u2] = (rank, value, order)
            self.u_fraudster[u2] = value in semantics.FRAUD_USER_LABELS
            self._update_user(u2)

    def _reveals(self, e: int) -> Reveals:
        rv = self.e_rev[e]
        if rv is None:
            rv = self.e_rev[e] = Reveals()
        return rv

    def _blame(self, u: int, ts: int, touched: tuple[int, ...], v: int, fraud_type: str | None, when: int,
               sign: int, first_label: bool) -> None:
        """Count (``sign`` +1) or retract (-1) one confirmed fraud known at ``when``: at the user (or, for a
        transfer to ``v`` >= 0, at its receiver), at the identifiers its type blames (``first_label``: the
        transaction's first label, known at all of them), at the user's component, and for a compromised
        card, at the merchants it paid at before (common point of purchase)."""
        self.u_fraud_tx[u] += sign
        if fraud_type in semantics.USER_AT_FAULT:
            self.u_fp_tx[u] += sign
        elif fraud_type in semantics.USER_IS_VICTIM or v >= 0:  # a fraudulent transfer's payer is its victim
            self.u_vt_tx[u] += sign
        if v >= 0 and semantics.receiver_at_fault(fraud_type):
            self.u_rx_fraud[v] += sign
            self._update_user(v)
        c = self.comp[self.find(self.u_node[u])]
        assert c is not None
        c.fraud_tx += sign
        e_type = self.e_type
        for e in touched:
            blamed = semantics.blames(fraud_type, e_type[e])
            if sign < 0:
                if blamed:
                    self._reveals(e).retract_fraud(when)
                continue
            if first_label or blamed:
                self._reveals(e).add(when, 1 if first_label else 0, 1 if blamed else 0)
            if not blamed:
                continue
            if sign > 0 and e_type[e] == "card" and semantics.compromises_card(fraud_type) and \
                    e not in self.compromised:
                self.compromised[e] = ts
                for m in self.cards[e].merchants_between(ts - CPP_LOOKBACK_MS, ts):
                    marks = self.m_cpp.get(m)
                    if marks is None:
                        self.m_cpp[m] = new_times(when)
                    else:
                        push_time(marks, when, when)

    def _update_user(self, u: int) -> None:
        """Known fraud and victim status by :func:`graphfraud.labels.known_fraud_user`."""
        lab = self.user_label.get(u)
        value = lab[1] if lab is not None else None
        now = semantics.known_fraud_user(value, n_tx=self.u_ntx[u], n_fraud=self.u_fraud_tx[u],
                                         n_first_party=self.u_fp_tx[u], n_victim=self.u_vt_tx[u],
                                         n_received=self.u_rx_fraud[u])
        self.u_victim[u] = semantics.victim_user(value, known_fraud=now, n_fraud=self.u_fraud_tx[u])
        if now == self.u_fraud[u]:
            return
        self.u_fraud[u] = now
        if self.flows is not None:
            self.flows.set_fraud(u, now)
        c = self.comp[self.find(self.u_node[u])]
        assert c is not None
        c.fraud_users += 1 if now else -1
        for e in self.u_ents[u]:
            fr = self.e_fraud[e]
            if now:
                if fr is None:
                    self.e_fraud[e] = {u}
                else:
                    fr.add(u)
            elif fr is not None:
                fr.discard(u)

    def saw(self, seq: int) -> None:
        """The store's events up to sequence number ``seq`` are in this engine (catch-up resumes after it)."""
        if seq > self.seq:
            self.seq = seq

    def knows_transaction(self, transaction_id: str) -> bool:
        """True once a transaction with this id was applied."""
        return transaction_id in self.txs
