"""The OpenAPI 3.1 document of the API, built in code from the app's settings.

A test checks that every route the app serves (investigator pages aside) is described here, validates the
document against the OpenAPI 3.1 meta-schema, and validates every response the tests receive against the
schema documented for its route and status.
"""
from __future__ import annotations

from typing import Any

from flask import Flask

from graphfraud.schema import FRAUD_TYPES, LABEL_SOURCES, MAX_REASON_LENGTH, USER_LABELS

ERROR_STATUSES = {
    400: "The input is not acceptable; `errors` names each field.",
    401: "The API key is missing or wrong.",
    403: "The API key lacks the scope for this action.",
    404: "No such object.",
    405: "The route does not accept this method.",
    409: "The transaction id is stored with different content.",
    413: "The body (or batch) is over the limit.",
    415: "The body is not sent as application/json, or is sent compressed (Content-Encoding).",
    429: "The API key is over its rate limit; see Retry-After.",
    500: "Unexpected server error (logged with the reference in the message).",
    503: "The scoring engine or the store is not ready; see Retry-After.",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(s): {"$ref": f"#/components/responses/E{s}"} for s in statuses}


def schemas(cfg: Any) -> dict[str, Any]:
    id_len = int(cfg["MAX_ID_LENGTH"])
    ident = {"type": "string", "minLength": 1, "maxLength": id_len}
    opt_ident = {"type": ["string", "null"], "maxLength": id_len}
    timestamp = {"type": "string", "description": "ISO 8601 (naive means UTC) or `YYYY-MM-DD HH:MM:SS`, "
                 "between 1990-01-01 and 2100-01-01.", "examples": ["2026-03-01T12:00:00Z"]}
    return {
        "Error": {
            "type": "object", "required": ["ok", "status", "code", "error", "errors"],
            "properties": {"ok": {"const": False}, "status": {"type": "integer", "minimum": 400, "maximum": 599},
                           "code": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
                           "error": {"type": "string"},
                           "errors": {"type": "array", "items": {"type": "string"}, "minItems": 1}},
        },
        "Transaction": {
            "type": "object", "required": ["transaction_id", "timestamp", "user_id", "amount"],
            "description": "One canonical transaction. Other fields are kept as attributes (plain values); "
                           "extra entity types (" + ", ".join(cfg["EXTRA_TYPES"]) + ") link users like cards.",
            "properties": {
                "transaction_id": ident, "timestamp": timestamp, "user_id": ident,
                "amount": {"type": "number", "minimum": 0, "maximum": 1e12},
                "card_id": opt_ident, "device_id": opt_ident, "ip": {"type": ["string", "null"]},
                "merchant_id": opt_ident,
                "currency": {"type": ["string", "null"], "pattern": "^ *([A-Za-z]{3})? *$"},  # empty: absent
                "country": {"type": ["string", "null"], "pattern": "^ *([A-Za-z]{2})? *$"},
                "is_fraud": {"enum": [0, 1, True, False, None]},
                "labelled_at": {"type": ["string", "null"]},
                "fraud_type": {"enum": [*FRAUD_TYPES, "", None], "description": "With is_fraud 1: who the fraud "
                               "was done by and to (see docs/features.md, label semantics)."},
                "counterparty_id": {**opt_ident, "description": "The user or account receiving a transfer."},
                "auth_result": {"type": ["string", "null"], "description": "approved or declined (any case)."},
                "decline_reason": {"type": ["string", "null"], "maxLength": MAX_REASON_LENGTH},
                "card_bin": {"type": ["string", "null"], "pattern": "^ *([0-9]{4,11})? *$",
                             "description": "The card's BIN; taken from card_id when that is a full card number."},
                **{t: opt_ident for t in cfg["EXTRA_TYPES"]},
            },
            "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
        },
        "Reason": {"type": "object", "required": ["code", "message"],
                   "properties": {"code": {"type": "string"}, "message": {"type": "string"}}},
        "ScoreResult": {
            "type": "object",
            "required": ["ok", "transaction_id", "score", "decision", "reasons", "ring", "model_version",
                         "rules_version"],
            "properties": {
                "ok": {"const": True}, "transaction_id": {"type": "string"},
                "score": {"type": "number", "minimum": 0, "maximum": 1},
                "decision": {"enum": ["allow", "review", "block"]},
                "reasons": {"type": "array", "items": _ref("Reason")},
                "ring": {"type": ["object", "null"]},
                "model_version": {"type": ["string", "null"]},
                "rules_version": {"type": ["string", "integer", "null"]},
                "snapshot": {}, "replay": {"type": "boolean", "description": "True when this is a retry "
                                                                              "answered from the stored decision."},
                "mode": {"enum": ["model+rules", "rules_only"]}, "catching_up": {"type": "boolean"},
                "missing_fields": {"type": "array", "items": {"type": "string"},
                                   "description": "Fields the model learnt from that this transaction lacks."},
            },
        },
        "BatchRequest": {
            "oneOf": [{"type": "array", "items": _ref("Transaction"), "maxItems": int(cfg["MAX_BATCH_SIZE"])},
                      {"type": "object", "required": ["transactions"],
                       "properties": {"transactions": {"type": "array", "items": _ref("Transaction"),
                                                       "maxItems": int(cfg["MAX_BATCH_SIZE"])}}}],
        },
        "BatchItemError": {"allOf": [_ref("Error"), {"type": "object", "required": ["index"],
                                                     "properties": {"index": {"type": "integer"}}}]},
        "BatchResult": {
            "type": "object", "required": ["ok", "n_scored", "n_rejected", "results"],
            "properties": {
                "ok": {"const": True}, "n_scored": {"type": "integer"}, "n_rejected": {"type": "integer"},
                "results": {"type": "array", "items": {"oneOf": [
                    {"allOf": [_ref("ScoreResult"), {"type": "object", "required": ["index"],
                                                     "properties": {"index": {"type": "integer"}}}]},
                    _ref("BatchItemError")]}},
            },
        },
        "Label": {
            "type": "object",
            "description": "transaction_id with is_fraud, or user_id with user_label.",
            # an empty or null id means absent, so the other kind of label may be given
            "properties": {"transaction_id": opt_ident, "is_fraud": {"enum": [0, 1, True, False, "0", "1"]},
                           "user_id": opt_ident, "user_label": {"enum": list(USER_LABELS)},
                           "fraud_type": {"enum": list(FRAUD_TYPES)}, "labelled_at": timestamp,
                           "source": {"enum": list(LABEL_SOURCES), "default": "investigator"}},
        },
        "LabelResult": {"type": "object", "required": ["ok", "n_labels"],
                        "properties": {"ok": {"const": True}, "n_labels": {"type": "integer", "minimum": 0}}},
        "TransactionRecord": {
            "type": "object", "required": ["ok", "transaction", "decision"],
            "properties": {"ok": {"const": True},
                           "transaction": {"type": "object", "required": ["transaction_id", "timestamp",
                                                                          "user_id", "amount"]},
                           "decision": {"type": ["object", "null"],
                                        "description": "The decision record: score, features, versions, "
                                                       "reasons; null for bulk-loaded transactions."}},
        },
        "Ring": {"type": "object", "required": ["ring_id"], "properties": {"ring_id": {"type": "string"}}},
        "RingList": {"type": "object", "required": ["ok", "n_rings", "rings"],
                     "properties": {"ok": {"const": True}, "n_rings": {"type": "integer"},
                                    "rings": {"type": "array", "items": _ref("Ring")}}},
        "RingRecord": {"type": "object", "required": ["ok", "ring"],
                       "properties": {"ok": {"const": True}, "ring": _ref("Ring")}},
        "Neighbourhood": {
            "type": "object", "required": ["ok", "entity", "hops", "truncated", "nodes", "edges"],
            "properties": {
                "ok": {"const": True}, "hops": {"type": "integer"}, "truncated": {"type": "boolean"},
                "entity": {"type": "object", "required": ["type", "id"],
                           "properties": {"type": {"type": "string"}, "id": {"type": "string"}}},
                "nodes": {"type": "array", "items": {
                    "type": "object", "required": ["id", "type", "key", "hop"],
                    "properties": {"id": {"type": "string"}, "type": {"type": "string"},
                                   "key": {"type": "string"}, "hop": {"type": "integer"},
                                   "ring_id": {"type": "string"}}}},
                "edges": {"type": "array", "items": {
                    "type": "object", "required": ["source", "target"],
                    "properties": {"source": {"type": "string"}, "target": {"type": "string"},
                                   "kind": {"enum": ["link", "transfer"],
                                            "description": "link: a user used an identifier (source user, "
                                                           "target identifier); transfer: money from the "
                                                           "source user to the target user."},
                                   "amount": {"type": ["number", "null"],
                                              "description": "Transfers: their total, as stored."},
                                   "n": {"type": ["integer", "null"]},
                                   "first_seen": {"type": ["integer", "null"]},
                                   "last_seen": {"type": ["integer", "null"]}}}},
            },
        },
        "MoneySide": {
            "type": "object", "required": ["n", "amount", "partners", "first_seen", "last_seen"],
            "properties": {"n": {"type": "integer", "minimum": 0, "description": "Transfers."},
                           "amount": {"type": "number", "description": "Their total (in the base currency)."},
                           "partners": {"type": "integer", "minimum": 0},
                           "first_seen": {"type": ["integer", "null"], "description": "Epoch milliseconds."},
                           "last_seen": {"type": ["integer", "null"]}},
        },
        "UserRisk": {
            "type": "object",
            "required": ["ok", "user_id", "score", "reasons", "ring_id", "known_fraud", "model_version", "as_of",
                         "money"],
            "properties": {
                "ok": {"const": True}, "user_id": {"type": "string"},
                "score": {"type": "number", "minimum": 0, "maximum": 1,
                          "description": "The account model's risk, as `graphfraud suspects` gives it (out of "
                                         "fold for accounts already known as fraud)."},
                "reasons": {"type": "array", "items": {"type": "string"}},
                "ring_id": {"type": ["string", "null"], "description": "The account's ring in the registry."},
                "known_fraud": {"type": "boolean", "description": "Already known as fraud (labels)."},
                "model_version": {"type": ["string", "null"], "description": "The account model's version."},
                "as_of": {"type": "object", "required": ["seq", "time"],
                          "properties": {"seq": {"type": "integer"}, "time": {"type": ["integer", "null"]}},
                          "description": "The store sequence number and data time (epoch ms) it is as of."},
                "money": {
                    "type": "object", "required": ["transfers_out", "transfers_in", "partners", "exposure"],
                    "properties": {
                        "transfers_out": _ref("MoneySide"), "transfers_in": _ref("MoneySide"),
                        "partners": {"type": "integer", "minimum": 0,
                                     "description": "Accounts it paid or was paid by."},
                        "exposure": {
                            "type": "object", "description": "Money with accounts known as fraud, as known now.",
                            "required": ["received_from_known_fraud", "known_fraud_senders",
                                         "received_from_paid_by_known_fraud", "sent_to_known_fraud",
                                         "known_fraud_recipients"],
                            "properties": {"received_from_known_fraud": {"type": "number"},
                                           "known_fraud_senders": {"type": "integer"},
                                           "received_from_paid_by_known_fraud": {"type": "number"},
                                           "sent_to_known_fraud": {"type": "number"},
                                           "known_fraud_recipients": {"type": "integer"}}},
                    },
                },
            },
        },
        "Health": {"type": "object", "required": ["ok", "status"],
                   "properties": {"ok": {"const": True}, "status": {"const": "up"}}},
        "Ready": {"type": "object", "required": ["ok", "ready"],
                  "properties": {"ok": {"const": True}, "ready": {"const": True}, "seq": {"type": "integer"},
                                 "model_version": {"type": ["string", "null"]},
                                 "transactions": {"type": "integer"}, "process": {"type": "integer"},
                                 "start": {"type": "object", "properties": {
                                     "from_seq": {"type": "integer"}, "events": {"type": "integer"},
                                     "seconds": {"type": "number"}}}}},
    }


def document(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.1 document for ``app`` (limits and extra entity types come from its config)."""
    cfg = app.config
    keyed: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}]

    def op(summary: str, scope: str | None, ok: dict[str, Any], errs: tuple[int, ...], *, body: Any = None,
           params: list[dict[str, Any]] | None = None, op_id: str) -> dict[str, Any]:
        o: dict[str, Any] = {"operationId": op_id, "summary": summary, "responses": {"200": ok, **_errors(*errs)}}
        if scope:
            o["security"] = keyed
            o["description"] = f"Needs an API key with scope `{scope}` (an `admin` key has every scope)."
        else:
            o["security"] = []
        if body is not None:
            o["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
        if params:
            o["parameters"] = params
        return o

    def path_param(name: str, desc: str) -> dict[str, Any]:
        return {"name": name, "in": "path", "required": True, "description": desc,
                "schema": {"type": "string", "minLength": 1, "maxLength": int(cfg["MAX_ID_LENGTH"])}}

    def int_param(name: str, lo: int, hi: int, default: int, desc: str) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": False, "description": desc,
                "schema": {"type": "integer", "minimum": lo, "maximum": hi, "default": default}}

    body_errs = (400, 401, 403, 413, 415, 429, 500, 503)
    read_errs = (400, 401, 403, 404, 429, 500, 503)
    cap = int(cfg["MAX_NEIGHBOURHOOD"])
    paths = {
        "/api/v1/score": {"post": op(
            "Score one transaction; it is stored with its decision and joins the graph before the answer",
            "score", _json(_ref("ScoreResult"), "The decision (replay=true for a retry of a stored id)."),
            (*body_errs[:4], 409, *body_errs[4:]), body=_ref("Transaction"), op_id="score")},
        "/api/v1/score/batch": {"post": op(
            f"Score up to {int(cfg['MAX_BATCH_SIZE'])} transactions in order (later ones see earlier ones)",
            "score", _json(_ref("BatchResult"), "One result or error per item, in order; valid items are "
                           "stored even when others are rejected."), body_errs, body=_ref("BatchRequest"),
            op_id="score_batch")},
        "/api/v1/labels": {"post": op(
            "Send feedback labels (one object or a list; all or nothing)", "admin",
            _json(_ref("LabelResult"), "How many labels were stored."), body_errs,
            body={"oneOf": [_ref("Label"), {"type": "array", "items": _ref("Label")}]}, op_id="add_labels")},
        "/api/v1/transactions/{transaction_id}": {"get": op(
            "A stored transaction with its decision record (a score-scope key: only those it scored)", "score",
            _json(_ref("TransactionRecord"), "The transaction and its decision."), read_errs,
            params=[path_param("transaction_id", "The transaction id.")], op_id="get_transaction")},
        "/api/v1/rings": {"get": op(
            "Current rings, best first", "admin", _json(_ref("RingList"), "Rings."), read_errs,
            params=[int_param("limit", 1, 1000, 100, "Most rings returned."),
                    {"name": "status", "in": "query", "required": False,
                     "description": "Ring status (active, merged, dissolved) or `all`.",
                     "schema": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,31}$", "default": "active"}}],
            op_id="list_rings")},
        "/api/v1/rings/{ring_id}": {"get": op(
            "One ring with its history", "admin", _json(_ref("RingRecord"), "The ring."), read_errs,
            params=[path_param("ring_id", "The ring id.")], op_id="get_ring")},
        "/api/v1/entities/{node_type}/{node_id}": {"get": op(
            "The neighbourhood of a user or identifier: nodes and user-identifier edges", "admin",
            _json(_ref("Neighbourhood"), "Nodes and edges, at most `limit` nodes."), read_errs,
            params=[{"name": "node_type", "in": "path", "required": True, "description": "user, card, device, ip, ...",
                     "schema": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,31}$"}},
                    path_param("node_id", "The identifier."),
                    int_param("hops", 1, 2, 1, "How far to follow links."),
                    int_param("limit", 1, cap, min(100, cap), "Most nodes returned.")],
            op_id="get_entity")},
        "/api/v1/users/{user_id}": {"get": op(
            "One account's risk (score, reasons, ring, known fraud: what `graphfraud suspects` ranks by) and its "
            "money: transfers in and out, partners, exposure to accounts known as fraud", "admin",
            _json(_ref("UserRisk"), "The account's risk and money summary."), read_errs,
            params=[path_param("user_id", "The user id (or the id of an account that only received transfers).")],
            op_id="get_user")},
        "/healthz": {"get": op("The process is up", None, _json(_ref("Health"), "Up."), (500,), op_id="healthz")},
        "/readyz": {"get": op("The scoring engine is loaded and caught up; counts and versions only with an "
                              "admin key", None, _json(_ref("Ready"), "Ready."), (401, 403, 429, 500, 503),
                              op_id="readyz")},
        "/metrics": {"get": op("Prometheus metrics (text exposition format 0.0.4)", None,
                               {"description": "Metrics.", "content": {"text/plain": {"schema": {"type": "string"}}}},
                               (500,), op_id="metrics")},
        "/openapi.json": {"get": op("This document", None, _json({"type": "object"}, "OpenAPI 3.1."), (500,),
                                    op_id="openapi")},
    }
    # the account risk's own 409: no account model yet (the shared E409 describes transaction conflicts)
    paths["/api/v1/users/{user_id}"]["get"]["responses"]["409"] = _json(
        _ref("Error"), "No account model has been trained yet (code no_account_model): label accounts and run "
        "`graphfraud train`.")
    sch = schemas(cfg)
    return {
        "openapi": "3.1.0",
        "info": {"title": "graphfraud scoring API", "version": "1",
                 "description": "Score transactions against the live identifier graph, send feedback, and "
                                "read rings and neighbourhoods. Every error has one JSON shape (schema Error). "
                                "API keys: `graphfraud apikey create --name NAME --scope score|admin`; a revoked "
                                f"key stops working within {cfg['API_KEY_CACHE_SECONDS']:g} s. Bodies over "
                                f"{int(cfg['MAX_BODY_BYTES']):,} bytes get 413."},
        "paths": paths,
        "components": {
            "schemas": sch,
            "responses": {f"E{s}": _json(_ref("Error"), d) for s, d in ERROR_STATUSES.items()},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "An API key."},
                                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
        },
    }
