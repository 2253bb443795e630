"""Account risk for the API and the pages: one account's risk with its money summary, and the suspects queue.

Both read the serving worker's :class:`~graphfraud.scoring.Scorer` engine under its lock (the engine is
what scores transactions, so an account's risk is as of the same data), through
:func:`graphfraud.suspects.rank_suspects`, the function ``graphfraud suspects`` calls: the same score,
reasons and ring id.

The queue ranks every account, which costs seconds on big stores and holds the engine meanwhile. So a
worker keeps one ranking in memory (:class:`SuspectsCache`), keyed by the account model version and the
store's sequence number, and recomputes it only when that key changed *and* the ranking is older than
``UI_SUSPECTS_REFRESH`` seconds; a page served meanwhile shows the older ranking and says so, and the new one
is computed in a background thread (one at a time). Nothing of it is written anywhere: an erased user leaves
the ranking when the worker's engine drops it (rows of accounts the engine no longer holds are not shown).
"""
from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from graphfraud.errors import ModelNotReady, NotFound
from graphfraud.storage.roles import GraphStore

log = logging.getLogger("graphfraud.webui")


class NoAccountModel(ModelNotReady):
    """No account model has been trained: ``graphfraud train`` (with accounts labelled) makes one."""

    code = "no_account_model"


def account_model_version(store: GraphStore) -> str | None:
    """The version of the account model in use (what ``graphfraud suspects`` ranks with), or ``None``."""
    from graphfraud.suspects import ACCOUNTS_STATUS

    found = [m["version"] for m in store.list_models() if m.get("status") == ACCOUNTS_STATUS]
    return found[-1] if found else None


def _rank(store: GraphStore, engine: Any, **kw: Any) -> list[Any]:
    from graphfraud.suspects import rank_suspects

    try:
        return rank_suspects(store, engine, **kw)
    except NoAccountModel:
        raise
    except ModelNotReady as e:
        raise NoAccountModel(f"{e.message} Until then no account has a risk score.",
                             ["account model: none trained (run `graphfraud train`)"]) from None


def _amount(v: float) -> float:
    return round(float(v), 2) if v == v and not math.isinf(v) else 0.0


def money_summary(engine: Any, user_id: str) -> dict[str, Any]:
    """An account's money as the engine knows it: transfers sent and received (count, total, partners, first
    and last time) and its exposure to accounts known as fraud (:class:`graphfraud.graph.flows.Account`)."""
    flows = getattr(engine, "flows", None)
    acc = flows.accounts.get(engine.user_ix[user_id]) if flows is not None else None

    def side(s: Any) -> dict[str, Any]:
        if s is None or not s.n:
            return {"n": 0, "amount": 0.0, "partners": 0, "first_seen": None, "last_seen": None}
        return {"n": int(s.n), "amount": _amount(s.amount), "partners": len(s.partners),
                "first_seen": int(s.first_ts) if s.first_ts >= 0 else None,
                "last_seen": int(s.last_ts) if s.last_ts >= 0 else None}

    out = side(acc.out if acc else None)
    inn = side(acc.inn if acc else None)
    partners = len(set(acc.out.partners) | set(acc.inn.partners)) if acc else 0
    exposure = {"received_from_known_fraud": _amount(acc.fraud_in) if acc else 0.0,
                "known_fraud_senders": int(acc.fraud_senders) if acc else 0,
                "received_from_paid_by_known_fraud": _amount(acc.hop2_in) if acc else 0.0,
                "sent_to_known_fraud": _amount(acc.fraud_out) if acc else 0.0,
                "known_fraud_recipients": int(acc.fraud_recipients) if acc else 0}
    return {"transfers_out": out, "transfers_in": inn, "partners": partners, "exposure": exposure}


def user_risk(scorer: Any, store: GraphStore, user_id: str) -> dict[str, Any]:
    """One account's risk (score, reasons, ring, known fraud: as ``graphfraud suspects`` gives them) and its
    money summary, as of the worker's engine after catching up with the store.

    Raises :class:`~graphfraud.errors.NotFound` (``user_not_found``) for an account the graph does not hold and
    :class:`NoAccountModel` when no account model has been trained.
    """
    with scorer.lock:
        scorer.catch_up(force=False)
        engine = scorer.engine
        if user_id not in engine.user_ix:
            raise NotFound(f"There is no user or account {user_id[:80]!r} in the graph.",
                           [f"user_id: {user_id[:80]!r} not found"], code="user_not_found")
        ranked = _rank(store, engine, users=[user_id])
        money = money_summary(engine, user_id)
        seq, clock = int(engine.seq), engine.clock
    s = ranked[0]
    return {"user_id": s.user_id, "score": round(float(s.score), 6), "reasons": list(s.reasons),
            "ring_id": s.ring_id, "known_fraud": bool(s.known), "model_version": account_model_version(store),
            "as_of": {"seq": seq, "time": int(clock) if clock not in (None, -math.inf) else None}, "money": money}


# ---------------------------------------------------------------- the suspects queue
@dataclass
class Ranking:
    """One computed ranking: the top accounts (``Suspect.to_dict()`` rows), what it covers and when."""

    key: tuple[str | None, int]
    rows: list[dict[str, Any]]
    n_accounts: int
    computed_at: float
    seconds: float
    positions: dict[str, int] = field(default_factory=dict)  # user id -> its row (each row has its "rank")

    @property
    def model_version(self) -> str | None:
        return self.key[0]

    @property
    def seq(self) -> int:
        return self.key[1]


class SuspectsCache:
    """A worker's ranking of accounts (see the module's docstring); one per app."""

    def __init__(self) -> None:
        self.ranking: Ranking | None = None
        self.error: str | None = None
        self._lock = threading.Lock()  # one computation at a time
        self._thread: threading.Thread | None = None

    def get(self, scorer: Any, store: GraphStore, limit: int, min_age: float) -> tuple[Ranking, bool]:
        """The ranking to show and whether a newer one is being computed (the store changed since).

        Raises :class:`NoAccountModel` when there is no account model.
        """
        version = account_model_version(store)
        if version is None:
            raise NoAccountModel("No account model yet: label some accounts (`graphfraud label` with "
                                 "user_id,user_label) and run `graphfraud train`.",
                                 ["account model: none trained (run `graphfraud train`)"])
        key = (version, int(store.last_seq()))
        r = self.ranking
        if r is None or (r.model_version != version and not self.refreshing()):
            return self.compute(scorer, store, limit), False  # nothing to show yet, or scores of another model
        if r.key == key:
            return r, False
        if time.time() - r.computed_at < min_age and r.model_version == version:
            return r, False  # recent enough: the store changes with every score
        self.refresh_in_background(scorer, store, limit)
        return r, True

    def refreshing(self) -> bool:
        t = self._thread
        return t is not None and t.is_alive()

    def refresh_in_background(self, scorer: Any, store: GraphStore, limit: int) -> None:
        if self.refreshing():
            return

        def run() -> None:
            try:
                self.compute(scorer, store, limit)
            except Exception:  # the queue keeps the older ranking; the next view tries again
                log.exception("ranking the suspects failed")

        self._thread = threading.Thread(target=run, name="graphfraud-suspects", daemon=True)
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        t = self._thread
        if t is not None:
            t.join(timeout)

    def compute(self, scorer: Any, store: GraphStore, limit: int) -> Ranking:
        with self._lock:
            t0 = time.perf_counter()
            seq = int(store.last_seq())  # what the ranking covers at least
            with scorer.lock:
                scorer.catch_up(force=False)
                engine = scorer.engine
                version = account_model_version(store)
                ranked = _rank(store, engine, top=max(1, int(limit)), top_new=max(1, int(limit)))
                n_accounts = len(engine.u_name)
            rows = [dict(s.to_dict(), rank=s.rank) for s in ranked]
            r = Ranking((version, seq), rows, n_accounts, time.time(), time.perf_counter() - t0,
                        {row["user_id"]: i for i, row in enumerate(rows)})
            self.ranking = r
            log.info("ranked %d accounts (top %d kept) in %.1f s", n_accounts, len(rows), r.seconds)
            return r


def cache_of(app: Any) -> SuspectsCache:
    c = app.extensions.get("graphfraud_suspects")
    if c is None:
        c = app.extensions["graphfraud_suspects"] = SuspectsCache()
    return c  # type: ignore[no-any-return]
