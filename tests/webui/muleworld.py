"""A world with money between users for the web tests (a module of its own: test modules import it, and a
``conftest`` name is shared by every test folder)."""
from __future__ import annotations

from typing import Any


def build_mule_store(folder) -> dict[str, Any]:
    """``graphfraud generate --profile mules`` (300 users, 30 days), loaded with its known mules and an account
    model trained (what ``graphfraud train`` does for ``suspects``). Shared by the tests through copies."""
    import json
    import os

    from graphfraud.scoring import build_engine
    from graphfraud.storage import open_store
    from graphfraud.suspects import train_accounts
    from graphfraud.synth import write_mules
    from loaders import load_file, load_labels

    folder = str(folder)
    csv = os.path.join(folder, "tx.csv")
    write_mules(csv, 300, seed=7, days=30)
    path = os.path.join(folder, "mules.db")
    st = open_store(path)
    try:
        load_file(csv, st, progress=False, rejects_path=os.path.join(folder, "rejects.csv"))
        load_labels(os.path.join(folder, "labels.csv"), st, rejects_path=os.path.join(folder, "label-rejects.csv"))
        assert train_accounts(st, build_engine(st)) is not None
    finally:
        st.close()
    with open(os.path.join(folder, "truth.json")) as f:
        truth = json.load(f)
    return {"path": path, "csv": csv, "truth": truth}


def copy_store(src: str, dst: str) -> str:
    """A consistent copy of an embedded store (SQLite's backup: the write-ahead log included)."""
    import sqlite3

    a, b = sqlite3.connect(src), sqlite3.connect(dst)
    try:
        a.backup(b)
    finally:
        a.close()
        b.close()
    return dst
