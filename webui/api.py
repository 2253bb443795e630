"""The JSON API: ``/api/v1`` (API keys) and the operational routes ``/healthz``, ``/readyz``, ``/metrics``
and ``/openapi.json`` (open).

Every handler is a few lines over a library call: parse and judge the input (transport here, content in
:mod:`graphfraud.schema`), call the per-process :class:`~graphfraud.scoring.Scorer` or the store, answer.
Errors are raised as exceptions and turned into the one JSON error shape by :mod:`webui.errors`.
"""
from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, current_app, g, request
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge

from graphfraud.errors import Forbidden, GraphFraudError, NotFound, ValidationError
from graphfraud.labels import dated_before_their_transactions
from graphfraud.neighbourhood import neighbourhood
from graphfraud.schema import check_name, stored_identifier, validate_label, validate_record
from graphfraud.storage.base import to_json

from .auth import authenticate, key_from_headers
from .errors import CLIENT_BODY_ERRORS, ApiError, error_body, status_for, unreadable_body

bp = Blueprint("api", __name__, url_prefix="/api/v1")
ops = Blueprint("ops", __name__)

# C0 and C1 control characters and lone surrogates (which JSON's \\u escapes can produce and no store can
# encode): refused anywhere in a body, keys included, before the schema sees it
_BAD_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_RAW_C1 = re.compile("[\x7f-\x9f]")
_TOKEN = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
#: What reading a request body raises when the client breaks it (cut short, bad chunks, too slow).
_READ_ERRORS: tuple[type[BaseException], ...] = (OSError, *CLIENT_BODY_ERRORS)


# ---------------------------------------------------------------- helpers
def state() -> Any:
    return current_app.extensions["graphfraud"]


def reply(obj: Any, status: int = 200) -> Response:
    body = to_json(obj)
    return Response(body, status=status, mimetype="application/json")


def requires(scope: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Route decorator: the request needs an API key with ``scope`` (``admin`` has every scope)."""

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            st = state()
            g.api_key = authenticate(request.headers, st.keys, st.limiter, scope)
            return fn(*args, **kwargs)

        wrapper.required_scope = scope  # type: ignore[attr-defined]
        return wrapper

    return deco


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number; send finite numbers only")


class _DuplicateKey(ValueError):
    pass


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object naming each key once: with a key twice, which value counts would be the parser's guess
    (the last one, silently), and two components may guess differently."""
    d = dict(pairs)
    if len(d) != len(pairs):
        seen: set[str] = set()
        raise _DuplicateKey(next(k for k, _ in pairs if k in seen or seen.add(k)))  # type: ignore[func-returns-value]
    return d


def scored_by() -> str:
    """How a decision records the API key that asked for it (a score-scope key reads back only those)."""
    return f"key:{g.api_key.id}"


def json_body() -> Any:
    """The request body parsed strictly as JSON (415, 413 and 400 errors otherwise)."""
    mt = request.mimetype
    if mt != "application/json" and not (mt.startswith("application/") and mt.endswith("+json")):
        raise ApiError(415, "unsupported_media_type", "Send the body as JSON with 'Content-Type: application/json'.",
                       [f"Content-Type: {mt or 'missing'} is not application/json"])
    coding = request.headers.get("Content-Encoding", "").strip().lower()
    if coding not in ("", "identity"):  # a body in a coding this API does not decode would be read as text
        raise ApiError(415, "unsupported_media_type", "Send the body uncompressed; the API does not decode "
                       "Content-Encoding.", [f"Content-Encoding: {coding[:40]} is not accepted"])
    limit = current_app.config["MAX_BODY_BYTES"]
    n = request.content_length
    if n is not None and n > limit:
        raise _too_large(limit, n)
    try:
        if n is None and request.environ.get("wsgi.input_terminated"):
            # chunked upload: read one byte past the limit ourselves, so an oversized body is a 413 rather
            # than silently cut at the limit
            raw = request.environ["wsgi.input"].read(limit + 1)
        else:
            raw = request.get_data(cache=False)
    except RequestEntityTooLarge:
        raise _too_large(limit, n) from None
    except ClientDisconnected:  # Werkzeug's own 400 for a body shorter than its Content-Length
        raise ApiError(400, "invalid_body", f"The request body ended before the {n} bytes its Content-Length "
                       "announced.", [f"body: shorter than {n} bytes"]) from None
    except _READ_ERRORS as e:  # the client's transport: a body cut short, bad chunks, too slow
        raise unreadable_body(e) from None
    if len(raw) > limit:
        raise _too_large(limit, len(raw))
    if n is not None and len(raw) < n:  # the client closed its side before the whole body came
        raise ApiError(400, "invalid_body", f"The request body ended after {len(raw)} of the {n} bytes its "
                       "Content-Length announced.", [f"body: {len(raw)} of {n} bytes"])
    if not raw.strip():
        raise ApiError(400, "invalid_json", "The request body is empty; send a JSON object.", ["body: empty"])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ApiError(400, "invalid_json", "The request body is not UTF-8 text.",
                       [f"body: invalid UTF-8 at byte {e.start}"]) from None
    try:
        obj = json.loads(text, parse_constant=_no_constant, object_pairs_hook=_object)
        # raw control characters are already refused by the parser; escaped ones and raw C1 characters
        # are looked for (walking the object) only when the text could hold them
        g.gf_check_strings = "\\u" in text or _RAW_C1.search(text) is not None
    except json.JSONDecodeError as e:
        msg = e.msg.removesuffix(" at")  # the parser's "Invalid control character at"
        raise ApiError(400, "invalid_json", f"The request body is not valid JSON: {msg} at line {e.lineno} "
                       f"column {e.colno}.", [f"body: {msg} at position {e.pos}"]) from None
    except _DuplicateKey as e:
        key = str(e)[:60]
        raise ApiError(400, "duplicate_key", f"The request body names the key {key!r} more than once in one object; "
                       "send each field once.", [f"{key}: given more than once"]) from None
    except ValueError as e:  # NaN/Infinity, integers with thousands of digits
        raise ApiError(400, "invalid_json", f"The request body is not acceptable JSON: {e}.",
                       [f"body: {e}"]) from None
    except RecursionError:
        raise ApiError(400, "invalid_json", "The request body is nested too deeply.",
                       ["body: nested too deeply"]) from None
    return obj


def _too_large(limit: int, n: int | None) -> ApiError:
    size = f"{n:,} bytes" if n is not None else "larger than the limit"
    return ApiError(413, "body_too_large", f"The request body is {size}; the limit is {limit:,} bytes "
                    "(setting max_body_bytes).", [f"body: {size}, limit {limit} bytes"])


def check_strings(obj: Any, where: str = "body") -> None:
    """Refuse control characters and lone surrogates in any key or string value, naming the field."""
    if isinstance(obj, str):
        if _BAD_CHARS.search(obj):
            raise ValidationError(f"{where} contains control characters or invalid Unicode.",
                                  [f"{where} contains control characters or invalid Unicode"],
                                  code="invalid_transaction")
    elif isinstance(obj, dict):
        for k, v in obj.items():
            name = k if where == "body" else f"{where}.{k}"
            if _BAD_CHARS.search(k):
                raise ValidationError("A field name contains control characters or invalid Unicode.",
                                      [f"{where}: field name {k[:40]!r} is not acceptable"],
                                      code="invalid_transaction")
            if isinstance(v, (str, dict, list)):
                check_strings(v, name)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            if isinstance(v, (str, dict, list)):
                check_strings(v, f"{where}[{i}]")


def to_transaction(obj: Any) -> Any:
    cfg = current_app.config
    if isinstance(obj, dict) and g.get("gf_check_strings", True):
        check_strings(obj)
    tx = validate_record(obj, extra_types=cfg["EXTRA_TYPES"], max_id_length=cfg["MAX_ID_LENGTH"],
                         pii_key=cfg["PII_KEY"])
    ahead = cfg["MAX_FUTURE"]
    if ahead and tx.ts > (time.time() + ahead) * 1000:
        raise ValidationError(f"The transaction's time is more than {_span(ahead)} ahead of this server's clock; "
                              "send its real time (a clock set wrong on the sender's side?).",
                              [f"timestamp: {(tx.ts / 1000 - time.time()) / 86400:,.1f} days ahead of the server's "
                               f"clock (limit max_future {_span(ahead)})"], code="invalid_transaction")
    if (tx.is_fraud is not None or tx.labelled_at is not None or tx.fraud_type) and not g.api_key.allows("admin"):
        # a label counts at once (the user becomes known fraud for every later score): as on POST /labels,
        # only an admin key may give one
        raise Forbidden(f"The API key {g.api_key.name!r} has scope {g.api_key.scope!r}; a transaction sent "
                        "with a label (is_fraud) needs 'admin'. Send it without is_fraud, labelled_at and "
                        "fraud_type, and labels through POST /labels with an admin key.",
                        ["is_fraud: a label needs scope admin"])
    return tx


def _span(seconds: float) -> str:
    """``86400`` -> ``1 day``, ``7200`` -> ``2 hours``, ``90`` -> ``90 seconds``."""
    for unit, n in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= n and seconds % n == 0:
            k = int(seconds // n)
            return f"{k} {unit}{'s' if k != 1 else ''}"
    return f"{seconds:g} seconds"


def int_arg(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        v = int(raw) if raw.isascii() else None  # int() takes other scripts' digits ("１")
    except ValueError:
        v = None
    if v is None or not lo <= v <= hi:
        raise ApiError(400, "invalid_parameter", f"Query parameter {name} must be a whole number from {lo} to {hi}.",
                       [f"{name}: {raw[:40]!r} is not a whole number from {lo} to {hi}"])
    return v


def id_param(value: str, name: str) -> str:
    """An id from the address, as the body's ids are stored: without spaces at either end."""
    limit = current_app.config["MAX_ID_LENGTH"]
    value = value.strip()
    if not value or len(value) > limit or _BAD_CHARS.search(value):
        raise ApiError(400, "invalid_parameter", f"The {name} in the address is empty, too long (limit {limit}) "
                       "or holds control characters.", [f"{name}: not an acceptable identifier"])
    return value


def scorer() -> Any:
    return state().get_scorer()


# ---------------------------------------------------------------- scoring
@bp.post("/score")
@requires("score")
def score() -> Response:
    tx = to_transaction(json_body())
    result = scorer().score(tx, scored_by())
    state().metrics.observe_decision(result)
    return reply({"ok": True, **result})


@bp.post("/score/batch")
@requires("score")
def score_batch() -> Response:
    body = json_body()
    items = body.get("transactions") if isinstance(body, dict) else body
    if not isinstance(items, list):
        raise ApiError(400, "invalid_batch", "Send a JSON array of transactions, or an object with a "
                       "'transactions' array.", ["transactions: expected an array"])
    limit = current_app.config["MAX_BATCH_SIZE"]
    if len(items) > limit:
        raise ApiError(413, "batch_too_large", f"The batch holds {len(items):,} transactions; the limit is "
                       f"{limit:,} (setting max_batch_size).", [f"transactions: {len(items)} items, limit {limit}"])
    if not items:
        raise ApiError(400, "invalid_batch", "The batch is empty.", ["transactions: empty"])
    results: list[dict[str, Any] | None] = [None] * len(items)
    valid: list[tuple[int, Any]] = []
    for i, item in enumerate(items):
        try:
            valid.append((i, to_transaction(item)))
        except GraphFraudError as e:
            results[i] = _item_error(i, e)
    if valid:
        for (i, _), r in zip(valid, scorer().score_batch([tx for _, tx in valid], scored_by())):
            results[i] = _item_error(i, r) if isinstance(r, GraphFraudError) else {"ok": True, "index": i, **r}
    for r in results:
        if r is not None and r.get("ok"):
            state().metrics.observe_decision(r)
    n_ok = sum(1 for r in results if r and r.get("ok"))
    return reply({"ok": True, "n_scored": n_ok, "n_rejected": len(items) - n_ok, "results": results})


def _item_error(i: int, e: GraphFraudError) -> dict[str, Any]:
    return {**error_body(status_for(e), e.code, e.message, e.errors or None), "index": i}


@bp.post("/labels")
@requires("admin")
def labels() -> Response:
    body = json_body()
    items = body if isinstance(body, list) else [body]
    limit = current_app.config["MAX_BATCH_SIZE"]
    if len(items) > limit:
        raise ApiError(413, "batch_too_large", f"{len(items):,} labels in one request; the limit is {limit:,}.",
                       [f"labels: {len(items)} items, limit {limit}"])
    if not items:
        raise ApiError(400, "invalid_label", "No labels were sent.", ["labels: empty"])
    max_len = current_app.config["MAX_ID_LENGTH"]
    out: list[Any] = []
    errs: list[Any] = []
    for i, item in enumerate(items):
        try:
            if isinstance(item, dict) and g.get("gf_check_strings", True):
                check_strings(item)
            # an admin key speaks for an investigator unless it says the label is a chargeback or a file's
            src = item.get("source", "investigator") if isinstance(item, dict) else "investigator"
            out.append((i, validate_label(item, source=src, max_id_length=max_len)))
        except GraphFraudError as e:
            prefix = f"[{i}] " if isinstance(body, list) else ""
            errs.extend(prefix + m for m in (e.errors or [e.message]))
    store = state().store
    held = store.transaction_times([lb.subject_id for _, lb in out if lb.subject == "transaction"])
    early = dated_before_their_transactions(store, [lb for _, lb in out], held)
    for k, (i, lb) in enumerate(out):  # i: the item's place in the request
        # a label for a transaction the store does not hold could apply to nothing (a typo, the wrong
        # system); user labels may come first (a fraudster known before their first transaction)
        prefix = f"[{i}] " if isinstance(body, list) else ""
        if lb.subject == "transaction" and lb.subject_id not in held:
            errs.append(f"{prefix}transaction_id {lb.subject_id[:80]!r} is not in the store; score or load it first")
        elif k in early:
            errs.append(f"{prefix}{early[k]}")
    if errs:  # all or nothing: a half-applied list of labels is hard to retry
        raise ValidationError("No labels were stored: " + "; ".join(errs[:5]) + ".", errs, code="invalid_label")
    n = scorer().add_labels([lb for _, lb in out])
    return reply({"ok": True, "n_labels": int(n)})


# ---------------------------------------------------------------- reading
@bp.get("/transactions/<path:transaction_id>")
@requires("score")
def transaction(transaction_id: str) -> Response:
    tid = id_param(transaction_id, "transaction_id")
    store = state().store
    tx = store.get_transaction(tid)
    decision = store.get_decision(tid) if tx is not None else None
    # a score-scope key reads back what it scored, no more: the same answer as a missing transaction, so
    # it learns nothing of the others
    if tx is None or (g.api_key.scope != "admin" and (decision or {}).get("scored_by") != scored_by()):
        raise NotFound(f"There is no transaction {tid[:80]!r}.", [f"transaction_id: {tid[:80]!r} not found"],
                       code="transaction_not_found")
    return reply({"ok": True, "transaction": tx, "decision": decision})


@bp.get("/rings")
@requires("admin")
def rings() -> Response:
    limit = int_arg("limit", 100, 1, 1000)
    status = request.args.get("status", "active")
    if not _TOKEN.match(status):
        raise ApiError(400, "invalid_parameter", "Query parameter status must be a ring status such as active, "
                       "merged or dissolved, or all.", [f"status: {status[:40]!r} is not a ring status"])
    found = state().store.list_rings(None if status == "all" else status, limit)
    return reply({"ok": True, "n_rings": len(found), "rings": found})


@bp.get("/rings/<ring_id>")
@requires("admin")
def ring(ring_id: str) -> Response:
    return reply({"ok": True, "ring": state().store.get_ring(id_param(ring_id, "ring_id"))})


@bp.get("/users/<path:user_id>")
@requires("admin")
def user(user_id: str) -> Response:
    """One account's risk (as ``graphfraud suspects`` ranks it) and its money summary."""
    from .risk import user_risk

    uid = id_param(user_id, "user_id")
    sc = scorer()
    return reply({"ok": True, **user_risk(sc, state().store, uid)})


@bp.get("/entities/<node_type>/<path:node_id>")
@requires("admin")
def entity(node_type: str, node_id: str) -> Response:
    try:
        check_name(node_type)
    except ValidationError:
        raise ApiError(400, "invalid_parameter", f"{node_type[:40]!r} is not an entity type.",
                       [f"type: {node_type[:40]!r} is not an entity type"]) from None
    # identifiers are stored cleaned and protected (keyed hash): look up the stored form of what was asked for
    node_id = stored_identifier(node_type, id_param(node_id, "id"), current_app.config["PII_KEY"])
    cap = current_app.config["MAX_NEIGHBOURHOOD"]
    hops = int_arg("hops", 1, 1, 2)
    limit = int_arg("limit", min(100, cap), 1, cap)
    return reply({"ok": True, **neighbourhood(state().store, node_type, node_id, hops, limit)})


# ---------------------------------------------------------------- operations (no key)
@ops.get("/healthz")
def healthz() -> Response:
    return reply({"ok": True, "status": "up"})


@ops.get("/readyz")
def readyz() -> Response:
    """Ready or not, for load balancers (no key); the details (counts, versions) only with an admin key."""
    st = state()
    sc = st.scorer
    if sc is None:
        msg = st.scorer_error or "The scoring engine is still loading; try again shortly."
        raise ApiError(503, "not_ready", msg, ["scorer: not ready"], headers={"Retry-After": "1"})
    status = sc.status()
    if not status.get("ready", False):
        raise ApiError(503, "not_ready", "The scoring engine is catching up with the store; try again shortly.",
                       ["scorer: catching up"], headers={"Retry-After": "1"})
    if key_from_headers(request.headers) is None:
        return reply({"ok": True, "ready": True})
    # a health check that sends the service's own (score) key sees it ready; only an admin key sees the details
    if not authenticate(request.headers, st.keys, st.limiter, "score").allows("admin"):
        return reply({"ok": True, "ready": True})
    return reply({"ok": True, **status})


@ops.get("/metrics")
def metrics() -> Response:
    st = state()
    extra = {"graphfraud_scorer_ready": 1.0 if st.scorer is not None else 0.0}
    body = st.metrics.render(extra)
    return Response(body, mimetype="text/plain", content_type="text/plain; version=0.0.4; charset=utf-8")


@ops.get("/openapi.json")
def openapi() -> Response:
    from .openapi import document

    doc = current_app.extensions.get("graphfraud_openapi")
    if doc is None:
        doc = current_app.extensions["graphfraud_openapi"] = document(current_app)
    return reply(doc)

