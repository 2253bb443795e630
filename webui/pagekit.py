"""What the investigator page modules share: the pages' blueprint, the store as pages read it, argument
parsing and the per-request label state.

:mod:`webui.pages` and :mod:`webui.money` both add routes to :data:`bp` and read through these helpers, so
neither imports the other's internals (the architecture test forbids import cycles).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from flask import Blueprint, abort, g, request
from jinja2 import Undefined

from . import masking, uiauth

# templates and static files are the app's own folders (webui/templates, webui/static at /static)
bp = Blueprint("pages", __name__)


def store() -> Any:
    """The store as pages read it: through the masker's recording view while masking applies (masking.py)."""
    return masking.view(uiauth.store())


def fmt_ts(ms: Any) -> str:
    if ms is None or ms == "" or isinstance(ms, Undefined):  # a field an older record lacks
        return ""
    try:
        return datetime.fromtimestamp(int(ms) / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")
    except (TypeError, ValueError, OverflowError, OSError):
        return str(ms)


def _int_arg(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    if not raw.isascii():  # int() takes other scripts' digits ("１")
        abort(400)
    try:
        v = int(raw)
    except ValueError:
        abort(400)
    return max(lo, min(hi, v))


# ---------------------------------------------------------------- labels (effective, per request)
def _label_state() -> tuple[dict[str, str], dict[str, str]]:
    """Effective investigator-era labels: (user -> label word, transaction -> "1"/"0"), later sources win."""
    if "ui_labels" not in g:
        rank = {"file": 0, "chargeback": 1, "investigator": 2}
        users: dict[str, tuple[int, int, str]] = {}
        txs: dict[str, tuple[int, int, str]] = {}
        for seq, lb in uiauth.store().labels(0):  # labels name transactions and users only
            key = (rank.get(lb.source, 0), seq)
            d = users if lb.subject == "user" else txs
            if lb.subject_id not in d or key > d[lb.subject_id][:2]:
                d[lb.subject_id] = (key[0], key[1], lb.value)
        g.ui_labels = ({k: v[2] for k, v in users.items()}, {k: v[2] for k, v in txs.items()})
    return g.ui_labels  # type: ignore[no-any-return]


def user_label(user_id: str) -> str | None:
    return _label_state()[0].get(user_id)


def tx_fraud(tx: dict[str, Any]) -> Any:
    return _label_state()[1].get(tx["transaction_id"], tx.get("is_fraud"))


# ---------------------------------------------------------------- masking (masking.py masks on the way out)
