"""The web application: the JSON scoring API and, when present, the investigator pages.

:func:`create_app` builds it. Configuration, each later source winning: the defaults of the settings table
(:mod:`graphfraud.settings`, the web app's and the pages' included, keys upper-cased: ``STORE``,
``MAX_BODY_BYTES``, ``SCORER_STARTUP_WAIT``, ``UI_HUB_LIMIT``, ...), then
``instance/config.py``, then ``GRAPHFRAUD_*`` environment variables, then ``test_config``.

Each process (each gunicorn worker) opens the store once and builds one
:class:`~graphfraud.scoring.Scorer` in a background thread, so the worker answers ``/healthz`` at once and
``/readyz`` with 503 until the engine is loaded; a score that arrives meanwhile waits for it (up to
``SCORER_STARTUP_WAIT`` seconds) instead of failing.
"""
from __future__ import annotations

import importlib
import importlib.util
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from flask import Flask, Response, current_app, g, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.routing import PathConverter

from graphfraud import settings
from graphfraud.errors import GraphFraudError, ModelNotReady
from graphfraud.storage.roles import GraphStore

log = logging.getLogger("graphfraud.webui")

#: Security headers for every HTML response; the CSP allows no inline script or style.
HTML_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
                               "form-action 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class IdPathConverter(PathConverter):
    """Werkzeug's ``path`` converter (an id may hold ``/``) that writes a ``/`` in the links it builds as
    ``%2F``: an id ``a/../b`` linked as ``/entities/user/a/../b`` is taken by the browser to ``/entities/user/b``,
    another account's page. Incoming paths match as before (the server hands them decoded)."""

    def to_url(self, value: Any) -> str:
        return quote(str(value), safe="!$&'()*+,:;=@")  # Werkzeug's path-safe characters, less /


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. ``test_config`` overrides everything (tests pass ``STORE`` and fakes here).

    >>> import os, tempfile
    >>> app = create_app({"STORE": os.path.join(tempfile.mkdtemp(), "a.db"), "SCORER_FACTORY": lambda s: None,
    ...                   "SCORER_EAGER": True})
    >>> app.test_client().get("/healthz").json
    {'ok': True, 'status': 'up'}
    """
    app = Flask(__name__, instance_relative_config=True)
    _load_config(app, test_config)
    hops = int(app.config["PROXY_HOPS"])
    if hops > 0:  # behind that many proxies: remote_addr and the scheme are the client's, as the proxies saw them
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    app.json.compact = True  # type: ignore[attr-defined]
    app.session_interface = ApiSessionInterface()
    app.url_map.converters["path"] = IdPathConverter
    # "/api/v1//score" is no address of ours: a JSON 404, not Werkzeug's HTML redirect to "/api/v1/score"
    app.url_map.merge_slashes = False

    from . import errors
    from .api import bp, ops

    errors.register(app)
    app.register_blueprint(bp)
    app.register_blueprint(ops)
    if importlib.util.find_spec(f"{__name__}.pages") is not None:  # the investigator pages, once written
        from . import pages

        app.register_blueprint(pages.bp)

    st = AppState(app)
    app.extensions["graphfraud"] = st
    app.config["SECRET_KEY"] = ensure_secret(st.store, app.config)
    app.before_request(_start_timer)
    app.after_request(_finish)
    return app


class ApiSessionInterface(SecureCookieSessionInterface):
    """Cookie sessions for the investigator pages only: the API and operational routes get a null session,
    so they neither read nor set cookies (and pay nothing for them). The signer is built once per app."""

    def __init__(self) -> None:
        self._signer: tuple[Any, Any] | None = None

    def get_signing_serializer(self, app: Flask) -> Any:
        cached = self._signer
        if cached is None or cached[0] != app.secret_key:
            cached = self._signer = (app.secret_key, super().get_signing_serializer(app))
        return cached[1]

    def open_session(self, app: Flask, request: Any) -> Any:
        if request.path.startswith(_SESSIONLESS):
            return self.make_null_session(app)
        return super().open_session(app, request)


_SESSIONLESS = ("/api/", "/healthz", "/readyz", "/metrics", "/openapi.json")


def _load_config(app: Flask, test_config: Mapping[str, Any] | None = None) -> None:
    """The app's settings: defaults < the instance folder's ``config.py`` < ``GRAPHFRAUD_*`` environment
    variables < ``test_config``, each coerced through its type."""
    app.config.from_mapping({s.name.upper(): s.default for s in settings.SETTINGS})
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("GRAPHFRAUD")
    if test_config:
        app.config.from_mapping(test_config)
    _normalise(app.config)


def app_settings() -> Mapping[str, Any]:
    """The settings as the app will read them (instance ``config.py`` and environment included), for what
    runs before it: ``graphfraud serve``'s arbiter and its refreshers.

    >>> app_settings()["WORKERS"] >= 1
    True
    """
    app = Flask(__name__, instance_relative_config=True)
    _load_config(app)
    return app.config


def _normalise(cfg: Any) -> None:
    """Coerce each setting through its type in the settings table (env values arrive as text or JSON)."""
    for s in settings.SETTINGS:
        key = s.name.upper()
        cfg[key] = settings.get(s.name, {s.name: cfg[key]})
    cfg["MAX_CONTENT_LENGTH"] = cfg["MAX_BODY_BYTES"]
    if cfg.get("EXTRA_TYPES") is None:
        cfg["EXTRA_TYPES"] = settings.extra_link_types(cfg["LINK_TYPES"])
    cfg["WORKERS"] = max(1, int(cfg["WORKERS"]))


def ensure_secret(store: GraphStore, config: Mapping[str, Any] | None = None) -> str:
    """The secret that signs sessions: ``SECRET_KEY`` (``GRAPHFRAUD_SECRET_KEY``) when configured, else the
    owner-only key file (:mod:`graphfraud.keys`), created on first use. Secrets that earlier versions kept
    in the store's meta table are deleted from it."""
    from graphfraud.keys import master_secret, purge_legacy_secrets

    cfg = config or {}
    secret = master_secret(str(store.location), {"secret_key": cfg.get("SECRET_KEY") or "",
                                                 "key_file": cfg.get("KEY_FILE") or None})
    purge_legacy_secrets(store)
    return secret


def _default_factory(overrides: dict[str, Any]) -> Callable[[Any], Any]:
    def build(store: GraphStore) -> Any:
        from graphfraud.scoring import Scorer

        # the app's settings (defaults < instance config < environment < test config) reach the core
        return Scorer(store, overrides=overrides)

    return build


def _open_patiently(open_store: Callable[[Any], Any], location: Any, pause: float = 2.0) -> Any:
    """The store; a database server (``bolt://``, ``neo4j://``) that cannot be reached is tried again every
    ``pause`` seconds until it can, with a log line each half minute. gunicorn starts a worker in place of one
    that died; one that failed to start would stop the whole server, for good, over a database restart."""
    from graphfraud.errors import StorageError
    from graphfraud.storage import is_neo4j_url

    waited = 0.0
    while True:
        try:
            return open_store(location)
        except StorageError as e:
            if not is_neo4j_url(str(location or "")):
                raise
            if waited % 30 < pause:
                log.warning("the store is unreachable (%s); this worker tries again every %g s", e, pause)
            time.sleep(pause)
            waited += pause


class AppState:
    """What one process keeps between requests: the store, the scorer, key cache, rate limiter, metrics."""

    def __init__(self, app: Flask):
        from graphfraud.storage import open_store

        from .auth import KeyCache, RateLimiter
        from .metrics import Metrics

        cfg = app.config
        self.store = _open_patiently(open_store, cfg["STORE"])
        self.store.checkpoint_in_background()  # the embedded store: log copies off the scoring requests
        self.keys = KeyCache(self.store, float(cfg["API_KEY_CACHE_SECONDS"]))
        self.limiter = RateLimiter(float(cfg["RATE_LIMIT"]) / cfg["WORKERS"])
        self.metrics = Metrics(cfg.get("METRICS_DIR"), float(cfg["METRICS_FLUSH_SECONDS"]))
        self.startup_wait = float(cfg["SCORER_STARTUP_WAIT"])
        self.scorer: Any = None
        self.scorer_error: str | None = None
        self._ready = threading.Event()
        # the core's settings reach the scorer; extra_types stays out: the engine's default (none) is not
        # the API's (the link types beyond the built-ins), so only GRAPHFRAUD_EXTRA_TYPES sets the engine's
        factory: Any = cfg.get("SCORER_FACTORY") or _default_factory(
            {s.name: cfg[s.name.upper()] for s in settings.SETTINGS
             if s.scope == "core" and s.name not in ("store", "secret_key", "extra_types")})
        if isinstance(factory, str):  # "package.module:attr", e.g. from GRAPHFRAUD_SCORER_FACTORY
            mod, _, attr = factory.partition(":")
            factory = getattr(importlib.import_module(mod), attr)
        if cfg.get("SCORER_EAGER"):
            self._build(factory, retry=False)
        else:
            threading.Thread(target=self._build, args=(factory,), name="graphfraud-scorer-load",
                             daemon=True).start()

    def _build(self, factory: Callable[[Any], Any], retry: bool = True) -> None:
        delay = 1.0
        while True:
            t = time.perf_counter()
            try:
                self.scorer = factory(self.store)
                self.scorer_error = None
                self._ready.set()
                log.info("scoring engine ready in %.1f s", time.perf_counter() - t)
                return
            except Exception as e:  # keep the worker up; /readyz says why, and we try again
                log.exception("the scoring engine failed to load")
                self.scorer_error = (e.message if isinstance(e, GraphFraudError) else
                                     "The scoring engine failed to load; see the server log.")
                if not retry:
                    self._ready.set()
                    return
                time.sleep(delay)
                delay = min(delay * 2, 30.0)

    def wait_ready(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the scorer; whether it is there (False also after a failure)."""
        self._ready.wait(timeout)
        return self.scorer is not None

    def get_scorer(self) -> Any:
        if self.scorer is None:
            self._ready.wait(self.startup_wait)
        if self.scorer is None:
            raise ModelNotReady(self.scorer_error or "The scoring engine is still loading; try again shortly.",
                                ["scorer: not ready"], code="not_ready")
        return self.scorer


_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))


def _start_timer() -> None:
    g.t0 = time.perf_counter()


def _finish(resp: Response) -> Response:
    h = resp.headers
    h["X-Content-Type-Options"] = "nosniff"
    if resp.mimetype == "text/html":
        for k, v in HTML_HEADERS.items():
            h.setdefault(k, v)
    elif request.blueprint == "api":
        h["Cache-Control"] = "no-store"
    t0 = g.get("t0")
    if t0 is not None:
        rule = request.url_rule
        method = request.method if request.method in _METHODS else "other"
        current_app.extensions["graphfraud"].metrics.observe_request(
            rule.rule if rule is not None else "unmatched", method, resp.status_code,
            time.perf_counter() - t0)
    return resp
