"""Model versions in the store: save, load (hash-checked, code-free), list, promote, roll back.

A model is stored as a JSON document of numbers and names (the compiled trees, the calibrator's numbers,
the feature list, the classes; see :meth:`graphfraud.classifier.CompiledModel.to_dict`). Loading it parses
JSON and checks every index: nothing in a model file can run code, unlike a pickle. The store records the
SHA-256 of the bytes when they are saved; :func:`load_model` refuses bytes whose hash differs (a
corrupted or edited row). The hash guards against accidents and partial edits, not against someone who can
rewrite both the bytes and the hash: the code-free format is what makes a hostile file harmless.

Exactly one version is ``promoted`` at a time; the store writes a ``model`` event on each status change,
which is how serving processes learn to load the new one. Rollback needs the order of past promotions,
which statuses alone do not keep, so the stack of promoted versions is kept in the store's meta table
under :data:`HISTORY_KEY` (and repaired from the live status if a crash left it behind).
"""
from __future__ import annotations

import hashlib
import json
import secrets
from datetime import datetime, timezone
from typing import Any

from .classifier import FORMAT, FORMAT_VERSION, CompiledModel, GraphFraudClassifier
from .errors import ModelIntegrityError, ModelNotReady, NotFound, ValidationError
from .storage.roles import ModelStore

__all__ = ["save_model", "load_model", "load_promoted", "promoted_version", "promote", "rollback",
           "list_models", "new_version", "HISTORY_KEY"]

HISTORY_KEY = "model_promotions"
HISTORY_LIMIT = 100
# list_models() merges meta into each row beside these, so meta must not shadow them
RESERVED_META = ("version", "created_at", "status", "sha256")


def new_version(now: datetime | None = None) -> str:
    """A fresh version name ``m-YYYYMMDD-HHMMSS-<6 hex>`` (UTC; sorts by time).

    >>> new_version(datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc))[:18]
    'm-20240501-120000-'
    """
    now = now or datetime.now(timezone.utc)
    return f"m-{now.astimezone(timezone.utc):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def _compiled(clf: GraphFraudClassifier | CompiledModel) -> CompiledModel:
    if isinstance(clf, CompiledModel):
        return clf
    if getattr(clf, "compiled_", None) is None:
        raise ModelNotReady("The classifier is not fitted; fit it before saving a model version.")
    return clf.compiled_


def save_model(store: ModelStore, clf: GraphFraudClassifier | CompiledModel, meta: dict[str, Any] | None = None,
               version: str | None = None) -> str:
    """Store a fitted classifier as a new ``candidate`` version and return the version name.

    Parameters
    ----------
    store : GraphStore
    clf : GraphFraudClassifier (fitted) or CompiledModel
    meta : dict, optional
        JSON-ready facts to keep beside the model, typically ``training_window`` and ``metrics``.
        The feature list, classes, calibration and tree count are added here.
    version : str, optional
        Defaults to :func:`new_version`.

    Returns
    -------
    str, the version name.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.datasets import make_classification
    >>> from graphfraud.storage import open_store
    >>> X, y = make_classification(n_samples=300, random_state=0)
    >>> clf = GraphFraudClassifier(max_iter=5).fit(X, y)
    >>> store = open_store(os.path.join(tempfile.mkdtemp(), "gf.db"))
    >>> v = save_model(store, clf, {"metrics": {"average_precision": 0.9}})
    >>> load_model(store, v).predict_one(X[0]) == clf.predict_one(X[0])
    True
    >>> store.close()
    """
    compiled = _compiled(clf)
    meta = dict(meta or {})
    clash = [k for k in RESERVED_META if k in meta]
    if clash:
        raise ValidationError(f"Model meta may not use the reserved keys {', '.join(clash)}; rename them.",
                              clash, code="invalid_model_meta")
    meta["features"] = list(compiled.features)
    meta["n_features"] = compiled.n_features
    meta["n_trees"] = len(compiled.roots)
    meta["classes"] = [c.item() if hasattr(c, "item") else c for c in compiled.classes]
    meta["calibration"] = compiled.calibration["method"]
    meta["format"] = f"{FORMAT}/{FORMAT_VERSION}"
    if isinstance(clf, GraphFraudClassifier):
        meta.setdefault("training_window", clf.training_window_)
        meta.setdefault("calibration_window", clf.calibration_window_)
        meta.setdefault("n_train", clf.n_train_)
        meta.setdefault("n_calibration", clf.n_calibration_)
        if clf.calibration_note_:
            meta.setdefault("calibration_note", clf.calibration_note_)
    try:
        json.dumps(meta, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ValidationError(f"Model meta must be plain JSON (numbers, text, lists, dicts): {e}.",
                              code="invalid_model_meta") from None
    blob = json.dumps(compiled.to_dict(), separators=(",", ":"), allow_nan=False).encode("utf-8")
    version = version or new_version()
    store.save_model(version, meta, blob)
    return version


def load_model(store: ModelStore, version: str) -> CompiledModel:
    """Load a stored version as a :class:`CompiledModel`, after checking its recorded SHA-256.

    Raises
    ------
    NotFound
        No such version.
    ModelIntegrityError
        The bytes do not match the hash recorded when they were saved.
    ValidationError
        The document is not a valid model (wrong format, indices out of range).
    """
    meta, blob = store.load_model(version)
    recorded = meta.get("sha256")
    actual = hashlib.sha256(blob).hexdigest()
    if not recorded or not secrets.compare_digest(str(recorded), actual):
        raise ModelIntegrityError(f"Model version {version} does not match the hash recorded when it was "
                                  "saved, so it was not loaded; promote another version or retrain.")
    try:
        doc = json.loads(blob.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ValidationError(f"Model version {version} is not a JSON model document; retrain it.",
                              code="invalid_model") from None
    return CompiledModel.from_dict(doc, version=version, meta=meta)


def list_models(store: ModelStore) -> list[dict[str, Any]]:
    """Every stored version, oldest first: ``version``, ``created_at`` (ms), ``status``, ``sha256`` and its meta."""
    return list(store.list_models())


def promoted_version(store: ModelStore) -> str | None:
    """The version serving uses now, or ``None`` when none is promoted."""
    for m in store.list_models():
        if m["status"] == "promoted":
            return str(m["version"])
    return None


def load_promoted(store: ModelStore) -> CompiledModel | None:
    """The promoted model, loaded, or ``None`` (then the rules alone decide)."""
    v = promoted_version(store)
    return load_model(store, v) if v is not None else None


def _history(store: ModelStore, current: str | None) -> list[str]:
    raw = store.get_meta(HISTORY_KEY)
    try:
        hist = [str(v) for v in json.loads(raw)] if raw else []
    except (ValueError, TypeError):
        hist = []
    # a crash between the status change and the history write, or a status changed by other tools
    if current is not None and (not hist or hist[-1] != current):
        hist.append(current)
    return hist


def _save_history(store: ModelStore, hist: list[str]) -> None:
    store.set_meta(HISTORY_KEY, json.dumps(hist[-HISTORY_LIMIT:]))


def promote(store: ModelStore, version: str) -> str:
    """Make ``version`` the one serving uses (the previous one is retired); return it.

    The model is loaded first, so a tampered or unreadable version is never promoted. Promoting the
    version already promoted changes nothing.
    """
    load_model(store, version)  # NotFound / ModelIntegrityError / ValidationError before any change
    current = promoted_version(store)
    if current == version:
        return version
    hist = _history(store, current)
    store.set_model_status(version, "promoted")
    hist.append(version)
    _save_history(store, hist)
    return version


def rollback(store: ModelStore) -> str:
    """Re-promote the version promoted before the current one; return it.

    Repeated rollbacks walk further back through past promotions. Versions that no longer load
    (deleted, or failing their hash check) are skipped.

    Raises
    ------
    NotFound
        There is no earlier promoted version to go back to.
    """
    current = promoted_version(store)
    hist = _history(store, current)
    if current is not None and hist and hist[-1] == current:
        hist.pop()
    known = {m["version"] for m in store.list_models()}
    while hist:
        candidate = hist[-1]
        if candidate != current and candidate in known:
            try:
                load_model(store, candidate)
            except (ModelIntegrityError, ValidationError):
                hist.pop()
                continue
            store.set_model_status(candidate, "promoted")
            _save_history(store, hist)
            return candidate
        hist.pop()
    raise NotFound("There is no earlier promoted model version to roll back to; `graphfraud model list` "
                   "shows the versions, `graphfraud model promote VERSION` picks one.")
