"""Model versions in the store: code-free round trip, hash check, promote/rollback, the `model` commands."""
from __future__ import annotations

import json
import re
import sqlite3

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn.datasets import make_classification
from threadpoolctl import threadpool_limits

from graphfraud import models
from graphfraud.classifier import GraphFraudClassifier, _pack, _unpack
from graphfraud.cli import main
from graphfraud.errors import GraphFraudError, ModelIntegrityError, NotFound, ValidationError
from graphfraud.storage import open_store


@pytest.fixture(scope="module")
def fitted():
    X, y = make_classification(n_samples=2000, n_features=6, weights=[0.95], random_state=3)
    X[np.random.default_rng(0).random(X.shape) < 0.1] = np.nan
    frame = pd.DataFrame(X, columns=["device_users", "card_users", "amount_z", "ip_age", "ring_size", "ppr"])
    times = np.arange(len(X)) * 60_000 + 1_700_000_000_000
    with threadpool_limits(limits=1, user_api="openmp"):
        clf = GraphFraudClassifier(max_iter=40, random_state=0).fit(frame, y, sample_time=times)
    return clf, frame


@pytest.fixture
def store_path(tmp_path):
    return str(tmp_path / "gf.db")


@pytest.fixture
def store(store_path):
    s = open_store(store_path)
    yield s
    s.close()


def test_round_trip_predicts_identically(store, fitted):
    clf, frame = fitted
    version = models.save_model(store, clf, {"metrics": {"average_precision": 0.91}})
    loaded = models.load_model(store, version)
    assert loaded.version == version and loaded.features == list(frame.columns)
    rows = frame.to_numpy()[:300]
    assert [loaded.predict_one(r) for r in rows] == [clf.predict_one(r) for r in rows]
    assert [loaded.explain_one(r) for r in rows[:20]] == [clf.explain_one(r) for r in rows[:20]]
    np.testing.assert_array_equal(loaded.predict_many(frame.iloc[:300]), clf.predict_proba(frame.iloc[:300])[:, 1])


def test_version_name_and_recorded_meta(store, fitted):
    clf, frame = fitted
    version = models.save_model(store, clf, {"metrics": {"roc_auc": 0.97}})
    assert re.fullmatch(r"m-\d{8}-\d{6}-[0-9a-f]{6}", version)
    (row,) = models.list_models(store)
    assert row["version"] == version and row["status"] == "candidate"
    assert row["features"] == list(frame.columns)
    assert row["training_window"] == [1_700_000_000_000, 1_700_000_000_000 + 1999 * 60_000]
    assert row["metrics"] == {"roc_auc": 0.97} and row["n_trees"] == 40 and row["calibration"] == "sigmoid"


def test_model_blob_is_json_not_pickle(store, fitted):
    version = models.save_model(store, fitted[0], {})
    _, blob = store.load_model(version)
    assert json.loads(blob)["format"] == "graphfraud-gbt"


def tamper(path: str, version: str, edit) -> None:
    con = sqlite3.connect(path)
    (blob,) = con.execute("SELECT blob FROM model WHERE version=?", (version,)).fetchone()
    con.execute("UPDATE model SET blob=? WHERE version=?", (edit(bytes(blob)), version))
    con.commit()
    con.close()


def nudge_first_leaf(blob: bytes) -> bytes:
    doc = json.loads(blob)
    value = _unpack(doc["value"]).copy()
    value[int(np.flatnonzero(_unpack(doc["feature"]) < 0)[0])] += 10.0
    doc["value"] = _pack(value, "<f8")  # a quiet edit that still parses: only the hash can catch it
    return json.dumps(doc, separators=(",", ":")).encode()


def test_tampered_model_is_refused(store, store_path, fitted):
    version = models.save_model(store, fitted[0], {})
    models.load_model(store, version)  # fine before the edit
    tamper(store_path, version, nudge_first_leaf)
    with pytest.raises(ModelIntegrityError, match=version):
        models.load_model(store, version)
    with pytest.raises(ModelIntegrityError):
        models.promote(store, version)
    assert models.promoted_version(store) is None
    assert issubclass(ModelIntegrityError, GraphFraudError)


def test_malformed_document_with_a_matching_hash_is_refused(store, fitted):
    doc = fitted[0].compiled_.to_dict()
    doc["right"] = _pack(np.full(len(fitted[0].compiled_.right), -5), "<i8")
    store.save_model("m-bad", {"features": doc["features"]}, json.dumps(doc).encode())
    with pytest.raises(ValidationError):
        models.load_model(store, "m-bad")
    store.save_model("m-pickle", {}, b"\x80\x04\x95pickled")
    with pytest.raises(ValidationError):
        models.load_model(store, "m-pickle")


def test_reserved_meta_keys_are_refused(store, fitted):
    with pytest.raises(ValidationError):
        models.save_model(store, fitted[0], {"status": "promoted"})
    assert models.list_models(store) == []


def test_promote_and_rollback_walk_back_through_promotions(store, fitted):
    a, b, c = (models.save_model(store, fitted[0], {}, version=f"m-2024010{i}-000000-00000{i}") for i in (1, 2, 3))
    assert models.promoted_version(store) is None
    with pytest.raises(NotFound):
        models.rollback(store)
    for v in (a, c, b):
        models.promote(store, v)
    models.promote(store, b)  # promoting the current one again changes nothing
    assert models.promoted_version(store) == b
    assert models.rollback(store) == c and models.promoted_version(store) == c
    assert models.rollback(store) == a and models.promoted_version(store) == a
    with pytest.raises(NotFound):
        models.rollback(store)
    statuses = {m["version"]: m["status"] for m in models.list_models(store)}
    assert statuses == {a: "promoted", b: "retired", c: "retired"}
    with pytest.raises(NotFound):
        models.promote(store, "m-nope")


def test_promotion_writes_a_model_event(store, fitted):
    version = models.save_model(store, fitted[0], {})
    before = store.last_seq()
    models.promote(store, version)
    events = [e for e in store.events_since(before) if e.kind == "model"]
    assert [e.data for e in events] == [{"version": version, "status": "promoted"}]
    assert models.load_promoted(store).version == version


def test_rollback_skips_a_version_that_no_longer_verifies(store, store_path, fitted):
    a, b, c = (models.save_model(store, fitted[0], {}, version=f"m-2024010{i}-000000-00000{i}") for i in (1, 2, 3))
    for v in (a, b, c):
        models.promote(store, v)
    tamper(store_path, b, nudge_first_leaf)
    assert models.rollback(store) == a


def test_model_commands(store, store_path, fitted):
    a = models.save_model(store, fitted[0], {"metrics": {"average_precision": 0.8}}, version="m-20240101-000000-aaaaaa")
    b = models.save_model(store, fitted[0], {}, version="m-20240102-000000-bbbbbb")
    runner = CliRunner()
    out = runner.invoke(main, ["model", "list", "--store", store_path])
    assert out.exit_code == 0, out.output
    assert a in out.output and "candidate" in out.output and "average_precision=0.8" in out.output
    for v in (a, b):
        assert runner.invoke(main, ["model", "promote", v, "--store", store_path]).output == f"promoted {v}\n"
    out = runner.invoke(main, ["model", "rollback", "--store", store_path])
    assert out.exit_code == 0 and out.output == f"promoted {a}\n"
    listed = json.loads(runner.invoke(main, ["model", "list", "--json", "--store", store_path]).output)
    assert {m["version"]: m["status"] for m in listed} == {a: "promoted", b: "retired"}
    out = runner.invoke(main, ["model", "promote", "m-missing", "--store", store_path])
    assert out.exit_code == 1 and "m-missing" in out.output and "Traceback" not in out.output


@pytest.mark.parametrize("command", ["list", "promote", "rollback"], ids=["list", "promote", "rollback"])
def test_model_command_help_has_an_example(command):
    out = CliRunner().invoke(main, ["model", command, "--help"])
    assert out.exit_code == 0 and "Example:" in out.output and "graphfraud model" in out.output
