"""Fixtures for the web layer: an app over a fresh store with the real scorer, API keys, and a test client
that validates every response it receives against the OpenAPI document."""
from __future__ import annotations

import re
from typing import Any

import jsonschema
import pytest
from flask.testing import FlaskClient

from webui import create_app
from webui.auth import create_api_key
from webui.openapi import document

from muleworld import build_mule_store, copy_store

GOOD = {"transaction_id": "T1", "timestamp": "2026-03-01T12:00:00Z", "user_id": "U1", "amount": 10.0,
        "card_id": "C1", "device_id": "D1", "ip": "10.0.0.1"}


def _template(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def response_schema(doc: dict[str, Any], path: str | None, method: str, status: int) -> dict[str, Any] | None:
    """The documented schema of a response (errors of unmatched routes use the Error schema)."""
    if path is None:
        return {"$ref": "#/components/schemas/Error"}
    op = doc["paths"][path][method.lower()]
    resp = op["responses"].get(str(status))
    assert resp is not None, f"{method} {path} answered {status}, which is not documented"
    if "$ref" in resp:
        resp = doc["components"]["responses"][resp["$ref"].rsplit("/", 1)[1]]
    media = resp["content"]
    return media["application/json"]["schema"] if "application/json" in media else None


class CheckedClient(FlaskClient):
    """Every response is checked against the schema documented for its route, method and status."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        resp = super().open(*args, **kwargs)
        req = resp.request
        app = self.application
        doc = app.extensions.get("test_openapi") or app.extensions.setdefault("test_openapi", document(app))
        try:
            rule, _ = app.url_map.bind("localhost").match(req.path, method=req.method, return_rule=True)
            path = _template(rule.rule)
        except Exception:
            path = None
        if path is not None and path not in doc["paths"]:
            return resp  # investigator pages (not part of the API document)
        schema = response_schema(doc, path, req.method, resp.status_code)
        if schema is not None:
            assert resp.mimetype == "application/json", resp.data[:200]
            jsonschema.validate(resp.get_json(), {**schema, "components": doc["components"]},
                                cls=jsonschema.Draft202012Validator)
        return resp


@pytest.fixture
def good():
    """A valid canonical transaction (a fresh copy per test)."""
    return dict(GOOD)


@pytest.fixture
def store_path(tmp_path):
    return str(tmp_path / "api.db")


@pytest.fixture
def app(store_path):
    app = create_app({"STORE": store_path, "SCORER_EAGER": True, "TESTING": True, "RATE_LIMIT": 0})
    app.test_client_class = CheckedClient
    yield app
    app.extensions["graphfraud"].store.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def store(app):
    return app.extensions["graphfraud"].store


@pytest.fixture
def admin_key(store):
    return create_api_key(store, "admin-test", "admin")


@pytest.fixture
def score_key(store):
    return create_api_key(store, "score-test", "score")


@pytest.fixture
def auth(admin_key):
    return {"Authorization": f"Bearer {admin_key}"}


# ---------------------------------------------------------------- a world with money between users
@pytest.fixture(scope="session")
def mule_world(tmp_path_factory):
    return build_mule_store(tmp_path_factory.mktemp("mules"))


@pytest.fixture
def mule_app(mule_world, tmp_path):
    """An app with the real scorer over a fresh copy of the mule world (each test may write to it)."""
    path = copy_store(mule_world["path"], str(tmp_path / "mules.db"))
    app = create_app({"STORE": path, "SCORER_EAGER": True, "TESTING": True, "RATE_LIMIT": 0})
    app.test_client_class = CheckedClient
    yield app
    app.extensions["graphfraud"].store.close()
