"""Money in the investigator pages: the suspects queue, an account's risk and money, a ring's money flow.

The routes join the pages' blueprint (``pagekit.bp``, imported by :mod:`webui.pages`), so they
share its sign-in, CSRF, masking (every value a template prints leaves through :mod:`webui.masking`) and
error pages. Ranking accounts is :mod:`webui.risk`'s: one ranking per worker, kept per account model version
and store sequence.
"""
from __future__ import annotations

from typing import Any

from flask import current_app, render_template, request

from graphfraud.errors import GraphFraudError, ModelNotReady

from . import risk, uiauth
from .pagekit import _int_arg, bp, fmt_ts, store, user_label
from .uiauth import login_required


@bp.get("/suspects")
@login_required
def suspects() -> Any:
    """The suspects queue: accounts ranked by the account model (``graphfraud suspects``), a page at a time."""
    cfg = current_app.config
    per_page = int(cfg["UI_SUSPECTS_PAGE"])
    known = request.args.get("known", "all")
    if known not in ("all", "new", "known"):
        known = "all"
    min_score = request.args.get("min_score", type=float)
    if min_score is not None and not 0.0 <= min_score <= 1.0:  # NaN and infinities too
        min_score = None
    try:
        ranking, refreshing = risk.cache_of(current_app).get(current_app.extensions["graphfraud"].get_scorer(),
                                                             uiauth.store(), int(cfg["UI_SUSPECTS_LIMIT"]),
                                                             float(cfg["UI_SUSPECTS_REFRESH"]))
    except ModelNotReady as e:  # no account model (how to make one), or the engine is not loaded yet
        return render_template("suspects.html", error=e.message, error_role="no-model" if isinstance(
            e, risk.NoAccountModel) else "no-engine", rows=[], page=1, pages=1, n=0, known=known, ranking=None,
            refreshing=False, args=request.args)
    present = present_users([row["user_id"] for row in ranking.rows])
    rows = [row for row in ranking.rows if row["user_id"] in present]
    if known != "all":
        rows = [row for row in rows if row["known_fraud"] == (known == "known")]
    if min_score is not None:
        rows = [row for row in rows if row["score"] >= min_score]
    pages = max(1, -(-len(rows) // per_page))
    page = _int_arg("page", 1, 1, pages)
    shown = rows[(page - 1) * per_page:page * per_page]
    labels = {row["user_id"]: user_label(row["user_id"]) for row in shown}
    return render_template("suspects.html", error=None, rows=shown, page=page, pages=pages, n=len(rows),
                           known=known, ranking=ranking, refreshing=refreshing, labels=labels, args=request.args,
                           computed=fmt_ts(int(ranking.computed_at * 1000)))


def present_users(user_ids: list[str]) -> set[str]:
    """The accounts of a ranking the worker's engine still holds (an erased user leaves the queue at once)."""
    sc = current_app.extensions["graphfraud"].scorer
    if sc is None:
        return set(user_ids)
    index = sc.engine.user_ix
    return {u for u in user_ids if u in index}


def engine_money(user_id: str) -> dict[str, Any] | None:
    """An account's money summary from the worker's engine (exposure to known fraud included), or ``None``
    when the engine is loading or busy (a ranking holds it)."""
    sc = current_app.extensions["graphfraud"].scorer
    if sc is None or not sc.lock.acquire(timeout=1.0):
        return None
    try:
        sc.catch_up(force=False)
        if user_id not in sc.engine.user_ix:
            return None
        return risk.money_summary(sc.engine, user_id)
    finally:
        sc.lock.release()


def partners(user_id: str, limit: int = 1000) -> dict[str, Any]:
    """A user's transfer partners from the store, most recent first (both ways, one row per direction)."""
    rows = store().transfers_of(user_id, limit + 1)
    out = []
    for r in rows[:limit]:
        sent = r["payer"] == user_id
        out.append({"partner": r["payee"] if sent else r["payer"], "direction": "sent" if sent else "received",
                    "n": r["n"], "amount": round(float(r["amount"] or 0), 2), "first_seen": r["first_seen"],
                    "last_seen": r["last_seen"]})
    return {"rows": out, "truncated": len(rows) > limit}


def account(user_id: str) -> dict[str, Any]:
    """What an account's page shows beside its network: ``money`` (:func:`engine_money`), its row of the
    worker's ranking (``suspect``, with its ``rank``) and the ``ranking`` itself; with no ranking yet, one is
    started in the background so the next view (and the queue) has it."""
    cache = risk.cache_of(current_app)
    ranking = cache.ranking
    sc = current_app.extensions["graphfraud"].scorer
    if ranking is None and sc is not None:
        try:
            if risk.account_model_version(uiauth.store()) is not None:
                cache.refresh_in_background(sc, uiauth.store(), int(current_app.config["UI_SUSPECTS_LIMIT"]))
        except GraphFraudError:
            pass
    suspect = None
    if ranking is not None and user_id in ranking.positions:
        suspect = dict(ranking.rows[ranking.positions[user_id]])
    elif ranking is not None and sc is not None and sc.lock.acquire(timeout=1.0):
        # below the kept ranking: its own score, as the API gives it (not while a ranking holds the engine)
        try:
            got = risk.user_risk(sc, uiauth.store(), user_id)
            suspect = {"score": got["score"], "reasons": got["reasons"], "known_fraud": got["known_fraud"],
                       "rank": None}
        except GraphFraudError:  # not in the graph, or no account model
            pass
        finally:
            sc.lock.release()
    return {"money": engine_money(user_id), "suspect": suspect, "ranking": ranking}


def ring_flow(st: Any, users: list[str]) -> dict[str, Any]:
    """A ring's money flow: the transfers among its members (oldest first, at most ``UI_FLOW_LIMIT``), the
    same summed per payer and payee, and the total."""
    limit = int(current_app.config["UI_FLOW_LIMIT"])
    found = st.transfers_among(users, limit + 1)
    transfers = found[:limit]
    return {"transfers": transfers, "truncated": len(found) > limit, "limit": limit, "pairs": flow_pairs(transfers),
            "total": sum(float(t.get("amount") or 0) for t in transfers),
            "currencies": sorted({t["currency"] for t in transfers if t.get("currency")})}


def flow_pairs(transfers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Single transfers summed per payer and payee (``n``, ``amount``, ``first_seen``, ``last_seen``), the
    largest amounts first."""
    pairs: dict[tuple[str, str], dict[str, Any]] = {}
    for t in transfers:
        k = (t["payer"], t["payee"])
        p = pairs.get(k)
        if p is None:
            p = pairs[k] = {"payer": k[0], "payee": k[1], "n": 0, "amount": 0.0, "first_seen": t["ts"],
                            "last_seen": t["ts"]}
        p["n"] += 1
        p["amount"] += float(t.get("amount") or 0.0)
        p["first_seen"] = min(p["first_seen"], t["ts"])
        p["last_seen"] = max(p["last_seen"], t["ts"])
    return sorted(pairs.values(), key=lambda p: (-p["amount"], p["payer"], p["payee"]))
