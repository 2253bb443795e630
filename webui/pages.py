"""The investigator pages: sign-in, dashboard, rings queue, ring / entity / transaction views, search and
cases, plus the small JSON endpoints (``/ui/...``, session auth) that the pages' scripts fetch.

Safety, from the first page on: templates autoescape every value; no page has an inline script, style or
event handler (the app's Content-Security-Policy allows neither), data reaches scripts through ``data-``
attributes or JSON fetched from here, and the scripts put data-derived text in the DOM with
``textContent`` only (vis-network tooltips included). Every POST form carries a CSRF token.

The network views are drawn by vis-network (the copy pyvis ships, served from ``static/vendor``) from
the graph JSON built here: nodes typed and marked (confirmed fraud, suspicious, hub), edges with counts
and first/last seen, identifiers with more users than ``UI_HUB_LIMIT`` folded into one hub node.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, abort, current_app, flash, redirect, render_template, request, url_for
from markupsafe import escape
from werkzeug.exceptions import HTTPException

from graphfraud import settings
from graphfraud.errors import GraphFraudError, NotFound, ValidationError
from graphfraud.labels import FRAUD_USER_LABELS
from graphfraud.neighbourhood import in_window, other_party, walk
from graphfraud.ringrefresh import ensure_rings, ensure_rings_at, run_ring_detection
from graphfraud.schema import BUILTIN_TYPES, CANONICAL, ENTITY_COLUMNS, Label, check_name, redact, stored_identifier
from graphfraud.storage.base import load_record

from . import masking, money, uiauth
from .pagekit import _int_arg, fmt_ts, store, tx_fraud, user_label
from .pagekit import bp as bp  # the blueprint create_app registers (the routes below are on it)
from .uiauth import admin_required, current_user, login_required

log = logging.getLogger("graphfraud.webui")

CASE_STATUSES = {"open": "Open", "in_review": "In review", "confirmed": "Confirmed fraud",
                 "dismissed": "Dismissed"}
CASE_KINDS = ("ring", "user", "transaction", "entity")
RINGS_PAGE = 100  # rings a page of /rings
CASES_PAGE = 100  # cases a page of /cases, newest change first
CASES_READ = 1_000_000  # cases /cases reads
RINGS_READ = 10_000  # rings /rings filters and sorts: the registry's best by score (~0.1 ms a ring to parse)
COLUMN_OF_TYPE = {t: c for c, t in ENTITY_COLUMNS.items()}
DAY_MS = 86_400_000
#: The largest row id a store holds (a signed 64-bit integer): a larger number in an address is no page (404),
#: never a number the store cannot take (SQLite raises OverflowError past it)
MAX_ROW_ID = 2**63 - 1


# ---------------------------------------------------------------- set-up
@bp.record_once
def _setup(state: Any) -> None:
    app: Flask = state.app
    for s in settings.SETTINGS:  # create_app has them all; an app built otherwise gets the defaults
        app.config.setdefault(s.name.upper(), s.default)
    if not app.config.get("SESSION_COOKIE_SAMESITE"):
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    app.permanent_session_lifetime = float(app.config["SESSION_MAX_AGE"])  # the stored session decides
    app.extensions["graphfraud_html_errors"] = render_error
    masking.install(app)  # every value a template prints leaves through the masker
    app.jinja_env.globals.update(csrf_token=uiauth.csrf_token, current_user=current_user, fmt_ts=fmt_ts,
                                 CASE_STATUSES=CASE_STATUSES, entity_url=entity_url)
    auto = app.config["UI_AUTO_RINGS"]
    if auto is None:
        auto = not app.config.get("TESTING")
    if auto:
        threading.Thread(target=ensure_rings_at, args=(str(app.config["STORE"]),), name="graphfraud-ui-rings",
                         daemon=True).start()


@bp.before_request
def _before() -> None:
    uiauth.check_csrf()


@bp.after_request
def _no_store(resp: Response) -> Response:
    resp.headers.setdefault("Cache-Control", "no-store")
    return resp


def render_error(status: int, exc: BaseException) -> Response:
    """HTML errors for pages, the JSON error shape for the ``/ui/`` endpoints the scripts call."""
    if request.path.startswith("/ui/"):
        from .errors import response_for

        return response_for(exc)
    if isinstance(exc, HTTPException) and exc.description == "csrf":
        message = "The form had expired or came from elsewhere; reload the page and try again."
    elif isinstance(exc, GraphFraudError):
        message = exc.message
    else:
        message = {401: "Sign in first.", 403: "Your role cannot do this; ask an admin.",
                   404: "There is nothing at this address.", 405: "This page does not accept that method.",
                   429: "Too many attempts; wait a few minutes and try again."}.get(status, "The request failed.")
    return Response(render_template("error.html", status=status, message=message), status=status,
                    mimetype="text/html")


# ---------------------------------------------------------------- small helpers
def entity_url(node_type: str, node_id: str, **kw: Any) -> str:
    """The page of an identifier, given its real id (a masked one is addressed by its token)."""
    return url_for("pages.entity", node_type=node_type, node_id=node_key(node_type, node_id), **kw)


def _date_ms(name: str, end: bool = False) -> int | None:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    try:
        d = datetime.strptime(raw[:10], "%Y-%m-%d").replace(tzinfo=timezone.utc)
    except ValueError:
        abort(400)
    return int(d.timestamp() * 1000) + (DAY_MS - 1 if end else 0)


def _check_id(value: str) -> str:
    if not value or len(value) > int(current_app.config["MAX_ID_LENGTH"]) or any(ord(c) < 32 for c in value):
        abort(404)
    return value


def _check_type(node_type: str) -> str:
    try:
        check_name(node_type)
    except GraphFraudError:
        abort(404)
    return node_type


def _safe_next(target: str | None) -> str:
    """Only same-site paths are followed after sign-in (no open redirect); a control character (a newline
    cannot go into a header) sends the user to the dashboard too."""
    if not target or any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return url_for("pages.dashboard")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("pages.dashboard")
    return target


def _json(obj: Any, status: int = 200) -> Response:
    """Every ``/ui/`` JSON body leaves through the masker (masking.Masker.out)."""
    return Response(json.dumps(masking.masker().out(obj), ensure_ascii=False, default=str, separators=(",", ":")),
                    status=status, mimetype="application/json")


def show_id(node_type: str, node_id: str) -> str:
    return masking.masker().shown(node_type, node_id)


def node_key(node_type: str, node_id: str) -> str:
    """The id the browser uses for a node: the real id, or its token when the type is masked."""
    return masking.masker().key(node_type, node_id)


def resolve(node_type: str, node_id: str) -> str:
    """The real id behind a node id from the browser: a token (``~...``) of this type is read back; other
    ids are taken as people write them (an upper-case email, a card number) and turned into their stored,
    possibly hashed, form."""
    m = masking.masker()
    if node_id.startswith("~"):
        real = m.untoken(node_type, node_id)
        if real is not None:
            m.note(node_type, real)
            return real
        if m.masks(node_type):
            raise NotFound(f"There is no {node_type} with that id in the graph.", code="entity_not_found")
    real = stored_identifier(node_type, node_id, current_app.config["PII_KEY"])
    m.note(node_type, real)
    return real


# ---------------------------------------------------------------- sign-in
@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error, status = None, 200
    if request.method == "POST":
        name = (request.form.get("username") or "").strip()[:128]
        password = request.form.get("password") or ""
        address = request.remote_addr or "?"
        if uiauth.login_blocked(name, address):
            error, status = "Too many failed attempts; wait a few minutes and try again.", 429
        else:
            user = uiauth.authenticate(name, password[:1024])
            if user is None:
                uiauth.login_failed(name, address)
                store().audit(name or "?", "login.fail", None, {"address": request.remote_addr})
                error, status = "Wrong user name or password.", 401
            else:
                uiauth.login_succeeded(name, address)
                uiauth.sign_in(user)
                store().audit(user["name"], "login", None, {"address": request.remote_addr})
                return redirect(_safe_next(request.args.get("next")))
    elif current_user() is not None:
        return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", error=error), status


@bp.post("/logout")
def logout() -> Any:
    user = current_user()
    if user:
        store().audit(user["name"], "logout")
    uiauth.sign_out()
    return redirect(url_for("pages.login"))


# ---------------------------------------------------------------- dashboard
@bp.get("/")
@login_required
def dashboard() -> Any:
    st = store()
    info = st.info()
    frame = st.decisions_frame(limit=50_000)
    mix: Counter[str] = Counter()
    rules: Counter[str] = Counter()
    bins = [0] * 20
    per_day: Counter[str] = Counter()
    for created, score, decision, body in zip(frame["created_at"], frame["score"], frame["decision"],
                                              frame["body"]):
        mix[str(decision)] += 1
        if score is not None and score == score:
            bins[min(19, max(0, int(float(score) * 20)))] += 1
        per_day[fmt_ts(created)[:10]] += 1
        try:
            for r in load_record(body).get("reasons", []):
                if not str(r.get("code", "")).startswith("model_"):
                    rules[str(r.get("code"))] += 1
        except (ValueError, AttributeError):
            pass
    top_rings = st.list_rings("active", 10)
    charts = {
        "volume": {"kind": "bars", "title": "Scored per day", "labels": sorted(per_day)[-30:],
                   "values": [per_day[d] for d in sorted(per_day)[-30:]]},
        "mix": {"kind": "bars", "title": "Decision mix", "labels": ["allow", "review", "block"],
                "values": [mix.get("allow", 0), mix.get("review", 0), mix.get("block", 0)]},
        "rules": {"kind": "hbars", "title": "Top rules", "labels": [k for k, _ in rules.most_common(8)],
                  "values": [v for _, v in rules.most_common(8)]},
        "scores": {"kind": "bars", "title": "Score distribution",
                   "labels": [f"{i / 20:.2f}" for i in range(20)], "values": bins},
        "rings": {"kind": "hbars", "title": "Top rings by score", "labels": [r["ring_id"] for r in top_rings],
                  "values": [round(float(r.get("score") or 0), 3) for r in top_rings]},
        "entities": {"kind": "hbars", "title": "Entities by type", "labels": list(info.get("entities", {})),
                     "values": list(info.get("entities", {}).values())},
    }
    return render_template("dashboard.html", info=info, charts=charts, top_rings=top_rings,
                           n_decisions=len(frame), masking=masking.masking_on(uiauth.store()),
                           mask_types=", ".join(t.strip() for t in str(current_app.config["MASK_TYPES"]).split(",")
                                                if t.strip()))


@bp.post("/settings/masking")
@admin_required
def set_masking() -> Any:
    on = request.form.get("mask_identifiers") == "1"
    store().set_meta(masking.MASK_META_KEY, "1" if on else "0")
    store().audit(current_user()["name"], "settings.masking", None, {"mask_identifiers": on})  # type: ignore[index]
    flash(f"Identifier masking for analysts is {'on' if on else 'off'}.")
    return redirect(url_for("pages.dashboard"))


# ---------------------------------------------------------------- rings
@bp.get("/rings")
@login_required
def rings() -> Any:
    st = store()
    ensure_rings(st, wait=25.0)
    status = request.args.get("status", "active")
    if status not in ("active", "merged", "dissolved", "all"):
        status = "active"
    sort = request.args.get("sort", "score")
    if sort not in ("score", "size", "last", "first", "fraud"):
        sort = "score"
    min_score = request.args.get("min_score", type=float)
    min_size = request.args.get("min_size", type=int)
    since, until = _date_ms("since"), _date_ms("until", end=True)
    found = st.list_rings(None if status == "all" else status, RINGS_READ)
    cases = {c["ref"]: c for c in st.list_cases(limit=CASES_READ) if c["kind"] == "ring"}
    case_status = request.args.get("case", "")
    out = []
    for r in found:
        if min_score is not None and float(r.get("score") or 0) < min_score:
            continue
        if min_size is not None and int(r.get("size") or 0) < min_size:
            continue
        if since is not None and int(r.get("last_activity") or 0) < since:
            continue
        if until is not None and int(r.get("first_activity") or 0) > until:
            continue
        c = cases.get(r["ring_id"])
        if case_status and (c["status"] if c else "none") != case_status:
            continue
        r["case"] = c
        out.append(r)
    key = {"score": lambda r: -float(r.get("score") or 0), "size": lambda r: -int(r.get("size") or 0),
           "last": lambda r: -int(r.get("last_activity") or 0), "first": lambda r: int(r.get("first_activity") or 0),
           "fraud": lambda r: -len(r.get("known_fraud_users") or [])}[sort]
    out.sort(key=key)
    pages = max(1, -(-len(out) // RINGS_PAGE))
    page = min(_int_arg("page", 1, 1, 1_000_000), pages)
    return render_template("rings.html", rings=out[(page - 1) * RINGS_PAGE:page * RINGS_PAGE], n=len(out),
                           capped=len(found) >= RINGS_READ, read=RINGS_READ, page=page, pages=pages,
                           args=request.args, status=status, sort=sort)


@bp.post("/rings/detect")
@admin_required
def rings_detect() -> Any:
    n = len(run_ring_detection(store()))
    store().audit(current_user()["name"], "rings.detect", None, {"rings": n})  # type: ignore[index]
    flash(f"Ring detection found {n} rings.")
    return redirect(url_for("pages.rings"))


@bp.get("/rings/<ring_id>")
@login_required
def ring(ring_id: str) -> Any:
    st = store()
    r = st.get_ring(_check_id(ring_id))
    cases = [c for c in st.list_cases(limit=CASES_READ) if c["kind"] == "ring" and c["ref"] == r["ring_id"]]
    labels = {u: user_label(u) for u in r.get("users", [])}
    shared = [{**s, "shown": show_id(str(s.get("type")), str(s.get("id")))} for s in r.get("shared_identifiers", [])
              if isinstance(s, dict)]
    return render_template("ring.html", ring=r, cases=cases, labels=labels, shared=shared,
                           flow=money.ring_flow(st, r.get("users", [])),
                           graph_src=url_for("pages.graph_ring", ring_id=r["ring_id"]))


# ---------------------------------------------------------------- entities, transactions, search
@bp.get("/entities/<node_type>/<path:node_id>")
@login_required
def entity(node_type: str, node_id: str) -> Any:
    node_type, node_id = _check_type(node_type), _check_id(node_id)
    real = resolve(node_type, node_id)
    st = store()
    n_links = st.count_links(node_type, real)
    txs = _transactions_of(node_type, real, 50)
    partners = money.partners(real) if node_type == "user" else {"rows": [], "truncated": False}
    if not n_links and not txs and not partners["rows"]:
        raise NotFound(f"There is no {node_type} with that id in the graph.", code="entity_not_found")
    ring_id = st.ring_of_users([real]).get(real) if node_type == "user" else None
    cases = [c for c in st.list_cases(limit=CASES_READ) if c["kind"] in ("user", "entity") and c["ref"] == f"{node_type}:{real}"]
    params: dict[str, Any] = {"via": request.args["via"]} if request.args.get("via") else {}
    params["hops"] = 2 if node_type == "user" else 1
    account = money.account(real) if node_type == "user" else {"money": None, "suspect": None, "ranking": None}
    return render_template("entity.html", node_type=node_type, shown=show_id(node_type, real), n_links=n_links,
                           txs=txs, ring_id=ring_id, cases=cases, partners=partners, **account,
                           label=user_label(real) if node_type == "user" else None, tx_fraud=tx_fraud,
                           case_ref="" if masking.masker().masks(node_type) else f"{node_type}:{real}",
                           graph_src=url_for("pages.graph_entity", node_type=node_type, node_id=node_key(node_type, real),
                                             **params))


def _transactions_of(node_type: str, node_id: str, limit: int) -> list[dict[str, Any]]:
    column = "user_id" if node_type == "user" else COLUMN_OF_TYPE.get(node_type, node_type)
    try:
        return list(store().transactions_of(column, node_id, limit))
    except GraphFraudError:
        return []


@bp.get("/transactions/<path:transaction_id>")
@login_required
def transaction(transaction_id: str) -> Any:
    st = store()
    tx = st.get_transaction(_check_id(transaction_id))
    if tx is None:
        raise NotFound("There is no transaction with that id.", code="transaction_not_found")
    decision = st.get_decision(tx["transaction_id"]) or {}
    ring_id = st.ring_of_users([tx["user_id"]]).get(tx["user_id"])
    hidden = {"transaction_id", "labels", "seq", "attributes"}
    # the extra identifiers (email, phone, address, ...) are listed, and linked, with the built-in ones
    extra = {k for k in tx if k not in CANONICAL and k not in hidden and k != "timestamp"}
    fields = [(k, v) for k, v in tx.items() if k not in hidden | extra and not isinstance(v, (dict, list))]
    entities = [(typ, tx.get(col)) for col, typ in ENTITY_COLUMNS.items() if tx.get(col)]
    entities += [(k, tx[k]) for k in sorted(extra) if isinstance(tx[k], str) and tx[k]]
    return render_template("transaction.html", tx=tx, fields=fields, decision=decision, ring_id=ring_id,
                           fraud=tx_fraud(tx), labels=tx.get("labels", []),
                           entities=[(t, v, show_id(t, v)) for t, v in entities],
                           attributes=tx.get("attributes") or {})


@bp.get("/search")
@login_required
def search() -> Any:
    q = (request.args.get("q") or "").strip()
    results: list[dict[str, str]] = []
    if q and len(q) <= int(current_app.config["MAX_ID_LENGTH"]) and not any(ord(c) < 32 for c in q):
        st = store()
        if st.get_transaction(q) is not None:
            results.append({"kind": "transaction", "url": url_for("pages.transaction", transaction_id=q)})
        if st.transactions_of("user_id", q, 1) or st.transfers_of(q, 1):  # or an account that only received
            results.append({"kind": "user", "url": entity_url("user", q)})
        try:
            st.get_ring(q)
            results.append({"kind": "ring", "url": url_for("pages.ring", ring_id=q)})
        except NotFound:
            pass
        for typ in st.info().get("entities", {}):
            stored = stored_identifier(typ, q, current_app.config["PII_KEY"])
            if typ != "user" and st.count_links(typ, stored):
                results.append({"kind": typ, "url": entity_url(typ, stored)})
        if len(results) == 1:
            return redirect(results[0]["url"])
    return render_template("search.html", q=q, results=results)


# ---------------------------------------------------------------- cases
@bp.get("/cases")
@login_required
def cases() -> Any:
    status = request.args.get("status") or None
    if status not in CASE_STATUSES:
        status = None
    listed = store().list_cases(status=status, limit=CASES_READ)  # cases are typed by people: few
    pages = max(1, -(-len(listed) // CASES_PAGE))
    page = min(_int_arg("page", 1, 1, 1_000_000), pages)
    listed = listed[(page - 1) * CASES_PAGE:page * CASES_PAGE]
    masking.masker().note_named(uiauth.store(), (c["title"] for c in listed))  # titles are typed by people
    return render_template("cases.html", cases=listed, status=status, page=page, pages=pages, args=request.args)


@bp.post("/cases")
@login_required
def case_create() -> Any:
    kind, ref = request.form.get("kind", ""), (request.form.get("ref") or "").strip()
    if kind not in CASE_KINDS or not ref or len(ref) > 600:
        abort(400)
    st = store()
    if kind == "ring":
        st.get_ring(ref)
    elif kind == "transaction" and st.get_transaction(ref) is None:
        raise NotFound("There is no transaction with that id.", code="transaction_not_found")
    elif kind in ("user", "entity"):
        _check_case_ref(st, kind, ref)
    title = (request.form.get("title") or (ref if kind in ("user", "entity") else f"{kind} {ref}")).strip()[:200]
    user = current_user()["name"]  # type: ignore[index]
    # one case at a time on a thing (a second tab, a double submit, two investigators at once)
    cid, created = st.create_case(kind, ref, title, user, assignee=_assignee(request.form.get("assignee")) or None)
    if not created:
        status = st.get_case(cid)["status"]
        flash(f"Case {cid} on this {kind} is {CASE_STATUSES[status].lower()} already; it is shown here.")
    return redirect(url_for("pages.case", case_id=cid))


@bp.get(f"/cases/<int(max={MAX_ROW_ID}):case_id>")
@login_required
def case(case_id: int) -> Any:
    st = store()
    c = st.get_case(case_id)
    masking.masker().note_named(uiauth.store(), [c["title"]])  # as the list does
    users = _case_users(c)
    labels = {u: user_label(u) for u in users[:200]}
    trail = st.audit_log(200, target=f"case:{case_id}")
    return render_template("case.html", case=c, labels=labels, trail=trail, ref_url=_ref_url(c),
                           users=[app_user["name"] for app_user in st.list_app_users()])


@bp.post(f"/cases/<int(max={MAX_ROW_ID}):case_id>")
@login_required
def case_update(case_id: int) -> Any:
    st = store()
    status = request.form.get("status") or None
    if status is not None and status not in CASE_STATUSES:
        abort(400)
    assignee = _assignee(request.form.get("assignee"))
    note = (request.form.get("note") or "").strip()[:5000] or None
    actor = current_user()["name"]  # type: ignore[index]
    # what the form showed: a field left as shown is no change, and a change applies only while the case
    # still is as shown (two investigators at once, a page left open while someone else decided)
    shown = {k: request.form[f"{k}_shown"] for k in ("status", "assignee") if f"{k}_shown" in request.form}
    expect = shown if len(shown) == 2 else None
    if expect is not None:
        status = None if status == expect["status"] else status
        assignee = None if assignee == expect["assignee"] else assignee
    if status in ("confirmed", "dismissed"):
        too_many = _too_many_to_label(st, st.get_case(case_id))
        if too_many:
            flash(too_many)
            status = None
    done = st.update_case(case_id, actor, status=status, assignee=assignee, note=note, expect=expect)
    for r in done["refused"]:
        now = CASE_STATUSES.get(r["now"], r["now"]) if r["field"] == "status" else (r["now"] or "nobody")
        flash(f"Case {r['case']} on the same thing is open; this one stays {now.lower()}: work there."
              if r["why"] == "open_elsewhere" else
              f"Your {r['field']} was not saved: someone changed it to {now} since the page was loaded. "
              "Look again and save again" + (" (your note was saved)." if note else "."))
    if done["status"] in ("confirmed", "dismissed"):
        n_users, n_tx, n_kept = label_case(st, st.get_case(case_id), done["status"] == "confirmed")
        st.audit(actor, "case.label", f"case:{case_id}", {"value": "fraud" if done["status"] == "confirmed"
                                                          else "legitimate", "users": n_users,
                                                          "transactions": n_tx, "kept": n_kept})
        flash(f"Labelled {n_users} users and {n_tx} transactions as "
              f"{'fraud' if done['status'] == 'confirmed' else 'legitimate'}."
              + (f" {n_kept} users labelled fraud before keep their labels (and their other transactions theirs); "
                 "an admin clears such a label with `graphfraud label` or POST /labels." if n_kept else ""))
    return redirect(url_for("pages.case", case_id=case_id))


#: The most users a case's decision labels from the page; an identifier shared by more is labelled by file.
CASE_LABEL_USERS = 500


def _too_many_to_label(st: Any, c: dict[str, Any]) -> str | None:
    """Why deciding this case from the page would not label every user it covers (an identifier shared by
    more than :data:`CASE_LABEL_USERS`), or ``None``."""
    typ, _, ident = str(c["ref"]).partition(":")
    if c["kind"] != "entity" or (n := st.count_links(typ, ident)) <= CASE_LABEL_USERS:
        return None
    return (f"The status was not changed: {n:,} users share this {typ}, and a decision here labels at most "
            f"{CASE_LABEL_USERS:,}. Label the ones meant with `graphfraud label` or POST /api/v1/labels.")


def _check_case_ref(st: Any, kind: str, ref: str) -> None:
    """A user or entity case names ``type:id`` of something the store holds (a 400 or 404 otherwise)."""
    typ, _, ident = ref.partition(":")
    known = {*BUILTIN_TYPES, *current_app.config["EXTRA_TYPES"],
             *(t.strip() for t in str(current_app.config["LINK_TYPES"]).split(","))}
    if not ident or typ not in known or (typ == "user") != (kind == "user"):
        want = "user:<user id>" if kind == "user" else "<type>:<id> with an identifier type (card, device, ...)"
        raise ValidationError(f"A {kind} case names {want}; {redact(ref)} is not one.", ["ref: not a reference"],
                              code="invalid_case_ref")
    exists = (st.transactions_of("user_id", ident, 1) or st.transfers_of(ident, 1)) if typ == "user" \
        else st.count_links(typ, ident)
    if not exists:
        raise NotFound(f"There is no {typ} with that id in the graph; open the case from its page.",
                       code="entity_not_found")


def _assignee(value: str | None) -> str | None:
    """A case's assignee from a form: an investigator account, ``""`` for nobody, ``None`` when not sent."""
    if value is None:
        return None
    name = value.strip()
    if name and uiauth.store().get_app_user(name) is None:
        raise ValidationError("The assignee must be an investigator account; choose one from the list.",
                              ["assignee: not an account"], code="invalid_assignee")
    return name


def _case_users(c: dict[str, Any]) -> list[str]:
    st = store()
    if c["kind"] == "ring":
        try:
            return list(st.get_ring(c["ref"]).get("users", []))
        except NotFound:
            return []
    if c["kind"] == "transaction":
        tx = st.get_transaction(c["ref"])
        return [tx["user_id"]] if tx else []
    typ, _, ident = str(c["ref"]).partition(":")
    if typ == "user":
        return [ident]
    return sorted({r["user_id"] for r in st.neighbours(typ, ident, CASE_LABEL_USERS)})


def _ref_url(c: dict[str, Any]) -> str | None:
    if c["kind"] == "ring":
        return url_for("pages.ring", ring_id=c["ref"])
    if c["kind"] == "transaction":
        return url_for("pages.transaction", transaction_id=c["ref"])
    typ, _, ident = str(c["ref"]).partition(":")
    return entity_url(typ, ident) if typ and ident else None


def label_case(st: Any, c: dict[str, Any], fraud: bool) -> tuple[int, int, int]:
    """Write investigator labels for the users (and their transactions) a decided case covers; returns
    ``(users, transactions, users left as they were)``.

    Dismissing a case says the case is not fraud, not that every label of its members was wrong: a member
    labelled fraud (a fraudster or mule label, or a transaction labelled fraud by a file, a chargeback or an
    investigator; for a transaction case, another of the user's transactions) keeps its labels, with its
    transactions; they are counted so the page can say so. A transaction case always decides its transaction."""
    now = int(time.time() * 1000)
    limit = int(current_app.config["UI_LABEL_TX_LIMIT"])
    if c["kind"] == "transaction":
        tx = st.get_transaction(c["ref"])
        txs_of = {tx["user_id"]: [tx]} if tx else {}
    else:
        txs_of = {u: st.transactions_of("user_id", u, limit) for u in _case_users(c)}
    kept = set()
    if not fraud:
        for u, txs in txs_of.items():
            seen = txs if c["kind"] != "transaction" else [
                t for t in st.transactions_of("user_id", u, limit) if t["transaction_id"] != c["ref"]]
            if user_label(u) in FRAUD_USER_LABELS or any(str(tx_fraud(t)) == "1" for t in seen):
                kept.add(u)
    users = [u for u in txs_of if u not in kept]
    labels = [Label("user", u, "fraudster" if fraud else "legitimate", now, "investigator") for u in users]
    tx_ids = [c["ref"]] if c["kind"] == "transaction" and txs_of else [
        t["transaction_id"] for u in users for t in txs_of[u]]
    labels += [Label("transaction", t, "1" if fraud else "0", now, "investigator") for t in tx_ids]
    st.add_labels(labels)
    return len(users), len(tx_ids), len(kept)


# ---------------------------------------------------------------- graph JSON for the network views
class GraphBuilder:
    """Nodes and edges for vis-network, with types, marks, masking, hub folding and a time window."""

    def __init__(self, since: int | None = None, until: int | None = None):
        self.st = store()
        self.hub_limit = int(current_app.config["UI_HUB_LIMIT"])
        self.cap = int(current_app.config["MAX_NEIGHBOURHOOD"])
        self.since, self.until = since, until
        self.nodes: dict[str, dict[str, Any]] = {}
        self.edges: dict[str, dict[str, Any]] = {}
        self.truncated = False
        self.real: dict[str, str] = {}  # node id -> the identifier it stands for
        self._counts: dict[tuple[str, str], int] = {}

    def in_window(self, link: dict[str, Any]) -> bool:
        return in_window(link, self.since, self.until)

    def n_users(self, typ: str, ident: str) -> int:
        k = (typ, ident)
        if k not in self._counts:
            self._counts[k] = int(self.st.count_links(typ, ident)) if typ != "user" else 0
        return self._counts[k]

    def add_node(self, typ: str, ident: str, via: str | None = None, **extra: Any) -> str | None:
        nid = f"{typ}:{node_key(typ, ident)}"
        if nid in self.nodes:
            return nid
        if len(self.nodes) >= self.cap:
            self.truncated = True
            return None
        node: dict[str, Any] = {"id": nid, "type": typ, "key": node_key(typ, ident), "label": show_id(typ, ident)}
        self.real[nid] = ident
        if nid != f"{typ}:{ident}" and via:
            node["via"] = via
        if typ != "user":
            n = self.n_users(typ, ident)
            node["n_users"] = n
            if n > self.hub_limit:
                node["hub"] = True
        node.update(extra)
        self.nodes[nid] = node
        return nid

    def add_edge(self, a: str, b: str, link: dict[str, Any]) -> None:
        eid = f"{a}|{b}"
        if eid not in self.edges:
            self.edges[eid] = {"id": eid, "from": a, "to": b, "n": link.get("n"), "first_seen": link.get("first_seen"),
                               "last_seen": link.get("last_seen")}

    def add_transfer(self, payer: str, payee: str, flow: dict[str, Any]) -> None:
        """A directed money edge from the payer's node to the payee's: transfers, their total, first and last."""
        eid = f"{payer}>{payee}"
        if eid not in self.edges:
            self.edges[eid] = {"id": eid, "from": payer, "to": payee, "kind": "transfer", "n": flow.get("n"),
                               "amount": round(float(flow.get("amount") or 0.0), 2),
                               "first_seen": flow.get("first_seen"), "last_seen": flow.get("last_seen")}

    def expand_transfers(self, ident: str, src: str, limit: int) -> list[tuple[str, str]]:
        """Add a user's transfer partners (directed edges; partners beyond ``hub_limit`` folded into one
        node that opens the user's page); return the new neighbours."""
        rows = [r for r in self.st.transfers_of(ident, limit + 1) if self.in_window(r)]
        partners: list[str] = []
        for r in rows:
            other = other_party(r, ident)
            if other not in partners:
                partners.append(other)
        shown = set(partners[:self.hub_limit])
        out = []
        for r in rows:
            other = other_party(r, ident)
            if other not in shown:
                continue
            nid = src if other == ident else self.add_node("user", other)
            if nid is None:
                continue
            self.add_transfer(src if r["payer"] == ident else nid, nid if r["payer"] == ident else src, r)
            if other != ident:
                out.append(("user", other))
        more = len(partners) - len(shown)
        if more > 0:
            agg = f"more:transfers:{src}"
            label = f"+{more}{'+' if len(rows) > limit else ''} more partners"
            self.nodes[agg] = {"id": agg, "type": "more", "key": ident, "of_type": "user", "label": label,
                               "n_users": more, "aggregate": True, "url": entity_url("user", ident) + "#money"}
            self.edges[f"{agg}|{src}"] = {"id": f"{agg}|{src}", "from": agg, "to": src, "n": None}
        return out

    def expand(self, typ: str, ident: str, limit: int) -> list[tuple[str, str]]:
        """Add the links of one node (folding a hub's users beyond ``hub_limit``) and, for a user, its
        transfers; return new neighbours."""
        src = self.add_node(typ, ident)
        if src is None:
            return []
        out = []
        if typ == "user":
            rows = [r for r in self.st.neighbours("user", ident, limit) if self.in_window(r)]
            for r in rows:
                nid = self.add_node(r["type"], r["entity_id"], via=ident)
                if nid is not None:
                    self.add_edge(src, nid, r)
                    out.append((r["type"], r["entity_id"]))
            return out + self.expand_transfers(ident, src, limit)
        total = self.n_users(typ, ident)
        room = min(limit, self.hub_limit)
        rows = [r for r in self.st.neighbours(typ, ident, room) if self.in_window(r)]
        for r in rows:
            nid = self.add_node("user", r["user_id"])
            if nid is not None:
                self.add_edge(nid, src, r)
                out.append(("user", r["user_id"]))
        if total > len(rows):
            agg = f"more:{src}"
            self.nodes[agg] = {"id": agg, "type": "more", "key": ident, "of_type": typ, "label": f"+{total - len(rows)} more users",
                               "n_users": total - len(rows), "aggregate": True,
                               "url": entity_url(typ, ident, **({"via": self.nodes[src].get("via")}
                                                                               if self.nodes[src].get("via") else {}))}
            self.edges[f"{agg}|{src}"] = {"id": f"{agg}|{src}", "from": agg, "to": src, "n": None}
        return out

    def mark(self) -> None:
        users = {self.real[n["id"]]: n["id"] for n in self.nodes.values() if n["type"] == "user"}
        ring_of = self.st.ring_of_users(list(users)) if users else {}
        known: dict[str, set[str]] = {}
        for u, nid in users.items():
            rid = ring_of.get(u)
            if rid:
                self.nodes[nid]["ring_id"] = rid
                self.nodes[nid]["suspicious"] = True
                if rid not in known:
                    try:
                        known[rid] = set(self.st.get_ring(rid).get("known_fraud_users") or [])
                    except NotFound:
                        known[rid] = set()
            lab = user_label(u)
            if lab:
                self.nodes[nid]["user_label"] = lab
            if lab in ("fraudster", "mule") or (rid and u in known[rid] and lab not in ("legitimate", "victim")):
                self.nodes[nid]["fraud"] = True

    def result(self, **extra: Any) -> dict[str, Any]:
        self.mark()
        for n in self.nodes.values():
            n["title"] = str(escape(f"{n['type']} {n['label']}"))  # plain text, HTML-escaped for any consumer
        return {"ok": True, "nodes": list(self.nodes.values()), "edges": list(self.edges.values()),
                "truncated": self.truncated, "hub_limit": self.hub_limit, **extra}


@bp.get("/ui/graph/ring/<ring_id>")
@login_required
def graph_ring(ring_id: str) -> Response:
    r = store().get_ring(_check_id(ring_id))
    gb = GraphBuilder(_date_ms("since"), _date_ms("until", end=True))
    members = {(m.get("type"), str(m.get("id"))) for m in r.get("members", []) if isinstance(m, dict)}
    for u in r.get("users", []):
        gb.add_node("user", u)
    for u in r.get("users", []):
        src = f"user:{node_key('user', u)}"
        if src not in gb.nodes:
            continue
        for link in gb.st.neighbours("user", u, 1000):
            if (link["type"], str(link["entity_id"])) in members and gb.in_window(link):
                nid = gb.add_node(link["type"], link["entity_id"], via=u)
                if nid is not None:
                    gb.add_edge(src, nid, link)
    limit = int(current_app.config["UI_FLOW_LIMIT"])
    transfers = gb.st.transfers_among(r.get("users", []), limit + 1)
    window = [t for t in transfers[:limit] if gb.in_window({"first_seen": t["ts"], "last_seen": t["ts"]})]
    for f in money.flow_pairs(window):
        a, b = f"user:{node_key('user', f['payer'])}", f"user:{node_key('user', f['payee'])}"
        if a in gb.nodes and b in gb.nodes:
            gb.add_transfer(a, b, f)
    return _json(gb.result(ring_id=r["ring_id"], transfers_truncated=len(transfers) > limit))



@bp.get("/ui/graph/entity/<node_type>/<path:node_id>")
@login_required
def graph_entity(node_type: str, node_id: str) -> Response:
    node_type, node_id = _check_type(node_type), _check_id(node_id)
    real = resolve(node_type, node_id)
    hops = _int_arg("hops", 1, 1, 3)
    limit = _int_arg("limit", 200, 1, int(current_app.config["MAX_NEIGHBOURHOOD"]))
    gb = GraphBuilder(_date_ms("since"), _date_ms("until", end=True))
    gb.cap = limit
    start = gb.add_node(node_type, real, via=request.args.get("via"))
    if start is None:
        abort(404)
    # the core's one traversal; hubs reached on the way stay folded (only the node asked for opens its users)
    walk((node_type, real), hops, lambda typ, ident, hop: gb.expand(typ, ident, limit),
         opens=lambda typ, ident, hop: hop == 1 or not gb.nodes.get(f"{typ}:{node_key(typ, ident)}", {}).get("hub"))
    if len(gb.nodes) == 1 and not _transactions_of(node_type, real, 1):
        raise NotFound(f"There is no {node_type} with that id in the graph.", code="entity_not_found")
    return _json(gb.result(focus=start))


@bp.get("/ui/node/<node_type>/<path:node_id>")
@login_required
def node_detail(node_type: str, node_id: str) -> Response:
    node_type, node_id = _check_type(node_type), _check_id(node_id)
    real = resolve(node_type, node_id)
    st = store()
    txs = _transactions_of(node_type, real, 20)
    out: dict[str, Any] = {"ok": True, "type": node_type, "id": show_id(node_type, real),
                           "masked": show_id(node_type, real) != real,
                           "url": entity_url(node_type, real,
                                             **({"via": request.args["via"]} if request.args.get("via") else {}))}
    if node_type == "user":
        out["ring_id"] = st.ring_of_users([real]).get(real)
        out["label"] = user_label(real)
        out["n_identifiers"] = len(st.neighbours("user", real, 10_000))
        flows = money.partners(real)["rows"]
        if flows:
            for side in ("sent", "received"):
                mine = [f for f in flows if f["direction"] == side]
                out[side] = {"n": sum(f["n"] for f in mine), "amount": round(sum(f["amount"] for f in mine), 2),
                             "partners": len(mine)}
    else:
        out["n_users"] = st.count_links(node_type, real)
    out["transactions"] = [{"transaction_id": t["transaction_id"], "timestamp": t.get("timestamp"),
                            "amount": t.get("amount"), "currency": t.get("currency"),
                            "user_id": t.get("user_id"), "merchant_id": t.get("merchant_id"),
                            "is_fraud": tx_fraud(t),
                            "url": url_for("pages.transaction", transaction_id=t["transaction_id"])} for t in txs]
    return _json(out)

