"""The OpenAPI document is valid OpenAPI 3.1 and describes every API route the app serves."""
from __future__ import annotations

import re

import jsonschema
import pytest


@pytest.fixture
def doc(client):
    r = client.get("/openapi.json")
    assert r.status_code == 200
    return r.get_json()


def _meta_schema():
    try:
        from schemathesis.specs.openapi.definitions import OPENAPI_31
    except ImportError:  # pragma: no cover
        pytest.skip("no OpenAPI 3.1 meta-schema available")
    return OPENAPI_31


def test_document_is_valid_openapi_3_1(doc):
    try:
        from openapi_spec_validator import validate  # type: ignore[import-not-found]
    except ImportError:
        jsonschema.validate(doc, _meta_schema(), cls=jsonschema.Draft202012Validator)
    else:  # pragma: no cover - used when installed
        validate(doc)
    for name, schema in doc["components"]["schemas"].items():
        jsonschema.Draft202012Validator.check_schema(schema)


def test_every_route_is_documented(app, doc):
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.startswith("pages."):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for m in rule.methods - {"HEAD", "OPTIONS"}:
            served.add((path, m.lower()))
    documented = {(p, m) for p, ops in doc["paths"].items() for m in ops}
    assert served == documented


def test_every_keyed_route_declares_its_security(doc):
    for path, ops in doc["paths"].items():
        for op in ops.values():
            assert bool(op.get("security")) == path.startswith("/api/v1"), path
            assert "401" in op["responses"] or not path.startswith("/api/v1")


def test_example_transaction_validates_against_the_input_schema(doc):
    tx = {"transaction_id": "T", "timestamp": "2026-03-01T12:00:00Z", "user_id": "U", "amount": 1.5}
    jsonschema.validate(tx, {"$ref": "#/components/schemas/Transaction", "components": doc["components"]},
                        cls=jsonschema.Draft202012Validator)
