"""Ring detection as the server's refresher runs it: the detection at idle priority through a read-only
handle, every write (the link fold, the registry) in the caller's thread."""
from __future__ import annotations

import os
import threading

import pytest

import graphfraud.rings as rings_module
from graphfraud import ringrefresh
from graphfraud.errors import StorageError
from graphfraud.schema import validate_frame
from graphfraud.storage import open_store
from graphfraud.testing import make_transactions


def _store(path, n_rows=None):
    df, _ = make_transactions(seed=1)
    if n_rows is not None:
        df = df.iloc[:n_rows]
    st = open_store(str(path))
    good, rejects = validate_frame(df.astype(str).replace({"": None, "nan": None, "None": None}))
    assert not rejects
    st.write_transactions(good)
    return st


def test_a_read_only_store_refuses_writes_and_folds_no_links(tmp_path):
    st = _store(tmp_path / "gf.db")
    assert st.get_meta("links_seq") != str(st.last_seq())  # a bulk write leaves the links to the next reader
    ro = open_store(str(tmp_path / "gf.db"), read_only=True)
    try:
        with pytest.raises(StorageError, match="readonly"):
            ro.set_meta("x", "1")
        assert ro.refresh_links() is False  # stale, and left so
        assert ro.get_meta("links_seq") != str(ro.last_seq())
        assert st.refresh_links() is True  # a writable handle folds them
        assert ro.refresh_links() is True  # and the reader sees them current
        assert ro.info()["transactions"] == st.info()["transactions"]
    finally:
        ro.close()
        st.close()


def test_idle_detection_reads_at_idle_priority_and_saves_what_a_plain_detection_saves(tmp_path, monkeypatch):
    st = _store(tmp_path / "gf.db")
    plain = {frozenset(r.users): r.score for r in ringrefresh.detect_and_record(st)}
    seen: dict[str, object] = {}
    detect = rings_module.detect_rings

    def spy(store, **kw):
        seen["thread"] = threading.current_thread() is not threading.main_thread()
        if hasattr(os, "SCHED_IDLE"):
            seen["policy"] = os.sched_getscheduler(0) == os.SCHED_IDLE
        seen["links_current"] = store.get_meta("links_seq") == str(store.last_seq())
        try:
            store.set_meta("probe", "1")
            seen["writable"] = True
        except StorageError:
            seen["writable"] = False
        return detect(store, **kw)

    monkeypatch.setattr(rings_module, "detect_rings", spy)
    st.write_transactions(validate_frame(make_transactions(seed=2)[0].astype(str).replace(
        {"": None, "nan": None, "None": None}).assign(transaction_id=lambda d: "n" + d["transaction_id"]))[0])
    found = ringrefresh.detect_and_record(st, idle=True)
    assert seen["thread"] and seen["links_current"] and seen["writable"] is False
    if hasattr(os, "SCHED_IDLE"):
        assert seen["policy"] is True
    assert os.sched_getscheduler(0) != getattr(os, "SCHED_IDLE", -1)  # the caller's own priority is untouched
    saved = {frozenset(r["users"]) for r in st.list_rings("active", 10**6)}
    assert saved == {frozenset(r.users) for r in found}
    assert st.get_meta(ringrefresh.DETECTED_SEQ) == str(st.last_seq())
    # the same data detected plainly gives the same rings (only the new rows differ from the first run)
    again = {frozenset(r.users): r.score for r in ringrefresh.detect_and_record(st)}
    assert again == {frozenset(r.users): r.score for r in found}
    assert plain  # the first world has rings at all


def test_an_error_in_the_idle_detection_reaches_the_caller(tmp_path, monkeypatch):
    st = _store(tmp_path / "gf.db")

    def broken(store, **kw):
        raise ValueError("boom")

    monkeypatch.setattr(rings_module, "detect_rings", broken)
    with pytest.raises(ValueError, match="boom"):
        ringrefresh.detect_and_record(st, idle=True)
    assert st.get_meta(ringrefresh.DETECTED_AT) is None  # nothing recorded


def test_a_store_opened_beside_a_server_leaves_copying_the_log_to_its_thread(tmp_path, monkeypatch):
    """SQLite copies the write-ahead log into the store file in the commit that finds it past 1,000 pages,
    while that commit holds the writers' lock every score waits for. The refresher's handle leaves the copy
    to its own thread; a plain handle's commit does it (the check that the log was long enough)."""
    import hashlib
    import sqlite3

    from graphfraud.storage.embedded import EmbeddedStore

    path = str(tmp_path / "gf.db")
    st = _store(path, n_rows=200)  # stays open: the last connection to close would copy the log
    st.checkpoint_in_background()  # as a worker: its writes below leave the log to grow
    ours = EmbeddedStore.checkpoint_in_background
    monkeypatch.setattr(EmbeddedStore, "checkpoint_in_background", lambda self, every=1.0: ours(self, 3600.0))
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("PRAGMA wal_autocheckpoint=0")
    raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for i in range(30):  # about 1,200 pages of log
        raw.execute("BEGIN")
        raw.executemany("INSERT INTO meta VALUES (?, ?)", [(f"pad{i}-{k}", "x" * 3000) for k in range(40)])
        raw.execute("COMMIT")

    def store_file() -> str:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()

    before = store_file()
    beside = ringrefresh.open_beside_server(path)
    try:
        beside.set_meta("probe", "1")
        assert store_file() == before  # the commit left the log alone
    finally:
        beside.close()
    plain = open_store(path)
    try:
        plain.set_meta("probe", "2")
        assert store_file() != before  # a plain handle's commit copied it
    finally:
        plain.close()
        raw.close()
        st.close()
