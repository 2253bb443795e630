"""HTTP statuses for the library's errors, and the one JSON error body.

The core raises :class:`~graphfraud.errors.GraphFraudError` subclasses and knows nothing of HTTP; this
module maps them to statuses by class (the nearest class in the exception's MRO wins), and
:func:`error_body` builds every JSON error the app sends, routing errors (404, 405), oversized bodies
(413) and crashes (500) included::

    {"ok": false, "status": 400, "code": "invalid_transaction", "error": "...", "errors": ["..."]}

A 500 says only that something went wrong and gives a reference; the traceback goes to the log.
"""
from __future__ import annotations

import logging
import secrets
from typing import Any

from flask import Flask, Response, has_request_context, json, request
from werkzeug.exceptions import HTTPException

from graphfraud import errors as gf

from .risk import NoAccountModel

log = logging.getLogger("graphfraud.webui")

#: Library error class -> HTTP status. Resolved along the exception's MRO, so a subclass added to the
#: core later gets its parent's status without a change here.
STATUS_BY_CLASS: dict[type[BaseException], int] = {
    gf.ValidationError: 400,
    gf.ConfigError: 500,
    gf.AuthError: 401,
    gf.Forbidden: 403,
    gf.NotFound: 404,
    gf.Conflict: 409,
    gf.RateLimited: 429,
    NoAccountModel: 409,  # nothing to wait for: an admin must train one (the message says how)
    gf.ModelNotReady: 503,
    gf.StorageError: 503,
    gf.GraphFraudError: 500,
}

#: Largest oversized body the server reads and discards so that the client sees the 413 answer.
DRAIN_CAP = 64 * 1024 * 1024

#: Stable codes for the statuses werkzeug raises itself (routing, body limits, bad methods).
HTTP_CODES: dict[int, str] = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    406: "not_acceptable", 409: "conflict", 411: "length_required", 413: "body_too_large",
    414: "uri_too_long", 415: "unsupported_media_type", 417: "expectation_failed", 429: "rate_limited",
    431: "headers_too_large",
    500: "internal_error", 501: "not_implemented", 503: "unavailable",
}


try:  # what gunicorn raises while a request's body is read, for a body the client broke
    from gunicorn.http.errors import NoMoreData, ParseException

    #: Errors reading a request's body that are the client's doing (a bad or unfinished chunked body).
    CLIENT_BODY_ERRORS: tuple[type[BaseException], ...] = (ParseException, NoMoreData)
except ImportError:  # pragma: no cover - served by another WSGI server
    CLIENT_BODY_ERRORS = ()


class ApiError(gf.GraphFraudError):
    """An error decided by the web layer itself (content type, body size, a bad query parameter).

    It carries its status explicitly; everything else gets its status from :data:`STATUS_BY_CLASS`.
    """

    def __init__(self, status: int, code: str, message: str, errors: list[str] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message, errors, code=code)
        self.status = status
        self.headers = headers or {}


def unreadable_body(exc: BaseException) -> "ApiError":
    """The 400 for a request body that could not be read: cut short, malformed chunks, or not sent in time
    (the server's ``client_timeout``)."""
    if isinstance(exc, TimeoutError):
        reason = "it did not arrive in time"
    else:
        reason = (str(exc) or type(exc).__name__).splitlines()[0][:120]
    return ApiError(400, "invalid_body", f"The request body could not be read: {reason}.", [f"body: {reason}"])


def status_for(exc: BaseException) -> int:
    """The HTTP status for an exception: explicit on :class:`ApiError`, else by class, else 500."""
    if isinstance(exc, ApiError):
        return exc.status
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_CLASS:
            return STATUS_BY_CLASS[cls]
    return 500


def error_body(status: int, code: str, message: str, errors: list[str] | None = None) -> dict[str, Any]:
    """The one JSON error shape. ``errors`` lists one line per broken field (never empty)."""
    return {"ok": False, "status": int(status), "code": code, "error": message,
            "errors": list(errors) if errors else [message]}


def error_response(status: int, code: str, message: str, errors: list[str] | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(error_body(status, code, message, errors))
    resp = Response(body, status=status, mimetype="application/json", headers=headers)
    if status == 413:
        # The client may still be sending. Keeping the connection lets the server drain a moderately
        # oversized upload so the client reads this answer instead of a reset; an unbounded or absurd
        # one (chunked, or over the drain cap) is cut off instead.
        length = request.content_length if has_request_context() else None
        if length is None or length > DRAIN_CAP:
            resp.headers["Connection"] = "close"
    return resp


def response_for(exc: BaseException) -> Response:
    """Turn any exception into the JSON error response (used by the handlers and by batch items)."""
    if isinstance(exc, CLIENT_BODY_ERRORS):  # a form or file upload broken on the wire
        exc = unreadable_body(exc)
    if isinstance(exc, HTTPException):
        status = exc.code or 500
        code = HTTP_CODES.get(status, "http_error")
        message = _HTTP_MESSAGES.get(status) or (exc.description or exc.name)
        headers = {}
        allowed = getattr(exc, "valid_methods", None)
        if status == 405 and allowed:
            headers["Allow"] = ", ".join(allowed)
        return error_response(status, code, message, headers=headers)
    if isinstance(exc, gf.GraphFraudError):
        status = status_for(exc)
        if status >= 500 and not isinstance(exc, (gf.StorageError, gf.ModelNotReady, ApiError)):
            return _internal(exc)
        headers = dict(getattr(exc, "headers", {}) or {})
        if status in (429, 503):
            headers.setdefault("Retry-After", "1")
        message = exc.message
        if isinstance(exc, gf.StorageError):
            # driver messages can name hosts and files: log them, answer in general terms
            log.error("storage error on %s %s: %s", request.method, _route(), exc)
            message = "The store is unavailable; try again shortly."
        return error_response(status, exc.code, message, exc.errors or None, headers=headers)
    return _internal(exc)


def _internal(exc: BaseException) -> Response:
    ref = secrets.token_hex(6)
    log.error("unhandled error %s on %s %s", ref, request.method, _route(), exc_info=exc)
    return error_response(500, "internal_error",
                          f"Something went wrong on the server (reference {ref}); it has been logged.")


def _route() -> str:
    """The route template (``/api/v1/entities/<node_type>/<path:node_id>``), never the path itself: paths
    hold identifiers (emails, card numbers) that must stay out of logs."""
    rule = request.url_rule
    return rule.rule if rule is not None else "(unmatched route)"


_HTTP_MESSAGES = {
    404: "There is nothing at this address; GET /openapi.json lists the API's routes.",
    405: "This address does not accept that method; GET /openapi.json lists the methods of each route.",
    413: "The request body is larger than the server accepts.",
}


def register(app: Flask) -> None:
    """Install handlers so every error the app sends is the JSON shape (HTML pages may opt out)."""

    def handle(exc: BaseException) -> Any:
        html = _html_error_renderer(app)
        if html is not None and request.blueprint == "pages":
            status = exc.code if isinstance(exc, HTTPException) else status_for(exc)
            if (status or 500) < 500 or isinstance(exc, HTTPException):
                return html(status or 500, exc)
            if not request.path.startswith("/ui/"):  # a page: the same logged error with its reference, as HTML
                resp = response_for(exc)
                return html(resp.status_code, gf.GraphFraudError((resp.get_json() or {}).get("error", "")))
        return response_for(exc)

    app.register_error_handler(HTTPException, handle)
    app.register_error_handler(Exception, handle)


def _html_error_renderer(app: Flask) -> Any:
    """The pages module may provide ``render_error(status, exc)`` for its own (HTML) errors."""
    return app.extensions.get("graphfraud_html_errors")
